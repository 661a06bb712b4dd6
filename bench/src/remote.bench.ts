/**
 * Remote messaging between two processes on loopback: ikc (two mesh kernels), against raw
 * `ws` + msgpackr and Moleculer 0.15 (TCP transporter), all measured in the same run.
 *
 * This process is the sender. Each system's receiver runs in its own child process
 * (remote/receiver.js) and reports its address on stdout; see remote/common.ts for the sink
 * every receiver runs. Measures:
 *
 * - post throughput, one way: N events `hit(i)` sent in bursts of BURST per event-loop turn
 *   (setImmediate between bursts; no system gets flow control from the others), timed from
 *   the first post until a call `until(N)` returns (the sink answers it once N have arrived).
 * - pipelined calls: `echo(i)` with WINDOW calls in flight, each reply starting the next.
 * - latency: one `echo(i)` at a time, the contenders in turn by blocks of LATENCY_BLOCK
 *   calls; p50 and p99 of each contender's per-call times in each run. Each run has its own
 *   receivers and clients, and the contenders' order rotates from run to run. Every tenth
 *   call is also sorted by where its two processes ran (one CPU or two), and each placement's
 *   p50 is compared with raw ws's at the same placement: unpinned, the scheduler decides the
 *   placement, and it moves a round trip by 2-3x (docs/performance.md, Latency).
 * - large arguments: `big(Buffer of 1 MiB / 64 MiB)` one call at a time, each run in a fresh
 *   receiver and a fresh sender process (remote/big-sender.js), so that the peak RSS
 *   (getrusage maxrss) of each is the measure's own. ikc carries a message over 1 MiB in
 *   1 MiB CHUNK frames (docs/protocol.md, Chunked messages); raw ws sends one ws message.
 *
 * The contenders of a measure run interleaved (one run of each in turn, each after a full
 * GC on both sides; for latency, a block of calls of each in turn), so a noisy neighbour
 * hits all of them alike. Counts are sized from the warm-up run so each measured run takes
 * about RUN_SECONDS. Every figure is the median of RUNS runs (IKC_BENCH_RUNS, default 5;
 * BIG_RUNS for large arguments). A measure that fails or hangs is reported as FAILED, the
 * others go on, and the process exits with 1. docs/performance.md explains the figures.
 *
 * Environment: IKC_BENCH_REMOTE=post,calls,latency,big picks parts; IKC_BENCH_REMOTE_SECONDS
 * sets RUN_SECONDS; IKC_BENCH_CHILD_FLAGS passes node flags to the child processes (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`); IKC_BENCH_PIN=one|split pins the processes to
 * CPUs (remote/child.ts); IKC_BENCH_RAW_SPIN_US adds busy work to raw ws's echo (an
 * experiment on placement, remote/receiver.ts).
 */
import { readFileSync } from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { fmt, median, type Row, RUNS, report } from './harness.js';
import { type Child, pinning, pinSelf, spawnChild } from './remote/child.js';
import { type Client, ikcSender, moleculerClient, RAW_BATCH, wsClient } from './remote/clients.js';
import { gc, type Mem, MIB, type System } from './remote/common.js';

const PARTS = new Set((process.env.IKC_BENCH_REMOTE ?? 'post,calls,latency,big').split(','));
/** Target length of one measured run, in seconds. */
const RUN_SECONDS = Number(process.env.IKC_BENCH_REMOTE_SECONDS ?? 0.8);
/** Posts sent per turn of the event loop. */
const BURST = 1000;
/** Calls per contender in each latency run (all contenders in turn, one call at a time). */
const LATENCY_CALLS = 4000;
/** Calls to one contender before the latency run moves on to the next. */
const LATENCY_BLOCK = 200;
/** Calls in flight in the pipelined measure. */
const WINDOW = 256;
/** A run that takes longer than this has hung. */
const RUN_TIMEOUT_MS = 60_000;
/** Runs of each large-argument measure (each one spawns two processes). */
const BIG_RUNS = Math.min(RUNS, 3);

const POST_TARGET = 500_000;
const POST_RATIO_TARGET = 0.6;
const CALL_TARGET = 150_000;
const CALL_RATIO_TARGET = 3.5;
const LATENCY_RATIO_TARGET = 1.15;

