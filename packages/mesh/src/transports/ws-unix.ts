/**
 * Links over ws on a UNIX socket: the transport between kernels of one host, and the one
 * a kernel's own user reaches it by. Addresses are socket paths (or "unix:" + path). Only
 * the owning user may attach: the socket is made 0600 in a directory made 0700.
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect as netConnect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { IkcError } from '@ikc/wire';
import { WebSocket } from 'ws';
import type { Conn, ConnectOptions, Listener, Transport, TransportOptions } from '../transport.js';
import { connectAttempt } from './connect-attempt.js';
import { listenError } from './errors.js';
import { type ResolvedTransportOptions, resolveTransportOptions } from './options.js';
import { WsConn, wsSocketOptions } from './ws-conn.js';
import { refuseHttp, startListening, WsListener } from './ws-listener.js';

export type WsUnixTransportOptions = TransportOptions;

/** Mode of the socket file: read and write for the owner only. */
const SOCKET_MODE = 0o600;
/** Mode of a directory listen() has to create for the socket. */
const DIRECTORY_MODE = 0o700;

export class WsUnixTransport implements Transport {
  readonly name = 'unix';
  readonly options: ResolvedTransportOptions;

  constructor(options?: WsUnixTransportOptions) {
    this.options = resolveTransportOptions(options);
  }

  /**
   * A socket file left by a kernel that died is replaced; one something still answers on
   * is not (IKC_ERR_LISTEN). Listener.close() removes the file.
   */
  async listen(address: string, onConn: (conn: Conn) => void): Promise<Listener> {
    const path = socketPath(address);
    let server = createServer(refuseHttp);
    try {
      await mkdir(dirname(path), { recursive: true, mode: DIRECTORY_MODE });
      try {
        await startListening(server, { path });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        await removeStaleSocket(path);
        server = createServer(refuseHttp);
        await startListening(server, { path });
      }
      // Between bind and this chmod the file has the umask's mode; a peer that attaches in
      // that instant is still limited by the directory's own permissions.
      await chmod(path, SOCKET_MODE);
    } catch (err) {
      server.close();
      throw IkcError.is(err, 'IKC_ERR_LISTEN') ? err : listenError(path, err);
    }
    const { ino } = await lstat(path);
    const remote = `unix:${path}`;
    return new WsListener(
      server,
      path,
      this.options,
      (ws) => onConn(new WsConn(ws, remote, this.name, this.options)),
      // Node unlinks the file when the server closes; this covers a platform that does
      // not, without removing a socket another listener has since made at the same path.
      async () => {
        const now = await lstat(path).catch(() => undefined);
        if (now?.ino === ino) await unlink(path).catch(() => {});
      },
    );
  }

  async connect(address: string, options?: ConnectOptions): Promise<Conn> {
    const path = socketPath(address);
    return connectAttempt(path, options, (ok, fail) => {
      // A "ws+unix:" URL would carry the path through URL parsing, which percent-encodes
      // spaces and splits at a ':'; handing ws the socket itself keeps any path intact.
      const ws = new WebSocket('ws://localhost/', {
        ...wsSocketOptions(this.options),
        followRedirects: false,
        createConnection: () => netConnect({ path }),
      });
      const onError = (err: Error): void => fail(err);
      ws.on('error', onError);
      ws.once('open', () => {
        ws.off('error', onError);
        ok(new WsConn(ws, `unix:${path}`, this.name, this.options));
      });
      return () => ws.terminate();
    });
  }
}

/** The absolute socket path of "unix:/run/ikc/alpha.sock" or "/run/ikc/alpha.sock". */
function socketPath(address: string): string {
  const path = address.startsWith('unix:') ? address.slice('unix:'.length) : address;
  if (path === '' || path.includes('\0')) {
    throw new IkcError('IKC_ERR_INVALID_ARG', `"${address}" is not a UNIX socket path`, {
      details: { address },
    });
  }
  return resolve(path);
}

/**
 * Unlinks the socket at `path` if nothing listens on it (a connect is refused); throws
 * IKC_ERR_LISTEN if something answers or the file is not a socket.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path);
  if (!stat.isSocket()) throw listenError(path, new Error('the path exists and is not a socket'));
  const answered = await new Promise<boolean>((resolve, reject) => {
    const probe = netConnect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve(false);
      else reject(err);
    });
  });
  if (answered) throw listenError(path, new Error('socket in use: another process is listening on it'));
  await unlink(path);
}
