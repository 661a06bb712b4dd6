/**
 * A msgpack writer for the hot frames when they are flat: a POST or CALL whose arguments,
 * or a REPLY whose value, are numbers, ASCII strings, booleans, null, undefined, bytes (a
 * Buffer or Uint8Array: a job's output, say), or, up to `nesting` levels deep, Arrays and
 * plain Objects with ASCII keys of those (a small options object, a list of names). It
 * writes the frame straight into the caller's buffer: no positional array, no msgpackr call,
 * no Buffer per frame. That is most of what a small post cost to encode.
 *
 * It writes what msgpackr writes for the same frame, byte for byte (flat.test.ts checks
 * it), so a peer cannot tell them apart. Anything else (a non-ASCII string, a bigint, a
 * class instance, a collection deeper than the nesting, a `__proto__` key, a field of the
 * wrong type, a frame past the room given) makes it give up, having
 * written nothing the caller counts: the frame then goes through Codec.encode, which also
 * reports what was wrong with it.
 */
import { type Frame, FrameType } from './frames.js';
import { ExtType, SessionRef, sessionRefOf } from './values.js';

/** The most bytes a frame written here may take: a larger one goes through msgpackr. */
export const FLAT_MAX_BYTES = 4096;

// The writer keeps its cursor in module state: it is synchronous and not re-entrant.
let out: Buffer;
let pos = 0;
let end = 0;

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Writes `frame` into `buffer` from `at`, in at most `room` bytes. Returns the bytes written,
 * or 0 when the frame is not flat or does not fit (the bytes from `at` are then garbage).
 */
export function writeFlat(frame: Frame, buffer: Buffer, at: number, room: number, nesting = 0): number {
  out = buffer;
  pos = at;
  end = at + Math.min(room, buffer.length - at);
  nestLeft = nesting;
  try {
    return writeFrame(frame) ? pos - at : 0;
  } catch {
    return 0; // a getter that throws, say: Codec.encode reports it
  }
}

/** Collections that may still be opened inside the value being written (writeFlat's nesting). */
let nestLeft = 0;

function writeFrame(frame: Frame): boolean {
  let ok: boolean;
  switch (frame.type) {
    case FrameType.Post:
      ok =
        end - pos >= 2 &&
        head(0x98, FrameType.Post) &&
        uint(frame.seq) &&
        names(frame.from, frame.to, frame.event) &&
        list(frame.args) &&
        route(frame.dest) &&
        route(frame.origin);
      break;
    case FrameType.Call:
      ok =
        end - pos >= 2 &&
        head(0x9a, FrameType.Call) &&
        uint(frame.seq) &&
        uint(frame.callId) &&
        names(frame.from, frame.to, frame.event) &&
        list(frame.args) &&
        uint(frame.timeoutMs === undefined ? 0 : frame.timeoutMs) &&
        route(frame.dest) &&
        route(frame.origin);
      break;
    case FrameType.Reply:
      ok =
        end - pos >= 2 &&
        head(0x96, FrameType.Reply) &&
        uint(frame.seq) &&
        uint(frame.callId) &&
        value(frame.value) &&
        route(frame.dest) &&
        route(frame.origin);
      break;
    case FrameType.Ack:
      // Rides on nearly every CALL and REPLY of a conversation (piggybacked acknowledgements).
      ok = end - pos >= 2 && head(0x92, FrameType.Ack) && uint(frame.seq);
      break;
    default:
      ok = false;
  }
  return ok;
}

function head(array: number, type: number): boolean {
  out[pos++] = array;
  out[pos++] = type;
  return true;
}

function uint(v: unknown): boolean {
  return isUint(v) && num(v);
}

// The last names written (sender, target, event) and their bytes: a stream of posts or calls
// repeats them, and copying ~30 bytes costs less than checking and writing three strings.
let lastFrom: unknown;
let lastTo: unknown;
let lastEvent: unknown;
let lastNames = new Uint8Array(0);

