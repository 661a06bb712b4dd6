/**
 * A Conn over one open `ws` WebSocket, for the TCP and the UNIX socket transports alike.
 * Binary messages only; the bytes ws hands over are delivered as they are (a Buffer the
 * receiver may keep: ws allocates them per read and never reuses them).
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { CloseInfo, Conn, ConnHandlers } from '../transport.js';
import { CLOSE_NORMAL, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED_DATA, closeArgs } from './close-codes.js';
import { ConnEvents } from './conn-events.js';
import type { ResolvedTransportOptions } from './options.js';

/**
 * RFC 6455's client masking guards browsers' proxies against cache poisoning; between two
 * kernels it only costs an XOR over every byte sent. An all-zero mask is valid, and ws then
 * skips the XOR (ws >= 8.6, `generateMask`) but writes the frame header and the data as two
 * buffers (a writev through the stream's cork). A small message is cheaper masked: ws then
 * writes header and masked data as one buffer, in one plain write, and the XOR of a few
 * hundred bytes costs next to nothing. So messages up to MASKED_UP_TO bytes get a fixed
 * non-zero mask (the mask's secrecy protects browsers, of which there are none here), larger
 * ones the zero mask. WsConn.send() sets `masking` for the message ws is about to frame.
 */
const MASKED_UP_TO = 4096;
let masking = false;
const chooseMask = (mask: Buffer): void => {
  if (masking) {
    mask[0] = 0x69;
    mask[1] = 0x6b;
    mask[2] = 0x63;
    mask[3] = 0x21;
  } else {
    mask.fill(0);
  }
};

/** Options every ws socket of ours is made with, server and client. */
export function wsSocketOptions(options: ResolvedTransportOptions) {
  // Compression would cost CPU on every message and open a zip-bomb door; the mesh batches
  // small frames itself. ws turns TCP_NODELAY on for every socket it wraps.
  return { perMessageDeflate: false, maxPayload: options.maxMessageBytes, generateMask: chooseMask } as const;
}

const BINARY = { binary: true } as const;
/** The largest ws frame header: 2 bytes, an 8-byte length, a 4-byte mask. */
const WS_HEADER_MAX = 14;

export class WsConn implements Conn {
  readonly remote: string;
  readonly transport: string;
  readonly #ws: WebSocket;
  readonly #options: ResolvedTransportOptions;
  readonly #events = new ConnEvents();
  /** Set when send() returned false; cleared when drain is emitted. */
  #needDrain = false;
  /** The close this side decided on for a protocol breach; ws would report it as 1006. */
  #breach: CloseInfo | undefined;
  #error: Error | undefined;
  /** What each cork() corked (undefined when the ws was not open), for its uncork(). */
  #corked: (Duplex | undefined)[] = [];

  /** `ws` must be open; the conn takes over its events at once, holding them until attach(). */
  constructor(ws: WebSocket, remote: string, transport: string, options: ResolvedTransportOptions) {
    this.#ws = ws;
    this.remote = remote;
    this.transport = transport;
    this.#options = options;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('error', (err) => this.#onError(err));
    ws.on('close', (code, reason) => this.#onClose(code, reason));
  }

  attach(handlers: ConnHandlers): void {
    this.#events.attach(handlers);
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  send(data: Uint8Array): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    const hwm = this.#options.highWaterMarkBytes;
    // The callback (which costs the socket a tick per write) only where a drain may be due:
    // a write that may take the buffer past its mark (with ws's frame header, at most 14
    // bytes), and every write while it is past.
    masking = data.byteLength <= MASKED_UP_TO; // read by chooseMask while ws frames it, at once
    if (this.#needDrain || this.#ws.bufferedAmount + data.byteLength + WS_HEADER_MAX > hwm) {
      this.#ws.send(data, BINARY, this.#written);
    } else {
      this.#ws.send(data, BINARY);
    }
    masking = false;
    if (this.#ws.bufferedAmount <= hwm) return true;
    this.#needDrain = true;
    return false;
  }

  // ws frames each message with its own cork and uncork of the socket; these nest, so the
  // socket writes everything sent in between at the outer uncork.
  cork(): void {
    const socket = this.#socket();
    socket?.cork();
    this.#corked.push(socket);
  }

  uncork(): void {
    // The socket corked, even if the ws has begun to close since.
    this.#corked.pop()?.uncork();
  }

  /** The ws's net.Socket (ws keeps it as `_socket`), while open. */
  #socket(): Duplex | undefined {
    if (this.#ws.readyState !== WebSocket.OPEN) return undefined;
    return (this.#ws as unknown as { _socket?: Duplex })._socket;
  }

  close(code = CLOSE_NORMAL, reason = ''): void {
    const args = closeArgs(code, reason);
    this.#ws.close(args.code, args.reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }

  /**
   * Called by ws once each message has been handed to the OS. ws emits no 'drain' of its
   * own, and the socket's 'drain' only follows a write past the socket's 16 KiB mark, which
   * a smaller highWaterMarkBytes would never reach; this callback sees every flush.
   */
  readonly #written = (): void => {
    if (!this.#needDrain || this.#ws.readyState !== WebSocket.OPEN) return;
    if (this.#ws.bufferedAmount > this.#options.highWaterMarkBytes) return;
    this.#needDrain = false;
    this.#events.drain();
  };

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#breach !== undefined) return;
    if (!isBinary) {
      this.#breach = { code: CLOSE_UNSUPPORTED_DATA, reason: 'text messages are not accepted' };
      this.#ws.close(this.#breach.code, this.#breach.reason);
      return;
    }
    this.#events.message(data);
  }

  #onError(err: Error): void {
    this.#error ??= err;
    // ws has already started closing with 1009, but reports the close as 1006 because it
    // stops reading the peer's bytes (and so the peer's echo) after a breach.
    if ((err as NodeJS.ErrnoException).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.#breach ??= {
        code: CLOSE_TOO_BIG,
        reason: `message exceeds ${this.#options.maxMessageBytes} bytes`,
      };
    }
  }

  #onClose(code: number, reason: Buffer): void {
    const info: CloseInfo = this.#breach ? { ...this.#breach } : { code, reason: reason.toString() };
    if (this.#error !== undefined) info.error = this.#error;
    this.#events.close(info);
  }
}
