/**
 * Remote jobs, measured from this process (kernel `alpha`) against kernel `beta` in a child
 * process (beta.ts), and against a raw `ws` source in another child (ws-source.ts):
 *
 * - stdout throughput: `head -c N /dev/zero` forked on beta (`on: 'beta'`), its job.stdout
 *   read here and counted, against the same command spawned by the raw ws server, whose
 *   chunks come here as binary ws messages on one connection. Timed from fork (or request)
 *   to the last byte. Peak RSS (VmHWM, reset before each run) and CPU time (all threads) of
 *   this process and of the child during each run.
 * - fork to first byte: `/bin/echo x` forked by alpha here (local), by beta on itself
 *   (local, timed there: the same process spawns as for a remote fork, whose cost grows with
 *   that process's RSS) and by alpha on beta (remote), until the first chunk of job.stdout;
 *   and the round trip of a trivial remote call (`call(poe://beta/ping, 'echo', i)`)
 *   between the two kernels: back to back, and one call after each start. Beside them, the
 *   bare floor: `/bin/echo x` spawned by the raw ws server on itself (timed there) and asked
 *   of it over ws (its first chunk as a binary message), and a raw ws round trip (back to
 *   back, and one right after each bare start, a network round trip in a fork's conditions
 *   with no ikc code in it): what a remote start costs over a local one with no ikc at all.
 *   And the floor on ikc's messaging: a call to beta's `ping.spawnFirst(argv)`, whose handler
 *   spawns `/bin/echo x` with child_process and answers its first chunk, against the same
 *   spawn timed in beta: a remote start through the mesh with no job in it. And a job's
 *   shape built from plain posts: a session here posts beta's `ping.postFirst(argv, id)`,
 *   whose handler spawns with the three pipes a job has and posts each stdout chunk back,
 *   which this session writes into a PassThrough (as a job's stdout), until its first chunk;
 *   against the same spawn and PassThrough timed in beta.
 *
 * Contenders run interleaved, one run of each in turn, each after a full GC on both sides.
 */

import { PassThrough } from 'node:stream';
import type { Job, Jobs } from '@ikc/jobs';
import type { Session } from '@ikc/kernel';
import { type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { WebSocket } from 'ws';
import { fmt, median, type Row, RUNS, report } from '../harness.js';
import { type Child, spawnChild } from '../remote/child.js';
import { CLOUD, gc, type Mem, MIB } from '../remote/common.js';
import {
  ALPHA,
  BETA,
  bulkCommand,
  cpuSeconds,
  ECHO_ARGV,
  firstByteMs,
  HEAP_GROWTH,
  IDLE_MS,
  peakRss,
  resetPeak,
  STARTS,
} from './common.js';

/** Target length of one measured throughput run, in seconds (IKC_BENCH_JOBS_SECONDS). */
const RUN_SECONDS = Number(process.env.IKC_BENCH_JOBS_SECONDS ?? 2);
/** Bytes of the warm-up transfer, from which the measured runs are sized. */
const WARM_BYTES = 256 * MIB;
const MIN_BYTES = 64 * MIB;
const MAX_BYTES = 4096 * MIB;
/** Remote calls per measured run of the round trip, one at a time. */
const PINGS = 200;
/** A run that takes longer than this has hung. */
const RUN_TIMEOUT_MS = 120_000;

/** Rounds of starts (STARTS triples each) before the measured ones (IKC_BENCH_WARM_ROUNDS). */
const WARM_ROUNDS = Number(process.env.IKC_BENCH_WARM_ROUNDS ?? 1);

const THROUGHPUT_TARGET = 0.8;
const FIRST_BYTE_TARGET_RTTS = 3;
interface Ready {
  address: string;
  pid: number;
}

export interface RemoteSetup {
  alpha: MeshKernel;
  jobs: Jobs;
  beta: Child<Ready>;
  source: Child<Ready>;
  raw: RawClient;
  ping: Session;
  /** ms from a post of beta's `ping.postFirst(ECHO_ARGV)` to the first chunk out of the
   * PassThrough its posts are written into here; resolves once beta's `exit` came. */
  postFirst(): Promise<number>;
  close(): Promise<void>;
}

export function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- the raw ws client -----------------------------------------------------------------------

export interface RawClient {
  /** Has the source run `argv`; resolves with the bytes of its stdout once it ended. */
  run(argv: string[]): Promise<{ bytes: number; exitCode: number | null }>;
  /** Has the source run `argv`; resolves with the ms until its first chunk, once it ended. */
  firstByte(argv: string[]): Promise<number>;
  /** The ms of one round trip: a number there and back. */
  echo(i: number): Promise<number>;
  close(): void;
}

export async function rawClient(address: string): Promise<RawClient> {
  const ws = new WebSocket(`ws://${address}`, { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let bytes = 0;
  let firstChunk: (() => void) | undefined;
  let done: ((r: { bytes: number; exitCode: number | null }) => void) | undefined;
  let echoed: ((i: number) => void) | undefined;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      bytes += data.length;
      const first = firstChunk;
      firstChunk = undefined;
      first?.();
      return;
    }
    const msg = JSON.parse(String(data)) as number | { end: number | null; error?: string };
    if (typeof msg === 'number') {
      const resolve = echoed;
      echoed = undefined;
      resolve?.(msg);
      return;
    }
    if (msg.error) throw new Error(`raw source: ${msg.error}`);
    const resolve = done;
    done = undefined;
    resolve?.({ bytes, exitCode: msg.end });
  });
  const run = (argv: string[]) => {
    bytes = 0;
    return new Promise<{ bytes: number; exitCode: number | null }>((resolve) => {
      done = resolve;
      ws.send(JSON.stringify(argv));
    });
  };
  return {
    run,
    async firstByte(argv) {
      let ms = Number.NaN;
      const t0 = process.hrtime.bigint();
      const first = new Promise<void>((resolve) => {
        firstChunk = resolve;
      }).then(() => {
        ms = Number(process.hrtime.bigint() - t0) / 1e6;
      });
      const r = await run(argv);
      await first;
      if (r.exitCode !== 0 || r.bytes === 0)
        throw new Error(`raw ${argv[0]} exited ${r.exitCode}, ${r.bytes} bytes`);
      return ms;
    },
    echo(i) {
      const t0 = process.hrtime.bigint();
      return new Promise((resolve, reject) => {
        echoed = (back) => {
          if (back === i) resolve(Number(process.hrtime.bigint() - t0) / 1e6);
          else reject(new Error(`raw echo: ${back} came back for ${i}`));
        };
        ws.send(JSON.stringify(i));
      });
    },
    close: () => ws.close(),
  };
}