/** A frame's from, to and event, side by side as they are on the wire. */
function names(from: unknown, to: unknown, event: unknown): boolean {
  if (lastNames.length > 0 && from === lastFrom && to === lastTo && event === lastEvent) {
    const bytes = lastNames;
    const n = bytes.length;
    if (pos + n > end) return false;
    for (let i = 0; i < n; i++) out[pos + i] = bytes[i] as number;
    pos += n;
    return true;
  }
  const start = pos;
  if (!(str(from) && str(to) && str(event))) return false;
  lastNames = Uint8Array.prototype.slice.call(out, start, pos); // a copy: `out` is reused
  lastFrom = from;
  lastTo = to;
  lastEvent = event;
  return true;
}

/** A routing field: undefined is '' (the schema's default). */
function route(v: unknown): boolean {
  return str(v === undefined ? '' : v);
}

function list(args: unknown): boolean {
  if (!Array.isArray(args)) return false;
  return items(args);
}

/** A collection's header for `n` entries: the fix form (`fix | n`) below 16, else the 16-bit one. */
function header(n: number, fix: number, wide: number): boolean {
  if (n < 16) {
    if (pos >= end) return false;
    out[pos++] = fix | n;
    return true;
  }
  if (n >= 0x10000 || pos + 3 > end) return false;
  out[pos] = wide;
  out.writeUInt16BE(n, pos + 1);
  pos += 3;
  return true;
}

/** An array's header and its values, as msgpackr writes an Array. */
function items(args: readonly unknown[]): boolean {
  const n = args.length;
  if (!header(n, 0x90, 0xdc)) return false;
  for (let i = 0; i < n; i++) if (!value(args[i])) return false;
  return true;
}

function value(v: unknown): boolean {
  switch (typeof v) {
    case 'number':
      return num(v);
    case 'string':
      return str(v);
    case 'boolean':
      if (pos >= end) return false;
      out[pos++] = v ? 0xc3 : 0xc2;
      return true;
    case 'undefined':
      // msgpackr's undefined: fixext 1 of type 0 (encodeUndefinedAsNil is off).
      if (pos + 3 > end) return false;
      out[pos++] = 0xd4;
      out[pos++] = 0;
      out[pos++] = 0;
      return true;
    case 'object':
      if (v === null) {
        if (pos >= end) return false;
        out[pos++] = 0xc0;
        return true;
      }
      if (v.constructor === Array || v.constructor === Object) return nested(v);
      return v instanceof Uint8Array ? bin(v) : ref(v);
    default:
      return false;
  }
}

/**
 * A session (an instance of a class registered with registerSessionClass) as msgpackr writes
 * its extension: the one-byte tag `d4 01 00`, then `[kernel, session]`, ASCII strings.
 */
function ref(v: object): boolean {
  const r = sessionRefOf(v);
  if (r === undefined || pos + 4 > end) return false;
  out[pos++] = 0xd4;
  out[pos++] = ExtType.SessionRef;
  out[pos++] = 0;
  out[pos++] = 0x92;
  return str(r.kernel) && str(r.session);
}

/** An Array or plain Object inside an argument, while the nesting allows another level. */
function nested(v: object): boolean {
  if (nestLeft === 0) return false;
  nestLeft--;
  const ok = Array.isArray(v) ? items(v) : map(v as Record<string, unknown>);
  nestLeft++;
  return ok;
}

/** A plain object as msgpackr writes it (variableMapSize): its own keys, ASCII strings only. */
function map(o: Record<string, unknown>): boolean {
  const keys = Object.keys(o);
  const n = keys.length;
  if (!header(n, 0x80, 0xde)) return false;
  for (let i = 0; i < n; i++) {
    const key = keys[i] as string;
    // A peer refuses a __proto__ key: Codec.encode says so.
    if (key === '__proto__' || !str(key) || !value(o[key])) return false;
  }
  return true;
}

