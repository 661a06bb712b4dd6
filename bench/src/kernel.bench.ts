/**
 * Local kernel throughput: post dispatch and call rate, each next to a baseline measured in
 * the same process run.
 *
 * - post: three shapes (bursts from outside, a self-posting chain, one deep queue), against
 *   Node's EventEmitter `emit` to one listener. emit is synchronous and queues nothing, so it
 *   is an upper bound for any queued dispatch, not an equal.
 * - call: `await k.call(...)` one at a time and in Promise.all batches, against Moleculer
 *   0.15's local action call (`broker.call('calc.add', ...)`) in the same two shapes.
 *
 * Every figure is the median of RUNS runs after a warm-up (IKC_BENCH_RUNS, default 5). The
 * whole file runs in well under a minute on a 2-core machine.
 */
import { EventEmitter } from 'node:events';
import { Kernel, type Session } from '@ikc/kernel';
import { ServiceBroker } from 'moleculer';
import { fmt, median, medianOf, type Row, report } from './harness.js';

/** Events per post measurement (each shape). */
const POSTS = 2_000_000;
/** Events posted from outside before each `await k.idle()` in the burst shape. */
const BURST = 10_000;
/** Calls per call measurement (each shape, each side). */
const CALLS = 1_000_000;
/** Calls started before each Promise.all in the batched shape. */
const BATCH = 1_000;

const POST_TARGET = 4_000_000;
const CALL_TARGET = 1.5;

/** Sum of 0 .. n-1: what a `tick` handler adding up its arguments ends with. */
function triangle(n: number): number {
  return (n * (n - 1)) / 2;
}

function rate(count: number, start: bigint): number {
  return (count * 1e9) / Number(process.hrtime.bigint() - start);
}

function newKernel(): Kernel {
  return new Kernel({ name: 'bench', processSignals: false });
}

// ---- post dispatch --------------------------------------------------------------------------

/** A kernel with one session, aliased so it stays alive between bursts, adding up its `tick`s'
 * arguments (checked after each run, so no handler body can be optimised away). */
function tickKernel(): { k: Kernel; s: Session; total: () => number } {
  const k = newKernel();
  let sum = 0;
  const s = k.spawn({
    alias: 'sink',
    events: {
      tick: (_ctx, i: number) => {
        sum += i;
      },
    },
  });
  return { k, s, total: () => sum };
}

async function postBursts(): Promise<number> {
  const { k, s, total } = tickKernel();
  const start = process.hrtime.bigint();
  for (let done = 0; done < POSTS; done += BURST) {
    for (let i = 0; i < BURST; i++) k.post(s, 'tick', i);
    await k.idle();
  }
  const r = rate(POSTS, start);
  if (total() !== (POSTS / BURST) * triangle(BURST)) throw new Error(`bursts: wrong sum ${total()}`);
  await k.stop();
  return r;
}

async function postChain(): Promise<number> {
  const k = newKernel();
  let hops = 0;
  const s = k.spawn({
    alias: 'chain',
    events: {
      hop: (ctx, n: number) => {
        hops++;
        if (n > 1) ctx.yield('hop', n - 1);
      },
    },
  });
  const start = process.hrtime.bigint();
  k.post(s, 'hop', POSTS);
  await k.idle();
  const r = rate(POSTS, start);
  if (hops !== POSTS) throw new Error(`chain: ${hops} of ${POSTS} hops`);
  await k.stop();
  return r;
}

/** The deep queue's two phases, per run (the warm-up's included; dropped when printed). */
const deepEnqueue: number[] = [];
const deepDispatch: number[] = [];
const deepTotal: number[] = [];

async function postDeep(): Promise<number> {
  const { k, s, total } = tickKernel();
  const start = process.hrtime.bigint();
  for (let i = 0; i < POSTS; i++) k.post(s, 'tick', i);
  const queued = process.hrtime.bigint();
  await k.idle();
  const end = process.hrtime.bigint();
  if (total() !== triangle(POSTS)) throw new Error(`deep queue: wrong sum ${total()}`);
  deepEnqueue.push((POSTS * 1e9) / Number(queued - start));
  deepDispatch.push((POSTS * 1e9) / Number(end - queued));
  deepTotal.push((POSTS * 1e9) / Number(end - start));
  await k.stop();
  return deepTotal[deepTotal.length - 1] as number;
}

