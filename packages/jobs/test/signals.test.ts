import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IkcError } from '@ikc/wire';
import type { JobState } from '../src/index.js';
import { closeAll, groupGone, liveMembers, nodeScript, setup, sleep } from './helpers.js';

after(closeAll);

/** Counts the `tick` lines a ticker job has written so far. */
function ticks(stream: NodeJS.ReadableStream): () => number {
  let n = 0;
  stream.on('data', (chunk: Buffer) => {
    n += chunk.toString().split('\n').length - 1;
  });
  return () => n;
}

describe('timeouts and signals', () => {
  it('a timeout kills the whole process group, grandchildren included', async () => {
    const { jobs } = setup();
    const t0 = Date.now();
    const job = jobs.fork({ cmd: ['sh', '-c', 'sleep 30 & sleep 30'], timeout: 0.3 });
    await new Promise((resolve) => job.once('start', resolve));
    const pgid = job.pid as number;
    process.kill(-pgid, 0); // the group exists while it runs
    const outcome = await job.wait();
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(outcome.signal, 'SIGTERM');
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_TIMEOUT'), String(outcome.error));
    await sleep(50);
    assert.deepEqual(liveMembers(pgid), [], 'no live process of the group is left');
    assert.ok(await groupGone(pgid), `a process of group ${pgid} is left`);
    assert.throws(() => process.kill(-pgid, 0), { code: 'ESRCH' });
  });

  it('a job that ignores SIGTERM gets SIGKILL after the grace period', async () => {
    const { jobs } = setup({ killGraceMs: 200 });
    const job = jobs.fork({ cmd: ['sh', '-c', 'trap "" TERM; sleep 30 & sleep 30'], timeout: 0.2 });
    await new Promise((resolve) => job.once('start', resolve));
    const pgid = job.pid as number;
    const outcome = await job.wait();
    assert.equal(outcome.signal, 'SIGKILL');
    assert.ok(await groupGone(pgid));
  });

  it('expiration kills a job at an instant, and fails one that would start after it', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['sleep', '30'], expiration: Date.now() + 200 });
    const outcome = await job.wait();
    assert.equal(outcome.signal, 'SIGTERM');
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_TIMEOUT'));

    const late = jobs.fork({ cmd: ['true'], delay: 0.1, expiration: new Date(Date.now() + 50) });
    const events: string[] = [];
    late.on('start', () => events.push('start'));
    late.on('fail', () => events.push('fail'));
    const lateOutcome = await late.wait();
    assert.ok(IkcError.is(lateOutcome.error, 'IKC_ERR_JOB_TIMEOUT'));
    assert.equal(late.pid, null);
    assert.deepEqual(events, ['fail']);
  });

  it('wait(timeoutMs) rejects with IKC_ERR_TIMEOUT and leaves the job running', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['sleep', '0.3'] });
    await assert.rejects(job.wait(50), (err: unknown) => IkcError.is(err, 'IKC_ERR_TIMEOUT'));
    assert.equal(job.state, 'active');
    assert.equal((await job.wait(5000)).exitCode, 0);
  });

  it('kill() signals the whole group and is not retried', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['sh', '-c', 'sleep 30 & sleep 30'], retries: 3 });
    await new Promise((resolve) => job.once('start', resolve));
    const pgid = job.pid as number;
    assert.equal(job.kill('SIGKILL'), true);
    const outcome = await job.wait();
    assert.equal(outcome.signal, 'SIGKILL');
    assert.equal(outcome.error, undefined);
    assert.equal(job.attempts, 1);
    assert.ok(await groupGone(pgid));
  });

  it('suspend() stops the group (output pauses) and resume() continues it', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: nodeScript('ticker') });
    const count = ticks(job.stdout);
    const states: JobState[] = [];
    job.on('state', (s: JobState) => states.push(s));
    while (count() < 3) await sleep(10);
    assert.equal(job.suspend(), true);
    assert.equal(job.state, 'suspended');
    assert.equal(job.suspend(), false, 'already suspended');
    await sleep(50); // let output already in the pipe arrive
    const frozen = count();
    await sleep(200);
    assert.equal(count(), frozen, 'no output while stopped');
    assert.equal(job.resume(), true);
    assert.equal(job.state, 'active');
    const resumedAt = count();
    while (count() < resumedAt + 3) await sleep(10);
    job.kill();
    await job.wait();
    assert.deepEqual(states, ['active', 'suspended', 'active', 'complete', 'reaped']);
  });

  it('kill() of a suspended job continues it so that it gets the signal', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['sleep', '30'] });
    await new Promise((resolve) => job.once('start', resolve));
    job.suspend();
    job.kill('SIGTERM');
    assert.equal((await job.wait(3000)).signal, 'SIGTERM');
  });

  it('a timeout reaches a suspended job too', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['sleep', '30'], timeout: 0.2 });
    await new Promise((resolve) => job.once('start', resolve));
    job.suspend();
    const outcome = await job.wait(3000);
    assert.equal(outcome.signal, 'SIGTERM');
  });

  it('suspend() and resume() of a job that is not running do nothing', async () => {
    const { jobs } = setup({ maxProc: 1 });
    const a = jobs.fork({ cmd: ['sleep', '0.05'] });
    const b = jobs.fork({ cmd: ['true'] });
    assert.equal(b.suspend(), false);
    assert.equal(b.resume(), false);
    await a.wait();
    await b.wait();
    assert.equal(b.suspend(), false);
  });
});