/** Bytes as msgpackr writes a Buffer or a plain Uint8Array: bin 8, 16 or 32 and the bytes. */
function bin(v: object): boolean {
  if (!(v instanceof Uint8Array) || (v.constructor !== Buffer && v.constructor !== Uint8Array)) return false;
  const n = v.length;
  if (n < 0x100) {
    if (pos + 2 + n > end) return false;
    out[pos++] = 0xc4;
    out[pos++] = n;
  } else if (n < 0x10000) {
    if (pos + 3 + n > end) return false;
    out[pos] = 0xc5;
    out.writeUInt16BE(n, pos + 1);
    pos += 3;
  } else {
    return false; // past FLAT_MAX_BYTES anyway
  }
  out.set(v, pos);
  pos += n;
  return true;
}

/** A number as msgpackr writes it: the smallest integer form within 32 bits, else float 64. */
function num(v: number): boolean {
  if (pos + 9 > end) return false;
  if (v >>> 0 === v) {
    if (v < 0x80) out[pos++] = v;
    else if (v < 0x100) {
      out[pos++] = 0xcc;
      out[pos++] = v;
    } else if (v < 0x10000) {
      out[pos] = 0xcd;
      out.writeUInt16BE(v, pos + 1);
      pos += 3;
    } else {
      out[pos] = 0xce;
      out.writeUInt32BE(v, pos + 1);
      pos += 5;
    }
  } else if (v >> 0 === v) {
    if (v >= -0x20) out[pos++] = v & 0xff;
    else if (v >= -0x80) {
      out[pos++] = 0xd0;
      out[pos++] = v & 0xff;
    } else if (v >= -0x8000) {
      out[pos] = 0xd1;
      out.writeInt16BE(v, pos + 1);
      pos += 3;
    } else {
      out[pos] = 0xd2;
      out.writeInt32BE(v, pos + 1);
      pos += 5;
    }
  } else {
    out[pos] = 0xcb;
    out.writeDoubleBE(v, pos + 1);
    pos += 9;
  }
  return true;
}

/** An ASCII string; false for anything else (msgpackr's own UTF-8 handling then applies). */
function str(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  const n = s.length;
  let at: number;
  if (n < 32) {
    if (pos + 1 + n > end) return false;
    out[pos] = 0xa0 | n;
    at = pos + 1;
  } else if (n < 0x100) {
    if (pos + 2 + n > end) return false;
    out[pos] = 0xd9;
    out[pos + 1] = n;
    at = pos + 2;
  } else if (n < 0x10000) {
    if (pos + 3 + n > end) return false;
    out[pos] = 0xda;
    out.writeUInt16BE(n, pos + 1);
    at = pos + 3;
  } else {
    return false;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return false;
    out[at + i] = c;
  }
  pos = at + n;
  return true;
}

// ---- reading ---------------------------------------------------------------------------------

// The reader's cursor, like the writer's: synchronous, not re-entrant.
let inp: Uint8Array = new Uint8Array(0);
let at = 0;
let stop = 0;
/** What a value read here is when it could not be read: the message goes the general way. */
const NOT_FLAT: unique symbol = Symbol('not flat');

// The last names read and the bytes they came from: a stream of frames from one sender to
// one event repeats them, and the same string objects also make the receiver's name checks
// pointer comparisons.
let seenBytes = new Uint8Array(0);
let seenFrom = '';
let seenTo = '';
let seenEvent = '';

/**
 * The frames of a message made only of flat POST, CALL, REPLY and ACK frames, exactly as
 * Codec.decode would return them; or undefined when anything in it is not that (a frame of
 * another type or another length, a non-ASCII string, a float 32, a 64-bit integer, an
 * object, a truncated value), and the message then goes through the scan and msgpackr.
 *
 * The caller must already have checked that the message cannot break a count limit
 * (Codec.flatBytes: every value takes a byte, so a message that short holds no string,
 * collection or value count over a limit), and passes `maxFrames`.
 */
