/** What only the ws-over-UNIX-socket transport does: the socket file's life and permissions. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { WsUnixTransport } from '../src/transports/ws-unix.js';
import { Scope } from './transport-contract.js';

/** A fresh temp directory and a Scope, both removed after the test. */
async function setup(t: TestContext): Promise<{ dir: string; scope: Scope }> {
  const dir = await mkdtemp(join(tmpdir(), 'ikc-unix-'));
  const scope = new Scope();
  t.after(async () => {
    await scope.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, scope };
}

/** Leaves a socket file nobody listens on, as a kernel killed with SIGKILL does. */
function leaveStaleSocket(path: string): void {
  const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script]);
  assert.ok(existsSync(path), 'the killed process left its socket file');
}

describe('ws-unix transport', () => {
  it('makes the socket 0600 in a new directory made 0700, and removes it on close', async (t) => {
    const { dir, scope } = await setup(t);
    const path = join(dir, 'run', 'alpha.sock');
    const listener = scope.listener(await new WsUnixTransport().listen(path, () => {}));
    assert.equal(listener.address, path);
    assert.ok((await stat(path)).isSocket());
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o700);
    await listener.close();
    assert.equal(existsSync(path), false);
  });

  it('replaces a stale socket file left by a dead process', async (t) => {
    const { dir, scope } = await setup(t);
    const path = join(dir, 'stale.sock');
    leaveStaleSocket(path);
    const transport = new WsUnixTransport();
    const served = await scope.serve(transport, path);
    const client = await scope.dial(transport, path);
    client.conn.send(new Uint8Array([5]));
    const { rec } = await served.nth(0);
    await rec.until(() => rec.messages.length === 1, 'a message through the new socket');
    assert.equal(rec.messages[0]![0], 5);
  });

  it('refuses with IKC_ERR_LISTEN a socket another process answers on, and leaves it alone', async (t) => {
    const { dir } = await setup(t);
    const path = join(dir, 'live.sock');
    const other = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => other.listen(path, resolve));
    t.after(() => new Promise<void>((resolve) => other.close(() => resolve())));
    await assert.rejects(
      new WsUnixTransport().listen(path, () => {}),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'IKC_ERR_LISTEN');
        assert.ok(err.message.includes(path), err.message);
        assert.match(err.message, /in use/);
        return true;
      },
    );
    assert.ok((await stat(path)).isSocket(), 'the live socket is still there');
  });

  it('refuses with IKC_ERR_LISTEN a path that is not a socket, and leaves the file alone', async (t) => {
    const { dir } = await setup(t);
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'keep me');
    await assert.rejects(
      new WsUnixTransport().listen(path, () => {}),
      { code: 'IKC_ERR_LISTEN' },
    );
    assert.equal(await readFile(path, 'utf8'), 'keep me');
  });

  it('takes "unix:" addresses and paths with spaces, and names the socket in remote', async (t) => {
    const { dir, scope } = await setup(t);
    const path = join(dir, 'with space:colon.sock');
    const transport = new WsUnixTransport();
    const served = await scope.serve(transport, `unix:${path}`);
    assert.equal(served.listener.address, path);
    const client = await scope.dial(transport, `unix:${path}`);
    const server = await served.nth(0);
    assert.equal(client.conn.remote, `unix:${path}`);
    assert.equal(server.conn.remote, `unix:${path}`);
    assert.equal(client.conn.transport, 'unix');
  });

  it('fails to connect to a missing socket with IKC_ERR_CONNECT naming the path', async (t) => {
    const { dir } = await setup(t);
    const path = join(dir, 'nobody.sock');
    await assert.rejects(new WsUnixTransport().connect(path), (err: Error) => {
      assert.equal((err as { code?: string }).code, 'IKC_ERR_CONNECT');
      assert.ok(err.message.includes(path), err.message);
      assert.equal((err.cause as { code?: string }).code, 'ENOENT');
      return true;
    });
  });
});