interface RunResult {
  /** Operations per second. */
  rate: number;
  /** Latency percentiles, in microseconds (latency measure only). */
  p50?: number;
  p99?: number;
  /** Share of sampled calls whose sender and receiver were last on the same CPU (latency only). */
  sameCpu?: number;
  /** The sampled calls' times, in microseconds, by where the two processes ran (latency only). */
  byPlacement?: Record<Placement, number[]>;
}

/** Where a call's sender and receiver ran: on one CPU, or each on its own. */
type Placement = 'shared' | 'apart';
const PLACEMENTS: Placement[] = ['shared', 'apart'];

interface Contender {
  name: string;
  receiver: Child<unknown>;
  run(n: number): Promise<RunResult>;
}

interface Outcome {
  name: string;
  n: number;
  runs: RunResult[];
  error?: string;
}

function elapsedNs(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Warm-up run of each contender with `n0` operations, then RUNS rounds of one run each, in
 * turn, with n sized from the warm-up so a run takes about RUN_SECONDS (within [min, max]).
 * A contender that fails or hangs is reported as failed; the others go on.
 */
async function interleaved(
  contenders: Contender[],
  sizing: { n0: number; min: number; max: number; step: number },
): Promise<Outcome[]> {
  const outcomes: Outcome[] = contenders.map((c) => ({ name: c.name, n: sizing.n0, runs: [] }));
  const once = async (i: number, n: number): Promise<RunResult | undefined> => {
    const c = contenders[i] as Contender;
    const o = outcomes[i] as Outcome;
    if (o.error !== undefined) return undefined;
    try {
      gc();
      await c.receiver.request('gc');
      return await withTimeout(c.run(n), `${c.name} (n = ${n})`);
    } catch (err) {
      o.error = (err as Error).message;
      return undefined;
    }
  };
  for (let i = 0; i < contenders.length; i++) {
    const warm = await once(i, sizing.n0);
    if (!warm) continue;
    const n = Math.round((warm.rate * RUN_SECONDS) / sizing.step) * sizing.step;
    (outcomes[i] as Outcome).n = Math.min(sizing.max, Math.max(sizing.min, n));
  }
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const o = outcomes[i] as Outcome;
      const result = await once(i, o.n);
      if (result) o.runs.push(result);
    }
  }
  return outcomes;
}

function pick(outcomes: Outcome[], name: string): Outcome {
  return outcomes.find((o) => o.name === name) as Outcome;
}

function medianOfRuns(o: Outcome, key: keyof RunResult): number {
  if (o.error !== undefined) return Number.NaN;
  return median(o.runs.map((r) => r[key] as number));
}

/** Measures that failed (any makes the process exit with 1). */
const failed = new Set<string>();

/** The per-run figures and the failures, printed under each table (for docs/performance.md). */
function details(outcomes: Outcome[], keys: (keyof RunResult)[], unit: string): void {
  const lines = outcomes.map((o) => {
    if (o.error !== undefined) {
      failed.add(o.name);
      return `- ${o.name}: FAILED: ${o.error}`;
    }
    const runs = keys.map((k) => o.runs.map((r) => fmt(r[k] as number)).join(', '));
    return `- ${o.name}: n = ${fmt(o.n)} per run; runs ${runs.join(' / ')} ${unit}`;
  });
  console.log(`${lines.join('\n')}\n`);
}

function verdict(what: string, ok: boolean): void {
  console.log(`- target ${what}: ${ok ? 'met' : 'NOT met'}`);
}

// ---- the shapes ------------------------------------------------------------------------------

async function postRun(client: Client, n: number): Promise<RunResult> {
  await client.reset();
  const start = process.hrtime.bigint();
  for (let from = 0; from < n; from += BURST) {
    client.post(from, Math.min(BURST, n - from));
    if (from + BURST >= n) break;
    await turn();
    if (client.ready) await client.ready();
  }
  const got = await client.until(n);
  const ns = elapsedNs(start);
  if (got !== n) throw new Error(`the receiver counted ${got} events, not ${n}`);
  return { rate: (n * 1e9) / ns };
}

function pipelinedRun(client: Client, n: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const start = process.hrtime.bigint();
    const launch = (): void => {
      const x = next++;
      client.echo(x).then((v) => {
        if (v !== x) return reject(new Error(`echo(${x}) returned ${String(v)}`));
        if (++done === n) return resolve({ rate: (n * 1e9) / elapsedNs(start) });
        if (next < n) launch();
      }, reject);
    };
    for (let i = 0; i < WINDOW && i < n; i++) launch();
  });
}

