/**
 * The compliance suite every link transport must pass (src/transport.ts is the contract).
 * transports.test.ts runs it for each implementation; a new transport adds one line there.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type {
  CloseInfo,
  Conn,
  ConnHandlers,
  Listener,
  Transport,
  TransportOptions,
} from '../src/transport.js';

/** What the suite needs to know about one transport. */
export interface TransportHarness {
  /** A transport built with these options; all of them share one network. */
  create(options?: TransportOptions): Transport;
  /** A fresh address to listen on, never used before (port 0 for TCP). */
  address(): string;
  /** Something at an address where connect attempts hang until they time out or are aborted. */
  stall(): Promise<{ address: string; close(): Promise<void> }>;
  /** Runs after each test. */
  cleanup?(): Promise<void>;
}

/** How long any single wait in the suite may take before the test fails (milliseconds). */
const WAIT_MS = 5_000;

/** Records everything a conn's handlers receive, and lets a test wait for a condition. */
export class Recorder implements ConnHandlers {
  readonly messages: Uint8Array[] = [];
  readonly closes: CloseInfo[] = [];
  drains = 0;
  /** Called after each message is recorded (to echo, to count, ...). */
  onMessage: ((data: Uint8Array) => void) | undefined;
  readonly #waiters = new Set<() => void>();

  message(data: Uint8Array): void {
    assert.equal(this.closes.length, 0, 'a message arrived after close');
    this.messages.push(data);
    this.onMessage?.(data);
    this.#wake();
  }

  close(info: CloseInfo): void {
    this.closes.push(info);
    this.#wake();
  }

  drain(): void {
    this.drains++;
    this.#wake();
  }

  /** Resolves when `ready()` holds, checking after every event; fails after WAIT_MS. */
  until(ready: () => boolean, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!ready()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, WAIT_MS);
      this.#waiters.add(check);
    });
  }

  closed(): Promise<CloseInfo> {
    return this.until(() => this.closes.length > 0, 'close').then(() => this.closes[0]!);
  }

  #wake(): void {
    for (const check of [...this.#waiters]) check();
  }
}

/** A listener whose conns are attached to Recorders as they arrive. */
export interface Served {
  listener: Listener;
  accepted: { conn: Conn; rec: Recorder }[];
  /** The n-th accepted conn (0-based), once it has arrived. */
  nth(n: number): Promise<{ conn: Conn; rec: Recorder }>;
}

/** Closes and terminates everything a test opened, whatever its outcome. */
export class Scope {
  readonly #conns: Conn[] = [];
  readonly #listeners: Listener[] = [];

  conn<T extends Conn>(conn: T): T {
    this.#conns.push(conn);
    return conn;
  }

  listener<T extends Listener>(listener: T): T {
    this.#listeners.push(listener);
    return listener;
  }

  async serve(
    transport: Transport,
    address: string,
    onConn?: (conn: Conn, rec: Recorder) => void,
  ): Promise<Served> {
    const accepted: Served['accepted'] = [];
    const waiter = new Recorder();
    const listener = await transport.listen(address, (conn) => {
      const rec = new Recorder();
      conn.attach(rec);
      this.conn(conn);
      accepted.push({ conn, rec });
      onConn?.(conn, rec);
      waiter.drain();
    });
    this.listener(listener);
    return {
      listener,
      accepted,
      nth: async (n) => {
        await waiter.until(() => accepted.length > n, `accepted conn #${n}`);
        return accepted[n]!;
      },
    };
  }

  /** Connects and attaches a Recorder at once, as the contract asks. */
  async dial(transport: Transport, address: string): Promise<{ conn: Conn; rec: Recorder }> {
    const conn = this.conn(await transport.connect(address, { timeoutMs: WAIT_MS }));
    const rec = new Recorder();
    conn.attach(rec);
    return { conn, rec };
  }

