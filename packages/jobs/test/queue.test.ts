import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IkcError } from '@ikc/wire';
import type { Job, JobInfo } from '../src/index.js';
import { RunQueue as Queue } from '../src/queue.js';
import { closeAll, setup } from './helpers.js';

after(closeAll);

/** Records the order in which jobs start and the most that ran at once. */
function track(jobs: Job[]): { order: string[]; peak: () => number } {
  const order: string[] = [];
  let running = 0;
  let peak = 0;
  for (const job of jobs) {
    job.on('start', () => {
      order.push(job.name);
      peak = Math.max(peak, ++running);
    });
    job.on('finish', () => running--);
  }
  return { order, peak: () => peak };
}

describe('the queue', () => {
  it('runs at most maxProc jobs at once', async () => {
    const { jobs } = setup({ maxProc: 2 });
    const all = Array.from({ length: 5 }, (_, i) => jobs.fork({ cmd: ['sleep', '0.05'], name: `j${i}` }));
    const seen = track(all);
    let maxActive = 0;
    for (const job of all)
      job.on('state', () => {
        maxActive = Math.max(maxActive, jobs.list().filter((j) => j.state === 'active').length);
      });
    await Promise.all(all.map((j) => j.wait()));
    assert.equal(seen.peak(), 2);
    assert.equal(maxActive, 2);
    assert.deepEqual(seen.order, ['j0', 'j1', 'j2', 'j3', 'j4'], 'equal priorities run in fork order');
  });

  it('starts higher priorities first, then in fork order', async () => {
    const { jobs } = setup({ maxProc: 1 });
    const blocker = jobs.fork({ cmd: ['sleep', '0.1'], name: 'blocker' });
    const order: string[] = [];
    blocker.once('start', () => order.push('blocker'));
    await new Promise((resolve) => blocker.once('start', resolve));
    const rest = [
      jobs.fork({ cmd: ['true'], name: 'low', priority: -1 }),
      jobs.fork({ cmd: ['true'], name: 'mid1' }),
      jobs.fork({ cmd: ['true'], name: 'high', priority: 5 }),
      jobs.fork({ cmd: ['true'], name: 'mid2' }),
    ];
    const seen = track(rest);
    await Promise.all([blocker, ...rest].map((j) => j.wait()));
    assert.deepEqual([...order, ...seen.order], ['blocker', 'high', 'mid1', 'mid2', 'low']);
  });

  it("onBusy 'fail' throws IKC_ERR_JOB_BUSY when maxProc jobs run; 'block' and 'queue' wait", async () => {
    const { jobs } = setup({ maxProc: 1 });
    const running = jobs.fork({ cmd: ['sleep', '0.05'] });
    assert.throws(
      () => jobs.fork({ cmd: ['true'], onBusy: 'fail' }),
      (err: unknown) => IkcError.is(err, 'IKC_ERR_JOB_BUSY') && (err as IkcError).details?.maxProc === 1,
    );
    const blocked = jobs.fork({ cmd: ['true'], onBusy: 'block' });
    const queued = jobs.fork({ cmd: ['true'], onBusy: 'queue' });
    assert.equal((await blocked.wait()).exitCode, 0);
    assert.equal((await queued.wait()).exitCode, 0);
    await running.wait();
    const free = jobs.fork({ cmd: ['true'], onBusy: 'fail' });
    assert.equal((await free.wait()).exitCode, 0);
  });

  it("a deferred onBusy 'fail' job fails when its time comes and no slot is free", async () => {
    const { jobs } = setup({ maxProc: 1 });
    const long = jobs.fork({ cmd: ['sleep', '0.3'] });
    const job = jobs.fork({ cmd: ['true'], onBusy: 'fail', delay: 0.05 });
    let failed: JobInfo | undefined;
    job.on('fail', (info: JobInfo) => {
      failed = info;
    });
    const outcome = await job.wait();
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_BUSY'));
    assert.equal(failed?.error?.code, 'IKC_ERR_JOB_BUSY');
    long.kill();
  });

  it('dependsOn: starts after those jobs have ended, whatever their exit', async () => {
    const { jobs } = setup({ maxProc: 4 });
    const a = jobs.fork({ cmd: ['sleep', '0.4'], name: 'a' });
    const b = jobs.fork({ cmd: ['sh', '-c', 'sleep 0.05; exit 1'], name: 'b' });
    const c = jobs.fork({ cmd: ['true'], name: 'c', dependsOn: [a, b.id] });
    const d = jobs.fork({ cmd: ['true'], name: 'd', dependsOn: c });
    assert.equal(c.state, 'deferred');
    const ended: string[] = [];
    const started: string[] = [];
    for (const j of [a, b, c, d]) {
      j.on('finish', () => ended.push(j.name));
      j.on('start', () => started.push(j.name));
    }
    await d.wait();
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
    assert.deepEqual(ended, ['b', 'a', 'c', 'd']);
  });

  it('dependsOn an id that was reaped long ago is met', async () => {
    const { jobs } = setup();
    const a = jobs.fork({ cmd: ['true'] });
    await a.wait();
    const b = jobs.fork({ cmd: ['true'], dependsOn: a.id });
    assert.equal(b.state, 'queued');
    await b.wait();
  });

  it('dependsStart: starts once those jobs have started', async () => {
    const { jobs } = setup({ maxProc: 2 });
    const first = jobs.fork({ cmd: ['sleep', '0.2'], name: 'first', delay: 0.05 });
    const second = jobs.fork({ cmd: ['true'], name: 'second', dependsStart: first });
    assert.equal(second.state, 'deferred');
    await second.wait();
    assert.equal(first.state, 'active', 'second ended while first still ran');
    await first.wait();
  });

  it('delay and startAfter defer the start', async () => {
    const { jobs } = setup();
    const t0 = Date.now();
    const delayed = jobs.fork({ cmd: ['true'], delay: 0.15 });
    const after = jobs.fork({ cmd: ['true'], startAfter: new Date(t0 + 100) });
    const epoch = jobs.fork({ cmd: ['true'], startAfter: t0 + 50 });
    assert.deepEqual([delayed.state, after.state, epoch.state], ['deferred', 'deferred', 'deferred']);
    const startedAt = (job: Job) =>
      new Promise<number>((resolve) => job.once('start', () => resolve(Date.now() - t0)));
    const [d, a, e] = await Promise.all([startedAt(delayed), startedAt(after), startedAt(epoch)]);
    assert.ok(d >= 150 && a >= 100 && e >= 50, `started at ${d}, ${a}, ${e} ms`);
    assert.ok(e <= a && a <= d);
  });

  it('retries a failed job up to `retries` more times', async (t) => {
    const { jobs } = setup();
    // Fails twice, then succeeds: the count lives in a file.
    const dir = mkdtempSync(join(tmpdir(), 'ikc-jobs-retry-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tries');
    const script = `n=$(cat ${file} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${file}; echo "try $n"; [ $n -ge 3 ]`;
    const job = jobs.fork({ cmd: ['sh', '-c', script], retries: 3, capture: true });
    const starts: number[] = [];
    job.on('start', (info: JobInfo) => starts.push(info.attempts));
    const outcome = await job.wait();
    assert.equal(outcome.exitCode, 0);
    assert.equal(job.attempts, 3);
    assert.deepEqual(starts, [1, 2, 3]);
    assert.equal(job.stdoutText, 'try 3\n', 'capture holds the last attempt');

    const hopeless = jobs.fork({ cmd: ['sh', '-c', 'exit 7'], retries: 2 });
    assert.equal((await hopeless.wait()).exitCode, 7);
    assert.equal(hopeless.attempts, 3);
  });

  it('kill() takes a waiting job out of the queue; it ends with that signal and is not run', async () => {
    const { jobs } = setup({ maxProc: 1 });
    const blocker = jobs.fork({ cmd: ['sleep', '0.1'] });
    const waiting = jobs.fork({ cmd: ['true'] });
    const deferred = jobs.fork({ cmd: ['true'], delay: 10 });
    const events: string[] = [];
    waiting.on('fail', () => events.push('fail'));
    waiting.on('start', () => events.push('start'));
    assert.equal(waiting.kill('SIGINT'), true);
    assert.equal(deferred.kill(), true);
    assert.deepEqual(await waiting.wait(), { exitCode: null, signal: 'SIGINT', result: undefined });
    assert.equal((await deferred.wait()).signal, 'SIGTERM');
    assert.equal(waiting.kill(), false, 'nothing to kill once ended');
    await blocker.wait();
    assert.deepEqual(events, ['fail']);
  });

  it('raising maxProc starts waiting jobs at once', async () => {
    const { jobs } = setup({ maxProc: 1 });
    const a = jobs.fork({ cmd: ['sleep', '0.3'] });
    const b = jobs.fork({ cmd: ['true'] });
    await new Promise((resolve) => a.once('start', resolve));
    assert.equal(b.state, 'queued');
    jobs.maxProc = 2;
    await b.wait();
    assert.equal(a.state, 'active');
    a.kill();
  });

  it('close() ends waiting jobs with IKC_ERR_JOBS_CLOSED and kills running ones', async () => {
    const { jobs } = setup({ maxProc: 1 });
    const running = jobs.fork({ cmd: ['sleep', '30'] });
    const waiting = jobs.fork({ cmd: ['true'] });
    await new Promise((resolve) => running.once('start', resolve));
    await jobs.close();
    assert.equal((await running.wait()).signal, 'SIGTERM');
    assert.ok(IkcError.is((await waiting.wait()).error, 'IKC_ERR_JOBS_CLOSED'));
  });
});

describe('RunQueue', () => {
  it('orders by priority, then arrival, and removes from anywhere', () => {
    const q = new Queue<{ priority: number; n: number }>();
    const items = [3, 1, 3, 0, 5, 1, 3].map((priority, n) => ({ priority, n }));
    for (const item of items) q.push(item);
    assert.equal(q.remove(items[2] as { priority: number; n: number }), true);
    assert.deepEqual(
      q.toArray().map((i) => i.n),
      [4, 0, 6, 1, 5, 3],
    );
    const out: number[] = [];
    for (let item = q.shift(); item; item = q.shift()) out.push(item.n);
    assert.deepEqual(out, [4, 0, 6, 1, 5, 3]);
    assert.equal(q.size, 0);
  });
});