/**
 * One latency run of every contender at once: blocks of LATENCY_BLOCK calls to each
 * contender in turn, `n` calls each (one call in flight in all), so a burst of noise from
 * the machine's other tenants lands on every system alike. Blocks rather than single calls:
 * work a system leaves for after its reply (an ACK timer, a collection) then lands on its
 * own next call, not on the next system's. Returns p50 and p99 of each contender.
 */
async function latencyRound(clients: Client[], n: number, receivers: number[]): Promise<RunResult[]> {
  const times = clients.map(() => new Float64Array(n));
  const placed = clients.map((): Record<Placement, number[]> => ({ shared: [], apart: [] }));
  const start = process.hrtime.bigint();
  for (let from = 0; from < n; from += LATENCY_BLOCK) {
    const to = Math.min(n, from + LATENCY_BLOCK);
    for (let c = 0; c < clients.length; c++) {
      const client = clients[c] as Client;
      const t = times[c] as Float64Array;
      const sampled = placed[c] as Record<Placement, number[]>;
      for (let i = from; i < to; i++) {
        const t0 = process.hrtime.bigint();
        const v = await client.echo(i);
        t[i] = Number(process.hrtime.bigint() - t0) / 1000;
        if (v !== i) throw new Error(`echo(${i}) returned ${String(v)}`);
        // Outside the timed part: did this call's two processes end on the same CPU?
        if (i % 10 === 5) {
          const here = cpuOf(process.pid);
          const there = cpuOf(receivers[c] as number);
          if (here >= 0 && there >= 0) sampled[here === there ? 'shared' : 'apart'].push(t[i] as number);
        }
      }
    }
  }
  const rate = (n * clients.length * 1e9) / elapsedNs(start);
  return times.map((t, c) => {
    t.sort();
    const at = (q: number) => t[Math.min(n - 1, Math.floor(q * n))] as number;
    const byPlacement = placed[c] as Record<Placement, number[]>;
    const { shared, apart } = byPlacement;
    const sameCpu =
      shared.length + apart.length > 0 ? shared.length / (shared.length + apart.length) : Number.NaN;
    return { rate, p50: at(0.5), p99: at(0.99), sameCpu, byPlacement };
  });
}

/**
 * The CPU a process last ran on (Linux: field 39 of /proc/PID/stat), or -1 elsewhere. Read
 * after every tenth latency call, outside its timing: on a small VM, whether the sender and
 * the receiver of a round trip share a CPU decides most of its time (docs/performance.md).
 */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[36]);
  } catch {
    return -1;
  }
}

// ---- setup -------------------------------------------------------------------------------------

interface Ready {
  address: string;
  mem: Mem;
}

interface Systems {
  receivers: Record<System, Child<Ready>>;
  ikcSpec: Client;
  ikcProxy: Client;
  wsSingle: Client;
  wsBatched: Client;
  moleculer: Client;
  close(): Promise<void>;
}

async function startSystems(): Promise<Systems> {
  const [ikcRx, wsRx, molRx] = await Promise.all([
    spawnChild<Ready>('receiver', ['ikc']),
    spawnChild<Ready>('receiver', ['ws']),
    spawnChild<Ready>('receiver', ['moleculer']),
  ]);
  const ikc = await ikcSender(ikcRx.ready.address);
  const clients = {
    ikcSpec: await ikc.client('specifier'),
    ikcProxy: await ikc.client('proxy'),
    wsSingle: await wsClient(wsRx.ready.address, 'single'),
    wsBatched: await wsClient(wsRx.ready.address, 'batched'),
    moleculer: await moleculerClient(molRx.ready.address),
  };
  return {
    receivers: { ikc: ikcRx, ws: wsRx, moleculer: molRx },
    ...clients,
    async close() {
      await Promise.all([ikc.close(), clients.wsSingle.close(), clients.wsBatched.close()]);
      await clients.moleculer.close();
      await Promise.all([ikcRx.stop(), wsRx.stop(), molRx.stop()]);
    },
  };
}

