import { IkcError } from '@ikc/wire';
import { Awareness } from './awareness.js';
import { BroadcastQueue, retransmitLimit } from './broadcast.js';
import { type Clock, type Random, shuffle } from './clock.js';
import type { MembershipEvent, MembershipEventType, MembershipListener } from './events.js';
import { isLive, type MemberInfo, type MemberRecord, type MemberState } from './member.js';
import {
  type MembershipMessage,
  type MembershipTransport,
  MessageType,
  type Peer,
  type PingReqMessage,
  type PushPullMessage,
  type Update,
  UpdateKind,
} from './messages.js';
import { type MembershipOptions, pushPullScale, resolveOptions, suspicionTimeoutMs } from './options.js';
import { type Entry, info, MemberTable, snapshot } from './state.js';
import { Suspicion } from './suspicion.js';
import { isMessage, isRecord, updatesOf } from './validate.js';

/** Who this member is. `id` must be new at each start (the mesh draws a nanoid). */
export interface SelfInfo {
  id: string;
  name: string;
  address: string;
  meta?: unknown;
  /** When this incarnation started (ms, default: clock.now() at construction). */
  startedAt?: number;
}

export interface MembershipInit {
  self: SelfInfo;
  transport: MembershipTransport;
  clock: Clock;
  /** Uniform in [0, 1); default Math.random. Inject a seeded one for reproducible runs. */
  random?: Random;
  options?: Partial<MembershipOptions>;
}

/** Bytes a message spends outside its updates (type, seq, target...), kept out of the budget. */
const MESSAGE_OVERHEAD_BYTES = 64;
/** A relay answers NACK after this share of the requester's timeout, so it arrives in time. */
const NACK_RATIO = 0.8;

interface ProbeWait {
  kind: 'probe';
  target: Entry;
  inc: number;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
  indirectTimer: unknown;
}

interface RelayWait {
  kind: 'relay';
  requester: Peer;
  seq: number;
  timer: unknown;
}

interface JoinWait {
  pending: Set<number>;
  answered: number;
  resolve: (answered: number) => void;
  timer: unknown;
}

type Status = 'idle' | 'running' | 'leaving' | 'stopped';

/**
 * One member of a SWIM-family group (with Lifeguard's refinements), as a state machine:
 * it acts only when its clock fires a timer or when the network hands it a message, and
 * speaks only through its transport. See docs/membership.md.
 */
export class Membership {
  readonly options: MembershipOptions;
  private readonly clock: Clock;
  private readonly transport: MembershipTransport;
  private readonly random: Random;
  private readonly table = new MemberTable();
  private readonly me: Entry;
  private readonly awareness: Awareness;
  private readonly queue = new BroadcastQueue();
  private readonly listeners = new Set<MembershipListener>();
  private readonly waits = new Map<number, ProbeWait | RelayWait>();
  private readonly joins = new Map<number, JoinWait>();
  private seq = 0;
  private status: Status = 'idle';
  private probeList: Entry[] = [];
  private probeIndex = 0;
  private probeTimer: unknown;
  private gossipTimer: unknown;
  private pushPullTimer: unknown;
  private reconnectTimer: unknown;
  private leaveDone: (() => void) | undefined;
  private leaveTimer: unknown;

  constructor(init: MembershipInit) {
    const { self } = init;
    if (!self || typeof self.id !== 'string' || !self.id || typeof self.name !== 'string') {
      throw new IkcError('IKC_ERR_INVALID_ARG', 'Membership needs self: { id, name, address }');
    }
    if (typeof self.address !== 'string') {
      throw new IkcError('IKC_ERR_INVALID_ARG', 'Membership needs self.address (a string)');
    }
    this.options = resolveOptions(init.options);
    this.clock = init.clock;
    this.transport = init.transport;
    this.random = init.random ?? Math.random;
    this.awareness = new Awareness(this.options.awarenessMax);
    const now = this.clock.now();
    this.me = {
      rec: {
        id: self.id,
        name: self.name,
        addr: self.address,
        inc: 0,
        state: 'alive',
        started: self.startedAt ?? now,
        metaVer: 0,
        meta: self.meta ?? null,
      },
      stateChangedAt: now,
      suspicion: undefined,
      nameConflict: false,
      local: true,
      unspread: false,
      lastChance: false,
    };
    this.table.add(this.me);
  }