// ---- a job's shape from plain posts ----------------------------------------------------------

/**
 * A session on alpha that posts beta's `ping.postFirst(argv, id)` and takes its `data` and
 * `exit` posts, each chunk written into that start's PassThrough: the least a remote job needs
 * (three pipes on beta, a post each way, a stream here) with none of the jobs layer.
 */
function postFirstClient(alpha: MeshKernel, ping: Session): () => Promise<number> {
  const starts = new Map<number, { out: PassThrough; exited: () => void }>();
  let post: ((id: number) => void) | undefined;
  alpha.spawn({
    alias: 'bench.postFirst',
    publish: ['data', 'exit'],
    events: {
      _start: (ctx) => {
        post = (id) => ctx.post(ping, 'postFirst', ECHO_ARGV, id);
      },
      data: (_ctx, id: unknown, chunk: unknown) => starts.get(id as number)?.out.write(chunk as Uint8Array),
      exit: (_ctx, id: unknown) => {
        const start = starts.get(id as number);
        starts.delete(id as number);
        start?.exited();
      },
    },
  });
  let next = 0;
  return async () => {
    const id = ++next;
    const t0 = process.hrtime.bigint();
    const out = new PassThrough();
    const exited = new Promise<void>((resolve) => starts.set(id, { out, exited: resolve }));
    (post as (id: number) => void)(id);
    const chunk = (await new Promise((resolve) => out.once('data', resolve))) as Buffer;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (chunk.length === 0) throw new Error('postFirst posted no bytes');
    out.resume();
    await exited;
    return ms;
  };
}

// ---- setup -------------------------------------------------------------------------------------

