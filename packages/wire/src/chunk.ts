/**
 * Chunked messages (protocol version 2 and up): a message larger than CHUNK_BYTES does not
 * go as one transport message but as CHUNK frames, each a transport message of its own,
 * carrying the message's bytes in order. The receiving side collects them (ChunkAssembler)
 * and decodes the whole as one message of exactly one frame.
 *
 * Chunks belong to the link, not to the channel: the frame a chunked message carries is
 * what is sequenced and acknowledged, once it is whole. A link that drops mid-message drops
 * the pieces received so far, and the channel resends the whole frame on the next link.
 *
 * Nothing here schedules or sends: the sender asks for each piece (encodeChunk) when its
 * transport has room, and the receiver feeds each CHUNK frame to its assembler.
 */
import { IkcError, WireError } from './errors.js';
import { type ChunkFrame, FrameType } from './frames.js';
import { DEFAULT_LIMITS, type Limits, resolveLimits } from './limits.js';

/**
 * A message larger than this goes in chunks, and each chunk carries at most this many of
 * its bytes (bytes): 1 MiB. A message up to this size goes whole, so its strings and binary
 * values are within the per-message limits (MAX_STRING_BYTES is 1 MiB too).
 */
export const CHUNK_BYTES = 1024 * 1024;

/** The HELLO feature by which a kernel says it takes chunked messages: `chunks=MAXBYTES`. */
export const CHUNKS_FEATURE = 'chunks';

/** `chunks=N`: this kernel takes CHUNK frames, for messages of up to N bytes. */
export function chunksFeature(maxMessageBytes: number): string {
  return `${CHUNKS_FEATURE}=${maxMessageBytes}`;
}

/**
 * The largest chunked message a peer takes, from its HELLO features; undefined when it did
 * not say it takes chunks (an older kernel), or said it badly.
 */
export function peerChunkLimit(features: readonly string[]): number | undefined {
  for (const feature of features) {
    if (!feature.startsWith(`${CHUNKS_FEATURE}=`)) continue;
    const text = feature.slice(CHUNKS_FEATURE.length + 1);
    const n = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  }
  return undefined;
}

/**
 * Limits for whole messages of up to `maxMessageBytes` (a chunked message once assembled,
 * and our own frames before they are cut up): `base`'s, with the message, string and binary
 * limits raised to `maxMessageBytes`. The limits on nesting, entries and values stay, so a
 * large message still cannot make the decoder build more than a bounded number of values.
 */
export function largeLimits(maxMessageBytes: number, base: Limits = DEFAULT_LIMITS): Limits {
  const at = (limit: number) => Math.max(limit, maxMessageBytes);
  return resolveLimits({
    ...base,
    maxMessageBytes: at(base.maxMessageBytes),
    maxStringBytes: at(base.maxStringBytes),
    maxBinBytes: at(base.maxBinBytes),
  });
}

/** Bytes of the msgpack header before a CHUNK's data: array, type, three uints, bin header. */
const HEADER_MAX = 1 + 1 + 3 * 9 + 5;

/**
 * One CHUNK frame as one message: the piece `data` of message `id` (`total` bytes) at
 * `offset`. The same bytes Codec.encode would write for the frame (a test holds it to
 * that), with the data copied once, into a buffer of exactly the message's size.
 */
export function encodeChunk(id: number, total: number, offset: number, data: Uint8Array): Buffer {
  for (const [name, v] of [
    ['id', id],
    ['total', total],
    ['offset', offset],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new IkcError(
        'IKC_ERR_ENCODE',
        `cannot encode CHUNK: field '${name}' must be an unsigned integer`,
        {
          details: { frame: 'CHUNK', field: name },
        },
      );
    }
  }
  const header = Buffer.allocUnsafe(HEADER_MAX);
  let p = 0;
  header[p++] = 0x95; // array of 5
  header[p++] = FrameType.Chunk;
  p = writeUint(header, p, id);
  p = writeUint(header, p, total);
  p = writeUint(header, p, offset);
  const n = data.length;
  if (n < 0x100) {
    header[p++] = 0xc4;
    header[p++] = n;
  } else if (n < 0x10000) {
    header[p++] = 0xc5;
    header.writeUInt16BE(n, p);
    p += 2;
  } else {
    header[p++] = 0xc6;
    header.writeUInt32BE(n, p);
    p += 4;
  }
  const out = Buffer.allocUnsafe(p + n);
  header.copy(out, 0, 0, p);
  out.set(data, p);
  return out;
}

/** Writes `v` as msgpack writes an integer, in the fewest bytes; beyond 32 bits, a float 64. */
function writeUint(b: Buffer, p: number, v: number): number {
  if (v < 0x80) {
    b[p] = v;
    return p + 1;
  }
  if (v < 0x100) {
    b[p] = 0xcc;
    b[p + 1] = v;
    return p + 2;
  }
  if (v < 0x10000) {
    b[p] = 0xcd;
    b.writeUInt16BE(v, p + 1);
    return p + 3;
  }
  if (v <= 0xffffffff) {
    b[p] = 0xce;
    b.writeUInt32BE(v, p + 1);
    return p + 5;
  }
  b[p] = 0xcb;
  b.writeDoubleBE(v, p + 1);
  return p + 9;
}

/**
 * The CHUNK frame that `message` is, with `data` a view into `message` rather than a copy:
 * a shortcut past the generic decoder for the one large frame a link receives in bulk. Only
 * for a message that is exactly one CHUNK frame, written as encodeChunk writes it, within
 * `limits`; anything else (a batch, another encoding, a bad field) returns undefined, and
 * the caller decodes the message the usual way, which accepts or refuses it in full.
 */
