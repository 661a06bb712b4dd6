/**
 * A msgpack writer for the hot frames when they are flat: a POST or CALL whose arguments,
 * or a REPLY whose value, are numbers, ASCII strings, booleans, null or undefined. It writes
 * the frame straight into the caller's buffer: no positional array, no msgpackr call, no
 * Buffer per frame. That is most of what a small post cost to encode.
 *
 * It writes what msgpackr writes for the same frame, byte for byte (flat.test.ts checks
 * it), so a peer cannot tell them apart. Anything else (a non-ASCII string, a bigint, an
 * object, a field of the wrong type, a frame past the room given) makes it give up, having
 * written nothing the caller counts: the frame then goes through Codec.encode, which also
 * reports what was wrong with it.
 */
import { type Frame, FrameType } from './frames.js';

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
export function writeFlat(frame: Frame, buffer: Buffer, at: number, room: number): number {
  out = buffer;
  pos = at;
  end = at + Math.min(room, buffer.length - at);
  let ok: boolean;
  switch (frame.type) {
    case FrameType.Post:
      ok =
        end - pos >= 2 &&
        head(0x98, FrameType.Post) &&
        uint(frame.seq) &&
        str(frame.from) &&
        str(frame.to) &&
        str(frame.event) &&
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
        str(frame.from) &&
        str(frame.to) &&
        str(frame.event) &&
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
    default:
      ok = false;
  }
  return ok ? pos - at : 0;
}

function head(array: number, type: number): boolean {
  out[pos++] = array;
  out[pos++] = type;
  return true;
}

function uint(v: unknown): boolean {
  return isUint(v) && num(v);
}

/** A routing field: undefined is '' (the schema's default). */
function route(v: unknown): boolean {
  return str(v === undefined ? '' : v);
}

function list(args: unknown): boolean {
  if (!Array.isArray(args)) return false;
  const n = args.length;
  if (n < 16) {
    if (pos >= end) return false;
    out[pos++] = 0x90 | n;
  } else if (n < 0x10000) {
    if (pos + 3 > end) return false;
    out[pos] = 0xdc;
    out.writeUInt16BE(n, pos + 1);
    pos += 3;
  } else {
    return false;
  }
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
      if (v !== null || pos >= end) return false;
      out[pos++] = 0xc0;
      return true;
    default:
      return false;
  }
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
