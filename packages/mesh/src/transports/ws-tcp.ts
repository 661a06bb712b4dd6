/**
 * Links over ws on TCP: the transport between hosts. Addresses are "host:port" (also
 * "ws://host:port" and "[::1]:port"); listen() takes port 0 for any free port and reports
 * the real one in Listener.address.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { Conn, ConnectOptions, Listener, Transport, TransportOptions } from '../transport.js';
import { connectAttempt } from './connect-attempt.js';
import { listenError } from './errors.js';
import { formatHostPort, parseHostPort } from './host-port.js';
import { type ResolvedTransportOptions, resolveTransportOptions } from './options.js';
import { WsConn, wsSocketOptions } from './ws-conn.js';
import { refuseHttp, startListening, WsListener } from './ws-listener.js';

export type WsTcpTransportOptions = TransportOptions;

export class WsTcpTransport implements Transport {
  readonly name = 'tcp';
  readonly options: ResolvedTransportOptions;

  constructor(options?: WsTcpTransportOptions) {
    this.options = resolveTransportOptions(options);
  }

  async listen(address: string, onConn: (conn: Conn) => void): Promise<Listener> {
    const { host, port } = parseHostPort(address);
    const server = createServer(refuseHttp);
    try {
      await startListening(server, { host, port });
    } catch (err) {
      throw listenError(address, err);
    }
    const bound = server.address() as AddressInfo;
    return new WsListener(
      server,
      formatHostPort(bound.address, bound.port),
      this.options,
      (ws, req: IncomingMessage) => {
        const { remoteAddress = '?', remotePort = 0 } = req.socket;
        onConn(new WsConn(ws, formatHostPort(remoteAddress, remotePort), this.name, this.options));
      },
    );
  }

  async connect(address: string, options?: ConnectOptions): Promise<Conn> {
    const { host, port } = parseHostPort(address);
    const url = `ws://${formatHostPort(host, port)}/`;
    return connectAttempt(address, options, (ok, fail) => {
      const ws = new WebSocket(url, { ...wsSocketOptions(this.options), followRedirects: false });
      let remote = formatHostPort(host, port);
      ws.once('upgrade', (res) => {
        const { remoteAddress, remotePort } = res.socket;
        if (remoteAddress !== undefined && remotePort !== undefined) {
          remote = formatHostPort(remoteAddress, remotePort);
        }
      });
      const onError = (err: Error): void => fail(err);
      ws.on('error', onError);
      ws.once('open', () => {
        ws.off('error', onError);
        ok(new WsConn(ws, remote, this.name, this.options));
      });
      // After a failure ws still emits 'error' and 'close' from terminate(); the listener
      // above stays to absorb them.
      return () => ws.terminate();
    });
  }
}
