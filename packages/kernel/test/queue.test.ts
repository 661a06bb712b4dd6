import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventQueue, type Queued } from '../src/fifo.js';

describe('event queue', () => {
  it('keeps FIFO order across growth and wrap-around', () => {
    const q = new EventQueue<string>();
    const out: Queued<string> = { target: '', event: '', args: [], sender: '' };
    const seen: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the ring wraps while it grows.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37 * round; i++) q.push(`t${next}`, 'e', [next++], 's');
      for (let i = 0; i < 20 * round && q.shiftInto(out); i++) seen.push(out.args[0] as number);
    }
    while (q.shiftInto(out)) seen.push(out.args[0] as number);
    assert.equal(seen.length, next);
    assert.deepEqual(
      seen,
      Array.from({ length: next }, (_, i) => i),
    );
    assert.equal(q.length, 0);
    assert.equal(q.shiftInto(out), false);
  });

  it('gives back the memory of a deep queue once it drains, and still works', () => {
    const q = new EventQueue<number>();
    const out: Queued<number> = { target: 0, event: '', args: [], sender: 0 };
    for (let i = 0; i < 200_000; i++) q.push(i, 'e', [], i);
    const big = (q as unknown as { slots: unknown[] }).slots.length;
    while (q.shiftInto(out)) {}
    const small = (q as unknown as { slots: unknown[] }).slots.length;
    assert.ok(big >= 800_000 && small <= 256, `ring went from ${big} to ${small} slots`);
    q.push(1, 'again', [2], 3);
    assert.equal(q.shiftInto(out), true);
    assert.deepEqual(out, { target: 1, event: 'again', args: [2], sender: 3 });
  });
});
