/** What only the ws-over-TCP transport does: addresses, ports, refusing text and plain HTTP. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { formatHostPort, parseHostPort } from '../src/transports/host-port.js';
import { WsTcpTransport } from '../src/transports/ws-tcp.js';
import { Recorder, Scope } from './transport-contract.js';

function scoped(t: TestContext): Scope {
  const scope = new Scope();
  t.after(() => scope.dispose());
  return scope;
}

describe('ws-tcp transport', () => {
  it('parses host:port, [v6]:port and ws:// addresses, and refuses the rest', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:6603'), { host: '127.0.0.1', port: 6603 });
    assert.deepEqual(parseHostPort('ws://alpha.local:0/'), { host: 'alpha.local', port: 0 });
    assert.deepEqual(parseHostPort('[::1]:7'), { host: '::1', port: 7 });
    assert.deepEqual(parseHostPort('ws://[::1]:7'), { host: '::1', port: 7 });
    for (const bad of [
      '',
      'alpha',
      ':6603',
      'alpha:',
      'alpha:65536',
      'alpha:-1',
      '::1:80',
      'a b:1',
      'x:1e3',
    ]) {
      assert.throws(() => parseHostPort(bad), { code: 'IKC_ERR_INVALID_ARG' }, bad);
    }
    assert.equal(formatHostPort('::1', 80), '[::1]:80');
    assert.equal(formatHostPort('10.0.0.1', 80), '10.0.0.1:80');
  });

  it('reports the real port when listening on port 0, and names both ends in remote', async (t) => {
    const scope = scoped(t);
    const transport = new WsTcpTransport();
    const served = await scope.serve(transport, '127.0.0.1:0');
    const match = /^127\.0\.0\.1:(\d+)$/.exec(served.listener.address);
    assert.ok(match, served.listener.address);
    const port = Number(match[1]);
    assert.ok(port > 0);
    const client = await scope.dial(transport, `ws://127.0.0.1:${port}`);
    const server = await served.nth(0);
    assert.equal(client.conn.remote, `127.0.0.1:${port}`);
    assert.match(server.conn.remote, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(server.conn.remote, client.conn.remote);
  });

  it('listens and connects over IPv6 with bracketed addresses', async (t) => {
    const scope = scoped(t);
    const transport = new WsTcpTransport();
    const served = await scope.serve(transport, '[::1]:0');
    assert.match(served.listener.address, /^\[::1\]:\d+$/);
    const client = await scope.dial(transport, served.listener.address);
    client.conn.send(new Uint8Array([6]));
    const { rec } = await served.nth(0);
    await rec.until(() => rec.messages.length === 1, 'a message over IPv6');
    assert.equal(rec.messages[0]![0], 6);
  });

  it('closes a conn whose peer sends a text message with 1003', async (t) => {
    const scope = scoped(t);
    const served = await scope.serve(new WsTcpTransport(), '127.0.0.1:0');
    const peer = new WebSocket(`ws://${served.listener.address}/`);
    t.after(() => peer.terminate());
    await new Promise((resolve, reject) => peer.once('open', resolve).once('error', reject));
    peer.send(Buffer.from([1]));
    peer.send('hello');
    const [code, reason] = await new Promise<[number, Buffer]>((resolve) =>
      peer.once('close', (c: number, r: Buffer) => resolve([c, r])),
    );
    assert.equal(code, 1003);
    assert.match(reason.toString(), /text/);
    const { rec } = await served.nth(0);
    const info = await rec.closed();
    assert.equal(info.code, 1003);
    assert.equal(rec.messages.length, 1, 'the binary message before it still arrived');
  });

  it('answers a plain HTTP request with 426 Upgrade Required', async (t) => {
    const scope = scoped(t);
    const served = await scope.serve(new WsTcpTransport(), '127.0.0.1:0');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request(`http://${served.listener.address}/`, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(status, 426);
  });

  it('fails to listen on a port in use with IKC_ERR_LISTEN, and on a bad address with IKC_ERR_INVALID_ARG', async (t) => {
    const scope = scoped(t);
    const transport = new WsTcpTransport();
    const served = await scope.serve(transport, '127.0.0.1:0');
    await assert.rejects(
      transport.listen(served.listener.address, () => {}),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'IKC_ERR_LISTEN');
        assert.equal((err.cause as { code?: string }).code, 'EADDRINUSE');
        return true;
      },
    );
    await assert.rejects(
      transport.listen('nowhere', () => {}),
      { code: 'IKC_ERR_INVALID_ARG' },
    );
    await assert.rejects(transport.connect('nowhere'), { code: 'IKC_ERR_INVALID_ARG' });
  });

  it('names the refused address and ECONNREFUSED in the error', async (t) => {
    const scope = scoped(t);
    const transport = new WsTcpTransport();
    const served = await scope.serve(transport, '127.0.0.1:0');
    const { address } = served.listener;
    await served.listener.close();
    await assert.rejects(transport.connect(address), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`^cannot connect to ${address.replace(/\./g, '\\.')}: .*ECONNREFUSED`),
      );
      assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
  });

  it('refuses bad options with IKC_ERR_INVALID_ARG', () => {
    for (const options of [{ maxMessageBytes: 0 }, { highWaterMarkBytes: -1 }, { maxMessageBytes: 1.5 }]) {
      assert.throws(() => new WsTcpTransport(options), { code: 'IKC_ERR_INVALID_ARG' });
    }
    assert.equal(new WsTcpTransport().options.highWaterMarkBytes, 1024 * 1024);
  });

  it('refuses a second attach', async (t) => {
    const scope = scoped(t);
    const transport = new WsTcpTransport();
    const served = await scope.serve(transport, '127.0.0.1:0');
    const client = await scope.dial(transport, served.listener.address);
    assert.throws(() => client.conn.attach(new Recorder()), { code: 'IKC_ERR_INVALID_ARG' });
  });
});
