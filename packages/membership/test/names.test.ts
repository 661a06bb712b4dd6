import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork, olderClaim } from '../src/index.js';
import { cluster, converged } from './helpers.js';

describe('name conflicts', () => {
  it('the member that started first keeps the name; the newcomer is flagged by everyone, itself included', () => {
    const c = cluster(6, { seed: 51 });
    const holder = c.members[2];
    if (!holder) throw new Error('cluster too small');
    const name = holder.local.name;
    const newcomer = c.net.add({ name });
    const events: string[] = [];
    newcomer.on((e) => {
      if (e.type === 'name-conflict') events.push(`${e.member.id}<${e.holder?.id}`);
    });
    void newcomer.join([c.members[0]?.local.address as string]);
    c.net.runFor(5_000);
    const all = [...c.members, newcomer];
    assert.ok(converged(all), 'both stay members: ids are unique, only the name clashes');
    for (const m of all) {
      assert.equal(m.nameHolder(name)?.id, holder.id);
      assert.equal(m.member(newcomer.id)?.nameConflict, true);
      assert.equal(m.member(holder.id)?.nameConflict, false);
    }
    assert.deepEqual(events, [`${newcomer.id}<${holder.id}`], 'the newcomer learns that it lost');
    const seen = c.events.filter((e) => e.event.type === 'name-conflict');
    assert.equal(seen.length, 6, 'each old member reported it once');
    assert.ok(seen.every((e) => e.event.member.id === newcomer.id && e.event.holder?.id === holder.id));
  });

  it('when the holder goes, the name passes to the remaining claimant', async () => {
    const c = cluster(4, { seed: 52 });
    const holder = c.members[1];
    if (!holder) throw new Error('cluster too small');
    const newcomer = c.net.add({ name: holder.local.name });
    void newcomer.join([c.members[0]?.local.address as string]);
    c.net.runFor(3_000);
    assert.equal(newcomer.local.nameConflict, true);
    void holder.leave();
    c.net.runFor(3_000);
    assert.equal(newcomer.local.nameConflict, false);
    assert.ok(
      c.members.filter((m) => m !== holder).every((m) => m.nameHolder(holder.local.name)?.id === newcomer.id),
    );
  });

  it('equal start times fall back to the smaller id, so every member decides alike', () => {
    assert.equal(olderClaim({ started: 1, id: 'b' }, { started: 2, id: 'a' }), true);
    assert.equal(olderClaim({ started: 2, id: 'a' }, { started: 2, id: 'b' }), true);
    assert.equal(olderClaim({ started: 2, id: 'b' }, { started: 2, id: 'a' }), false);
    const net = new MemoryNetwork({ seed: 53 });
    const x = net.add({ name: 'twin', id: 'zzz', startedAt: 5 });
    const y = net.add({ name: 'twin', id: 'aaa', startedAt: 5 });
    x.start();
    void y.join([x.local.address]);
    net.runFor(3_000);
    assert.equal(x.nameHolder('twin')?.id, 'aaa');
    assert.equal(y.nameHolder('twin')?.id, 'aaa');
    assert.equal(x.local.nameConflict, true);
  });
});