// Row names (short: the ratio column repeats the baseline's). docs/performance.md says more.
/** ikc, `poe://receiver/sink/EVENT` on every post and call. */
const IKC_SPEC = 'ikc, specifier';
/** ikc, a proxy resolved once (`k.resolve('poe://receiver/sink')`). */
const IKC_PROXY = 'ikc, proxy';
const WS_SINGLE = 'raw ws, 1 frame/msg';
const WS_BATCHED = `raw ws, ${RAW_BATCH} frames/msg`;
const WS_TURN = 'raw ws, batched per turn';
const MOLECULER = 'Moleculer';

// ---- post throughput ---------------------------------------------------------------------------

async function benchPost(s: Systems): Promise<void> {
  const post = (name: string, client: Client, rx: System): Contender => ({
    name,
    receiver: s.receivers[rx],
    run: (n) => postRun(client, n),
  });
  const outcomes = await interleaved(
    [
      post(WS_SINGLE, s.wsSingle, 'ws'),
      post(WS_BATCHED, s.wsBatched, 'ws'),
      post(MOLECULER, s.moleculer, 'moleculer'),
      post(IKC_SPEC, s.ikcSpec, 'ikc'),
      post(IKC_PROXY, s.ikcProxy, 'ikc'),
    ],
    { n0: 50_000, min: 20_000, max: 2_000_000, step: 10_000 },
  );
  const base = WS_BATCHED;
  const target = `≥ ${fmt(POST_TARGET)}/s and ≥ ${POST_RATIO_TARGET}x raw batched`;
  const rows: Row[] = outcomes.map((o) => ({
    name: o.name,
    value: medianOfRuns(o, 'rate'),
    unit: 'events/s',
    ...(o.name.startsWith('ikc') ? { baseline: base, target } : {}),
  }));
  report(`Remote post throughput, one way (bursts of ${fmt(BURST)} per turn)`, rows);
  details(outcomes, ['rate'], 'events/s');
  const raw = medianOfRuns(pick(outcomes, base), 'rate');
  for (const o of outcomes.filter((x) => x.name.startsWith('ikc'))) {
    const v = medianOfRuns(o, 'rate');
    verdict(`${o.name}: ≥ ${fmt(POST_TARGET)}/s`, v >= POST_TARGET);
    verdict(`${o.name}: ≥ ${POST_RATIO_TARGET}x raw batched`, v / raw >= POST_RATIO_TARGET);
  }
  console.log('');
}

// ---- pipelined calls -------------------------------------------------------------------------

async function benchCalls(s: Systems): Promise<void> {
  const calls = (name: string, client: Client, rx: System): Contender => ({
    name,
    receiver: s.receivers[rx],
    run: (n) => pipelinedRun(client, n),
  });
  const mol = MOLECULER;
  const outcomes = await interleaved(
    [
      calls(mol, s.moleculer, 'moleculer'),
      calls(WS_SINGLE, s.wsSingle, 'ws'),
      calls(WS_TURN, s.wsBatched, 'ws'),
      calls(IKC_SPEC, s.ikcSpec, 'ikc'),
      calls(IKC_PROXY, s.ikcProxy, 'ikc'),
    ],
    { n0: 20_000, min: 10_000, max: 1_000_000, step: 5_000 },
  );
  const target = `≥ ${fmt(CALL_TARGET)}/s and ≥ ${CALL_RATIO_TARGET}x Moleculer`;
  const rows: Row[] = outcomes.map((o) => ({
    name: o.name,
    value: medianOfRuns(o, 'rate'),
    unit: 'calls/s',
    ...(o.name === mol ? {} : { baseline: mol }),
    ...(o.name.startsWith('ikc') ? { target } : {}),
  }));
  report(`Pipelined remote calls (${WINDOW} in flight)`, rows);
  details(outcomes, ['rate'], 'calls/s');
  const m = medianOfRuns(pick(outcomes, mol), 'rate');
  for (const o of outcomes.filter((x) => x.name.startsWith('ikc'))) {
    const v = medianOfRuns(o, 'rate');
    verdict(`${o.name}: ≥ ${fmt(CALL_TARGET)}/s`, v >= CALL_TARGET);
    verdict(`${o.name}: ≥ ${CALL_RATIO_TARGET}x Moleculer`, v / m >= CALL_RATIO_TARGET);
  }
  console.log('');
}

// ---- latency ---------------------------------------------------------------------------------

/**
 * Each latency run starts its own receivers and clients, and takes the contenders in a
 * rotated order. On a 2-vCPU VM whether a sender and its receiver share a CPU decides most of
 * a round trip (about 40 µs together against 100 µs apart), and the scheduler keeps a pair
 * where it first put it: with the same processes for every run, one draw at start-up would
 * decide every run's figure (docs/performance.md, Latency).
 */
