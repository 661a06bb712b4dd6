// Jobs forked on another kernel: this test process runs kernel alpha (a host kernel, made by
// startKernel), and the jobs run on kernel processes beta and gamma, over real ws links.
// Every job's streams, exit status, signals and failures are checked from alpha, and the
// processes themselves from /proc (one machine: the pids are ours to look at).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex, Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Job, type JobInfo, type Jobs, RemotePool } from '@ikc/jobs';
import { type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { IkcError } from '@ikc/wire';
import { eventually, type KernelProc, scratchDir, startKernelProc } from './harness/kernels.js';
import { CutProxy } from './harness/proxy.js';

const TASKS = fileURLToPath(new URL('../../packages/jobs/dist/test/fixtures/tasks.js', import.meta.url));
const POOL_TASKS = fileURLToPath(
  new URL('../../packages/jobs/dist/test/fixtures/pool-tasks.js', import.meta.url),
);
const cloud = { name: 'jobs-remote' };
const dir = scratchDir('ikc-rjobs-');

const procs: KernelProc[] = [];
const kernels: MeshKernel[] = [];
after(async () => {
  for (const k of kernels) await k.stop().catch(() => {});
  for (const p of procs) await p.stop('SIGKILL').catch(() => {});
});

async function remote(name: string, jobs: Record<string, unknown>, mesh: Record<string, number> = {}) {
  const proc = await startKernelProc({
    kernel: { name, listen: '127.0.0.1:0', socket: false },
    cloud,
    jobs,
    mesh,
  });
  procs.push(proc);
  return proc;
}

async function local(
  name: string,
  seeds: string[],
  extra: Record<string, unknown> = {},
): Promise<MeshKernel> {
  const kernel = await startKernel({
    kernel: { name, listen: '127.0.0.1:0', socket: false },
    cloud: { ...cloud, seeds },
    logger: silentLogger,
    processSignals: false,
    ...extra,
  });
  kernels.push(kernel);
  return kernel;
}

/** Everything a stream yields, as a string, once it ends. */
async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString();
  return out;
}

/** A process's state letter (R, S, T, Z...) from /proc, or undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Live (not zombie) processes of process group `pgid`. */
function liveMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') out.push(Number(name));
    } catch {}
  }
  return out;
}

function started(job: Job): Promise<number> {
  return new Promise((resolve, reject) => {
    job.once('start', (info: JobInfo) => resolve(info.pid as number));
    job.once('fail', (_info: JobInfo, outcome: { error?: Error }) => reject(outcome.error));
  });
}

