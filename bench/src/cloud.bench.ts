/**
 * Failure detection in a real cloud: four host kernel processes on four hosts (Linux
 * network namespaces on one bridge: test/src/harness/netns.ts), with the default mesh and
 * membership options. Measures, each over a warm-up and RUNS repetitions (IKC_BENCH_RUNS,
 * default 5), from the moment the test process acts:
 *
 * 1. kill -9 of a kernel → kernel.down at each other kernel (its links close and its port
 *    refuses connections, so no probe timeout is needed). Target: under 1 s. Every
 *    repetition starts with each kernel linked to each other one (links open lazily; a
 *    kernel with no link to the victim has only the membership's probes to go by).
 * 2. SIGSTOP of a kernel, kept frozen → kernel.down at each other kernel (it holds its
 *    sockets and answers nothing: SWIM probes find it). Target: under 5 s.
 * 3. an nft cut of one host from all the others (packets dropped, not refused) →
 *    kernel.down at each other kernel. Target: under 5 s.
 * 4. false deaths during 2 s pauses: SIGSTOP for 2 s, SIGCONT, then 9 s for any suspicion
 *    raised during the pause to run out; every kernel.down of the paused kernel counts.
 *    Target: 0.
 *
 * Each victim is one of h1..h3 in turn (h0 is every other kernel's seed) and is replaced,
 * after every membership holds it dead, by a new kernel process of the same name. Each
 * measure runs in a fresh lab. The kernels form the cloud from seeds (h1..h3 seeded with
 * h0) with mDNS off: this measures failure detection, not discovery. The times come from
 * the kernels themselves: each runs test/src/fixtures/cloud-watch.ts, which records every
 * kernel.* monitor event with Date.now() (one machine, one clock), read through a leaf
 * kernel attached to each kernel's UNIX socket.
 *
 * Needs root, `ip` and `nft`; without them it prints why and exits 0. It loads the lab
 * harness and the fixtures compiled in test/dist (`npm run bench` builds them). Takes about
 * three minutes.
 */
import type { ChildProcess } from 'node:child_process';
import { attach, type MeshKernel, silentLogger } from '@ikc/mesh';
import { median, type Row, RUNS, report } from './harness.js';

/** The parts of test/dist/harness/netns.js this benchmark uses. */
interface LabKernel {
  id: string;
  name: string;
  socket: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: string | null }>;
}
interface Lab {
  id: string;
  hosts: { address: string }[];
  startKernel(i: number, config: Record<string, unknown>, timeoutMs?: number): Promise<LabKernel>;
  partition(a: number[], b: number[]): Promise<void>;
  heal(): Promise<void>;
  freeze(proc: LabKernel): void;
  thaw(proc: LabKernel): void;
  destroy(): Promise<void>;
}
interface LabHarness {
  Lab: { create(n: number): Promise<Lab> };
  labSkipReason(): string | undefined;
  LAB_PORT: number;
}
interface CloudEvent {
  type: string;
  kernel: string;
  kernelId?: string;
  reason?: string;
  at: number;
}
interface CloudView {
  name: string;
  peers: { name: string; id: string; role: string; state: string; linked: boolean }[];
  members: { name: string; id: string; state: string }[];
}

const TITLE = 'Cloud in network namespaces: failure detection (4 kernels on 4 hosts)';
const HOSTS = 4;
const VICTIMS = [1, 2, 3];
const PAUSE_MS = 2_000;
/** After a pause begins, how long a death caused by it could still come: a failed probe, a 2 s suspicion floor (longer unconfirmed), slack. */
const PAUSE_WATCH_MS = 9_000;
const cloud = { name: 'bench-cloud', secret: 'bench in namespaces' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (n: number) => [...Array(n).keys()];

async function loadHarness(): Promise<LabHarness> {
  // At run time, not through TypeScript: the bench project does not build the test project.
  const url = new URL('../../test/dist/harness/netns.js', import.meta.url);
  try {
    return (await import(url.href)) as LabHarness;
  } catch (err) {
    throw new Error(
      `cannot load the lab harness ${url.pathname} (run npx tsc -b): ${(err as Error).message}`,
    );
  }
}

/** Why this cannot run here, before anything is loaded: Linux and root first, then ip and nft. */
function quickSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux network namespaces (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return `needs root: creates network namespaces (uid is ${process.getuid?.()})`;
  return undefined;
}

async function until<T>(
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  ms: number,
  what: string,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (done(v)) return v;
      last = v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(100);
  }
}

