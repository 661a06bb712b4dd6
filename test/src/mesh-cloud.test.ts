// The cloud on loopback: kernels that were never told of each other find each other through
// gossip and link on first need; `*` events are balanced as configured. The same across
// real hosts (network namespaces, mDNS, partitions) is in netns-cloud.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MonitorEvent } from '@ikc/kernel';
import { type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { eventually } from './harness/kernels.js';

const kernels: MeshKernel[] = [];

/**
 * The kernels `k` knows of that publish calc (by gossip or a link). Counted by alias: every
 * host kernel also publishes the job service (ikc.jobs), so a count of sessions would not do.
 */
function calcKernels(k: MeshKernel): string[] {
  return k.mesh
    .remoteSessions()
    .filter((r) => r.sessions.some((s) => s.aliases.includes('calc')))
    .map((r) => r.kernel);
}

after(async () => {
  for (const k of kernels) await k.stop();
});

const calc = (tag: string) => ({
  alias: 'calc',
  publish: ['add', 'whoami'],
  events: { add: (_ctx: unknown, a: number, b: number) => a + b, whoami: () => tag },
});

async function kernel(
  name: string,
  seeds: string[],
  extra: Record<string, unknown> = {},
): Promise<MeshKernel> {
  const k = await startKernel({
    kernel: { name, listen: '127.0.0.1:0', socket: false },
    cloud: { name: 'gossip', secret: 'tell everyone', seeds, ...(extra.cloud as object) },
    sessions: (extra.sessions as never) ?? [],
    logger: silentLogger,
    processSignals: false,
    admin: false,
  });
  kernels.push(k);
  return k;
}

describe('gossip on loopback', () => {
  it('a kernel reaches a session on a kernel it only heard of by gossip, over a link opened then', async () => {
    const a = await kernel('g-a', []);
    const b = await kernel('g-b', [a.listenAddress as string], { sessions: [calc('b')] });
    const c = await kernel('g-c', [a.listenAddress as string]);
    // c was never told of b: a's gossip tells it, with what b publishes.
    await eventually(() => calcKernels(c).includes('g-b'), 10_000, 'c to learn of b by gossip');
    assert.equal(c.mesh.isLinked(b.id), false, 'no link to b yet');
    assert.equal(await c.call('poe://g-b/calc/add', 20, 22), 42);
    assert.equal(c.mesh.isLinked(b.id), true, 'the call opened a link to b');
    const proxy = await c.resolve('calc');
    assert.equal(await proxy.call('whoami'), 'b', 'resolve() finds an alias published anywhere in the cloud');
    const view = c.peers().find((p) => p.name === 'g-b');
    assert.equal(view?.address, b.listenAddress);
    assert.equal(view?.state, 'up');
  });

  it('sees a kernel that stops leave, through gossip, at once', async () => {
    const a = await kernel('l-a', []);
    const b = await kernel('l-b', [a.listenAddress as string]);
    const c = await kernel('l-c', [a.listenAddress as string]);
    await eventually(() => c.peers().some((p) => p.name === 'l-b'), 10_000, 'c to know b');
    const downs: MonitorEvent[] = [];
    c.monitor('kernel.down', (e) => downs.push(e));
    const started = Date.now();
    await b.stop();
    await eventually(() => downs.some((e) => e.kernel === 'l-b'), 5_000, 'c to see b go');
    assert.equal(downs.find((e) => e.kernel === 'l-b')?.reason, 'left');
    assert.ok(
      Date.now() - started < 3_000,
      `seen after ${Date.now() - started} ms, well before a probe timeout`,
    );
    assert.ok(!c.peers().some((p) => p.name === 'l-b'));
  });
});

describe('balancing poe://* events', () => {
  it('round-robin spreads calls over every kernel that publishes the alias', async () => {
    const a = await kernel('r-a', [], { sessions: [calc('a')] });
    await kernel('r-b', [a.listenAddress as string], { sessions: [calc('b')] });
    const c = await kernel('r-c', [a.listenAddress as string]);
    await eventually(() => calcKernels(c).length === 2, 10_000, 'both publishers known');
    const served = new Set<unknown>();
    for (let i = 0; i < 6; i++) served.add(await c.call('poe://*/calc/whoami'));
    assert.deepEqual([...served].sort(), ['a', 'b']);
  });

  it('local-first serves from a local session when there is one, and goes remote when not', async () => {
    const a = await kernel('f-a', [], { sessions: [calc('a')] });
    const here = await kernel('f-here', [a.listenAddress as string], {
      sessions: [calc('here')],
      cloud: { balance: 'local-first' },
    });
    await eventually(() => calcKernels(here).length === 1, 10_000, 'a known');
    for (let i = 0; i < 4; i++) assert.equal(await here.call('poe://*/calc/whoami'), 'here');
    const other = await kernel('f-other', [a.listenAddress as string], { cloud: { balance: 'local-first' } });
    await eventually(() => calcKernels(other).length >= 2, 10_000, 'publishers known');
    assert.notEqual(await other.call('poe://*/calc/whoami'), undefined);
  });

  it('least-loaded prefers the kernel whose gossiped load is lowest', async () => {
    const busy = await kernel('q-busy', [], { sessions: [calc('busy')] });
    const idle = await kernel('q-idle', [busy.listenAddress as string], { sessions: [calc('idle')] });
    const c = await kernel('q-c', [busy.listenAddress as string], { cloud: { balance: 'least-loaded' } });
    await eventually(() => calcKernels(c).length === 2, 10_000, 'both known');
    // Make 'busy' busy: a backlog of unsettled async handlers, which its next meta gossips.
    busy.spawn({
      alias: 'hog',
      events: {
        _start: (ctx) => {
          for (let i = 0; i < 500; i++) ctx.yield('wait');
        },
        wait: () => new Promise(() => {}),
      },
    }); // never settles, holds no timer
    (busy.mesh.cloud as { publish(m: unknown): void }).publish(busy.mesh.ownMeta());
    await eventually(
      async () => (await c.call('poe://*/calc/whoami')) === 'idle',
      10_000,
      'calls to go to idle',
    );
    for (let i = 0; i < 4; i++) assert.equal(await c.call('poe://*/calc/whoami'), 'idle');
    void idle;
  });
});
