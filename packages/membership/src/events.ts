import type { MemberInfo, MemberState } from './member.js';

/**
 * What a Membership reports to its listeners, about other members and itself.
 *
 * - `member-up`: a member is known alive for the first time, or again after dead or left.
 * - `suspect`: a member stopped answering probes; it has a while to refute.
 * - `alive`: a suspected member refuted the suspicion (a higher incarnation).
 * - `dead`: a suspicion ran out, or another member declared it dead.
 * - `left`: a member left gracefully.
 * - `meta-change`: a member published a newer meta version.
 * - `name-conflict`: `member` claims a name that `holder`, another live member with an
 *   older claim, keeps (see docs/membership.md, "Name conflicts").
 */
export type MembershipEventType =
  | 'member-up'
  | 'suspect'
  | 'alive'
  | 'dead'
  | 'left'
  | 'meta-change'
  | 'name-conflict';

export interface MembershipEvent {
  type: MembershipEventType;
  /** A snapshot of the member the event is about, after the change. */
  member: MemberInfo;
  /** Its state before the change (same as now for meta-change and name-conflict). */
  previous: MemberState | undefined;
  /** For name-conflict: the member that keeps the name. */
  holder?: MemberInfo;
  /** When this instance saw it (its clock, ms). */
  at: number;
}

export type MembershipListener = (event: MembershipEvent) => void;
