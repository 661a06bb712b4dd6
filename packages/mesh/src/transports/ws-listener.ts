/**
 * The listening half shared by the ws transports: an http server already listening (on a
 * TCP port or a UNIX socket) with a WebSocketServer on its upgrade requests.
 */
import { once } from 'node:events';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { ListenOptions } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Listener } from '../transport.js';
import type { ResolvedTransportOptions } from './options.js';
import { wsSocketOptions } from './ws-conn.js';

/** An http server, or an https one for TLS links. */
type Server = HttpServer | HttpsServer;

/** The http server's answer to anything but a WebSocket upgrade. */
export function refuseHttp(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end();
}

/** Resolves once `server` listens, or rejects with the system's error (EADDRINUSE, EACCES, ...). */
export async function startListening(server: Server, options: ListenOptions): Promise<void> {
  server.listen(options);
  await once(server, 'listening');
}

export class WsListener implements Listener {
  readonly address: string;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #afterClose: (() => Promise<void>) | undefined;
  #closing: Promise<void> | undefined;

  /**
   * `server` must be listening. `accept` gets each upgraded socket with its request and
   * must wrap it synchronously. `afterClose` runs once the address is released.
   */
  constructor(
    server: Server,
    address: string,
    options: ResolvedTransportOptions,
    accept: (ws: WebSocket, req: IncomingMessage) => void,
    afterClose?: () => Promise<void>,
  ) {
    this.address = address;
    this.#server = server;
    this.#afterClose = afterClose;
    this.#wss = new WebSocketServer({ ...wsSocketOptions(options), server, clientTracking: false });
    this.#wss.on('connection', accept);
    // The server re-emits its errors here. After listen() succeeded the only ones are
    // failed accepts (EMFILE), which leave it listening; there is nobody to tell.
    this.#wss.on('error', () => {});
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#wss.close();
    // close() releases the address at once; its callback would wait for every open conn,
    // which the contract keeps open.
    this.#server.close();
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.#afterClose?.();
  }
}
