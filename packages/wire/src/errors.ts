/**
 * Every error ikc raises carries a stable `code` from this table. Codes are part of the
 * public contract (scripts match on them, remote kernels send them over the wire), so the
 * table is append-only: never rename or reuse a code. docs/errors.md lists every entry; a
 * test keeps the two in step.
 */
export const ERROR_CODES = {
  // Local kernel
  IKC_ERR_INVALID_ARG: 'An API was called with an argument of the wrong type or shape.',
  IKC_ERR_BAD_SPEC: 'A specifier is not of the form poe://KERNEL/SESSION[/EVENT].',
  IKC_ERR_NO_SESSION: 'The target session (alias, id or reference) does not exist on this kernel.',
  IKC_ERR_NO_HANDLER: 'The target session has no handler for the event and no _default handler.',
  IKC_ERR_HANDLER: 'An event handler threw or its promise rejected; `cause` holds what it threw.',
  IKC_ERR_SESSION_STOPPED:
    'The target session stopped before a queued event or timer could be delivered to it.',
  IKC_ERR_ALIAS_TAKEN: 'The alias is already held by another session on this kernel.',
  IKC_ERR_KERNEL_STOPPED: 'The kernel has stopped; it accepts no more sessions or events.',
  IKC_ERR_NOT_LOCAL: 'The specifier names another kernel, and this kernel is not attached to a cloud.',
  IKC_ERR_TIMEOUT: 'A call did not settle within its timeout.',
  IKC_ERR_ABORTED: "A call was abandoned because its AbortSignal aborted; `cause` holds the signal's reason.",
  // Wire codec
  IKC_ERR_FRAME_TRUNCATED: 'A message ended in the middle of a frame.',
  IKC_ERR_FRAME_TOO_LARGE: 'A message, or a string, binary or collection inside it, exceeds its limit.',
  IKC_ERR_FRAME_TOO_DEEP: 'A frame nests arrays or maps deeper than the limit.',
  IKC_ERR_FRAME_MALFORMED: 'A frame is not valid msgpack, or its fields have the wrong types.',
  IKC_ERR_FRAME_TYPE: 'A frame has a type number that this protocol version does not know.',
  IKC_ERR_BATCH_TOO_LONG: 'A message holds more frames than the batch limit.',
  IKC_ERR_FORBIDDEN_VALUE:
    'A frame carries a value the codec refuses from peers (an unknown extension type, a __proto__ key).',
  IKC_ERR_VERSION: 'The two sides share no protocol version.',
  IKC_ERR_ENCODE:
    'A frame cannot be encoded: a field has the wrong type, a value cannot be represented (a symbol, a cycle, a bigint beyond 64 bits), or the result breaks a limit; `cause` holds the detail.',
  IKC_ERR_AUTH: "The peer's handshake proof did not verify: the two kernels do not share the cloud secret.",
  IKC_ERR_CLOUD: 'The peer belongs to another cloud (its HELLO names a different cloud.name).',
  // Mesh: links between kernels
  IKC_ERR_CONNECT: 'A connection to another kernel could not be opened (refused, timed out, aborted).',
  IKC_ERR_LISTEN: 'A kernel could not listen on an address (in use, no permission).',
  IKC_ERR_INSECURE_LISTEN:
    'A kernel without cloud.secret (or TLS) was asked to listen beyond loopback; it refuses.',
  IKC_ERR_HANDSHAKE: 'A handshake broke its order, stalled past its timeout, or the peer refused it.',
  IKC_ERR_PROTOCOL: 'A peer sent a frame that is not allowed at that point (e.g. before the handshake).',
  IKC_ERR_NOT_PUBLISHED: 'The event is not published, so other kernels may not post to or call it.',
  IKC_ERR_UNREACHABLE: 'No link to the kernel that holds the target, or it went away before answering.',
  IKC_ERR_OVERLOADED: 'A peer has too many calls in flight on one link; this one was refused.',
  IKC_ERR_NAME_TAKEN: 'Another live kernel in the cloud already uses this kernel name.',
  IKC_ERR_UNDELIVERED:
    'A post was never acknowledged by the kernel it went to, which went away (or did not come back within the resume window).',
  IKC_ERR_OVERFLOW:
    'The send buffer to a kernel is full (mesh.sendBufferHardBytes not yet acknowledged); await kernel.ready() before sending more.',
  IKC_ERR_MESSAGE_TOO_LARGE:
    'A message (a frame with its arguments) is larger than mesh.maxMessageBytes, or than the peer takes: refused at the sender, or the link closed when a peer announces one.',
  // Jobs
  IKC_ERR_JOB_BUSY: "A fork with onBusy 'fail' found jobs.maxProc jobs already running.",
  IKC_ERR_JOB_TIMEOUT:
    'A job ran past its timeout or expiration and was killed, or expired before it could start.',
  IKC_ERR_JOB_CRASHED:
    "A pool worker died during a call, or a module job's process ended before its function returned.",
  IKC_ERR_JOBS_CLOSED: 'The job queue or pool is closed, or its close() ended the job or call.',
  IKC_ERR_JOB_NOT_ALLOWED:
    'A kernel was asked to fork, for another kernel, a command or module its jobs.allow does not list; nothing ran.',
  IKC_ERR_JOB_LOST:
    'The kernel running a remote job (or the link to it, past the resume window) went away; what the job did there is unknown.',
  IKC_ERR_NO_JOBS:
    'fork() was called on a kernel that has no job queue (new Jobs(kernel) makes one; startKernel() and attach() do).',
  // Configuration and the command line
  IKC_ERR_CONFIG:
    'A configuration file (or flag) is missing, unreadable, or has an unknown key or a wrong value; the message names the file and the key.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface IkcErrorOptions {
  cause?: unknown;
  /** Extra facts a handler of the error may want (event name, target, limit, ...). */
  details?: Record<string, unknown>;
}

export class IkcError extends Error {
  readonly code: ErrorCode | (string & {});
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode | (string & {}), message: string, options: IkcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IkcError';
    this.code = code;
    this.details = options.details;
  }

  /** True when `err` is an ikc error with that code (works across package copies). */
  static is(err: unknown, code?: string): err is IkcError {
    if (typeof err !== 'object' || err === null) return false;
    const c = (err as { code?: unknown }).code;
    return typeof c === 'string' && c.startsWith('IKC_ERR_') && (code === undefined || c === code);
  }
}

/** Raised by the codec for bytes a peer sent; the link that carried them should close. */
export class WireError extends IkcError {
  constructor(code: ErrorCode, message: string, options: IkcErrorOptions = {}) {
    super(code, message, options);
    this.name = 'WireError';
  }
}