  // --- Queries -------------------------------------------------------------------------

  get id(): string {
    return this.me.rec.id;
  }

  /** This member as the others should see it. */
  get local(): MemberInfo {
    return info(this.me);
  }

  /** Every known member, this one included, dead and left ones until they are forgotten. */
  members(): MemberInfo[] {
    return this.table.entries().map(info);
  }

  member(id: string): MemberInfo | undefined {
    const e = this.table.get(id);
    return e ? info(e) : undefined;
  }

  /** The live member that holds `name` (the oldest claim), if any. */
  nameHolder(name: string): MemberInfo | undefined {
    const e = this.table.holderOf(name);
    return e ? info(e) : undefined;
  }

  /** Alive and suspect members, this one included: the N the protocol scales with. */
  get liveCount(): number {
    return this.table.liveCount;
  }

  /** Lifeguard's local health score, 0 (healthy) .. awarenessMax - 1. */
  get health(): number {
    return this.awareness.score;
  }

  /** Updates waiting to be piggybacked or gossiped. */
  get pendingBroadcasts(): number {
    return this.queue.size;
  }

  /** How many times each update is sent at the current size. */
  get retransmitLimit(): number {
    return retransmitLimit(this.options.retransmitMult, this.table.liveCount);
  }

  get running(): boolean {
    return this.status === 'running' || this.status === 'leaving';
  }

  /** Listens to member events; returns the function that stops listening. */
  on(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- Lifecycle -----------------------------------------------------------------------

  /** Starts probing, gossip and anti-entropy, each at a random phase of its interval. */
  start(): void {
    if (this.status === 'stopped') throw new IkcError('IKC_ERR_INVALID_ARG', 'this Membership was stopped');
    if (this.status !== 'idle') return;
    this.status = 'running';
    const o = this.options;
    this.probeTimer = this.clock.setTimer(() => this.probeTick(), this.random() * o.probeIntervalMs);
    this.gossipTimer = this.clock.setTimer(() => this.gossipTick(), this.random() * o.gossipIntervalMs);
    this.pushPullTimer = this.clock.setTimer(() => this.pushPullTick(), this.random() * o.pushPullIntervalMs);
    this.reconnectTimer = this.clock.setTimer(
      () => this.reconnectTick(),
      this.random() * o.reconnectIntervalMs,
    );
  }

  /**
   * Exchanges full state with each seed (addresses, or peers). Starts the member if need
   * be. Resolves to the number of seeds that answered within joinTimeoutMs; calling it
   * again later is harmless (one more state exchange).
   */
  join(seeds: readonly (string | Peer)[]): Promise<number> {
    this.start();
    const peers = seeds
      .map((s) => (typeof s === 'string' ? { address: s } : s))
      .filter((p) => p.address !== this.me.rec.addr && p.id !== this.me.rec.id);
    if (peers.length === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const wait: JoinWait = { pending: new Set(), answered: 0, resolve, timer: undefined };
      for (const peer of peers) {
        const seq = ++this.seq;
        wait.pending.add(seq);
        this.joins.set(seq, wait);
        this.sendPushPull(peer, seq, true);
      }
      wait.timer = this.clock.setTimer(() => this.finishJoin(wait), this.options.joinTimeoutMs);
    });
  }

  /**
   * Leaves gracefully: stops probing, gossips a `left` claim at a new incarnation until
   * every retransmission is out (or leaveTimeoutMs), then stops.
   */
  leave(): Promise<void> {
    if (this.status !== 'running') {
      this.stop();
      return Promise.resolve();
    }
    this.status = 'leaving';
    this.clock.clearTimer(this.probeTimer);
    const prev = this.me.rec.state;
    this.me.rec.inc++;
    this.table.setState(this.me, 'left', this.clock.now());
    this.queue.enqueue(this.me.rec.id, { kind: UpdateKind.LEFT, id: this.me.rec.id, inc: this.me.rec.inc });
    this.emit('left', this.me, prev);
    return new Promise((resolve) => {
      this.leaveDone = resolve;
      this.leaveTimer = this.clock.setTimer(() => this.stop(), this.options.leaveTimeoutMs);
      this.clock.clearTimer(this.gossipTimer);
      this.gossipTick();
    });
  }

