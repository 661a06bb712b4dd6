/**
 * Frames to bytes and back. A frame is the msgpack array `[type, field1, field2, ...]`
 * (positional, per the table in frames.ts); a message is one or more frames back to back.
 *
 * Decoding a peer's message goes: size check, structural scan (scan.ts), msgpackr, then
 * each frame's fields checked against its schema (positional.ts). Every failure is a
 * WireError with a code; the link that carried the message should close. Nothing of a
 * message is returned unless all of it is valid.
 *
 * Encoding checks the fields and then checks the bytes with the same scan a peer will run,
 * so a frame a peer would refuse fails here, with IKC_ERR_ENCODE, and the link survives.
 */
import { type ErrorCode, WireError } from './errors.js';
import { readFlat } from './flat.js';
import { type Frame, FrameType, frameSchema } from './frames.js';
import { type Limits, resolveLimits } from './limits.js';
import { packr, unpackr, unpackrViews } from './msgpack.js';
import { encodeError, frameFromWire, frameToWire } from './positional.js';
import { scanMessage } from './scan.js';
import { swapValueHooks, type ValueHooks } from './values.js';

/**
 * A codec's limits and decode hooks. The hooks run while msgpackr is decoding and must not
 * throw (what they throw surfaces as IKC_ERR_FRAME_MALFORMED, closing the link).
 */
export interface CodecOptions extends ValueHooks {
  /** Overrides of DEFAULT_LIMITS, for both directions. */
  limits?: Partial<Limits>;
  /**
   * Decoded binary values are views into the message instead of copies. Only for callers
   * that hand decode() a message nobody else holds or writes (an assembled chunked message):
   * a binary value then keeps the whole message alive.
   */
  viewBinaries?: boolean;
}

function malformed(message: string, details: Record<string, unknown> = {}): WireError {
  return new WireError('IKC_ERR_FRAME_MALFORMED', message, { details });
}

/** An exception from msgpackr, after the scan passed, as a WireError. */
function fromMsgpackr(err: unknown): WireError {
  if (err instanceof WireError) return err;
  const incomplete =
    typeof err === 'object' && err !== null && (err as { incomplete?: unknown }).incomplete === true;
  const code: ErrorCode = incomplete ? 'IKC_ERR_FRAME_TRUNCATED' : 'IKC_ERR_FRAME_MALFORMED';
  const message = err instanceof Error ? err.message : String(err);
  return new WireError(code, `msgpack decoding failed: ${message}`, { cause: err });
}

// A message of one frame larger than SCRATCH_BYTES decodes its binaries as views of the
// message: callers hand decode() messages nobody writes again (what a transport received).
// msgpackr builds a DataView for every new source buffer (and caches it on the buffer),
// which costs more than decoding a small frame. So a single-frame message is first copied
// into this one reused buffer, whose DataView msgpackr builds once. Decoded values never
// point into it (strings are copied by nature, binaries by `copyBuffers`). Not used when a
// decode hook decodes re-entrantly: msgpackr would still be reading the outer message here.
const SCRATCH_BYTES = 16 * 1024;
/**
 * After a frame larger than this is encoded, msgpackr is given a fresh small slab: it would
 * otherwise keep the large one (process-wide) and allocate its next slabs at that size.
 */
const LARGE_FRAME_BYTES = 1024 * 1024;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
let decoding = 0;

/** Whether every value is a primitive: encoded, none nests, and none is a type a peer refuses. */
function primitives(values: readonly unknown[]): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const t = typeof v;
    if (t === 'object' ? v !== null : t === 'function' || t === 'symbol') return false;
  }
  return true;
}

/**
 * Whether a frame is flat: a POST or CALL whose arguments, or a REPLY whose value, are
 * primitives. Its bytes then nest two levels deep and hold only scalars and strings, so the
 * scan of our own bytes can only find a count over a limit, and none can exceed the frame's
 * size (every value, entry and string byte takes at least one byte).
 */
function flat(frame: Frame): boolean {
  switch (frame.type) {
    case FrameType.Post:
    case FrameType.Call:
      return primitives(frame.args);
    case FrameType.Reply: {
      const v = frame.value;
      const t = typeof v;
      return t === 'object' ? v === null : t !== 'function' && t !== 'symbol';
    }
    default:
      return false;
  }
}

export class Codec {
  readonly limits: Limits;
  readonly #hooks: ValueHooks | undefined;
  readonly #views: boolean;
  /** A flat frame up to this many bytes cannot break a limit: its scan is skipped (flat()). */
  readonly flatBytes: number;
  /**
   * Levels of arrays and maps a flat frame may hold inside an argument (0 to 2): what keeps
   * it within maxDepth (the frame is depth 1, its arguments' list 2, an argument 3, and an
   * undefined at the bottom one more).
   */
  readonly flatNesting: number;

  constructor(options: CodecOptions = {}) {
    this.limits = resolveLimits(options.limits);
    const l = this.limits;
    this.flatBytes =
      l.maxDepth < 3
        ? 0
        : Math.min(
            l.maxMessageBytes,
            l.maxStringBytes,
            l.maxBinBytes,
            l.maxCollectionEntries,
            l.maxValuesPerMessage,
          );
    this.flatNesting = Math.max(0, Math.min(2, l.maxDepth - 3));
    this.#views = options.viewBinaries === true;
    this.#hooks =
      options.fromRef || options.fromError
        ? { fromRef: options.fromRef, fromError: options.fromError }
        : undefined;
  }

