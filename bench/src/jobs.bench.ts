/**
 * @ikc/jobs: the process pool's call rate, a job's start-up time, and remote jobs' stdout
 * throughput and start-up, each next to a baseline measured in the same process run.
 *
 * - pool calls: CALLS calls of a trivial export (`echo(i)` returns i) on a pool of 2 warm
 *   workers, one call at a time and all CALLS in flight at once, against Node's own
 *   child_process IPC round trip: raw `spawn(node, { stdio: [..., 'ipc'] })` children that
 *   echo each `process.send` message back, one message in flight per child, with the same
 *   'advanced' (structured clone) serialization the pool uses. The pool's extra work per call:
 *   a call record, a promise, the queue, the id check on the reply.
 * - fork to first byte: from `jobs.fork({ cmd })` until the first chunk of job.stdout
 *   arrives, against `child_process.spawn` of the same argv until its first stdout chunk;
 *   for `node -e "process.stdout.write('x')"` (node's own start-up dominates) and for
 *   `/bin/echo x` (the fork, exec and pipe path alone).
 * - remote jobs (jobs/remote.ts): a second kernel, `beta`, runs in a child process; this
 *   process runs kernel `alpha`. Fork to first byte of `/bin/echo x`, local against remote,
 *   in round trips of a trivial remote call measured alongside; and the bare floor of the
 *   same thing, raw `ws` and `child_process` with no ikc (ws-source.ts). Stdout throughput of
 *   `head -c N /dev/zero` forked on beta with `on: 'beta'`, against a raw `ws` server process
 *   that spawns the same command and sends its chunks over one connection; peak RSS and CPU
 *   time of both processes during each transfer. Many short remote jobs (jobs/churn.ts): a
 *   run of 2,000 `/bin/echo` forked on beta, 8 at a time, against the raw ws server spawning
 *   the same on 8 connections: jobs per second, CPU per job, and the heap each job leaves.
 *
 * Every figure is the median of RUNS runs after a warm-up (IKC_BENCH_RUNS, default 5); the
 * contenders of a measure run interleaved, one run each in turn. docs/performance.md
 * ("Jobs") has the figures.
 *
 * Environment: IKC_BENCH_JOBS=pool,start,remote-start,stream,churn picks parts;
 * IKC_BENCH_JOBS_SECONDS sets a throughput run's length (default 2); IKC_BENCH_CHILD_FLAGS
 * passes node flags to the child processes (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`);
 * IKC_BENCH_HEAP_GROWTH sets both kernels' kernel.heapGrowingPercent (0: V8's own policy);
 * IKC_BENCH_WARM_ROUNDS sets the rounds of starts before the measured ones (default 1).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Jobs, type Pool } from '@ikc/jobs';
import { Kernel } from '@ikc/kernel';
import { fmt, median, type Row, RUNS, report } from './harness.js';
import { benchChurn } from './jobs/churn.js';
import { benchRemoteStart, benchStream, startRemote } from './jobs/remote.js';

const PARTS = new Set((process.env.IKC_BENCH_JOBS ?? 'pool,start,remote-start,stream,churn').split(','));

/** Pool calls per measured run (each shape). */
const CALLS = 10_000;
/** Workers in the pool, and raw children in the two-child baseline. */
const SIZE = 2;
/** Starts per measured run of a fork-to-first-byte measure. */
const STARTS = 20;

/** The pool's module, inline: a data: URL needs no file. */
const ECHO_MODULE = new URL('data:text/javascript,export const echo = (i) => i;');
/** A raw IPC child that sends every message back. */
const ECHO_CHILD = "process.on('message', (m) => process.send(m));";

function rate(count: number, start: bigint): number {
  return (count * 1e9) / Number(process.hrtime.bigint() - start);
}

// ---- pool calls against raw child_process IPC ---------------------------------------------