  /** Stops at once, without telling anyone (as a crash would look, minus the silence). */
  stop(): void {
    if (this.status === 'stopped') return;
    this.status = 'stopped';
    for (const t of [
      this.probeTimer,
      this.gossipTimer,
      this.pushPullTimer,
      this.reconnectTimer,
      this.leaveTimer,
    ]) {
      this.clock.clearTimer(t);
    }
    for (const w of this.waits.values()) {
      this.clock.clearTimer(w.kind === 'probe' ? w.indirectTimer : w.timer);
    }
    this.waits.clear();
    for (const e of this.table.entries()) e.suspicion?.cancel();
    for (const w of new Set(this.joins.values())) this.finishJoin(w);
    this.queue.clear();
    const done = this.leaveDone;
    this.leaveDone = undefined;
    done?.();
  }

  /**
   * Takes in a full member list, as a join reply is (quietly: nothing is gossiped), e.g. a
   * list the mesh saved at its last run, or the records of a simulated cluster. Members
   * that are in fact gone are then found so by probing.
   */
  adopt(records: readonly MemberRecord[]): void {
    this.merge(records as unknown[], true, this.me.rec.id);
  }

  /** Every known member as it travels in messages (a snapshot, safe to keep or send). */
  records(): MemberRecord[] {
    return this.table.entries().map(snapshot);
  }

  /** Publishes new meta: a higher meta version, gossiped to every member. */
  setMeta(meta: unknown): void {
    const r = this.me.rec;
    r.meta = meta;
    r.metaVer++;
    this.queue.enqueue(`meta:${r.id}`, { kind: UpdateKind.META, id: r.id, metaVer: r.metaVer, meta });
    this.emit('meta-change', this.me, r.state);
  }

  // --- Input from the network ----------------------------------------------------------

  /** Hands this member a message that `from` sent it. Malformed messages are ignored. */
  receive(from: Peer, message: MembershipMessage): void {
    if (!this.running || !isMessage(message)) return;
    const raw = message as unknown as Record<string, unknown>;
    switch (message.type) {
      case MessageType.PING: {
        this.applyUpdates(updatesOf(raw));
        if (message.target !== this.me.rec.id) return;
        this.send(from, { type: MessageType.ACK, seq: message.seq, updates: this.piggyback() });
        return;
      }
      case MessageType.ACK:
        this.applyUpdates(updatesOf(raw));
        this.onAck(message.seq);
        return;
      case MessageType.NACK: {
        const w = this.waits.get(message.seq);
        if (w?.kind === 'probe') w.nacks++;
        return;
      }
      case MessageType.PING_REQ:
        this.applyUpdates(updatesOf(raw));
        this.relayProbe(from, message);
        return;
      case MessageType.GOSSIP:
        this.applyUpdates(updatesOf(raw));
        return;
      case MessageType.PUSH_PULL:
        this.onPushPull(from, message);
        return;
    }
  }

  // --- Probing -------------------------------------------------------------------------

  /** One protocol period: ping, maybe ping-req, then judge at the end of the period. */
  private probeTick(): void {
    this.probeTimer = undefined;
    if (this.status !== 'running') return;
    const o = this.options;
    const target = this.nextProbeTarget();
    if (!target) {
      this.probeTimer = this.clock.setTimer(() => this.probeTick(), o.probeIntervalMs);
      return;
    }
    const seq = ++this.seq;
    const wait: ProbeWait = {
      kind: 'probe',
      target,
      inc: target.rec.inc,
      acked: false,
      nacks: 0,
      expectedNacks: 0,
      indirectTimer: undefined,
    };
    this.waits.set(seq, wait);
    const updates = this.piggyback();
    // A suspect learns of it from the probe itself, so it can refute at once.
    if (target.rec.state === 'suspect') {
      updates.unshift({
        kind: UpdateKind.SUSPECT,
        id: target.rec.id,
        inc: target.rec.inc,
        from: this.me.rec.id,
      });
    }
    this.send(this.peerOf(target), { type: MessageType.PING, seq, target: target.rec.id, updates });
    const timeout = Math.round(this.awareness.scale(o.probeTimeoutMs));
    wait.indirectTimer = this.clock.setTimer(() => this.probeIndirectly(seq, wait, timeout), timeout);
    this.probeTimer = this.clock.setTimer(
      () => this.endProbe(seq, wait),
      this.awareness.scale(o.probeIntervalMs),
    );
  }

