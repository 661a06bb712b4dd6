import { type MemberInfo, Membership, type MembershipEvent } from '@ikc/membership';
import type { RegistryFrame } from '@ikc/wire';
import type { Link } from './link.js';
import type { Logger } from './log.js';
import type { Mesh } from './mesh.js';

/** What a host kernel gossips about itself: its published sessions (a REGISTRY's content) and load. */
interface KernelMeta {
  /** The registry version: newer replaces older, whichever way it arrived. */
  v: number;
  role: string;
  sessions: readonly unknown[];
  /** Queued events and unsettled async handlers, sampled (for least-loaded `*`). */
  load: number;
}

/** How often a kernel looks whether its load changed enough to gossip it (milliseconds). */
const LOAD_REFRESH_MS = 5_000;
/** A change in load smaller than this (events) is not worth gossiping. */
const LOAD_STEP = 100;

/** "ws://host:port" or "host:port" -> "host:port": the address members are known by. */
export function memberAddress(address: string): string {
  return address.replace(/^wss?:\/\//, '').replace(/\/$/, '');
}

/**
 * A host kernel's membership of the cloud: SWIM gossip (@ikc/membership) carried in GOSSIP
 * frames over the kernels' links, which open lazily. What it learns becomes the mesh's
 * view: kernels up, suspect and down for monitors, and every kernel's published sessions
 * (gossiped in the member's meta) for the registry.
 */
export class Cloud {
  readonly membership: Membership;

  constructor(
    private readonly mesh: Mesh,
    self: { id: string; name: string; address: string },
    private readonly log: Logger,
  ) {
    this.membership = new Membership({
      self: { ...self, address: memberAddress(self.address), meta: mesh.ownMeta() },
      clock: {
        now: () => Date.now(),
        setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
        clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
      },
      transport: { send: (to, message) => this.mesh.sendGossip(to, message) },
      // Suspicion floor of 2 probe periods (memberlist's LAN profile has 4): a kernel silent
      // for a failed probe and the floor (3 s) is declared dead, 3.5-5 s after it froze or was
      // cut off at a handful of members, while a 2 s pause is refuted in time (docs/membership.md,
      // "Last chance"). A leave takes at most a second of a shutdown.
      options: { leaveTimeoutMs: 1_000, suspicionMult: 2 },
    });
    this.membership.on((e) => this.onEvent(e));
  }

  start(): void {
    this.membership.start();
    // Load travels in the meta: refresh it now and then when it has changed markedly.
    let last = 0;
    this.loadTimer = setInterval(() => {
      const meta = this.mesh.ownMeta();
      if (Math.abs(meta.load - last) > Math.max(LOAD_STEP, last / 5)) {
        last = meta.load;
        this.publish(meta);
      }
    }, LOAD_REFRESH_MS);
    this.loadTimer.unref();
  }

  private loadTimer: NodeJS.Timeout | undefined;

  /** Exchanges state with these kernels (addresses); resolves to how many answered. */
  join(addresses: string[]): Promise<number> {
    const seeds = addresses.filter((a) => !a.startsWith('unix:') && !a.startsWith('/')).map(memberAddress);
    return seeds.length ? this.membership.join(seeds) : Promise.resolve(0);
  }

  receive(link: Link, payload: unknown): void {
    const peer = link.peer;
    if (!peer) return;
    this.membership.receive(
      { id: peer.id, address: memberAddress(peer.listen || link.address) },
      payload as never,
    );
  }

  /** Where a live (or suspect) member listens, if it is one. */
  addressOf(id: string): string | undefined {
    const m = this.membership.member(id);
    return m && (m.state === 'alive' || m.state === 'suspect') && !m.local ? m.address : undefined;
  }

  /** A member's state as gossip has it (alive, suspect, dead, left), if known. */
  stateOf(id: string): string | undefined {
    return this.membership.member(id)?.state;
  }

  /** Members as ikc peers shows them (this kernel excluded). */
  members(): MemberInfo[] {
    return this.membership.members().filter((m) => !m.local);
  }

  publish(meta: KernelMeta): void {
    this.membership.setMeta(meta);
  }

  leave(): Promise<void> {
    clearInterval(this.loadTimer);
    return this.membership.leave().catch(() => {});
  }

  stop(): void {
    clearInterval(this.loadTimer);
    this.membership.stop();
  }

  private onEvent(e: MembershipEvent): void {
    const m = e.member;
    if (m.local) return;
    switch (e.type) {
      case 'member-up':
      case 'meta-change':
        // Late news about a member that has since gone must not bring it back.
        if (m.state !== 'alive' && m.state !== 'suspect') return;
        this.mesh.memberUp(
          m.id,
          m.name,
          m.address,
          this.registryOf(m),
          (m.meta as KernelMeta | undefined)?.load ?? 0,
        );
        return;
      case 'suspect':
        this.mesh.memberSuspect(m.id, m.name);
        return;
      case 'alive':
        this.mesh.memberAlive(m.id, m.name);
        return;
      case 'dead':
      case 'left':
        this.mesh.memberGone(m.id, e.type === 'left' ? 'left' : 'dead (stopped answering probes)');
        return;
      case 'name-conflict':
        this.log.warn({ name: m.name, id: m.id, holder: e.holder?.id }, 'two live kernels claim one name');
        this.mesh.nameConflict(m.id, m.name, e.holder?.id);
        return;
    }
  }

  private registryOf(m: MemberInfo): RegistryFrame | undefined {
    const meta = m.meta as KernelMeta | undefined;
    if (!meta || typeof meta.v !== 'number' || !Array.isArray(meta.sessions)) return undefined;
    return {
      type: 65,
      kernelId: m.id,
      kernelName: m.name,
      version: meta.v,
      state: 'up',
      sessions: meta.sessions,
      role: meta.role,
    } as RegistryFrame;
  }
}
