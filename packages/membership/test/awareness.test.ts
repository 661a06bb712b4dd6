import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Awareness } from '../src/index.js';
import { cluster, converged } from './helpers.js';

describe('awareness (Lifeguard local health)', () => {
  it('stays within 0 .. max - 1 and stretches timeouts by score + 1', () => {
    const a = new Awareness(8);
    assert.equal(a.scale(500), 500);
    assert.equal(a.apply(-1), false, 'no change at the floor');
    a.apply(3);
    assert.equal(a.score, 3);
    assert.equal(a.scale(500), 2_000);
    a.apply(100);
    assert.equal(a.score, 7);
    a.apply(-100);
    assert.equal(a.score, 0);
  });

  it("rises while a member's messages are lost, and falls back once they get through", () => {
    const c = cluster(10, { seed: 61 });
    const cut = c.members[0];
    if (!cut) throw new Error('cluster too small');
    assert.equal(cut.health, 0);
    // Everything it sends or is sent is lost: its probes fail and its relays never answer.
    c.net.partition([cut.id]);
    let peak = 0;
    c.net.runUntil(() => {
      peak = Math.max(peak, cut.health);
      return false;
    }, 15_000);
    assert.ok(peak >= 4, `health score rose to ${peak}`);
    assert.equal(
      c.members.slice(1).every((m) => m.health <= 1),
      true,
      'healthy members, whose relays answer, are not penalised',
    );
    c.net.heal();
    assert.ok(
      c.net.runUntil(() => cut.health === 0, 120_000),
      'back to 0 after successful probes',
    );
    c.net.runFor(60_000);
    assert.ok(converged(c.members));
  });
});
