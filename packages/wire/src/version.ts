/**
 * The protocol version range this build speaks. Each side offers its range in HELLO and
 * both pick the highest version in the overlap, so a newer kernel keeps talking to an older
 * one as long as the ranges meet.
 *
 * Bump PROTOCOL_MAX when a frame type is added or a field changes meaning; appending an
 * optional field to a frame needs no bump (old decoders ignore it, new ones default it).
 * Raise PROTOCOL_MIN only when support for an old version is dropped.
 */
import { WireError } from './errors.js';

export const PROTOCOL_MIN = 1;
/**
 * 2 added CHUNK (messages larger than one transport message); 3 added BLOBS (large binary
 * arguments as raw transport messages, not copied into a frame).
 */
export const PROTOCOL_MAX = 3;

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const PROTOCOL_RANGE: VersionRange = Object.freeze({ min: PROTOCOL_MIN, max: PROTOCOL_MAX });

function isRange(range: VersionRange): boolean {
  return (
    Number.isSafeInteger(range.min) &&
    Number.isSafeInteger(range.max) &&
    range.min >= 1 &&
    range.min <= range.max
  );
}

/**
 * The highest version both ranges contain. Both sides run this on the same two ranges, so
 * they agree without another round trip. Throws IKC_ERR_VERSION when the ranges do not
 * overlap or the remote one is empty or not made of positive integers.
 */
export function negotiateVersion(local: VersionRange, remote: VersionRange): number {
  if (!isRange(local) || !isRange(remote)) {
    throw new WireError(
      'IKC_ERR_VERSION',
      `invalid protocol version range: local ${local.min}..${local.max}, peer ${remote.min}..${remote.max}`,
      { details: { local, remote } },
    );
  }
  const version = Math.min(local.max, remote.max);
  if (version < Math.max(local.min, remote.min)) {
    throw new WireError(
      'IKC_ERR_VERSION',
      `no common protocol version: this kernel speaks ${local.min}..${local.max}, the peer ${remote.min}..${remote.max}`,
      { details: { local, remote } },
    );
  }
  return version;
}
