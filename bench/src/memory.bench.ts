/**
 * Heap cost of idle sessions: 100,000 sessions spawned on a fresh kernel and left idle,
 * measured as heapUsed after a full GC, before and after, divided by the count.
 *
 * The main figure is the usual shape of a session module: every session shares one `events`
 * object and holds one unique alias (the alias string is counted: the kernel keeps it). Two
 * rows give context: a fresh `events` object per session, and no alias. A session with no
 * alias and nothing else holding it stops as soon as it has started, so the alias-less
 * sessions are kept alive with `k.hold()`, and the release function the bench keeps for each
 * (a closure, plus its slot in an array) is counted too.
 *
 * Needs --expose-gc (scripts/bench.mjs passes it). Each run uses a fresh Kernel and stops it.
 */
import { type Events, Kernel, type Session } from '@ikc/kernel';
import { medianOf, type Row, report } from './harness.js';

const SESSIONS = 100_000;
const TARGET_BYTES = 1024;

if (typeof globalThis.gc !== 'function') {
  console.error('memory.bench needs --expose-gc (run it through scripts/bench.mjs)');
  process.exit(1);
}

/** heapUsed after full GCs: twice, as the first can leave work (weak references, finalizers). */
function heapAfterGc(): number {
  const gc = globalThis.gc as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

type Shape = 'shared' | 'fresh' | 'noAlias';

const sharedEvents: Events = {
  ping: (_ctx, n: number) => n + 1,
};

/** Bytes of heap per idle session for one shape, in a fresh kernel. */
async function perSession(shape: Shape): Promise<number> {
  const k = new Kernel({ name: 'bench', processSignals: false });
  const releases: (() => void)[] = [];
  let first: Session | undefined;
  const before = heapAfterGc();
  for (let i = 0; i < SESSIONS; i++) {
    let s: Session;
    if (shape === 'noAlias') {
      s = k.spawn({ events: sharedEvents });
      releases.push(k.hold(s));
    } else {
      const events: Events = shape === 'shared' ? sharedEvents : { ping: (_ctx, n: number) => n + 1 };
      s = k.spawn({ alias: `session-${i}`, events });
    }
    first ??= s;
  }
  await k.idle();
  const after = heapAfterGc();
  if (k.size !== SESSIONS) throw new Error(`${shape}: ${k.size} of ${SESSIONS} sessions alive`);
  // Check a session still answers, so nothing was optimised away or stopped.
  if (!first || (await k.call(first, 'ping', 1)) !== 2) {
    throw new Error(`${shape}: a session does not answer`);
  }
  for (const release of releases) release();
  await k.stop();
  return (after - before) / SESSIONS;
}

const SHARED = `${SESSIONS / 1000}k sessions, alias each, shared events`;
const target = `< ${TARGET_BYTES} B`;
const rows: Row[] = [
  { name: SHARED, value: await medianOf(() => perSession('shared')), unit: 'B/session', target },
  {
    name: `${SESSIONS / 1000}k sessions, alias each, own events object`,
    value: await medianOf(() => perSession('fresh')),
    unit: 'B/session',
    baseline: SHARED,
  },
  {
    name: `${SESSIONS / 1000}k sessions, no alias (held by k.hold())`,
    value: await medianOf(() => perSession('noAlias')),
    unit: 'B/session',
    baseline: SHARED,
  },
];
report('Idle session memory (heapUsed after gc, per session)', rows);
const main = rows[0]?.value ?? Number.NaN;
console.log(
  `Targets:\n- ${SHARED}: ${main.toFixed(0)} B/session, ${main < TARGET_BYTES ? 'met' : 'NOT met'} (< ${TARGET_BYTES} B)\n`,
);