  private probeIndirectly(seq: number, wait: ProbeWait, timeout: number): void {
    wait.indirectTimer = undefined;
    if (wait.acked || this.waits.get(seq) !== wait) return;
    const target = wait.target;
    const relays = this.table.pick(
      this.options.indirectChecks,
      this.random,
      (e) => e !== this.me && e !== target && e.rec.state === 'alive',
    );
    wait.expectedNacks = relays.length;
    for (const relay of relays) {
      this.send(this.peerOf(relay), {
        type: MessageType.PING_REQ,
        seq,
        target: target.rec.id,
        targetAddr: target.rec.addr,
        timeout,
        updates: this.piggyback(),
      });
    }
  }

  private endProbe(seq: number, wait: ProbeWait): void {
    this.probeTimer = undefined;
    this.waits.delete(seq);
    this.clock.clearTimer(wait.indirectTimer);
    if (this.status !== 'running') return;
    if (wait.acked) {
      this.awareness.apply(-1);
    } else {
      // Relays that did not even send a nack point at our own trouble, not the target's
      // (Lifeguard); with no relay to ask, any failed probe counts against us.
      this.awareness.apply(wait.expectedNacks > 0 ? wait.expectedNacks - wait.nacks : 1);
    }
    const t = wait.target;
    const lastChance = t.lastChance && t.rec.state === 'suspect' && t.rec.inc === wait.inc;
    t.lastChance = false;
    if (lastChance && wait.acked) {
      // It answered, yet no refutation came with the answer: give it another full term.
      this.startSuspicion(t, t.rec.id);
    } else if (lastChance) {
      this.deadNode(t.rec.id, wait.inc, this.me.rec.id, false);
    } else if (!wait.acked) {
      this.suspectNode(t.rec.id, wait.inc, this.me.rec.id, false);
    }
    this.probeTick();
  }

  private onAck(seq: number): void {
    const w = this.waits.get(seq);
    if (!w) return;
    if (w.kind === 'probe') {
      w.acked = true;
      this.clock.clearTimer(w.indirectTimer);
      return;
    }
    this.waits.delete(seq);
    this.clock.clearTimer(w.timer);
    this.send(w.requester, { type: MessageType.ACK, seq: w.seq, updates: this.piggyback() });
  }

  /** Probes `target` for a requester; relays its ack, or a nack if it stays silent. */
  private relayProbe(from: Peer, req: PingReqMessage): void {
    const seq = ++this.seq;
    const relay: RelayWait = { kind: 'relay', requester: from, seq: req.seq, timer: undefined };
    relay.timer = this.clock.setTimer(() => {
      if (this.waits.get(seq) !== relay) return;
      this.waits.delete(seq);
      this.send(from, { type: MessageType.NACK, seq: req.seq });
    }, req.timeout * NACK_RATIO);
    this.waits.set(seq, relay);
    this.send(
      { id: req.target, address: req.targetAddr },
      { type: MessageType.PING, seq, target: req.target, updates: this.piggyback() },
    );
  }

  /** The next member in a shuffled round-robin of live members (SWIM's probe order). */
  private nextProbeTarget(): Entry | undefined {
    for (let tries = 0; tries <= this.probeList.length; tries++) {
      if (this.probeIndex >= this.probeList.length) {
        this.probeList = shuffle(
          this.table.entries().filter((e) => e !== this.me && isLive(e.rec.state)),
          this.random,
        );
        this.probeIndex = 0;
        if (this.probeList.length === 0) return undefined;
      }
      const e = this.probeList[this.probeIndex++] as Entry;
      if (isLive(e.rec.state) && this.table.get(e.rec.id) === e) return e;
    }
    return undefined;
  }

  /** New members go to a random place in the rest of the round, so they are probed soon. */
  private addToProbeList(e: Entry): void {
    const list = this.probeList;
    const at = this.probeIndex + Math.floor(this.random() * (list.length - this.probeIndex + 1));
    list.push(e);
    list[list.length - 1] = list[at] as Entry;
    list[at] = e;
  }

  // --- Dissemination -------------------------------------------------------------------

