import { IkcError } from '@ikc/wire';
import { type Clock, type Random, seededRandom } from './clock.js';
import { Membership } from './membership.js';
import type { MembershipMessage, Peer, Update } from './messages.js';
import type { MembershipOptions } from './options.js';
import { SimClock } from './scheduler.js';
import { msgpackSize } from './size.js';

export interface MemoryNetworkOptions {
  /** Seeds every random choice (ids, delays, losses, each member's own PRNG). Default 1. */
  seed?: number;
  /** One-way delay of every message, ms. Default 1. */
  delayMs?: number;
  /** Extra delay, uniform in [0, jitterMs), ms. Default 1. */
  jitterMs?: number;
  /** Probability that a message is lost, 0..1. Default 0. */
  loss?: number;
  /** Count bytes (estimated msgpack size) of every message sent. Default true. */
  countBytes?: boolean;
  /** Deliver a JSON round trip of every message, to prove they are plain data. Default false. */
  serialize?: boolean;
  /** Clock reading at the start, ms. Default 1,700,000,000,000. */
  startMs?: number;
  /** Options given to every member added (each add() may override). */
  options?: Partial<MembershipOptions>;
}

export interface AddMemberOptions {
  name?: string;
  id?: string;
  address?: string;
  meta?: unknown;
  startedAt?: number;
  options?: Partial<MembershipOptions>;
}

export interface NetworkStats {
  /** Messages handed to the network. */
  sent: number;
  delivered: number;
  /** Lost to `loss`, partitions, killed or unknown receivers. */
  dropped: number;
  /** Estimated bytes of every message sent (whether delivered or not). */
  bytes: number;
  /** Bytes by MessageType value. */
  bytesByType: Record<number, number>;
  /** Updates sent (piggybacked or gossiped, each copy counted), by UpdateKind value. */
  updatesByKind: Record<number, number>;
  /** Their bytes, by UpdateKind value (part of bytesByType). */
  updateBytesByKind: Record<number, number>;
}

interface Node {
  index: number;
  id: string;
  address: string;
  membership: Membership;
  killed: boolean;
  pausedUntil: number;
  /** What arrived or fell due while paused, run in that order on resume (timers first). */
  heldTimers: Handle[];
  heldMessages: { from: Peer; message: MembershipMessage }[];
  group: number;
  bytesSent: number;
}

interface Handle {
  fn: () => void;
  inner: unknown;
  cancelled: boolean;
}

const ID_ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';

/**
 * Many members in one process, on a simulated network: per-message delay and jitter, random
 * loss, partitions, crashed and frozen members, and a byte count, all driven by one
 * SimClock. Members are created with add() and run with the clock (runFor, runUntil).
 */
