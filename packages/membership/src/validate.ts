import type { MemberRecord } from './member.js';
import { type MembershipMessage, MessageType, type Update, UpdateKind } from './messages.js';

/**
 * Shape checks for what other members send. The mesh authenticates its peers, but a peer
 * of another version, or a buggy one, must not crash this one: anything malformed is
 * ignored, field by field where possible (a bad update does not spoil its message).
 */
const STATES = new Set(['alive', 'suspect', 'dead', 'left']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isStr(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}
function isNat(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

export function isRecord(v: unknown): v is MemberRecord {
  return (
    isObj(v) &&
    isStr(v.id) &&
    typeof v.name === 'string' &&
    typeof v.addr === 'string' &&
    isNat(v.inc) &&
    typeof v.state === 'string' &&
    STATES.has(v.state) &&
    typeof v.started === 'number' &&
    isNat(v.metaVer)
  );
}

export function isUpdate(v: unknown): v is Update {
  if (!isObj(v)) return false;
  switch (v.kind) {
    case UpdateKind.ALIVE:
      return isRecord(v.member);
    case UpdateKind.SUSPECT:
    case UpdateKind.DEAD:
      return isStr(v.id) && isNat(v.inc) && isStr(v.from);
    case UpdateKind.LEFT:
      return isStr(v.id) && isNat(v.inc);
    case UpdateKind.META:
      return isStr(v.id) && isNat(v.metaVer);
    default:
      return false;
  }
}

/** The message's updates that are well formed (none when the field is missing). */
export function updatesOf(v: Record<string, unknown>): Update[] {
  return Array.isArray(v.updates) ? (v.updates.filter(isUpdate) as Update[]) : [];
}

/** True when `v` has the fields its type needs (updates and records are checked apart). */
export function isMessage(v: unknown): v is MembershipMessage {
  if (!isObj(v)) return false;
  switch (v.type) {
    case MessageType.PING:
      return isNat(v.seq) && isStr(v.target);
    case MessageType.ACK:
    case MessageType.NACK:
      return isNat(v.seq);
    case MessageType.PING_REQ:
      return isNat(v.seq) && isStr(v.target) && typeof v.targetAddr === 'string' && isNat(v.timeout);
    case MessageType.GOSSIP:
      return true;
    case MessageType.PUSH_PULL:
      return isNat(v.seq) && Array.isArray(v.members);
    default:
      return false;
  }
}
