/**
 * The structural scan: one pass over a message's msgpack bytes that builds nothing and
 * allocates nothing, run before msgpackr decodes a byte of it. It is what makes the
 * decoder safe on a peer's input:
 *
 * - every length is checked against its limit and against the bytes left, so msgpackr is
 *   never asked to build a value larger than a limit or to read past the end (a claim of
 *   four billion array entries in a 6-byte message is refused here, not allocated);
 * - nesting is counted, so a deep input gives IKC_ERR_FRAME_TOO_DEEP instead of a
 *   RangeError from msgpackr's recursion (this scan recurses too, but at most maxDepth,
 *   itself at most HARD_MAX_DEPTH, levels);
 * - only allow-listed extension types pass. msgpackr's built-in ones include RegExp (a peer
 *   could ship a catastrophic pattern), typed arrays, Error (constructor chosen by name),
 *   structured-clone references and records (which make msgpackr generate a reader function
 *   from peer-chosen key names) and string bundles (which move its read position): none of
 *   them is accepted from a peer;
 * - map keys must be scalars and never `__proto__` (msgpackr would rename it `__proto_`;
 *   we refuse it instead, so a peer's attempt is visible);
 * - truncation is detected exactly, so it gets its own code.
 *
 * It also counts the frames of a batch and checks each one is a msgpack array.
 */
import type { ErrorCode } from './errors.js';
import { WireError } from './errors.js';
import type { Limits } from './limits.js';
import { ExtType } from './values.js';

// The scan keeps its cursor in module state rather than an object: it is synchronous and
// not re-entrant, and this keeps the hot loop free of property loads.
const EMPTY = new Uint8Array(0);
let b: Uint8Array = EMPTY;
let end = 0;
let pos = 0;
let values = 0;
let frame = 0;
let lim: Limits;

const TIMESTAMP = 0xff;
const UNDEFINED = 0x00;
const RECORD = 0x72;
// "__proto__" in UTF-8, compared byte by byte so no string is built for a key.
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

function fail(code: ErrorCode, message: string): never {
  throw new WireError(code, `frame ${frame}: ${message}`, { details: { frame, offset: pos } });
}

function truncated(): never {
  fail('IKC_ERR_FRAME_TRUNCATED', `the message ends (at byte ${end}) in the middle of a value`);
}

function need(n: number): void {
  if (n > end - pos) truncated();
}

function readLength(size: 1 | 2 | 4): number {
  need(size);
  const p = pos;
  pos += size;
  if (size === 1) return b[p] as number;
  if (size === 2) return ((b[p] as number) << 8) | (b[p + 1] as number);
  // Multiply the top byte: `<< 24` would make lengths of 2 GiB and up negative.
  return (
    (b[p] as number) * 0x1000000 +
    (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number))
  );
}

function skipBytes(n: number): void {
  need(n);
  pos += n;
}

function skipString(length: number): void {
  if (length > lim.maxStringBytes) {
    fail(
      'IKC_ERR_FRAME_TOO_LARGE',
      `a string of ${length} bytes exceeds maxStringBytes (${lim.maxStringBytes})`,
    );
  }
  skipBytes(length);
}

function skipBin(length: number): void {
  if (length > lim.maxBinBytes) {
    fail(
      'IKC_ERR_FRAME_TOO_LARGE',
      `a binary value of ${length} bytes exceeds maxBinBytes (${lim.maxBinBytes})`,
    );
  }
  skipBytes(length);
}

function enter(depth: number, entries: number, bytesPerEntry: number): void {
  if (depth > lim.maxDepth) fail('IKC_ERR_FRAME_TOO_DEEP', `nesting exceeds maxDepth (${lim.maxDepth})`);
  if (entries > lim.maxCollectionEntries) {
    fail(
      'IKC_ERR_FRAME_TOO_LARGE',
      `a collection of ${entries} entries exceeds maxCollectionEntries (${lim.maxCollectionEntries})`,
    );
  }
  // Every value takes at least one byte: a count the remaining bytes cannot hold is a
  // truncated (or lying) message, refused before anything sized by it exists.
  if (entries * bytesPerEntry > end - pos) truncated();
}

function skipArray(entries: number, depth: number): void {
  enter(depth, entries, 1);
  for (let i = 0; i < entries; i++) skipValue(depth + 1);
}

function skipMap(entries: number, depth: number): void {
  enter(depth, entries, 2);
  for (let i = 0; i < entries; i++) {
    skipKey(depth + 1);
    skipValue(depth + 1);
  }
}

function isProto(): boolean {
  for (let i = 0; i < PROTO.length; i++) if (b[pos + i] !== PROTO[i]) return false;
  return true;
}

function skipKey(depth: number): void {
  need(1);
  const t = b[pos] as number;
  let length = -1;
  if (t >= 0xa0 && t <= 0xbf) {
    pos++;
    length = t & 0x1f;
  } else if (t === 0xd9) {
    pos++;
    length = readLength(1);
  } else if (t === 0xda) {
    pos++;
    length = readLength(2);
  } else if (t === 0xdb) {
    pos++;
    length = readLength(4);
  }
  if (length >= 0) {
    countValue();
    if (length === PROTO.length && end - pos >= length && isProto()) {
      fail('IKC_ERR_FORBIDDEN_VALUE', 'a map key is "__proto__"');
    }
    skipString(length);
    return;
  }
  // Numbers, booleans and nil are fine: msgpackr turns them into property names.
  const scalar = t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3 || (t >= 0xca && t <= 0xd3);
  if (!scalar)
    fail(
      'IKC_ERR_FORBIDDEN_VALUE',
      `a map key of msgpack type 0x${t.toString(16)} is not a string or number`,
    );
  skipValue(depth);
}