  private gossipTick(): void {
    this.gossipTimer = undefined;
    if (!this.running) return;
    this.gossipTimer = this.clock.setTimer(() => this.gossipTick(), this.options.gossipIntervalMs);
    if (this.queue.size > 0) {
      const now = this.clock.now();
      const deadline = this.options.gossipToTheDeadMs;
      const targets = this.table.pick(
        this.options.gossipNodes,
        this.random,
        (e) =>
          e !== this.me &&
          (isLive(e.rec.state) || (e.rec.state === 'dead' && now - e.stateChangedAt < deadline)),
      );
      for (const t of targets) {
        const updates = this.piggyback();
        if (updates.length === 0) break;
        this.send(this.peerOf(t), { type: MessageType.GOSSIP, updates });
      }
    }
    if (this.status === 'leaving' && (!this.queue.has(this.me.rec.id) || this.table.liveCount === 0)) {
      this.stop();
    }
  }

  private piggyback(): Update[] {
    return this.queue.take(this.options.packetBytes - MESSAGE_OVERHEAD_BYTES, this.retransmitLimit);
  }

  private applyUpdates(updates: Update[]): void {
    for (const u of updates) {
      switch (u.kind) {
        case UpdateKind.ALIVE:
          this.aliveNode(u.member, false, true);
          break;
        case UpdateKind.SUSPECT:
          this.suspectNode(u.id, u.inc, u.from, false);
          break;
        case UpdateKind.DEAD:
          this.deadNode(u.id, u.inc, u.from, false);
          break;
        case UpdateKind.LEFT:
          this.leftNode(u.id, u.inc, false);
          break;
        case UpdateKind.META:
          this.metaNode(u.id, u.metaVer, u.meta, false);
          break;
      }
    }
  }

  // --- Anti-entropy --------------------------------------------------------------------

  /**
   * Anti-entropy ticks every pushPullIntervalMs and exchanges state with probability
   * 1 / pushPullScale(N), so the mean interval follows the cluster size as it changes.
   */
  private pushPullTick(): void {
    if (this.status !== 'running') return;
    this.pushPullTimer = this.clock.setTimer(() => this.pushPullTick(), this.options.pushPullIntervalMs);
    if (this.random() * pushPullScale(this.options, this.table.liveCount) >= 1) return;
    const [peer] = this.table.pick(1, this.random, (e) => e !== this.me && e.rec.state === 'alive');
    if (peer) this.sendPushPull(this.peerOf(peer), ++this.seq, false);
  }

  /** Forgets old tombstones; exchanges state with one dead member, in case it is back. */
  private reconnectTick(): void {
    if (this.status !== 'running') return;
    this.reconnectTimer = this.clock.setTimer(() => this.reconnectTick(), this.options.reconnectIntervalMs);
    const now = this.clock.now();
    const o = this.options;
    for (const e of [...this.table.entries()]) {
      const age = now - e.stateChangedAt;
      if (
        (e.rec.state === 'dead' && age > o.reconnectTimeoutMs) ||
        (e.rec.state === 'left' && age > o.tombstoneTimeoutMs)
      ) {
        this.table.remove(e);
      }
    }
    if (this.random() * pushPullScale(this.options, this.table.liveCount) >= 1) return;
    const [peer] = this.table.pick(1, this.random, (e) => e.rec.state === 'dead');
    if (peer) this.sendPushPull(this.peerOf(peer), ++this.seq, false);
  }

  private sendPushPull(to: Peer, seq: number, join: boolean): void {
    const members = this.table.entries().map(snapshot);
    this.send(to, { type: MessageType.PUSH_PULL, seq, join, reply: false, members });
  }

  private onPushPull(from: Peer, msg: PushPullMessage): void {
    const join = msg.reply ? this.joins.get(msg.seq) : undefined;
    // What a joiner learns from its seed is news to nobody else: it gossips none of it.
    this.merge(msg.members, join !== undefined, from.id ?? from.address);
    if (!msg.reply) {
      const members = this.table.entries().map(snapshot);
      this.send(from, { type: MessageType.PUSH_PULL, seq: msg.seq, join: msg.join, reply: true, members });
      return;
    }
    if (join) {
      this.joins.delete(msg.seq);
      join.pending.delete(msg.seq);
      join.answered++;
      if (join.pending.size === 0) this.finishJoin(join);
    }
  }

