import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultOptions, suspicionTimeoutMs } from '../src/index.js';
import { cluster, converged, deathsOf, seenBy } from './helpers.js';

describe('failure detection', () => {
  it('a killed member is suspected, then declared dead by every other member within the bound', () => {
    const c = cluster(10, { seed: 11 });
    const victim = c.members[4]?.id as string;
    const others = c.members.filter((m) => m.id !== victim);
    c.net.kill(victim);
    const start = c.net.clock.now();
    const o = defaultOptions();
    // First failed probe: within two protocol periods; then at most the suspicion ceiling;
    // then the dead rumour's spread (a few gossip rounds).
    const bound = 2 * o.probeIntervalMs + o.suspicionMaxTimeoutMult * suspicionTimeoutMs(o, 10) + 2_000;
    const ok = c.net.runUntil(() => others.every((m) => m.member(victim)?.state === 'dead'), bound);
    assert.ok(ok, `all declared it dead within ${bound} ms`);
    assert.ok(seenBy(c, 'suspect', victim).size > 0, 'suspected first');
    const dead = seenBy(c, 'dead', victim);
    assert.equal(dead.size, 9);
    const first = Math.min(...dead.values());
    const last = Math.max(...dead.values());
    assert.ok(first - start >= suspicionTimeoutMs(o, 10), 'not before the suspicion floor');
    assert.ok(last - first < 2_000, `the death spread in ${last - first} ms`);
    assert.equal(deathsOf(c).length, 9, 'nobody else died');
  });

  it('a suspected member that is alive refutes: no false death under 10% loss at N = 50 over 10 minutes', () => {
    const c = cluster(50, { seed: 50 });
    assert.ok(converged(c.members));
    c.net.loss = 0.1;
    c.net.runFor(600_000);
    const suspicions = c.events.filter((e) => e.event.type === 'suspect').length;
    const refutations = c.events.filter((e) => e.event.type === 'alive').length;
    assert.ok(suspicions > 0, 'loss caused suspicions');
    assert.ok(refutations > 0, 'and refutations');
    assert.deepEqual(deathsOf(c), [], 'no false death');
    c.net.loss = 0;
    c.net.runFor(30_000);
    assert.ok(converged(c.members), 'all alive in every view');
    assert.ok(
      c.members.some((m) => m.local.incarnation > 0),
      'refuting raised incarnations',
    );
  });

  it('a member frozen for 1.5 s is not declared dead', () => {
    const c = cluster(10, { seed: 15 });
    const frozen = c.members[3]?.id as string;
    c.net.runFor(3_000);
    c.net.pause(frozen, 1_500);
    c.net.runFor(60_000);
    assert.deepEqual(deathsOf(c), []);
    assert.ok(converged(c.members));
  });

  it('a member that hears it is declared dead refutes and comes back', () => {
    const c = cluster(10, { seed: 21 });
    const [a, b] = c.members;
    if (!a || !b) throw new Error('cluster too small');
    // a hears (wrongly) that b died at b's current incarnation.
    a.receive(
      { id: 'x', address: 'mem://x' },
      { type: 5, updates: [{ kind: 3, id: b.id, inc: b.local.incarnation, from: 'x' }] },
    );
    assert.equal(a.member(b.id)?.state, 'dead');
    c.net.runFor(60_000);
    assert.equal(b.local.incarnation > 0, true, 'b refuted');
    assert.ok(converged(c.members), 'everyone has b alive again');
    assert.ok(seenBy(c, 'member-up', b.id).has(0), 'a saw b come back up');
  });
});
