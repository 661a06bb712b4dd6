import {
  type Membership,
  type MembershipEvent,
  type MembershipOptions,
  MemoryNetwork,
  type MemoryNetworkOptions,
} from '../src/index.js';

export interface Cluster {
  net: MemoryNetwork;
  members: Membership[];
  /** Every event every member emitted, with the index of the member that saw it. */
  events: { at: number; observer: number; event: MembershipEvent }[];
}

/**
 * `n` members on a fresh network, all joined through the first one, run until every
 * member knows every other (or `maxMs` of simulated time pass: the caller checks).
 */
export function cluster(
  n: number,
  network: MemoryNetworkOptions = {},
  options: Partial<MembershipOptions> = {},
  maxMs = 60_000,
): Cluster {
  const net = new MemoryNetwork({ countBytes: false, ...network, options });
  const members: Membership[] = [];
  const events: Cluster['events'] = [];
  for (let i = 0; i < n; i++) {
    const m = net.add();
    m.on((event) => events.push({ at: net.clock.now(), observer: i, event }));
    members.push(m);
  }
  const seed = members[0] as Membership;
  seed.start();
  for (const m of members.slice(1)) void m.join([seed.local.address]);
  net.runUntil(() => converged(members), maxMs, 50);
  return { net, members, events };
}

/** Every running member sees exactly the running members, all alive. */
export function converged(members: readonly Membership[]): boolean {
  const live = members.filter((m) => m.running);
  return live.every(
    (m) => m.liveCount === live.length && live.every((o) => m.member(o.id)?.state === 'alive'),
  );
}

/** The events of one type about one member, one per observer that saw it (first seen). */
export function seenBy(c: Cluster, type: MembershipEvent['type'], id: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of c.events) {
    if (e.event.type === type && e.event.member.id === id && !out.has(e.observer)) out.set(e.observer, e.at);
  }
  return out;
}

export function deathsOf(c: Cluster, id?: string): { at: number; observer: number; member: string }[] {
  return c.events
    .filter((e) => e.event.type === 'dead' && (id === undefined || e.event.member.id === id))
    .map((e) => ({ at: e.at, observer: e.observer, member: e.event.member.id }));
}