  /**
   * Merges a peer's full state. Its dead are only suspected here (memberlist's rule): it may
   * have a stale view, as after a partition, and a live member can still refute.
   */
  private merge(records: unknown[], quiet: boolean, from: string): void {
    for (const r of records) {
      if (!isRecord(r)) continue;
      switch (r.state) {
        case 'alive':
          this.aliveNode(r, quiet, false);
          break;
        case 'left':
          this.leftNode(r.id, r.inc, quiet);
          break;
        default:
          this.suspectNode(r.id, r.inc, from, quiet);
      }
      if (r.state !== 'alive') this.metaNode(r.id, r.metaVer, r.meta, quiet);
    }
  }

  private finishJoin(wait: JoinWait): void {
    this.clock.clearTimer(wait.timer);
    for (const seq of wait.pending) this.joins.delete(seq);
    wait.pending.clear();
    wait.resolve(wait.answered);
  }

  // --- State changes (memberlist's state.go) -------------------------------------------

  /** `rumour`: the record came as a gossiped update, not in a full state exchange. */
  private aliveNode(r: MemberRecord, quiet: boolean, rumour: boolean): void {
    if (r.id === this.me.rec.id) return;
    let e = this.table.get(r.id);
    if (!e) {
      e = {
        rec: { ...r, state: 'alive' },
        stateChangedAt: this.clock.now(),
        suspicion: undefined,
        nameConflict: false,
        local: false,
        unspread: quiet,
        lastChance: false,
      };
      this.table.add(e);
      this.addToProbeList(e);
      if (!quiet) this.queue.enqueue(r.id, { kind: UpdateKind.ALIVE, member: snapshot(e) });
      this.emit('member-up', e, undefined);
      this.reResolveName(e.rec.name);
      return;
    }
    const prev = e.rec.state;
    // Only the member raises its incarnation, so a higher one is news, whatever we held;
    // an equal one never is (dead beats suspect beats alive, for one incarnation).
    if (r.inc > e.rec.inc) {
      e.suspicion?.cancel();
      e.suspicion = undefined;
      e.rec.inc = r.inc;
      e.rec.addr = r.addr;
      e.unspread = quiet;
      this.table.setState(e, 'alive', this.clock.now());
      if (prev === 'dead' || prev === 'left') this.addToProbeList(e);
      if (!quiet) this.queue.enqueue(r.id, { kind: UpdateKind.ALIVE, member: snapshot(e) });
      this.emit(prev === 'suspect' ? 'alive' : prev === 'alive' ? undefined : 'member-up', e, prev);
      this.reResolveName(e.rec.name);
    } else if (rumour && e.unspread && r.inc === e.rec.inc && prev === 'alive') {
      // We learnt it quietly (from a join reply), but here is the rumour: we are as good a
      // spreader as anyone who hears it now, and in a burst of joins, we may be needed.
      e.unspread = false;
      this.queue.enqueue(r.id, { kind: UpdateKind.ALIVE, member: snapshot(e) });
    }
    if (r.metaVer > e.rec.metaVer) this.metaNode(r.id, r.metaVer, r.meta, quiet);
  }

  private suspectNode(id: string, inc: number, from: string, quiet: boolean): void {
    const e = this.table.get(id);
    if (!e) return;
    if (e === this.me) {
      this.answerRumour(inc);
      return;
    }
    if (inc < e.rec.inc) return;
    if (e.rec.state === 'suspect' && inc === e.rec.inc) {
      if (e.suspicion?.confirm(from) && !quiet)
        this.queue.enqueue(id, { kind: UpdateKind.SUSPECT, id, inc, from });
      return;
    }
    // Members already dead or gone stay so: only the member itself can bring them back.
    if (e.rec.state !== 'alive') return;
    const prev = e.rec.state;
    e.rec.inc = inc;
    this.table.setState(e, 'suspect', this.clock.now());
    this.startSuspicion(e, from);
    if (!quiet) this.queue.enqueue(id, { kind: UpdateKind.SUSPECT, id, inc, from });
    this.emit('suspect', e, prev);
  }

  private startSuspicion(e: Entry, from: string): void {
    e.suspicion?.cancel();
    const o = this.options;
    const n = this.table.liveCount;
    // No more confirmations can come than there are other members to send them.
    const k = n - 2 < o.suspicionConfirmations ? 0 : o.suspicionConfirmations;
    const min = suspicionTimeoutMs(o, n);
    const inc = e.rec.inc;
    const suspicion: Suspicion = new Suspicion(
      this.clock,
      from,
      k,
      min,
      o.suspicionMaxTimeoutMult * min,
      () => this.suspicionExpired(e, inc, suspicion),
    );
    e.suspicion = suspicion;
  }