export async function startRemote(): Promise<RemoteSetup> {
  const [beta, source] = await Promise.all([
    spawnChild<Ready>('../jobs/beta', []),
    spawnChild<Ready>('../jobs/ws-source', []),
  ]);
  const alpha = await startKernel({
    kernel: { name: ALPHA, listen: '127.0.0.1:0', socket: false, ...HEAP_GROWTH },
    cloud: { name: CLOUD.name, secret: CLOUD.secret, seeds: [beta.ready.address] },
    logger: silentLogger,
    processSignals: false,
    admin: false,
  });
  const jobs = alpha.jobs as Jobs;
  // beta is usable once a call reaches its session.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await alpha.callWith({ timeoutMs: 1000 }, `poe://${BETA}/ping/echo`, 1);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
  const ping = await alpha.resolve(`poe://${BETA}/ping`);
  const raw = await rawClient(source.ready.address);
  const postFirst = postFirstClient(alpha, ping);
  return {
    alpha,
    jobs,
    beta,
    source,
    raw,
    ping,
    postFirst,
    async close() {
      raw.close();
      await alpha.stop();
      await Promise.all([beta.stop(), source.stop()]);
    },
  };
}

// ---- stdout throughput -------------------------------------------------------------------------

interface StreamRun {
  /** Bytes per second. */
  rate: number;
  /** This process's (alpha's, or the raw client's) RSS at the start and its peak, bytes. */
  hereStart: number;
  herePeak: number;
  /** The child's (beta's, or the raw source's) RSS at the start and its peak, bytes. */
  thereStart: number;
  therePeak: number;
  /** CPU seconds (all threads) per GiB moved, of this process and of the child. */
  hereCpu: number;
  thereCpu: number;
}

interface StreamContender {
  name: string;
  child: Child<Ready>;
  /** Moves `bytes` and resolves with the bytes that arrived. */
  move(bytes: number): Promise<number>;
}

async function ikcMove(jobs: Jobs, bytes: number): Promise<number> {
  const job: Job = jobs.fork({ cmd: bulkCommand(bytes), on: BETA });
  job.stdin.end();
  job.stderr.resume();
  let got = 0;
  job.stdout.on('data', (chunk: Buffer) => {
    got += chunk.length;
  });
  await new Promise<void>((resolve, reject) => {
    job.stdout.once('end', resolve);
    job.stdout.once('error', reject);
  });
  const outcome = await job.wait();
  if (outcome.exitCode !== 0) throw new Error(`remote head exited ${outcome.exitCode}: ${outcome.error}`);
  return got;
}

async function rawMove(raw: RawClient, bytes: number): Promise<number> {
  const r = await raw.run(bulkCommand(bytes));
  if (r.exitCode !== 0) throw new Error(`raw head exited ${r.exitCode}`);
  return r.bytes;
}

async function streamRun(c: StreamContender, bytes: number): Promise<StreamRun> {
  gc();
  await c.child.request('gc');
  const hereStart = resetPeak();
  const thereStart = await c.child.request<number>('resetPeak');
  const thereCpu0 = await c.child.request<number>('cpu');
  const hereCpu0 = cpuSeconds();
  const start = process.hrtime.bigint();
  const got = await withTimeout(c.move(bytes), `${c.name}, ${bytes} bytes`);
  const ns = Number(process.hrtime.bigint() - start);
  const hereCpu = cpuSeconds() - hereCpu0;
  if (got !== bytes) throw new Error(`${c.name}: ${got} bytes arrived, ${bytes} sent`);
  const thereCpu = (await c.child.request<number>('cpu')) - thereCpu0;
  const herePeak = peakRss();
  const therePeak = await c.child.request<number>('peak');
  const gib = bytes / (1024 * MIB);
  return {
    rate: (bytes * 1e9) / ns,
    hereStart,
    herePeak,
    thereStart,
    therePeak,
    hereCpu: hereCpu / gib,
    thereCpu: thereCpu / gib,
  };
}

const MB = 1e6;
const RAW_STREAM = 'raw ws, same command spawned by the ws server (baseline)';
const IKC_STREAM = "ikc, job forked on beta (on: 'beta'), job.stdout read";
const HERE_RAW = 'raw ws: receiving client (this process)';
const HERE_IKC = 'ikc: alpha (this process, reads job.stdout)';
const THERE_RAW = 'raw ws: server (child process, spawns head)';
const THERE_IKC = 'ikc: beta (child process, forks head)';

