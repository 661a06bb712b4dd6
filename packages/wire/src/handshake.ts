/**
 * The handshake's frames and its challenge-response. Sequence (docs/protocol.md has it in
 * full): both sides send HELLO with a fresh random nonce; each then sends AUTH, an
 * HMAC-SHA256 of both nonces and both HELLOs under the cloud secret; each verifies the
 * other's AUTH and answers WELCOME (agreed version) or REFUSE (code, message).
 *
 * The secret itself never goes into a frame, and a proof is useless elsewhere: it covers
 * both nonces (fresh per connection), which side made it (a label per side, so a proof
 * cannot be reflected back at its sender), and both HELLOs (so nothing in them, such as
 * the version range, can be altered in flight without the proofs failing).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IkcError, WireError } from './errors.js';
import type { KernelRole } from './fields.js';
import { type AuthFrame, FrameType, type HelloFrame, type RefuseFrame, type WelcomeFrame } from './frames.js';
import { negotiateVersion, PROTOCOL_RANGE, type VersionRange } from './version.js';

/** Bytes of a HELLO nonce (the wire accepts 16 to 64; we send 32). */
export const NONCE_BYTES = 32;

/** Which end of the link: the dialer opened the connection, the listener accepted it. */
export type LinkSide = 'dialer' | 'listener';

/** HMAC labels, one per side; part of the protocol, so never change them. */
export const AUTH_LABELS: Readonly<Record<LinkSide, string>> = Object.freeze({
  dialer: 'ikc auth v1 dialer',
  listener: 'ikc auth v1 listener',
});

/** A fresh random nonce for HELLO. */
export function makeNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

function bytesOf(part: string | Uint8Array): Uint8Array {
  return typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
}

/**
 * HMAC-SHA256 under `secret` of `label`, both nonces and any further context, each part
 * prefixed with its 4-byte length so that no two different part lists hash the same.
 * An empty secret is allowed (a loopback-only cloud without one); it authenticates nothing.
 */
export function proof(
  secret: string | Uint8Array,
  label: string,
  nonceA: Uint8Array,
  nonceB: Uint8Array,
  ...context: (string | Uint8Array)[]
): Buffer {
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    throw new IkcError('IKC_ERR_INVALID_ARG', 'the cloud secret must be a string or bytes');
  }
  const hmac = createHmac('sha256', bytesOf(secret));
  const length = Buffer.alloc(4);
  for (const part of [label, nonceA, nonceB, ...context]) {
    const bytes = bytesOf(part);
    length.writeUInt32BE(bytes.length);
    hmac.update(length);
    hmac.update(bytes);
  }
  return hmac.digest();
}

/** Compares two proofs in constant time (for equal lengths; a length mismatch is false). */
export function proofsEqual(expected: Uint8Array, received: Uint8Array): boolean {
  if (!(received instanceof Uint8Array) || expected.length !== received.length) return false;
  return timingSafeEqual(expected, received);
}

/** The HELLO fields a proof covers. Fields appended to HELLO later are not covered. */
function helloParts(hello: HelloFrame): string[] {
  return [
    hello.cloud,
    hello.kernelId,
    hello.kernelName,
    hello.role,
    String(hello.minVersion),
    String(hello.maxVersion),
    hello.features.join('\n'),
    hello.listen ?? '',
  ];
}

/** The AUTH proof that side `by` sends, given both HELLOs of this connection. */
export function authProof(
  secret: string | Uint8Array,
  by: LinkSide,
  dialerHello: HelloFrame,
  listenerHello: HelloFrame,
): Buffer {
  return proof(
    secret,
    AUTH_LABELS[by],
    dialerHello.nonce,
    listenerHello.nonce,
    ...helloParts(dialerHello),
    ...helloParts(listenerHello),
  );
}

/** True when `received` is the proof side `by` must send; compared in constant time. */
export function verifyAuth(
  secret: string | Uint8Array,
  by: LinkSide,
  dialerHello: HelloFrame,
  listenerHello: HelloFrame,
  received: Uint8Array,
): boolean {
  return proofsEqual(authProof(secret, by, dialerHello, listenerHello), received);
}

export interface HelloOptions {
  cloud: string;
  kernelId: string;
  kernelName: string;
  /** Default 'host'. */
  role?: KernelRole;
  features?: readonly string[];
  /** Where this kernel listens for other kernels (HOST:PORT). */
  listen?: string;
  /** Default PROTOCOL_RANGE. */
  range?: VersionRange;
  /** Default: a fresh makeNonce(). Keep the frame: its nonce is needed to check AUTH. */
  nonce?: Uint8Array;
}

export function helloFrame(options: HelloOptions): HelloFrame {
  const range = options.range ?? PROTOCOL_RANGE;
  return {
    type: FrameType.Hello,
    minVersion: range.min,
    maxVersion: range.max,
    cloud: options.cloud,
    kernelId: options.kernelId,
    kernelName: options.kernelName,
    nonce: options.nonce ?? makeNonce(),
    role: options.role ?? 'host',
    features: options.features ?? [],
    listen: options.listen ?? '',
  };
}

export function authFrame(proofBytes: Uint8Array): AuthFrame {
  return { type: FrameType.Auth, proof: proofBytes };
}

export function welcomeFrame(version: number): WelcomeFrame {
  return { type: FrameType.Welcome, version };
}

/** REFUSE for `err` (its code and message), or for an explicit code and message. */
export function refuseFrame(err: IkcError): RefuseFrame;
export function refuseFrame(code: string, message: string): RefuseFrame;
export function refuseFrame(codeOrError: IkcError | string, message = ''): RefuseFrame {
  if (typeof codeOrError === 'string') return { type: FrameType.Refuse, code: codeOrError, message };
  return { type: FrameType.Refuse, code: codeOrError.code, message: codeOrError.message };
}

/**
 * Checks the peer's HELLO against ours and returns the protocol version both will speak.
 * Throws WireError IKC_ERR_CLOUD when the clouds differ, IKC_ERR_VERSION when the ranges
 * do not meet. Authentication is separate (AUTH, verifyAuth).
 */
export function acceptHello(local: HelloFrame, remote: HelloFrame): number {
  if (remote.cloud !== local.cloud) {
    throw new WireError(
      'IKC_ERR_CLOUD',
      `kernel ${remote.kernelName} belongs to cloud "${remote.cloud}", this kernel to "${local.cloud}"`,
      { details: { local: local.cloud, remote: remote.cloud } },
    );
  }
  return negotiateVersion(
    { min: local.minVersion, max: local.maxVersion },
    { min: remote.minVersion, max: remote.maxVersion },
  );
}
