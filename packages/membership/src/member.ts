/**
 * The member record: what every member knows, and gossips, about every other.
 *
 * Two independent version orders live in one record:
 * - `incarnation` orders liveness claims. Only the member itself raises it (to refute a
 *   suspicion or to leave). For one incarnation, dead beats suspect beats alive, and left
 *   is final.
 * - `metaVersion` orders `meta`, an opaque value the mesh fills (published sessions, load).
 *   Only the member itself raises it, with setMeta(); a newer version replaces an older one
 *   whatever the incarnation.
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** A member as it is carried in messages. Plain data: strings, numbers, the meta value. */
export interface MemberRecord {
  /** Unique per incarnation of a kernel (a nanoid drawn at each start). */
  id: string;
  /** Human-chosen; unique in a cloud by the rule in docs/membership.md ("Name conflicts"). */
  name: string;
  /** Where the transport reaches the member (e.g. its ws URL). */
  addr: string;
  inc: number;
  state: MemberState;
  /** When the member started, by its own clock (ms); older wins a name conflict. */
  started: number;
  metaVer: number;
  /** Opaque, msgpack-friendly, treated as immutable. */
  meta: unknown;
}

/** A member as this package reports it. */
export interface MemberInfo {
  id: string;
  name: string;
  address: string;
  state: MemberState;
  incarnation: number;
  startedAt: number;
  meta: unknown;
  metaVersion: number;
  /** True when another live member with an older claim holds this member's name. */
  nameConflict: boolean;
  /** True for the member this instance runs as. */
  local: boolean;
  /** When this instance last saw the member's state change (its own clock, ms). */
  stateChangedAt: number;
}

/**
 * The order of name claims: the member that started first keeps the name; equal start
 * times fall back to the lexically smaller id, so every member decides alike.
 */
export function olderClaim(a: { started: number; id: string }, b: { started: number; id: string }): boolean {
  return a.started !== b.started ? a.started < b.started : a.id < b.id;
}

export function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}