export async function benchStream(s: RemoteSetup): Promise<boolean> {
  const contenders: StreamContender[] = [
    { name: RAW_STREAM, child: s.source, move: (n) => rawMove(s.raw, n) },
    { name: IKC_STREAM, child: s.beta, move: (n) => ikcMove(s.jobs, n) },
  ];
  const warm = [];
  for (const c of contenders) warm.push(await streamRun(c, WARM_BYTES));
  const slowest = Math.min(...warm.map((w) => w.rate));
  const sized = Math.round((slowest * RUN_SECONDS) / MIB) * MIB;
  const bytes = Math.min(MAX_BYTES, Math.max(MIN_BYTES, sized));
  const runs: StreamRun[][] = contenders.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < contenders.length; i++)
      runs[i]?.push(await streamRun(contenders[i] as StreamContender, bytes));
  }
  const med = (i: number, key: keyof StreamRun) => median((runs[i] as StreamRun[]).map((x) => x[key]));
  const target = `≥ ${THROUGHPUT_TARGET}x raw ws`;
  report(`Remote job stdout throughput (\`head -c\` ${bytes / MIB} MiB of /dev/zero, one job at a time)`, [
    { name: RAW_STREAM, value: med(0, 'rate') / MB, unit: 'MB/s' },
    { name: IKC_STREAM, value: med(1, 'rate') / MB, unit: 'MB/s', baseline: RAW_STREAM, target },
  ]);
  const mib = (i: number, key: keyof StreamRun) => fmt(med(i, key) / MIB);
  // Per process: this one (the raw client, or alpha) and the child (the raw server, or beta).
  const perProcess = (key: 'Peak' | 'Cpu', scale: number, unit: string): Row[] => [
    { name: HERE_RAW, value: med(0, `here${key}`) / scale, unit },
    { name: HERE_IKC, value: med(1, `here${key}`) / scale, unit, baseline: HERE_RAW },
    { name: THERE_RAW, value: med(0, `there${key}`) / scale, unit },
    { name: THERE_IKC, value: med(1, `there${key}`) / scale, unit, baseline: THERE_RAW },
  ];
  report('Peak RSS during one transfer (VmHWM, reset at its start)', perProcess('Peak', MIB, 'MiB'));
  report(
    'CPU time per GiB moved (user + system, all threads of the process; not head itself)',
    perProcess('Cpu', 1, 'CPU s/GiB'),
  );
  const lines = contenders.map((c, i) => {
    const rs = (runs[i] as StreamRun[]).map((x) => fmt(x.rate / MB)).join(', ');
    return `- ${c.name}: runs ${rs} MB/s; RSS at start ${mib(i, 'hereStart')} MiB here, ${mib(i, 'thereStart')} MiB there`;
  });
  console.log(`${lines.join('\n')}\n`);
  const ratio = med(1, 'rate') / med(0, 'rate');
  const met = ratio >= THROUGHPUT_TARGET;
  console.log(`- target ikc ${target}: ${met ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)\n`);
  return met;
}

// ---- fork to first byte, local and remote ------------------------------------------------------

async function ping(s: RemoteSetup, i: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  if ((await s.alpha.call(s.ping, 'echo', i)) !== i) throw new Error('bad echo');
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * A round trip in a fork's conditions, ms: a call that blocks beta for `ms` (as the spawn of
 * a local start blocks it, while alpha waits idle as it does for a first byte), less the time
 * beta held it.
 */
async function heldPing(s: RemoteSetup, ms: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const held = (await s.alpha.call(s.ping, 'hold', ms)) as number;
  return Number(process.hrtime.bigint() - t0) / 1e6 - held;
}

interface StartRound {
  /** Medians, ms: fork to first byte, local on alpha, local on beta, remote; a call after each start. */
  alpha: number;
  beta: number;
  remote: number;
  idle: number;
  /** Median ms of a call that blocks beta as long as the triple's local start on beta, less that time. */
  held: number;
  /** Medians of the differences of each start's triple, ms: remote − local on beta, on alpha. */
  over: number;
  overAlpha: number;
  /** The bare floor, medians, ms: a spawn timed in the raw ws server, one asked of it over ws, their difference. */
  rawLocal: number;
  rawRemote: number;
  rawOver: number;
  /** Median ms of a raw ws round trip right after each bare remote start (no ikc in it). */
  rawIdle: number;
  /** The floor on ikc's messaging, medians, ms: a spawn timed in beta, one asked of it by a call, their difference. */
  callLocal: number;
  callRemote: number;
  callOver: number;
  /** A job's shape from plain posts, medians, ms: a spawn timed in beta, one asked of it by a post, their difference. */
  postLocal: number;
  postRemote: number;
  postOver: number;
}