async function benchLatency(): Promise<void> {
  const names = [WS_SINGLE, MOLECULER, IKC_SPEC, IKC_PROXY];
  const outcomes: Outcome[] = names.map((name) => ({ name, n: LATENCY_CALLS, runs: [] }));
  try {
    for (let r = 0; r < RUNS; r++) {
      const s = await startSystems();
      try {
        const all: [string, Client, System][] = [
          [WS_SINGLE, s.wsSingle, 'ws'],
          [MOLECULER, s.moleculer, 'moleculer'],
          [IKC_SPEC, s.ikcSpec, 'ikc'],
          [IKC_PROXY, s.ikcProxy, 'ikc'],
        ];
        const contenders = [...all.slice(r % all.length), ...all.slice(0, r % all.length)];
        const clients = contenders.map(([, client]) => client);
        const pids = contenders.map(([, , system]) => s.receivers[system].process.pid as number);
        await withTimeout(latencyRound(clients, LATENCY_CALLS / 4, pids), 'latency warm-up');
        gc();
        await Promise.all(Object.values(s.receivers).map((rx) => rx.request('gc')));
        const results = await withTimeout(latencyRound(clients, LATENCY_CALLS, pids), 'latency run');
        for (let i = 0; i < results.length; i++) {
          pick(outcomes, (contenders[i] as [string, Client, System])[0]).runs.push(results[i] as RunResult);
        }
      } finally {
        await s.close();
      }
    }
  } catch (err) {
    for (const o of outcomes) o.error = (err as Error).message;
  }
  const rows: Row[] = [];
  for (const o of outcomes) {
    const ikc = o.name.startsWith('ikc');
    const raw = o.name !== WS_SINGLE;
    rows.push({
      name: `${o.name}: p50`,
      value: medianOfRuns(o, 'p50'),
      unit: 'µs',
      ...(raw ? { baseline: `${WS_SINGLE}: p50` } : {}),
      ...(ikc ? { target: `≤ ${LATENCY_RATIO_TARGET}x raw ws` } : {}),
    });
    rows.push({
      name: `${o.name}: p99`,
      value: medianOfRuns(o, 'p99'),
      unit: 'µs',
      ...(raw ? { baseline: `${WS_SINGLE}: p99` } : {}),
    });
  }
  report('Remote call latency, one call at a time', rows);
  details(outcomes, ['p50', 'p99'], 'µs (p50 / p99)');
  const shares = outcomes
    .filter((o) => o.error === undefined)
    .map((o) => `${o.name} ${o.runs.map((r) => `${Math.round(100 * (r.sameCpu as number))}%`).join(', ')}`);
  console.log(`- sender and receiver on the same CPU, share of calls per run: ${shares.join('; ')}\n`);
  const samePlace = latencyByPlacement(outcomes);
  const raw = medianOfRuns(pick(outcomes, WS_SINGLE), 'p50');
  for (const o of outcomes.filter((x) => x.name.startsWith('ikc'))) {
    verdict(
      `${o.name}: p50 ≤ ${LATENCY_RATIO_TARGET}x raw ws, all calls`,
      medianOfRuns(o, 'p50') / raw <= LATENCY_RATIO_TARGET,
    );
    const compared = samePlace.get(o.name) ?? [];
    if (compared.length === 0) {
      console.log(
        `- target ${o.name}: p50 ≤ ${LATENCY_RATIO_TARGET}x raw ws, same placement: not measured (too few calls at either placement)`,
      );
    } else {
      const each = compared.map(([where, ratio]) => `${where} ${ratio.toFixed(2)}x`).join(', ');
      verdict(
        `${o.name}: p50 ≤ ${LATENCY_RATIO_TARGET}x raw ws, same placement (${each})`,
        compared.every(([, ratio]) => ratio <= LATENCY_RATIO_TARGET),
      );
    }
  }
  console.log('');
}

/** Sampled calls a contender needs at one placement, over all runs, to be compared there. */
const MIN_PLACED = 100;

/**
 * The sampled calls of every run, pooled, split by placement: each contender's p50 with its
 * two processes on one CPU and on two, against raw ws's at the same placement. Unpinned on a
 * small VM the scheduler, not the system, decides which placement a pair gets, and the two
 * differ by 2-3x (docs/performance.md, Latency); this compares like with like. Prints a
 * table and returns, per contender, [placement, ratio to raw ws] where both had MIN_PLACED.
 */
