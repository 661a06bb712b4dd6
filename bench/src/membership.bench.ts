/**
 * Membership simulation: N = 10, 100, 1,000 members of @ikc/membership on its in-memory
 * network (MemoryNetwork: one process, a simulated clock, 1–2 ms one-way delay), with the
 * default options (memberlist's LAN profile: probe 1 s, gossip 200 ms to 3 members).
 *
 * Each run (one PRNG seed) forms a converged cluster, then measures in order:
 * 1. bytes sent per member per second over a quiet minute (estimated msgpack sizes);
 * 2. a join: simulated time until 99.9% of the members have it (member-up);
 * 3. a crash: time until a first member declares it dead, then until 99.9% have;
 * 4. 10% message loss: false deaths (a member declared dead while it runs), suspicions
 *    raised, and bytes, split by message type and with the suspicions and refutations apart.
 * Figures are simulated time, so they do not depend on the machine; the median over seeds
 * is shown. Next to the spread times: Serf's convergence model for the same N, fanout and
 * interval (see docs/performance.md, "Membership simulation").
 *
 * The cluster is formed by handing every member the full member list (Membership.adopt, as
 * a restored member list would be), not by 1,000 simultaneous joins, whose gossip would
 * take most of the time budget and is not what is measured here.
 */
import { defaultOptions, type Membership, MemoryNetwork, MessageType, UpdateKind } from '@ikc/membership';
import { median, type Row, RUNS, report } from './harness.js';

const SIZES = [10, 100, 1_000] as const;
const KNOW = 0.999;
const o = defaultOptions();
const GOSSIP_S = o.gossipIntervalMs / 1000;
/** Seeds per size: the 1,000-member runs cost about 3 s each. */
const runsFor = (n: number) => (n >= 1_000 ? Math.min(RUNS, 3) : RUNS);
/** Simulated time under 10% loss, and in how many of the runs (N = 1,000 costs ~0.1 s per simulated s). */
const LOSS = {
  10: { ms: 600_000, runs: RUNS },
  100: { ms: 300_000, runs: RUNS },
  1000: { ms: 120_000, runs: RUNS },
} as const;
const QUIET_MS = 60_000;

/**
 * Serf's convergence model (its website's simulator): the fraction that knows after t
 * gossip rounds is x(t) = 1 / (1 + (N + 1)·e^(−(f/2)·t)) with fanout f and no loss, so
 * x reaches `p` after t = ln((N + 1)·p / (1 − p)) / (f / 2) rounds.
 */
function serfRounds(n: number, fanout: number, p: number): number {
  return Math.log(((n + 1) * p) / (1 - p)) / (fanout / 2);
}

interface RunResult {
  joinMs: number;
  detectMs: number;
  deathSpreadMs: number;
  quietBytes: LoadSplit;
  falseDeaths: number | undefined;
  lossBytes: LoadSplit | undefined;
  suspicionsPerS: number | undefined;
}

/** Bytes sent per member per second, and how they split. */
interface LoadSplit {
  total: number;
  probe: number;
  gossip: number;
  pushPull: number;
  /** SUSPECT and ALIVE updates (suspicions, refutations, joins), wherever they travel. */
  rumours: number;
}

const PROBE_TYPES = [MessageType.PING, MessageType.ACK, MessageType.NACK, MessageType.PING_REQ];

function loadSplit(net: MemoryNetwork, members: number, ms: number): LoadSplit {
  const updates = net.stats.updateBytesByKind;
  return {
    total: perMemberPerS(net, members, ms),
    probe: perMemberPerS(net, members, ms, PROBE_TYPES),
    gossip: perMemberPerS(net, members, ms, [MessageType.GOSSIP]),
    pushPull: perMemberPerS(net, members, ms, [MessageType.PUSH_PULL]),
    rumours: ((updates[UpdateKind.SUSPECT] ?? 0) + (updates[UpdateKind.ALIVE] ?? 0)) / members / (ms / 1000),
  };
}

/** Bytes per member per second of the message types, since the last resetStats(). */
function perMemberPerS(net: MemoryNetwork, members: number, ms: number, types?: number[]): number {
  let bytes = 0;
  for (const [type, b] of Object.entries(net.stats.bytesByType)) {
    if (!types || types.includes(Number(type))) bytes += b;
  }
  return bytes / members / (ms / 1000);
}