export function readFlat(
  message: Uint8Array,
  maxFrames: number,
  nesting = 0,
  fromRef?: (ref: SessionRef) => unknown,
): Frame[] | undefined {
  inp = message;
  at = 0;
  readNestLeft = nesting;
  refsRead = false;
  stop = message.length;
  const frames: Frame[] = [];
  try {
    while (at < stop) {
      if (frames.length === maxFrames) return undefined;
      const frame = readFrame();
      if (frame === undefined) return undefined;
      frames.push(frame);
    }
    // Session references become what the codec's hook makes of them (a proxy, say) only now
    // that the whole message was read flat: a message that goes the general way after all is
    // mapped once, there.
    if (refsRead && fromRef) for (const frame of frames) mapRefs(frame, fromRef);
    return frames;
  } finally {
    inp = EMPTY_IN; // do not keep the peer's message alive
  }
}

const EMPTY_IN = new Uint8Array(0);

/** Collections that may still be opened inside the value being read (readFlat's nesting). */
let readNestLeft = 0;
/** Whether the message read so far held a session reference. */
let refsRead = false;

/** Replaces the SessionRefs in a flat frame's arguments or value with `fromRef(ref)`. */
function mapRefs(frame: Frame, fromRef: (ref: SessionRef) => unknown): void {
  if (frame.type === FrameType.Post || frame.type === FrameType.Call) mapIn(frame.args as unknown[], fromRef);
  else if (frame.type === FrameType.Reply) frame.value = mapValue(frame.value, fromRef);
}

function mapValue(v: unknown, fromRef: (ref: SessionRef) => unknown): unknown {
  if (v instanceof SessionRef) return fromRef(v);
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array))
    mapIn(v as Record<string, unknown>, fromRef);
  return v;
}

function mapIn(c: unknown[] | Record<string, unknown>, fromRef: (ref: SessionRef) => unknown): void {
  if (Array.isArray(c)) for (let i = 0; i < c.length; i++) c[i] = mapValue(c[i], fromRef);
  else for (const k of Object.keys(c)) c[k] = mapValue(c[k], fromRef);
}

function readFrame(): Frame | undefined {
  if (stop - at < 2) return undefined;
  const head = inp[at] as number;
  const type = inp[at + 1] as number;
  at += 2;
  if (head === 0x98 && type === FrameType.Post) {
    const seq = readUint();
    if (seq < 0 || !readNames()) return undefined;
    const from = seenFrom;
    const to = seenTo;
    const event = seenEvent;
    const args = readList();
    if (args === undefined) return undefined;
    const dest = readStr();
    if (dest === undefined) return undefined;
    const origin = readStr();
    if (origin === undefined) return undefined;
    return { type: FrameType.Post, seq, from, to, event, args, dest, origin };
  }
  if (head === 0x9a && type === FrameType.Call) {
    const seq = readUint();
    const callId = readUint();
    if (seq < 0 || callId < 0 || !readNames()) return undefined;
    const from = seenFrom;
    const to = seenTo;
    const event = seenEvent;
    const args = readList();
    if (args === undefined) return undefined;
    const timeoutMs = readUint();
    if (timeoutMs < 0) return undefined;
    const dest = readStr();
    if (dest === undefined) return undefined;
    const origin = readStr();
    if (origin === undefined) return undefined;
    return { type: FrameType.Call, seq, callId, from, to, event, args, timeoutMs, dest, origin };
  }
  if (head === 0x96 && type === FrameType.Reply) {
    const seq = readUint();
    const callId = readUint();
    if (seq < 0 || callId < 0) return undefined;
    const value = readValue();
    if (value === NOT_FLAT) return undefined;
    const dest = readStr();
    if (dest === undefined) return undefined;
    const origin = readStr();
    if (origin === undefined) return undefined;
    return { type: FrameType.Reply, seq, callId, value, dest, origin };
  }
  if (head === 0x92 && type === FrameType.Ack) {
    const seq = readUint();
    return seq < 0 ? undefined : { type: FrameType.Ack, seq };
  }
  return undefined;
}