  async dispose(): Promise<void> {
    for (const conn of this.#conns) conn.terminate();
    await Promise.all(this.#listeners.map((l) => l.close()));
  }
}

/** Message `i` of a deterministic stream: varied sizes (some empty, some past 64 KiB), `i` in the first bytes. */
export function payload(i: number): Uint8Array {
  const size = i % 1000 === 0 ? 0 : i % 997 === 0 ? 70_000 + (i % 13) : (i * 7919) % 1500;
  const bytes = new Uint8Array(size);
  for (let j = 0; j < size; j++) bytes[j] = (i * 31 + j * 7) & 0xff;
  if (size >= 4) new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what} is missing`);
  assert.equal(actual.byteLength, expected.byteLength, `${what} has the wrong length`);
  assert.ok(Buffer.from(actual).equals(expected), `${what} differs`);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function transportContract(name: string, make: () => TransportHarness): void {
  describe(`${name} transport contract`, () => {
    /** Runs `body` with a fresh harness and scope, and tears both down afterwards. */
    const test = (title: string, body: (h: TransportHarness, scope: Scope) => Promise<void>) =>
      it(title, async (t: TestContext) => {
        const harness = make();
        const scope = new Scope();
        t.after(async () => {
          await scope.dispose();
          await harness.cleanup?.();
        });
        await body(harness, scope);
      });

    test('carries 10,000 messages each way, in order, byte for byte', async (h, scope) => {
      const transport = h.create();
      const count = 10_000;
      const served = await scope.serve(transport, h.address());
      const client = await scope.dial(transport, served.listener.address);
      const server = await served.nth(0);
      assert.equal(client.conn.transport, transport.name);
      assert.equal(server.conn.transport, transport.name);
      assert.ok(client.conn.remote.length > 0 && server.conn.remote.length > 0);

      for (let i = 0; i < count; i++) {
        client.conn.send(payload(i));
        server.conn.send(payload(count - 1 - i));
      }
      await server.rec.until(() => server.rec.messages.length === count, 'client messages');
      await client.rec.until(() => client.rec.messages.length === count, 'server messages');
      for (let i = 0; i < count; i++) {
        sameBytes(server.rec.messages[i], payload(i), `client message ${i}`);
        sameBytes(client.rec.messages[i], payload(count - 1 - i), `server message ${i}`);
      }
      assert.equal(client.rec.closes.length + server.rec.closes.length, 0);
    });

    test('hands the receiver bytes it may keep, unaffected by the sender reusing its buffer', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address());
      const client = await scope.dial(transport, served.listener.address);
      const { rec } = await served.nth(0);
      const buffer = new Uint8Array([1, 2, 3, 4]);
      client.conn.send(buffer);
      buffer.fill(9);
      client.conn.send(buffer);
      await rec.until(() => rec.messages.length === 2, 'two messages');
      sameBytes(rec.messages[0], new Uint8Array([1, 2, 3, 4]), 'first message');
      sameBytes(rec.messages[1], new Uint8Array([9, 9, 9, 9]), 'second message');
    });

    test('listens on the address it reports; a second listen there fails with IKC_ERR_LISTEN', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address());
      const { address } = served.listener;
      const client = await scope.dial(transport, address);
      const server = await served.nth(0);
      server.conn.send(new Uint8Array([42]));
      await client.rec.until(() => client.rec.messages.length === 1, 'the reply');
      sameBytes(client.rec.messages[0], new Uint8Array([42]), 'the reply');
      await assert.rejects(
        transport.listen(address, () => {}),
        (err: Error) => {
          assert.equal((err as { code?: string }).code, 'IKC_ERR_LISTEN');
          assert.ok(err.message.includes(address), err.message);
          return true;
        },
      );
      client.conn.send(new Uint8Array([43]));
      await server.rec.until(() => server.rec.messages.length === 1, 'the listener to keep working');
    });

    test('delivers what the listener sends in its callback, before the client has attached', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address(), (conn) => {
        conn.send(new Uint8Array([1]));
        conn.send(new Uint8Array([2]));
      });
      const client = await scope.dial(transport, served.listener.address);
      client.conn.send(new Uint8Array([3]));
      await client.rec.until(() => client.rec.messages.length === 2, 'the greetings');
      assert.deepEqual(
        client.rec.messages.map((m) => m[0]),
        [1, 2],
      );
      const server = await served.nth(0);
      await server.rec.until(() => server.rec.messages.length === 1, "the client's message");
      assert.equal(server.rec.messages[0]![0], 3);
    });

    test('holds messages and a close that arrive before attach()', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address(), (conn) => {
        conn.send(new Uint8Array([7]));
        conn.close(1000, 'early');
      });
      const conn = scope.conn(await transport.connect(served.listener.address));
      await pause(100); // later than the contract allows, to prove nothing is dropped
      const rec = new Recorder();
      conn.attach(rec);
      await rec.closed();
      assert.deepEqual(
        rec.messages.map((m) => m[0]),
        [7],
      );
      assert.equal(rec.closes[0]!.code, 1000);
      assert.equal(rec.closes[0]!.reason, 'early');
      assert.throws(() => conn.attach(new Recorder()), { code: 'IKC_ERR_INVALID_ARG' });
    });

    for (const closer of ['client', 'server'] as const) {
      test(`closes from the ${closer}: pending messages first, then one close on each side`, async (h, scope) => {
        const transport = h.create();
        const served = await scope.serve(transport, h.address());
        const client = await scope.dial(transport, served.listener.address);
        const server = await served.nth(0);
        const [from, to] = closer === 'client' ? [client, server] : [server, client];
        for (let i = 0; i < 100; i++) from.conn.send(payload(i + 1));
        from.conn.close(1000, 'done');
        const info = await to.rec.closed();
        assert.equal(to.rec.messages.length, 100, 'every message sent before close arrives');
        for (let i = 0; i < 100; i++) sameBytes(to.rec.messages[i], payload(i + 1), `message ${i}`);
        assert.equal(info.code, 1000);
        assert.equal(info.reason, 'done');
        const own = await from.rec.closed();
        assert.equal(own.code, 1000);
        await pause(50);
        assert.equal(to.rec.closes.length, 1);
        assert.equal(from.rec.closes.length, 1);
      });
    }

    test('terminate: the peer sees an abnormal close, each side exactly once', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address());
      const client = await scope.dial(transport, served.listener.address);
      const server = await served.nth(0);
      client.conn.terminate();
      const info = await server.rec.closed();
      assert.equal(info.code, 1006);
      assert.notEqual(info.code, 1000);
      await client.rec.closed();
      client.conn.terminate();
      client.conn.close();
      await pause(50);
      assert.equal(server.rec.closes.length, 1);
      assert.equal(client.rec.closes.length, 1);
    });

    test('send after close returns false and throws nothing', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address());
      const client = await scope.dial(transport, served.listener.address);
      const server = await served.nth(0);
      client.conn.close();
      assert.equal(client.conn.send(new Uint8Array([1])), false);
      await client.rec.closed();
      assert.equal(client.conn.send(new Uint8Array([2])), false);
      await server.rec.closed();
      assert.equal(server.conn.send(new Uint8Array([3])), false);
      assert.doesNotThrow(() => client.conn.close());
      assert.equal(server.rec.messages.length, 0);
    });

    test('close refuses a code that cannot be sent and cuts a long reason to 123 bytes', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address());
      const client = await scope.dial(transport, served.listener.address);
      const server = await served.nth(0);
      for (const code of [999, 1005, 1006, 2000, 5000, 1000.5]) {
        assert.throws(() => client.conn.close(code), { code: 'IKC_ERR_INVALID_ARG' }, `code ${code}`);
      }
      client.conn.close(4000, 'é'.repeat(100));
      const info = await server.rec.closed();
      assert.equal(info.code, 4000);
      assert.equal(info.reason, 'é'.repeat(61));
    });

    test('connect to an address nobody listens on rejects with IKC_ERR_CONNECT naming it', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address());
      const address = served.listener.address;
      await served.listener.close();
      await assert.rejects(transport.connect(address, { timeoutMs: WAIT_MS }), (err: Error) => {
        assert.equal((err as { code?: string }).code, 'IKC_ERR_CONNECT');
        assert.ok(err.message.includes(address), err.message);
        assert.ok(err.cause instanceof Error);
        return true;
      });
    });

    test('connect gives up after timeoutMs', async (h, scope) => {
      const transport = h.create();
      const stalled = await h.stall();
      scope.listener({ address: stalled.address, close: stalled.close });
      const started = Date.now();
      await assert.rejects(transport.connect(stalled.address, { timeoutMs: 100 }), (err: Error) => {
        assert.equal((err as { code?: string }).code, 'IKC_ERR_CONNECT');
        assert.ok(err.message.includes(stalled.address), err.message);
        assert.match(err.message, /timed out/);
        return true;
      });
      const took = Date.now() - started;
      assert.ok(took >= 90 && took < 2_000, `took ${took} ms`);
    });

    test('connect stops when its AbortSignal fires, or at once if it already has', async (h, scope) => {
      const transport = h.create();
      const stalled = await h.stall();
      scope.listener({ address: stalled.address, close: stalled.close });
      const controller = new AbortController();
      const attempt = transport.connect(stalled.address, { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      await assert.rejects(attempt, (err: Error) => {
        assert.equal((err as { code?: string }).code, 'IKC_ERR_CONNECT');
        assert.ok(err.message.includes(stalled.address), err.message);
        assert.equal(err.cause, controller.signal.reason);
        return true;
      });
      await assert.rejects(transport.connect(stalled.address, { signal: AbortSignal.abort() }), {
        code: 'IKC_ERR_CONNECT',
      });
    });

    test('a message over maxMessageBytes closes that conn with 1009; the others keep working', async (h, scope) => {
      const max = 1024;
      const small = h.create({ maxMessageBytes: max });
      const sender = h.create();
      const served = await scope.serve(small, h.address(), (conn, rec) => {
        rec.onMessage = (data) => conn.send(data);
      });
      const a = await scope.dial(sender, served.listener.address);
      const b = await scope.dial(sender, served.listener.address);
      const serverA = await served.nth(0);

      a.conn.send(new Uint8Array(max)); // at the limit: allowed
      await a.rec.until(() => a.rec.messages.length === 1, 'the echo of a message at the limit');
      a.conn.send(new Uint8Array(max + 1));
      const info = await serverA.rec.closed();
      assert.equal(info.code, 1009);
      assert.equal(serverA.rec.messages.length, 1);
      const peer = await a.rec.closed();
      assert.notEqual(peer.code, 1000);

      b.conn.send(payload(5));
      await b.rec.until(() => b.rec.messages.length === 1, 'the echo on the other conn');
      sameBytes(b.rec.messages[0], payload(5), 'the echo');
      assert.equal(b.rec.closes.length, 0);
    });

    test('send returns false past highWaterMarkBytes, drain follows, and every message arrives', async (h, scope) => {
      const highWaterMarkBytes = 64 * 1024;
      const transport = h.create({ highWaterMarkBytes });
      const served = await scope.serve(transport, h.address());
      const client = await scope.dial(transport, served.listener.address);
      const { rec } = await served.nth(0);
      const count = 48;
      const size = 512 * 1024;
      let refusals = 0;
      for (let i = 0; i < count; i++) {
        const message = new Uint8Array(size).fill(i);
        if (client.conn.send(message)) continue;
        refusals++;
        assert.ok(client.conn.bufferedAmount > highWaterMarkBytes, 'false only past the mark');
        const drains = client.rec.drains;
        await client.rec.until(() => client.rec.drains > drains, 'drain');
        assert.ok(client.conn.bufferedAmount <= highWaterMarkBytes, 'drain only below the mark');
      }
      assert.ok(refusals > 0, 'send never returned false');
      assert.equal(client.rec.drains, refusals);
      await rec.until(() => rec.messages.length === count, 'every message');
      rec.messages.forEach((m, i) => {
        assert.equal(m.byteLength, size);
        assert.ok(m[0] === i && m[size - 1] === i, `message ${i} out of order`);
      });
    });

    test('Listener.close stops accepting, keeps open conns, and frees the address', async (h, scope) => {
      const transport = h.create();
      const served = await scope.serve(transport, h.address());
      const address = served.listener.address;
      const client = await scope.dial(transport, address);
      const server = await served.nth(0);
      await served.listener.close();
      await served.listener.close(); // a second close is harmless

      server.conn.send(new Uint8Array([1]));
      client.conn.send(new Uint8Array([2]));
      await client.rec.until(() => client.rec.messages.length === 1, 'a message on the open conn');
      await server.rec.until(() => server.rec.messages.length === 1, 'a message on the open conn');
      await assert.rejects(transport.connect(address, { timeoutMs: WAIT_MS }), { code: 'IKC_ERR_CONNECT' });

      const again = await scope.serve(transport, address);
      assert.equal(again.listener.address, address);
      const second = await scope.dial(transport, address);
      second.conn.send(new Uint8Array([3]));
      const accepted = await again.nth(0);
      await accepted.rec.until(() => accepted.rec.messages.length === 1, 'a message to the new listener');
      assert.equal(client.rec.closes.length, 0);
    });
  });
}