function runOnce(n: number, seed: number, withLoss: boolean): RunResult {
  const net = new MemoryNetwork({ seed, countBytes: false, delayMs: 1, jitterMs: 1 });
  const members: Membership[] = [];
  for (let i = 0; i < n; i++) members.push(net.add());
  const records = members.flatMap((m) => m.records());
  for (const m of members) {
    m.adopt(records);
    m.start();
  }
  if (!members.every((m) => m.liveCount === n)) throw new Error('the cluster did not form');
  net.runFor(5_000);

  // 1. A quiet minute: probes, acks, anti-entropy.
  net.countBytes = true;
  net.resetStats();
  net.runFor(QUIET_MS);
  const quietBytes = loadSplit(net, n, QUIET_MS);
  net.countBytes = false;

  // 2. A join through one member; the others learn it by gossip.
  const joiner = net.add();
  const need = Math.ceil(KNOW * n);
  let knowJoin = 0;
  const offJoin = members.map((m) =>
    m.on((e) => {
      if (e.type === 'member-up' && e.member.id === joiner.id) knowJoin++;
    }),
  );
  const joinStart = net.clock.now();
  void joiner.join([(members[Math.floor(n / 2)] as Membership).local.address]);
  if (!net.runUntil(() => knowJoin >= need, 60_000)) throw new Error(`join: ${knowJoin} of ${n} after 60 s`);
  const joinMs = net.clock.now() - joinStart;
  for (const off of offJoin) off();
  members.push(joiner);
  net.runFor(10_000);

  // 3. A crash.
  const victim = members[1] as Membership;
  const observers = members.filter((m) => m !== victim);
  const needDead = Math.ceil(KNOW * observers.length);
  let firstDead = 0;
  let knowDead = 0;
  const offDead = observers.map((m) =>
    m.on((e) => {
      if (e.type !== 'dead' || e.member.id !== victim.id) return;
      knowDead++;
      firstDead ||= e.at;
    }),
  );
  net.kill(victim.id);
  const killedAt = net.clock.now();
  if (!net.runUntil(() => knowDead >= needDead, 300_000))
    throw new Error(`death: ${knowDead} of ${n} after 300 s`);
  const deathSpreadMs = net.clock.now() - firstDead;
  const detectMs = firstDead - killedAt;
  for (const off of offDead) off();
  // Let the last few hear of it, so that only new deaths count below.
  net.runFor(30_000);

  // 4. 10% loss.
  let falseDeaths: number | undefined;
  let lossBytes: LoadSplit | undefined;
  let suspicionsPerS: number | undefined;
  if (withLoss) {
    const window = LOSS[n as keyof typeof LOSS].ms;
    let deaths = 0;
    let suspicions = 0;
    const offLoss = observers.map((m) =>
      m.on((e) => {
        if (e.type === 'dead' && e.member.id !== victim.id) deaths++;
        if (e.type === 'suspect' && e.member.id !== victim.id) suspicions++;
      }),
    );
    net.loss = 0.1;
    net.countBytes = true;
    net.resetStats();
    net.runFor(window);
    lossBytes = loadSplit(net, observers.length, window);
    falseDeaths = deaths;
    // Suspicions raised, cluster-wide: each is seen by (about) every member.
    suspicionsPerS = suspicions / observers.length / (window / 1000);
    for (const off of offLoss) off();
  }
  return { joinMs, detectMs, deathSpreadMs, quietBytes, falseDeaths, lossBytes, suspicionsPerS };
}

