// Calls in flight: every one ends, by its settlement, its timeout or its AbortSignal, and
// calls with the same timeout share one timer that never keeps the process alive by itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IkcError } from '@ikc/wire';
import { PendingCalls } from '../src/calls.js';

const what = () => 'call of poe://b/s/e';
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The live (ref'd) timers of the process: how node's own "is anything keeping me up" sees it. */
function refedTimers(): number {
  const resources = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo();
  return resources.filter((r) => r === 'Timeout').length;
}

describe('calls in flight', () => {
  it('settle with a value or an error, once', async () => {
    const calls = new PendingCalls();
    const a = calls.open('p', 1_000, undefined, what);
    const b = calls.open('p', 1_000, undefined, what);
    assert.equal(calls.size, 2);
    assert.ok(calls.settle(a.callId, 42));
    assert.equal(calls.settle(a.callId, 43), false);
    assert.ok(calls.settle(b.callId, undefined, new Error('no')));
    assert.equal(await a.promise, 42);
    await assert.rejects(b.promise, /no/);
    assert.equal(calls.size, 0);
  });

  it('time out in deadline order, whatever their timeouts and whoever settled in between', async () => {
    const calls = new PendingCalls();
    const started = performance.now();
    const ended: [string, number][] = [];
    const watch = (name: string, p: Promise<unknown>) =>
      p.catch((err: IkcError) => {
        assert.equal(err.code, 'IKC_ERR_TIMEOUT');
        assert.match(err.message, /call of poe:\/\/b\/s\/e timed out after \d+ ms/);
        ended.push([name, performance.now() - started]);
      });
    const slow = calls.open('p', 120, undefined, what);
    const fast1 = calls.open('p', 40, undefined, what);
    const answered = calls.open('p', 40, undefined, what);
    await tick(10);
    const fast2 = calls.open('p', 40, undefined, what);
    calls.settle(answered.callId, 'in time');
    await Promise.all([
      watch('slow', slow.promise),
      watch('fast1', fast1.promise),
      watch('fast2', fast2.promise),
      answered.promise,
    ]);
    assert.deepEqual(
      ended.map(([n]) => n),
      ['fast1', 'fast2', 'slow'],
    );
    const at = Object.fromEntries(ended);
    assert.ok((at.fast1 as number) >= 39, `fast1 after ${at.fast1} ms`);
    assert.ok((at.fast2 as number) >= 49, `fast2 after ${at.fast2} ms`);
    assert.ok((at.slow as number) >= 119, `slow after ${at.slow} ms`);
    assert.equal(calls.size, 0);
  });

  it('keep the process alive only while a call is pending', async () => {
    const calls = new PendingCalls();
    const before = refedTimers();
    const c = calls.open('p', 60_000, undefined, what);
    assert.equal(refedTimers(), before + 1, 'a pending call holds the process');
    calls.settle(c.callId, 1);
    assert.equal(refedTimers(), before, 'nothing pending: its timer no longer holds the process');
    const d = calls.open('p', 60_000, undefined, what);
    assert.equal(refedTimers(), before + 1);
    calls.failAll(() => new Error('stopped') as IkcError);
    await assert.rejects(d.promise, /stopped/);
    assert.equal(refedTimers(), before);
    await c.promise;
  });

  it('end by their AbortSignal', async () => {
    const calls = new PendingCalls();
    const ac = new AbortController();
    const c = calls.open('p', 60_000, ac.signal, what);
    ac.abort(new Error('user gave up'));
    await assert.rejects(c.promise, { code: 'IKC_ERR_ABORTED' });
    assert.equal(calls.size, 0);
  });

  it('fail those that went to a peer whose channel ended', async () => {
    const calls = new PendingCalls();
    const a = calls.open('gone', 60_000, undefined, what);
    const b = calls.open('here', 60_000, undefined, what);
    assert.equal(
      calls.failPeer('gone', () => new Error('unreachable') as IkcError),
      1,
    );
    await assert.rejects(a.promise, /unreachable/);
    calls.settle(b.callId, 'ok');
    assert.equal(await b.promise, 'ok');
  });

  it('do not pile up settled calls behind one that stays pending', () => {
    const calls = new PendingCalls();
    const stuck = calls.open('p', 60_000, undefined, what);
    for (let i = 0; i < 100_000; i++) calls.settle(calls.open('p', 60_000, undefined, what).callId, i);
    const expiry = (
      calls as unknown as { expiries: Map<number, { ids: number[]; head: number }> }
    ).expiries.get(60_000);
    assert.ok(expiry && expiry.ids.length - expiry.head < 5_000, `${expiry?.ids.length} ids kept`);
    calls.settle(stuck.callId, 0);
  });
});