/** An unsigned integer up to 32 bits, or -1. */
function readUint(): number {
  if (at >= stop) return -1;
  const t = inp[at] as number;
  if (t < 0x80) {
    at++;
    return t;
  }
  if (t === 0xcc && stop - at >= 2) {
    at += 2;
    return inp[at - 1] as number;
  }
  if (t === 0xcd && stop - at >= 3) {
    at += 3;
    return ((inp[at - 2] as number) << 8) | (inp[at - 1] as number);
  }
  if (t === 0xce && stop - at >= 5) {
    at += 5;
    return (
      (inp[at - 4] as number) * 0x1000000 +
      (((inp[at - 3] as number) << 16) | ((inp[at - 2] as number) << 8) | (inp[at - 1] as number))
    );
  }
  return -1;
}

/** The length of an ASCII string whose header is at `at`, moving past the header; or -1. */
function strLength(): number {
  if (at >= stop) return -1;
  const t = inp[at] as number;
  let n: number;
  if (t >= 0xa0 && t <= 0xbf) {
    n = t & 0x1f;
    at++;
  } else if (t === 0xd9 && stop - at >= 2) {
    n = inp[at + 1] as number;
    at += 2;
  } else if (t === 0xda && stop - at >= 3) {
    n = ((inp[at + 1] as number) << 8) | (inp[at + 2] as number);
    at += 3;
  } else return -1;
  if (n > stop - at) return -1;
  for (let i = at; i < at + n; i++) if ((inp[i] as number) >= 0x80) return -1;
  return n;
}

function readStr(): string | undefined {
  const n = strLength();
  if (n < 0) return undefined;
  const s = n === 0 ? '' : latin1(at, at + n);
  at += n;
  return s;
}

const readDoubleBE = Buffer.prototype.readDoubleBE as (this: Uint8Array, offset: number) => number;
const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

function latin1(from: number, to: number): string {
  return latin1Slice.call(inp, from, to);
}

/** from, to and event into seenFrom, seenTo and seenEvent: the last ones when the bytes match. */
function readNames(): boolean {
  const start = at;
  const seen = seenBytes;
  const n = seen.length;
  if (n > 0 && n <= stop - start) {
    // The same bytes, headers included, are the same three strings.
    let i = 0;
    while (i < n && inp[start + i] === seen[i]) i++;
    if (i === n) {
      at = start + n;
      return true;
    }
  }
  const from = readStr();
  if (from === undefined) return false;
  const to = readStr();
  if (to === undefined) return false;
  const event = readStr();
  if (event === undefined) return false;
  seenBytes = Uint8Array.prototype.slice.call(inp, start, at); // a copy, not a view
  seenFrom = from;
  seenTo = to;
  seenEvent = event;
  return true;
}

function readList(): unknown[] | undefined {
  const list = readItems();
  return list === NOT_FLAT ? undefined : list;
}

/** The entry count of a collection whose header (fix form `fix`…`fix | 15`, or the 16-bit
 * `wide`) is at `at`, moving past it; or -1. */
function readHeader(fix: number, wide: number): number {
  if (at >= stop) return -1;
  const t = inp[at] as number;
  if (t >= fix && t <= (fix | 0x0f)) {
    at++;
    return t & 0x0f;
  }
  if (t !== wide || stop - at < 3) return -1;
  at += 3;
  return ((inp[at - 2] as number) << 8) | (inp[at - 1] as number);
}

/** An array at `at` (header and values), or NOT_FLAT. */
function readItems(): unknown[] | typeof NOT_FLAT {
  const n = readHeader(0x90, 0xdc);
  if (n < 0 || n > stop - at) return NOT_FLAT;
  const list: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = readValue();
    if (v === NOT_FLAT) return NOT_FLAT;
    list[i] = v;
  }
  return list;
}

/** A map at `at` with ASCII keys (not __proto__) as a plain object, or NOT_FLAT. */
function readMap(): Record<string, unknown> | typeof NOT_FLAT {
  const n = readHeader(0x80, 0xde);
  if (n < 0 || 2 * n > stop - at) return NOT_FLAT;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const key = readStr();
    if (key === undefined || key === '__proto__') return NOT_FLAT;
    const v = readValue();
    if (v === NOT_FLAT) return NOT_FLAT;
    o[key] = v;
  }
  return o;
}