/**
 * STARTS triples of starts, one after the other: local on alpha, local on beta (timed
 * there, asked over the control channel), remote; then one remote call, and one that blocks
 * beta as long as its local start took; then the bare floor's pair: a spawn timed in the raw
 * ws server (asked over its control channel), and one asked of it over ws; then the
 * messaging floor's pair: a spawn timed in beta, and one asked of it by a call (the
 * `spawnFirst` event, which answers the first chunk); then the plain-posts pair: the same
 * with a job's three pipes and PassThrough, asked of beta by a post (`postFirst`), its first
 * chunk posted back. Each start, local or remote, follows IDLE_MS in which no process of the
 * bench does anything (a local half's pause is taken in beta, or the raw ws server, once asked).
 * Differences are taken within each triple (pair), so a slow moment of the machine hits all
 * of it.
 */
async function startRound(s: RemoteSetup): Promise<StartRound> {
  const alpha: number[] = [];
  const beta: number[] = [];
  const remote: number[] = [];
  const pings: number[] = [];
  const held: number[] = [];
  const rawLocal: number[] = [];
  const rawRemote: number[] = [];
  const rawIdle: number[] = [];
  const callLocal: number[] = [];
  const callRemote: number[] = [];
  const postLocal: number[] = [];
  const postRemote: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    await sleep(IDLE_MS);
    alpha.push(await firstByteMs(s.jobs));
    const local = await s.beta.request<number>('firstByte');
    beta.push(local);
    await sleep(IDLE_MS);
    remote.push(await firstByteMs(s.jobs, BETA));
    pings.push(await ping(s, i));
    held.push(await heldPing(s, local));
    rawLocal.push(await s.source.request<number>('firstByte'));
    await sleep(IDLE_MS);
    rawRemote.push(await s.raw.firstByte(ECHO_ARGV));
    rawIdle.push(await s.raw.echo(i));
    callLocal.push(await s.beta.request<number>('spawnFirst'));
    await sleep(IDLE_MS);
    callRemote.push(await spawnFirstMs(s));
    postLocal.push(await s.beta.request<number>('postFirst'));
    await sleep(IDLE_MS);
    postRemote.push(await s.postFirst());
  }
  return {
    alpha: median(alpha),
    beta: median(beta),
    remote: median(remote),
    idle: median(pings),
    held: median(held),
    over: median(remote.map((x, i) => x - (beta[i] as number))),
    overAlpha: median(remote.map((x, i) => x - (alpha[i] as number))),
    rawLocal: median(rawLocal),
    rawRemote: median(rawRemote),
    rawOver: median(rawRemote.map((x, i) => x - (rawLocal[i] as number))),
    rawIdle: median(rawIdle),
    callLocal: median(callLocal),
    callRemote: median(callRemote),
    callOver: median(callRemote.map((x, i) => x - (callLocal[i] as number))),
    postLocal: median(postLocal),
    postRemote: median(postRemote),
    postOver: median(postRemote.map((x, i) => x - (postLocal[i] as number))),
  };
}

/** ms from a call of beta's `ping.spawnFirst(ECHO_ARGV)` until its answer, the first chunk, is here. */
async function spawnFirstMs(s: RemoteSetup): Promise<number> {
  const t0 = process.hrtime.bigint();
  const chunk = (await s.alpha.call(s.ping, 'spawnFirst', ECHO_ARGV)) as Uint8Array;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (chunk.length === 0) throw new Error('spawnFirst answered no bytes');
  return ms;
}

/** Median ms of a trivial remote call, PINGS back to back; and of a raw ws echo, PINGS back to back. */
async function roundTrips(s: RemoteSetup): Promise<{ ikc: number; raw: number }> {
  const times: number[] = [];
  for (let i = 0; i < PINGS; i++) times.push(await ping(s, i));
  const raw: number[] = [];
  for (let i = 0; i < PINGS; i++) raw.push(await s.raw.echo(i));
  return { ikc: median(times), raw: median(raw) };
}

