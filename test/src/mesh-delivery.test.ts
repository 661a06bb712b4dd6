import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import type { IkcError } from '@ikc/wire';
import { eventually, type KernelProc, startKernelProc } from './harness/kernels.js';
import { CutProxy } from './harness/proxy.js';

const cloud = { name: 'delivery', secret: 'not lost' };
const procs: KernelProc[] = [];
const kernels: MeshKernel[] = [];
const proxies: CutProxy[] = [];
after(async () => {
  for (const k of kernels) await k.stop();
  for (const p of proxies) await p.close();
  for (const p of procs) p.child.kill('SIGKILL');
});

async function receiver(name: string, listen = '127.0.0.1:0'): Promise<KernelProc> {
  const proc = await startKernelProc({
    kernel: { name, listen, socket: false },
    cloud,
    sessions: ['./sink.js'],
    mesh: { resumeWindowMs: 10_000 },
  });
  procs.push(proc);
  return proc;
}

async function sender(name: string, seeds: string[], mesh = {}): Promise<MeshKernel> {
  const k = await startKernel({
    kernel: { name, listen: '127.0.0.1:0', socket: false },
    cloud: { ...cloud, seeds },
    logger: silentLogger,
    processSignals: false,
    admin: false,
    mesh,
  });
  kernels.push(k);
  return k;
}

describe('delivery between kernel processes', () => {
  it('100,000 posts arrive exactly once and in order while their link is cut three times', async () => {
    const rx = await receiver('rx-cut');
    const proxy = await CutProxy.to(rx.listen);
    proxies.push(proxy);
    const tx = await sender('tx-cut', [proxy.address], { reconnectMinMs: 20 });
    const n = 100_000;
    const cutsAt = new Set([20_000, 50_000, 80_000]);
    let relinking = false;
    for (let i = 0; i < n; i++) {
      tx.post('poe://rx-cut/sink/hit', i);
      if (cutsAt.has(i)) {
        assert.ok(proxy.cut() > 0, 'a live link was cut, with posts in flight');
        relinking = true;
      }
      if (i % 1_000 === 999) {
        // Posts keep coming while the link is down (they wait in the channel); let I/O in,
        // and before the next cut, let the link come back.
        await tx.ready('poe://rx-cut/sink');
        await new Promise((r) => setImmediate(r));
        if (relinking && i % 10_000 === 9_999) {
          await eventually(() => tx.peers()[0]?.state === 'up', 10_000, 'the link to come back');
          relinking = false;
        }
      }
    }
    await eventually(
      async () => ((await tx.call('poe://rx-cut/sink/count')) as number) >= n,
      30_000,
      'every post to arrive',
    );
    const check = (await tx.call('poe://rx-cut/sink/check')) as { count: number; firstBreak: number };
    assert.deepEqual(check, { count: n, firstBreak: -1 });
    assert.equal(proxy.cuts, 3);
  });

  it('reports every post a killed (then restarted) kernel never acknowledged to its sender', async () => {
    const rx = await receiver('rx-killed');
    const tx = await sender('tx-killed', [rx.listen], { reconnectMinMs: 20 });
    const errors: IkcError[] = [];
    tx.spawn({
      alias: 'poster',
      events: {
        go: (ctx, n: number) => {
          for (let i = 0; i < n; i++) ctx.post('poe://rx-killed/sink/hit', i);
        },
        _error: (_ctx, err: IkcError) => void errors.push(err),
      },
    });
    assert.equal(await tx.call('poe://rx-killed/sink/count'), 0);
    rx.child.kill('SIGSTOP'); // frozen: it acknowledges nothing from now on
    tx.post('poster', 'go', 500);
    await new Promise((r) => setTimeout(r, 200));
    rx.child.kill('SIGKILL');
    await rx.exited;
    await eventually(() => errors.length >= 500, 10_000, 'every unacknowledged post to be reported');
    assert.equal(errors.length, 500);
    assert.ok(errors.every((e) => e.code === 'IKC_ERR_UNDELIVERED'));
    assert.match(errors[0]?.message ?? '', /post of "hit" to sink on kernel rx-killed was not delivered/);
    // The kernel comes back (a new incarnation on the same port): new posts go through.
    const again = await receiver('rx-killed', rx.listen);
    await eventually(() => tx.peers().some((p) => p.id === again.id && p.state === 'up'), 10_000, 'relink');
    await tx.call('poe://rx-killed/sink/count');
  });

  it("a flood of posts to a slow receiver keeps both kernels' memory bounded", async () => {
    const rx = await receiver('rx-slow');
    const tx = await sender('tx-flood', [rx.listen], {
      sendBufferBytes: 1_000_000,
      sendBufferHardBytes: 4_000_000,
    });
    await tx.call('poe://rx-slow/sink/slow', 1); // from now on each post takes 1 ms in the receiver
    const rssBefore = process.memoryUsage().rss;
    const payload = 'x'.repeat(1_000);
    let refused = 0;
    const flooder = tx.spawn({
      alias: 'flooder',
      events: { _error: (_ctx, err: IkcError) => void (err.code === 'IKC_ERR_OVERFLOW' && refused++) },
    });
    // 200,000 posts of 1 KB (200 MB) as fast as possible, never waiting for room.
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10_000; i++)
        tx.postFrom(flooder, 'poe://rx-slow/sink', 'hit', [round * 10_000 + i, payload]);
      await new Promise((r) => setImmediate(r));
    }
    await tx.idle();
    const rxRss = (await tx.call('poe://rx-slow/sink/rss')) as number;
    const txGrowth = process.memoryUsage().rss - rssBefore;
    assert.ok(refused > 100_000, `posts past the hard limit were refused and reported (${refused})`);
    assert.ok(rxRss < 300 * 2 ** 20, `receiver RSS ${Math.round(rxRss / 2 ** 20)} MiB`);
    assert.ok(txGrowth < 200 * 2 ** 20, `sender RSS grew ${Math.round(txGrowth / 2 ** 20)} MiB`);
  });
});