export class MemoryNetwork {
  readonly clock: SimClock;
  /** Probability that a message is lost; may be changed at any time. */
  loss: number;
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    bytes: 0,
    bytesByType: {},
    updatesByKind: {},
    updateBytesByKind: {},
  };
  private readonly random: Random;
  private readonly seed: number;
  private readonly delayMs: number;
  private readonly jitterMs: number;
  /** Whether bytes are counted (estimating sizes costs time); may be changed at any time. */
  countBytes: boolean;
  private readonly serialize: boolean;
  private readonly defaults: Partial<MembershipOptions>;
  private readonly nodes: Node[] = [];
  private readonly byId = new Map<string, Node>();
  private readonly byAddress = new Map<string, Node>();

  constructor(options: MemoryNetworkOptions = {}) {
    this.seed = options.seed ?? 1;
    this.random = seededRandom(this.seed);
    this.clock = new SimClock(options.startMs ?? 1_700_000_000_000);
    this.delayMs = options.delayMs ?? 1;
    this.jitterMs = options.jitterMs ?? 1;
    this.loss = options.loss ?? 0;
    this.countBytes = options.countBytes ?? true;
    this.serialize = options.serialize ?? false;
    this.defaults = options.options ?? {};
  }

  /** Creates a member on this network (not started: call start() or join()). */
  add(init: AddMemberOptions = {}): Membership {
    const index = this.nodes.length;
    const id = init.id ?? this.newId();
    const name = init.name ?? `node-${index}`;
    const address = init.address ?? `mem://${index}`;
    if (this.byAddress.has(address)) {
      throw new IkcError('IKC_ERR_INVALID_ARG', `address ${address} is taken on this network`);
    }
    const node = {
      index,
      id,
      address,
      killed: false,
      pausedUntil: 0,
      heldTimers: [],
      heldMessages: [],
      group: 0,
      bytesSent: 0,
    } as unknown as Node;
    node.membership = new Membership({
      self: { id, name, address, meta: init.meta, startedAt: init.startedAt },
      clock: this.clockFor(node),
      transport: { send: (to, message) => this.send(node, to, message) },
      random: seededRandom((this.seed * 1_000_003 + index * 7_919) >>> 0),
      options: { ...this.defaults, ...init.options },
    });
    this.nodes.push(node);
    this.byId.set(id, node);
    this.byAddress.set(address, node);
    return node.membership;
  }

  /** Every member added, in order. */
  members(): Membership[] {
    return this.nodes.map((n) => n.membership);
  }

  /** Members neither killed nor stopped. */
  running(): Membership[] {
    return this.nodes.filter((n) => !n.killed && n.membership.running).map((n) => n.membership);
  }

  isKilled(id: string): boolean {
    return this.node(id).killed;
  }

  /** Crashes a member: it runs no timer and receives nothing from now on. */
  kill(id: string): void {
    this.node(id).killed = true;
  }

  /**
   * Freezes a member for `ms` (a GC pause, a stopped VM): its timers and messages wait and
   * run when it thaws, timers first (as Node's event loop would).
   */
  pause(id: string, ms: number): void {
    const node = this.node(id);
    node.pausedUntil = Math.max(node.pausedUntil, this.clock.now() + ms);
    this.clock.setTimer(() => this.thaw(node), ms);
  }

  /**
   * Splits the network: members in different groups cannot reach each other. Members in no
   * group form one more group together.
   */
  partition(...groups: string[][]): void {
    for (const n of this.nodes) n.group = 0;
    groups.forEach((ids, i) => {
      for (const id of ids) this.node(id).group = i + 1;
    });
  }

  heal(): void {
    for (const n of this.nodes) n.group = 0;
  }

  /** Estimated bytes `id` has sent since the last resetStats(). */
  bytesSentBy(id: string): number {
    return this.node(id).bytesSent;
  }

  resetStats(): void {
    Object.assign(this.stats, {
      sent: 0,
      delivered: 0,
      dropped: 0,
      bytes: 0,
      bytesByType: {},
      updatesByKind: {},
      updateBytesByKind: {},
    });
    for (const n of this.nodes) n.bytesSent = 0;
  }

  runFor(ms: number): void {
    this.clock.runFor(ms);
  }

  /** See SimClock.runUntil. */
  runUntil(done: () => boolean, maxMs: number, checkEveryMs = 0): boolean {
    return this.clock.runUntil(done, maxMs, checkEveryMs);
  }

  private node(id: string): Node {
    const node = this.byId.get(id);
    if (!node) throw new IkcError('IKC_ERR_INVALID_ARG', `no member ${id} on this network`);
    return node;
  }

  private newId(): string {
    let id = '';
    for (let i = 0; i < 21; i++) id += ID_ALPHABET[Math.floor(this.random() * 64)];
    return id;
  }

  /** The member's view of the clock: nothing runs while it is killed or frozen. */
  private clockFor(node: Node): Clock {
    const sim = this.clock;
    return {
      now: () => sim.now(),
      setTimer: (fn, ms) => {
        const handle: Handle = { fn, inner: undefined, cancelled: false };
        handle.inner = sim.setTimer(() => {
          if (handle.cancelled || node.killed) return;
          if (node.pausedUntil > sim.now()) node.heldTimers.push(handle);
          else fn();
        }, ms);
        return handle;
      },
      clearTimer: (h) => {
        if (!h || typeof h !== 'object') return;
        const handle = h as Handle;
        handle.cancelled = true;
        sim.clearTimer(handle.inner);
      },
    };
  }

  private thaw(node: Node): void {
    if (node.pausedUntil > this.clock.now() || node.killed) return;
    const timers = node.heldTimers.splice(0);
    const messages = node.heldMessages.splice(0);
    for (const t of timers) if (!t.cancelled && !node.killed) t.fn();
    for (const m of messages) if (!node.killed) node.membership.receive(m.from, m.message);
  }

  private send(from: Node, to: Peer, message: MembershipMessage): void {
    this.stats.sent++;
    if (this.countBytes) {
      const size = msgpackSize(message);
      this.stats.bytes += size;
      this.stats.bytesByType[message.type] = (this.stats.bytesByType[message.type] ?? 0) + size;
      from.bytesSent += size;
      const updates = (message as { updates?: unknown }).updates;
      if (Array.isArray(updates)) {
        const { updatesByKind, updateBytesByKind } = this.stats;
        for (const u of updates as Update[]) {
          updatesByKind[u.kind] = (updatesByKind[u.kind] ?? 0) + 1;
          updateBytesByKind[u.kind] = (updateBytesByKind[u.kind] ?? 0) + msgpackSize(u);
        }
      }
    }
    const target = this.byAddress.get(to.address);
    if (!target || target.killed || from.killed || target.group !== from.group || this.random() < this.loss) {
      this.stats.dropped++;
      return;
    }
    const payload = this.serialize ? (JSON.parse(JSON.stringify(message)) as MembershipMessage) : message;
    const sender: Peer = { id: from.id, address: from.address };
    this.clock.setTimer(
      () => this.deliver(sender, target, payload),
      this.delayMs + this.random() * this.jitterMs,
    );
  }

  private deliver(from: Peer, target: Node, message: MembershipMessage): void {
    if (target.killed) {
      this.stats.dropped++;
      return;
    }
    this.stats.delivered++;
    if (target.pausedUntil > this.clock.now()) target.heldMessages.push({ from, message });
    else target.membership.receive(from, message);
  }
}
