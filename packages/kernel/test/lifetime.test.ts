import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Session } from '../src/index.js';
import { testKernel } from './helpers.js';

describe('session lifetime', () => {
  it('gives each kernel a nanoid id and each session an id never reused', async () => {
    const { kernel } = testKernel();
    const { kernel: other } = testKernel();
    assert.match(kernel.id, /^[A-Za-z0-9_-]{21}$/);
    assert.notEqual(kernel.id, other.id);
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add(kernel.spawn({ events: {} }).id);
    await kernel.run();
    for (let i = 0; i < 50; i++) ids.add(kernel.spawn({ events: {} }).id);
    assert.equal(ids.size, 100);
    for (const id of ids) assert.ok(id.startsWith(`${kernel.id}.`), 'a session id carries its kernel id');
    await kernel.run();
  });

  it('runs _start first and _stop last, and stops a session nothing holds', async () => {
    const { kernel } = testKernel();
    const log: string[] = [];
    kernel.spawn({
      args: ['hello'],
      events: {
        _start: (ctx, greeting: string) => {
          log.push(`start ${greeting}`);
          ctx.yield('work');
        },
        work: () => void log.push('work'),
        _stop: () => void log.push('stop'),
      },
    });
    assert.equal(kernel.size, 1);
    await kernel.run();
    assert.deepEqual(log, ['start hello', 'work', 'stop']);
    assert.equal(kernel.size, 0);
  });

  it('is held alive by an alias until the alias is removed', async () => {
    const { kernel } = testKernel();
    let stopped = false;
    const s = kernel.spawn({
      alias: ['one', 'two'],
      events: { drop: (ctx, a: string) => ctx.aliasRemove(a), _stop: () => void (stopped = true) },
    });
    assert.deepEqual(s.aliases, ['one', 'two']);
    kernel.post(s, 'drop', 'one');
    await kernel.idle();
    assert.equal(stopped, false);
    assert.deepEqual(s.aliases, ['two']);
    kernel.post(s, 'drop', 'two');
    await kernel.run();
    assert.equal(stopped, true);
    assert.equal(kernel.lookup('two'), undefined);
  });

  it('refuses an alias another session holds, with IKC_ERR_ALIAS_TAKEN', async () => {
    const { kernel } = testKernel();
    kernel.spawn({ alias: 'calc', events: {} });
    assert.throws(() => kernel.spawn({ alias: 'calc', events: {} }), { code: 'IKC_ERR_ALIAS_TAKEN' });
    assert.throws(() => kernel.spawn({ alias: 'a/b', events: {} }), { code: 'IKC_ERR_INVALID_ARG' });
    assert.equal(kernel.size, 1, 'a refused spawn leaves nothing behind');
    await kernel.stop();
  });

  it('is held alive by an explicit hold until it is released', async () => {
    const { kernel } = testKernel();
    let release: (() => void) | undefined;
    let stopped = false;
    kernel.spawn({
      events: { _start: (ctx) => void (release = ctx.hold()), _stop: () => void (stopped = true) },
    });
    await kernel.idle();
    assert.equal(stopped, false);
    release?.();
    release?.(); // a second release changes nothing
    await kernel.run();
    assert.equal(stopped, true);
  });

  it('is held alive by a pending async handler', async () => {
    const { kernel } = testKernel();
    const log: string[] = [];
    let finish: (() => void) | undefined;
    kernel.spawn({
      events: {
        _start: (ctx) => ctx.yield('slow'),
        slow: async () => {
          await new Promise<void>((r) => (finish = r));
          log.push('slow done');
        },
        _stop: () => void log.push('stop'),
      },
    });
    await kernel.idle();
    assert.deepEqual(log, []);
    finish?.();
    await kernel.run();
    assert.deepEqual(log, ['slow done', 'stop']);
  });

  it('tells the parent of a child with _child create and lose, and a child keeps its parent alive', async () => {
    const { kernel } = testKernel();
    const log: string[] = [];
    let child: Session | undefined;
    const parent = kernel.spawn({
      events: {
        _start: (ctx) => {
          child = ctx.spawn({
            events: { _start: () => 'child-ready', _stop: () => void log.push('child stop') },
          });
        },
        // _child create arrives inside ctx.spawn, before spawn returns (POE's order): compare ids later.
        _child: (_ctx, what: string, who: Session, result?: unknown) =>
          void log.push(`_child ${what} ${who.id} ${result ?? ''}`.trim()),
        _stop: () => void log.push('parent stop'),
      },
    });
    assert.equal(child?.parent, parent);
    assert.deepEqual(parent.children, [child]);
    await kernel.run();
    const id = child?.id;
    assert.deepEqual(log, [
      `_child create ${id} child-ready`,
      'child stop',
      `_child lose ${id}`,
      'parent stop',
    ]);
  });

  it('makes a session spawned inside a handler with kernel.spawn a child of the running session', async () => {
    const { kernel } = testKernel();
    let inner: Session | undefined;
    const outer = kernel.spawn({
      events: { _start: (ctx) => void (inner = ctx.kernel.spawn({ events: {} })) },
    });
    assert.equal(inner?.parent, outer);
    await kernel.run();
  });

  it('moves the children of a stopped session to its parent (POE reparenting)', async () => {
    const { kernel } = testKernel();
    const log: string[] = [];
    let middle: Session | undefined;
    let leaf: Session | undefined;
    const top = kernel.spawn({
      alias: 'top',
      events: {
        _start: (ctx) => {
          middle = ctx.spawn({
            events: {
              _start: (c) =>
                void (leaf = c.spawn({
                  alias: 'leaf',
                  events: {
                    _parent: (_c, from: Session, to: Session) =>
                      void log.push(`leaf parent ${from === middle} ${to === top}`),
                  },
                })),
            },
          });
        },
        _child: (_ctx, what: string, who: Session) => void log.push(`top ${what} ${who.id}`),
      },
    });
    kernel.stopSession(middle as Session);
    assert.equal(leaf?.parent, top);
    assert.deepEqual(top.children, [leaf]);
    const [m, l] = [middle?.id, leaf?.id];
    assert.deepEqual(log, [`top create ${m}`, `top gain ${l}`, 'leaf parent true true', `top lose ${m}`]);
    await kernel.stop();
  });

  it('ctx.stop() stops the session after the handler returns', async () => {
    const { kernel } = testKernel();
    const log: string[] = [];
    kernel.spawn({
      alias: 'quitter',
      events: {
        quit: (ctx) => {
          ctx.stop();
          log.push('still in handler');
        },
        _stop: () => void log.push('stop'),
      },
    });
    kernel.post('quitter', 'quit');
    await kernel.run();
    assert.deepEqual(log, ['still in handler', 'stop']);
  });

  it('run() resolves at once with no sessions and when the last one stops', async () => {
    const { kernel } = testKernel();
    await kernel.run();
    const s = kernel.spawn({ alias: 'x', events: { bye: (ctx) => ctx.aliasRemove('x') } });
    let done = false;
    const running = kernel.run().then(() => (done = true));
    await kernel.idle();
    assert.equal(done, false);
    s.post('bye');
    await running;
    assert.equal(done, true);
  });

  it('stop() stops every session children first, then refuses new ones', async () => {
    const { kernel } = testKernel();
    const log: string[] = [];
    kernel.spawn({
      alias: 'p',
      events: {
        _start: (ctx) => void ctx.spawn({ alias: 'c', events: { _stop: () => void log.push('c') } }),
        _stop: () => void log.push('p'),
      },
    });
    kernel.spawn({ alias: 'q', events: { _stop: () => void log.push('q') } });
    await kernel.stop();
    assert.deepEqual(log, ['c', 'p', 'q']);
    assert.equal(kernel.size, 0);
    assert.throws(() => kernel.spawn({ events: {} }), { code: 'IKC_ERR_KERNEL_STOPPED' });
  });

  it('a _start that throws stops the session and spawn throws IKC_ERR_HANDLER', async () => {
    const { kernel } = testKernel();
    let stopped = false;
    assert.throws(
      () =>
        kernel.spawn({
          alias: 'broken',
          events: {
            _start: () => {
              throw new Error('no');
            },
            _stop: () => void (stopped = true),
          },
        }),
      { code: 'IKC_ERR_HANDLER' },
    );
    assert.equal(stopped, true);
    assert.equal(kernel.lookup('broken'), undefined);
    assert.equal(kernel.size, 0);
  });

  it('refuses a definition whose handlers are not functions, naming the key', () => {
    const { kernel } = testKernel();
    assert.throws(() => kernel.spawn({ events: { add: 42 as never } }), /events\.add must be a function/);
  });

  it('lists live sessions with their aliases and published events', async () => {
    const { kernel } = testKernel();
    const s = kernel.spawn({ alias: 'calc', publish: ['add'], events: { add: () => 0 } });
    assert.deepEqual(kernel.list(), [{ id: s.id, aliases: ['calc'], published: ['add'], parent: null }]);
    await kernel.stop();
  });
});
