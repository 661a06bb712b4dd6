import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Membership,
  type MembershipMessage,
  type MembershipOptions,
  MemoryNetwork,
  type Peer,
  resolveOptions,
  SimClock,
  suspicionTimeoutMs,
} from '../src/index.js';

/** The options the mesh gives its membership (packages/mesh/src/cloud.ts). */
const CLOUD: Partial<MembershipOptions> = { suspicionMult: 2, leaveTimeoutMs: 1_000 };

/** `n` members that know each other (as a restored list), run for a few seconds. */
function formed(n: number, seed: number, options: Partial<MembershipOptions> = CLOUD) {
  const net = new MemoryNetwork({ seed, countBytes: false, options });
  const members: Membership[] = [];
  for (let i = 0; i < n; i++) members.push(net.add());
  const records = members.flatMap((m) => m.records());
  for (const m of members) {
    m.adopt(records);
    m.start();
  }
  net.runFor(5_000 + seed * 37);
  return { net, members };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

describe('failure detection timing (a frozen member, cloud options)', () => {
  it('the first death comes as the suspicion reaches its floor: the last-chance probe takes its last period', () => {
    const o = resolveOptions(CLOUD);
    const floor = suspicionTimeoutMs(o, 4);
    const afterSuspicion: number[] = [];
    const total: number[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const { net, members } = formed(4, seed);
      const victim = members[1] as Membership;
      const start = net.clock.now();
      let suspected = 0;
      let dead = 0;
      for (const m of members) {
        if (m === victim) continue;
        m.on((e) => {
          if (e.member.id !== victim.id) return;
          if (e.type === 'suspect') suspected ||= e.at;
          if (e.type === 'dead') dead ||= e.at;
        });
      }
      net.pause(victim.id, 600_000);
      assert.ok(
        net.runUntil(() => dead > 0, 30_000),
        `seed ${seed}: declared dead`,
      );
      afterSuspicion.push(dead - suspected);
      total.push(dead - start);
    }
    // Before: the last-chance probe came after the floor, at the next probe period: floor +
    // 1-2 periods (median 3 s), and 4.95 s from the freeze.
    assert.ok(
      median(afterSuspicion) <= floor + 100,
      `first suspicion to first death: median ${median(afterSuspicion)} ms (floor ${floor} ms)`,
    );
    assert.ok(
      afterSuspicion.every((ms) => ms >= floor),
      'never before the floor',
    );
    assert.ok(median(total) < 4_200, `freeze to first death: median ${median(total)} ms`);
  });

  it('pauses up to 2.5 s cause suspicions but no death, at 4 and at 10 members', () => {
    for (const n of [4, 10]) {
      let deaths = 0;
      let suspicions = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const { net, members } = formed(n, seed);
        const paused = members[1] as Membership;
        for (const m of members) {
          m.on((e) => {
            if (e.member.id !== paused.id) return;
            if (e.type === 'dead') deaths++;
            if (e.type === 'suspect') suspicions++;
          });
        }
        net.pause(paused.id, seed % 2 ? 2_000 : 2_500);
        net.runFor(20_000);
        assert.ok(
          members.every((m) => m.member(paused.id)?.state === 'alive'),
          `seed ${seed}: all alive again`,
        );
      }
      assert.equal(deaths, 0, `no false death at N = ${n}`);
      assert.ok(suspicions > 0, 'the pauses were noticed');
    }
  });

  it('relays that went silent too do not count against our own health: a partition does not slow either side down', () => {
    let peak = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const { net, members } = formed(5, seed);
      net.partition(
        members.slice(0, 3).map((m) => m.id),
        members.slice(3).map((m) => m.id),
      );
      net.runUntil(() => {
        peak = Math.max(peak, ...members.map((m) => m.health));
        return false;
      }, 20_000);
    }
    // Before, relays were any alive member, the far side included: the smaller side's health
    // score reached 4 within 20 s (probing 5 times slower), and 7 in the netns scenarios.
    assert.ok(peak <= 2, `health scores peaked at ${peak}`);
  });
});

/**
 * Two members on a scripted transport: `drop(message, to)` decides which messages are lost;
 * delivery takes 1 ms. Returns them and what each sent.
 */
function pair(options: Partial<MembershipOptions>, drop: (message: MembershipMessage, to: Peer) => boolean) {
  const clock = new SimClock(0);
  const byAddress = new Map<string, Membership>();
  const make = (id: string) => {
    const m: Membership = new Membership({
      self: { id, name: id, address: id },
      clock,
      options,
      random: () => 0.5,
      transport: {
        send: (to, message) => {
          if (drop(message, to)) return;
          clock.setTimer(() => byAddress.get(to.address)?.receive({ id, address: id }, message), 1);
        },
      },
    });
    byAddress.set(id, m);
    return m;
  };
  const a = make('a');
  const b = make('b');
  a.adopt(b.records());
  b.adopt(a.records());
  a.start();
  b.start();
  return { clock, a, b };
}

describe('direct retries', () => {
  it('a lost ping is retried in the indirect stage, so the target is not suspected', () => {
    for (const directRetries of [3, 0]) {
      let dropped = 0;
      // The first ping from a to b is lost; with only two members there is no relay to ask.
      const { clock, a, b } = pair({ directRetries }, (message, to) => {
        if (message.type !== 1 || to.address !== 'b' || dropped > 0) return false;
        dropped++;
        return true;
      });
      let suspected = 0;
      a.on((e) => {
        if (e.type === 'suspect' && e.member.id === b.id) suspected++;
      });
      clock.runFor(3_000);
      assert.equal(dropped, 1);
      assert.equal(suspected, directRetries > 0 ? 0 : 1, `with directRetries ${directRetries}`);
      assert.equal(a.member(b.id)?.state, 'alive', 'alive in the end (refuted, if it had to)');
      a.stop();
      b.stop();
    }
  });
});