const started = performance.now();
const summary: string[] = [];
const flat: { n: number; total: number; probe: number; loss: number }[] = [];
for (const n of SIZES) {
  const results: RunResult[] = [];
  const runs = runsFor(n);
  for (let r = 0; r < runs; r++) results.push(runOnce(n, 1 + r * 7_919 + n, r < LOSS[n].runs));
  const med = (f: (x: RunResult) => number | undefined) =>
    median(results.map(f).filter((v): v is number => v !== undefined));
  const serf = serfRounds(n, o.gossipNodes, KNOW);
  const joinS = med((x) => x.joinMs) / 1000;
  const spreadS = med((x) => x.deathSpreadMs) / 1000;
  const serfName = `Serf model: ${KNOW * 100}% after`;
  const target = n === 1_000 ? '≤ 2.5 s' : undefined;
  const lossRuns = results.filter((x) => x.falseDeaths !== undefined);
  const rows: Row[] = [
    { name: serfName, value: serf * GOSSIP_S, unit: 's' },
    { name: 'join known by 99.9%', value: joinS, unit: 's', baseline: serfName, target },
    { name: 'join, in gossip rounds', value: joinS / GOSSIP_S, unit: 'rounds' },
    { name: 'crash: first member declares it dead', value: med((x) => x.detectMs) / 1000, unit: 's' },
    { name: 'crash: dead known by 99.9% after that', value: spreadS, unit: 's', baseline: serfName, target },
    { name: 'crash: spread, in gossip rounds', value: spreadS / GOSSIP_S, unit: 'rounds' },
    { name: 'quiet: bytes sent per member', value: med((x) => x.quietBytes.total), unit: 'B/s' },
    {
      name: '  of which probes (ping, ack, ping-req, nack)',
      value: med((x) => x.quietBytes.probe),
      unit: 'B/s',
    },
    { name: '  of which gossip', value: med((x) => x.quietBytes.gossip), unit: 'B/s' },
    { name: '  of which push-pull', value: med((x) => x.quietBytes.pushPull), unit: 'B/s' },
    {
      name: `10% loss, ${LOSS[n].ms / 1000} s × ${lossRuns.length} run(s): false deaths (total)`,
      value: lossRuns.reduce((s, x) => s + (x.falseDeaths ?? 0), 0),
      unit: 'deaths',
      target: '0',
    },
    { name: '10% loss: suspicions raised, cluster-wide', value: med((x) => x.suspicionsPerS), unit: '/s' },
    { name: '10% loss: bytes sent per member', value: med((x) => x.lossBytes?.total), unit: 'B/s' },
    { name: '  of which probes', value: med((x) => x.lossBytes?.probe), unit: 'B/s' },
    { name: '  of which gossip', value: med((x) => x.lossBytes?.gossip), unit: 'B/s' },
    { name: '  of which push-pull', value: med((x) => x.lossBytes?.pushPull), unit: 'B/s' },
    {
      name: '  suspicions and refutations (SUSPECT, ALIVE updates), wherever carried',
      value: med((x) => x.lossBytes?.rumours),
      unit: 'B/s',
    },
  ];
  report(`Membership simulation, N = ${n} (${runs} seeds; simulated time)`, rows);
  flat.push({
    n,
    total: med((x) => x.quietBytes.total),
    probe: med((x) => x.quietBytes.probe),
    loss: med((x) => x.lossBytes?.total),
  });
  if (n === 1_000) {
    summary.push(
      `- join known by 99.9% at N = 1,000: ${joinS.toFixed(2)} s, ${joinS <= 2.5 ? 'met' : 'NOT met'} (≤ 2.5 s)`,
    );
    summary.push(
      `- crash known by 99.9% at N = 1,000 (after the first declaration): ${spreadS.toFixed(2)} s, ${spreadS <= 2.5 ? 'met' : 'NOT met'} (≤ 2.5 s)`,
    );
  }
}
// SWIM's promise is the failure detector's and the gossip's per-member load: probes are one
// ping and one ack per second whatever N. Anti-entropy exchanges carry all N records; their
// interval grows with N above pushPullScaleThreshold (32), so their per-member cost grows
// up to 32 members and stays flat after: the total is compared from N = 100 on.
const at = (n: number) => flat.find((f) => f.n === n);
const [n10, n100, n1000] = [at(10), at(100), at(1_000)];
if (n10 && n100 && n1000) {
  const probes = n1000.probe / n10.probe;
  const total = n1000.total / n100.total;
  summary.push(
    `- per-member probe load, quiet, N = 1,000 vs N = 10: ${n1000.probe.toFixed(0)} vs ${n10.probe.toFixed(0)} B/s (${probes.toFixed(2)}x), ${probes <= 1.5 ? 'met' : 'NOT met'} (does not grow with N)`,
  );
  summary.push(
    `- per-member total load, quiet, N = 1,000 vs N = 100: ${n1000.total.toFixed(0)} vs ${n100.total.toFixed(0)} B/s (${total.toFixed(2)}x; ${n10.total.toFixed(0)} B/s at N = 10), ${total <= 1.5 ? 'met' : 'NOT met'} (does not grow with N above the push-pull threshold)`,
  );
  const loss = n1000.loss / n100.loss;
  summary.push(
    `- per-member total load, 10% loss, N = 1,000 vs N = 100: ${n1000.loss.toFixed(0)} vs ${n100.loss.toFixed(0)} B/s (${loss.toFixed(2)}x; ${n10.loss.toFixed(0)} B/s at N = 10), ${loss <= 1.5 ? 'met' : 'NOT met'} (does not grow with N above the push-pull threshold)`,
  );
}
console.log(
  `Targets:\n${summary.join('\n')}\n\n(bench took ${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
);
