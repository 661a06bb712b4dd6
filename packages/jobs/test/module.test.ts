import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { IkcError } from '@ikc/wire';
import { Jobs } from '../src/index.js';
import { closeAll, fixture, readAll, setup } from './helpers.js';

after(closeAll);

describe('module jobs', () => {
  it('runs an export in a child node and resolves to its return value', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ module: fixture('tasks'), export: 'add', args: [2, 40] });
    assert.equal(job.name, 'tasks.js:add');
    const outcome = await job.wait();
    assert.deepEqual(outcome, { exitCode: 0, signal: null, result: 42 });
    assert.equal(job.result, 42);
  });

  it('passes ctx and args by structured clone; env and a file URL work', async () => {
    const { jobs } = setup();
    const value = { when: new Date(5), tags: new Set(['a']), map: new Map([[1, 'one']]), big: 2n ** 70n };
    const job = jobs.fork({
      module: pathToFileURL(fixture('tasks')),
      export: 'describe',
      args: [value],
      env: { JOB_FLAVOUR: 'lime' },
      channels: [{ name: 'side', dir: '<' }],
    });
    const { result } = await job.wait();
    assert.deepEqual(result, {
      id: job.id,
      name: 'tasks.js:describe',
      channels: ['side'],
      value,
      env: 'lime',
    });
  });

  it("posts to and calls the kernel's sessions from the function, as the job's owner", async () => {
    const { jobs, kernel } = setup();
    const notes: { text: string; from: string }[] = [];
    kernel.spawn({
      alias: 'notes',
      events: { note: (ctx, text: string) => void notes.push({ text, from: ctx.sender.id }) },
    });
    kernel.spawn({
      alias: 'calc',
      events: {
        add: async (_ctx, a: number, b: number) => a + b,
        broken: () => {
          throw Object.assign(new Error('calc is broken'), { code: 'E_BROKEN' });
        },
      },
    });
    let owner = '';
    let jobId = '';
    const outcome = await new Promise<{ result: unknown }>((resolve) => {
      kernel.spawn({
        events: {
          _start: (ctx) => {
            owner = ctx.session.id;
            const job = Jobs.of(kernel)?.fork(
              { module: fixture('tasks'), export: 'asks', args: [20, 22] },
              ctx.session,
            );
            jobId = job?.id ?? '';
          },
          _job: (_ctx, e: { type: string; outcome?: { result: unknown } }) => {
            if (e.outcome) resolve(e.outcome);
          },
        },
      });
    });
    assert.deepEqual(outcome.result, {
      sum: 42,
      failed: { code: 'E_BROKEN', message: 'calc is broken' },
      missing: 'IKC_ERR_NO_SESSION',
    });
    assert.ok(jobId.startsWith(jobs.kernel.id));
    assert.deepEqual(
      notes.map((n) => n.text),
      [`from ${jobId}`, 'by specifier'],
    );
    assert.ok(
      notes.every((n) => n.from === owner),
      'posted as the owner session',
    );
  });

  it('awaits an async export', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ module: fixture('tasks'), export: 'later', args: [30, 'done'] });
    assert.equal((await job.wait()).result, 'done');
  });

  it('a throw ends the job with exit code 1 and the error, code and details kept', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ module: fixture('tasks'), export: 'fails', args: ['no way'] });
    const outcome = await job.wait();
    assert.equal(outcome.exitCode, 1);
    assert.equal(outcome.result, undefined);
    const err = outcome.error as Error & { code?: string; details?: unknown };
    assert.equal(err.message, 'no way');
    assert.equal(err.code, 'E_TASK');
    assert.deepEqual(err.details, { why: 'asked to' });
    assert.match(err.stack ?? '', /fails/);
    assert.equal(job.info().error?.code, 'E_TASK');
  });

  it('an export that is not there fails with IKC_ERR_INVALID_ARG', async () => {
    const { jobs } = setup();
    const outcome = await jobs.fork({ module: fixture('tasks'), export: 'missing' }).wait();
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_INVALID_ARG'));
    assert.match(outcome.error?.message ?? '', /no exported function "missing"/);
  });

  it('a module that cannot be imported fails with the import error', async () => {
    const { jobs } = setup();
    const outcome = await jobs.fork({ module: '/nonexistent/ikc.mjs', export: 'x' }).wait();
    assert.equal((outcome.error as NodeJS.ErrnoException).code, 'ERR_MODULE_NOT_FOUND');
  });

  it('process.exit() inside the export is IKC_ERR_JOB_CRASHED with the exit code', async () => {
    const { jobs } = setup();
    const outcome = await jobs.fork({ module: fixture('tasks'), export: 'exits', args: [5] }).wait();
    assert.equal(outcome.exitCode, 5);
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_CRASHED'));
    assert.match(outcome.error?.message ?? '', /exit code 5 before its function returned/);
  });

  it('arguments that cannot be cloned fail the job', async () => {
    const { jobs } = setup();
    const outcome = await jobs.fork({ module: fixture('tasks'), export: 'add', args: [() => 1] }).wait();
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_INVALID_ARG'));
  });

  it('stdin and stdout are the function process.stdin and process.stdout', async () => {
    const { jobs } = setup();
    const job = jobs.fork({ module: fixture('tasks'), export: 'cat', stdin: 'piped in' });
    const [out, outcome] = await Promise.all([readAll(job.stdout), job.wait()]);
    assert.equal(out, 'piped in');
    assert.equal(outcome.result, 8);
  });
});
