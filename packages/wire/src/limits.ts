/**
 * Every bound the decoder enforces on a peer's bytes, each a named constant with its unit.
 * Together they cap what one message can make this process allocate: the message size is
 * checked before a byte is parsed, and the structural scan (scan.ts) checks the rest before
 * msgpackr builds a single value.
 *
 * The encoder checks its own output against the same limits, so a frame the peer would
 * refuse fails at the sender (IKC_ERR_ENCODE) instead of closing the link at the receiver.
 */
import { IkcError } from './errors.js';

/** Largest message (one frame, or one batch of frames) accepted, in bytes: 4 MiB. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Most frames one message may hold, in frames. */
export const MAX_FRAMES_PER_BATCH = 1024;

/**
 * Deepest nesting of arrays, maps and extension values, in levels. The frame's own array is
 * level 1 and a POST's args array level 2, so user data gets the remaining 62 levels.
 */
export const MAX_DEPTH = 64;

/** Longest string, in UTF-8 bytes: 1 MiB. */
export const MAX_STRING_BYTES = 1024 * 1024;

/** Longest binary value, in bytes: 4 MiB (as large as a message may be). */
export const MAX_BIN_BYTES = 4 * 1024 * 1024;

/** Most entries in one array or map, in entries (a map entry is a key and its value). */
export const MAX_COLLECTION_ENTRIES = 262_144;

/**
 * Most values of any kind (scalars, strings, arrays, maps, each counted once) in one
 * message, in values. One byte of msgpack can become a JS object of ~50 bytes (`0x80` is
 * an empty map), so this, not the byte size, bounds the heap a message can claim.
 */
export const MAX_VALUES_PER_MESSAGE = 1_048_576;

/**
 * The hard ceiling on `maxDepth`: the scanner and msgpackr both recurse once per level, so
 * a link may lower the depth limit but never raise it past what the stack safely holds.
 */
export const HARD_MAX_DEPTH = 512;

export interface Limits {
  /** Largest message accepted or produced, in bytes. */
  readonly maxMessageBytes: number;
  /** Most frames in one message, in frames. */
  readonly maxFramesPerBatch: number;
  /** Deepest nesting, in levels (the frame array is level 1); at most HARD_MAX_DEPTH. */
  readonly maxDepth: number;
  /** Longest string, in UTF-8 bytes. */
  readonly maxStringBytes: number;
  /** Longest binary value, in bytes. */
  readonly maxBinBytes: number;
  /** Most entries in one array or map, in entries. */
  readonly maxCollectionEntries: number;
  /** Most values of any kind in one message, in values. */
  readonly maxValuesPerMessage: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxMessageBytes: MAX_MESSAGE_BYTES,
  maxFramesPerBatch: MAX_FRAMES_PER_BATCH,
  maxDepth: MAX_DEPTH,
  maxStringBytes: MAX_STRING_BYTES,
  maxBinBytes: MAX_BIN_BYTES,
  maxCollectionEntries: MAX_COLLECTION_ENTRIES,
  maxValuesPerMessage: MAX_VALUES_PER_MESSAGE,
});

const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];

/**
 * The defaults overridden by `overrides`, checked. A bad override is the caller's mistake,
 * not the peer's, so it throws IKC_ERR_INVALID_ARG rather than a WireError.
 */
export function resolveLimits(overrides?: Partial<Limits>): Limits {
  if (overrides === undefined || overrides === DEFAULT_LIMITS) return DEFAULT_LIMITS;
  const limits: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!LIMIT_KEYS.includes(key as keyof Limits)) {
      throw new IkcError('IKC_ERR_INVALID_ARG', `unknown wire limit "${key}"`, { details: { key } });
    }
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        `wire limit ${key} must be a positive integer, got ${value}`,
        {
          details: { key, value },
        },
      );
    }
    limits[key] = value;
  }
  if ((limits.maxDepth as number) > HARD_MAX_DEPTH) {
    throw new IkcError('IKC_ERR_INVALID_ARG', `wire limit maxDepth must be at most ${HARD_MAX_DEPTH}`, {
      details: { key: 'maxDepth', value: limits.maxDepth },
    });
  }
  return Object.freeze(limits as unknown as Limits);
}