export function readChunk(message: Uint8Array, limits: Limits = DEFAULT_LIMITS): ChunkFrame | undefined {
  if (message.length < 6 || message.length > limits.maxMessageBytes) return undefined;
  if (message[0] !== 0x95 || message[1] !== FrameType.Chunk) return undefined;
  let p = 2;
  const uint = (): number => {
    const t = message[p] as number;
    if (t < 0x80) {
      p += 1;
      return t;
    }
    const view = new DataView(message.buffer, message.byteOffset, message.length);
    if (t === 0xcc && p + 2 <= message.length) return view.getUint8((p += 2) - 1);
    if (t === 0xcd && p + 3 <= message.length) return view.getUint16((p += 3) - 2);
    if (t === 0xce && p + 5 <= message.length) return view.getUint32((p += 5) - 4);
    if (t === 0xcb && p + 9 <= message.length) {
      const v = view.getFloat64((p += 9) - 8);
      return Number.isSafeInteger(v) && v >= 0 ? v : -1;
    }
    return -1;
  };
  const id = uint();
  const total = id < 0 ? -1 : uint();
  const offset = total < 0 ? -1 : uint();
  if (offset < 0 || p >= message.length) return undefined;
  const t = message[p] as number;
  let n: number;
  if (t === 0xc4 && p + 2 <= message.length) {
    n = message[p + 1] as number;
    p += 2;
  } else if (t === 0xc5 && p + 3 <= message.length) {
    n = ((message[p + 1] as number) << 8) | (message[p + 2] as number);
    p += 3;
  } else if (t === 0xc6 && p + 5 <= message.length) {
    n = new DataView(message.buffer, message.byteOffset + p + 1, 4).getUint32(0);
    p += 5;
  } else return undefined;
  if (n > limits.maxBinBytes || p + n !== message.length) return undefined;
  return { type: FrameType.Chunk, id, total, offset, data: message.subarray(p) };
}

function protocolError(message: string, details: Record<string, unknown>): WireError {
  return new WireError('IKC_ERR_PROTOCOL', message, { details });
}

/**
 * Collects the CHUNK frames one link receives into whole messages. One message at a time:
 * its pieces come in order (each `offset` is what arrived before it), with the same `id`
 * and `total`, and a new message has a larger `id` than the last. Anything else is the
 * peer's fault and throws a WireError (IKC_ERR_PROTOCOL), as does a `total` over
 * `maxMessageBytes` (IKC_ERR_MESSAGE_TOO_LARGE, before anything is allocated for it); the
 * link should then close. Memory: the message's own bytes, once, allocated at its first piece.
 */
export class ChunkAssembler {
  readonly maxMessageBytes: number;
  #id = 0;
  #total = 0;
  #received = 0;
  #buffer: Buffer | undefined;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** True while a message has started and not all of its bytes have arrived. */
  get inProgress(): boolean {
    return this.#buffer !== undefined;
  }

  /** Bytes of the message in progress that have arrived (0 when none is). */
  get received(): number {
    return this.#received;
  }

  /** Takes one piece; returns the whole message when this was its last piece. */
  take(chunk: ChunkFrame): Buffer | undefined {
    const { id, total, offset, data } = chunk;
    const details = { id, total, offset, bytes: data.length };
    if (this.#buffer === undefined) {
      if (id <= this.#id) {
        throw protocolError(`CHUNK: message ${id} after message ${this.#id}; ids must grow`, details);
      }
      if (offset !== 0) {
        throw protocolError(`CHUNK: message ${id} starts at offset ${offset}, not 0`, details);
      }
      if (total > this.maxMessageBytes) {
        throw new WireError(
          'IKC_ERR_MESSAGE_TOO_LARGE',
          `a chunked message of ${total} bytes exceeds maxMessageBytes (${this.maxMessageBytes})`,
          { details: { ...details, limit: this.maxMessageBytes } },
        );
      }
      if (total === 0) throw protocolError(`CHUNK: message ${id} has no bytes`, details);
    } else {
      if (id !== this.#id) {
        throw protocolError(`CHUNK: message ${id} began before message ${this.#id} was whole`, details);
      }
      if (total !== this.#total) {
        throw protocolError(`CHUNK: message ${id} changed its size from ${this.#total} to ${total}`, details);
      }
      if (offset !== this.#received) {
        throw protocolError(
          `CHUNK: message ${id} piece at offset ${offset}, expected ${this.#received}`,
          details,
        );
      }
    }
    if (data.length === 0) throw protocolError(`CHUNK: an empty piece of message ${id}`, details);
    if (offset + data.length > total) {
      throw protocolError(
        `CHUNK: message ${id} piece at ${offset} of ${data.length} bytes runs past its ${total} bytes`,
        details,
      );
    }
    if (this.#buffer === undefined) {
      // Not zero-filled: every byte is written by a piece before the message is handed out.
      this.#buffer = Buffer.allocUnsafeSlow(total);
      this.#id = id;
      this.#total = total;
      this.#received = 0;
    }
    this.#buffer.set(data, offset);
    this.#received += data.length;
    if (this.#received < total) return undefined;
    const whole = this.#buffer;
    this.reset();
    return whole;
  }

  /** Forgets the message in progress (the link it came on is gone). */
  reset(): void {
    this.#buffer = undefined;
    this.#total = 0;
    this.#received = 0;
  }
}
