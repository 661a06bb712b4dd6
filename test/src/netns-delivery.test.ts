// Exactly-once, in-order delivery between two kernels on two hosts (network namespaces)
// while the network between them fails: nft drops every packet between the hosts for a
// while, as a pulled cable or a dead switch would (no FIN, no RST: the sockets never hear
// of it), then lets them through again. Unlike mesh-delivery.test.ts (a proxy destroys the
// sockets, so both ends learn at once), here each end must find out by itself.
//
// The kernels run in the namespaces; the test process cannot reach them over TCP, so it
// attaches as a leaf kernel to each one's UNIX socket (the filesystem is shared across
// network namespaces) and drives them by calling their sessions:
//   tx (host 0): the netns-sender session streams poe://rx/sink/hit 0..n-1 in batches;
//   rx (host 1): the sink records what arrives; check() says whether it is 0..n-1, once each.
// Needs root, ip and nft.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { attach, type MeshKernel, silentLogger } from '@ikc/mesh';
import { eventually, Lab, type LabKernel, labSkipReason } from './harness/netns.js';

const skip = labSkipReason();
const cloud = { name: 'netns-delivery', secret: 'across the bridge' };
const N = 100_000;
const CUT_AT = 20_000;

const labs: Lab[] = [];
const leaves: MeshKernel[] = [];
after(async () => {
  for (const leaf of leaves) await leaf.stop().catch(() => {});
  for (const lab of labs) await lab.destroy();
});

interface Progress {
  sent: number;
  done: boolean;
  errors: number;
  codes: Record<string, number>;
  ms: number | undefined;
}

interface LogLine {
  time: number;
  msg: string;
  peer?: string;
  reason?: string;
  err?: string;
  resent?: number;
}

