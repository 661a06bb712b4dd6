/**
 * The link transport contract. A transport moves whole messages (byte arrays) between two
 * kernels, in order, reliably, until the connection closes. The mesh above it knows nothing
 * of sockets: ws over TCP, ws over a UNIX socket and the in-memory pair all implement this,
 * and all pass the one contract suite in test/transport-contract.ts.
 */

/** Why a connection ended. `code` follows WebSocket close codes (1000 normal, 1006 abnormal, 1009 too big). */
export interface CloseInfo {
  code: number;
  reason: string;
  /** Set when the connection failed rather than being closed. */
  error?: Error;
}

export interface ConnHandlers {
  /** One whole message, in the order sent. The bytes are the receiver's to keep. */
  message(data: Uint8Array): void;
  /** Called once, when the connection has ended for any reason (after close, terminate, a peer's close, a network error). */
  close(info: CloseInfo): void;
  /** The send buffer has fallen below its high-water mark again after send() returned false. */
  drain?(): void;
}

/** One open connection. */
export interface Conn {
  /** The other end, for logs: "127.0.0.1:52714", "unix:/run/ikc/alpha.sock", "memory:alpha#3". */
  readonly remote: string;
  /** Which transport made it: "tcp", "unix", "memory". */
  readonly transport: string;
  /**
   * Attaches the handlers. Must be called once, synchronously after the conn is handed over
   * (in the listener's callback, or right after connect() resolves); messages and a close
   * that arrive earlier are held until then, never lost.
   */
  attach(handlers: ConnHandlers): void;
  /** Sends one message. Returns false when the conn's send buffer is past its high-water
   * mark: the message is still queued, and the caller should wait for drain(). Sending on
   * a closed conn does nothing and returns false. */
  send(data: Uint8Array): boolean;
  /**
   * Holds what send() is given until uncork(), which hands it to the OS in one write (so a
   * frame and the blobs after it cost one system call and wake the peer once). Optional: a
   * conn without it sends each message as it comes.
   */
  cork?(): void;
  uncork?(): void;
  /** Bytes accepted by send() and not yet handed to the OS. */
  readonly bufferedAmount: number;
  /** Closes gracefully: messages already sent are delivered first. */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once (the peer sees an abnormal close). */
  terminate(): void;
}

export interface Listener {
  /** The address bound, in a form connect() accepts ("127.0.0.1:6603" with the real port when 0 was asked). */
  readonly address: string;
  /** Stops accepting; open conns stay open. Resolves when the address is released. */
  close(): Promise<void>;
}

export interface TransportOptions {
  /** Largest message accepted; a bigger one closes the conn with code 1009 (bytes). */
  maxMessageBytes?: number;
  /** send() returns false past this many buffered bytes (bytes). */
  highWaterMarkBytes?: number;
}

export interface ConnectOptions {
  /** Give up on an attempt after this long (milliseconds). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Transport {
  /** "tcp", "unix" or "memory". */
  readonly name: string;
  /** Starts accepting conns at `address`; `onConn` gets each one (and must attach to it at once). */
  listen(address: string, onConn: (conn: Conn) => void): Promise<Listener>;
  /** Opens a conn to a listener; rejects with an Error whose message names the address and the cause. */
  connect(address: string, options?: ConnectOptions): Promise<Conn>;
}
