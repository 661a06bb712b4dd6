import {
  acceptHello,
  authFrame,
  authProof,
  Codec,
  type CodecOptions,
  type Frame,
  FrameBatcher,
  FrameType,
  frameName,
  type HelloFrame,
  helloFrame,
  IkcError,
  type KernelRole,
  type LinkSide,
  refuseFrame,
  verifyAuth,
  WireError,
  welcomeFrame,
} from '@ikc/wire';
import type { MeshTuning } from './defaults.js';
import type { Logger } from './log.js';
import type { CloseInfo, Conn } from './transport.js';

/** Who is at the other end of a link, as its HELLO said (and its AUTH proved). */
export interface PeerInfo {
  id: string;
  name: string;
  role: KernelRole;
  /** Where it listens for kernels, as its HELLO said ('' for a leaf). */
  listen: string;
}

export interface LinkOptions {
  conn: Conn;
  side: LinkSide;
  cloud: string;
  secret: string;
  kernelId: string;
  kernelName: string;
  role: KernelRole;
  /** Where this kernel listens for other kernels, told to the peer. */
  listen?: string;
  tuning: MeshTuning;
  log: Logger;
  codec: CodecOptions;
  /** Whether to accept a peer of that role on this link (a leaf talks only to hosts). */
  acceptRole?(role: KernelRole, peer: PeerInfo): IkcError | undefined;
}

export interface LinkHandlers {
  /** The handshake is done: the peer is known and proved. */
  up(link: Link): void;
  /** A frame after the handshake (not PING/PONG/BYE, which the link handles). */
  frame(link: Link, frame: Frame): void;
  /** The link is gone, for good. `error` says why when it was not a graceful close. */
  down(link: Link, why: { reason: string; error?: IkcError; wasUp: boolean }): void;
}

type State = 'handshake' | 'up' | 'closed';

// WebSocket close codes the link uses.
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL = 1002;
const CLOSE_POLICY = 1008;
const CLOSE_UNSUPPORTED = 1003;
const CLOSE_TOO_BIG = 1009;

/**
 * One authenticated, framed connection to another kernel. It runs the handshake (HELLO both
 * ways, AUTH proofs of the cloud secret, WELCOME), then batches outgoing frames into ws
 * messages, answers PINGs and measures round-trip time, and closes itself on bad input, a
 * stalled handshake or a silent peer. What a frame means is the mesh's business.
 */
export class Link {
  readonly conn: Conn;
  readonly side: LinkSide;
  peer: PeerInfo | undefined;
  version = 0;
  /** Last measured round-trip time (milliseconds), or undefined before the first PONG. */
  rtt: number | undefined;

  private state: State = 'handshake';
  private readonly codec: Codec;
  private readonly batcher: FrameBatcher;
  private flushQueued = false;
  private readonly hello: HelloFrame;
  private peerHello: HelloFrame | undefined;
  private peerProved = false;
  private welcomed = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private lastHeard = Date.now();
  private handlers: LinkHandlers | undefined;
  private closeReason: { reason: string; error?: IkcError } | undefined;
  private upWaiters: { resolve: () => void; reject: (err: IkcError) => void }[] = [];

  constructor(private readonly options: LinkOptions) {
    this.conn = options.conn;
    this.side = options.side;
    this.codec = new Codec(options.codec);
    this.batcher = new FrameBatcher((message) => this.conn.send(message), this.codec);
    this.hello = helloFrame({
      cloud: options.cloud,
      kernelId: options.kernelId,
      kernelName: options.kernelName,
      role: options.role,
      listen: options.listen,
    });
  }