const LOCAL_ALPHA = 'local on alpha: alpha.jobs.fork, timed in alpha';
const LOCAL_BETA = 'local on beta: beta.jobs.fork, timed in beta';
const REMOTE_START = "remote: alpha.jobs.fork({ on: 'beta' }), timed in alpha";
const RTT_LOOP = 'round trip alpha → beta → alpha (call ping.echo), back to back';
const RTT_IDLE = 'round trip, one call after each start';
const RTT_HELD = 'round trip, beta blocked as long as its local start (less the block)';
const RAW_LOCAL = 'bare floor, local: spawn in the raw ws server, timed there';
const RAW_REMOTE = 'bare floor, remote: asked of the raw ws server, first chunk as a ws message';
const RAW_OVER = 'bare floor: remote − local (median of each pair’s difference)';
const RAW_RTT = 'raw ws round trip (a number there and back), back to back';
const RAW_IDLE = 'raw ws round trip, one right after each bare remote start';
const CALL_LOCAL = 'messaging floor, local: child_process spawn in beta, timed there';
const CALL_REMOTE =
  "messaging floor, remote: call(ping, 'spawnFirst'), whose handler spawns and answers the first chunk";
const POST_LOCAL =
  'plain posts, local: spawn with three pipes in beta, stdout through a PassThrough, timed there';
const POST_REMOTE =
  "plain posts, remote: post(ping, 'postFirst'), each chunk posted back into a PassThrough here";

