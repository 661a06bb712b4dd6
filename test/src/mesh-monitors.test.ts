// Monitors across kernel processes: what a leaf and an in-process host kernel see of a
// remote kernel and its sessions (up, register, publish, retract, unregister, down), with a
// callback, an async iterator and a kernel filter; and failed remote posts as errors.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JOB_SERVICE } from '@ikc/jobs';
import type { Monitor, MonitorEvent, Session } from '@ikc/kernel';
import { attach, type MeshKernel, RemoteError, silentLogger, startKernel } from '@ikc/mesh';
import { eventually, type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';

const cloud = { name: 'monitor-test', secret: 'eight eager eels' };

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
  private readonly monitors: Monitor[] = [];

  async proc(name: string, extra: Record<string, unknown> = {}): Promise<KernelProc> {
    const p = await startKernelProc({
      kernel: { name, listen: '127.0.0.1:0', socket: join(this.dir, `${name}.sock`) },
      cloud,
      ...extra,
    });
    this.procs.push(p);
    return p;
  }

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

  async leaf(name: string, host: KernelProc): Promise<MeshKernel> {
    const k = await attach({ socket: host.socket, name, cloud, logger: silentLogger, processSignals: false });
    this.kernels.push(k);
    return k;
  }

  watch(monitor: Monitor): Monitor {
    this.monitors.push(monitor);
    return monitor;
  }

  async end(): Promise<void> {
    for (const m of this.monitors) m.close();
    await Promise.all(this.kernels.map((k) => k.stop().catch(() => {})));
    await Promise.all(this.procs.map((p) => p.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const CLOUD_TYPES = ['kernel.up', 'kernel.down', 'register', 'unregister', 'publish', 'retract'];

/** An event about the job service (ikc.jobs) every host kernel runs: not what these tests follow. */
function aboutJobService(e: MonitorEvent): boolean {
  return (e.session as { aliases?: string[] } | undefined)?.aliases?.includes(JOB_SERVICE) === true;
}

/** A monitor event in short: type, kernel, and the session's first alias or the events. */
function brief(e: MonitorEvent): string {
  const session = e.session as { aliases?: string[] } | undefined;
  const events = e.events as string[] | undefined;
  const what = events ? ` [${events.join(',')}]` : session ? ` ${session.aliases?.[0] ?? '?'}` : '';
  return `${e.type} ${e.kernel}${what}`;
}

const betaSequence = [
  'kernel.up beta',
  'register beta toggler',
  'publish beta [toggle,quit,fail]',
  'publish beta [secret]',
  'retract beta [secret]',
  'publish beta [extra]',
  'retract beta [extra]',
  'unregister beta toggler',
  'kernel.down beta',
];

describe('monitors of a leaf and of a host kernel watching a kernel process', () => {
  const fleet = new Fleet();
  let alpha: KernelProc;
  let beta: KernelProc;
  let tester: MeshKernel;
  let leaf: MeshKernel;
  /** What each monitor has seen so far. */
  const seen = {
    leafCallback: [] as MonitorEvent[],
    leafIterator: [] as MonitorEvent[],
    leafFiltered: [] as MonitorEvent[],
    testerCallback: [] as MonitorEvent[],
    testerFiltered: [] as MonitorEvent[],
  };
  let iterating: Promise<void>;
  let proxy: Session;

  const ofBeta = (list: MonitorEvent[]) =>
    list.filter((e) => e.kernel === 'beta' && !aboutJobService(e)).map(brief);
  /** Waits until every watcher has seen `line` among beta's events. */
  const allSee = (line: string) =>
    eventually(
      () => Object.values(seen).every((list) => ofBeta(list).includes(line)),
      5_000,
      `every monitor to see "${line}"`,
    );

  before(async () => {
    alpha = await fleet.proc('alpha', { sessions: ['./calc.js'] });
    tester = await fleet.host('tester', [alpha.listen]);
    leaf = await fleet.leaf('leaf', alpha);
    await eventually(() => leaf.peers().some((p) => p.name === 'tester'), 5_000, 'the leaf to know tester');

    fleet.watch(leaf.monitor(CLOUD_TYPES, (e) => seen.leafCallback.push(e)));
    fleet.watch(leaf.monitor(CLOUD_TYPES, (e) => seen.leafFiltered.push(e), { kernel: 'beta' }));
    fleet.watch(tester.monitor(CLOUD_TYPES, (e) => seen.testerCallback.push(e)));
    fleet.watch(tester.monitor(undefined, (e) => seen.testerFiltered.push(e), { kernel: 'beta' }));
    const iterator = fleet.watch(leaf.monitor(CLOUD_TYPES));
    iterating = (async () => {
      for await (const e of iterator) {
        seen.leafIterator.push(e);
        if (e.type === 'kernel.down' && e.kernel === 'beta') break;
      }
    })();

    // Something that is not beta's, for the filters to leave out: a session of the leaf's own.
    leaf.spawn({ alias: 'bystander', events: {} });
    // beta links to alpha (so the leaf hears of it through alpha) and to tester directly.
    beta = await fleet.proc('beta', {
      sessions: ['./toggler.js'],
      cloud: { ...cloud, seeds: [alpha.listen, tester.listenAddress as string] },
    });
  });

  after(() => fleet.end());

  it('sees kernel.up for the new kernel, then register and publish for its session', async () => {
    await allSee('publish beta [toggle,quit,fail]');
    for (const [who, list] of Object.entries(seen)) {
      assert.deepEqual(ofBeta(list), betaSequence.slice(0, 3), who);
    }
    const up = seen.leafCallback.find((e) => e.type === 'kernel.up' && e.kernel === 'beta') as MonitorEvent;
    assert.equal(up.kernelId, beta.id);
    assert.equal(up.role, 'host');
    assert.equal(up.via, 'alpha', 'the leaf hears of beta through its host');
    const direct = seen.testerCallback.find((e) => e.type === 'kernel.up' && e.kernel === 'beta');
    assert.equal(direct?.via, undefined, 'tester is linked to beta directly');
    const reg = seen.leafCallback.find(
      (e) => e.type === 'register' && e.kernel === 'beta' && !aboutJobService(e),
    ) as MonitorEvent;
    const session = reg.session as { id: string; aliases: string[]; published: string[] };
    assert.equal(reg.remote, true);
    assert.equal(reg.kernelId, beta.id);
    assert.deepEqual(session.aliases, ['toggler']);
    assert.deepEqual([...session.published].sort(), ['fail', 'quit', 'toggle']);
    assert.ok(session.id.startsWith(`${beta.id}.`), session.id);

    proxy = await leaf.resolve('poe://beta/toggler');
    assert.deepEqual([...proxy.published].sort(), ['fail', 'quit', 'toggle']);
    await assert.rejects(leaf.call('poe://beta/toggler/secret'), { code: 'IKC_ERR_NOT_PUBLISHED' });
  });

  it('sees a runtime publish, after which the event can be called', async () => {
    assert.deepEqual(await leaf.call('poe://beta/toggler/toggle', 'secret'), [
      'fail',
      'quit',
      'secret',
      'toggle',
    ]);
    await allSee('publish beta [secret]');
    assert.equal(await leaf.call('poe://beta/toggler/secret'), 'the secret of beta');
    assert.equal(await tester.call('poe://beta/toggler/secret'), 'the secret of beta');
    assert.equal(await proxy.call('secret'), 'the secret of beta', 'through the proxy resolved before');
  });

  it('sees a runtime retract, after which calling the event is refused with IKC_ERR_NOT_PUBLISHED', async () => {
    assert.deepEqual(await tester.call('poe://beta/toggler/toggle', 'secret'), ['fail', 'quit', 'toggle']);
    await allSee('retract beta [secret]');
    await assert.rejects(leaf.call('poe://beta/toggler/secret'), { code: 'IKC_ERR_NOT_PUBLISHED' });
    await assert.rejects(tester.call('poe://beta/toggler/secret'), { code: 'IKC_ERR_NOT_PUBLISHED' });
    await assert.rejects(proxy.call('secret'), { code: 'IKC_ERR_NOT_PUBLISHED' });
    for (const [who, list] of Object.entries(seen)) {
      assert.deepEqual(ofBeta(list), betaSequence.slice(0, 5), who);
    }
  });

  it("keeps a resolved proxy's list of published events up to date", async () => {
    // proxy was resolved before any of these changes.
    const published = () => [...proxy.published].sort();
    const lists = [published()];
    await leaf.call('poe://beta/toggler/toggle', 'extra');
    await allSee('publish beta [extra]');
    lists.push(published());
    await leaf.call('poe://beta/toggler/toggle', 'extra');
    await allSee('retract beta [extra]');
    lists.push(published());
    assert.deepEqual(lists, [
      ['fail', 'quit', 'toggle'],
      ['extra', 'fail', 'quit', 'toggle'],
      ['fail', 'quit', 'toggle'],
    ]);
  });

  it('sees unregister when the remote session stops, and kernel.down when its kernel exits', async () => {
    await leaf.call('poe://beta/toggler/quit');
    await allSee('unregister beta toggler');
    await assert.rejects(leaf.call('poe://beta/toggler/toggle', 'x'), { code: 'IKC_ERR_NO_SESSION' });
    assert.ok(
      leaf.peers().some((p) => p.name === 'beta'),
      'beta itself is still there',
    );

    const exit = await within(beta.stop('SIGTERM'), 5_000, 'beta exiting after SIGTERM');
    assert.equal(exit.code, 0);
    await allSee('kernel.down beta');
    await within(iterating, 2_000, 'the iterator to reach kernel.down beta');
    for (const [who, list] of Object.entries(seen)) {
      assert.deepEqual(ofBeta(list), betaSequence, `${who} saw beta's life in order`);
    }
    const down = seen.testerCallback.find((e) => e.type === 'kernel.down') as MonitorEvent;
    assert.equal(down.kernelId, beta.id);
    assert.equal(down.reason, 'left', 'the direct peer heard it leave the cloud');
    const leafDown = seen.leafCallback.find((e) => e.type === 'kernel.down') as MonitorEvent;
    assert.equal(leafDown.kernelId, beta.id);
  });

  it('with { kernel: "beta" } shows only beta, and the unfiltered monitors saw other kernels too', () => {
    assert.ok(seen.leafFiltered.length > 0 && seen.testerFiltered.length > 0);
    for (const list of [seen.leafFiltered, seen.testerFiltered]) {
      assert.deepEqual(list.filter((e) => e.kernel !== 'beta').map(brief), [], 'only beta');
    }
    assert.deepEqual(ofBeta(seen.leafFiltered), betaSequence);
    assert.deepEqual(ofBeta(seen.testerFiltered), betaSequence);
    assert.ok(
      seen.leafCallback.some((e) => e.type === 'register' && e.kernel === 'leaf'),
      `the unfiltered leaf monitor saw its own session: ${seen.leafCallback.map(brief).join('; ')}`,
    );
    assert.deepEqual(
      seen.leafIterator.map(brief),
      seen.leafCallback.slice(0, seen.leafIterator.length).map(brief),
      'the iterator saw what the callback saw, in the same order',
    );
  });
});

describe('error monitors on the calling side of a failed remote post', () => {
  const fleet = new Fleet();
  let beta: KernelProc;
  let leaf: MeshKernel;
  let tester: MeshKernel;

  before(async () => {
    beta = await fleet.proc('beta', { sessions: ['./toggler.js'] });
    leaf = await fleet.leaf('leaf', beta);
    tester = await fleet.host('tester', [beta.listen]);
    await eventually(() => tester.peers().some((p) => p.name === 'beta'), 5_000, 'tester to link to beta');
  });

  after(() => fleet.end());

  /** Spawns a session on `k` that posts `event` to beta's toggler; resolves with its `_error`. */
  function postFrom(k: MeshKernel, event: string): Promise<unknown> {
    return new Promise((resolve) => {
      k.spawn({
        events: {
          _start: (ctx) => {
            ctx.post(`poe://beta/toggler/${event}`);
            ctx.delay('giveUp', 5_000); // keeps it alive meanwhile; fails the wait if no _error comes
          },
          _error: (ctx, err) => {
            resolve(err);
            ctx.delay('giveUp');
          },
          giveUp: () => resolve(new Error(`no _error for "${event}" within 5 s`)),
        },
      });
    });
  }

  for (const kind of ['leaf', 'host'] as const) {
    it(`tells the posting session (_error) and the error monitors of the ${kind}: IKC_ERR_NOT_PUBLISHED`, async () => {
      const k = kind === 'leaf' ? leaf : tester;
      const errors: MonitorEvent[] = [];
      fleet.watch(k.monitor('error', (e) => errors.push(e)));

      const err = await postFrom(k, 'secret');
      assert.ok(err instanceof RemoteError, `a RemoteError: ${String(err)}`);
      assert.equal(err.code, 'IKC_ERR_NOT_PUBLISHED');
      assert.equal(err.kernel, 'beta');
      assert.equal(err.event, 'secret');
      assert.match(err.message, /"secret".*toggler.*beta.*not published/);
      await eventually(() => errors.length > 0, 2_000, 'the error monitor to see it');
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.kernel, k.name, 'reported on the calling kernel');
      assert.equal(errors[0]?.error, err, 'the same error the session got');
      assert.equal(errors[0]?.event, 'secret');

      // A post from outside any session: no _error to tell, the monitor still hears of it.
      k.post('poe://beta/toggler/secret');
      await eventually(() => errors.length === 2, 2_000, 'the error monitor to see the second failure');
      const second = errors[1]?.error as RemoteError;
      assert.ok(second instanceof RemoteError);
      assert.equal(second.code, 'IKC_ERR_NOT_PUBLISHED');
    });
  }

  it('reports a remote handler that throws on a post as IKC_ERR_HANDLER, with the thrown message', async () => {
    const errors: MonitorEvent[] = [];
    fleet.watch(leaf.monitor('error', (e) => errors.push(e)));
    const err = await postFrom(leaf, 'fail');
    assert.ok(err instanceof RemoteError, `a RemoteError: ${String(err)}`);
    assert.equal(err.code, 'IKC_ERR_HANDLER');
    assert.equal(err.kernel, 'beta');
    assert.equal(err.event, 'fail');
    assert.match(err.message, /toggler failed on purpose/);
    await eventually(() => errors.length === 1, 2_000, 'the error monitor to see it');
    assert.equal(errors[0]?.error, err);
  });
});