  /**
   * A suspicion ran out. We may just have missed the refutation: each member misses a given
   * update with a probability near e^-retransmitLimit (e^-8 below 100 members), which adds
   * up over many suspicions. So probe the member once more, at once, and declare it dead
   * only if that probe fails too (see endProbe): a last chance, which costs a real death one
   * protocol period.
   */
  private suspicionExpired(e: Entry, inc: number, suspicion: Suspicion): void {
    if (e.suspicion !== suspicion) return;
    e.suspicion = undefined;
    if (this.status !== 'running' || e.rec.state !== 'suspect' || e.rec.inc !== inc) return;
    e.lastChance = true;
    this.probeList.splice(this.probeIndex, 0, e);
  }

  private deadNode(id: string, inc: number, from: string, quiet: boolean): void {
    const e = this.table.get(id);
    if (!e) return;
    if (e === this.me) {
      this.answerRumour(inc);
      return;
    }
    if (inc < e.rec.inc || e.rec.state === 'dead' || e.rec.state === 'left') return;
    this.endLife(e, 'dead', inc, quiet ? undefined : { kind: UpdateKind.DEAD, id, inc, from });
  }

  private leftNode(id: string, inc: number, quiet: boolean): void {
    const e = this.table.get(id);
    if (!e) return;
    if (e === this.me) {
      this.answerRumour(inc);
      return;
    }
    if (inc < e.rec.inc || e.rec.state === 'left') return;
    this.endLife(e, 'left', inc, quiet ? undefined : { kind: UpdateKind.LEFT, id, inc });
  }

  private endLife(e: Entry, state: 'dead' | 'left', inc: number, update: Update | undefined): void {
    const prev = e.rec.state;
    e.suspicion?.cancel();
    e.suspicion = undefined;
    e.rec.inc = inc;
    this.table.setState(e, state, this.clock.now());
    if (update) this.queue.enqueue(e.rec.id, update);
    this.emit(state, e, prev);
    this.reResolveName(e.rec.name);
  }

  private metaNode(id: string, metaVer: number, meta: unknown, quiet: boolean): void {
    const e = this.table.get(id);
    if (!e || e === this.me || metaVer <= e.rec.metaVer) return;
    e.rec.meta = meta;
    e.rec.metaVer = metaVer;
    if (!quiet) this.queue.enqueue(`meta:${id}`, { kind: UpdateKind.META, id, metaVer, meta });
    this.emit('meta-change', e, e.rec.state);
  }

  /**
   * Someone says we are suspect, dead or gone. At our incarnation (or above): refute it with
   * a higher one. Below it, the rumour is stale, but it still travels, so someone may not
   * have heard our refutation: announce our current incarnation again, unless we already are.
   */
  private answerRumour(inc: number): void {
    if (this.status !== 'running') return;
    const me = this.me.rec;
    if (inc >= me.inc) {
      me.inc = inc + 1;
      // Having to refute means others could not hear us in time: maybe we are the slow one.
      this.awareness.apply(1);
    } else if (this.queue.has(me.id)) {
      return;
    }
    this.queue.enqueue(me.id, { kind: UpdateKind.ALIVE, member: snapshot(this.me) });
  }

  // --- Names ---------------------------------------------------------------------------

  private reResolveName(name: string): void {
    const { losers, holder } = this.table.resolveName(name);
    if (!holder) return;
    for (const loser of losers) this.emit('name-conflict', loser, loser.rec.state, holder);
  }

  // --- Output --------------------------------------------------------------------------

  private peerOf(e: Entry): Peer {
    return { id: e.rec.id, address: e.rec.addr };
  }

  private send(to: Peer, message: MembershipMessage): void {
    this.transport.send(to, message);
  }

  private emit(
    type: MembershipEventType | undefined,
    e: Entry,
    previous: MemberState | undefined,
    holder?: Entry,
  ): void {
    if (!type || this.listeners.size === 0) return;
    const event: MembershipEvent = { type, member: info(e), previous, at: this.clock.now() };
    if (holder) event.holder = info(holder);
    for (const listener of this.listeners) listener(event);
  }
}