  /**
   * One frame as one message. The result is a view into msgpackr's shared output slab: it
   * stays valid (msgpackr never writes over bytes it handed out), but callers must not
   * write into it. Throws IkcError IKC_ERR_ENCODE (never a WireError: nothing was wrong
   * with the peer), with `cause` saying which field or limit.
   */
  encode(frame: Frame): Buffer {
    const wire = frameToWire(frame);
    let bytes: Buffer;
    try {
      bytes = packr.pack(wire);
    } catch (err) {
      // RangeError: a cyclic value recursed until the stack ran out; otherwise a symbol, a
      // bigint beyond 64 bits, or a throwing toJSON.
      const why = err instanceof RangeError ? 'a value is cyclic or too deep' : 'a value cannot be encoded';
      throw encodeError(why, frameSchema(wire[0] as number), err);
    }
    if (bytes.length > LARGE_FRAME_BYTES) packr.useBuffer(Buffer.allocUnsafeSlow(8192));
    // The scan costs as much as the packing of a small frame: a posted number need not pay it.
    if (bytes.length > this.flatBytes || !flat(frame)) this.#checkOwn(bytes, wire[0] as number);
    return bytes;
  }

  /** Checks our own encoded bytes as the peer will, so the peer never has to refuse them. */
  #checkOwn(bytes: Uint8Array, type: number): void {
    if (bytes.length > this.limits.maxMessageBytes) {
      const cause = new WireError(
        'IKC_ERR_FRAME_TOO_LARGE',
        `the frame is ${bytes.length} bytes; maxMessageBytes is ${this.limits.maxMessageBytes}`,
      );
      throw encodeError('too large', frameSchema(type), cause, {
        limit: 'maxMessageBytes',
        size: bytes.length,
      });
    }
    try {
      scanMessage(bytes, this.limits);
    } catch (err) {
      throw encodeError('a peer would refuse it', frameSchema(type), err);
    }
  }

  /**
   * A peer's message as its frames, in order. `message` must be the complete message as
   * the transport delivered it. Throws a WireError with the code of the first problem.
   */
  decode(message: Uint8Array): Frame[] {
    if (!(message instanceof Uint8Array)) {
      throw malformed(`a message must be bytes, got ${message === null ? 'null' : typeof message}`);
    }
    // Before anything else: a message over the limit is not even looked at.
    if (message.length > this.limits.maxMessageBytes) {
      throw new WireError(
        'IKC_ERR_FRAME_TOO_LARGE',
        `the message is ${message.length} bytes; maxMessageBytes is ${this.limits.maxMessageBytes}`,
        { details: { size: message.length, limit: this.limits.maxMessageBytes } },
      );
    }
    if (message.length === 0) throw new WireError('IKC_ERR_FRAME_TRUNCATED', 'the message is empty');
    // A message of flat frames short enough to break no count limit is read in one pass.
    if (message.length <= this.flatBytes) {
      const frames = readFlat(message, this.limits.maxFramesPerBatch, this.flatNesting, this.#hooks?.fromRef);
      if (frames !== undefined) return frames;
    }
    const count = scanMessage(message, this.limits);
    let values: unknown[];
    const previousHooks = swapValueHooks(this.#hooks);
    decoding++;
    try {
      if (this.#views) {
        values = count > 1 ? unpackrViews.unpackMultiple(message) : [unpackrViews.unpack(message)];
      } else if (count > 1) values = unpackr.unpackMultiple(message);
      else if (message.length > SCRATCH_BYTES) {
        // One large frame is nearly all of its message, which the transport allocated for it
        // alone: its binaries as views pin nothing extra, and are not copied a second time.
        values = [unpackrViews.unpack(message)];
      } else if (decoding > 1) values = [unpackr.unpack(message)];
      else {
        scratch.set(message, 0);
        values = [unpackr.unpack(scratch, { start: 0, end: message.length })];
      }
    } catch (err) {
      throw fromMsgpackr(err);
    } finally {
      decoding--;
      swapValueHooks(previousHooks);
    }
    if (values.length !== count) {
      throw malformed(`msgpack decoding found ${values.length} frames where the scan found ${count}`);
    }
    // Frames replace their raw arrays in place: one array per message, whatever its size.
    const frames = values as Frame[];
    for (let i = 0; i < count; i++) frames[i] = frameFromWire(values[i], i + 1);
    return frames;
  }

  /** Exactly one frame from `message` (a handshake step, say); more is malformed. */
  decodeOne(message: Uint8Array): Frame {
    const frames = this.decode(message);
    if (frames.length !== 1) throw malformed(`expected one frame, the message holds ${frames.length}`);
    return frames[0]!;
  }
}

let defaultCodec: Codec | undefined;

/** The codec with default limits and no hooks, shared by the functions below. */
export function getDefaultCodec(): Codec {
  defaultCodec ??= new Codec();
  return defaultCodec;
}

/** `getDefaultCodec().encode(frame)`. */
export function encodeFrame(frame: Frame): Buffer {
  return getDefaultCodec().encode(frame);
}

/** `getDefaultCodec().decode(message)`. */
export function decodeMessage(message: Uint8Array): Frame[] {
  return getDefaultCodec().decode(message);
}
