import type { Random } from './clock.js';
import { isLive, type MemberInfo, type MemberRecord, type MemberState, olderClaim } from './member.js';
import type { Suspicion } from './suspicion.js';

/** What one Membership knows of one member (itself included). */
export interface Entry {
  /** Our own copy; never handed out: messages and events get snapshots. */
  rec: MemberRecord;
  stateChangedAt: number;
  suspicion: Suspicion | undefined;
  nameConflict: boolean;
  local: boolean;
  /** Learnt from a join reply and not passed on yet (see Membership.aliveNode). */
  unspread: boolean;
  /** When this member's latest probe of it failed (that probe's end); -Infinity if it answered. */
  failedAt: number;
  /** Last-chance probes started in its current suspicion term (see Membership.lastChanceDue). */
  chances: number;
  /** A last-chance probe of it is under way. */
  chanceInFlight: boolean;
}

export function snapshot(e: Entry): MemberRecord {
  const r = e.rec;
  return {
    id: r.id,
    name: r.name,
    addr: r.addr,
    inc: r.inc,
    state: r.state,
    started: r.started,
    metaVer: r.metaVer,
    meta: r.meta,
  };
}

export function info(e: Entry): MemberInfo {
  const r = e.rec;
  return {
    id: r.id,
    name: r.name,
    address: r.addr,
    state: r.state,
    incarnation: r.inc,
    startedAt: r.started,
    meta: r.meta,
    metaVersion: r.metaVer,
    nameConflict: e.nameConflict,
    local: e.local,
    stateChangedAt: e.stateChangedAt,
  };
}

/**
 * The member table: every known member by id, a flat list for random picks, the count of
 * live members (the N the protocol scales with), and who holds each name.
 */
export class MemberTable {
  private readonly byId = new Map<string, Entry>();
  private list: Entry[] = [];
  private readonly liveByName = new Map<string, Set<Entry>>();
  /** Alive or suspect members, this one included. */
  liveCount = 0;

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Entry | undefined {
    return this.byId.get(id);
  }

  entries(): readonly Entry[] {
    return this.list;
  }

  add(e: Entry): void {
    this.byId.set(e.rec.id, e);
    this.list.push(e);
    if (isLive(e.rec.state)) this.onLive(e);
  }

  remove(e: Entry): void {
    if (!this.byId.delete(e.rec.id)) return;
    this.list.splice(this.list.indexOf(e), 1);
    if (isLive(e.rec.state)) this.onNotLive(e);
  }

  /** Changes a member's state, keeping the live count and the name claimants in step. */
  setState(e: Entry, state: MemberState, now: number): void {
    const wasLive = isLive(e.rec.state);
    e.rec.state = state;
    e.stateChangedAt = now;
    const live = isLive(state);
    if (live && !wasLive) this.onLive(e);
    else if (!live && wasLive) this.onNotLive(e);
  }

  /**
   * Up to `k` distinct members passing `accept`, picked at random (memberlist's
   * kRandomNodes: random probes of the list, at most 3 × its length, so it stays cheap
   * when few members qualify).
   */
  pick(k: number, random: Random, accept: (e: Entry) => boolean): Entry[] {
    const out: Entry[] = [];
    const n = this.list.length;
    if (k <= 0 || n === 0) return out;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const e = this.list[Math.floor(random() * n)] as Entry;
      if (accept(e) && !out.includes(e)) out.push(e);
    }
    return out;
  }

  /**
   * Re-decides who holds `name` among its live claimants: the oldest claim keeps it, every
   * other is flagged. Returns the members newly flagged, with the holder.
   */
  resolveName(name: string): { losers: Entry[]; holder: Entry | undefined } {
    const claimants = this.liveByName.get(name);
    if (!claimants || claimants.size === 0) return { losers: [], holder: undefined };
    let holder: Entry | undefined;
    for (const e of claimants) if (!holder || olderClaim(e.rec, holder.rec)) holder = e;
    const losers: Entry[] = [];
    for (const e of claimants) {
      const conflict = e !== holder;
      if (conflict && !e.nameConflict) losers.push(e);
      e.nameConflict = conflict;
    }
    return { losers, holder };
  }

  /** The live member holding `name`, if any. */
  holderOf(name: string): Entry | undefined {
    const claimants = this.liveByName.get(name);
    if (!claimants) return undefined;
    for (const e of claimants) if (!e.nameConflict) return e;
    return undefined;
  }

  private onLive(e: Entry): void {
    this.liveCount++;
    let set = this.liveByName.get(e.rec.name);
    if (!set) this.liveByName.set(e.rec.name, (set = new Set()));
    set.add(e);
  }

  private onNotLive(e: Entry): void {
    this.liveCount--;
    e.nameConflict = false;
    const set = this.liveByName.get(e.rec.name);
    set?.delete(e);
    if (set?.size === 0) this.liveByName.delete(e.rec.name);
  }
}
