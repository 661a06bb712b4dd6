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
/** Members remembered as heard from lately (the candidates for relays). */
const HEARD_MAX = 32;
/** A member counts as heard from lately within this many (unscaled) protocol periods. */
const HEARD_PERIODS = 2;

interface ProbeWait {
  kind: 'probe';
  seq: number;
  target: Entry;
  inc: number;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
  /** Fires at the probe timeout: ping-reqs and the direct retries go out then. */
  indirectTimer: unknown;
  /** The direct retries still to send, spread over the rest of the period. */
  retryTimers: unknown[];
  /** Set for a last-chance probe: the suspicion it was started for. */
  lastChance: Suspicion | undefined;
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
  /** Members with a suspicion timer running (or run out, awaiting its last chance). */
  private readonly suspects = new Set<Entry>();
  /** The members heard from lately (any message), oldest first, with when. */
  private readonly heard = new Map<Entry, number>();
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
      failedAt: Number.NEGATIVE_INFINITY,
      chances: 0,
      chanceInFlight: false,
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
      if (w.kind === 'probe') this.clearProbeTimers(w);
      else this.clock.clearTimer(w.timer);
    }
    this.waits.clear();
    for (const e of this.table.entries()) this.endSuspicion(e);
    this.heard.clear();
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
    const sender = from.id === undefined ? undefined : this.table.get(from.id);
    if (sender && sender !== this.me) this.noteHeard(sender);
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

  /**
   * One protocol period: ping, maybe ping-req, then judge at the end of the period. The
   * target is the next member of the round, unless a suspect is due its last chance.
   */
  private probeTick(): void {
    this.probeTimer = undefined;
    if (this.status !== 'running') return;
    const period = this.awareness.scale(this.options.probeIntervalMs);
    const chance = this.lastChanceDue(this.clock.now(), period);
    const target = chance ?? this.nextProbeTarget();
    if (!target) {
      this.probeTimer = this.clock.setTimer(() => this.probeTick(), this.options.probeIntervalMs);
      return;
    }
    if (chance) {
      chance.chances++;
      chance.chanceInFlight = true;
    }
    const wait = this.probe(target, chance?.suspicion);
    this.probeTimer = this.clock.setTimer(() => {
      this.probeTimer = undefined;
      this.endProbe(wait);
      this.probeTick();
    }, period);
  }

  /**
   * Probes `target`: a ping now; at the probe timeout, ping-reqs to `indirectChecks` relays
   * and `directRetries` more direct pings, spread over the rest of the period (any ack, to
   * any of them, counts). The caller judges it at the end of the period (endProbe).
   */
  private probe(target: Entry, lastChance: Suspicion | undefined): ProbeWait {
    const seq = ++this.seq;
    const wait: ProbeWait = {
      kind: 'probe',
      seq,
      target,
      inc: target.rec.inc,
      acked: false,
      nacks: 0,
      expectedNacks: 0,
      indirectTimer: undefined,
      retryTimers: [],
      lastChance,
    };
    this.waits.set(seq, wait);
    this.sendPing(wait);
    const timeout = Math.round(this.awareness.scale(this.options.probeTimeoutMs));
    const rest = this.awareness.scale(this.options.probeIntervalMs) - timeout;
    wait.indirectTimer = this.clock.setTimer(() => this.probeIndirectly(wait, timeout, rest), timeout);
    return wait;
  }

  /** A ping of the probe's target; a suspect learns of it from the ping, so it can refute at once. */
  private sendPing(wait: ProbeWait): void {
    const target = wait.target;
    const updates = this.piggyback();
    if (target.rec.state === 'suspect') {
      updates.unshift({
        kind: UpdateKind.SUSPECT,
        id: target.rec.id,
        inc: target.rec.inc,
        from: this.me.rec.id,
      });
    }
    this.send(this.peerOf(target), { type: MessageType.PING, seq: wait.seq, target: target.rec.id, updates });
  }

  private probeIndirectly(wait: ProbeWait, timeout: number, rest: number): void {
    wait.indirectTimer = undefined;
    if (wait.acked || this.waits.get(wait.seq) !== wait) return;
    const target = wait.target;
    const relays = this.pickRelays(target);
    wait.expectedNacks = relays.length;
    for (const relay of relays) {
      this.send(this.peerOf(relay), {
        type: MessageType.PING_REQ,
        seq: wait.seq,
        target: target.rec.id,
        targetAddr: target.rec.addr,
        timeout,
        updates: this.piggyback(),
      });
    }
    // Direct retries: a ping or its ack lost on the way is the likeliest cause of a failed
    // direct probe, and the relays' paths are twice as long. Each retry divides the odds
    // that a live member is suspected by about 1 / (ping-and-ack loss), for one message.
    const retries = this.options.directRetries;
    for (let i = 0; i < retries; i++) {
      const at = Math.floor((i * rest) / (retries + 1));
      const timer: unknown = this.clock.setTimer(() => {
        if (!wait.acked && this.waits.get(wait.seq) === wait) this.sendPing(wait);
      }, at);
      wait.retryTimers.push(timer);
    }
  }

  /**
   * Relays for probing `target`: alive members heard from lately, picked at random. A relay
   * that has gone silent too (the far side of a partition, another frozen member) would send
   * no nack, which Lifeguard reads as our own trouble and answers by slowing our probes
   * down, when it says nothing about us. Only when no one was heard from lately (then we may
   * well be the trouble) are the relays picked among all alive members.
   */
  private pickRelays(target: Entry): Entry[] {
    const k = this.options.indirectChecks;
    const since = this.clock.now() - HEARD_PERIODS * this.options.probeIntervalMs;
    const fresh: Entry[] = [];
    for (const [e, at] of this.heard) {
      if (at >= since && e !== target && e.rec.state === 'alive' && this.table.get(e.rec.id) === e) {
        fresh.push(e);
      }
    }
    if (fresh.length > 0) return shuffle(fresh, this.random).slice(0, k);
    return this.table.pick(k, this.random, (e) => e !== this.me && e !== target && e.rec.state === 'alive');
  }

  private noteHeard(e: Entry): void {
    this.heard.delete(e);
    this.heard.set(e, this.clock.now());
    if (this.heard.size > HEARD_MAX) {
      for (const oldest of this.heard.keys()) {
        this.heard.delete(oldest);
        break;
      }
    }
  }

  private clearProbeTimers(wait: ProbeWait): void {
    this.clock.clearTimer(wait.indirectTimer);
    for (const t of wait.retryTimers) this.clock.clearTimer(t);
    wait.retryTimers = [];
  }

  /** Judges a probe at the end of its period. */
  private endProbe(wait: ProbeWait): void {
    this.waits.delete(wait.seq);
    this.clearProbeTimers(wait);
    if (this.status !== 'running') return;
    if (wait.acked) {
      this.awareness.apply(-1);
    } else {
      // Relays that did not even send a nack point at our own trouble, not the target's
      // (Lifeguard); with no relay to ask, any failed probe counts against us.
      this.awareness.apply(wait.expectedNacks > 0 ? wait.expectedNacks - wait.nacks : 1);
    }
    const t = wait.target;
    const now = this.clock.now();
    if (wait.lastChance) t.chanceInFlight = false;
    // Evidence for a last chance: the latest probe failed (an answer since voids it).
    t.failedAt = wait.acked ? Number.NEGATIVE_INFINITY : now;
    const suspicion = t.suspicion;
    if (suspicion && t.rec.state === 'suspect' && t.rec.inc === wait.inc) {
      if (!wait.acked && suspicion.deadline <= now) {
        this.deadNode(t.rec.id, wait.inc, this.me.rec.id, false);
        return;
      }
      if (wait.acked && wait.lastChance === suspicion) {
        // It answered, yet no refutation came with the answer: give it another full term.
        this.startSuspicion(t, t.rec.id);
        return;
      }
    }
    if (!wait.acked) this.suspectNode(t.rec.id, wait.inc, this.me.rec.id, false);
  }

  private onAck(seq: number): void {
    const w = this.waits.get(seq);
    if (!w) return;
    if (w.kind === 'probe') {
      w.acked = true;
      this.clock.clearTimer(w.indirectTimer);
      for (const t of w.retryTimers) this.clock.clearTimer(t);
      w.retryTimers = [];
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
        failedAt: Number.NEGATIVE_INFINITY,
        chances: 0,
        chanceInFlight: false,
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
      this.endSuspicion(e);
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
    // Probing it soon confirms a real failure sooner (or carries the news to a live suspect).
    if (from !== this.me.rec.id) this.probeSoon(e);
    if (!quiet) this.queue.enqueue(id, { kind: UpdateKind.SUSPECT, id, inc, from });
    this.emit('suspect', e, prev);
  }

  /** Moves a member to the next place in the round, if it is still to come in this round. */
  private probeSoon(e: Entry): void {
    const list = this.probeList;
    const i = list.indexOf(e, this.probeIndex);
    if (i <= this.probeIndex) return;
    list[i] = list[this.probeIndex] as Entry;
    list[this.probeIndex] = e;
  }

  private startSuspicion(e: Entry, from: string): void {
    e.suspicion?.cancel();
    const o = this.options;
    const n = this.table.liveCount;
    // No more confirmations can come than there are other members to send them.
    const k = n - 2 < o.suspicionConfirmations ? 0 : o.suspicionConfirmations;
    const min = suspicionTimeoutMs(o, n);
    const suspicion: Suspicion = new Suspicion(
      this.clock,
      from,
      k,
      min,
      o.suspicionMaxTimeoutMult * min,
      () => this.suspicionEnded(e, suspicion),
    );
    e.suspicion = suspicion;
    e.chances = 0;
    e.chanceInFlight = false;
    this.suspects.add(e);
  }

  private endSuspicion(e: Entry): void {
    e.suspicion?.cancel();
    e.suspicion = undefined;
    this.suspects.delete(e);
  }

  /**
   * A suspicion ran out. We may just have missed the refutation: each member misses a given
   * update with a probability near e^-retransmitLimit (e^-8 below 100 members), which adds
   * up over many suspicions. So a member is declared dead only if, besides, a full probe of
   * it failed within the last protocol period (its last chance). Those probes are timed
   * to end as the suspicion does (see lastChanceDue), so a real death costs nothing more.
   */
  private suspicionEnded(e: Entry, suspicion: Suspicion): void {
    if (e.suspicion !== suspicion || this.status !== 'running' || e.rec.state !== 'suspect') return;
    // Within one unscaled period: a member in poor health (long periods) needs fresh evidence too.
    if (e.failedAt >= this.clock.now() - this.options.probeIntervalMs) {
      this.deadNode(e.rec.id, e.rec.inc, this.me.rec.id, false);
    }
    // Otherwise a last-chance probe is under way, or due at the next protocol period.
  }

  /**
   * The suspect to probe in a period that starts `now` and lasts `period`, if one is due its
   * last chance: its suspicion ends within the period, and no failed probe is recent enough
   * to count then; or, once per term, its suspicion's floor ends within the period (the
   * confirmations that bring the suspicion down to its floor may arrive late: a failed
   * probe then is ready for them). These probes take the round's place, so they cost no
   * message, and are at most two per suspicion term.
   */
  private lastChanceDue(now: number, period: number): Entry | undefined {
    let due: Entry | undefined;
    let dueAt = Number.POSITIVE_INFINITY;
    for (const e of this.suspects) {
      const s = e.suspicion;
      if (!s || e.chanceInFlight || e.rec.state !== 'suspect') continue;
      const deadline = s.deadline;
      const ending = deadline <= now + period && e.failedAt < deadline - this.options.probeIntervalMs;
      const atFloor = e.chances === 0 && s.started + s.minMs <= now + period;
      if ((ending || atFloor) && deadline < dueAt) {
        due = e;
        dueAt = deadline;
      }
    }
    return due;
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
    this.endSuspicion(e);
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