  /** Starts the handshake. Handlers are called from then on. */
  start(handlers: LinkHandlers): void {
    this.handlers = handlers;
    this.conn.attach({
      message: (data) => this.onMessage(data),
      close: (info) => this.onClose(info),
    });
    this.handshakeTimer = setTimeout(() => {
      this.fail(
        new IkcError(
          'IKC_ERR_HANDSHAKE',
          `handshake with ${this.conn.remote} did not finish within ${this.options.tuning.handshakeTimeoutMs} ms`,
        ),
      );
    }, this.options.tuning.handshakeTimeoutMs);
    this.sendNow(this.hello);
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Resolves when the handshake is done; rejects with why the link closed first. */
  whenUp(): Promise<void> {
    if (this.state === 'up') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(this.closeError());
    return new Promise((resolve, reject) => this.upWaiters.push({ resolve, reject }));
  }

  private closeError(): IkcError {
    return (
      this.closeReason?.error ??
      new IkcError(
        'IKC_ERR_HANDSHAKE',
        `link to ${this.conn.remote} closed (${this.closeReason?.reason ?? 'closed'})`,
      )
    );
  }

  get address(): string {
    return this.conn.remote;
  }

  /** Queues a frame; frames queued in one turn of the event loop leave as one ws message.
   * Returns its encoded size (0 when the link is not up). Throws IKC_ERR_ENCODE. */
  send(frame: Frame): number {
    if (this.state !== 'up') return 0;
    const bytes = this.batcher.add(frame);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
    return bytes;
  }

  private flush = (): void => {
    this.flushQueued = false;
    if (this.state === 'closed') return;
    this.batcher.flush();
  };

  /** Sends at once, unbatched (handshake frames, REFUSE, BYE). */
  private sendNow(frame: Frame): void {
    this.flush();
    this.conn.send(this.codec.encode(frame));
  }

  /** Closes gracefully: BYE, then close. */
  close(reason: string, message = ''): void {
    if (this.state === 'closed') return;
    if (this.state === 'up') {
      this.flush();
      this.sendNow({ type: FrameType.Bye, reason, message });
    }
    this.closeReason ??= { reason };
    this.end();
    this.conn.close(CLOSE_NORMAL, reason);
  }

  /** Closes because something went wrong: logs it, tells the peer (REFUSE), and closes. */
  fail(error: IkcError): void {
    if (this.state === 'closed') return;
    this.options.log.warn(
      { err: { code: error.code, message: error.message }, peer: this.peer?.name, address: this.conn.remote },
      `link closed: ${error.message}`,
    );
    try {
      this.flush();
      this.conn.send(this.codec.encode(refuseFrame(error.code, error.message)));
    } catch {
      // The peer may already be gone; the close below is what matters.
    }
    this.closeReason ??= { reason: error.code, error };
    this.end();
    this.conn.close(error instanceof WireError ? CLOSE_PROTOCOL : CLOSE_POLICY, error.code);
  }

  private end(): void {
    const wasUp = this.state === 'up';
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    clearInterval(this.pingTimer);
    const why = this.closeReason ?? { reason: 'closed' };
    const waiters = this.upWaiters;
    this.upWaiters = [];
    for (const w of waiters) w.reject(this.closeError());
    this.handlers?.down(this, { ...why, wasUp });
    this.handlers = undefined;
  }

  private onClose(info: CloseInfo): void {
    if (this.state === 'closed') return;
    // 1009 and 1003 mean the transport refused a message (too big, or text): bad input, to
    // be logged like any other, whatever state the link was in.
    const refused =
      info.code === CLOSE_TOO_BIG
        ? 'IKC_ERR_FRAME_TOO_LARGE'
        : info.code === CLOSE_UNSUPPORTED
          ? 'IKC_ERR_FRAME_MALFORMED'
          : undefined;
    if (refused) {
      this.options.log.warn(
        {
          err: { code: refused, message: info.error?.message ?? info.reason },
          peer: this.peer?.name,
          address: this.conn.remote,
        },
        `link closed: ${info.code === CLOSE_TOO_BIG ? 'a message was too large' : 'a text message (only binary is accepted)'}`,
      );
    }
    const error =
      info.code === CLOSE_NORMAL
        ? undefined
        : new IkcError(
            'IKC_ERR_UNREACHABLE',
            `link to ${this.peer?.name ?? this.conn.remote} dropped (${info.code}${info.reason ? ` ${info.reason}` : ''}${info.error ? `: ${info.error.message}` : ''})`,
            { cause: info.error },
          );
    this.closeReason ??= error ? { reason: 'dropped', error } : { reason: info.reason || 'closed' };
    this.end();
  }

  private onMessage(data: Uint8Array): void {
    if (this.state === 'closed') return;
    this.lastHeard = Date.now();
    let frames: Frame[];
    try {
      frames = this.codec.decode(data);
    } catch (err) {
      return this.fail(
        err instanceof IkcError ? err : new IkcError('IKC_ERR_FRAME_MALFORMED', String(err), { cause: err }),
      );
    }
    for (const frame of frames) {
      if (this.isClosed) return; // an earlier frame of this message closed the link
      try {
        if (this.state === 'handshake') this.onHandshakeFrame(frame);
        else this.onFrame(frame);
      } catch (err) {
        // A frame the mesh could not take (a bad field it checked itself) closes this link only.
        return this.fail(
          err instanceof IkcError
            ? err
            : new IkcError('IKC_ERR_PROTOCOL', `handling ${frameName(frame.type)}: ${String(err)}`, {
                cause: err,
              }),
        );
      }
    }
  }

  private protocolError(message: string): IkcError {
    return new IkcError('IKC_ERR_PROTOCOL', `${this.peer?.name ?? this.conn.remote}: ${message}`);
  }

  private onHandshakeFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Hello: {
        if (this.peerHello) throw this.protocolError('a second HELLO');
        this.peerHello = frame;
        this.peer = {
          id: frame.kernelId,
          name: frame.kernelName,
          role: frame.role,
          listen: frame.listen ?? '',
        };
        this.version = acceptHello(this.hello, frame); // throws IKC_ERR_CLOUD / IKC_ERR_VERSION
        const refused = this.options.acceptRole?.(frame.role, this.peer);
        if (refused) throw refused;
        this.sendNow(authFrame(authProof(this.options.secret, this.side, ...this.hellos())));
        return;
      }
      case FrameType.Auth: {
        if (!this.peerHello) throw this.protocolError('AUTH before HELLO');
        const peerSide: LinkSide = this.side === 'dialer' ? 'listener' : 'dialer';
        if (!verifyAuth(this.options.secret, peerSide, ...this.hellos(), frame.proof)) {
          throw new IkcError(
            'IKC_ERR_AUTH',
            `kernel ${frame && this.peer?.name} at ${this.conn.remote} failed to prove the cloud secret`,
          );
        }
        this.peerProved = true;
        this.sendNow(welcomeFrame(this.version));
        return this.maybeUp();
      }
      case FrameType.Welcome:
        if (!this.peerHello) throw this.protocolError('WELCOME before HELLO');
        this.welcomed = true;
        return this.maybeUp();
      case FrameType.Refuse: {
        const error = new IkcError(
          frame.code.startsWith('IKC_ERR_') ? frame.code : 'IKC_ERR_HANDSHAKE',
          `${this.peer?.name ?? this.conn.remote} refused the link: ${frame.message}`,
        );
        this.options.log.warn({ err: { code: error.code, message: error.message } }, error.message);
        this.closeReason = { reason: frame.code, error };
        this.end();
        this.conn.close(CLOSE_NORMAL, 'refused');
        return;
      }
      default:
        throw this.protocolError(`${frameName(frame.type)} before the handshake finished`);
    }
  }

  private hellos(): [HelloFrame, HelloFrame] {
    const peer = this.peerHello as HelloFrame;
    return this.side === 'dialer' ? [this.hello, peer] : [peer, this.hello];
  }

  private maybeUp(): void {
    if (!this.peerProved || !this.welcomed || this.state !== 'handshake') return;
    this.state = 'up';
    clearTimeout(this.handshakeTimer);
    const { pingIntervalMs, deadAfterMs } = this.options.tuning;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > deadAfterMs) {
        // Silence is a dropped link (a cut cable, a frozen peer), not a refusal: no REFUSE,
        // and the channel may resume when the network comes back.
        const error = new IkcError(
          'IKC_ERR_UNREACHABLE',
          `no word from ${this.peer?.name} for ${deadAfterMs} ms`,
        );
        this.options.log.warn(
          { err: { code: error.code, message: error.message }, peer: this.peer?.name },
          'link silent, closing',
        );
        this.closeReason = { reason: 'dropped', error };
        this.end();
        this.conn.close(CLOSE_POLICY, 'silent');
        return;
      }
      this.send({ type: FrameType.Ping, sentAt: Date.now() });
    }, pingIntervalMs);
    this.pingTimer.unref();
    this.send({ type: FrameType.Ping, sentAt: Date.now() });
    this.handlers?.up(this);
    const waiters = this.upWaiters;
    this.upWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Hello:
      case FrameType.Auth:
      case FrameType.Welcome:
        throw this.protocolError(`${frameName(frame.type)} after the handshake`);
      case FrameType.Refuse:
        this.closeReason = {
          reason: frame.code,
          error: new IkcError('IKC_ERR_HANDSHAKE', `${this.peer?.name} closed the link: ${frame.message}`),
        };
        this.end();
        this.conn.close(CLOSE_NORMAL, 'refused');
        return;
      case FrameType.Ping:
        this.send({ type: FrameType.Pong, pingSentAt: frame.sentAt, sentAt: Date.now() });
        return;
      case FrameType.Pong:
        this.rtt = Math.max(0, Date.now() - frame.pingSentAt);
        return;
      case FrameType.Bye:
        this.closeReason = { reason: frame.reason || 'bye' };
        this.end();
        this.conn.close(CLOSE_NORMAL, 'bye');
        return;
      default:
        this.handlers?.frame(this, frame);
    }
  }
}