/** A cloud of HOSTS kernels in a fresh lab, with a leaf on each kernel to ask it what it saw. */
class Cloud {
  readonly procs: LabKernel[] = [];
  readonly leaves: (MeshKernel | undefined)[] = [];

  private constructor(
    readonly lab: Lab,
    private readonly port: number,
  ) {}

  static async create(harness: LabHarness): Promise<Cloud> {
    const c = new Cloud(await harness.Lab.create(HOSTS), harness.LAB_PORT);
    try {
      await c.start(0);
      await Promise.all(VICTIMS.map((i) => c.start(i)));
      await c.converged(range(HOSTS), 20_000);
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  async start(i: number): Promise<void> {
    const seeds = i === 0 ? [] : [`${this.lab.hosts[0]?.address}:${this.port}`];
    const proc = await this.lab.startKernel(i, {
      cloud: { ...cloud, mdns: false, seeds },
      sessions: ['./cloud-watch.js'],
    });
    this.procs[i] = proc;
    this.leaves[i] = await attach({
      socket: proc.socket,
      cloud,
      name: `leaf-h${i}-${proc.id.slice(0, 6)}`,
      logger: silentLogger,
      processSignals: false,
    });
  }

  private leaf(i: number): MeshKernel {
    const leaf = this.leaves[i];
    if (!leaf) throw new Error(`no leaf on h${i}`);
    return leaf;
  }

  view(i: number): Promise<CloudView> {
    return this.leaf(i).callWith<CloudView>({ timeoutMs: 3_000 }, `poe://h${i}/cwatch`, 'view');
  }

  events(i: number, since: number): Promise<CloudEvent[]> {
    return this.leaf(i).callWith<CloudEvent[]>({ timeoutMs: 3_000 }, `poe://h${i}/cwatch`, 'events', since);
  }

  /**
   * Until each kernel of `hosts` has the others alive in peers() and membership, nothing
   * suspect, and a link up to each (links open lazily, with the first gossip between two
   * kernels: a kernel just started may know another by gossip only for a few seconds).
   */
  async converged(hosts: number[], ms: number): Promise<void> {
    const want = (i: number) =>
      hosts
        .filter((j) => j !== i)
        .map((j) => this.procs[j]?.id)
        .sort()
        .join();
    await until(
      () => Promise.all(hosts.map((i) => this.view(i))),
      (vs) =>
        vs.every((v, k) => {
          const i = hosts[k] as number;
          const peers = v.peers
            .filter((p) => p.role === 'host' && p.state === 'up' && p.linked)
            .map((p) => p.id);
          const alive = v.members.filter((m) => m.state === 'alive').map((m) => m.id);
          return (
            peers.sort().join() === want(i) &&
            alive.sort().join() === want(i) &&
            !v.members.some((m) => m.state === 'suspect')
          );
        }),
      ms,
      `h${hosts.join(', h')} to see each other, linked, nothing suspect`,
    );
  }

  /** Ms after `since` at which each observer saw kernel.down for `id` (waits for all). */
  async downs(observers: number[], id: string, since: number, ms: number): Promise<CloudEvent[]> {
    return until(
      () =>
        Promise.all(
          observers.map(async (i) =>
            (await this.events(i, since)).find((e) => e.type === 'kernel.down' && e.kernelId === id),
          ),
        ),
      (found) => found.every((e) => e !== undefined),
      ms,
      `kernel.down of ${id} at h${observers.join(', h')}`,
    ) as Promise<CloudEvent[]>;
  }

  /**
   * After victim v is gone (killed): forgets its leaf, waits until every other membership
   * holds it dead (ms after `since`, returned), and starts a new kernel in its place.
   */
  async replace(v: number, since: number): Promise<number> {
    const old = this.procs[v] as LabKernel;
    await old.exited;
    await this.leaves[v]?.stop().catch(() => {});
    this.leaves[v] = undefined;
    const others = range(HOSTS).filter((i) => i !== v);
    await until(
      () => Promise.all(others.map((i) => this.view(i))),
      (vs) => vs.every((view) => view.members.find((m) => m.id === old.id)?.state === 'dead'),
      40_000,
      `every membership to hold h${v} (${old.id}) dead`,
    );
    const deadMs = Date.now() - since;
    await this.start(v);
    await this.converged(range(HOSTS), 20_000);
    return deadMs;
  }

  async destroy(): Promise<void> {
    for (const leaf of this.leaves) await leaf?.stop().catch(() => {});
    await this.lab.destroy();
  }
}

interface Detection {
  /** Ms from the act to kernel.down, at each other kernel. */
  each: number[];
  /** Ms until the last of them. */
  all: number;
  reasons: string[];
  /** Ms until every membership held it dead (kill only). */
  dead?: number;
}

type Act = 'kill' | 'freeze' | 'cut';

/** One repetition: acts on victim v, measures the kernel.down at the others, replaces it. */
async function detectOnce(c: Cloud, act: Act, v: number): Promise<Detection> {
  const victim = c.procs[v] as LabKernel;
  const others = range(HOSTS).filter((i) => i !== v);
  const t0 = Date.now();
  if (act === 'kill') victim.child.kill('SIGKILL');
  else if (act === 'freeze') c.lab.freeze(victim);
  else await c.lab.partition([v], others);
  const downs = await c.downs(others, victim.id, t0, 60_000);
  const each = downs.map((e) => e.at - t0);
  // The measure is taken: put the victim away (a frozen or cut-off kernel is killed).
  if (act !== 'kill') victim.child.kill('SIGKILL');
  if (act === 'cut') await c.lab.heal();
  const dead = await c.replace(v, t0);
  return {
    each,
    all: Math.max(...each),
    reasons: [...new Set(downs.map((e) => e.reason ?? '?'))],
    ...(act === 'kill' ? { dead } : {}),
  };
}

interface PauseResult {
  deaths: number;
  suspicions: number;
  /** Ms from SIGCONT until every kernel had it alive again, nothing suspect. */
  backMs: number;
}

/** One 2 s pause of victim v: kernel.down and kernel.suspect events about it at the others. */
async function pauseOnce(c: Cloud, v: number): Promise<PauseResult> {
  const victim = c.procs[v] as LabKernel;
  const others = range(HOSTS).filter((i) => i !== v);
  const t0 = Date.now();
  c.lab.freeze(victim);
  await sleep(PAUSE_MS);
  c.lab.thaw(victim);
  const thawed = Date.now();
  let backMs = Number.NaN;
  try {
    await c.converged(range(HOSTS), PAUSE_WATCH_MS);
    backMs = Date.now() - thawed;
  } catch {
    // Counted below: a death shows as kernel.down.
  }
  await sleep(Math.max(0, t0 + PAUSE_WATCH_MS - Date.now()));
  const seen = (await Promise.all(others.map((i) => c.events(i, t0))))
    .flat()
    .filter((e) => e.kernelId === victim.id);
  const deaths = seen.filter((e) => e.type === 'kernel.down').length;
  if (deaths > 0) {
    // Let it come back (it refutes and rejoins), or replace it, before the next pause.
    await c.converged(range(HOSTS), 40_000).catch(async () => {
      victim.child.kill('SIGKILL');
      await c.replace(v, t0);
    });
  }
  return { deaths, suspicions: seen.filter((e) => e.type === 'kernel.suspect').length, backMs };
}

/** Runs `body` in a fresh cloud; a failure is returned as its message. */
async function inCloud<T>(harness: LabHarness, body: (c: Cloud) => Promise<T>): Promise<T | string> {
  let c: Cloud | undefined;
  try {
    c = await Cloud.create(harness);
    return await body(c);
  } catch (err) {
    return `FAILED: ${(err as Error).message}`;
  } finally {
    await c?.destroy();
  }
}

const started = performance.now();
const early = quickSkipReason();
const harness = early ? undefined : await loadHarness();
const skipReason = early ?? harness?.labSkipReason();
if (skipReason || !harness) {
  console.log(`### ${TITLE}\n\nskipped: ${skipReason}\n`);
  process.exit(0);
}

const rows: Row[] = [];
const lines: string[] = [];
const failed: string[] = [];
let turn = 0;
const nextVictim = () => VICTIMS[turn++ % VICTIMS.length] as number;

const DETECT: { act: Act; label: string; unit: 'ms' | 's'; target: string; limit: number }[] = [
  { act: 'kill', label: 'kill -9', unit: 'ms', target: '< 1,000 ms', limit: 1_000 },
  { act: 'freeze', label: 'SIGSTOP (kept frozen)', unit: 's', target: '< 5 s', limit: 5_000 },
  { act: 'cut', label: 'nft cut from all others', unit: 's', target: '< 5 s', limit: 5_000 },
];
for (const d of DETECT) {
  const result = await inCloud(harness, async (c) => {
    await detectOnce(c, d.act, nextVictim()); // warm-up
    const runs: Detection[] = [];
    for (let r = 0; r < RUNS; r++) runs.push(await detectOnce(c, d.act, nextVictim()));
    return runs;
  });
  if (typeof result === 'string') {
    failed.push(`${d.label}: ${result}`);
    lines.push(`- ${d.label}: ${result}`);
    continue;
  }
  const scale = d.unit === 's' ? 1 / 1000 : 1;
  const each = median(result.flatMap((r) => r.each));
  const all = median(result.map((r) => r.all));
  rows.push({
    name: `${d.label} → kernel.down, at each other kernel`,
    value: each * scale,
    unit: d.unit,
    target: `${d.target} (${each < d.limit ? 'met' : 'NOT met'})`,
  });
  rows.push({ name: `${d.label} → kernel.down, at all three`, value: all * scale, unit: d.unit });
  if (d.act === 'kill') {
    rows.push({
      name: 'kill -9 → every membership holds it dead (probes)',
      value: median(result.map((r) => r.dead ?? Number.NaN)) / 1000,
      unit: 's',
    });
  }
  lines.push(
    `- ${d.label}: per run, ms at each other kernel: ${result.map((r) => `[${r.each.join(', ')}]`).join(' ')}` +
      (d.act === 'kill' ? `; membership dead after ${result.map((r) => r.dead).join(', ')} ms` : '') +
      `; reasons: ${[...new Set(result.flatMap((r) => r.reasons))].join(' | ')}`,
  );
}

const pauses = await inCloud(harness, async (c) => {
  const out: PauseResult[] = [];
  for (let r = 0; r < RUNS + 1; r++) out.push(await pauseOnce(c, nextVictim()));
  return out;
});
if (typeof pauses === 'string') {
  failed.push(`pauses: ${pauses}`);
  lines.push(`- ${PAUSE_MS / 1000} s pauses: ${pauses}`);
} else {
  const deaths = pauses.reduce((n, p) => n + p.deaths, 0);
  rows.push({
    name: `false deaths in ${pauses.length} pauses of ${PAUSE_MS / 1000} s (SIGSTOP, SIGCONT)`,
    value: deaths,
    unit: 'deaths',
    target: `0 (${deaths === 0 ? 'met' : 'NOT met'})`,
  });
  rows.push({
    name: `${PAUSE_MS / 1000} s pause: SIGCONT → alive everywhere, nothing suspect`,
    value: median(pauses.map((p) => p.backMs)),
    unit: 'ms',
  });
  lines.push(
    `- ${PAUSE_MS / 1000} s pauses (warm-up included): kernel.down per pause ${pauses.map((p) => p.deaths).join(', ')}; ` +
      `kernel.suspect per pause (over the 3 others) ${pauses.map((p) => p.suspicions).join(', ')}; ` +
      `ms from SIGCONT to alive everywhere ${pauses.map((p) => p.backMs).join(', ')}`,
  );
}

report(TITLE, rows);
console.log(`${lines.join('\n')}\n\n(bench took ${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
process.exit(failed.length ? 1 : 0);