describe('jobs forked on another kernel', () => {
  let beta: KernelProc;
  let alpha: MeshKernel;
  before(async () => {
    beta = await remote('beta', {
      allow: ['sh', 'cat', 'tr', 'sleep', 'wc', 'head', 'seq', 'true', TASKS, POOL_TASKS],
      maxProc: 2,
    });
    alpha = await local('alpha', [beta.listen]);
  });

  it('streams stdout and stderr back and stdin there, and reports the exit code and pid', async () => {
    const job = alpha.fork({
      cmd: ['sh', '-c', 'echo "ppid $PPID"; tr a-z A-Z; echo oops >&2; exit 7'],
      on: 'beta',
    });
    assert.equal(job.info().kernel, 'beta');
    const out = text(job.stdout);
    const err = text(job.stderr);
    job.stdin.write('hello ');
    job.stdin.end('remote world\n');
    const outcome = await job.wait(10_000);
    assert.equal(outcome.exitCode, 7);
    assert.equal(outcome.signal, null);
    assert.equal(outcome.error, undefined);
    assert.equal(await out, `ppid ${beta.child.pid}\nHELLO REMOTE WORLD\n`, 'it ran as a child of beta');
    assert.equal(await err, 'oops\n');
    assert.equal(job.attempts, 1);
    assert.ok(job.pid !== null && job.pid !== beta.child.pid);
  });

  it('sends the fork within fork(): the job runs there while this kernel is still busy', async () => {
    const job = alpha.fork({ cmd: ['sh', '-c', 'date +%s%3N'], on: 'beta' });
    job.stdin.end();
    // Busy for a while, reading nothing: only a fork already sent can run meanwhile.
    const busyUntil = Date.now() + 1_000;
    while (Date.now() < busyUntil) {
      /* busy */
    }
    const ranAt = Number((await text(job.stdout)).trim());
    assert.equal((await job.wait(10_000)).exitCode, 0);
    assert.ok(
      ranAt > 0 && ranAt < busyUntil,
      `the job ran ${ranAt - busyUntil} ms after this kernel was busy`,
    );
  });

  it('runs a module function there: args, result, named channels in text mode, capture', async () => {
    const add = alpha.fork({ module: TASKS, export: 'add', args: [2, 40], on: 'beta' });
    assert.equal((await add.wait(10_000)).result, 42);

    const job = alpha.fork({
      module: TASKS,
      export: 'channels',
      on: 'beta',
      channels: [
        { name: 'in', dir: '>' },
        { name: 'out', dir: '<', mode: 'text' },
        { name: 'ctl', dir: '<>', mode: 'text' },
      ],
    });
    const out = job.channel<Readable>('out');
    assert.equal(out.readableEncoding, 'utf8');
    const outText = text(out);
    job.channel<Writable>('in').end('shout this');
    const ctl = job.channel<Duplex>('ctl');
    const acks = text(ctl);
    ctl.write('one\ntwo\n');
    ctl.end();
    const outcome = await job.wait(10_000);
    assert.equal(outcome.result, 2, 'the function read two lines on ctl');
    assert.equal(await outText, 'SHOUT THIS');
    assert.equal(await acks, 'ack one\nack two\n');

    const captured = alpha.fork({ cmd: ['sh', '-c', 'echo out; echo err >&2'], on: 'beta', capture: true });
    await captured.wait(10_000);
    assert.equal(captured.stdoutText, 'out\n');
    assert.equal(captured.stderrText, 'err\n');
  });

  it('refuses what jobs.allow does not list, and nothing runs', async () => {
    const marker = join(dir, 'ran');
    const job = alpha.fork({ cmd: ['touch', marker], on: 'beta' });
    const outcome = await job.wait(10_000);
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_NOT_ALLOWED'), String(outcome.error));
    assert.match(outcome.error?.message ?? '', /does not fork command "touch"/);
    assert.equal(job.attempts, 0);
    assert.equal(job.info().state, 'reaped');
    const viaPath = alpha.fork({ cmd: ['/usr/bin/env', 'touch', marker], on: 'beta' });
    assert.ok(IkcError.is((await viaPath.wait(10_000)).error, 'IKC_ERR_JOB_NOT_ALLOWED'));
    const module = alpha.fork({ module: `${TASKS}.nope.js`, export: 'add', on: 'beta' });
    assert.ok(IkcError.is((await module.wait(10_000)).error, 'IKC_ERR_JOB_NOT_ALLOWED'));
    // What follows a refused fork at once (stdin, a signal) is answered `gone` there, before
    // the refusal comes back: the job is still refused, not lost.
    const followed = alpha.fork({ cmd: ['touch', marker], on: 'beta' });
    followed.stdin.end('input');
    followed.kill('SIGTERM');
    const refused = await followed.wait(10_000);
    assert.ok(IkcError.is(refused.error, 'IKC_ERR_JOB_NOT_ALLOWED'), String(refused.error));
    assert.equal(existsSync(marker), false, 'the refused command never ran');
    // A kernel nobody knows: the fork never left, so the job is not "lost" but unreachable.
    const ghost = await alpha.fork({ cmd: ['true'], on: 'ghost' }).wait(10_000);
    assert.ok(IkcError.is(ghost.error, 'IKC_ERR_UNREACHABLE'), String(ghost.error));
  });

  it('suspends, resumes and kills the process group there', async () => {
    const job = alpha.fork({ cmd: ['sh', '-c', 'sleep 30 & sleep 30; wait'], on: 'beta' });
    job.stdout.resume();
    const pid = await started(job);
    await eventually(() => liveMembers(pid).length === 3, 5_000, 'sh and both sleeps');
    assert.equal(job.suspend(), true);
    await eventually(() => job.state === 'suspended', 5_000, 'the suspended state');
    await eventually(() => procState(pid) === 'T', 5_000, 'the process stopped');
    assert.equal(job.resume(), true);
    await eventually(() => job.state === 'active', 5_000, 'the active state');
    assert.notEqual(procState(pid), 'T');
    assert.equal(job.kill('SIGTERM'), true);
    const outcome = await job.wait(10_000);
    assert.equal(outcome.signal, 'SIGTERM');
    await eventually(() => liveMembers(pid).length === 0, 5_000, 'the whole group gone');
  });

  it('times out there, killing grandchildren, and queues by beta’s maxProc', async () => {
    const slow = alpha.fork({ cmd: ['sh', '-c', 'sleep 30 & sleep 30; wait'], on: 'beta', timeout: 0.5 });
    slow.stdout.resume();
    const pid = await started(slow);
    // beta runs 2 at once: with slow and one more running, a third waits there.
    const second = alpha.fork({ cmd: ['sleep', '1'], on: 'beta' });
    const third = alpha.fork({ cmd: ['true'], on: 'beta' });
    await started(second);
    await eventually(() => third.state === 'queued', 5_000, 'the third job queued on beta');
    const outcome = await slow.wait(10_000);
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_TIMEOUT'), String(outcome.error));
    await eventually(() => liveMembers(pid).length === 0, 5_000, 'grandchildren killed');
    assert.equal((await third.wait(10_000)).exitCode, 0);
    assert.equal((await second.wait(10_000)).exitCode, 0);
  });

  it('carries every other option there: env, cwd, stdin data, retries, delay, expiration, onBusy, priority', async () => {
    const env = alpha.fork({
      cmd: ['sh', '-c', 'echo "$FLAVOUR $(pwd)"; cat'],
      on: 'beta',
      env: { FLAVOUR: 'lime' },
      cwd: '/tmp',
      stdin: 'from the stdin option\n',
      capture: true,
    });
    await env.wait(10_000);
    assert.equal(env.stdoutText, 'lime /tmp\nfrom the stdin option\n');

    // retries: the first attempt fails (no marker yet), the second succeeds.
    const marker = join(dir, 'retry-marker');
    const retried = alpha.fork({
      cmd: ['sh', '-c', `if [ -e ${marker} ]; then echo second; else : > ${marker}; echo first; exit 1; fi`],
      on: 'beta',
      retries: 2,
    });
    const both = text(retried.stdout);
    assert.equal((await retried.wait(10_000)).exitCode, 0);
    assert.equal(retried.attempts, 2);
    assert.equal(await both, 'first\nsecond\n');

    const t0 = Date.now();
    const delayed = alpha.fork({ cmd: ['true'], on: 'beta', delay: 0.4 });
    assert.equal(delayed.state, 'deferred');
    await delayed.wait(10_000);
    assert.ok((delayed.info().startedAt ?? 0) - t0 >= 390, 'not started before its delay');

    const expired = alpha.fork({ cmd: ['sleep', '30'], on: 'beta', expiration: Date.now() + 300 });
    expired.stdout.resume();
    const ex = await expired.wait(10_000);
    assert.ok(IkcError.is(ex.error, 'IKC_ERR_JOB_TIMEOUT'), String(ex.error));

    // beta runs 2 at once: with two sleeps there, onBusy 'fail' fails, and of two queued
    // jobs the higher priority starts first.
    const hold = [1, 2].map(() => alpha.fork({ cmd: ['sleep', '0.6'], on: 'beta' }));
    await Promise.all(hold.map(started));
    const busy = await alpha.fork({ cmd: ['true'], on: 'beta', onBusy: 'fail' }).wait(10_000);
    assert.ok(IkcError.is(busy.error, 'IKC_ERR_JOB_BUSY'), String(busy.error));
    const order: string[] = [];
    const low = alpha.fork({ cmd: ['true'], on: 'beta', name: 'low', priority: 1 });
    const high = alpha.fork({ cmd: ['true'], on: 'beta', name: 'high', priority: 5 });
    for (const j of [low, high]) j.on('start', () => order.push(j.name));
    await eventually(() => low.state === 'queued' && high.state === 'queued', 5_000, 'both queued there');
    await Promise.all([low.wait(10_000), high.wait(10_000)]);
    assert.deepEqual(order, ['high', 'low']);
  });

  it('a remote job killed while it waits here (its delay) ends at once and never reaches beta', async () => {
    const marker = join(dir, 'never');
    const job = alpha.fork({ cmd: ['sh', '-c', `: > ${marker}`], on: 'beta', delay: 1 });
    assert.equal(job.state, 'deferred');
    assert.equal(job.kill('SIGTERM'), true);
    const outcome = await job.wait(1_000);
    assert.equal(outcome.signal, 'SIGTERM');
    assert.equal(job.attempts, 0);
    await new Promise((r) => setTimeout(r, 1_300));
    assert.equal(existsSync(marker), false, 'nothing was forked there');
  });

  it("posts the job's events to the forking session (ctx.fork with on)", async () => {
    const events: string[] = [];
    const done = new Promise<void>((resolve) => {
      alpha.spawn({
        events: {
          _start: (ctx) => {
            ctx.fork({ cmd: ['true'], on: 'beta' });
          },
          _job: (_ctx, e: { type: string; job: JobInfo }) => {
            events.push(`${e.type} ${e.job.kernel}`);
            if (e.type === 'finish' || e.type === 'fail') resolve();
          },
        },
      });
    });
    await done;
    assert.deepEqual(events, ['start beta', 'finish beta']);
  });

  it('keeps dependsOn order across kernels', async () => {
    const order: string[] = [];
    const a = alpha.fork({ cmd: ['sleep', '0.3'], name: 'a' });
    const b = alpha.fork({ cmd: ['true'], name: 'b', on: 'beta', dependsOn: a });
    const c = alpha.fork({ cmd: ['true'], name: 'c', dependsOn: b });
    for (const j of [a, b, c]) {
      j.on('start', () => order.push(`start ${j.name}`));
      j.on('finish', () => order.push(`end ${j.name}`));
    }
    assert.equal(b.state, 'deferred');
    await c.wait(10_000);
    assert.deepEqual(order, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('keeps a process pool there: calls, a crashed worker replaced, errors kept, refusals', async () => {
    const pool = alpha.pool({ module: POOL_TASKS, size: 2, on: 'beta' }) as RemotePool;
    assert.ok(pool instanceof RemotePool);
    await pool.ready();
    assert.equal(await pool.run('add', 2, 40), 42);
    const pids = await Promise.all([pool.run<number>('pid'), pool.run<number>('pid')]);
    const ppid = (pid: number) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    };
    for (const pid of pids) assert.equal(ppid(pid), beta.child.pid, `worker ${pid} is a child of beta`);
    const crashed = await pool.run('exits', 3).catch((err: unknown) => err);
    assert.ok(IkcError.is(crashed, 'IKC_ERR_JOB_CRASHED'), String(crashed));
    const failed = (await pool.run('fails', 'nope').catch((err: unknown) => err)) as Error & {
      code?: string;
    };
    assert.equal(failed.message, 'nope');
    assert.equal(await pool.run('add', 1, 1), 2, 'the pool goes on with a new worker');
    const stats = await pool.stats();
    assert.equal(stats.size, 2);
    assert.equal(stats.pids.length, 2);
    await pool.close();
    await eventually(() => stats.pids.every((pid) => procState(pid) === undefined || procState(pid) === 'Z'));
    const refused = alpha.pool({ module: POOL_TASKS.replace('pool-tasks', 'ticker'), on: 'beta' });
    const err = await refused.run('add', 1, 2).catch((e: unknown) => e);
    assert.ok(IkcError.is(err, 'IKC_ERR_JOB_NOT_ALLOWED'), String(err));
  });

  it('moves 64 MiB through stdin and back out with flow control, intact', async () => {
    const job = alpha.fork({ cmd: ['wc', '-c'], on: 'beta' });
    const out = text(job.stdout);
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 64; i++) {
      if (!job.stdin.write(chunk)) await new Promise((r) => job.stdin.once('drain', r));
    }
    job.stdin.end();
    assert.equal((await job.wait(30_000)).exitCode, 0);
    assert.equal((await out).trim(), String(64 * 1024 * 1024));
  });
});

describe('where a remote job goes, and what happens when a kernel goes', () => {
  it('`*` takes the least-loaded kernel that allows the command', async () => {
    const beta = await remote('star-beta', { allow: ['sleep'], maxProc: 4 });
    const gamma = await remote('star-gamma', { allow: ['sleep', 'sh'], maxProc: 4 });
    // alpha runs one job at a time and is busy: its own load is 1, the others' 0.
    const alpha = await local('star-alpha', [beta.listen, gamma.listen], { jobs: { maxProc: 1 } });
    await eventually(() => alpha.peers().length === 2, 5_000, 'both peers');
    const busy = alpha.fork({ cmd: ['sleep', '5'] });
    await started(busy);
    const sh = alpha.fork({ cmd: ['sh', '-c', 'echo $PPID'], on: '*' });
    const out = text(sh.stdout);
    await sh.wait(10_000);
    assert.equal(sh.info().kernel, 'star-gamma', 'only gamma allows sh');
    assert.equal((await out).trim(), String(gamma.child.pid));
    // Two sleeps in turn: the first goes to a kernel with no job, the second to the other.
    const s1 = alpha.fork({ cmd: ['sleep', '3'], on: '*' });
    await started(s1);
    const s2 = alpha.fork({ cmd: ['sleep', '3'], on: '*' });
    await started(s2);
    assert.deepEqual(
      [s1.info().kernel, s2.info().kernel].sort(),
      ['star-beta', 'star-gamma'],
      'spread over the two that allow sleep',
    );
    // What no other kernel allows runs here (a kernel forks anything for itself), in its queue.
    const mine = alpha.fork({ cmd: ['true'], on: '*' });
    await eventually(
      () => mine.state === 'queued' && mine.info().kernel === 'star-alpha',
      5_000,
      'queued here',
    );
    busy.kill('SIGKILL');
    assert.equal((await mine.wait(10_000)).exitCode, 0);
    for (const j of [s1, s2]) j.kill('SIGKILL');
  });

  it('a job whose kernel is killed fails IKC_ERR_JOB_LOST at once', async () => {
    const beta = await remote('lost-beta', { allow: ['sleep'] });
    const alpha = await local('lost-alpha', [beta.listen]);
    const job = alpha.fork({ cmd: ['sleep', '30'], on: 'lost-beta' });
    const pid = await started(job);
    const t0 = Date.now();
    await beta.stop('SIGKILL');
    const outcome = await job.wait(10_000);
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_LOST'), String(outcome.error));
    assert.ok(Date.now() - t0 < 5_000, `lost after ${Date.now() - t0} ms`);
    assert.match(outcome.error?.message ?? '', /lost-beta/);
    process.kill(pid, 'SIGKILL'); // beta was killed -9: its child lives on; clean up
  });

  it('a job whose forking kernel dies is killed there; with killOrphans false it runs on', async () => {
    for (const killOrphans of [true, false]) {
      const beta = await remote(`orphan-beta-${killOrphans}`, { allow: ['sleep'], killOrphans });
      const forker = await startKernelProc({
        kernel: { name: `orphan-forker-${killOrphans}`, listen: '127.0.0.1:0', socket: false },
        cloud: { ...cloud, seeds: [beta.listen] },
        sessions: ['./forker.js'],
      });
      procs.push(forker);
      const alpha = await local(`orphan-alpha-${killOrphans}`, [forker.listen]);
      const { pid } = (await alpha.call(
        `poe://orphan-forker-${killOrphans}/forker/go`,
        `orphan-beta-${killOrphans}`,
        ['sleep', '30'],
      )) as { pid: number };
      assert.ok(liveMembers(pid).length > 0, 'the job runs on beta');
      await forker.stop('SIGKILL');
      if (killOrphans) {
        await eventually(() => liveMembers(pid).length === 0, 10_000, 'the orphan killed');
      } else {
        await new Promise((r) => setTimeout(r, 2_000));
        assert.equal(liveMembers(pid).length, 1, 'the orphan still runs');
        process.kill(pid, 'SIGKILL');
      }
    }
  });

  it('a link down past the resume window: the job is killed there and lost here', async () => {
    const beta = await remote('window-beta', { allow: ['sleep'] }, { resumeWindowMs: 1_000 });
    const proxy = await CutProxy.to(beta.listen);
    // alpha does not listen: once the proxy is gone, neither side can reach the other.
    const alpha = await startKernel({
      kernel: { name: 'window-alpha', listen: false, socket: false },
      cloud: { ...cloud, seeds: [proxy.address] },
      mesh: { resumeWindowMs: 1_500, reconnectMinMs: 50, reconnectMaxMs: 200 },
      logger: silentLogger,
      processSignals: false,
    });
    kernels.push(alpha);
    const job = alpha.fork({ cmd: ['sleep', '30'], on: 'window-beta' });
    const pid = await started(job);
    await proxy.close();
    const t0 = Date.now();
    const outcome = await job.wait(15_000);
    assert.ok(IkcError.is(outcome.error, 'IKC_ERR_JOB_LOST'), String(outcome.error));
    await eventually(() => liveMembers(pid).length === 0, 10_000, 'beta killed the orphan');
    const ms = Date.now() - t0;
    assert.ok(ms >= 900, `not before the resume window (${ms} ms)`);
  });

  it('a link cut in mid-stream loses nothing: 200,000 lines arrive whole and in order', async () => {
    const beta = await remote('cut-beta', { allow: ['seq'] });
    const proxy = await CutProxy.to(beta.listen);
    const alpha = await local('cut-alpha', [proxy.address], { mesh: { reconnectMinMs: 20 } });
    const job = alpha.fork({ cmd: ['seq', '1', '200000'], on: 'cut-beta' });
    let got = '';
    let cuts = 0;
    job.stdout.setEncoding('utf8');
    job.stdout.on('data', (d: string) => {
      got += d;
      // Cut twice while the output streams (the reader pauses, so the job is mid-way).
      if ((cuts === 0 && got.length > 100_000) || (cuts === 1 && got.length > 600_000)) {
        cuts++;
        job.stdout.pause();
        assert.ok(proxy.cut() > 0, 'a live link was cut');
        setTimeout(() => job.stdout.resume(), 100);
      }
    });
    const outcome = await job.wait(30_000);
    await new Promise((r) => (job.stdout.readableEnded ? r(undefined) : job.stdout.once('end', r)));
    assert.equal(outcome.exitCode, 0);
    assert.equal(cuts, 2);
    const lines = got.split('\n');
    assert.equal(lines.length, 200_001);
    assert.ok(
      lines.slice(0, 200_000).every((l, i) => l === String(i + 1)),
      'every line once, in order',
    );
    await proxy.close();
  });
});

describe('a remote fork, message by message', () => {
  let alpha: MeshKernel;
  let beta: MeshKernel;
  /** What the serving kernel's queue was asked to fork: each job's id and the stdin sent with it. */
  const forks: { id: string; stdin: string | undefined }[] = [];
  before(async () => {
    // Both kernels in this process, over a real ws link, so the serving side can be watched.
    beta = await local('msg-beta', [], { jobs: { allow: ['cat', 'sh'] } });
    alpha = await local('msg-alpha', [beta.listenAddress as string]);
    await eventually(() => alpha.peers().length === 1, 5_000, 'the link');
    const jobs = beta.jobs as Jobs;
    const forkAs = jobs.forkAs.bind(jobs);
    jobs.forkAs = (id, options, spec) => {
      const stdin = spec?.stdin ?? options.stdin;
      forks.push({ id, stdin: stdin === undefined ? undefined : Buffer.from(stdin).toString() });
      return forkAs(id, options, spec);
    };
  });
  const sent = (job: Job) => forks.find((f) => f.id === job.id);

  it('a fork that waits (delay, `*`) takes a stdin already ended with it; one that goes at once streams it', async () => {
    // A fork for a named kernel leaves within fork(): what is written after it follows it. A
    // delay long enough that the job is still deferred when fork() looks (a 1 ms one may not be).
    const now = alpha.fork({ cmd: ['cat'], on: 'msg-beta' });
    now.stdin.write('all ');
    now.stdin.end('at once\n');
    const whole = alpha.fork({ cmd: ['cat'], on: 'msg-beta', delay: 0.05 });
    whole.stdin.write('all ');
    whole.stdin.end('at once\n');
    const open = alpha.fork({ cmd: ['cat'], on: 'msg-beta', delay: 0.05 });
    open.stdin.write('first, ');
    const retried = alpha.fork({ cmd: ['cat'], on: 'msg-beta', delay: 0.05, retries: 1 });
    retried.stdin.end('a stream\n');
    const jobs = [now, whole, open, retried];
    const outs = Promise.all(jobs.map((j) => text(j.stdout)));
    // cat writes nothing until it reads: its start comes on its own (after REPLY_WAIT_MS).
    assert.ok((await started(open)) > 0);
    open.stdin.end('then the rest\n');
    await Promise.all(jobs.map((j) => j.wait(10_000)));
    assert.deepEqual(await outs, ['all at once\n', 'all at once\n', 'first, then the rest\n', 'a stream\n']);
    assert.ok(sent(now), 'forked there');
    assert.equal(sent(now)?.stdin, undefined, 'streamed right behind the fork');
    assert.equal(sent(whole)?.stdin, 'all at once\n', 'sent with the fork, as the stdin option');
    assert.ok(sent(open), 'forked there');
    assert.equal(sent(open)?.stdin, undefined, 'streamed');
    // With retries, what was written goes to the first attempt only, as in a local job: a stream.
    assert.equal(sent(retried)?.stdin, undefined);
  });

  it('a job that writes at once has its pid and state before its first bytes arrive', async () => {
    // What alpha's hub hears for each job: the first output rides on `start`, one post.
    const hub = alpha.lookup('ikc.jobs') as unknown as {
      events: Record<string, (...a: unknown[]) => unknown>;
    };
    const heard: string[][] = [];
    const events = hub.events;
    hub.events = Object.fromEntries(
      Object.entries(events).map(([name, handler]) => [
        name,
        (ctx: unknown, id: unknown, ...args: unknown[]) => {
          heard.push([String(id), name, ...args.map((a) => (Buffer.isBuffer(a) ? a.toString() : String(a)))]);
          return handler(ctx, id, ...args);
        },
      ]),
    );
    try {
      // Unless the job wrote nothing within REPLY_WAIT_MS (a very busy machine): then its
      // `start` went alone, and a `data` follows it. One of ten must be quicker than that.
      let merged = false;
      for (let i = 0; i < 10 && !merged; i++) {
        const job = alpha.fork({ cmd: ['sh', '-c', 'echo $$'], on: 'msg-beta' });
        job.stdin.end();
        assert.equal((await job.wait(10_000)).exitCode, 0);
        const mine = heard.filter(([id]) => id === job.id).map(([, ...rest]) => rest);
        const names = mine.map(([name]) => name);
        merged = (mine[0]?.length ?? 0) > 3;
        if (merged) {
          assert.deepEqual(names, ['start', 'eof', 'eof', 'end'], JSON.stringify(mine));
          assert.deepEqual(mine[0], ['start', String(job.pid), '1', 'stdout', `${job.pid}\n`]);
        } else {
          assert.deepEqual(names, ['start', 'data', 'eof', 'eof', 'end'], JSON.stringify(mine));
        }
      }
      assert.ok(merged, 'the first output came with the start');
    } finally {
      hub.events = events;
    }
    for (let i = 0; i < 5; i++) {
      const job = alpha.fork({ cmd: ['sh', '-c', 'echo $$'], on: 'msg-beta' });
      job.stdin.end();
      const first = await new Promise<{ pid: number | null; state: string; text: string }>((resolve) => {
        job.stdout.once('data', (chunk: Buffer) =>
          resolve({ pid: job.pid, state: job.state, text: chunk.toString() }),
        );
      });
      job.stdout.resume();
      const outcome = await job.wait(10_000);
      assert.equal(outcome.exitCode, 0);
      assert.equal(first.state, 'active');
      assert.equal(String(first.pid), first.text.trim(), 'the pid of the process that wrote the bytes');
      assert.equal(job.attempts, 1);
    }
  });

  it('answers `gone` for a job it no longer has: the kernel running it kills it, and the forking kernel loses it', async () => {
    const job = alpha.fork({ cmd: ['sh', '-c', 'sleep 30'], on: 'msg-beta' });
    job.stdin.end();
    const pid = await started(job);
    assert.ok(liveMembers(pid).length > 0, 'sleep runs there');
    const alphaJobs = alpha.lookup('ikc.jobs');
    const betaJobs = await alpha.resolve('poe://msg-beta/ikc.jobs');
    assert.ok(alphaJobs && betaJobs.isProxy);
    // Only the session that forked it speaks for a job: anyone else's `gone` changes nothing.
    const stranger = alpha.spawn({ events: {} });
    alpha.postFrom(stranger, betaJobs, 'gone', [job.id]);
    await alpha.call(betaJobs, 'offer', { kind: 'cmd', name: 'sh' }); // after that post, over the same link
    assert.ok(liveMembers(pid).length > 0, "a stranger's gone is ignored");
    // What the forking kernel says when it no longer has the job (its hub got a message for it).
    alpha.postFrom(alphaJobs, betaJobs, 'gone', [job.id]);
    await eventually(() => liveMembers(pid).length === 0, 5_000, 'the orphan killed there');
    assert.equal(job.state, 'active', 'nothing came back: beta no longer streams to alpha');
    // Asked of a kernel that no longer runs it, a signal is answered `gone`: the job is lost here.
    job.kill('SIGTERM');
    const outcome = await job.wait(5_000);
    assert.equal((outcome.error as IkcError | undefined)?.code, 'IKC_ERR_JOB_LOST');
    alpha.stopSession(stranger);
  });

  it('a `gone` that comes before a fork is answered (it answers a post that followed a refused fork) does not lose the job', async () => {
    const betaJobs = beta.lookup('ikc.jobs');
    const job = alpha.fork({ cmd: ['touch', join(tmpdir(), 'ikc-never')], on: 'msg-beta' });
    const alphaJobs = await beta.resolve('poe://msg-alpha/ikc.jobs');
    assert.ok(betaJobs && alphaJobs.isProxy);
    // As msg-beta answers the stdin or signal that alpha sent right behind the fork: it leaves
    // msg-beta before the fork's refusal does, over the same link.
    beta.postFrom(betaJobs, alphaJobs, 'gone', [job.id]);
    const outcome = await job.wait(5_000);
    assert.equal(
      (outcome.error as IkcError | undefined)?.code,
      'IKC_ERR_JOB_NOT_ALLOWED',
      String(outcome.error),
    );
    assert.equal(job.attempts, 0);
  });

  it('makes no session for a job, on either side: their JobServices talk, by job id', async () => {
    const made: string[] = [];
    const watches = [alpha, beta].map((kernel) =>
      kernel.monitor('register', (e) => {
        if (e.session) made.push(`${kernel.name}: ${(e.session as { id: string }).id}`);
      }),
    );
    const counts = () => [alpha, beta].map((k) => k.size);
    const before = counts();
    try {
      // A job that runs a while, one that ends before fork's reply leaves (it writes nothing),
      // and one refused there.
      const open = alpha.fork({ cmd: ['cat'], on: 'msg-beta' });
      open.stdin.write('x');
      await new Promise((resolve) => open.stdout.once('data', resolve));
      open.stdout.resume();
      open.stdin.end();
      assert.equal((await open.wait(10_000)).exitCode, 0);
      assert.equal(
        (await alpha.fork({ cmd: ['sh', '-c', 'exit 3'], on: 'msg-beta' }).wait(10_000)).exitCode,
        3,
      );
      const refused = await alpha.fork({ cmd: ['ls'], on: 'msg-beta' }).wait(10_000);
      assert.equal((refused.error as IkcError | undefined)?.code, 'IKC_ERR_JOB_NOT_ALLOWED');
      assert.deepEqual(made, [], 'no session registered for a job');
      await eventually(
        () => counts().every((n, i) => n === before[i]),
        5_000,
        `as many live sessions on each side as before the jobs (${before} then ${counts()})`,
      );
    } finally {
      for (const w of watches) w.close();
    }
  });
});