function latencyByPlacement(outcomes: Outcome[]): Map<string, [Placement, number][]> {
  const pooled = new Map<string, Record<Placement, number[]>>();
  for (const o of outcomes) {
    if (o.error !== undefined) continue;
    const all: Record<Placement, number[]> = { shared: [], apart: [] };
    for (const r of o.runs) for (const p of PLACEMENTS) all[p].push(...(r.byPlacement?.[p] ?? []));
    pooled.set(o.name, all);
  }
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
  const raw = pooled.get(WS_SINGLE);
  const ratios = new Map<string, [Placement, number][]>();
  const lines = [
    '| contender | one CPU: p50 | calls | ratio | two CPUs: p50 | calls | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [name, all] of pooled) {
    const cells: string[] = [];
    for (const p of PLACEMENTS) {
      const xs = all[p];
      const base = raw?.[p] ?? [];
      const ok = xs.length >= MIN_PLACED && base.length >= MIN_PLACED;
      const ratio = ok ? p50(xs) / p50(base) : Number.NaN;
      if (ok && name !== WS_SINGLE) ratios.set(name, [...(ratios.get(name) ?? []), [p, ratio]]);
      cells.push(
        xs.length ? `${fmt(p50(xs))} µs` : '—',
        String(xs.length),
        ok && name !== WS_SINGLE ? `${ratio.toFixed(2)}x` : '',
      );
    }
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  console.log(
    `#### By placement (the sampled calls of all runs, by where sender and receiver last ran)\n\n${lines.join('\n')}\n\n(ratio: to raw ws at the same placement, where both have at least ${MIN_PLACED} sampled calls)\n`,
  );
  return ratios;
}

// ---- large arguments ---------------------------------------------------------------------------

interface BigResult {
  bytesPerSec?: number;
  error?: { code: string; message: string };
  memConnected: Mem;
  mem: Mem;
}

interface BigRun {
  result: BigResult;
  receiverStart: Mem;
  receiverEnd: Mem;
}

async function bigRun(system: System, bytes: number, calls: number): Promise<BigRun> {
  const rx = await spawnChild<Ready>('receiver', [system]);
  try {
    const tx = await spawnChild<BigResult>('big-sender', [
      system,
      rx.ready.address,
      String(bytes),
      String(calls),
    ]);
    const receiverEnd = await rx.request<Mem>('mem');
    await tx.stop();
    return { result: tx.ready, receiverStart: rx.ready.mem, receiverEnd };
  } finally {
    await rx.stop();
  }
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)}`;
}

async function benchBig(): Promise<void> {
  const cases: { system: System; label: string; bytes: number; calls: number }[] = [
    { system: 'ws', label: 'raw ws + msgpackr', bytes: MIB, calls: 64 },
    { system: 'moleculer', label: 'Moleculer (JSON)', bytes: MIB, calls: 8 },
    { system: 'ikc', label: 'ikc', bytes: MIB, calls: 64 },
    { system: 'ws', label: 'raw ws + msgpackr', bytes: 64 * MIB, calls: 4 },
    { system: 'ikc', label: 'ikc', bytes: 64 * MIB, calls: 4 },
  ];
  const runs: BigRun[][] = cases.map(() => []);
  const errors: (string | undefined)[] = cases.map(() => undefined);
  // Interleaved, like the other measures: one run of each case per round.
  for (let r = 0; r < BIG_RUNS; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i] as (typeof cases)[number];
      if (errors[i] !== undefined && runs[i]?.length === 0 && r > 0) continue;
      try {
        const run = await withTimeout(bigRun(c.system, c.bytes, c.calls), `${c.label} ${mib(c.bytes)} MiB`);
        if (run.result.error) errors[i] = `${run.result.error.code}: ${run.result.error.message}`;
        (runs[i] as BigRun[]).push(run);
      } catch (err) {
        errors[i] = `FAILED: ${(err as Error).message}`;
      }
    }
  }
  const lines = [
    `### Large call arguments (\`big(Buffer)\`, one call at a time, fresh processes per run)`,
    '',
    '| system | argument | median | unit | ratio | sender peak RSS (at start) | receiver peak RSS (at start) | peak RSS growth, sender / receiver, ratio to raw ws |',
    '|---|---|---:|---|---:|---|---|---|',
  ];
  const notes: string[] = [];
  const rawRate = new Map<number, number>();
  /** Peak RSS growth over the RSS once connected (sender, receiver), by argument size, for raw ws. */
  const rawGrowth = new Map<number, [number, number]>();
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i] as (typeof cases)[number];
    const rs = runs[i] as BigRun[];
    const ok = rs.filter((x) => x.result.bytesPerSec !== undefined);
    const rate = ok.length ? median(ok.map((x) => x.result.bytesPerSec as number)) / MIB : Number.NaN;
    if (c.system === 'ws') rawRate.set(c.bytes, rate);
    const raw = rawRate.get(c.bytes);
    const ratio = c.system !== 'ws' && raw && ok.length ? `${(rate / raw).toFixed(2)}x raw ws` : '';
    const peak = (f: (x: BigRun) => Mem, start: (x: BigRun) => Mem) =>
      rs.length
        ? `${mib(median(rs.map((x) => f(x).maxRss)))} MiB (${mib(median(rs.map((x) => start(x).rss)))})`
        : '';
    const sender = peak(
      (x) => x.result.mem,
      (x) => x.result.memConnected,
    );
    const receiver = peak(
      (x) => x.receiverEnd,
      (x) => x.receiverStart,
    );
    const value = ok.length
      ? fmt(rate)
      : errors[i]?.startsWith('IKC_ERR')
        ? `refused (${errors[i]?.split(':')[0]})`
        : 'failed';
    const growth = (f: (x: BigRun) => number) => (rs.length ? median(rs.map(f)) : Number.NaN);
    const grew: [number, number] = [
      growth((x) => x.result.mem.maxRss - x.result.memConnected.rss),
      growth((x) => x.receiverEnd.maxRss - x.receiverStart.rss),
    ];
    if (c.system === 'ws') rawGrowth.set(c.bytes, grew);
    const rawGrew = rawGrowth.get(c.bytes);
    const growthCell =
      c.system !== 'ws' && rawGrew && rs.length
        ? `${mib(grew[0])} / ${mib(grew[1])} MiB (${(grew[0] / rawGrew[0]).toFixed(2)}x / ${(grew[1] / rawGrew[1]).toFixed(2)}x)`
        : rs.length
          ? `${mib(grew[0])} / ${mib(grew[1])} MiB`
          : '';
    lines.push(
      `| ${c.label} | ${mib(c.bytes)} MiB × ${c.calls} | ${value} | MiB/s | ${ratio} | ${sender} | ${receiver} | ${growthCell} |`,
    );
    if (errors[i]) notes.push(`- ${c.label}, ${mib(c.bytes)} MiB: ${errors[i]}`);
    if (ok.length) {
      const each = ok.map((x) => fmt((x.result.bytesPerSec as number) / MIB)).join(', ');
      notes.push(`- ${c.label}, ${mib(c.bytes)} MiB: runs ${each} MiB/s`);
    }
    if (errors[i]?.startsWith('FAILED')) failed.add(`${c.label} ${mib(c.bytes)} MiB`);
  }
  notes.push(
    '- Moleculer, 64 MiB: not measured (its JSON serializer writes a Buffer as an array of numbers)',
  );
  console.log(
    `${lines.join('\n')}\n\n(median of ${BIG_RUNS} runs, each after one untimed call; peak RSS is getrusage maxrss of the process; node ${process.version})\n\n${notes.join('\n')}\n`,
  );
}

// ---- main --------------------------------------------------------------------------------------

const started = Date.now();
pinSelf();
console.log('## Remote messaging\n');
const pin = pinning();
if (pin)
  console.log(
    `(IKC_BENCH_PIN=${process.env.IKC_BENCH_PIN}: this process on CPU ${pin.self}, receivers on CPU ${pin.children})\n`,
  );
if (PARTS.has('post') || PARTS.has('calls')) {
  const s = await startSystems();
  try {
    if (PARTS.has('post')) await benchPost(s);
    if (PARTS.has('calls')) await benchCalls(s);
  } finally {
    await s.close();
  }
}
if (PARTS.has('latency')) await benchLatency();
if (PARTS.has('big')) await benchBig();
console.log(`(remote benchmark: ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
process.exit(failed.size ? 1 : 0);
