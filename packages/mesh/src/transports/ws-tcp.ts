/**
 * Links over ws on TCP: the transport between hosts. Addresses are "host:port" (also
 * "ws://host:port", "wss://host:port" and "[::1]:port"); listen() takes port 0 for any free
 * port and reports the real one in Listener.address.
 *
 * With `tls`, every link is mutual TLS (wss): the listener asks each dialer for a
 * certificate and takes only one the cloud's CA signed, and a dialer takes only a listener
 * whose certificate that CA signed. The CA is the cloud's identity, so host names are not
 * checked: kernels are found at addresses (gossip, mDNS, seeds) that their certificates
 * need not name.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { type AddressInfo, isIP } from 'node:net';
import { type ConnectionOptions, connect as connectTls, type TLSSocket } from 'node:tls';
import { type ClientOptions, WebSocket } from 'ws';
import type { Conn, ConnectOptions, Listener, Transport, TransportOptions } from '../transport.js';
import { connectAttempt } from './connect-attempt.js';
import { listenError } from './errors.js';
import { formatHostPort, parseHostPort } from './host-port.js';
import { type ResolvedTransportOptions, resolveTransportOptions } from './options.js';
import { WsConn, wsSocketOptions } from './ws-conn.js';
import { refuseHttp, startListening, WsListener } from './ws-listener.js';

/** A kernel's mutual-TLS material, PEM. */
export interface TlsMaterial {
  /** This kernel's certificate (and any intermediates). */
  cert: string | Buffer;
  /** Its private key. */
  key: string | Buffer;
  /** The CA certificate(s) that sign the cloud's kernels. */
  ca: string | Buffer;
}

export interface WsTcpTransportOptions extends TransportOptions {
  /** Mutual TLS on every link (wss). */
  tls?: TlsMaterial;
  /**
   * A connection the listener refused in the TLS handshake (no certificate, one the CA did
   * not sign, not TLS at all), with who (host:port) and why. The dialer only sees the
   * connection close; this is where the reason is.
   */
  onTlsRefused?: (remote: string, err: Error) => void;
}

/** TLS 1.2 at least; the certificate must chain to `ca` (never the system's CAs). */
function tlsOptions(tls: TlsMaterial) {
  return { cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: 'TLSv1.2' as const };
}

/**
 * tls.connect's host name check, passed through by ws: none (see above). @types/ws types it
 * as returning a boolean; tls wants an Error or undefined, and undefined accepts.
 */
const anyHost = (() => undefined) as unknown as ClientOptions['checkServerIdentity'];

export class WsTcpTransport implements Transport {
  readonly name = 'tcp';
  readonly options: ResolvedTransportOptions;
  readonly #tls: TlsMaterial | undefined;
  readonly #onTlsRefused: ((remote: string, err: Error) => void) | undefined;

  constructor(options?: WsTcpTransportOptions) {
    this.options = resolveTransportOptions(options);
    this.#tls = options?.tls;
    this.#onTlsRefused = options?.onTlsRefused;
  }

  /** Whether its links are TLS. */
  get secure(): boolean {
    return this.#tls !== undefined;
  }

  async listen(address: string, onConn: (conn: Conn) => void): Promise<Listener> {
    const { host, port } = parseHostPort(address);
    const tls = this.#tls;
    let server: ReturnType<typeof createServer> | ReturnType<typeof createTlsServer>;
    if (tls) {
      // Node would drop a dialer whose certificate fails in silence (rejectUnauthorized):
      // this listener drops it instead, first thing after the handshake (before http reads
      // a byte), and says why.
      const https = createTlsServer(
        { ...tlsOptions(tls), requestCert: true, rejectUnauthorized: false },
        refuseHttp,
      );
      const refused = (socket: { remoteAddress?: string; remotePort?: number }, err: Error) =>
        this.#onTlsRefused?.(formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0), err);
      https.prependListener('secureConnection', (socket: TLSSocket) => {
        if (socket.authorized) return;
        const why = socket.authorizationError;
        refused(
          socket,
          Object.assign(new Error(`certificate refused: ${String(why ?? 'none given')}`), { code: why }),
        );
        socket.destroy();
      });
      https.on('tlsClientError', (err: Error, socket: TLSSocket) => refused(socket, err));
      server = https;
    } else server = createServer(refuseHttp);
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
    const tls = this.#tls;
    const url = `${tls ? 'wss' : 'ws'}://${formatHostPort(host, port)}/`;
    return connectAttempt(address, options, (ok, fail) => {
      // Whether the TLS handshake finished: a listener that refuses our certificate closes
      // the connection only after it (TLS 1.3), which ws reports as a bare "socket hang up".
      let handshook = false;
      let upgraded = false;
      const createConnection = (opts: ConnectionOptions & { path?: string; host?: string }): TLSSocket => {
        // What ws's own tlsConnect does, plus the handshake's end.
        opts.path = undefined;
        if (!opts.servername && opts.servername !== '')
          opts.servername = isIP(opts.host ?? '') ? '' : opts.host;
        const socket = connectTls(opts);
        socket.once('secureConnect', () => {
          handshook = true;
        });
        return socket;
      };
      const ws = new WebSocket(url, {
        ...wsSocketOptions(this.options),
        followRedirects: false,
        ...(tls
          ? {
              ...tlsOptions(tls),
              rejectUnauthorized: true,
              checkServerIdentity: anyHost,
              createConnection: createConnection as unknown as ClientOptions['createConnection'],
            }
          : {}),
      });
      let remote = formatHostPort(host, port);
      ws.once('upgrade', (res) => {
        upgraded = true;
        const { remoteAddress, remotePort } = res.socket;
        if (remoteAddress !== undefined && remotePort !== undefined) {
          remote = formatHostPort(remoteAddress, remotePort);
        }
      });
      const onError = (err: Error): void => fail(handshook && !upgraded ? refusedAfterHandshake(err) : err);
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

/** A connection the TLS listener closed after the handshake, before answering the upgrade. */
function refusedAfterHandshake(err: Error): Error {
  const code = (err as { code?: unknown }).code ?? 'ECONNRESET';
  return Object.assign(
    new Error(
      `the listener closed the connection after the TLS handshake, before the WebSocket upgrade (${err.message}): it most likely refused this kernel's certificate, and its log says why`,
      { cause: err },
    ),
    { code },
  );
}
