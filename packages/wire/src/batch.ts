/**
 * Batching: many frames in one message, so a link pays one transport write (and one
 * decode call) per batch instead of per frame. A batch is simply frames back to back; a
 * decoder (Codec.decode) returns them in the order they were added.
 *
 * The batcher never schedules anything itself: the link calls flush() when it wants the
 * batch out, typically once per event-loop turn (queueMicrotask or setImmediate), and the
 * batcher sends on its own only when a batch is full.
 */

import type { Codec } from './codec.js';
import { getDefaultCodec } from './codec.js';
import { IkcError } from './errors.js';
import { FLAT_MAX_BYTES, writeFlat } from './flat.js';
import type { Frame } from './frames.js';

/** Default byte size at which a batch is sent, in bytes: 64 KiB, a good socket write. */
export const BATCH_TARGET_BYTES = 64 * 1024;

/** Size of the batcher's output slabs, in bytes (larger when one frame needs more). */
const SLAB_BYTES = 256 * 1024;

export interface BatcherOptions {
  /** Frames per message at which the batch is sent; at most the codec's maxFramesPerBatch. */
  maxFrames?: number;
  /** Bytes per message at which the batch is sent; at most the codec's maxMessageBytes. */
  maxBytes?: number;
}

/** Receives each finished message and the number of frames in it. */
export type MessageSink = (message: Buffer, frames: number) => void;

/**
 * Coalesces frames into messages. Frames are encoded as they are added (so an unencodable
 * frame throws IKC_ERR_ENCODE from add(), leaving the batch as it was) and copied into a
 * slab; a message handed to the sink is a view of that slab which is never written again,
 * so the transport may keep it as long as it needs. A frame of maxBytes or more is not
 * copied: it goes alone, as encoded.
 */
export class FrameBatcher {
  readonly maxFrames: number;
  readonly maxBytes: number;
  readonly #codec: Codec;
  readonly #sink: MessageSink;
  #slab: Buffer;
  #start = 0;
  #end = 0;
  #frames = 0;
  /** Bytes a flat frame may take here (addFlat). */
  readonly #flatRoom: number;

  constructor(sink: MessageSink, codec: Codec = getDefaultCodec(), options: BatcherOptions = {}) {
    const limits = codec.limits;
    this.maxFrames = Math.min(options.maxFrames ?? limits.maxFramesPerBatch, limits.maxFramesPerBatch);
    this.maxBytes = Math.min(options.maxBytes ?? BATCH_TARGET_BYTES, limits.maxMessageBytes);
    if (!(this.maxFrames >= 1 && this.maxBytes >= 1)) {
      throw new IkcError('IKC_ERR_INVALID_ARG', 'batch maxFrames and maxBytes must be at least 1', {
        details: { maxFrames: options.maxFrames, maxBytes: options.maxBytes },
      });
    }
    this.#codec = codec;
    this.#sink = sink;
    // A flat frame is not scanned: it must stay within what the codec skips the scan for.
    this.#flatRoom = Math.min(FLAT_MAX_BYTES, codec.flatBytes, this.maxBytes);
    this.#slab = Buffer.allocUnsafe(SLAB_BYTES);
  }

  /** Frames waiting for the next flush. */
  get pendingFrames(): number {
    return this.#frames;
  }

  /** Bytes waiting for the next flush. */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  /** Adds a frame to the batch (sending the batch first if the frame would overfill it);
   * returns the frame's encoded size in bytes. */
  add(frame: Frame): number {
    return this.addEncoded(this.#codec.encode(frame));
  }

  /**
   * Adds a frame the caller has already encoded (one frame's bytes, as Codec.encode returns
   * them, checked against the limits the peer decodes with); returns its size in bytes.
   */
  addEncoded(bytes: Uint8Array): number {
    // A frame that fills a batch by itself goes alone, as it is: not copied into the slab
    // (bulk data, a job's output, would otherwise be copied once more per byte). What the
    // codec returns is never written again (msgpackr moves on in its arena), and the codec
    // already checked it against maxMessageBytes, the hard limit.
    if (bytes.length >= this.maxBytes) {
      this.flush();
      this.#sink(
        Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
        1,
      );
      return bytes.length;
    }
    if (this.#frames > 0 && this.#end - this.#start + bytes.length > this.maxBytes) this.flush();
    this.#reserve(bytes.length);
    this.#slab.set(bytes, this.#end);
    this.#end += bytes.length;
    this.#frames++;
    if (this.#frames >= this.maxFrames || this.#end - this.#start >= this.maxBytes) this.flush();
    return bytes.length;
  }

  /**
   * Adds a flat frame (flat.ts), written straight into the batch; returns its size in bytes,
   * or 0, having added nothing, when the frame is not flat: add it with add() or addEncoded().
   */
  addFlat(frame: Frame): number {
    const room = this.#flatRoom;
    if (room === 0) return 0;
    this.#reserve(room);
    const n = writeFlat(frame, this.#slab, this.#end, room, this.#codec.flatNesting);
    if (n === 0) return 0;
    // Written after the pending frames: past maxBytes, those go first, as a batch of their own.
    if (this.#frames > 0 && this.#end - this.#start + n > this.maxBytes) this.flush();
    this.#end += n;
    this.#frames++;
    if (this.#frames >= this.maxFrames || this.#end - this.#start >= this.maxBytes) this.flush();
    return n;
  }

  /** Sends the pending frames as one message, if there are any. */
  flush(): void {
    if (this.#frames === 0) return;
    const message = this.#slab.subarray(this.#start, this.#end);
    const frames = this.#frames;
    // State first, then the sink: a sink that adds frames again starts a fresh batch.
    this.#start = this.#end;
    this.#frames = 0;
    this.#sink(message, frames);
  }

  /** Makes room for `n` more bytes after the pending batch, moving it to a new slab. */
  #reserve(n: number): void {
    if (this.#end + n <= this.#slab.length) return;
    const pending = this.#end - this.#start;
    // The old slab is not reused: messages already handed out may still point into it.
    const next = Buffer.allocUnsafe(Math.max(SLAB_BYTES, pending + n));
    this.#slab.copy(next, 0, this.#start, this.#end);
    this.#slab = next;
    this.#start = 0;
    this.#end = pending;
  }
}

/**
 * `frames` as one message, for when they are all at hand. Throws IKC_ERR_ENCODE when a
 * frame cannot be encoded or the message would break the codec's batch or size limits.
 */
export function encodeBatch(frames: readonly Frame[], codec: Codec = getDefaultCodec()): Buffer {
  const { maxFramesPerBatch, maxMessageBytes } = codec.limits;
  if (frames.length === 0 || frames.length > maxFramesPerBatch) {
    throw new IkcError(
      'IKC_ERR_ENCODE',
      `a batch holds 1 to ${maxFramesPerBatch} frames, not ${frames.length}`,
      {
        details: { frames: frames.length, limit: 'maxFramesPerBatch' },
      },
    );
  }
  const parts = frames.map((frame) => codec.encode(frame));
  let size = 0;
  for (const part of parts) size += part.length;
  if (size > maxMessageBytes) {
    throw new IkcError(
      'IKC_ERR_ENCODE',
      `the batch is ${size} bytes; maxMessageBytes is ${maxMessageBytes}`,
      {
        details: { size, limit: 'maxMessageBytes' },
      },
    );
  }
  return Buffer.concat(parts, size);
}
