/**
 * Blobs (protocol version 3 and up): a POST or CALL whose arguments include large binary
 * values sends them out of band. The link sends a BLOBS frame, then the frame with nil at
 * each blob's position, then each blob as a transport message of its own, raw: not copied
 * into an encoded frame on the way out, and not decoded on the way in. A job's output is the
 * common case: each chunk read from the child's pipe reaches the socket as it was read.
 *
 * Like chunks, blobs belong to the link: the channel numbers and keeps the frame with its
 * arguments, and a link that drops before the last blob arrived resends the whole frame
 * (BLOBS, frame and blobs again) on the next link.
 *
 * Nothing here sends or receives: splitBlobs() says what to send, and the receiving link
 * checks the BLOBS frame and the frame after it with checkBlobs() and puts the blobs back
 * with joinBlobs().
 */
import type { BlobsFrame, CallFrame, Frame, PostFrame } from './frames.js';
import { FrameType } from './frames.js';

/** A binary argument of at least this many bytes goes as a blob (bytes): 16 KiB. */
export const BLOB_MIN_BYTES = 16 * 1024;
/** At most this many blobs per frame; further large arguments go inside the frame. */
export const MAX_BLOBS = 16;

/** A frame whose arguments may travel as blobs. */
export type BlobCarrier = PostFrame | CallFrame;

/** What the sending link puts on the wire for a frame with blobs, in this order. */
export interface SplitFrame {
  blobs: BlobsFrame;
  /** The frame, with nil at each blob's position. */
  frame: BlobCarrier;
  /** The blobs, in the order of blobs.args. */
  data: Uint8Array[];
}

/**
 * `frame` with its binary arguments of `min` to `max` bytes taken out, or undefined when it
 * has none (or is not a POST or CALL). Only top-level arguments are looked at: a binary
 * inside an object or array stays in the frame.
 */
export function splitBlobs(
  frame: Frame,
  min = BLOB_MIN_BYTES,
  max = Number.MAX_SAFE_INTEGER,
): SplitFrame | undefined {
  if (frame.type !== FrameType.Post && frame.type !== FrameType.Call) return undefined;
  const args = frame.args;
  let positions: number[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!(arg instanceof Uint8Array) || arg.length < min || arg.length > max) continue;
    positions ??= [];
    positions.push(i);
    if (positions.length === MAX_BLOBS) break;
  }
  if (positions === undefined) return undefined;
  const holes = args.slice();
  const data: Uint8Array[] = [];
  const lengths: number[] = [];
  for (const i of positions) {
    const blob = holes[i] as Uint8Array;
    data.push(blob);
    lengths.push(blob.length);
    holes[i] = null;
  }
  return {
    blobs: { type: FrameType.Blobs, args: positions, lengths },
    frame: { ...frame, args: holes },
    data,
  };
}

/**
 * Why a peer's BLOBS frame, with the frame that followed it, cannot be taken; undefined
 * when it can. `maxBlobBytes` is the largest blob this side accepts.
 */
export function checkBlobs(blobs: BlobsFrame, frame: Frame, maxBlobBytes: number): string | undefined {
  if (frame.type !== FrameType.Post && frame.type !== FrameType.Call) {
    return `BLOBS must be followed by a POST or CALL, not frame type ${frame.type}`;
  }
  const n = blobs.args.length;
  if (n === 0 || n > MAX_BLOBS) return `BLOBS lists ${n} blobs; 1 to ${MAX_BLOBS} are allowed`;
  if (blobs.lengths.length !== n) {
    return `BLOBS lists ${n} positions but ${blobs.lengths.length} lengths`;
  }
  let previous = -1;
  for (let k = 0; k < n; k++) {
    const at = blobs.args[k] as number;
    const length = blobs.lengths[k] as number;
    if (at <= previous) return 'BLOBS positions must be ascending';
    previous = at;
    if (at >= frame.args.length || frame.args[at] !== null) {
      return `BLOBS position ${at} is not a nil argument of the frame that follows`;
    }
    if (length < 1 || length > maxBlobBytes) {
      return `a blob of ${length} bytes; 1 to ${maxBlobBytes} are allowed`;
    }
  }
  return undefined;
}

/** The frame with its blobs back in place (a new args array; `frame` is not changed). */
export function joinBlobs(blobs: BlobsFrame, frame: BlobCarrier, data: readonly Uint8Array[]): BlobCarrier {
  const args = frame.args.slice();
  for (let k = 0; k < blobs.args.length; k++) args[blobs.args[k] as number] = data[k];
  return { ...frame, args };
}
