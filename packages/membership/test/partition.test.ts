import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cluster, converged } from './helpers.js';

describe('partitions', () => {
  it('a partition splits the cluster into two views; healing reconverges with no member lost or doubled', () => {
    const c = cluster(20, { seed: 20 });
    assert.ok(converged(c.members));
    const ids = c.members.map((m) => m.id);
    const sideA = c.members.slice(0, 10);
    const sideB = c.members.slice(10);
    c.net.partition(
      sideA.map((m) => m.id),
      sideB.map((m) => m.id),
    );
    const split = () =>
      sideA.every((m) => sideB.every((o) => m.member(o.id)?.state === 'dead')) &&
      sideB.every((m) => sideA.every((o) => m.member(o.id)?.state === 'dead'));
    assert.ok(c.net.runUntil(split, 120_000, 100), 'each side declared the other dead');
    for (const side of [sideA, sideB]) {
      assert.ok(
        side.every((m) => side.every((o) => m.member(o.id)?.state === 'alive')),
        'each side still sees itself alive',
      );
    }

    c.net.heal();
    const healedAt = c.net.clock.now();
    assert.ok(
      c.net.runUntil(() => converged(c.members), 120_000, 100),
      'reconverged',
    );
    assert.ok(c.net.clock.now() - healedAt < 90_000);
    for (const m of c.members) {
      const seen = m.members().map((x) => x.id);
      assert.equal(seen.length, 20, 'no duplicate');
      assert.deepEqual([...seen].sort(), [...ids].sort(), 'none lost');
    }
    c.net.runFor(30_000);
    assert.ok(converged(c.members), 'and it stays so');
  });
});
