/**
 * Links over ws on a socket that is already connected: the link between a kernel and the
 * leaf kernel of a module job it started, over one end of a socket pair the child inherits
 * as a file descriptor. Nothing listens and nothing is dialed by address: the parent hands
 * its end to acceptOnSocket(), the child opens its fd with connectOnFd().
 */
import { createServer } from 'node:http';
import { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Conn, ConnectOptions, TransportOptions } from '../transport.js';
import { connectAttempt } from './connect-attempt.js';
import { resolveTransportOptions } from './options.js';
import { WsConn, wsSocketOptions } from './ws-conn.js';
import { refuseHttp } from './ws-listener.js';

/** The Conn.transport of these links. */
export const PIPE_TRANSPORT = 'pipe';

/**
 * Serves one ws upgrade on `socket` (a connected stream socket) and hands the conn to
 * `onConn`. `remote` names the other end in logs and peers(). Anything but an upgrade gets
 * HTTP 426, as on a listening socket.
 */
export function acceptOnSocket(
  socket: Socket,
  remote: string,
  onConn: (conn: Conn) => void,
  options?: TransportOptions,
): void {
  const resolved = resolveTransportOptions(options);
  const server = createServer(refuseHttp);
  const wss = new WebSocketServer({ ...wsSocketOptions(resolved), noServer: true, clientTracking: false });
  server.on('upgrade', (req, upgraded, head) => {
    wss.handleUpgrade(req, upgraded, head, (ws) => onConn(new WsConn(ws, remote, PIPE_TRANSPORT, resolved)));
  });
  // A bad request or a peer gone before upgrading: the socket is closed, nobody to tell.
  server.on('clientError', (_err, s) => s.destroy());
  server.emit('connection', socket);
}

/** Opens a ws link on the inherited file descriptor `fd`, one end of a connected socket pair. */
export function connectOnFd(
  fd: number,
  remote: string,
  options?: TransportOptions & ConnectOptions,
): Promise<Conn> {
  const resolved = resolveTransportOptions(options);
  return connectAttempt(remote, options, (ok, fail) => {
    const ws = new WebSocket('ws://localhost/', {
      ...wsSocketOptions(resolved),
      followRedirects: false,
      createConnection: () => new Socket({ fd, readable: true, writable: true }),
    });
    const onError = (err: Error): void => fail(err);
    ws.on('error', onError);
    ws.once('open', () => {
      ws.off('error', onError);
      ok(new WsConn(ws, remote, PIPE_TRANSPORT, resolved));
    });
    return () => ws.terminate();
  });
}
