import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork, MessageType } from '../src/index.js';
import { cluster, converged, seenBy } from './helpers.js';

describe('join and convergence', () => {
  for (const n of [10, 100]) {
    it(`${n} members joining at once through one seed all know each other, alive, within seconds`, () => {
      const c = cluster(n, { seed: n });
      assert.ok(converged(c.members), 'converged');
      const took = c.net.clock.now() - 1_700_000_000_000;
      assert.ok(took < (n <= 10 ? 1_000 : 15_000), `in ${took} ms of simulated time`);
      for (const m of c.members) {
        const ids = m.members().map((x) => x.id);
        assert.equal(new Set(ids).size, n, 'no duplicates');
        assert.equal(
          m.members().filter((x) => x.local).length,
          1,
          'each member lists itself once, flagged local',
        );
      }
    });
  }

  it('a later join reaches every member by gossip, and everyone emits member-up once', () => {
    const c = cluster(30, { seed: 3 });
    const joiner = c.net.add();
    const start = c.net.clock.now();
    void joiner.join([c.members[7]?.local.address as string]);
    const ok = c.net.runUntil(() => seenBy(c, 'member-up', joiner.id).size === 30, 5_000);
    assert.ok(ok, 'every old member saw the join');
    const last = Math.max(...seenBy(c, 'member-up', joiner.id).values());
    assert.ok(last - start < 2_500, `spread in ${last - start} ms`);
    c.net.runFor(10_000);
    assert.equal(
      c.events.filter((e) => e.event.type === 'member-up' && e.event.member.id === joiner.id).length,
      30,
      'once per member',
    );
    assert.equal(joiner.liveCount, 31, 'the joiner learnt everyone from its seed');
  });

  it('join() resolves to the number of seeds that answered; an unreachable seed times out', async () => {
    const net = new MemoryNetwork({ seed: 5 });
    const a = net.add();
    const b = net.add();
    a.start();
    const answered = b.join([a.local.address, 'mem://nowhere']);
    net.runFor(5_000);
    assert.equal(await answered, 1);
    assert.equal(b.liveCount, 2);
    assert.equal(await b.join([b.local.address]), 0, 'joining oneself is a no-op');
  });

  it('every message survives a JSON round trip (plain data, fit for msgpack)', () => {
    const c = cluster(10, { seed: 9, serialize: true, loss: 0.05, countBytes: true });
    assert.ok(converged(c.members));
    c.members[1]?.setMeta({ sessions: [{ alias: 'calc', events: ['add'] }], load: 0.5 });
    c.net.kill(c.members[2]?.id as string);
    c.net.runFor(40_000);
    assert.deepEqual(c.members[5]?.member(c.members[1]?.id as string)?.meta, {
      sessions: [{ alias: 'calc', events: ['add'] }],
      load: 0.5,
    });
    assert.equal(c.members[5]?.member(c.members[2]?.id as string)?.state, 'dead');
    const types = Object.keys(c.net.stats.bytesByType).map(Number);
    assert.ok(types.includes(MessageType.PING) && types.includes(MessageType.PUSH_PULL));
  });
});
