import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JOB_SERVICE } from '@ikc/jobs';
import type { Session } from '@ikc/kernel';
import { attach, type MeshKernel, RemoteError, silentLogger } from '@ikc/mesh';
import { eventually, type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';

const cloud = { name: 'proc-test', secret: 'correct horse' };

describe('two kernel processes and a leaf (the test process)', () => {
  let beta: KernelProc;
  let gamma: KernelProc;
  let leaf: MeshKernel;
  const dir = socketDir();

  before(async () => {
    beta = await startKernelProc({
      kernel: { name: 'beta', listen: '127.0.0.1:0', socket: join(dir, 'beta.sock') },
      cloud,
      sessions: ['./calc.js'],
    });
    gamma = await startKernelProc({
      kernel: { name: 'gamma', listen: '127.0.0.1:0', socket: join(dir, 'gamma.sock') },
      cloud: { ...cloud, seeds: [beta.listen] },
    });
    await gamma.waitFor('"kernel.up","kernel":"beta"');
    leaf = await attach({
      socket: gamma.socket,
      name: 'test-leaf',
      cloud,
      logger: silentLogger,
      processSignals: false,
    });
    await eventually(() => leaf.peers().some((p) => p.name === 'beta'), 5_000, 'the leaf to learn of beta');
  });

  after(async () => {
    await leaf?.stop();
    await Promise.all([beta?.stop(), gamma?.stop()]);
  });

  it('calls a published event on another process through the host (leaf -> gamma -> beta)', async () => {
    assert.equal(await leaf.call('poe://beta/calc/add', 2, 40), 42);
    assert.equal(await leaf.call('poe://*/calc/add', 1, 1), 2, 'by any kernel that publishes calc');
  });

  it('rejects a remote throw with a RemoteError that keeps code, message, stack, kernel, session, event', async () => {
    const err = await leaf.call('poe://beta/calc/boom').then(
      () => assert.fail('boom must throw'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RemoteError);
    assert.equal(err.code, 'E_BAD_OPERAND');
    assert.equal(err.message, 'bad operand');
    assert.equal(err.remoteName, 'TypeError');
    assert.equal(err.kernel, 'beta');
    assert.equal(err.event, 'boom');
    assert.match(err.session, /\.\d+$/);
    assert.match(err.remoteStack, /TypeError: bad operand\n\s+at boom/);
  });

  it('refuses an unpublished event with IKC_ERR_NOT_PUBLISHED, and an unknown session with IKC_ERR_NO_SESSION', async () => {
    await assert.rejects(leaf.call('poe://beta/calc/hidden'), { code: 'IKC_ERR_NOT_PUBLISHED' });
    await assert.rejects(leaf.call('poe://beta/nobody/add'), { code: 'IKC_ERR_NO_SESSION' });
    await assert.rejects(leaf.call('poe://nowhere/calc/add'), { code: 'IKC_ERR_UNREACHABLE' });
  });

  it('resolves an alias to a lazy proxy, usable as a target and as poe://beta/calc', async () => {
    const proxy = await leaf.resolve('poe://beta/calc');
    assert.equal(proxy.isProxy, true);
    assert.deepEqual(proxy.published.sort(), [
      'add',
      'boom',
      'callback',
      'now',
      'ping',
      'record',
      'recorded',
      'slow',
      'whoami',
    ]);
    assert.equal(await proxy.call('add', 3, 4), 7);
    assert.equal(await leaf.call('poe://beta/calc', 'add', 5, 6), 11);
    assert.equal(await leaf.resolve('poe://beta/calc'), proxy, 'the same proxy on the next resolution');
  });

  it('makes ctx.sender on the other side a proxy, so replies come back', async () => {
    const reply = await new Promise<[number, boolean]>((resolve) => {
      leaf.spawn({
        alias: 'asker',
        events: {
          _start: (ctx) => ctx.post('poe://beta/calc/ping', 41),
          pong: (ctx, n: number) => {
            resolve([n, ctx.sender.isProxy]);
            ctx.aliasRemove('asker');
          },
        },
      });
    });
    assert.deepEqual(reply, [42, true]);
    const who = (await leaf.call('poe://beta/calc/whoami')) as {
      kernel: string;
      proxy: boolean;
      sender: string;
    };
    assert.equal(who.kernel, 'beta');
    assert.equal(who.proxy, true);
    assert.ok(who.sender.startsWith(leaf.id), 'the sender is the leaf root session, by its cloud-unique id');
  });

  it('passes session references as arguments; they arrive as working proxies', async () => {
    let mine: Session | undefined;
    const answer = await new Promise((resolve) => {
      mine = leaf.spawn({
        alias: 'answerer',
        events: {
          _start: (ctx) => {
            ctx.call('poe://beta/calc/callback', ctx.session, 'double', 21).then(resolve);
          },
          double: (_ctx, x: number) => x * 2,
        },
      });
    });
    assert.equal(answer, 42);
    mine?.kernel.stopSession(mine);
  });

  it('keeps the order of messages between one pair of sessions, posts and calls alike', async () => {
    const n = 2_000;
    await new Promise<void>((resolve, reject) => {
      leaf.spawn({
        events: {
          _start: (ctx) => {
            for (let i = 0; i < n; i++) ctx.post('poe://beta/calc/record', i);
            // The call leaves after the posts, so it runs after them.
            ctx.call('poe://beta/calc/recorded', ctx.session.id).then((seen) => {
              try {
                assert.deepEqual(
                  seen,
                  Array.from({ length: n }, (_, i) => i),
                );
                resolve();
              } catch (err) {
                reject(err);
              }
            }, reject);
          },
        },
      });
    });
  });

  it('sends a call made with `flush` at once; others leave at the end of the turn', async () => {
    const flushed = leaf.callWith<number>({ flush: true }, 'poe://beta/calc/now');
    const batched = leaf.call<number>('poe://beta/calc/now');
    // Busy, reading and writing nothing: only a call already handed to the socket goes meanwhile.
    const busyUntil = Date.now() + 500;
    while (Date.now() < busyUntil) {
      /* busy */
    }
    const [at, later] = await Promise.all([flushed, batched]);
    assert.ok(at < busyUntil, `the flushed call was handled ${at - busyUntil} ms after the busy spell`);
    assert.ok(later >= busyUntil, `the other was handled ${busyUntil - later} ms before it ended`);
  });

  it('times out and aborts calls that take too long, without hanging', async () => {
    await assert.rejects(leaf.callWith({ timeoutMs: 100 }, 'poe://beta/calc/slow', 2_000, 'late'), {
      code: 'IKC_ERR_TIMEOUT',
    });
    const ac = new AbortController();
    const p = leaf.callWith({ signal: ac.signal }, 'poe://beta/calc/slow', 2_000, 'late');
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, { code: 'IKC_ERR_ABORTED' });
    assert.equal(await leaf.callWith({ timeoutMs: 2_000 }, 'poe://beta/calc/slow', 10, 'soon'), 'soon');
  });

  it('lists kernels: gamma directly, beta through gamma, with rtt', () => {
    const peers = leaf.peers();
    const gammaView = peers.find((p) => p.name === 'gamma');
    const betaView = peers.find((p) => p.name === 'beta');
    assert.equal(gammaView?.role, 'host');
    assert.equal(gammaView?.address, gamma.listen, 'the address a kernel listens on, as its HELLO says');
    assert.equal(betaView?.address, 'via gamma');
    // calc, and the job service every host kernel runs.
    const published = leaf.mesh.remoteSessions().find((k) => k.kernel === 'beta')?.sessions;
    assert.deepEqual(published?.map((s) => s.aliases[0]).sort(), ['calc', JOB_SERVICE]);
    assert.equal(betaView?.sessions, 2);
  });
});
