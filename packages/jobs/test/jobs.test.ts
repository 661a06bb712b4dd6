import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, describe, it } from 'node:test';
import { IkcError } from '@ikc/wire';
import { type JobEventPayload, type JobInfo, type JobState, Jobs } from '../src/index.js';
import { closeAll, fixture, readAll, setup } from './helpers.js';

after(closeAll);

describe('cmd jobs', () => {
  it('runs argv without a shell and resolves wait() with the exit code', async () => {
    const { jobs, kernel } = setup();
    const job = jobs.fork({ cmd: ['sh', '-c', 'exit 3'] });
    assert.match(job.id, new RegExp(`^${kernel.id}\\.j\\d+$`));
    assert.equal(job.name, 'sh');
    const outcome = await job.wait();
    assert.deepEqual(outcome, { exitCode: 3, signal: null, result: undefined });
    assert.equal(job.exitCode, 3);
    assert.equal(job.signal, null);
    assert.equal(job.error, undefined);
  });

  it('goes queued -> active -> complete -> reaped, starting only after fork() returned', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['true'] });
    const states: JobState[] = [job.state];
    job.on('state', (s: JobState) => states.push(s));
    assert.equal(job.pid, null, 'not started inside fork()');
    job.on('start', () => assert.ok(job.pid !== null && job.pid > 0));
    await new Promise((resolve) => job.once('finish', resolve));
    assert.equal(job.state, 'complete');
    const first = await job.wait();
    const again = await job.wait();
    assert.equal(first, again, 'wait() after reaping gives the same outcome');
    assert.deepEqual(states, ['queued', 'active', 'complete', 'reaped']);
    assert.equal(jobs.get(job.id), undefined, 'a reaped job leaves the listing');
  });

  it('passes args, env (over process.env, undefined removes), cwd and name', async () => {
    const { jobs } = setup();
    process.env.IKC_JOBS_TEST_DROP = 'present';
    const dir = realpathSync(tmpdir());
    const job = jobs.fork({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
      cmd: ['sh', '-c', 'echo "$0|$1|$FLAVOUR|${IKC_JOBS_TEST_DROP:-gone}|$IKC_JOB_ID|$(pwd)"'],
      args: ['first', 2],
      env: { FLAVOUR: 'mint', IKC_JOBS_TEST_DROP: undefined },
      cwd: dir,
      name: 'printer',
      capture: true,
    });
    assert.equal(job.name, 'printer');
    await job.wait();
    delete process.env.IKC_JOBS_TEST_DROP;
    assert.equal(job.stdoutText, `first|2|mint|gone|${job.id}|${dir}\n`);
  });

  it('captures stdout and stderr into strings', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['sh', '-c', 'echo out; echo err >&2; printf "é"'], capture: true });
    assert.equal(job.stdoutText, undefined, 'nothing before the end');
    await job.wait();
    assert.equal(job.stdoutText, 'out\né');
    assert.equal(job.stderrText, 'err\n');
  });

  it('writes the stdin option and closes stdin', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['cat'], stdin: 'line 1\nline 2\n', capture: true });
    await job.wait();
    assert.equal(job.stdoutText, 'line 1\nline 2\n');
  });

  it('streams: stdin written and stdout read before the job starts', async () => {
    const { jobs } = setup({ maxProc: 1 });
    const blocker = jobs.fork({ cmd: ['sleep', '0.2'] });
    const job = jobs.fork({ cmd: ['cat'] });
    assert.equal(job.state, 'queued');
    const text = readAll(job.stdout);
    job.stdin.write('early ');
    job.stdin.end('bird');
    await blocker.wait();
    assert.equal(await text, 'early bird');
    assert.equal((await job.wait()).exitCode, 0);
  });

  it('fails a command that cannot be spawned, with the spawn error', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ cmd: ['/nonexistent/ikc-no-such-program'] });
    const events: string[] = [];
    for (const t of ['start', 'finish', 'fail']) job.on(t, () => events.push(t));
    const outcome = await job.wait();
    assert.equal((outcome.error as NodeJS.ErrnoException).code, 'ENOENT');
    assert.equal(outcome.exitCode, null);
    assert.deepEqual(events, ['fail']);
  });

  it('fails a job whose argv spawn() refuses at once, and goes on', async () => {
    const { jobs } = setup();
    const bad = jobs.fork({ cmd: ['echo', 'nul\0byte'] });
    const good = jobs.fork({ cmd: ['true'] });
    assert.equal((await bad.wait()).error?.name, 'TypeError');
    assert.equal((await good.wait()).exitCode, 0);
  });

  it('checks its options', () => {
    const { jobs } = setup();
    const invalid = (options: object, pattern: RegExp) =>
      assert.throws(
        () => jobs.fork(options),
        (err: unknown) => IkcError.is(err, 'IKC_ERR_INVALID_ARG') && pattern.test((err as Error).message),
      );
    invalid({}, /either `cmd`/);
    invalid({ cmd: ['x'], module: 'y', export: 'z' }, /either `cmd`/);
    invalid({ cmd: [] }, /cmd must be/);
    invalid({ module: './m.js' }, /needs `export`/);
    invalid({ cmd: ['x'], timeout: -1 }, /timeout/);
    invalid({ cmd: ['x'], onBusy: 'wait' }, /onBusy/);
    invalid({ cmd: ['x'], retries: 1.5 }, /retries/);
    invalid({ cmd: ['x'], startAfter: 'tomorrow' }, /startAfter/);
    invalid({ cmd: ['x'], channels: 'loud' }, /preset/);
    invalid({ cmd: ['x'], channels: [{ name: 'stdout', dir: '<' }] }, /standard three/);
    invalid({ cmd: ['x'], channels: [{ name: 'a', dir: '<-' }] }, /dir/);
    invalid({ cmd: ['x'], dependsOn: 'nobody.j1' }, /no job/);
    invalid({ cmd: ['x'], on: 42 as unknown as string }, /on must be/);
  });

  it('fails a fork on another kernel when this one is in no cloud, and runs `*` here', async () => {
    const { jobs, kernel } = setup();
    const away = jobs.fork({ cmd: ['true'], on: 'beta' });
    assert.equal(away.info().kernel, 'beta');
    const outcome = await away.wait(5000);
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_NOT_LOCAL'), String(outcome.error));
    assert.equal(away.attempts, 0);
    const any = kernel.fork({ cmd: ['sh', '-c', 'echo here'], on: '*', capture: true });
    const done = await any.wait(5000);
    assert.equal(done.exitCode, 0);
    assert.equal(any.stdoutText, 'here\n');
    assert.equal(any.info().kernel, kernel.name);
  });

  it('refuses fork() and pool() once its kernel has stopped, here and for another kernel', async () => {
    const { jobs, kernel } = setup();
    await kernel.stop();
    const stopped = (err: unknown) =>
      IkcError.is(err, 'IKC_ERR_KERNEL_STOPPED') && /kernel jt has stopped/.test((err as Error).message);
    assert.throws(() => jobs.fork({ cmd: ['true'] }), stopped);
    assert.throws(() => jobs.fork({ cmd: ['true'], on: 'beta' }), stopped);
    assert.throws(() => jobs.fork({ cmd: ['true'], on: '*' }), stopped);
    assert.throws(() => jobs.pool({ module: fixture('pool-tasks'), size: 1 }), stopped);
    assert.deepEqual(jobs.list(), []);
  });

  it('is what kernel.fork() and ctx.fork() use; without a queue they say so', async () => {
    const { jobs, kernel } = setup();
    const seen: string[] = [];
    const finished = new Promise<void>((resolve) => {
      kernel.spawn({
        events: {
          _start: (ctx) => {
            ctx.fork({ cmd: ['true'] });
          },
          _job: (_ctx, e: { type: string }) => {
            seen.push(e.type);
            if (e.type === 'finish') resolve();
          },
        },
      });
    });
    await finished;
    assert.deepEqual(seen, ['start', 'finish']);
    await jobs.close();
    assert.throws(
      () => kernel.fork({ cmd: ['true'] }),
      (err: unknown) =>
        IkcError.is(err, 'IKC_ERR_NO_JOBS') && /new Jobs\(kernel\)/.test((err as Error).message),
    );
  });

  it('allows one open queue per kernel; ids are never reused', async () => {
    const { jobs, kernel } = setup();
    assert.equal(Jobs.of(kernel), jobs);
    assert.throws(
      () => new Jobs(kernel),
      (err: unknown) => IkcError.is(err, 'IKC_ERR_INVALID_ARG'),
    );
    const before = jobs.fork({ cmd: ['true'] });
    await jobs.close();
    assert.throws(
      () => jobs.fork({ cmd: ['true'] }),
      (err: unknown) => IkcError.is(err, 'IKC_ERR_JOBS_CLOSED'),
    );
    const next = new Jobs(kernel);
    const job = next.fork({ cmd: ['true'] });
    assert.notEqual(job.id, before.id);
    await job.wait();
    await next.close();
  });

  it('knows its allow list (enforced for remote forks only)', () => {
    const { jobs } = setup({ allow: ['sh', '/usr/bin/python3'] });
    assert.equal(jobs.allows('sh'), true);
    assert.equal(jobs.allows('/usr/bin/python3'), true);
    assert.equal(jobs.allows('python3'), false);
    assert.equal(jobs.allows('/tmp/sh'), false);
    assert.equal(jobs.allows('perl'), false);
  });
});

