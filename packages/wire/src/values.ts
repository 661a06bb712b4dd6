/**
 * Values that cross the wire with a meaning beyond plain data: session references and
 * errors. Both are msgpack extension types registered with msgpackr here, at import time.
 *
 * msgpackr keeps extensions in one process-wide table, so this registration also applies to
 * any other Packr/Unpackr in the process. That is msgpackr's design; we only claim the two
 * type numbers below and leave every other extension alone. Which extension types a PEER
 * may send is decided separately, by the allow-list in scan.ts.
 */
import { addExtension } from 'msgpackr';
import { WireError } from './errors.js';

/** msgpack extension type numbers ikc owns. Append-only, like the frame table. */
export const ExtType = {
  /** `[kernel, session]`: a SessionRef. */
  SessionRef: 0x01,
  /** An error payload array (see ErrorPayload): an Error passed as an argument or value. */
  Error: 0x02,
} as const;

/**
 * A session somewhere in the cloud, by its kernel (id or name) and session id. This is what
 * a session object becomes on the wire; the receiving kernel maps it back to a local
 * session or a proxy (CodecOptions.fromRef).
 */
export class SessionRef {
  constructor(
    readonly kernel: string,
    readonly session: string,
  ) {}

  toString(): string {
    return `poe://${this.kernel}/${this.session}`;
  }
}

/**
 * An error as data: enough to rebuild a RemoteError on the other side. On the wire it is
 * the positional array `[code, message, name, stack, kernel, session, event]`; only code
 * and message are required, the rest default to ''. Fields are only ever appended.
 */
export interface ErrorPayload {
  /** The stable IKC_ERR_* code, or the thrower's own `code` (e.g. ENOENT); '' if none. */
  code: string;
  message: string;
  /** The error's class name, e.g. 'TypeError'. */
  name: string;
  /** The stack as the remote side printed it. */
  stack: string;
  /** Where it was thrown: kernel name or id, session id, event name. */
  kernel: string;
  session: string;
  event: string;
}

