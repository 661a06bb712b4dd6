// Failure tests of the mesh with real kernel processes on loopback: kill -9 with calls in
// flight, three linked hosts and a leaf, graceful shutdown, redialing a restarted kernel,
// and `*` specifiers failing over.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MonitorEvent, Session } from '@ikc/kernel';
import { attach, type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { eventually, type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';

const cloud = { name: 'failure-test', secret: 'seven sleepy seals' };

/** Resolves as `p` does, or rejects if it has not settled within `ms` (so no test hangs). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Everything one describe block starts, so its `after` hook can end it all, even on failure. */
class Fleet {
  readonly dir = socketDir();
  private readonly procs: KernelProc[] = [];
  private readonly kernels: MeshKernel[] = [];

  sock(name: string): string {
    return join(this.dir, `${name}.sock`);
  }

  /** A kernel process named `name`, listening on loopback and on a UNIX socket in our dir. */
  async proc(name: string, extra: Record<string, unknown> = {}): Promise<KernelProc> {
    const { kernel, ...rest } = extra as { kernel?: Record<string, unknown> };
    const p = await startKernelProc({
      kernel: { name, listen: '127.0.0.1:0', socket: this.sock(name), ...kernel },
      cloud,
      ...rest,
    });
    this.procs.push(p);
    return p;
  }

  /** The test process as a host kernel that dials `seeds`. */
  async host(name: string, seeds: string[]): Promise<MeshKernel> {
    const k = await startKernel({
      kernel: { name, listen: '127.0.0.1:0', socket: false },
      cloud: { ...cloud, seeds },
      logger: silentLogger,
      processSignals: false,
    });
    this.kernels.push(k);
    return k;
  }

  /** The test process as a leaf kernel of the host kernel process `host`. */
  async leaf(name: string, host: KernelProc): Promise<MeshKernel> {
    const k = await attach({ socket: host.socket, name, cloud, logger: silentLogger, processSignals: false });
    this.kernels.push(k);
    return k;
  }

  /** A kernel started by the test itself, stopped with the rest. */
  adopt(k: MeshKernel): void {
    this.kernels.push(k);
  }

  async end(): Promise<void> {
    await Promise.all(this.kernels.map((k) => k.stop().catch(() => {})));
    await Promise.all(this.procs.map((p) => p.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

type Stamped = MonitorEvent & { at: number };

/** Records what a monitor sees, with the time it saw it. */
function record(kernel: MeshKernel, types: string | string[], options: { kernel?: string } = {}) {
  const events: Stamped[] = [];
  const monitor = kernel.monitor(types, (e) => events.push({ ...e, at: Date.now() }), options);
  return {
    events,
    monitor,
    find: (type: string, name: string) => events.find((e) => e.type === type && e.kernel === name),
  };
}

interface Outcome {
  settled: boolean;
  at: number;
  value?: unknown;
  error?: { code?: string; message?: string };
}

/** Watches a promise and notes when and how it settled. */
function track(p: Promise<unknown>): Outcome {
  const o: Outcome = { settled: false, at: 0 };
  p.then(
    (value) => Object.assign(o, { settled: true, at: Date.now(), value }),
    (error) => Object.assign(o, { settled: true, at: Date.now(), error }),
  );
  return o;
}

/** The rejection of `p` (fails when it resolves). */
async function rejection(p: Promise<unknown>, what: string): Promise<{ code?: string; message: string }> {
  return p.then(
    (v) => assert.fail(`${what} resolved to ${JSON.stringify(v)}; it must fail`),
    (e: { code?: string; message: string }) => e,
  );
}

const named = (peers: { name: string }[], name: string) => peers.some((p) => p.name === name);

const kernelOf = (answer: unknown) => (answer as { kernel: string }).kernel;

describe('kill -9 of a kernel process with calls in flight', () => {
  const fleet = new Fleet();
  let steady: KernelProc;
  let doomed: KernelProc;
  let tester: MeshKernel;
  let leaf: MeshKernel;
  let downs: ReturnType<typeof record>;
  let leafDowns: ReturnType<typeof record>;
  let proxy: Session;
  let leafProxy: Session;
  let killedAt = 0;

  before(async () => {
    steady = await fleet.proc('steady', { sessions: ['./calc.js'] });
    doomed = await fleet.proc('doomed', {
      sessions: ['./calc.js'],
      cloud: { ...cloud, seeds: [steady.listen] },
    });
    await steady.waitFor('"kernel.up","kernel":"doomed"');
    // The test process twice: a host linked to both directly, and a leaf of steady that
    // reaches doomed through steady (its calls are relayed).
    tester = await fleet.host('tester', [steady.listen, doomed.listen]);
    leaf = await fleet.leaf('leaf', steady);
    await eventually(
      () =>
        named(tester.peers(), 'steady') && named(tester.peers(), 'doomed') && named(leaf.peers(), 'doomed'),
      5_000,
      'tester and leaf to know steady and doomed',
    );
    downs = record(tester, 'kernel.down');
    leafDowns = record(leaf, 'kernel.down');
  });

  after(() => fleet.end());

  it('fails every call in flight to it at once with IKC_ERR_UNREACHABLE, direct and relayed', async () => {
    proxy = await tester.resolve('poe://doomed/calc');
    leafProxy = await leaf.resolve('poe://doomed/calc');
    assert.equal(await proxy.call('add', 1, 2), 3);
    assert.equal(await leafProxy.call('add', 2, 3), 5);

    const direct = Array.from({ length: 20 }, (_, i) =>
      track(tester.call('poe://doomed/calc/slow', 5_000, i)),
    );
    const relayed = Array.from({ length: 20 }, (_, i) =>
      track(leaf.call('poe://doomed/calc/slow', 5_000, i)),
    );
    // Calls leave in order: once these come back, the slow calls are running on doomed.
    assert.equal(await tester.call('poe://doomed/calc/add', 0, 1), 1);
    assert.equal(await leaf.call('poe://doomed/calc/add', 0, 2), 2);
    assert.ok(
      [...direct, ...relayed].every((o) => !o.settled),
      'the slow calls are still in flight',
    );

    killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    assert.equal((await within(doomed.exited, 5_000, 'doomed exiting')).signal, 'SIGKILL');
    await eventually(
      () => [...direct, ...relayed].every((o) => o.settled),
      4_000,
      'every call in flight to the killed kernel to settle',
    );
    for (const [how, list] of [
      ['direct', direct],
      ['relayed through steady', relayed],
    ] as const) {
      for (const [i, o] of list.entries()) {
        assert.equal(o.error?.code, 'IKC_ERR_UNREACHABLE', `${how} call ${i}: ${JSON.stringify(o)}`);
        assert.match(o.error?.message ?? '', /\bdoomed\b/, `${how} call ${i} names the kernel`);
        assert.ok(o.at - killedAt < 2_000, `${how} call ${i} settled ${o.at - killedAt} ms after the kill`);
      }
    }
  });

  it('tells monitors: kernel.down for it on the host and on the leaf, and nothing else', async () => {
    await eventually(() => !!downs.find('kernel.down', 'doomed'), 2_000, 'tester to see kernel.down doomed');
    await eventually(
      () => !!leafDowns.find('kernel.down', 'doomed'),
      2_000,
      'the leaf to see kernel.down doomed',
    );
    const down = downs.find('kernel.down', 'doomed') as Stamped;
    assert.equal(down.kernelId, doomed.id);
    assert.equal(typeof down.reason, 'string');
    assert.ok(down.at - killedAt < 2_000, `kernel.down came ${down.at - killedAt} ms after the kill`);
    assert.equal(leafDowns.find('kernel.down', 'doomed')?.kernelId, doomed.id);
    assert.deepEqual(
      downs.events.map((e) => e.kernel),
      ['doomed'],
      'only doomed went down',
    );
    assert.ok(
      !named(tester.peers(), 'doomed') && !named(leaf.peers(), 'doomed'),
      'doomed is no longer listed',
    );
  });

  it('keeps the live kernel working', async () => {
    assert.equal(await tester.call('poe://steady/calc/add', 20, 22), 42);
    assert.equal(await leaf.call('poe://steady/calc/add', 1, 41), 42);
    assert.equal(
      kernelOf(await tester.call('poe://*/calc/whoami')),
      'steady',
      'only steady publishes calc now',
    );
    assert.equal(kernelOf(await leaf.call('poe://*/calc/whoami')), 'steady');
    await assert.rejects(tester.call('poe://doomed/calc/add', 1, 1), { code: 'IKC_ERR_UNREACHABLE' });
    await assert.rejects(leaf.call('poe://doomed/calc/add', 1, 1), { code: 'IKC_ERR_UNREACHABLE' });
  });

  it('fails a proxy resolved before the kill with a clear error that names the kernel', async () => {
    for (const [who, p] of [
      ['tester', proxy],
      ['leaf', leafProxy],
    ] as const) {
      const err = await rejection(p.call('add', 1, 1), `${who}'s proxy call`);
      assert.ok(
        err.code === 'IKC_ERR_UNREACHABLE' || err.code === 'IKC_ERR_NO_SESSION',
        `${who}'s proxy: ${err.code} ${err.message}`,
      );
      assert.match(err.message, /\bdoomed\b/, `${who}'s proxy error names the kernel by name`);
      assert.equal(p.alive, false, `${who}'s proxy of a session on a dead kernel is no longer alive`);
    }
  });
});

describe('three kernel processes linked to each other, and a leaf', () => {
  const fleet = new Fleet();
  let alpha: KernelProc;
  let beta: KernelProc;
  let gamma: KernelProc;
  let leaf: MeshKernel;

  before(async () => {
    alpha = await fleet.proc('alpha', { sessions: ['./calc.js'] });
    beta = await fleet.proc('beta', { sessions: ['./calc.js'], cloud: { ...cloud, seeds: [alpha.listen] } });
    gamma = await fleet.proc('gamma', {
      sessions: ['./counter.js'],
      cloud: { ...cloud, seeds: [alpha.listen, beta.listen] },
    });
    // (Wait on the dialed side: it printed READY, and so watches, before the link came up.)
    await Promise.all([
      alpha.waitFor('"kernel.up","kernel":"beta"'),
      alpha.waitFor('"kernel.up","kernel":"gamma"'),
      beta.waitFor('"kernel.up","kernel":"gamma"'),
    ]);
    leaf = await fleet.leaf('leaf', alpha);
    await eventually(
      () => ['alpha', 'beta', 'gamma'].every((n) => named(leaf.peers(), n)),
      5_000,
      'the leaf to learn of alpha, beta and gamma',
    );
  });

  after(() => fleet.end());

  it('reaches sessions on all three kernels from the leaf, through its host', async () => {
    assert.equal(kernelOf(await leaf.call('poe://alpha/calc/whoami')), 'alpha');
    assert.equal(kernelOf(await leaf.call('poe://beta/calc/whoami')), 'beta');
    assert.deepEqual(await leaf.call('poe://gamma/counter/incr'), { kernel: 'gamma', n: 1 });
    assert.deepEqual(await leaf.call('poe://gamma/counter/incr', 2), { kernel: 'gamma', n: 3 });
    assert.deepEqual(await leaf.call('poe://*/counter/incr', 4), { kernel: 'gamma', n: 7 }, 'by `*`');
    const counter = await leaf.resolve('counter');
    assert.deepEqual(await counter.call('incr'), { kernel: 'gamma', n: 8 }, 'by a resolved bare alias');
    assert.equal(await leaf.call('poe://gamma/counter/value'), 8);
    // By kernel id too.
    assert.equal(await leaf.call(`poe://${gamma.id}/counter/value`), 8);
    assert.equal(kernelOf(await leaf.call(`poe://${beta.id}/calc/whoami`)), 'beta');

    const peers = leaf.peers();
    assert.equal(peers.find((p) => p.name === 'alpha')?.role, 'host');
    assert.equal(peers.find((p) => p.name === 'beta')?.address, 'via alpha');
    assert.equal(peers.find((p) => p.name === 'gamma')?.address, 'via alpha');
    assert.equal(peers.find((p) => p.name === 'gamma')?.id, gamma.id);
  });

  it('applies each of many concurrent calls to the counter on gamma exactly once', async () => {
    const before = (await leaf.call('poe://gamma/counter/value')) as number;
    const results = await Promise.all(
      Array.from({ length: 30 }, () => leaf.call('poe://gamma/counter/incr') as Promise<{ n: number }>),
    );
    const ns = results.map((r) => r.n).sort((a, b) => a - b);
    assert.deepEqual(
      ns,
      Array.from({ length: 30 }, (_, i) => before + i + 1),
    );
    assert.equal(await leaf.call('poe://gamma/counter/value'), before + 30);
  });
});

describe('graceful shutdown of a kernel process (SIGTERM)', () => {
  const fleet = new Fleet();
  let watcher: KernelProc;
  let quitter: KernelProc;
  let tester: MeshKernel;
  let downs: ReturnType<typeof record>;
  let termAt = 0;
  let inflight: Outcome;
  let exit: { code: number | null; signal: string | null };
  let exitedAfter = 0;

  before(async () => {
    watcher = await fleet.proc('watcher', { sessions: ['./calc.js'] });
    quitter = await fleet.proc('quitter', {
      sessions: ['./stopper.js', './calc.js'],
      cloud: { ...cloud, seeds: [watcher.listen] },
    });
    tester = await fleet.host('tester', [quitter.listen, watcher.listen]);
    await Promise.all([
      watcher.waitFor('"kernel.up","kernel":"quitter"'),
      eventually(() => named(tester.peers(), 'quitter') && named(tester.peers(), 'watcher')),
    ]);
    downs = record(tester, 'kernel.down');
  });

  after(() => fleet.end());

  it("tells its peers at once: kernel.down with reason 'left' (it left the cloud gracefully)", async () => {
    assert.equal(await tester.call('poe://quitter/stopper/hello'), 'hello from quitter');
    inflight = track(tester.call('poe://quitter/stopper/slow', 5_000));
    assert.equal(await tester.call('poe://quitter/calc/add', 1, 1), 2);

    termAt = Date.now();
    const exiting = quitter.stop('SIGTERM').then((e) => {
      exitedAfter = Date.now() - termAt;
      exit = e;
    });
    await eventually(
      () => !!downs.find('kernel.down', 'quitter'),
      2_000,
      'tester to see kernel.down quitter',
    );
    const down = downs.find('kernel.down', 'quitter') as Stamped;
    assert.equal(down.reason, 'left');
    assert.equal(down.kernelId, quitter.id);
    assert.ok(down.at - termAt < 1_000, `kernel.down came ${down.at - termAt} ms after SIGTERM`);
    await watcher.waitFor('"kernel.down","kernel":"quitter"', 1_000);
    await within(exiting, 5_000, 'quitter exiting after SIGTERM');
  });

  it("exits 0, after its sessions' _stop ran", () => {
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status; stderr:\n${quitter.stderr()}`);
    assert.ok(exitedAfter < 2_000, `the process took ${exitedAfter} ms to exit`);
    assert.match(quitter.stdout(), /STOPPED stopper on quitter\n/, "the session's _stop ran");
  });

  it('ends a call that was running there, at once; its peers go on', async () => {
    await eventually(() => inflight.settled, 2_000, 'the call in flight during shutdown to end');
    assert.ok(inflight.error, `the call in flight failed: ${JSON.stringify(inflight)}`);
    assert.match(inflight.error.code ?? '', /^IKC_ERR_/);
    assert.match(inflight.error.message ?? '', /\bquitter\b/);
    assert.ok(inflight.at - termAt < 2_000, `it ended ${inflight.at - termAt} ms after SIGTERM`);
    await assert.rejects(tester.call('poe://quitter/stopper/hello'), { code: 'IKC_ERR_UNREACHABLE' });
    assert.equal(await tester.call('poe://watcher/calc/add', 2, 2), 4, 'the other peer is unaffected');
  });
});

describe('a frozen kernel process (SIGSTOP): its socket stays open, gossip finds it dead', () => {
  const fleet = new Fleet();
  let frozen: KernelProc;
  let tester: MeshKernel;
  let downs: ReturnType<typeof record>;
  let ups: ReturnType<typeof record>;

  before(async () => {
    frozen = await fleet.proc('frozen', { sessions: ['./calc.js'] });
    // The tester's link would close after deadAfterMs of silence: keep it open well past
    // gossip's verdict, so peers() must say what gossip knows, not what the socket says.
    tester = await startKernel({
      kernel: { name: 'tester', listen: '127.0.0.1:0', socket: false },
      cloud: { ...cloud, seeds: [frozen.listen] },
      mesh: { deadAfterMs: 60_000 },
      logger: silentLogger,
      processSignals: false,
    });
    fleet.adopt(tester);
    await eventually(
      () => tester.peers().some((p) => p.name === 'frozen' && p.state === 'up'),
      5_000,
      'link',
    );
    assert.equal(await tester.call('poe://frozen/calc/add', 1, 2), 3);
    downs = record(tester, 'kernel.down');
    ups = record(tester, 'kernel.up');
  });

  after(async () => {
    frozen.child.kill('SIGCONT');
    await fleet.end();
  });

  it("shows it 'down' in peers() once gossip holds it dead, while its link is still open", async () => {
    frozen.child.kill('SIGSTOP');
    await eventually(() => !!downs.find('kernel.down', 'frozen'), 15_000, 'tester to see kernel.down frozen');
    const view = tester.peers().find((p) => p.name === 'frozen');
    assert.ok(view, `frozen is still listed while its channel waits: ${JSON.stringify(tester.peers())}`);
    assert.equal(view.id, frozen.id);
    assert.equal(view.state, 'down');
  });

  it("shows it 'up' again once it thaws and refutes its death", async () => {
    frozen.child.kill('SIGCONT');
    await eventually(
      () => tester.peers().some((p) => p.name === 'frozen' && p.state === 'up'),
      15_000,
      'frozen to be up again',
    );
    assert.equal(await tester.call('poe://frozen/calc/add', 2, 3), 5);
    await eventually(
      () => !!ups.find('kernel.up', 'frozen'),
      5_000,
      'monitors to see kernel.up frozen again',
    );
  });
});

describe('reconnecting to a kernel restarted on the same port', () => {
  const fleet = new Fleet();
  let anchor: KernelProc;
  let phoenix: KernelProc;
  let leaf: MeshKernel;
  let proxy: Session;
  let old: KernelProc;

  before(async () => {
    phoenix = await fleet.proc('phoenix', { sessions: ['./calc.js'], kernel: { socket: false } });
    // anchor dials phoenix (a seed), with debug logs to show its redials and their backoff.
    anchor = await fleet.proc('anchor', {
      cloud: { ...cloud, seeds: [phoenix.listen] },
      log: { level: 'debug' },
    });
    leaf = await fleet.leaf('leaf', anchor);
    await eventually(() => named(leaf.peers(), 'phoenix'), 5_000, 'the leaf to learn of phoenix');
  });

  after(() => fleet.end());

  /** delayMs of anchor's "redialing" log lines, from character `from` of its stderr on. */
  const redials = (from: number) =>
    anchor
      .stderr()
      .slice(from)
      .split('\n')
      .filter((l) => l.includes('"redialing"'))
      .map((l) => (JSON.parse(l) as { delayMs: number }).delayMs);

  /** Kills phoenix, starts a new one on its port, and waits until the leaf sees it up. */
  async function restart() {
    const ups = record(leaf, ['kernel.up', 'kernel.down'], { kernel: 'phoenix' });
    const killed = phoenix;
    const logFrom = anchor.stderr().length;
    killed.child.kill('SIGKILL');
    await within(killed.exited, 5_000, 'phoenix exiting');
    await eventually(() => ups.events.some((e) => e.type === 'kernel.down'), 3_000, 'kernel.down phoenix');
    phoenix = await fleet.proc('phoenix', {
      sessions: ['./calc.js'],
      kernel: { listen: killed.listen, socket: false },
    });
    const readyAt = Date.now();
    await eventually(
      () => ups.events.some((e) => e.type === 'kernel.up' && e.kernelId === phoenix.id),
      8_000,
      'the leaf to see the new phoenix up',
    );
    ups.monitor.close();
    return { killed, ups, upAfter: Date.now() - readyAt, delays: redials(logFrom) };
  }

  it('redials on its own; the new incarnation has a new id', async () => {
    proxy = await leaf.resolve('poe://phoenix/calc');
    assert.equal(kernelOf(await proxy.call('whoami')), 'phoenix');

    const { killed, ups, upAfter, delays } = await restart();
    old = killed;
    assert.notEqual(phoenix.id, old.id, 'a new incarnation, a new id');
    assert.equal(phoenix.listen, old.listen, 'on the same port');
    assert.ok(delays.length >= 1, 'anchor redialed');
    assert.ok(upAfter < 6_000, `relinked ${upAfter} ms after the new kernel was ready`);
    assert.deepEqual(
      ups.events.map((e) => [e.type, e.kernelId]),
      [
        ['kernel.down', old.id],
        ['kernel.up', phoenix.id],
      ],
    );
    assert.equal(leaf.peers().find((p) => p.name === 'phoenix')?.id, phoenix.id);
    assert.equal(await leaf.call(`poe://${phoenix.id}/calc/add`, 1, 2), 3, 'by the new id');
    await assert.rejects(leaf.call(`poe://${old.id}/calc/add`, 1, 2), { code: 'IKC_ERR_UNREACHABLE' });
  });

  it('routes calls by name to the new incarnation (although a proxy of the old one was resolved)', async () => {
    const answer = await leaf.call('poe://phoenix/calc/whoami').catch((e: Error) => e);
    assert.ok(!(answer instanceof Error), `poe://phoenix/calc/whoami failed: ${String(answer)}`);
    assert.equal(kernelOf(answer), 'phoenix');
    assert.equal(await leaf.call('poe://phoenix/calc/add', 40, 2), 42);
  });

  it('keeps the proxy of the old incarnation failed, with an error that names the kernel', async () => {
    const err = await rejection(proxy.call('add', 1, 1), 'a call on the old proxy');
    assert.ok(err.code === 'IKC_ERR_UNREACHABLE' || err.code === 'IKC_ERR_NO_SESSION', err.code);
    assert.match(err.message, /\bphoenix\b/);
  });

  it('resolves afresh to a proxy of the new incarnation', async () => {
    const fresh = await leaf.resolve('poe://phoenix/calc');
    assert.notEqual(fresh, proxy, 'not the old proxy');
    assert.ok(fresh.id.startsWith(`${phoenix.id}.`), `fresh proxy ${fresh.id} is a session of ${phoenix.id}`);
    assert.equal(await fresh.call('add', 2, 3), 5);
  });

  it('starts its backoff over after a link that was up drops: the first redial waits reconnectMinMs', async () => {
    // The first restart above made anchor fail at least one redial before the new phoenix
    // listened, so its backoff had grown. A link that then came up and dropped again must
    // be redialed from the start: reconnectMinMs (100 ms by default) plus up to 50% jitter.
    const { delays, upAfter } = await restart();
    assert.ok(delays.length >= 1, 'anchor redialed');
    assert.ok(
      (delays[0] as number) <= 150,
      `the first redial after the drop waited ${delays[0]} ms (all: ${delays.join(', ')} ms)`,
    );
    assert.ok(upAfter < 6_000, `relinked ${upAfter} ms after the new kernel was ready`);
    assert.equal(await leaf.call(`poe://${phoenix.id}/calc/add`, 1, 1), 2);
  });
});

describe('`*` specifiers over two kernels that publish the same alias', () => {
  const fleet = new Fleet();
  let east: KernelProc;
  let west: KernelProc;
  let tester: MeshKernel;
  let leaf: MeshKernel;
  let anyProxy: Session;
  let leafAny: Session;
  let leafDowns: ReturnType<typeof record>;

  before(async () => {
    east = await fleet.proc('east', { sessions: ['./calc.js'] });
    west = await fleet.proc('west', { sessions: ['./calc.js'], cloud: { ...cloud, seeds: [east.listen] } });
    await east.waitFor('"kernel.up","kernel":"west"');
    // A host linked to both, and a leaf of east that reaches west through east.
    tester = await fleet.host('tester', [east.listen, west.listen]);
    leaf = await fleet.leaf('leaf', east);
    await eventually(
      () => ['east', 'west'].every((n) => named(tester.peers(), n) && named(leaf.peers(), n)),
      5_000,
      'tester and leaf to know east and west',
    );
    leafDowns = record(leaf, 'kernel.down');
  });

  after(() => fleet.end());

  it('spreads calls over both kernels, by specifier and by a `*` proxy', async () => {
    for (const k of [tester, leaf]) {
      const spread: string[] = [];
      for (let i = 0; i < 10; i++) spread.push(kernelOf(await k.call('poe://*/calc/whoami')));
      assert.ok(spread.includes('east') && spread.includes('west'), `${k.name}: ${spread.join(', ')}`);
    }
    anyProxy = await tester.resolve('calc');
    leafAny = await leaf.resolve('calc');
    for (const p of [anyProxy, leafAny]) {
      assert.equal(p.isProxy, true);
      const spread: string[] = [];
      for (let i = 0; i < 6; i++) spread.push(kernelOf(await p.call('whoami')));
      assert.ok(spread.includes('east') && spread.includes('west'), `a * proxy: ${spread.join(', ')}`);
    }
  });

  it("fails over at once: a leaf's `*` calls right after its host saw a publisher die go to the other", async () => {
    west.child.kill('SIGKILL');
    await within(west.exited, 5_000, 'west exiting');
    await east.waitFor('"kernel.down","kernel":"west"', 2_000);
    // The leaf may not have heard yet; its host has, so a call it cannot deliver to west
    // was never run there and can go to east instead.
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        leaf.call('poe://*/calc/whoami').then(kernelOf, (e: Error) => String(e)),
      ),
    );
    assert.deepEqual(answers, ['east', 'east', 'east', 'east']);
  });

  it('sends every `*` call and every `*` proxy call to the survivor once the death is known', async () => {
    await eventually(
      () => !!leafDowns.find('kernel.down', 'west'),
      2_000,
      'the leaf to see kernel.down west',
    );
    await eventually(() => !named(tester.peers(), 'west'), 2_000, 'tester to forget west');
    for (const k of [tester, leaf]) {
      const answers: string[] = [];
      for (let i = 0; i < 10; i++) answers.push(kernelOf(await k.call('poe://*/calc/whoami')));
      assert.deepEqual([...new Set(answers)], ['east'], `${k.name}: every call now goes to east`);
      const sums = await Promise.all(Array.from({ length: 20 }, (_, i) => k.call('poe://*/calc/add', i, i)));
      assert.deepEqual(
        sums,
        Array.from({ length: 20 }, (_, i) => 2 * i),
      );
    }
    for (const [k, p] of [
      [tester, anyProxy],
      [leaf, leafAny],
    ] as const) {
      for (let i = 0; i < 6; i++) assert.equal(kernelOf(await p.call('whoami')), 'east', 'the * proxy moved');
      assert.equal(await k.resolve('calc'), p, 'the same * proxy');
    }
  });
});