function rawChild(): ChildProcess {
  return spawn(process.execPath, ['-e', ECHO_CHILD], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
}

/** CALLS round trips spread over `children`, each with one message in flight. */
function rawRoundTrips(children: ChildProcess[]): Promise<number> {
  const start = process.hrtime.bigint();
  let sent = 0;
  let received = 0;
  return new Promise((resolve) => {
    for (const child of children) {
      const onMessage = (m: number) => {
        if (typeof m !== 'number') throw new Error('bad echo');
        if (++received === CALLS) {
          for (const c of children) c.removeAllListeners('message');
          resolve(rate(CALLS, start));
        } else if (sent < CALLS) child.send(sent++);
      };
      child.on('message', onMessage);
      child.send(sent++);
    }
  });
}

async function poolSequential(pool: Pool): Promise<number> {
  const start = process.hrtime.bigint();
  let sum = 0;
  for (let i = 0; i < CALLS; i++) sum += await pool.run<number>('echo', i);
  if (sum !== (CALLS * (CALLS - 1)) / 2) throw new Error(`bad sum ${sum}`);
  return rate(CALLS, start);
}

async function poolAllInFlight(pool: Pool): Promise<number> {
  const start = process.hrtime.bigint();
  const calls: Promise<number>[] = [];
  for (let i = 0; i < CALLS; i++) calls.push(pool.run<number>('echo', i));
  const results = await Promise.all(calls);
  if (results[CALLS - 1] !== CALLS - 1) throw new Error('bad result');
  return rate(CALLS, start);
}

/** Runs the contenders interleaved: a warm-up each, then RUNS rounds of one run each. */
async function interleaved(
  contenders: Record<string, () => Promise<number>>,
): Promise<Record<string, number>> {
  const results: Record<string, number[]> = {};
  for (const [name, once] of Object.entries(contenders)) {
    await once();
    results[name] = [];
  }
  for (let r = 0; r < RUNS; r++) {
    for (const [name, once] of Object.entries(contenders)) results[name]?.push(await once());
  }
  return Object.fromEntries(Object.entries(results).map(([name, values]) => [name, median(values)]));
}

async function poolBench(jobs: Jobs): Promise<void> {
  const one = [rawChild()];
  const two = [rawChild(), rawChild()];
  const pool = jobs.pool({ module: ECHO_MODULE, size: SIZE });
  await pool.ready();
  const m = await interleaved({
    raw1: () => rawRoundTrips(one),
    pool1: () => poolSequential(pool),
    raw2: () => rawRoundTrips(two),
    poolAll: () => poolAllInFlight(pool),
  });
  await pool.close();
  for (const c of [...one, ...two]) c.kill();
  const rows: Row[] = [
    { name: 'raw IPC round trip, 1 child, 1 in flight', value: m.raw1 as number, unit: 'calls/s' },
    {
      name: `pool.run, ${SIZE} workers, 1 call at a time`,
      value: m.pool1 as number,
      unit: 'calls/s',
      baseline: 'raw IPC round trip, 1 child, 1 in flight',
    },
    {
      name: `raw IPC round trip, ${SIZE} children, 1 in flight each`,
      value: m.raw2 as number,
      unit: 'calls/s',
    },
    {
      name: `pool.run, ${SIZE} workers, ${fmt(CALLS)} in flight`,
      value: m.poolAll as number,
      unit: 'calls/s',
      baseline: `raw IPC round trip, ${SIZE} children, 1 in flight each`,
    },
  ];
  report(`Pool calls (${fmt(CALLS)} calls of a trivial export per run)`, rows);
}

// ---- fork to first byte ---------------------------------------------------------------------

function firstChunk(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => stream.once('data', () => resolve()));
}

/** Median ms from start to first stdout byte over STARTS sequential starts. */
async function startsOf(start: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = process.hrtime.bigint();
    await start();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

function rawStart(argv: string[]): () => Promise<void> {
  return async () => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await firstChunk(child.stdout);
    child.stdout.resume();
    await exited;
  };
}

function jobStart(jobs: Jobs, argv: string[]): () => Promise<void> {
  return async () => {
    const job = jobs.fork({ cmd: argv });
    job.stdin.end();
    await firstChunk(job.stdout);
    job.stdout.resume();
    await job.wait();
  };
}

async function startBench(jobs: Jobs): Promise<void> {
  const nodeArgv = [process.execPath, '-e', "process.stdout.write('x')"];
  const echoArgv = ['/bin/echo', 'x'];
  const m = await interleaved({
    rawNode: () => startsOf(rawStart(nodeArgv)),
    jobNode: () => startsOf(jobStart(jobs, nodeArgv)),
    rawEcho: () => startsOf(rawStart(echoArgv)),
    jobEcho: () => startsOf(jobStart(jobs, echoArgv)),
  });
  const rows: Row[] = [
    { name: 'child_process.spawn, node -e (baseline)', value: m.rawNode as number, unit: 'ms' },
    {
      name: 'jobs.fork, node -e',
      value: m.jobNode as number,
      unit: 'ms',
      baseline: 'child_process.spawn, node -e (baseline)',
    },
    { name: 'child_process.spawn, /bin/echo (baseline)', value: m.rawEcho as number, unit: 'ms' },
    {
      name: 'jobs.fork, /bin/echo',
      value: m.jobEcho as number,
      unit: 'ms',
      baseline: 'child_process.spawn, /bin/echo (baseline)',
    },
  ];
  report(`Fork to first byte of stdout (median of ${STARTS} starts per run)`, rows);
}

const kernel = new Kernel({ name: 'bench', processSignals: false });
const jobs = new Jobs(kernel, { maxProc: 4 });
if (PARTS.has('pool')) await poolBench(jobs);
if (PARTS.has('start')) await startBench(jobs);
await jobs.close();

if (PARTS.has('stream') || PARTS.has('remote-start') || PARTS.has('churn')) {
  const remote = await startRemote();
  try {
    // Starts first: a fork's cost grows with the forking process's RSS, which a transfer raises.
    if (PARTS.has('remote-start')) await benchRemoteStart(remote);
    if (PARTS.has('stream')) await benchStream(remote);
    // Last: it leaves beta's heap and RSS as thousands of jobs do, which the others must not see.
    if (PARTS.has('churn')) await benchChurn(remote);
  } finally {
    await remote.close();
  }
}