/** A session reference after its tag: `[kernel, session]`, two ASCII strings; else NOT_FLAT. */
function readRef(): unknown {
  at += 3;
  if (at >= stop || inp[at] !== 0x92) return NOT_FLAT;
  at++;
  const kernel = readStr();
  if (kernel === undefined) return NOT_FLAT;
  const session = readStr();
  if (session === undefined) return NOT_FLAT;
  refsRead = true;
  return new SessionRef(kernel, session);
}

/** An array or map inside a value, while the nesting allows another level; else NOT_FLAT. */
function readNested(): unknown {
  if (readNestLeft === 0) return NOT_FLAT;
  readNestLeft--;
  const t = inp[at] as number;
  const v = t <= 0x8f || t === 0xde ? readMap() : readItems();
  readNestLeft++;
  return v;
}

/**
 * A number, ASCII string, boolean, null, undefined, bytes, or (within the nesting) an array
 * or a map of them, as msgpackr reads it; else NOT_FLAT.
 */
function readValue(): unknown {
  if (at >= stop) return NOT_FLAT;
  const t = inp[at] as number;
  if (t < 0x80) {
    at++;
    return t;
  }
  if (t >= 0xe0) {
    at++;
    return t - 0x100;
  }
  if ((t >= 0xa0 && t <= 0xbf) || t === 0xd9 || t === 0xda) {
    const s = readStr();
    return s === undefined ? NOT_FLAT : s;
  }
  if (t <= 0x9f || t === 0xdc || t === 0xde) return readNested();
  const left = stop - at;
  switch (t) {
    case 0xc0:
      at++;
      return null;
    case 0xc2:
      at++;
      return false;
    case 0xc3:
      at++;
      return true;
    case 0xcc:
    case 0xcd:
    case 0xce: {
      const v = readUint();
      return v < 0 ? NOT_FLAT : v;
    }
    case 0xd0:
      if (left < 2) return NOT_FLAT;
      at += 2;
      return ((inp[at - 1] as number) << 24) >> 24;
    case 0xd1:
      if (left < 3) return NOT_FLAT;
      at += 3;
      return ((((inp[at - 2] as number) << 8) | (inp[at - 1] as number)) << 16) >> 16;
    case 0xd2:
      if (left < 5) return NOT_FLAT;
      at += 5;
      return (
        ((inp[at - 4] as number) << 24) |
        ((inp[at - 3] as number) << 16) |
        ((inp[at - 2] as number) << 8) |
        (inp[at - 1] as number)
      );
    case 0xcb:
      if (left < 9) return NOT_FLAT;
      at += 9;
      return readDoubleBE.call(inp, at - 8);
    case 0xc4:
    case 0xc5: {
      // Bytes, copied out of the message as the codec's unpacker does (copyBuffers): holding
      // on to them does not pin the message.
      const n =
        t === 0xc4
          ? left < 2
            ? -1
            : (inp[at + 1] as number)
          : left < 3
            ? -1
            : ((inp[at + 1] as number) << 8) | (inp[at + 2] as number);
      const from = at + (t === 0xc4 ? 2 : 3);
      if (n < 0 || n > stop - from) return NOT_FLAT;
      const bytes = Buffer.allocUnsafeSlow(n);
      bytes.set(inp.subarray(from, from + n));
      at = from + n;
      return bytes;
    }
    case 0xd4:
      if (left < 3 || inp[at + 2] !== 0) return NOT_FLAT;
      // msgpackr's undefined: fixext 1 of type 0 and a zero byte.
      if (inp[at + 1] === 0) {
        at += 3;
        return undefined;
      }
      if (inp[at + 1] === ExtType.SessionRef) return readRef();
      return NOT_FLAT;
    default:
      return NOT_FLAT;
  }
}
