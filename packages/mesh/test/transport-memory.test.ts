/** What only the in-memory transport does: networks, names, black holes, its timing. */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MemoryNetwork, MemoryTransport } from '../src/transports/memory.js';
import { Recorder, Scope } from './transport-contract.js';

function scoped(t: TestContext): Scope {
  const scope = new Scope();
  t.after(() => scope.dispose());
  return scope;
}

describe('memory transport', () => {
  it('keeps MemoryNetworks apart: a name in one is unknown in another', async (t) => {
    const scope = scoped(t);
    const a = new MemoryTransport({ network: new MemoryNetwork() });
    const b = new MemoryTransport({ network: new MemoryNetwork() });
    await scope.serve(a, 'alpha');
    await assert.rejects(b.connect('alpha'), (err: Error) => {
      assert.equal((err as { code?: string }).code, 'IKC_ERR_CONNECT');
      assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
      assert.match(err.message, /alpha/);
      return true;
    });
    await scope.serve(b, 'alpha'); // the same name is free in the other network
    assert.deepEqual(a.network.names, ['alpha']);
    assert.deepEqual(b.network.names, ['alpha']);
  });

  it('shares one process-wide network between transports not given one', async (t) => {
    const scope = scoped(t);
    const name = `shared-${process.pid}`;
    const served = await scope.serve(new MemoryTransport(), name);
    await scope.dial(new MemoryTransport(), name);
    const { conn } = await served.nth(0);
    assert.match(conn.remote, new RegExp(`^memory:${name}#\\d+$`));
  });

  it('names the listener in remote, and each accepted conn by number', async (t) => {
    const scope = scoped(t);
    const transport = new MemoryTransport({ network: new MemoryNetwork() });
    const served = await scope.serve(transport, 'alpha');
    const first = await scope.dial(transport, 'alpha');
    await scope.dial(transport, 'alpha');
    assert.equal(first.conn.remote, 'memory:alpha');
    assert.equal((await served.nth(0)).conn.remote, 'memory:alpha#1');
    assert.equal((await served.nth(1)).conn.remote, 'memory:alpha#2');
  });

  it('never delivers inside send(), and counts what is in flight as buffered', async (t) => {
    const scope = scoped(t);
    const transport = new MemoryTransport({ network: new MemoryNetwork() });
    const served = await scope.serve(transport, 'alpha');
    const client = await scope.dial(transport, 'alpha');
    const { rec } = await served.nth(0);
    assert.equal(client.conn.send(new Uint8Array(10)), true);
    assert.equal(client.conn.bufferedAmount, 10);
    await Promise.resolve();
    assert.equal(rec.messages.length, 0, 'not even in a microtask');
    await rec.until(() => rec.messages.length === 1, 'the message');
    assert.equal(client.conn.bufferedAmount, 0);
  });

  it('terminate drops what is in flight; the peer sees 1006', async (t) => {
    const scope = scoped(t);
    const transport = new MemoryTransport({ network: new MemoryNetwork() });
    const served = await scope.serve(transport, 'alpha');
    const client = await scope.dial(transport, 'alpha');
    const { rec } = await served.nth(0);
    for (let i = 0; i < 10; i++) client.conn.send(new Uint8Array([i]));
    client.conn.terminate();
    assert.equal(client.conn.bufferedAmount, 0);
    const info = await rec.closed();
    assert.equal(info.code, 1006);
    assert.equal(rec.messages.length, 0);
    assert.equal((await client.rec.closed()).code, 1006);
  });

  it('lets a black hole swallow connects until it is lifted', async (t) => {
    const scope = scoped(t);
    const network = new MemoryNetwork();
    const transport = new MemoryTransport({ network });
    await scope.serve(transport, 'alpha');
    const lift = network.blackhole('alpha');
    await assert.rejects(transport.connect('alpha', { timeoutMs: 30 }), /timed out/);
    lift();
    const client = await scope.dial(transport, 'alpha');
    assert.equal(client.conn.remote, 'memory:alpha');
  });

  it('refuses a second listen on a name, and frees it on close', async (t) => {
    const scope = scoped(t);
    const transport = new MemoryTransport({ network: new MemoryNetwork() });
    const served = await scope.serve(transport, 'alpha');
    await assert.rejects(
      transport.listen('alpha', () => {}),
      { code: 'IKC_ERR_LISTEN' },
    );
    await served.listener.close();
    assert.deepEqual(transport.network.names, []);
    const again = await transport.listen('alpha', (conn) => conn.attach(new Recorder()));
    scope.listener(again);
    assert.equal(again.address, 'alpha');
  });
});
