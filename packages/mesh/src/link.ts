import {
  acceptHello,
  authFrame,
  authProof,
  BLOB_MIN_BYTES,
  type BlobCarrier,
  type BlobsFrame,
  CHUNK_BYTES,
  ChunkAssembler,
  type ChunkFrame,
  Codec,
  type CodecOptions,
  checkBlobs,
  chunksFeature,
  encodeChunk,
  FLAT_MAX_BYTES,
  type Frame,
  FrameBatcher,
  FrameType,
  frameName,
  type HelloFrame,
  helloFrame,
  IkcError,
  joinBlobs,
  type KernelRole,
  type LinkSide,
  largeLimits,
  peerChunkLimit,
  readChunk,
  refuseFrame,
  type SplitFrame,
  splitBlobs,
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

/** The first protocol version with CHUNK frames. */
const CHUNKS_VERSION = 2;
/** The first protocol version with BLOBS frames. */
const BLOBS_VERSION = 3;
/** The largest blob sent or taken: a larger binary goes inside its frame (chunked). */
const MAX_BLOB_BYTES = CHUNK_BYTES;

/** The sequenced frames: a channel numbers them, and they must arrive in the order sent. */
function isSequenced(frame: Frame): boolean {
  return (
    frame.type === FrameType.Post ||
    frame.type === FrameType.Call ||
    frame.type === FrameType.Reply ||
    frame.type === FrameType.Error
  );
}

/**
 * A message waiting for the transport: a chunked one (id > 0), sent a piece at a time, or a
 * sequenced frame that must not overtake the chunked ones before it (id 0).
 */
interface Outgoing {
  bytes: Uint8Array;
  id: number;
  /** Bytes of a chunked message sent so far. */
  sent: number;
}

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
  /** For transport messages, and for our frames when the peer takes no chunks. */
  private readonly codec: Codec;
  /** For whole messages up to mesh.maxMessageBytes: our frames, and assembled chunked ones. */
  private readonly wholeCodec: Codec;
  private readonly batcher: FrameBatcher;
  private flushQueued = false;
  /** The largest message the peer takes in chunks; 0 until the handshake says it takes any. */
  private chunkLimit = 0;
  private readonly assembler: ChunkAssembler;
  /** Chunked messages, and the sequenced frames sent after them, waiting their turn. */
  private outbox: Outgoing[] = [];
  private nextChunkId = 1;
  /** Received: a BLOBS frame, until the frame after it arrives. */
  private blobSpec: BlobsFrame | undefined;
  /** Received: a frame waiting for its blobs, and the blobs so far. */
  private blobWait: { spec: BlobsFrame; frame: BlobCarrier; data: Uint8Array[] } | undefined;
  private pumpQueued = false;
  private awaitingDrain = false;
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
    const maxMessageBytes = options.tuning.maxMessageBytes;
    this.wholeCodec = new Codec({
      ...options.codec,
      limits: largeLimits(maxMessageBytes, this.codec.limits),
      viewBinaries: true,
    });
    this.assembler = new ChunkAssembler(maxMessageBytes);
    this.batcher = new FrameBatcher((message) => this.conn.send(message), this.codec);
    this.hello = helloFrame({
      cloud: options.cloud,
      kernelId: options.kernelId,
      kernelName: options.kernelName,
      role: options.role,
      listen: options.listen,
      features: [chunksFeature(maxMessageBytes)],
    });
  }

  /** Starts the handshake. Handlers are called from then on. */
  start(handlers: LinkHandlers): void {
    this.handlers = handlers;
    this.conn.attach({
      message: (data) => this.onMessage(data),
      close: (info) => this.onClose(info),
      drain: () => {
        if (!this.awaitingDrain) return;
        this.awaitingDrain = false;
        this.pump();
      },
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

  /**
   * Queues a frame; frames queued in one turn of the event loop leave as one ws message. A
   * frame over CHUNK_BYTES goes in chunks, one per turn, and the sequenced frames sent after
   * it wait until its last chunk is out (the peer must see them in order); other frames
   * (ACK, PING, GOSSIP, ...) go between its chunks. Returns the frame's encoded size (0 when
   * the link is not up). Throws IKC_ERR_ENCODE, or IKC_ERR_MESSAGE_TOO_LARGE for a frame
   * over mesh.maxMessageBytes or over what the peer takes.
   */
  send(frame: Frame): number {
    if (this.state !== 'up') return 0;
    if (this.outbox.length === 0 && (this.chunkLimit === 0 || this.chunkLimit >= FLAT_MAX_BYTES)) {
      // The common small frame: written into the batch as it is (@ikc/wire flat.ts).
      const flat = this.batcher.addFlat(frame);
      if (flat > 0) {
        this.queueFlush();
        return flat;
      }
    }
    if (this.version >= BLOBS_VERSION && this.outbox.length === 0) {
      const split = splitBlobs(frame, BLOB_MIN_BYTES, MAX_BLOB_BYTES);
      if (split !== undefined) {
        const sent = this.sendSplit(split);
        if (sent > 0) return sent;
      }
    }
    const bytes = this.encode(frame);
    const chunked = this.chunkLimit > 0 && bytes.length > CHUNK_BYTES;
    if (chunked || (this.outbox.length > 0 && isSequenced(frame))) {
      this.outbox.push({ bytes, id: chunked ? this.nextChunkId++ : 0, sent: 0 });
      this.queuePump();
      return bytes.length;
    }
    this.batcher.addEncoded(bytes);
    this.queueFlush();
    return bytes.length;
  }

  /**
   * A frame with blobs: BLOBS and the frame (with nil for each blob) close the current batch,
   * then each blob goes as a transport message of its own, as it is. Returns the bytes sent,
   * or 0 when the frame without its blobs is still too large to go whole (it then goes as
   * usual, in chunks).
   */
  private sendSplit(split: SplitFrame): number {
    const head = this.encode(split.frame);
    if (head.length > CHUNK_BYTES) return 0;
    const spec = this.codec.encode(split.blobs);
    let bytes = spec.length + head.length;
    this.conn.cork?.();
    try {
      this.batcher.addEncoded(spec);
      this.batcher.addEncoded(head);
      this.batcher.flush();
      for (const blob of split.data) {
        this.conn.send(blob);
        bytes += blob.length;
      }
    } finally {
      this.conn.uncork?.();
    }
    return bytes;
  }

  /** Encodes a frame for this link's peer. */
  private encode(frame: Frame): Uint8Array {
    const codec = this.chunkLimit > 0 ? this.wholeCodec : this.codec;
    let bytes: Uint8Array;
    try {
      bytes = codec.encode(frame);
    } catch (err) {
      if (IkcError.is(err, 'IKC_ERR_ENCODE') && err.details?.limit === 'maxMessageBytes') {
        throw this.tooLarge(frame, err.details.size as number, codec.limits.maxMessageBytes, err);
      }
      throw err;
    }
    if (this.chunkLimit > 0 && bytes.length > this.chunkLimit) {
      throw this.tooLarge(frame, bytes.length, this.chunkLimit);
    }
    return bytes;
  }

  private tooLarge(frame: Frame, size: number, limit: number, cause?: unknown): IkcError {
    const own = this.options.tuning.maxMessageBytes;
    const whose =
      this.chunkLimit === 0
        ? `${this.peer?.name ?? 'the peer'} takes no chunked messages, so at most ${limit} bytes`
        : limit < own
          ? `${this.peer?.name ?? 'the peer'} takes at most ${limit} bytes`
          : `mesh.maxMessageBytes is ${limit}`;
    return new IkcError('IKC_ERR_MESSAGE_TOO_LARGE', `${frameName(frame.type)} of ${size} bytes: ${whose}`, {
      cause,
      details: { size, limit, peer: this.peer?.name },
    });
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flush);
  }

  private queuePump(): void {
    if (this.pumpQueued || this.awaitingDrain) return;
    this.pumpQueued = true;
    setImmediate(this.pump);
  }

  /**
   * Sends what waits in the outbox: one chunk per turn of the event loop (so timers, other
   * links and this link's unsequenced frames get in between), waiting for the transport to
   * drain when it is full, so at most one chunk beyond the transport's buffer exists.
   */
  private pump = (): void => {
    this.pumpQueued = false;
    if (this.state !== 'up' || this.awaitingDrain) return;
    while (this.outbox.length > 0) {
      const head = this.outbox[0] as Outgoing;
      if (head.id === 0) {
        this.outbox.shift();
        this.batcher.addEncoded(head.bytes);
        continue;
      }
      // Frames handed to the batcher so far go before this piece.
      this.batcher.flush();
      const total = head.bytes.length;
      const end = Math.min(total, head.sent + CHUNK_BYTES);
      const piece = encodeChunk(head.id, total, head.sent, head.bytes.subarray(head.sent, end));
      head.sent = end;
      if (end === total) this.outbox.shift(); // the message's bytes are no longer held here
      const room = this.conn.send(piece);
      if (this.outbox.length === 0) break;
      if (room) this.queuePump();
      else this.awaitingDrain = true;
      return;
    }
    this.batcher.flush();
  };

  private flush = (): void => {
    this.flushQueued = false;
    if (this.state === 'closed') return;
    this.batcher.flush();
  };

  /** Hands the frames batched so far to the transport now, not at the end of this turn (CallOptions.flush). */
  flushNow(): void {
    if (this.state === 'up') this.batcher.flush();
  }

  /** Bytes of chunked messages (and frames behind them) not yet handed to the transport. */
  get pendingBytes(): number {
    let n = 0;
    for (const o of this.outbox) n += o.bytes.length - o.sent;
    return n;
  }

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
    // Pieces received and not sent are dropped: the channel resends whole frames.
    this.outbox = [];
    this.assembler.reset();
    this.blobSpec = undefined;
    this.blobWait = undefined;
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
    if (this.blobWait !== undefined) return this.onBlob(data);
    if (this.state === 'up' && data.length > 1024) {
      // A piece of a large message: its bytes go straight to the assembler, not copied first.
      const chunk = readChunk(data, this.codec.limits);
      if (chunk !== undefined) {
        try {
          this.onChunk(chunk);
        } catch (err) {
          this.fail(
            IkcError.is(err)
              ? (err as IkcError)
              : new IkcError('IKC_ERR_PROTOCOL', String(err), { cause: err }),
          );
        }
        return;
      }
    }
    let frames: Frame[];
    try {
      frames = this.codec.decode(data);
    } catch (err) {
      return this.fail(
        err instanceof IkcError ? err : new IkcError('IKC_ERR_FRAME_MALFORMED', String(err), { cause: err }),
      );
    }
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as Frame;
      if (this.isClosed) return; // an earlier frame of this message closed the link
      if (this.blobWait !== undefined) {
        return this.fail(
          this.protocolError(`${frameName(frame.type)} before the blobs of the frame it follows`),
        );
      }
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

  /** A raw transport message: the next blob of the frame waiting for its blobs. */
  private onBlob(data: Uint8Array): void {
    const wait = this.blobWait as NonNullable<Link['blobWait']>;
    const { spec } = wait;
    const expected = spec.lengths[wait.data.length] as number;
    if (data.length !== expected) {
      return this.fail(
        this.protocolError(
          `blob ${wait.data.length + 1} of ${spec.args.length} is ${data.length} bytes; BLOBS said ${expected}`,
        ),
      );
    }
    wait.data.push(data);
    if (wait.data.length < spec.args.length) return;
    this.blobWait = undefined;
    const frame = joinBlobs(spec, wait.frame, wait.data);
    try {
      this.handlers?.frame(this, frame);
    } catch (err) {
      this.fail(
        err instanceof IkcError
          ? err
          : new IkcError('IKC_ERR_PROTOCOL', `handling ${frameName(frame.type)}: ${String(err)}`, {
              cause: err,
            }),
      );
    }
  }

  /** The frame after a BLOBS frame: it waits for its blobs. */
  private holdForBlobs(frame: Frame): void {
    const spec = this.blobSpec as BlobsFrame;
    this.blobSpec = undefined;
    const why = checkBlobs(spec, frame, MAX_BLOB_BYTES);
    if (why !== undefined) throw this.protocolError(why);
    this.blobWait = { spec, frame: frame as BlobCarrier, data: [] };
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
        const takes = this.version >= CHUNKS_VERSION ? peerChunkLimit(frame.features) : undefined;
        this.chunkLimit = takes === undefined ? 0 : Math.min(takes, this.options.tuning.maxMessageBytes);
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
    if (this.blobSpec !== undefined) return this.holdForBlobs(frame);
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
      case FrameType.Chunk:
        return this.onChunk(frame);
      case FrameType.Blobs:
        if (this.version < BLOBS_VERSION) {
          throw this.protocolError(`BLOBS on a link at protocol version ${this.version}`);
        }
        this.blobSpec = frame;
        return;
      default:
        if (this.assembler.inProgress && isSequenced(frame)) {
          throw this.protocolError(
            `${frameName(frame.type)} in the middle of chunked message (${this.assembler.received} bytes in)`,
          );
        }
        this.handlers?.frame(this, frame);
    }
  }

  /** A piece of a chunked message; the message, once whole, is handled as if it came alone. */
  private onChunk(frame: ChunkFrame): void {
    if (this.version < CHUNKS_VERSION) {
      throw this.protocolError(`CHUNK on a link at protocol version ${this.version}`);
    }
    const whole = this.assembler.take(frame); // WireError: out of order, or over maxMessageBytes
    if (whole === undefined) return;
    const inner = this.wholeCodec.decodeOne(whole);
    if (inner.type === FrameType.Chunk) throw this.protocolError('a chunked message holds a CHUNK');
    this.onFrame(inner);
  }
}
