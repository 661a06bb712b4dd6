import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CallOptions, IkcError, type RemoteEndpoint, type Session, type Spec } from '../src/index.js';
import { testKernel } from './helpers.js';

/** A RemoteEndpoint that records what it is asked to carry. */
function fakeRemote(answer: (event: string, args: unknown[]) => unknown = () => 'remote answer') {
  const sent: [string, string, unknown[]][] = [];
  const remote: RemoteEndpoint = {
    kernelId: 'K2',
    kernelName: 'beta',
    post: (sender, event, args) => void sent.push(['post', `${sender.id}:${event}`, args]),
    call: async (sender, event, args, _options: CallOptions) => {
      sent.push(['call', `${sender.id}:${event}`, args]);
      return answer(event, args);
    },
  };
  return { remote, sent };
}

describe('callWith', () => {
  it('rejects with IKC_ERR_TIMEOUT when the handler does not settle in time (fake clock)', async () => {
    const t = testKernel();
    t.kernel.spawn({ alias: 'slow', events: { never: () => new Promise(() => {}), quick: () => 1 } });
    const p = t.kernel.callWith({ timeoutMs: 500 }, 'slow', 'never');
    t.clock.advance(499);
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    t.clock.advance(1);
    await assert.rejects(
      p,
      (err: IkcError) => err.code === 'IKC_ERR_TIMEOUT' && /after 500 ms/.test(err.message),
    );
    assert.equal(await t.kernel.callWith({ timeoutMs: 500 }, 'slow', 'quick'), 1);
    assert.equal(t.clock.pending, 0, 'the timer of a settled call is cleared');
    await t.kernel.stop();
  });

  it('rejects with IKC_ERR_ABORTED when the signal aborts, before or during the call', async () => {
    const t = testKernel();
    t.kernel.spawn({ alias: 'slow', events: { never: () => new Promise(() => {}) } });
    const ac = new AbortController();
    const p = t.kernel.callWith({ signal: ac.signal }, 'slow', 'never');
    ac.abort(new Error('user gave up'));
    await assert.rejects(
      p,
      (err: IkcError) => err.code === 'IKC_ERR_ABORTED' && (err.cause as Error).message === 'user gave up',
    );
    await assert.rejects(t.kernel.callWith({ signal: ac.signal }, 'slow', 'never'), {
      code: 'IKC_ERR_ABORTED',
    });
    await t.kernel.stop();
  });
});

