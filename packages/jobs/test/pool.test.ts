import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IkcError } from '@ikc/wire';
import { closeAll, fixture, setup } from './helpers.js';

after(closeAll);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('process pool', () => {
  it('runs exports on warm workers and resolves to their return values', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 2 });
    await pool.ready();
    assert.equal(pool.pids.length, 2);
    assert.equal(await pool.run('add', 2, 3), 5);
    const value = { at: new Date(1), m: new Map([['k', [1, 2]]]) };
    assert.deepEqual(await pool.run('clone', value), value);
    await pool.close();
  });

  it('runs size calls at once and queues the rest', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 2 });
    await pool.ready();
    const t0 = Date.now();
    const calls = [1, 2, 3, 4, 5].map(() => pool.run<number>('sleep', 100));
    assert.equal(pool.busy, 2);
    assert.equal(pool.queued, 3);
    const pids = await Promise.all(calls);
    const took = Date.now() - t0;
    assert.ok(took >= 300 && took < 1500, `5 calls of 100 ms on 2 workers took ${took} ms`);
    assert.deepEqual(new Set(pids), new Set(pool.pids), 'both workers worked');
    await pool.close();
  });

  it('rejects with the thrown error, name, code and message kept', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 1 });
    await assert.rejects(pool.run('fails', 'bad input'), (err: Error & { code?: string }) => {
      return err.name === 'TypeError' && err.code === 'E_POOL_TASK' && err.message === 'bad input';
    });
    await assert.rejects(pool.run('nothing'), (err: unknown) => IkcError.is(err, 'IKC_ERR_INVALID_ARG'));
    await assert.rejects(
      pool.run('clone', () => 1),
      (err: unknown) => IkcError.is(err, 'IKC_ERR_INVALID_ARG'),
    );
    await assert.rejects(pool.run('unclonable'), /cannot be sent/);
    assert.equal(await pool.run('add', 1, 1), 2, 'the worker still works');
    await pool.close();
  });

  it('replaces a worker that exits; its call rejects with IKC_ERR_JOB_CRASHED', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 1 });
    const [pid] = await Promise.all([pool.run<number>('pid'), pool.ready()]);
    await assert.rejects(pool.run('exits', 3), (err: IkcError) => {
      assert.ok(IkcError.is(err, 'IKC_ERR_JOB_CRASHED'));
      assert.equal(err.message, `pool worker ${pid} died (exit code 3) while running "exits"`);
      assert.equal(err.details?.exitCode, 3);
      return true;
    });
    const next = await pool.run<number>('pid');
    assert.notEqual(next, pid);
    assert.equal(await pool.run('add', 2, 2), 4);
    await pool.close();
  });

  it('replaces a worker killed by a signal', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 2 });
    await pool.ready();
    const slow = pool.run('sleep', 200);
    await assert.rejects(pool.run('killed'), (err: IkcError) => {
      assert.ok(IkcError.is(err, 'IKC_ERR_JOB_CRASHED'));
      assert.match(err.message, /^pool worker \d+ died \(signal SIGKILL\) while running "killed"$/);
      assert.equal(err.details?.signal, 'SIGKILL');
      return true;
    });
    assert.equal(typeof (await slow), 'number', 'the other worker was not disturbed');
    assert.equal(await pool.run('add', 1, 2), 3);
    await pool.ready();
    assert.equal(pool.pids.length, 2);
    await pool.close();
  });

  it('close() waits for running and queued calls, then the workers exit', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 1 });
    await pool.ready();
    const pids = pool.pids;
    const calls = [pool.run('sleep', 50), pool.run('sleep', 50)];
    const closed = pool.close();
    await assert.rejects(pool.run('add', 1, 1), (err: unknown) => IkcError.is(err, 'IKC_ERR_JOBS_CLOSED'));
    await closed;
    assert.equal((await Promise.allSettled(calls)).filter((r) => r.status === 'fulfilled').length, 2);
    assert.equal(pool.pids.length, 0);
    assert.ok(pids.every((p) => !alive(p)));
  });

  it('close({ force: true }) kills the workers; unanswered calls reject', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 1 });
    await pool.ready();
    const pids = pool.pids;
    const closedError = (err: unknown) => IkcError.is(err, 'IKC_ERR_JOBS_CLOSED');
    const running = assert.rejects(pool.run('sleep', 10_000), closedError);
    const queued = assert.rejects(pool.run('add', 1, 2), closedError);
    const t0 = Date.now();
    await pool.close({ force: true });
    assert.ok(Date.now() - t0 < 2000);
    await running;
    await queued;
    assert.ok(pids.every((p) => !alive(p)));
  });

  it('a module that cannot be imported rejects ready() and every call', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: '/nonexistent/ikc-pool.mjs', size: 1 });
    await assert.rejects(pool.ready(), { code: 'ERR_MODULE_NOT_FOUND' });
    await assert.rejects(pool.run('x'), { code: 'ERR_MODULE_NOT_FOUND' });
    await pool.close();
  });

  it('jobs.close() closes its pools', async () => {
    const { jobs } = setup();
    const pool = jobs.pool({ module: fixture('pool-tasks'), size: 2 });
    await pool.ready();
    const pids = pool.pids;
    await jobs.close();
    assert.ok(pids.every((p) => !alive(p)));
    await assert.rejects(pool.run('add', 1, 1), (err: unknown) => IkcError.is(err, 'IKC_ERR_JOBS_CLOSED'));
  });
});
