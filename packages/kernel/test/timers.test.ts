import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from '../src/index.js';
import { testKernel } from './helpers.js';

/** Moves the fake clock and lets the kernel dispatch what fell due. */
async function advance(k: ReturnType<typeof testKernel>, ms: number): Promise<void> {
  k.clock.advance(ms);
  await k.kernel.idle();
}

describe('timers', () => {
  it('delay fires once after its time, with its arguments, as an event from the session itself', async () => {
    const t = testKernel();
    const fired: unknown[] = [];
    t.kernel.spawn({
      events: {
        _start: (ctx) => void ctx.delay('tick', 1000, 'a', 1),
        tick: (ctx, ...args: unknown[]) =>
          void fired.push([t.clock.now(), ctx.sender === ctx.session, ...args]),
      },
    });
    const start = t.clock.now();
    await advance(t, 999);
    assert.deepEqual(fired, []);
    await advance(t, 1);
    assert.deepEqual(fired, [[start + 1000, true, 'a', 1]]);
    await t.kernel.run();
  });

  it('a named delay replaces the earlier timer of that name; delay without ms clears it', async () => {
    const t = testKernel();
    const fired: number[] = [];
    let ctx: Context | undefined;
    t.kernel.spawn({
      alias: 's',
      events: {
        _start: (c) => {
          ctx = c;
          c.delay('tick', 100, 1);
          c.delay('tick', 300, 2);
        },
        tick: (_c, n: number) => void fired.push(n),
      },
    });
    await advance(t, 200);
    assert.deepEqual(fired, []);
    await advance(t, 100);
    assert.deepEqual(fired, [2]);
    ctx?.delay('tick', 100, 3);
    ctx?.delay('tick');
    await advance(t, 500);
    assert.deepEqual(fired, [2]);
    await t.kernel.stop();
  });

  it('delaySet adds independent timers and alarmRemove cancels one by id', async () => {
    const t = testKernel();
    const fired: string[] = [];
    let removed: unknown;
    t.kernel.spawn({
      events: {
        _start: (ctx) => {
          ctx.delaySet('t', 100, 'a');
          const b = ctx.delaySet('t', 100, 'b');
          ctx.delaySet('t', 50, 'c');
          removed = ctx.alarmRemove(b);
          assert.equal(ctx.alarmRemove(b), undefined, 'removing twice finds nothing');
        },
        t: (_ctx, x: string) => void fired.push(x),
      },
    });
    await advance(t, 100);
    assert.deepEqual(fired, ['c', 'a']);
    assert.deepEqual(removed, { event: 't', due: t.clock.now(), args: ['b'] });
    await t.kernel.run();
  });

  it('alarm and alarmSet fire at an absolute time', async () => {
    const t = testKernel();
    const fired: [string, number][] = [];
    const at = t.clock.now() + 5000;
    t.kernel.spawn({
      events: {
        _start: (ctx) => {
          ctx.alarm('named', at);
          ctx.alarmSet('byId', at + 1);
        },
        named: () => void fired.push(['named', t.clock.now()]),
        byId: () => void fired.push(['byId', t.clock.now()]),
      },
    });
    await advance(t, 4999);
    assert.deepEqual(fired, []);
    await advance(t, 1);
    await advance(t, 1);
    assert.deepEqual(fired, [
      ['named', at],
      ['byId', at + 1],
    ]);
    await t.kernel.run();
  });

  it('timers falling due at the same time fire in the order they were set', async () => {
    const t = testKernel();
    const fired: number[] = [];
    t.kernel.spawn({
      events: {
        _start: (ctx) => {
          for (let i = 0; i < 10; i++) ctx.delaySet('t', 10, i);
        },
        t: (_ctx, i: number) => void fired.push(i),
      },
    });
    await advance(t, 10);
    assert.deepEqual(fired, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await t.kernel.run();
  });

  it('delayAdjust moves a timer, alarmRemoveAll clears them all', async () => {
    const t = testKernel();
    const fired: string[] = [];
    let ctx: Context | undefined;
    let id = 0;
    t.kernel.spawn({
      alias: 's',
      events: {
        _start: (c) => {
          ctx = c;
          id = c.delaySet('t', 100, 'moved');
          assert.equal(c.delayAdjust(id, 1000), true);
        },
        t: (_c, x: string) => void fired.push(x),
      },
    });
    await advance(t, 500);
    assert.deepEqual(fired, []);
    await advance(t, 500);
    assert.deepEqual(fired, ['moved']);
    assert.equal(ctx?.delayAdjust(id, 10), false, 'a fired timer cannot be moved');
    ctx?.delaySet('t', 10, 'x');
    ctx?.delaySet('t', 20, 'y');
    assert.equal(ctx?.alarmRemoveAll(), 2);
    await advance(t, 100);
    assert.deepEqual(fired, ['moved']);
    await t.kernel.stop();
  });

  it('a pending timer keeps its session alive; when it fires and nothing else holds, the session stops', async () => {
    const t = testKernel();
    const log: string[] = [];
    t.kernel.spawn({
      events: {
        _start: (ctx) => void ctx.delay('later', 60_000),
        later: () => void log.push('later'),
        _stop: () => void log.push('stop'),
      },
    });
    await t.kernel.idle();
    assert.equal(t.kernel.size, 1);
    await advance(t, 60_000);
    await t.kernel.run();
    assert.deepEqual(log, ['later', 'stop']);
  });

  it('stopping a session cancels its timers', async () => {
    const t = testKernel();
    const log: string[] = [];
    const s = t.kernel.spawn({
      events: { _start: (ctx) => void ctx.delay('never', 100), never: () => void log.push('fired') },
    });
    t.kernel.stopSession(s);
    assert.equal(t.clock.pending, 0, 'no host timer stays armed');
    await advance(t, 1000);
    assert.deepEqual(log, []);
  });

  it('refuses a timer with no finite time', () => {
    const t = testKernel();
    t.kernel.spawn({
      events: {
        _start: (ctx) => assert.throws(() => ctx.delaySet('x', Number.NaN), { code: 'IKC_ERR_INVALID_ARG' }),
      },
    });
  });
});
