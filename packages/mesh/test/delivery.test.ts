// Delivery across dropped links, over the in-memory transport: links are cut (terminate, as
// a network failure looks) and restored at will. The same promises are checked against real
// processes in test/src/mesh-delivery.test.ts.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Kernel, type MonitorEvent } from '@ikc/kernel';
import type { IkcError } from '@ikc/wire';
import { defaultTuning, type MeshTuning } from '../src/defaults.js';
import type { Link } from '../src/link.js';
import { silentLogger } from '../src/log.js';
import { Mesh } from '../src/mesh.js';
import { MemoryNetwork, MemoryTransport } from '../src/transports/memory.js';

interface Node {
  kernel: Kernel;
  mesh: Mesh;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function node(name: string, tuning: Partial<MeshTuning> = {}): Node {
  const kernel = new Kernel({ name, processSignals: false, onUnhandledError: () => {} });
  const mesh = new Mesh({
    kernel,
    cloud: 'delivery',
    secret: 'sesame',
    role: 'host',
    tuning: { ...defaultTuning(), ...tuning },
    log: silentLogger,
  });
  cleanups.push(async () => {
    mesh.stop();
    await kernel.stop();
  });
  return { kernel, mesh };
}

/** A listener for `b`; `dial()` links `a` to it (again), resolving with a's side of the link. */
async function wire(a: Node, b: Node): Promise<{ dial: () => Promise<Link> }> {
  const transport = new MemoryTransport({ network: new MemoryNetwork() });
  const listener = await transport.listen('b', (conn) => b.mesh.adopt(conn, 'listener'));
  cleanups.push(() => listener.close());
  return {
    dial: async () => {
      const link = a.mesh.adopt(await transport.connect('b'), 'dialer');
      await link.whenUp();
      return link;
    },
  };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A session on `b` that records what it is posted, and reports it when called. */
function recorder(b: Node): number[] {
  const seen: number[] = [];
  b.kernel.spawn({
    alias: 'rec',
    publish: ['n', 'seen', 'slow'],
    events: {
      n: (_ctx, i: number) => void seen.push(i),
      seen: () => seen.length,
      slow: async (_ctx, ms: number, v: unknown) => {
        await tick(ms);
        return v;
      },
    },
  });
  return seen;
}

describe('delivery across dropped links', () => {
  it('delivers a stream of posts exactly once and in order across repeated drops', async () => {
    const a = node('a');
    const b = node('b');
    const seen = recorder(b);
    const { dial } = await wire(a, b);
    let link = await dial();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      a.kernel.post('poe://b/rec/n', i);
      if (i % 4_000 === 3_999) {
        await tick(); // let part of it go out and part of it be acknowledged
        link.conn.terminate(); // the network fails: no BYE, frames in flight are lost
        await tick(5);
        link = await dial();
      }
    }
    await a.mesh.barrier(a.mesh.kernelIdOf('b') as string);
    await b.kernel.idle();
    assert.equal(seen.length, n, 'every post arrived once');
    assert.ok(
      seen.every((v, i) => v === i),
      'in the order sent',
    );
  });

  it('a call in flight survives a drop and its reply arrives after the link comes back', async () => {
    const a = node('a');
    const b = node('b');
    recorder(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    const answer = a.kernel.call('poe://b/rec/slow', 50, 'late but sure');
    await tick(5);
    link.conn.terminate();
    await tick(100); // the reply is ready while the link is down: it waits in b's channel
    await dial();
    assert.equal(await answer, 'late but sure');
  });

  it('posts sent while the link is down wait for it, then arrive', async () => {
    const a = node('a');
    const b = node('b');
    const seen = recorder(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    link.conn.terminate();
    await tick(5);
    for (let i = 0; i < 100; i++) a.kernel.post('poe://b/rec/n', i);
    assert.equal(a.mesh.peers()[0]?.state, 'resuming');
    await dial();
    await a.mesh.barrier(a.mesh.kernelIdOf('b') as string);
    await b.kernel.idle();
    assert.deepEqual(
      seen,
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('past the resume window, reports every unacknowledged post as undeliverable and fails calls', async () => {
    const a = node('a', { resumeWindowMs: 150 });
    const b = node('b');
    recorder(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    const monitored: MonitorEvent[] = [];
    a.kernel.monitor('undeliverable', (e) => monitored.push(e));
    const errors: IkcError[] = [];
    let pendingCall: Promise<unknown> | undefined;
    a.kernel.spawn({
      alias: 'sender',
      events: {
        _start: (ctx) => {
          link.conn.terminate(); // down before anything goes out
          for (let i = 0; i < 3; i++) ctx.post('poe://b/rec/n', i);
          pendingCall = ctx.call('poe://b/rec/seen');
        },
        _error: (_ctx, err: IkcError) => void errors.push(err),
      },
    });
    const callOutcome = (pendingCall as Promise<unknown>).then(
      () => 'resolved',
      (e: IkcError) => e.code,
    );
    await tick(300);
    await a.kernel.idle();
    assert.deepEqual(
      errors.map((e) => e.code),
      ['IKC_ERR_UNDELIVERED', 'IKC_ERR_UNDELIVERED', 'IKC_ERR_UNDELIVERED'],
    );
    assert.match(
      errors[0]?.message ?? '',
      /post of "n" to rec on kernel b was not delivered.*no new link within 150 ms/,
    );
    assert.equal(monitored.length, 3);
    assert.equal(await callOutcome, 'IKC_ERR_UNREACHABLE');
  });

  it('a new incarnation of the peer ends the old conversation at once', async () => {
    const a = node('a', { resumeWindowMs: 60_000 });
    const b = node('b');
    recorder(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    const call = a.kernel.call('poe://b/rec/slow', 10_000, 'never').then(
      () => 'resolved',
      (e: IkcError) => e.code,
    );
    await tick(5);
    link.conn.terminate();
    await tick(5);
    // b restarts: a new kernel (new id) with the same name answers at the same place.
    const b2 = node('b');
    recorder(b2);
    const again = await wire(a, b2);
    await again.dial();
    assert.equal(await call, 'IKC_ERR_UNREACHABLE');
    assert.equal(await a.kernel.call('poe://b/rec/seen'), 0, 'calls by name reach the new incarnation');
  });
});

describe('bounded memory', () => {
  it('ready() waits while the send buffer is past sendBufferBytes, and a full buffer refuses posts', async () => {
    const a = node('a', { sendBufferBytes: 2_000, sendBufferHardBytes: 6_000 });
    const b = node('b');
    const seen = recorder(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    link.conn.terminate(); // nothing is acknowledged while the link is down
    await tick(5);
    const errors: string[] = [];
    a.kernel.spawn({
      alias: 'flooder',
      events: {
        _start: (ctx) => {
          for (let i = 0; i < 500; i++) ctx.post('poe://b/rec/n', i);
        },
        _error: (_ctx, err: IkcError) => void errors.push(err.code),
      },
    });
    let ready = false;
    void a.kernel.ready('poe://b/rec').then(() => (ready = true));
    await tick(20);
    assert.equal(ready, false, 'ready() waits while the buffer is over its mark');
    assert.ok(
      errors.length > 0 && errors.every((c) => c === 'IKC_ERR_OVERFLOW'),
      `refused: ${errors.length}`,
    );
    const accepted = 500 - errors.length;
    await dial();
    await a.kernel.ready('poe://b/rec');
    await a.mesh.barrier(a.mesh.kernelIdOf('b') as string);
    await b.kernel.idle();
    assert.equal(ready, true, 'ready() resolves once the peer acknowledged');
    assert.equal(seen.length, accepted, 'every accepted post arrived; the refused ones were reported');
  });

  it('a slow receiver withholds acknowledgements, so a sender that awaits ready() is slowed and memory stays bounded', async () => {
    const a = node('a', { sendBufferBytes: 4_000, sendBufferHardBytes: 1_000_000 });
    const b = node('b', { receiveQueueLimit: 20 });
    let handled = 0;
    let maxQueued = 0;
    b.kernel.spawn({
      alias: 'slowpoke',
      publish: ['n'],
      events: {
        // A slow session: each event waits 2 ms (for I/O, say), without using the CPU.
        n: async () => {
          maxQueued = Math.max(maxQueued, b.kernel.backlog);
          await tick(2);
          handled++;
        },
      },
    });
    const { dial } = await wire(a, b);
    await dial();
    const channel = () => a.mesh.peers()[0];
    let waits = 0;
    let maxBuffered = 0;
    const n = 600;
    for (let i = 0; i < n; i++) {
      a.kernel.post('poe://b/slowpoke/n', i);
      const buffered = (a.mesh as unknown as { channels: Map<string, { bufferedBytes: number }> }).channels
        .values()
        .next().value?.bufferedBytes as number;
      maxBuffered = Math.max(maxBuffered, buffered);
      if (i % 20 === 19) {
        const before = performance.now();
        await a.kernel.ready('poe://b/slowpoke');
        if (performance.now() - before > 1) waits++;
        await tick(); // a sender that also does other work
      }
    }
    await a.mesh.barrier(a.mesh.kernelIdOf('b') as string);
    while (handled < n) await tick(5);
    assert.equal(handled, n, 'everything arrived');
    assert.ok(channel()?.state === 'up');
    assert.ok(
      waits > 0,
      `the sender had to wait for the receiver (buffer peak ${maxBuffered}, queue peak ${maxQueued})`,
    );
    // The buffer never grows past the mark by more than one burst (20 posts of ~45 bytes).
    assert.ok(maxBuffered < 4_000 + 20 * 60, `sender buffer peaked at ${maxBuffered} bytes`);
    assert.ok(maxQueued < 20 + 300, `receiver backlog peaked at ${maxQueued} events`);
  });

  it('a call past the hard limit waits for room instead of failing', async () => {
    const a = node('a', { sendBufferBytes: 500, sendBufferHardBytes: 1_000 });
    const b = node('b');
    recorder(b);
    const { dial } = await wire(a, b);
    const link = await dial();
    link.conn.terminate();
    await tick(5);
    for (let i = 0; i < 100; i++) a.kernel.post('poe://b/rec/n', i); // fills the buffer; some are refused
    const answer = a.kernel.call('poe://b/rec/seen');
    await tick(10);
    await dial();
    assert.ok(((await answer) as number) > 0, 'the call went out once there was room, and was answered');
  });
});
