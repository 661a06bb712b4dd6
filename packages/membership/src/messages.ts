import type { MemberRecord } from './member.js';

/**
 * Message types of the membership protocol. The mesh carries these objects inside GOSSIP
 * frames, between kernels that may run different versions.
 *
 * WARNING: this table is append-only. Never renumber or reuse a value; add new types at
 * the end, and make receivers ignore types they do not know.
 */
export const MessageType = {
  /** Direct probe: answer with ACK if `target` is you. */
  PING: 1,
  /** Answer to PING (or relayed answer to PING_REQ), by `seq`. */
  ACK: 2,
  /** A relay's "no answer from the target in time" for a PING_REQ. */
  NACK: 3,
  /** Ask the receiver to probe `target` and relay the ACK, or a NACK when it stays silent. */
  PING_REQ: 4,
  /** Updates only, sent every gossip interval to a few random members. */
  GOSSIP: 5,
  /** Full state exchange; the receiver answers with its own (`reply: true`). */
  PUSH_PULL: 6,
} as const;

/**
 * Kinds of updates carried on PING, ACK, PING_REQ and GOSSIP.
 *
 * WARNING: append-only, as MessageType.
 */
export const UpdateKind = {
  /** A member is alive at `member.inc` (carries the whole record, so joins spread). */
  ALIVE: 1,
  /** `from` suspects member `id` at incarnation `inc`. */
  SUSPECT: 2,
  /** `from` declares member `id` dead at incarnation `inc`. */
  DEAD: 3,
  /** Member `id` left at incarnation `inc`. */
  LEFT: 4,
  /** Member `id` has meta `meta` at version `metaVer`. */
  META: 5,
} as const;

export type AliveUpdate = { kind: typeof UpdateKind.ALIVE; member: MemberRecord };
export type SuspectUpdate = { kind: typeof UpdateKind.SUSPECT; id: string; inc: number; from: string };
export type DeadUpdate = { kind: typeof UpdateKind.DEAD; id: string; inc: number; from: string };
export type LeftUpdate = { kind: typeof UpdateKind.LEFT; id: string; inc: number };
export type MetaUpdate = { kind: typeof UpdateKind.META; id: string; metaVer: number; meta: unknown };
export type Update = AliveUpdate | SuspectUpdate | DeadUpdate | LeftUpdate | MetaUpdate;

export interface PingMessage {
  type: typeof MessageType.PING;
  seq: number;
  /** The id the sender means to probe; anyone else at that address ignores the ping. */
  target: string;
  updates: Update[];
}
export interface AckMessage {
  type: typeof MessageType.ACK;
  seq: number;
  updates: Update[];
}
export interface NackMessage {
  type: typeof MessageType.NACK;
  seq: number;
}
export interface PingReqMessage {
  type: typeof MessageType.PING_REQ;
  seq: number;
  target: string;
  targetAddr: string;
  /** The requester's probe timeout (ms); the relay answers NACK after 80% of it. */
  timeout: number;
  updates: Update[];
}
export interface GossipMessage {
  type: typeof MessageType.GOSSIP;
  updates: Update[];
}
export interface PushPullMessage {
  type: typeof MessageType.PUSH_PULL;
  /** Matches a reply to its request. */
  seq: number;
  /** The sender is joining: what its reply teaches it is not news to anyone else. */
  join: boolean;
  reply: boolean;
  members: MemberRecord[];
}

export type MembershipMessage =
  | PingMessage
  | AckMessage
  | NackMessage
  | PingReqMessage
  | GossipMessage
  | PushPullMessage;

/** Where to send a message: a member id when known, and always an address. */
export interface Peer {
  id?: string;
  address: string;
}

/**
 * What the membership needs from the network. `send` must not throw and must not call
 * back into the membership synchronously (deliver later, as any network does); it may
 * drop messages.
 */
export interface MembershipTransport {
  send(to: Peer, message: MembershipMessage): void;
}