function emitterEmit(): number {
  const ee = new EventEmitter();
  let sum = 0;
  ee.on('tick', (i: number) => {
    sum += i;
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < POSTS; i++) ee.emit('tick', i);
  const r = rate(POSTS, start);
  if (sum !== triangle(POSTS)) throw new Error(`emit: wrong sum ${sum}`);
  return r;
}

// ---- local call -----------------------------------------------------------------------------

type Caller = (i: number) => Promise<number>;

async function callSequential(call: Caller): Promise<number> {
  const start = process.hrtime.bigint();
  let sum = 0;
  for (let i = 0; i < CALLS; i++) sum += await call(i);
  const r = rate(CALLS, start);
  if (sum !== triangle(CALLS + 1)) throw new Error(`sequential calls: wrong sum ${sum}`);
  return r;
}

async function callBatched(call: Caller): Promise<number> {
  const start = process.hrtime.bigint();
  let sum = 0;
  const batch: Promise<number>[] = new Array(BATCH);
  for (let done = 0; done < CALLS; done += BATCH) {
    for (let j = 0; j < BATCH; j++) batch[j] = call(done + j);
    for (const v of await Promise.all(batch)) sum += v;
  }
  const r = rate(CALLS, start);
  if (sum !== triangle(CALLS + 1)) throw new Error(`batched calls: wrong sum ${sum}`);
  return r;
}

async function withKernelCalc<T>(body: (k: Kernel) => Promise<T>): Promise<T> {
  const k = newKernel();
  k.spawn({ alias: 'calc', events: { add: (_ctx, a: number, b: number) => a + b } });
  try {
    return await body(k);
  } finally {
    await k.stop();
  }
}

async function withBrokerCalc<T>(body: (broker: ServiceBroker) => Promise<T>): Promise<T> {
  const broker = new ServiceBroker({ logger: false, metrics: false, tracing: false });
  broker.createService({
    name: 'calc',
    actions: {
      add(ctx) {
        return ctx.params.a + ctx.params.b;
      },
    },
  });
  await broker.start();
  try {
    return await body(broker);
  } finally {
    await broker.stop();
  }
}

// ---- main -----------------------------------------------------------------------------------

const posts: Row[] = [
  { name: 'EventEmitter emit, 1 listener (sync)', value: await medianOf(emitterEmit), unit: 'events/s' },
];
for (const [name, once] of [
  [`ikc post, bursts of ${BURST / 1000}k + idle()`, postBursts],
  ['ikc post, self-yield chain', postChain],
  [`ikc post, one deep queue of ${POSTS / 1e6}M`, postDeep],
] as const) {
  posts.push({
    name,
    value: await medianOf(once),
    unit: 'events/s',
    baseline: posts[0]?.name,
    target: `>= ${POST_TARGET / 1e6}M/s`,
  });
}
report(`Local post dispatch (${POSTS / 1e6}M events per run)`, posts);
const deepRuns = deepTotal.slice(1);
console.log(
  `Deep queue: runs from ${fmt(Math.min(...deepRuns))} to ${fmt(Math.max(...deepRuns))} events/s; ` +
    `by phase (medians), enqueue ${fmt(median(deepEnqueue.slice(1)))} posts/s, ` +
    `then dispatch ${fmt(median(deepDispatch.slice(1)))} events/s.\n`,
);

const SEQ_IKC = 'ikc call, sequential await';
const SEQ_ALIAS = 'ikc call by alias, sequential await';
const SEQ_MOL = 'Moleculer call, sequential await';
const BAT_IKC = `ikc call, Promise.all of ${BATCH}`;
const BAT_ALIAS = `ikc call by alias, Promise.all of ${BATCH}`;
const BAT_MOL = `Moleculer call, Promise.all of ${BATCH}`;
const target = `>= ${CALL_TARGET}x Moleculer`;
const calls: Row[] = [];
await withBrokerCalc(async (broker) => {
  const call: Caller = (i) => broker.call('calc.add', { a: i, b: 1 });
  calls.push({ name: SEQ_MOL, value: await medianOf(() => callSequential(call)), unit: 'calls/s' });
  calls.push({ name: BAT_MOL, value: await medianOf(() => callBatched(call)), unit: 'calls/s' });
});
await withKernelCalc(async (k) => {
  const s = k.lookup('calc');
  if (!s) throw new Error('no calc session');
  const bySession: Caller = (i) => k.call<number>(s, 'add', i, 1);
  const byAlias: Caller = (i) => k.call<number>('calc', 'add', i, 1);
  const seq = async (c: Caller) => medianOf(() => callSequential(c));
  const bat = async (c: Caller) => medianOf(() => callBatched(c));
  calls.push({ name: SEQ_IKC, value: await seq(bySession), unit: 'calls/s', baseline: SEQ_MOL, target });
  calls.push({ name: SEQ_ALIAS, value: await seq(byAlias), unit: 'calls/s', baseline: SEQ_MOL, target });
  calls.push({ name: BAT_IKC, value: await bat(bySession), unit: 'calls/s', baseline: BAT_MOL, target });
  calls.push({ name: BAT_ALIAS, value: await bat(byAlias), unit: 'calls/s', baseline: BAT_MOL, target });
});
report(`Local call (${CALLS / 1e6}M calls per run, handler returns a + b)`, calls);

const byName = new Map(calls.map((r) => [r.name, r.value]));
const ratio = (a: string, b: string) => (byName.get(a) ?? Number.NaN) / (byName.get(b) ?? Number.NaN);
const verdicts = [
  ...posts.slice(1).map((r) => `${r.name}: ${r.value >= POST_TARGET ? 'met' : 'NOT met'}`),
  ...[
    [SEQ_IKC, SEQ_MOL],
    [SEQ_ALIAS, SEQ_MOL],
    [BAT_IKC, BAT_MOL],
    [BAT_ALIAS, BAT_MOL],
  ].map(([a, b]) => {
    const x = ratio(a as string, b as string);
    return `${a}: ${x.toFixed(2)}x Moleculer, ${x >= CALL_TARGET ? 'met' : 'NOT met'}`;
  }),
];
console.log(`Targets:\n${verdicts.map((v) => `- ${v}`).join('\n')}\n`);