/** A kernel's pino log lines (stderr) with these messages. */
function logs(proc: LabKernel, ...msgs: string[]): LogLine[] {
  const out: LogLine[] = [];
  for (const line of proc.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as LogLine;
      if (msgs.includes(entry.msg)) out.push(entry);
    } catch {}
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two hosts, a receiver on host 1 and a sender on host 0 seeded with it, a leaf on each. */
async function setUp(mesh: Record<string, number>) {
  const lab = await Lab.create(2);
  labs.push(lab);
  const rx = await lab.startKernel(1, { kernel: { name: 'rx' }, cloud, sessions: ['./sink.js'], mesh });
  const tx = await lab.startKernel(0, {
    kernel: { name: 'tx' },
    cloud: { ...cloud, seeds: [rx.listen] },
    sessions: ['./netns-sender.js'],
    mesh,
  });
  await tx.waitFor('"kernel.up","kernel":"rx"');
  assert.match(rx.listen, new RegExp(`^${lab.hosts[1]?.address.replaceAll('.', '\\.')}:\\d+$`));
  const options = { cloud, processSignals: false, logger: silentLogger };
  const viaTx = await attach({ ...options, socket: tx.socket, name: `leaf-tx-${lab.id}` });
  leaves.push(viaTx);
  const viaRx = await attach({ ...options, socket: rx.socket, name: `leaf-rx-${lab.id}` });
  leaves.push(viaRx);
  const progress = () => viaTx.call('poe://tx/sender/progress') as Promise<Progress>;
  const count = () => viaRx.call('poe://rx/sink/count') as Promise<number>;
  const check = () => viaRx.call('poe://rx/sink/check') as Promise<{ count: number; firstBreak: number }>;
  return { lab, rx, tx, viaTx, progress, count, check };
}

/**
 * Streams N posts from tx to rx; at CUT_AT sent, cuts the two hosts apart for `cutMs`, then
 * heals. Checks that nothing moved during the cut, and that in the end every post arrived
 * exactly once and in order, with nothing reported undelivered. Returns the timings.
 */
async function streamThroughCut(env: Awaited<ReturnType<typeof setUp>>, cutMs: number) {
  const { lab, viaTx, progress, count, check } = env;
  const t0 = Date.now();
  // 100 batches of 1,000 with a 50 ms pause after each: the stream lasts about 6 s, so
  // posts go out before, during and after the cut.
  await viaTx.call('poe://tx/sender/go', N, 'rx', { batch: 1_000, pauseMs: 50 });
  await eventually(async () => (await progress()).sent >= CUT_AT, 20_000, `${CUT_AT} posts sent`);
  await eventually(async () => (await count()) > 0, 10_000, 'the first posts to arrive');
  await lab.cut(0, 1);
  const cutAt = Date.now();
  const sentAtCut = (await progress()).sent;
  // Let what was already in the receiving socket drain, then watch: nothing may arrive.
  await sleep(Math.min(500, cutMs / 4));
  const during1 = await count();
  await sleep(cutMs - Math.min(500, cutMs / 4) - 100);
  const during2 = await count();
  const sentDuringCut = (await progress()).sent - sentAtCut;
  await lab.heal();
  const healedAt = Date.now();
  assert.equal(during2, during1, 'nothing crossed the cut');
  assert.ok(during2 < N, 'the cut came before the end of the stream');
  // Wait for every post; give up at once when the sender is done, was told some posts were
  // not delivered (they never will be) and the count has stopped moving.
  let last = -1;
  let stillSince = Date.now();
  for (;;) {
    const got = await count();
    if (got >= N) break;
    if (got !== last) [last, stillSince] = [got, Date.now()];
    const p = await progress();
    const stuck = Date.now() - stillSince > (p.done && p.errors > 0 ? 1_000 : 20_000);
    if (stuck) {
      // Say where it stopped, and what each kernel's links did.
      const links = (k: LabKernel) =>
        logs(k, 'link up', 'link down', 'link resumed')
          .map((l) => `${l.time - cutAt} ms: ${l.msg} ${l.peer} ${l.err ?? l.reason ?? ''} ${l.resent ?? ''}`)
          .join('\n    ');
      assert.fail(
        `not every post arrived after the heal: ${JSON.stringify({ check: await check(), progress: p })}\n` +
          `  tx links (ms after the cut):\n    ${links(env.tx)}\n  rx links:\n    ${links(env.rx)}`,
      );
    }
    await sleep(50);
  }
  const allAt = Date.now();
  // The sender marks itself done after its last batch's pause, maybe after the last arrival.
  await eventually(async () => (await progress()).done, 5_000, 'the sender to finish');
  const done = await progress();
  assert.equal(done.errors, 0, `posts reported undelivered: ${JSON.stringify(done.codes)}`);
  assert.deepEqual(await check(), { count: N, firstBreak: -1 }, 'exactly once, in order');
  const t = {
    cutMs: healedAt - cutAt,
    sentAtCut,
    sentDuringCut,
    arrivedBeforeCut: during2,
    healToAllMs: allAt - healedAt,
    streamMs: done.ms,
    totalMs: allAt - t0,
  };
  return t;
}

describe('delivery between kernels on two hosts whose network fails', () => {
  it(`${N.toLocaleString('en')} posts arrive exactly once and in order across a 2 s cut shorter than deadAfterMs`, {
    skip,
    timeout: 60_000,
  }, async () => {
    // deadAfterMs (10 s) outlasts the cut: the link is never declared dead. TCP holds the
    // unacknowledged bytes and retransmits them after the heal; the ws connection, and the
    // link, ride the cut out.
    const env = await setUp({ resumeWindowMs: 15_000, deadAfterMs: 10_000, pingIntervalMs: 500 });
    const t = await streamThroughCut(env, 2_000);
    console.log(`# short cut: ${JSON.stringify(t)}`);
    assert.deepEqual(
      [...logs(env.tx, 'link down'), ...logs(env.rx, 'link down')],
      [],
      'the link stayed up through the cut',
    );
  });

  it(`${N.toLocaleString('en')} posts arrive exactly once and in order when a 3 s cut outlasts deadAfterMs`, {
    skip,
    timeout: 60_000,
  }, async () => {
    // deadAfterMs (1 s, pings every 200 ms) is shorter than the cut: both ends declare the
    // link dead while the hosts are apart. The channel waits (resumeWindowMs, 15 s) while tx
    // redials (every 50-300 ms, each attempt given 1 s); after the heal a new link comes
    // up, the channel resumes on it and resends what rx never acknowledged; rx drops what
    // it already had. Shorter redial and handshake limits than the defaults keep the wait
    // after the heal short (with the defaults, up to ~12 s: a 5 s backoff plus jitter, and
    // a 5 s handshake).
    const mesh = {
      resumeWindowMs: 15_000,
      deadAfterMs: 1_000,
      pingIntervalMs: 200,
      reconnectMinMs: 50,
      reconnectMaxMs: 300,
      handshakeTimeoutMs: 1_000,
    };
    const env = await setUp(mesh);
    const t = await streamThroughCut(env, 3_000);
    const downs = [...logs(env.tx, 'link down'), ...logs(env.rx, 'link down')];
    const resumed = [...logs(env.tx, 'link resumed'), ...logs(env.rx, 'link resumed')];
    console.log(
      `# long cut: ${JSON.stringify(t)}; link down: ${downs.map((d) => `${d.peer} (${d.err ?? d.reason})`).join(', ')}; ` +
        `resumed: ${resumed.map((r) => `${r.peer} resent ${r.resent}`).join(', ')}`,
    );
    assert.ok(logs(env.tx, 'link down').length >= 1, 'tx declared the link dead');
    assert.ok(logs(env.rx, 'link down').length >= 1, 'rx declared the link dead');
    assert.ok(logs(env.tx, 'link resumed').length >= 1, "tx's channel resumed on a new link");
    assert.ok(logs(env.rx, 'link resumed').length >= 1, "rx's channel resumed on a new link");
  });
});