describe('proxies and the router (the hooks @ikc/mesh uses)', () => {
  it('a proxy forwards posts at once and calls with their options, with the real sender', async () => {
    const t = testKernel();
    const { remote, sent } = fakeRemote();
    const proxy = t.kernel.addProxy(remote, 'K2.7', ['poe://beta/calc'], ['add']);
    assert.equal(proxy.isProxy, true);
    assert.deepEqual(proxy.published, ['add']);
    let client: Session | undefined;
    const answer = await new Promise((resolve) => {
      client = t.kernel.spawn({
        events: {
          _start: (ctx) => {
            ctx.post('poe://beta/calc', 'add', 1, 2);
            ctx.post('poe://beta/calc/add', 3, 4);
            ctx.call('K2.7', 'add', 5, 6).then(resolve);
          },
        },
      });
    });
    assert.equal(answer, 'remote answer');
    const id = client?.id;
    assert.deepEqual(sent, [
      ['post', `${id}:add`, [1, 2]],
      ['post', `${id}:add`, [3, 4]],
      ['call', `${id}:add`, [5, 6]],
    ]);
    assert.deepEqual(
      t.kernel.list().map((s) => s.id),
      [id],
      'the proxy is neither listed nor counted as a live session',
    );
    assert.equal(t.kernel.size, 1);
    await t.kernel.run();
  });

  it('a proxy lives while held, then stops and no longer answers', async () => {
    const t = testKernel();
    const { remote } = fakeRemote();
    const proxy = t.kernel.addProxy(remote, 'K2.9');
    const release = t.kernel.hold(proxy);
    await t.kernel.idle();
    assert.equal(proxy.alive, true);
    release();
    await t.kernel.idle();
    assert.equal(proxy.alive, false);
    await assert.rejects(t.kernel.call('K2.9', 'x'), { code: 'IKC_ERR_NO_SESSION' });
  });

  it("hands other kernels' specifiers to the router, and resolve() of an unknown name too", async () => {
    const t = testKernel();
    const routed: unknown[] = [];
    const { remote } = fakeRemote();
    t.kernel.attachRouter({
      post: (sender, spec: Spec, event, args) =>
        void routed.push(['post', sender === t.kernel.root, spec, event, args]),
      call: async (_sender, spec, event, args, options) => {
        routed.push(['call', spec, event, args, options]);
        return 'routed';
      },
      resolve: async (spec) => t.kernel.addProxy(remote, `proxy-of-${spec.session}`),
    });
    t.kernel.post('poe://gamma/db/put', 'k', 'v');
    assert.equal(await t.kernel.callWith({ timeoutMs: 9 }, 'poe://*/db', 'get', 'k'), 'routed');
    assert.deepEqual(routed, [
      ['post', true, { kernel: 'gamma', session: 'db', event: 'put' }, 'put', ['k', 'v']],
      ['call', { kernel: '*', session: 'db' }, 'get', ['k'], { timeoutMs: 9 }],
    ]);
    assert.equal((await t.kernel.resolve('db')).id, 'proxy-of-db');
    assert.equal((await t.kernel.resolve('poe://gamma/cache')).id, 'proxy-of-cache');
    assert.throws(() => t.kernel.signal('poe://gamma/db', 'TERM'), { code: 'IKC_ERR_NOT_LOCAL' });
    await t.kernel.stop();
  });

  it('a repeated specifier goes the same way each time: zero, one or more arguments, percent-encoded names, a proxy made in between', async () => {
    const t = testKernel();
    const routed: unknown[] = [];
    const { remote, sent } = fakeRemote();
    t.kernel.attachRouter({
      post: (_sender, spec: Spec, event, args) => void routed.push([spec.session, event, args]),
      call: async () => 'routed',
      resolve: async () => t.kernel.addProxy(remote, 'K2.3', ['poe://beta/my%20db']),
    });
    for (let i = 0; i < 2; i++) {
      t.kernel.post('poe://beta/my%20db/put');
      t.kernel.post('poe://beta/my%20db/put', 'k');
      t.kernel.post('poe://beta/my%20db/put', 'k', 'v');
      t.kernel.post('poe://beta/my%20db', 'put', undefined);
    }
    const expected = [
      ['my db', 'put', []],
      ['my db', 'put', ['k']],
      ['my db', 'put', ['k', 'v']],
      ['my db', 'put', [undefined]],
    ];
    assert.deepEqual(routed, [...expected, ...expected]);
    // Once a proxy answers to the specifier, the same text reaches it, not the router.
    await t.kernel.resolve('poe://beta/my%20db');
    t.kernel.post('poe://beta/my%20db/put', 'k');
    assert.equal(routed.length, 8);
    assert.deepEqual(
      sent.map(([kind, , args]) => [kind, args]),
      [['post', ['k']]],
    );
    await t.kernel.stop();
  });

  it("reportError delivers a router's failure to the sender as _error", async () => {
    const t = testKernel();
    const errors: string[] = [];
    const s = t.kernel.spawn({
      alias: 'me',
      events: { _error: (_ctx, err: IkcError) => void errors.push(err.code) },
    });
    t.kernel.reportError(s, new IkcError('IKC_ERR_UNREACHABLE', 'gone'), { event: 'x' });
    await t.kernel.idle();
    assert.deepEqual(errors, ['IKC_ERR_UNREACHABLE']);
    await t.kernel.stop();
  });
});
