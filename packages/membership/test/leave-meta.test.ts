import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultOptions, MessageType, UpdateKind } from '../src/index.js';
import { cluster, deathsOf, seenBy } from './helpers.js';

describe('graceful leave', () => {
  it('a leave is seen by every member within a few gossip intervals, never as a death', async () => {
    const c = cluster(20, { seed: 31 });
    const leaver = c.members[6];
    if (!leaver) throw new Error('cluster too small');
    const start = c.net.clock.now();
    let stopped = false;
    const done = leaver.leave().then(() => {
      stopped = true;
    });
    const ok = c.net.runUntil(() => seenBy(c, 'left', leaver.id).size === 20, 5_000);
    assert.ok(ok, 'everyone saw it (the leaver included)');
    const last = Math.max(...seenBy(c, 'left', leaver.id).values());
    assert.ok(last - start <= 5 * defaultOptions().gossipIntervalMs, `within ${last - start} ms`);
    c.net.runFor(defaultOptions().leaveTimeoutMs);
    await done;
    assert.ok(stopped && !leaver.running, 'leave() resolved and the member stopped');
    c.net.runFor(120_000);
    assert.deepEqual(deathsOf(c), [], 'a member that left is not probed nor declared dead');
    for (const m of c.members.filter((x) => x !== leaver)) {
      assert.equal(m.member(leaver.id)?.state, 'left');
      assert.equal(m.liveCount, 19);
    }
  });
});

describe('meta', () => {
  it('meta updates propagate; the newer version replaces the older one, never the reverse', () => {
    const c = cluster(20, { seed: 41 });
    const [a, b] = c.members;
    if (!a || !b) throw new Error('cluster too small');
    a.setMeta({ load: 1 });
    a.setMeta({ load: 2 });
    const everywhere = () => c.members.every((m) => m.member(a.id)?.metaVersion === 2);
    assert.ok(c.net.runUntil(everywhere, 3_000), 'version 2 everywhere');
    assert.ok(c.members.every((m) => (m.member(a.id)?.meta as { load: number } | undefined)?.load === 2));
    assert.ok(seenBy(c, 'meta-change', a.id).size >= 19);
    // A stale update arriving late is ignored.
    b.receive(
      { id: a.id, address: a.local.address },
      {
        type: MessageType.GOSSIP,
        updates: [{ kind: UpdateKind.META, id: a.id, metaVer: 1, meta: { load: 1 } }],
      },
    );
    assert.deepEqual(b.member(a.id)?.meta, { load: 2 });
    // A member joining later gets the current meta from its seed.
    const late = c.net.add();
    void late.join([b.local.address]);
    c.net.runFor(100);
    assert.deepEqual(late.member(a.id)?.meta, { load: 2 });
    assert.equal(late.member(a.id)?.metaVersion, 2);
  });

  it('meta given at construction travels with the join', () => {
    const c = cluster(5, { seed: 42 });
    const m = c.net.add({ meta: { sessions: ['calc'] } });
    void m.join([c.members[0]?.local.address as string]);
    c.net.runFor(3_000);
    assert.ok(
      c.members.every(
        (x) => (x.member(m.id)?.meta as { sessions: string[] } | undefined)?.sessions[0] === 'calc',
      ),
    );
  });
});
