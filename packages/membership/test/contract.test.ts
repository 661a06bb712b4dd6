import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IkcError } from '@ikc/wire';
import {
  defaultOptions,
  Membership,
  type MembershipMessage,
  MemoryNetwork,
  msgpackSize,
  resolveOptions,
  SimClock,
} from '../src/index.js';

describe('options', () => {
  it("defaults are memberlist's LAN profile", () => {
    const o = defaultOptions();
    assert.equal(o.probeIntervalMs, 1_000);
    assert.equal(o.probeTimeoutMs, 500);
    assert.equal(o.gossipIntervalMs, 200);
    assert.equal(o.gossipNodes, 3);
    assert.equal(o.indirectChecks, 3);
    assert.equal(o.pushPullIntervalMs, 30_000);
    assert.notEqual(defaultOptions(), defaultOptions(), 'a fresh object each time');
  });

  it('unknown keys and bad values throw IKC_ERR_INVALID_ARG naming the key', () => {
    for (const bad of [{ probeIntervalMs: -1 }, { gossipNodes: 0 }, { nope: 1 }, { probeTimeoutMs: 2_000 }]) {
      assert.throws(
        () => resolveOptions(bad as never),
        (e: unknown) =>
          IkcError.is(e, 'IKC_ERR_INVALID_ARG') &&
          String((e as Error).message).includes(Object.keys(bad)[0] as string),
      );
    }
    assert.equal(resolveOptions({ suspicionConfirmations: 0 }).suspicionConfirmations, 0);
    assert.equal(resolveOptions({ directRetries: 0 }).directRetries, 0, 'no direct retries is allowed');
  });
});

describe('input from peers', () => {
  it('malformed messages and updates are ignored, never thrown', () => {
    const net = new MemoryNetwork({ seed: 71 });
    const a = net.add();
    const b = net.add();
    a.start();
    void b.join([a.local.address]);
    net.runFor(1_000);
    const from = { id: b.id, address: b.local.address };
    const junk: unknown[] = [
      null,
      42,
      'ping',
      [],
      { type: 99 },
      { type: 1 },
      { type: 1, seq: -1, target: a.id },
      { type: 5, updates: 'x' },
      { type: 5, updates: [null, { kind: 1 }, { kind: 1, member: { id: 'q' } }, { kind: 2, id: b.id }] },
      { type: 6, seq: 1, members: [null, { id: 1 }] },
      { type: 4, seq: 1, target: b.id },
    ];
    for (const m of junk) a.receive(from, m as MembershipMessage);
    net.runFor(5_000);
    assert.equal(a.liveCount, 2);
    assert.equal(a.member(b.id)?.state, 'alive');
  });

  it('a ping meant for another id (an old incarnation at the same address) is not acked', () => {
    const clock = new SimClock(0);
    const sent: MembershipMessage[] = [];
    const m = new Membership({
      self: { id: 'new', name: 'n', address: 'addr' },
      clock,
      transport: { send: (_to, msg) => sent.push(msg) },
    });
    m.start();
    m.receive({ address: 'x' }, { type: 1, seq: 1, target: 'old', updates: [] });
    m.receive({ address: 'x' }, { type: 1, seq: 2, target: 'new', updates: [] });
    assert.deepEqual(
      sent.map((s) => [s.type, 'seq' in s ? s.seq : undefined]),
      [[2, 2]],
    );
    m.stop();
  });

  it('the size estimate matches msgpack for plain values', () => {
    assert.equal(msgpackSize({ a: 1 }), 4);
    assert.equal(msgpackSize('x'.repeat(40)), 42);
    assert.equal(msgpackSize([1, 300, -5, 1.5, null, true]), 1 + 1 + 3 + 1 + 9 + 1 + 1);
  });
});

describe('simulation clock', () => {
  it('fires timers in due order, then creation order, and runUntil stops when done', () => {
    const clock = new SimClock(0);
    const order: string[] = [];
    clock.setTimer(() => order.push('b'), 20);
    clock.setTimer(() => order.push('a'), 10);
    clock.setTimer(() => order.push('c'), 20);
    const gone = clock.setTimer(() => order.push('x'), 15);
    clock.clearTimer(gone);
    clock.runFor(15);
    assert.deepEqual(order, ['a']);
    assert.equal(clock.now(), 15);
    assert.equal(
      clock.runUntil(() => order.length === 2, 100),
      true,
    );
    assert.equal(clock.now(), 20);
    assert.deepEqual(order, ['a', 'b']);
    assert.equal(
      clock.runUntil(() => false, 100),
      false,
    );
    assert.equal(clock.now(), 120);
  });
});