export async function benchRemoteStart(s: RemoteSetup): Promise<boolean> {
  const names = [
    'alpha',
    'beta',
    'remote',
    'over',
    'rtt',
    'idle',
    'held',
    'diff',
    'diffAlpha',
    'diffIdle',
    'diffHeld',
    'rawLocal',
    'rawRemote',
    'rawOver',
    'rawRtt',
    'rawIdle',
    'rawDiff',
    'diffRawIdle',
    'rawDiffIkc',
    'own',
    'ownDiff',
    'callLocal',
    'callRemote',
    'callOver',
    'callDiff',
    'jobsPart',
    'postLocal',
    'postRemote',
    'postOver',
    'postDiff',
    'layerPart',
  ] as const;
  type Name = (typeof names)[number];
  const results = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  for (let w = 0; w < WARM_ROUNDS; w++) await withTimeout(startRound(s), 'warm-up');
  await withTimeout(roundTrips(s), 'warm-up');
  for (let r = 0; r < RUNS; r++) {
    gc();
    await s.beta.request('gc');
    const round = await withTimeout(startRound(s), 'starts');
    const rtt = await withTimeout(roundTrips(s), 'round trips');
    const { over, rawOver } = round;
    const run: Record<Name, number> = {
      ...round,
      rtt: rtt.ikc,
      rawRtt: rtt.raw,
      diff: over / rtt.ikc,
      diffAlpha: round.overAlpha / rtt.ikc,
      diffIdle: over / round.idle,
      diffHeld: over / round.held,
      rawDiff: rawOver / rtt.raw,
      diffRawIdle: over / round.rawIdle,
      rawDiffIkc: rawOver / rtt.ikc,
      own: over - rawOver,
      ownDiff: (over - rawOver) / rtt.ikc,
      callDiff: round.callOver / rtt.ikc,
      jobsPart: over - round.callOver,
      postDiff: round.postOver / rtt.ikc,
      layerPart: over - round.postOver,
    };
    for (const name of names) results[name].push(run[name]);
  }
  const m = (name: Name) => median(results[name]);
  const target = `≤ ${FIRST_BYTE_TARGET_RTTS}`;
  report(`Fork to first byte of stdout, local and remote (${STARTS} triples of starts per run)`, [
    { name: LOCAL_ALPHA, value: m('alpha'), unit: 'ms' },
    { name: LOCAL_BETA, value: m('beta'), unit: 'ms', baseline: LOCAL_ALPHA },
    { name: REMOTE_START, value: m('remote'), unit: 'ms', baseline: LOCAL_BETA },
    { name: 'remote − local on beta (median of each triple’s difference)', value: m('over'), unit: 'ms' },
    { name: RTT_LOOP, value: m('rtt'), unit: 'ms' },
    { name: RTT_IDLE, value: m('idle'), unit: 'ms', baseline: RTT_LOOP },
    { name: RTT_HELD, value: m('held'), unit: 'ms', baseline: RTT_LOOP },
    { name: 'remote − local on beta, in back-to-back round trips', value: m('diff'), unit: 'RTT', target },
    { name: 'remote − local on alpha, in back-to-back round trips', value: m('diffAlpha'), unit: 'RTT' },
    { name: 'remote − local on beta, in after-start round trips', value: m('diffIdle'), unit: 'RTT' },
    { name: 'remote − local on beta, in held round trips', value: m('diffHeld'), unit: 'RTT' },
  ]);
  report('The bare floor of a remote start: raw ws and child_process, no ikc (same triples)', [
    { name: RAW_LOCAL, value: m('rawLocal'), unit: 'ms' },
    { name: RAW_REMOTE, value: m('rawRemote'), unit: 'ms', baseline: RAW_LOCAL },
    { name: RAW_OVER, value: m('rawOver'), unit: 'ms' },
    { name: RAW_RTT, value: m('rawRtt'), unit: 'ms' },
    { name: RAW_IDLE, value: m('rawIdle'), unit: 'ms', baseline: RAW_RTT },
    { name: 'bare floor: remote − local, in raw back-to-back round trips', value: m('rawDiff'), unit: 'RTT' },
    {
      name: 'bare floor: remote − local, in ikc back-to-back round trips',
      value: m('rawDiffIkc'),
      unit: 'RTT',
    },
    { name: 'ikc’s own part: remote − local on beta, less the bare floor’s', value: m('own'), unit: 'ms' },
    { name: 'ikc’s own part, in ikc back-to-back round trips', value: m('ownDiff'), unit: 'RTT' },
    {
      name: 'ikc remote − local on beta, in raw round trips right after a start',
      value: m('diffRawIdle'),
      unit: 'RTT',
    },
  ]);
  // A pair's rows: its local and remote halves, their difference in ms and in round trips.
  const pairRows = (what: string, local: string, remote: string, keys: Name[]): Row[] => {
    const [l, r, over, diff] = keys as [Name, Name, Name, Name];
    return [
      { name: local, value: m(l), unit: 'ms' },
      { name: remote, value: m(r), unit: 'ms', baseline: local },
      { name: `${what}: remote − local (median of each pair’s difference)`, value: m(over), unit: 'ms' },
      { name: `${what}: remote − local, in back-to-back round trips`, value: m(diff), unit: 'RTT' },
    ];
  };
  report('The floor on ikc’s messaging: a remote start by a call, no job in it (same triples)', [
    ...pairRows('messaging floor', CALL_LOCAL, CALL_REMOTE, [
      'callLocal',
      'callRemote',
      'callOver',
      'callDiff',
    ]),
    {
      name: 'the jobs layer’s part: remote − local on beta, less the messaging floor’s',
      value: m('jobsPart'),
      unit: 'ms',
    },
  ]);
  report('A job’s shape from plain posts: three pipes, a post each way, a PassThrough (same triples)', [
    ...pairRows('plain posts', POST_LOCAL, POST_REMOTE, ['postLocal', 'postRemote', 'postOver', 'postDiff']),
    {
      name: 'what the jobs layer adds beyond them: remote − local on beta, less plain posts’',
      value: m('layerPart'),
      unit: 'ms',
    },
  ]);
  const perRun = (name: Name, digits = 2) => results[name].map((x) => x.toFixed(digits)).join(', ');
  const rss = await s.beta.request<Mem>('mem');
  console.log(
    `- runs: local on alpha ${perRun('alpha')} ms; local on beta ${perRun('beta')} ms; remote ${perRun('remote')} ms; ` +
      `round trip ${perRun('rtt', 3)} ms back to back, ${perRun('idle', 3)} ms after a start, ` +
      `${perRun('held', 3)} ms held; ` +
      `remote − local on beta ${perRun('over')} ms, ${perRun('diff', 1)} RTT; ` +
      `bare floor remote − local ${perRun('rawOver')} ms, raw round trip ${perRun('rawRtt', 3)} ms back to back, ${perRun('rawIdle', 3)} ms after a start; ` +
      `messaging floor remote − local ${perRun('callOver')} ms, ${perRun('callDiff', 1)} RTT; ` +
      `plain posts remote − local ${perRun('postOver')} ms, ${perRun('postDiff', 1)} RTT\n` +
      `- RSS now (a fork's cost grows with the forking process's): alpha ${fmt(process.memoryUsage.rss() / MIB)} MiB, ` +
      `beta ${fmt(rss.rss / MIB)} MiB`,
  );
  const met = m('diff') <= FIRST_BYTE_TARGET_RTTS;
  console.log(
    `- target remote ≤ local + ${FIRST_BYTE_TARGET_RTTS} round trips: ${met ? 'met' : 'NOT met'}\n`,
  );
  return met;
}
