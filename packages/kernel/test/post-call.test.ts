import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IkcError, Session } from '../src/index.js';
import { testKernel } from './helpers.js';

describe('post', () => {
  it('delivers events to one session in FIFO order', async () => {
    const { kernel } = testKernel();
    const seen: number[] = [];
    const s = kernel.spawn({ events: { n: (_ctx, i: number) => void seen.push(i) } });
    for (let i = 0; i < 100; i++) kernel.post(s, 'n', i);
    assert.deepEqual(seen, [], 'post is queued, not run at once');
    await kernel.run();
    assert.deepEqual(
      seen,
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('keeps global FIFO order across sessions, including events posted by handlers', async () => {
    const { kernel } = testKernel();
    const seen: string[] = [];
    const a = kernel.spawn({
      alias: 'a',
      events: {
        go: (ctx) => {
          seen.push('a.go');
          ctx.post('b', 'x');
          ctx.yield('self');
        },
        self: () => void seen.push('a.self'),
      },
    });
    kernel.spawn({ alias: 'b', events: { x: () => void seen.push('b.x'), y: () => void seen.push('b.y') } });
    kernel.post(a, 'go');
    kernel.post('b', 'y');
    await kernel.idle();
    assert.deepEqual(seen, ['a.go', 'b.y', 'b.x', 'a.self']);
  });

  it('finds targets by session object, id, alias and poe:// specifier', async () => {
    const { kernel } = testKernel();
    const seen: string[] = [];
    const s = kernel.spawn({ alias: 'calc', events: { hit: (_ctx, how: string) => void seen.push(how) } });
    kernel.post(s, 'hit', 'object');
    kernel.post(s.id, 'hit', 'id');
    kernel.post('calc', 'hit', 'alias');
    kernel.post('poe:///calc', 'hit', 'spec');
    kernel.post('poe://test/calc/hit', 'spec-with-event');
    kernel.post(`poe://${kernel.id}/${s.id}/hit`, 'ids');
    await kernel.idle();
    assert.deepEqual(seen, ['object', 'id', 'alias', 'spec', 'spec-with-event', 'ids']);
  });

  it('passes the posting session as ctx.sender, so a handler can reply', async () => {
    const { kernel } = testKernel();
    let answer: unknown;
    let senderSeen: Session | undefined;
    kernel.spawn({
      alias: 'echo',
      events: { ping: (ctx, n: number) => ctx.post(ctx.sender, 'pong', n + 1) },
    });
    kernel.spawn({
      events: {
        _start: (ctx) => ctx.post('echo', 'ping', 41),
        pong: (ctx, n: number) => {
          answer = n;
          senderSeen = ctx.sender;
        },
      },
    });
    await kernel.idle();
    assert.equal(answer, 42);
    assert.deepEqual(senderSeen?.aliases, ['echo']);
    await kernel.stop();
  });

  it('uses the kernel root as the sender of posts made outside any session', async () => {
    const { kernel } = testKernel();
    let sender: Session | undefined;
    kernel.spawn({
      alias: 'x',
      events: {
        e: (ctx) => {
          sender = ctx.sender;
          ctx.aliasRemove('x');
        },
      },
    });
    kernel.post('x', 'e');
    await kernel.run();
    assert.equal(sender, kernel.root);
  });

  it('reports a post to an unknown session to the sender as an _error event', async () => {
    const { kernel, unhandled } = testKernel();
    const errors: IkcError[] = [];
    kernel.spawn({
      events: {
        _start: (ctx) => ctx.post('nobody', 'hello'),
        _error: (_ctx, err: IkcError) => void errors.push(err),
      },
    });
    await kernel.run();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'IKC_ERR_NO_SESSION');
    assert.match(errors[0]?.message ?? '', /nobody/);
    assert.equal(unhandled.length, 0);
  });

  it('reports a missing handler to the sender, and uses _default when there is one', async () => {
    const { kernel } = testKernel();
    const errors: string[] = [];
    const defaulted: unknown[] = [];
    kernel.spawn({ alias: 'strict', events: { known: () => {} } });
    kernel.spawn({
      alias: 'lenient',
      events: { _default: (_ctx, event: string, args: unknown[]) => void defaulted.push([event, args]) },
    });
    kernel.spawn({
      events: {
        _start: (ctx) => {
          ctx.post('strict', 'unknown');
          ctx.post('lenient', 'whatever', 1, 2);
        },
        _error: (_ctx, err: IkcError) => void errors.push(err.code),
      },
    });
    await kernel.idle();
    assert.deepEqual(errors, ['IKC_ERR_NO_HANDLER']);
    assert.deepEqual(defaulted, [['whatever', [1, 2]]]);
    await kernel.stop();
  });

  it('never drops an error silently: with no _error handler it goes to monitors, else to onUnhandledError', async () => {
    const { kernel, unhandled } = testKernel();
    kernel.post('ghost', 'boo');
    await kernel.idle();
    assert.equal(unhandled.length, 1);
    assert.equal((unhandled[0]?.error as IkcError | undefined)?.code, 'IKC_ERR_NO_SESSION');

    const monitored: unknown[] = [];
    const m = kernel.monitor('error', (e) => monitored.push(e.error));
    kernel.post('ghost', 'boo');
    await kernel.idle();
    assert.equal(monitored.length, 1);
    assert.equal(unhandled.length, 1, 'a monitored error is not also unhandled');
    m.close();
  });

  it('reports a throwing handler to the sender and to the error monitor, and keeps dispatching', async () => {
    const { kernel } = testKernel();
    const seen: string[] = [];
    const monitored: unknown[] = [];
    kernel.monitor('error', (e) => monitored.push(e));
    kernel.spawn({
      alias: 'fragile',
      events: {
        boom: () => {
          throw new TypeError('kaboom');
        },
        ok: () => void seen.push('ok'),
        asyncBoom: async () => {
          await Promise.resolve();
          throw new RangeError('later');
        },
      },
    });
    const errors: IkcError[] = [];
    kernel.spawn({
      events: {
        _start: (ctx) => {
          ctx.post('fragile', 'boom');
          ctx.post('fragile', 'ok');
          ctx.post('fragile', 'asyncBoom');
        },
        _error: (_ctx, err: IkcError) => void errors.push(err),
      },
    });
    await new Promise((r) => setTimeout(r, 10));
    await kernel.idle();
    assert.deepEqual(seen, ['ok']);
    assert.deepEqual(
      errors.map((e) => [e.code, (e.cause as Error).constructor.name, e.details?.event]),
      [
        ['IKC_ERR_HANDLER', 'TypeError', 'boom'],
        ['IKC_ERR_HANDLER', 'RangeError', 'asyncBoom'],
      ],
    );
    assert.equal(monitored.length, 2);
    await kernel.stop();
  });

  it('refuses a missing or empty event name with IKC_ERR_INVALID_ARG', async () => {
    const { kernel, unhandled } = testKernel();
    kernel.spawn({ alias: 's', events: {} });
    kernel.post('s', '');
    await kernel.idle();
    assert.equal((unhandled[0]?.error as IkcError | undefined)?.code, 'IKC_ERR_INVALID_ARG');
    await assert.rejects(kernel.call('s', 42), { code: 'IKC_ERR_INVALID_ARG' });
    await kernel.stop();
  });

  it('reports an event queued to a session that stopped before delivery as IKC_ERR_SESSION_STOPPED', async () => {
    const { kernel } = testKernel();
    const errors: string[] = [];
    const victim = kernel.spawn({ alias: 'victim', events: { e: () => {} } });
    kernel.spawn({
      events: {
        _start: (ctx) => {
          ctx.post(victim, 'e');
          ctx.kernel.stopSession(victim);
        },
        _error: (_ctx, err: IkcError) => void errors.push(err.code),
      },
    });
    await kernel.run();
    assert.deepEqual(errors, ['IKC_ERR_SESSION_STOPPED']);
  });

  it('passes session references as event arguments, and they work as targets', async () => {
    const { kernel } = testKernel();
    let got = 0;
    kernel.spawn({
      alias: 'relay',
      events: { forward: (ctx, to: Session, n: number) => ctx.post(to, 'got', n) },
    });
    kernel.spawn({
      events: {
        _start: (ctx) => ctx.post('relay', 'forward', ctx.session, 7),
        got: (_ctx, n: number) => void (got = n),
      },
    });
    await kernel.idle();
    assert.equal(got, 7);
    await kernel.stop();
  });
});

describe('call', () => {
  it('runs the handler now and resolves to its return value', async () => {
    const { kernel } = testKernel();
    const order: string[] = [];
    kernel.spawn({
      alias: 'calc',
      events: {
        add: (_ctx, a: number, b: number) => {
          order.push('handler');
          return a + b;
        },
      },
    });
    const p = kernel.call('calc', 'add', 2, 3);
    order.push('after call');
    assert.equal(await p, 5);
    assert.deepEqual(order, ['handler', 'after call']);
    await kernel.stop();
  });

  it('awaits an async handler and resolves to its value', async () => {
    const { kernel } = testKernel();
    kernel.spawn({
      alias: 'slow',
      events: {
        get: async (_ctx, x: number) => {
          await Promise.resolve();
          return x * 2;
        },
      },
    });
    assert.equal(await kernel.call('slow', 'get', 21), 42);
    assert.equal(await kernel.call('poe:///slow/get', 5), 10);
    await kernel.stop();
  });

  it('rejects with what the handler threw, sync or async, and the kernel goes on', async () => {
    const { kernel } = testKernel();
    const errs: unknown[] = [];
    kernel.monitor('error', (e) => errs.push(e.error));
    kernel.spawn({
      alias: 'bad',
      events: {
        sync: () => {
          throw new Error('sync fail');
        },
        async: async () => {
          throw new Error('async fail');
        },
        fine: () => 'fine',
      },
    });
    await assert.rejects(kernel.call('bad', 'sync'), /sync fail/);
    await assert.rejects(kernel.call('bad', 'async'), /async fail/);
    assert.equal(await kernel.call('bad', 'fine'), 'fine');
    assert.equal(errs.length, 2);
    await kernel.stop();
  });

  it('rejects for an unknown session, a missing handler or a bad specifier, with codes', async () => {
    const { kernel } = testKernel();
    kernel.spawn({ alias: 'calc', events: { add: () => 0 } });
    await assert.rejects(kernel.call('nope', 'add'), { code: 'IKC_ERR_NO_SESSION' });
    await assert.rejects(kernel.call('calc', 'mul'), { code: 'IKC_ERR_NO_HANDLER' });
    await assert.rejects(kernel.call('poe://', 'add'), { code: 'IKC_ERR_BAD_SPEC' });
    await assert.rejects(kernel.call('poe://elsewhere/calc/add'), { code: 'IKC_ERR_NOT_LOCAL' });
    await kernel.stop();
  });

  it('from a handler, sets ctx.sender to the calling session', async () => {
    const { kernel } = testKernel();
    kernel.spawn({ alias: 'who', events: { ask: (ctx) => ctx.sender.aliases[0] } });
    const answer = await new Promise((resolve) => {
      kernel.spawn({
        alias: 'asker',
        events: { _start: (ctx) => void ctx.call('who', 'ask').then(resolve) },
      });
    });
    assert.equal(answer, 'asker');
    await kernel.stop();
  });

  it('is available on the session object', async () => {
    const { kernel } = testKernel();
    const s = kernel.spawn({ events: { twice: (_ctx, x: number) => 2 * x } });
    assert.equal(await s.call('twice', 4), 8);
    await kernel.stop();
  });

  it('resolve() returns the session or rejects with IKC_ERR_NO_SESSION', async () => {
    const { kernel } = testKernel();
    const s = kernel.spawn({ alias: 'calc', events: {} });
    assert.equal(await kernel.resolve('calc'), s);
    assert.equal(await kernel.resolve('poe:///calc'), s);
    await assert.rejects(kernel.resolve('poe:///other'), { code: 'IKC_ERR_NO_SESSION' });
    assert.equal(kernel.lookup('nothing'), undefined);
    await kernel.stop();
  });
});