describe('events', () => {
  it('posts _job events to the owner session and holds it until the job ends', async () => {
    const { jobs, kernel } = setup();
    const seen: JobEventPayload[] = [];
    let stopped = false;
    const owner = kernel.spawn({
      events: {
        _job: (_ctx, payload: JobEventPayload) => void seen.push(payload),
        _stop: () => {
          stopped = true;
        },
      },
    });
    const job = jobs.fork({ cmd: ['sh', '-c', 'exit 4'] }, owner);
    await job.wait();
    await kernel.run(); // the session stops once the job no longer holds it
    assert.ok(stopped);
    assert.deepEqual(
      seen.map((p) => p.type),
      ['start', 'finish'],
    );
    const finish = seen[1] as JobEventPayload;
    assert.equal(finish.job.id, job.id);
    assert.equal(finish.job.exitCode, 4);
    assert.equal(finish.outcome?.exitCode, 4);
  });

  it('forks from inside a handler, with the session as owner (Jobs.of(ctx.kernel))', async () => {
    const { kernel } = setup();
    const results: unknown[] = [];
    kernel.spawn({
      events: {
        _start: (ctx) => {
          Jobs.of(ctx.kernel)?.fork({ cmd: ['sh', '-c', 'exit 2'] }, ctx.session);
        },
        _job: (_ctx, p: JobEventPayload) => {
          if (p.type === 'finish') results.push(p.outcome?.exitCode);
        },
      },
    });
    await kernel.run();
    assert.deepEqual(results, [2]);
  });

  it('uses options.event as the owner event name, and tells the queue event of a job that waits', async () => {
    const { jobs, kernel } = setup({ maxProc: 1 });
    const seen: string[] = [];
    const owner = kernel.spawn({
      events: { jobEvent: (_ctx, p: JobEventPayload) => void seen.push(p.type) },
    });
    const first = jobs.fork({ cmd: ['sleep', '0.05'] });
    const second = jobs.fork({ cmd: ['true'], event: 'jobEvent' }, owner);
    await first.wait();
    await second.wait();
    await kernel.run();
    assert.deepEqual(seen, ['queue', 'start', 'finish']);
  });

  it('emits job events to the kernel monitors', async () => {
    const { jobs, kernel } = setup({ maxProc: 1 });
    const seen: { event: string; job: JobInfo }[] = [];
    const monitor = kernel.monitor('job', (e) => seen.push(e as unknown as { event: string; job: JobInfo }));
    const a = jobs.fork({ cmd: ['true'] });
    const b = jobs.fork({ cmd: ['sh', '-c', 'exit 1'], name: 'b' });
    await a.wait();
    await b.wait();
    monitor.close();
    assert.deepEqual(
      seen.map((e) => `${e.job.name} ${e.event}`),
      ['true start', 'b queue', 'true finish', 'b start', 'b finish'],
    );
    assert.equal(seen.at(-1)?.job.kernel, 'jt');
  });

  it('lists jobs that have not been reaped', async () => {
    const { jobs } = setup({ maxProc: 1 });
    const a = jobs.fork({ cmd: ['sleep', '0.1'], name: 'a' });
    const b = jobs.fork({ cmd: ['true'], name: 'b' });
    await new Promise((resolve) => a.once('start', resolve));
    const listed = jobs.list();
    assert.deepEqual(
      listed.map((j) => [j.id, j.name, j.state]),
      [
        [a.id, 'a', 'active'],
        [b.id, 'b', 'queued'],
      ],
    );
    assert.equal(listed[0]?.pid, a.pid);
    assert.equal(listed[1]?.pid, null);
    await a.wait();
    await new Promise((resolve) => b.once('finish', resolve));
    assert.deepEqual(
      jobs.list().map((j) => [j.name, j.state, j.exitCode]),
      [['b', 'complete', 0]],
    );
  });
});
