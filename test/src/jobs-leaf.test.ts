// A module job's child as a leaf kernel: ctx.kernel() attaches it over a socket pair of its
// own to the kernel that started it. This test process runs kernel alpha; beta is a kernel
// process. Sessions in the job's process are called from alpha, directly and through beta,
// and call back; the link proves a per-job token, not the cloud's secret.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Job } from '@ikc/jobs';
import { attach, type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { eventually, type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';

const LEAF = fileURLToPath(new URL('./fixtures/job-leaf.js', import.meta.url));
const MESH = fileURLToPath(new URL('../../packages/mesh/dist/src/index.js', import.meta.url));
const cloud = { name: 'jobs-leaf', secret: 'the-cloud-secret' };

const procs: KernelProc[] = [];
const kernels: MeshKernel[] = [];
after(async () => {
  for (const k of kernels.reverse()) await k.stop().catch(() => {});
  for (const p of procs) await p.stop('SIGKILL').catch(() => {});
});

/** What alpha's `recorder` session was told by the jobs' leaf kernels: [kernel name, job id]. */
const ups: [string, string][] = [];

function upFrom(job: Job): Promise<string> {
  return eventually(
    () => ups.some(([, id]) => id === job.id),
    10_000,
    `job ${job.id}'s leaf to call home`,
  ).then(() => (ups.find(([, id]) => id === job.id) as [string, string])[0]);
}

describe('a module job as a leaf kernel', () => {
  let beta: KernelProc;
  let alpha: MeshKernel;
  const sockets = socketDir();
  before(async () => {
    beta = await startKernelProc({
      kernel: { name: 'beta', listen: '127.0.0.1:0', socket: false },
      cloud,
      jobs: { allow: [LEAF] },
    });
    procs.push(beta);
    alpha = await startKernel({
      kernel: { name: 'alpha', listen: '127.0.0.1:0', socket: join(sockets, 'alpha.sock') },
      cloud: { ...cloud, seeds: [beta.listen] },
      logger: silentLogger,
      processSignals: false,
    });
    kernels.push(alpha);
    alpha.spawn({
      alias: 'recorder',
      publish: ['up'],
      events: {
        up: (_ctx, name: string, job: string) => {
          ups.push([name, job]);
          return 'noted';
        },
      },
    });
  });

  it('runs sessions in the job that alpha calls, and that call alpha back', async () => {
    const job = alpha.fork({ module: LEAF, export: 'serve', args: ['alpha'] });
    const name = await upFrom(job);
    assert.equal(name, `job-${job.id}`);
    const peer = alpha.peers().find((p) => p.name === name);
    assert.equal(peer?.role, 'leaf');
    assert.match(peer?.address ?? '', /^pipe:job /);
    assert.equal(await alpha.call(`poe://${name}/worker/square`, 7), 49);
    const who = (await alpha.call(`poe://${name}/worker/whoami`)) as { kernel: string; pid: number };
    assert.deepEqual(who, { kernel: name, pid: job.pid }, 'the session runs in the job process itself');
    alpha.post(`poe://${name}/worker/quit`, 'bye');
    const outcome = await job.wait(10_000);
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.exitCode, 0);
    assert.deepEqual(outcome.result, { value: 'bye', same: true, kernel: name });
    await eventually(() => !alpha.peers().some((p) => p.name === name), 5_000, 'the leaf to be gone');
  });

  it('does the same for a job forked on another kernel, reached through that kernel', async () => {
    const job = alpha.fork({ module: LEAF, export: 'serve', args: ['alpha'], on: 'beta' });
    const name = await upFrom(job);
    assert.equal(name, `job-${job.id}`);
    assert.equal(alpha.peers().find((p) => p.name === name)?.address, 'via beta');
    assert.equal(await alpha.call(`poe://${name}/worker/square`, 9), 81);
    const who = (await alpha.call(`poe://${name}/worker/whoami`)) as { kernel: string; pid: number };
    assert.equal(who.pid, job.pid);
    assert.notEqual(who.pid, beta.child.pid);
    alpha.post(`poe://${name}/worker/quit`, 'remote bye');
    const outcome = await job.wait(10_000);
    assert.deepEqual(outcome.result, { value: 'remote bye', same: true, kernel: name });
  });

  it('refuses, with IKC_ERR_CONNECT, when the kernel that started the job is a leaf', async () => {
    const leaf = await attach({
      socket: join(sockets, 'alpha.sock'),
      cloud,
      logger: silentLogger,
      processSignals: false,
    });
    kernels.push(leaf);
    const outcome = await leaf.fork({ module: LEAF, export: 'tryAttach' }).wait(10_000);
    const result = outcome.result as { code: string; message: string };
    assert.equal(result.code, 'IKC_ERR_CONNECT');
    assert.match(result.message, /cannot host a leaf kernel/);
  });

  it("proves a token made for the one link, refusing any other, and never the cloud's secret", async () => {
    /** A child that attaches over fd 3 with the grant alpha makes, `secret` in place of its token. */
    const run = async (secret: (token: string) => string): Promise<{ out: string; token: string }> => {
      // The grant needs alpha's end of the pair, which exists only once the child is spawned:
      // the child reads its grant from stdin.
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { attachJobLeaf } = await import(${JSON.stringify(MESH)});
           let text = '';
           for await (const chunk of process.stdin) text += chunk;
           try { const k = await attachJobLeaf(JSON.parse(text)); console.log('up', k.name); await k.stop(); }
           catch (err) { console.log('refused', err.code); }
           process.exit(0);`,
        ],
        { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] },
      );
      const grant = alpha.hostJobLeaf(child.stdio[3] as Socket, `probe-${child.pid}`);
      child.stdin?.end(JSON.stringify({ ...grant, secret: secret(grant.secret), fd: 3 }));
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
      await new Promise((resolve) => child.once('exit', resolve));
      return { out: out.trim(), token: grant.secret };
    };
    const good = await run((token) => token);
    assert.match(good.out, /^up job-probe-\d+$/);
    assert.notEqual(good.token, cloud.secret);
    assert.ok(good.token.length >= 40, 'a token of 32 random bytes');
    const other = await run((token) => `${token}x`);
    assert.equal(other.out, 'refused IKC_ERR_AUTH');
    const theCloudSecret = await run(() => cloud.secret);
    assert.equal(theCloudSecret.out, 'refused IKC_ERR_AUTH', 'the cloud secret is not what this link takes');
    assert.notEqual((await run((token) => token)).token, good.token, 'every link gets a token of its own');
  });
});
