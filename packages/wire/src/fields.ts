/**
 * Field kinds: how one positional field of a frame is checked and converted, in both
 * directions. The decoder checks every field of a peer's frame with these; the encoder
 * checks ours with the same rules, so a frame we send is one a peer accepts.
 */
import { type ErrorPayload, errorPayloadFromArray, errorPayloadToArray } from './values.js';

/** Returned by a kind's encode or decode when the value does not fit the kind. */
export const INVALID: unique symbol = Symbol('invalid field');

export interface FieldKind<T = unknown> {
  /** What the field must be, for error messages: "must be <expects>". */
  readonly expects: string;
  /** The value a peer sent, as the decoded frame holds it; or INVALID. */
  decode(wire: unknown): T | typeof INVALID;
  /** The value to put on the wire; or INVALID. */
  encode(value: T): unknown;
}

function check<T>(expects: string, test: (v: unknown) => boolean): FieldKind<T> {
  const fn = (v: unknown) => (test(v) ? v : INVALID);
  return { expects, decode: fn as FieldKind<T>['decode'], encode: fn };
}

/** NONCE_MIN_BYTES..NONCE_MAX_BYTES: a shorter nonce would make proofs replayable. */
export const NONCE_MIN_BYTES = 16;
export const NONCE_MAX_BYTES = 64;

export type KernelRole = 'host' | 'leaf';

const isUint = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export const kinds = {
  /** A non-negative safe integer: sequence numbers, ids, versions, milliseconds. */
  uint: check<number>('an unsigned integer', isUint),
  /** A finite number: timestamps, which may be fractional. */
  number: check<number>('a finite number', (v) => typeof v === 'number' && Number.isFinite(v)),
  string: check<string>('a string', (v) => typeof v === 'string'),
  bytes: check<Uint8Array>('binary', (v) => v instanceof Uint8Array),
  nonce: check<Uint8Array>(
    `binary of ${NONCE_MIN_BYTES} to ${NONCE_MAX_BYTES} bytes`,
    (v) => v instanceof Uint8Array && v.length >= NONCE_MIN_BYTES && v.length <= NONCE_MAX_BYTES,
  ),
  role: check<KernelRole>('"host" or "leaf"', (v) => v === 'host' || v === 'leaf'),
  /** An array of unsigned integers. */
  uints: check<readonly number[]>(
    'an array of unsigned integers',
    (v) => Array.isArray(v) && v.every(isUint),
  ),
  /** An array of anything: event arguments. */
  array: check<unknown[]>('an array', Array.isArray),
  strings: check<readonly string[]>(
    'an array of strings',
    (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'),
  ),
  /** Anything msgpack carries, undefined included: call results, gossip payloads. */
  any: check<unknown>('any value', () => true),
  /** An error as `[code, message, name, stack, kernel, session, event]` on the wire. */
  error: {
    expects: 'an error payload [code, message, name?, stack?, kernel?, session?, event?] of strings',
    decode: (v: unknown) => errorPayloadFromArray(v) ?? INVALID,
    encode: (p: ErrorPayload) =>
      typeof p === 'object' && p !== null && typeof p.code === 'string' && typeof p.message === 'string'
        ? errorPayloadToArray({
            code: p.code,
            message: p.message,
            name: p.name ?? '',
            stack: p.stack ?? '',
            kernel: p.kernel ?? '',
            session: p.session ?? '',
            event: p.event ?? '',
          })
        : INVALID,
  } satisfies FieldKind<ErrorPayload>,
} as const;

export interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind<unknown>;
  /** False for fields appended after a frame type was first published. */
  readonly required: boolean;
  /** What a decoder fills in when an older peer did not send the field. */
  readonly default?: unknown;
  readonly doc: string;
}

export function field(name: string, kind: FieldKind<unknown>, doc: string): FieldSpec {
  return { name, kind, required: true, doc };
}

export function optional(
  name: string,
  kind: FieldKind<unknown>,
  defaultValue: unknown,
  doc: string,
): FieldSpec {
  return { name, kind, required: false, default: defaultValue, doc };
}