/** `fixext1`: the ext came as token 0xd4, not as an ext 8/16/32 that happens to hold 1 byte. */
function skipExt(length: number, depth: number, fixext1 = false): void {
  need(1);
  const type = b[pos++] as number;
  if (type === ExtType.SessionRef || type === ExtType.Error) {
    // Tag form, as msgpackr writes it: fixext 1 (type, one filler byte), then the payload
    // as the next msgpack value. msgpackr reads these types only in that exact form.
    if (!fixext1) fail('IKC_ERR_FRAME_MALFORMED', `extension ${type} must be a fixext 1 tag`);
    if (depth > lim.maxDepth) fail('IKC_ERR_FRAME_TOO_DEEP', `nesting exceeds maxDepth (${lim.maxDepth})`);
    skipBytes(1);
    skipValue(depth + 1);
    return;
  }
  const allowed =
    (type === UNDEFINED && fixext1) ||
    (type === TIMESTAMP && (length === 1 || length === 4 || length === 8 || length === 12));
  if (!allowed) {
    const what = type === RECORD ? ' (msgpackr records)' : '';
    fail(
      'IKC_ERR_FORBIDDEN_VALUE',
      `extension type ${type}${what} of ${length} bytes is not accepted from peers`,
    );
  }
  skipBytes(length);
}

function countValue(): void {
  if (++values > lim.maxValuesPerMessage) tooManyValues();
}

function tooManyValues(): never {
  fail(
    'IKC_ERR_FRAME_TOO_LARGE',
    `the message holds more than maxValuesPerMessage (${lim.maxValuesPerMessage}) values`,
  );
}

function skipValue(depth: number): void {
  if (pos >= end) truncated();
  if (++values > lim.maxValuesPerMessage) tooManyValues();
  const t = b[pos++] as number;
  if (t <= 0x7f || t >= 0xe0) return; // positive and negative fixint
  if (t <= 0x8f) return skipMap(t & 0x0f, depth);
  if (t <= 0x9f) return skipArray(t & 0x0f, depth);
  if (t <= 0xbf) return skipString(t & 0x1f);
  switch (t) {
    case 0xc0: // nil
    case 0xc2: // false
    case 0xc3: // true
      return;
    case 0xc1:
      return fail('IKC_ERR_FRAME_MALFORMED', 'byte 0xc1 is never used in msgpack');
    case 0xc4:
      return skipBin(readLength(1));
    case 0xc5:
      return skipBin(readLength(2));
    case 0xc6:
      return skipBin(readLength(4));
    case 0xc7:
      return skipExt(readLength(1), depth);
    case 0xc8:
      return skipExt(readLength(2), depth);
    case 0xc9:
      return skipExt(readLength(4), depth);
    case 0xca: // float 32
      return skipBytes(4);
    case 0xcb: // float 64
      return skipBytes(8);
    case 0xcc: // uint 8
    case 0xd0: // int 8
      return skipBytes(1);
    case 0xcd:
    case 0xd1:
      return skipBytes(2);
    case 0xce:
    case 0xd2:
      return skipBytes(4);
    case 0xcf:
    case 0xd3:
      return skipBytes(8);
    case 0xd4:
      return skipExt(1, depth, true);
    case 0xd5:
      return skipExt(2, depth);
    case 0xd6:
      return skipExt(4, depth);
    case 0xd7:
      return skipExt(8, depth);
    case 0xd8:
      return skipExt(16, depth);
    case 0xd9:
      return skipString(readLength(1));
    case 0xda:
      return skipString(readLength(2));
    case 0xdb:
      return skipString(readLength(4));
    case 0xdc:
      return skipArray(readLength(2), depth);
    case 0xdd:
      return skipArray(readLength(4), depth);
    case 0xde:
      return skipMap(readLength(2), depth);
    default: // 0xdf, map 32: every other byte was handled above
      return skipMap(readLength(4), depth);
  }
}

/**
 * Checks `bytes` as a message of back-to-back frames within `limits` and returns how many
 * frames it holds. Throws a WireError with the code of the first problem found. The
 * caller checks maxMessageBytes first, before the bytes are even looked at.
 */
export function scanMessage(bytes: Uint8Array, limits: Limits): number {
  b = bytes;
  end = bytes.length;
  pos = 0;
  values = 0;
  frame = 0;
  lim = limits;
  try {
    while (pos < end) {
      frame++;
      if (frame > limits.maxFramesPerBatch) {
        throw new WireError(
          'IKC_ERR_BATCH_TOO_LONG',
          `the message holds more than maxFramesPerBatch (${limits.maxFramesPerBatch}) frames`,
          { details: { offset: pos } },
        );
      }
      const t = b[pos] as number;
      if (!((t >= 0x90 && t <= 0x9f) || t === 0xdc || t === 0xdd)) {
        fail(
          'IKC_ERR_FRAME_MALFORMED',
          `a frame must be a msgpack array, found type byte 0x${t.toString(16)}`,
        );
      }
      skipValue(1);
    }
    return frame;
  } finally {
    b = EMPTY; // do not keep the peer's message alive
  }
}
