// The mesh in one process, over the in-memory transport: fast checks of the handshake,
// access rules, routing and monitors. The same behaviours run across real processes and
// real sockets in test/src/mesh-*.test.ts.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Kernel, type MonitorEvent } from '@ikc/kernel';
import type { IkcError } from '@ikc/wire';
import { defaultTuning } from '../src/defaults.js';
import { silentLogger } from '../src/log.js';
import { Mesh } from '../src/mesh.js';
import { MemoryNetwork, MemoryTransport } from '../src/transports/memory.js';
import { tick } from './harness.js';

interface Node {
  kernel: Kernel;
  mesh: Mesh;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function node(
  name: string,
  opts: { secret?: string; cloud?: string; role?: 'host' | 'leaf'; maxInflightCalls?: number } = {},
): Node {
  const kernel = new Kernel({ name, processSignals: false, onUnhandledError: () => {} });
  const mesh = new Mesh({
    kernel,
    cloud: opts.cloud ?? 'unit',
    secret: opts.secret ?? 'sesame',
    role: opts.role ?? 'host',
    tuning: {
      ...defaultTuning(),
      handshakeTimeoutMs: 500,
      maxInflightCalls: opts.maxInflightCalls ?? 10_000,
    },
    log: silentLogger,
  });
  cleanups.push(async () => {
    mesh.stop();
    await kernel.stop();
  });
  return { kernel, mesh };
}

/** Links `a` (dialer) to `b` (listener) over a fresh in-memory network; resolves when up or closed. */
async function link(a: Node, b: Node): Promise<void> {
  const network = new MemoryNetwork();
  const transport = new MemoryTransport({ network });
  const name = `${b.kernel.name}-${Math.random()}`;
  const listener = await transport.listen(name, (conn) => b.mesh.adopt(conn, 'listener'));
  cleanups.push(() => listener.close());
  const conn = await transport.connect(name);
  await a.mesh.adopt(conn, 'dialer').whenUp();
}

const calc = {
  alias: 'calc',
  publish: ['add', 'fail'],
  events: {
    add: (_ctx: unknown, x: number, y: number) => x + y,
    fail: () => {
      throw new RangeError('out of range');
    },
    secret: () => 42,
  },
};

describe('mesh over the in-memory transport', () => {
  it('links two kernels and calls a published event', async () => {
    const a = node('a');
    const b = node('b');
    b.kernel.spawn(calc);
    await link(a, b);
    assert.equal(await a.kernel.call('poe://b/calc/add', 1, 2), 3);
    assert.deepEqual(
      a.mesh.peers().map((p) => [p.name, p.role, p.state]),
      [['b', 'host', 'up']],
    );
  });

  it('refuses a wrong secret on both sides with IKC_ERR_AUTH', async () => {
    const a = node('a', { secret: 'one' });
    const b = node('b', { secret: 'two' });
    await assert.rejects(link(a, b), (err: IkcError) =>
      ['IKC_ERR_AUTH', 'IKC_ERR_HANDSHAKE'].includes(err.code),
    );
    assert.equal(a.mesh.peers().length, 0);
    assert.equal(b.mesh.peers().length, 0);
  });

  it('refuses another cloud with IKC_ERR_CLOUD', async () => {
    const a = node('a', { cloud: 'red' });
    const b = node('b', { cloud: 'blue' });
    await assert.rejects(link(a, b), { code: 'IKC_ERR_CLOUD' });
  });

  it('refuses a second kernel of the same name with IKC_ERR_NAME_TAKEN', async () => {
    const hub = node('hub');
    await link(node('twin'), hub);
    await assert.rejects(link(node('twin'), hub), { code: 'IKC_ERR_NAME_TAKEN' });
  });

  it('only published events are reachable; replies to the sender are', async () => {
    const a = node('a');
    const b = node('b');
    b.kernel.spawn(calc);
    b.kernel.spawn({
      alias: 'echo',
      publish: ['ping'],
      events: { ping: (ctx, n: number) => ctx.post(ctx.sender, 'pong', n) },
    });
    await link(a, b);
    await assert.rejects(a.kernel.call('poe://b/calc/secret'), { code: 'IKC_ERR_NOT_PUBLISHED' });
    const pong = await new Promise((resolve) => {
      a.kernel.spawn({
        alias: 'client',
        events: { _start: (ctx) => ctx.post('poe://b/echo/ping', 7), pong: (_ctx, n: number) => resolve(n) },
      });
    });
    assert.equal(pong, 7, 'pong is not published, yet the reply reaches the session that posted');
  });

  it('a failed remote post reaches the posting session as _error with a RemoteError', async () => {
    const a = node('a');
    const b = node('b');
    b.kernel.spawn(calc);
    await link(a, b);
    const errors = await new Promise<IkcError[]>((resolve) => {
      const got: IkcError[] = [];
      a.kernel.spawn({
        alias: 'poster',
        events: {
          _start: (ctx) => {
            ctx.post('poe://b/calc/secret');
            ctx.post('poe://b/calc/fail');
          },
          _error: (_ctx, err: IkcError) => {
            got.push(err);
            if (got.length === 2) resolve(got);
          },
        },
      });
    });
    assert.deepEqual(
      errors.map((e) => [e.name, e.code]),
      [
        ['RemoteError', 'IKC_ERR_NOT_PUBLISHED'],
        ['RemoteError', 'IKC_ERR_HANDLER'],
      ],
    );
    assert.match((errors[1] as IkcError).message, /out of range/);
  });

  it('routes a leaf through its host both ways, and relays registries', async () => {
    const host = node('host');
    const other = node('other');
    const leaf = node('leaf', { role: 'leaf' });
    other.kernel.spawn(calc);
    leaf.kernel.spawn({
      alias: 'leafy',
      publish: ['hi'],
      events: { hi: (_ctx, who: string) => `hi ${who}` },
    });
    await link(host, other);
    await link(leaf, host);
    for (let i = 0; i < 50 && !other.mesh.peers().some((p) => p.name === 'leaf'); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(await leaf.kernel.call('poe://other/calc/add', 20, 22), 42);
    assert.equal(await other.kernel.call('poe://leaf/leafy/hi', 'other'), 'hi other');
    assert.equal(other.mesh.peers().find((p) => p.name === 'leaf')?.address, 'via host');
  });

  it('a leaf links only to a host', async () => {
    await assert.rejects(link(node('l1', { role: 'leaf' }), node('l2', { role: 'leaf' })), {
      code: 'IKC_ERR_HANDSHAKE',
    });
  });

  it('runs a call after the posts that came before it, and at once when nothing waits', async () => {
    const a = node('a');
    const b = node('b');
    const seen: number[] = [];
    b.kernel.spawn({
      alias: 'rec',
      publish: ['n', 'seen'],
      events: {
        n: (_ctx: unknown, i: number) => void seen.push(i),
        seen: () => [...seen],
      },
    });
    await link(a, b);
    // Posts and a call in one turn: one ws message; the posts are queued on b, the call
    // must wait behind them (it is queued too).
    for (let i = 0; i < 100; i++) a.kernel.post('poe://b/rec/n', i);
    const behind = a.kernel.call('poe://b/rec/seen');
    assert.equal(((await behind) as number[]).length, 100, 'the call saw every post sent before it');
    // Nothing waits on b now: the call runs as its frame arrives, and still sees everything.
    await b.kernel.idle();
    assert.equal(b.kernel.queued, 0);
    assert.equal(((await a.kernel.call('poe://b/rec/seen')) as number[]).length, 100);
    // A handler that throws, run at once, still rejects the caller with what it threw.
    b.kernel.spawn(calc);
    await assert.rejects(a.kernel.call('poe://b/calc/fail'), /out of range/);
  });

  it('refuses calls past maxInflightCalls with IKC_ERR_OVERLOADED, and answers the rest', async () => {
    const a = node('a');
    const b = node('b', { maxInflightCalls: 5 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    b.kernel.spawn({
      alias: 'gate',
      publish: ['wait'],
      events: {
        wait: async () => {
          await gate;
          return 'ok';
        },
      },
    });
    await link(a, b);
    const calls = Array.from({ length: 8 }, () =>
      a.kernel.call('poe://b/gate/wait').then(
        (v) => v,
        (e: IkcError) => e.code,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    release();
    const results = await Promise.all(calls);
    assert.deepEqual(results.filter((r) => r === 'ok').length, 5);
    assert.deepEqual(results.filter((r) => r === 'IKC_ERR_OVERLOADED').length, 3);
  });

  it('reports remote kernels and their sessions to monitors, publish and retract included', async () => {
    const a = node('a');
    const b = node('b');
    const seen: string[] = [];
    a.kernel.monitor(
      undefined,
      (e: MonitorEvent) => {
        if (e.kernel === 'b') seen.push(`${e.type}${e.events ? ` ${(e.events as string[]).join(',')}` : ''}`);
      },
      { kernel: 'b' },
    );
    const s = b.kernel.spawn({
      alias: 'svc',
      publish: ['x'],
      events: {
        more: (ctx) => {
          ctx.publish('y');
          ctx.retract('x');
        },
      },
    });
    await link(a, b);
    s.post('more');
    for (let i = 0; i < 50 && seen.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ['kernel.up', 'register', 'publish x', 'publish y', 'retract x']);
    await assert.rejects(a.kernel.call('poe://b/svc/x'), { code: 'IKC_ERR_NOT_PUBLISHED' });
  });

  it('sends its registry when what it publishes changes, aliases included, and not for sessions that publish nothing', async () => {
    const a = node('a');
    const b = node('b');
    await link(a, b);
    const svc = a.kernel.spawn({ alias: 'svc', publish: ['x'], events: { x: () => 'x' } });
    await tick(10);
    const before = a.mesh.ownMeta().v;
    // A job's peer or a call's sender: comes and goes, publishing nothing.
    for (let i = 0; i < 3; i++) a.kernel.stopSession(a.kernel.spawn({ events: {} }));
    await tick(10);
    assert.equal(a.mesh.ownMeta().v, before, 'no REGISTRY for sessions that publish nothing');
    // An alias given to a publishing session later is news: b can call it by that name.
    a.kernel.aliasSet(svc, 'late');
    await tick(10);
    assert.equal(a.mesh.ownMeta().v, before + 1);
    assert.equal(await b.kernel.call('poe://a/late/x'), 'x');
    a.kernel.stopSession(svc);
    await tick(10);
    assert.equal(a.mesh.ownMeta().v, before + 2);
    await assert.rejects(b.kernel.call('poe://a/late/x'), { code: 'IKC_ERR_NO_SESSION' });
  });

  it('admits each frame by the names as they are now: a moved alias, a retracted event, a stopped session', async () => {
    const a = node('a');
    const b = node('b');
    await link(a, b);
    const one = b.kernel.spawn({ alias: 'svc', publish: ['who'], events: { who: () => 'one' } });
    const two = b.kernel.spawn({ alias: 'two', publish: ['who'], events: { who: () => 'two' } });
    await tick(10);
    assert.equal(await a.kernel.call('poe://b/svc/who'), 'one');
    assert.equal(await a.kernel.call('poe://b/svc/who'), 'one');
    // The alias moves to another session (one is held, or it would stop without a name):
    // the next frame to it goes there.
    b.kernel.hold(one);
    b.kernel.aliasRemove(one, 'svc');
    b.kernel.aliasSet(two, 'svc');
    assert.equal(await a.kernel.call('poe://b/svc/who'), 'two');
    assert.equal(await a.kernel.call(`poe://b/${one.id}/who`), 'one');
    // The event is retracted: refused from the next frame on.
    assert.equal(await a.kernel.call(`poe://b/${two.id}/who`), 'two');
    b.kernel.retract(two, ['who']);
    await assert.rejects(a.kernel.call(`poe://b/${two.id}/who`), { code: 'IKC_ERR_NOT_PUBLISHED' });
    // The session stops: gone from the next frame on.
    assert.equal(await a.kernel.call(`poe://b/${one.id}/who`), 'one');
    b.kernel.stopSession(one);
    await assert.rejects(a.kernel.call(`poe://b/${one.id}/who`), { code: 'IKC_ERR_NO_SESSION' });
  });

  it('fails pending calls as unreachable the moment their link drops', async () => {
    const a = node('a');
    const b = node('b');
    b.kernel.spawn({ alias: 'hang', publish: ['forever'], events: { forever: () => new Promise(() => {}) } });
    await link(a, b);
    const pending = a.kernel.call('poe://b/hang/forever');
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    b.mesh.stop();
    await assert.rejects(pending, { code: 'IKC_ERR_UNREACHABLE' });
    assert.ok(Date.now() - started < 1_000);
  });
});