export interface ErrorOrigin {
  kernel?: string;
  session?: string;
  event?: string;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Turns anything a handler may throw into a payload. Never throws: a hostile or broken
 * error object (throwing getters, throwing toString) still yields a payload.
 */
export function errorToPayload(err: unknown, origin: ErrorOrigin = {}): ErrorPayload {
  try {
    if (typeof err === 'object' && err !== null) {
      const e = err as { code?: unknown; message?: unknown; name?: unknown; stack?: unknown } & ErrorOrigin;
      const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : '';
      return {
        code,
        message: typeof e.message === 'string' ? e.message : String(err),
        name: str(e.name) || 'Error',
        stack: str(e.stack),
        kernel: origin.kernel ?? str(e.kernel),
        session: origin.session ?? str(e.session),
        event: origin.event ?? str(e.event),
      };
    }
    return {
      code: '',
      message: String(err),
      name: 'Error',
      stack: '',
      kernel: origin.kernel ?? '',
      session: origin.session ?? '',
      event: origin.event ?? '',
    };
  } catch {
    return {
      code: '',
      message: 'unprintable error',
      name: 'Error',
      stack: '',
      kernel: '',
      session: '',
      event: '',
    };
  }
}

export function errorPayloadToArray(p: ErrorPayload): string[] {
  return [p.code, p.message, p.name, p.stack, p.kernel, p.session, p.event];
}

/** The payload in `value`, or undefined when it is not a valid payload array. */
export function errorPayloadFromArray(value: unknown): ErrorPayload | undefined {
  if (!Array.isArray(value) || value.length < 2) return undefined;
  for (let i = 0; i < 7 && i < value.length; i++) if (typeof value[i] !== 'string') return undefined;
  return {
    code: value[0],
    message: value[1],
    name: value[2] ?? '',
    stack: value[3] ?? '',
    kernel: value[4] ?? '',
    session: value[5] ?? '',
    event: value[6] ?? '',
  };
}

/** An error carrying a payload's facts, as an error argument decodes by default. */
export function errorFromPayload(p: ErrorPayload): Error {
  const err = new Error(p.message) as Error & Partial<ErrorPayload>;
  if (p.name) err.name = p.name;
  // The remote stack is the useful one; the local stack would only show the decoder.
  err.stack = p.stack || `${err.name}: ${p.message}`;
  if (p.code) err.code = p.code;
  if (p.kernel) err.kernel = p.kernel;
  if (p.session) err.session = p.session;
  if (p.event) err.event = p.event;
  return err;
}

/** How a decoder turns extension values into the receiving kernel's own objects. */
export interface ValueHooks {
  /** Maps a session reference to a local session or proxy. Default: the SessionRef itself. */
  fromRef?: (ref: SessionRef) => unknown;
  /** Builds the value an error argument decodes to. Default: errorFromPayload. */
  fromError?: (payload: ErrorPayload) => unknown;
}

// msgpackr calls extension readers without any context, so the codec publishes the hooks
// of the decode in progress here for the duration of one decode call (see codec.ts).
let activeHooks: ValueHooks | undefined;

/**
 * Makes `hooks` the ones extension readers use and returns the previous ones, which the
 * caller must restore (try/finally) when its decode call ends.
 */
export function swapValueHooks(hooks: ValueHooks | undefined): ValueHooks | undefined {
  const previous = activeHooks;
  activeHooks = hooks;
  return previous;
}

/** Classes whose instances are session references on the wire (registerSessionClass). */
const sessionClasses: {
  Class: abstract new (...args: never[]) => unknown;
  toRef: (value: unknown) => SessionRef;
}[] = [];

/**
 * The reference `value` is written as, when it is an instance of a registered session class
 * (and not an Error, which the Error extension takes); else undefined. For the flat writer:
 * the same answer msgpackr's extension table gives.
 */
export function sessionRefOf(value: object): SessionRef | undefined {
  if (value instanceof Error) return undefined;
  for (const { Class, toRef } of sessionClasses) if (value instanceof Class) return toRef(value);
  return undefined;
}

function readSessionRef(data: unknown): unknown {
  if (!Array.isArray(data) || data.length < 2 || typeof data[0] !== 'string' || typeof data[1] !== 'string') {
    throw new WireError('IKC_ERR_FRAME_MALFORMED', 'a session reference must be [kernel, session] strings');
  }
  const ref = new SessionRef(data[0], data[1]);
  return activeHooks?.fromRef ? activeHooks.fromRef(ref) : ref;
}

function readError(data: unknown): unknown {
  const payload = errorPayloadFromArray(data);
  if (payload === undefined) {
    throw new WireError('IKC_ERR_FRAME_MALFORMED', 'an error value must be [code, message, ...] strings');
  }
  return activeHooks?.fromError ? activeHooks.fromError(payload) : errorFromPayload(payload);
}

/**
 * Makes instances of `Class` (the kernel's session or proxy objects) encode as session
 * references wherever they appear in a frame, at no cost to frames without them: msgpackr
 * only consults extensions for objects that are not plain objects, arrays or Maps.
 * Call once per class at startup; `toRef` must not throw.
 */
export function registerSessionClass<T>(
  Class: abstract new (...args: never[]) => T,
  toRef: (value: T) => SessionRef,
): void {
  // Looked up newest first, as msgpackr looks up its extensions.
  sessionClasses.unshift({ Class, toRef: toRef as (value: unknown) => SessionRef });
  addExtension({
    Class,
    type: ExtType.SessionRef,
    write: (value: T) => {
      const ref = toRef(value);
      return [ref.kernel, ref.session];
    },
    read: readSessionRef,
  });
}

registerSessionClass(SessionRef, (ref) => ref);
// Error subclasses included (instanceof). Replaces msgpackr's own error encoding, which
// would drop the code and stack and, with moreTypes, decode by calling a constructor named
// by the peer.
addExtension({
  Class: Error,
  type: ExtType.Error,
  write: (err: Error) => errorPayloadToArray(errorToPayload(err)),
  read: readError,
});
