/**
 * @ikc/membership — SWIM-style failure detection and gossip dissemination (with Lifeguard's
 * refinements) as a pure state machine over an abstract transport and clock, plus an
 * in-memory network for simulation. No sockets.
 */

export { Awareness } from './awareness.js';
export { BroadcastQueue, retransmitLimit } from './broadcast.js';
export { type Clock, type Random, seededRandom, shuffle } from './clock.js';
export type { MembershipEvent, MembershipEventType, MembershipListener } from './events.js';
export { isLive, type MemberInfo, type MemberRecord, type MemberState, olderClaim } from './member.js';
export { Membership, type MembershipInit, type SelfInfo } from './membership.js';
export {
  type AckMessage,
  type AliveUpdate,
  type DeadUpdate,
  type GossipMessage,
  type LeftUpdate,
  type MembershipMessage,
  type MembershipTransport,
  MessageType,
  type MetaUpdate,
  type NackMessage,
  type Peer,
  type PingMessage,
  type PingReqMessage,
  type PushPullMessage,
  type SuspectUpdate,
  type Update,
  UpdateKind,
} from './messages.js';
export {
  type AddMemberOptions,
  MemoryNetwork,
  type MemoryNetworkOptions,
  type NetworkStats,
} from './network.js';
export {
  defaultOptions,
  type MembershipOptions,
  pushPullScale,
  resolveOptions,
  suspicionTimeoutMs,
} from './options.js';
export { SimClock } from './scheduler.js';
export { msgpackSize } from './size.js';
export { remainingSuspicionMs, Suspicion } from './suspicion.js';
