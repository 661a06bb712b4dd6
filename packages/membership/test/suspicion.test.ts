import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { remainingSuspicionMs, SimClock, Suspicion, suspicionTimeoutMs } from '../src/index.js';
import { defaultOptions } from '../src/options.js';

describe('suspicion', () => {
  it('the timeout shrinks from max to min on a log scale as confirmations come in', () => {
    const [min, max, k] = [1_000, 6_000, 3];
    const t = (n: number) => remainingSuspicionMs(n, k, 0, min, max);
    assert.equal(t(0), 6_000);
    assert.equal(t(1), 3_500); // 6000 - 5000 × log 2 / log 4
    assert.equal(t(2), Math.floor(6_000 - 5_000 * (Math.log(3) / Math.log(4))));
    assert.equal(t(3), 1_000);
    assert.equal(t(10), 1_000, 'never below min');
    assert.equal(remainingSuspicionMs(1, k, 500, min, max), 3_000, 'elapsed time is taken off');
    assert.equal(remainingSuspicionMs(0, 0, 0, min, max), 1_000, 'k = 0: min at once');
  });

  it('fires at max without confirmations, earlier with each independent one', () => {
    const clock = new SimClock(0);
    const fired: number[] = [];
    const s = new Suspicion(clock, 'a', 3, 1_000, 6_000, (n) => fired.push(clock.now(), n));
    assert.equal(s.deadline, 6_000);
    clock.runFor(500);
    assert.equal(s.confirm('b'), true);
    assert.equal(s.deadline, 3_500, 'measured from the start, not from the confirmation');
    assert.equal(s.confirm('b'), false, 'one confirmation per member');
    assert.equal(s.confirm('a'), false, 'the member that raised it does not confirm it');
    assert.equal(s.confirm('c'), true);
    clock.runFor(1_536);
    assert.deepEqual(fired, [], 'not yet');
    clock.runFor(1);
    assert.deepEqual(fired, [2_037, 2], 'n = 2: floor(6000 - 5000 × log 3 / log 4) = 2037 ms');
    assert.equal(s.confirm('d'), false, 'nothing after firing');
  });

  it('fires at once when a confirmation brings the deadline into the past', () => {
    const clock = new SimClock(0);
    const fired: number[] = [];
    const s = new Suspicion(clock, 'a', 1, 1_000, 6_000, () => fired.push(clock.now()));
    clock.runFor(2_000);
    s.confirm('b');
    clock.runFor(0);
    assert.deepEqual(fired, [2_000]);
  });

  it('stops accepting confirmations at k, and cancel() prevents the timeout', () => {
    const clock = new SimClock(0);
    let fired = 0;
    const s = new Suspicion(clock, 'a', 2, 1_000, 6_000, () => fired++);
    assert.equal(s.confirm('b'), true);
    assert.equal(s.confirm('c'), true);
    assert.equal(s.confirm('d'), false, 'k reached');
    assert.equal(s.count, 2);
    s.cancel();
    clock.runFor(10_000);
    assert.equal(fired, 0);
  });

  it('the floor grows with log10 of the cluster size, as memberlist sets it', () => {
    const o = defaultOptions();
    assert.equal(suspicionTimeoutMs(o, 1), 4_000);
    assert.equal(suspicionTimeoutMs(o, 10), 4_000);
    assert.equal(suspicionTimeoutMs(o, 100), 8_000);
    assert.equal(suspicionTimeoutMs(o, 1_000), 12_000);
  });
});
