import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BroadcastQueue, msgpackSize, retransmitLimit, type Update, UpdateKind } from '../src/index.js';
import { cluster } from './helpers.js';

const left = (id: string, inc = 1): Update => ({ kind: UpdateKind.LEFT, id, inc });

describe('dissemination queue', () => {
  it('the retransmit limit grows with log10(N + 1)', () => {
    assert.deepEqual(
      [1, 9, 10, 99, 100, 999, 1_000, 10_000].map((n) => retransmitLimit(4, n)),
      [4, 4, 8, 8, 12, 12, 16, 20],
    );
  });

  it("a member's limit follows the size of its cluster", () => {
    const small = cluster(5);
    const large = cluster(120);
    assert.equal(small.members[0]?.retransmitLimit, 4);
    assert.equal(large.members[0]?.retransmitLimit, 12);
  });

  it('sends each update `limit` times, fewest-sent and newest first, then drops it', () => {
    const q = new BroadcastQueue();
    q.enqueue('a', left('a'));
    q.enqueue('b', left('b'));
    assert.deepEqual(
      q.take(1_000, 2).map((u) => (u as { id: string }).id),
      ['b', 'a'],
    );
    q.enqueue('c', left('c'));
    assert.deepEqual(
      q.take(1_000, 2).map((u) => (u as { id: string }).id),
      ['c', 'b', 'a'],
    );
    assert.equal(q.size, 1, 'a and b were sent twice');
    assert.equal(q.has('c'), true);
    q.take(1_000, 2);
    assert.equal(q.size, 0);
  });

  it('a newer update for the same key replaces the older one', () => {
    const q = new BroadcastQueue();
    q.enqueue('x', left('x', 1));
    q.enqueue('x', left('x', 2));
    assert.deepEqual(q.take(1_000, 4), [left('x', 2)]);
  });

  it('takes only what fits in the byte budget, leaving the rest for the next message', () => {
    const q = new BroadcastQueue();
    for (let i = 0; i < 10; i++) q.enqueue(`k${i}`, left(`member-${i}`));
    const one = msgpackSize(left('member-0')) + 1;
    assert.equal(q.take(one * 3, 4).length, 3);
    assert.equal(q.take(one * 3 + one - 1, 4).length, 3);
    assert.equal(q.take(10_000, 4).length, 10);
  });
});
