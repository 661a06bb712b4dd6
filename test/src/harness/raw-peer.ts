// A hand-driven peer for a kernel process: a bare `ws` connection that can send anything
// (valid frames, garbage, text, oversized messages) and records everything both ways, so
// tests can probe how a kernel treats a misbehaving or hostile peer. It can also run a
// full, correct handshake as a host kernel and then send POST and CALL frames.
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import {
  authFrame,
  authProof,
  Codec,
  type ErrorFrame,
  encodeFrame,
  type Frame,
  FrameType,
  type HelloFrame,
  helloFrame,
  type KernelRole,
  type RefuseFrame,
  type ReplyFrame,
  type VersionRange,
  verifyAuth,
  welcomeFrame,
} from '@ikc/wire';
import { WebSocket } from 'ws';

/** How the connection ended, as the ws client saw it. */
export interface CloseEvent {
  code: number;
  reason: string;
  /** Milliseconds since the connection opened. */
  afterMs: number;
}

export interface HandshakeOptions {
  cloud: string;
  secret: string;
  kernelId?: string;
  kernelName?: string;
  role?: KernelRole;
  /** Default: this build's PROTOCOL_RANGE. */
  range?: VersionRange;
  timeoutMs?: number;
}

/** The kernel answered the handshake with REFUSE (or closed without one). */
export class HandshakeRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly refuse: RefuseFrame | undefined,
  ) {
    super(message);
    this.name = 'HandshakeRefused';
  }
}

/** A frame as received, with when (ms since open). */
export interface Received {
  frame: Frame;
  at: number;
}

type Waiter = { check: () => boolean };

export class RawPeer {
  readonly ws: WebSocket;
  /** Every message this side sent, as the bytes that went out (text messages as UTF-8). */
  readonly sent: Buffer[] = [];
  /** Every message received, as the raw bytes. */
  readonly received: Buffer[] = [];
  /** Every frame decoded from what was received, in order. */
  readonly frames: Received[] = [];
  /** Messages the kernel sent that our codec could not decode (should stay empty). */
  readonly undecodable: unknown[] = [];
  /** Answer the kernel's PINGs (so it does not find this peer silent). */
  autoPong = true;
  closeEvent: CloseEvent | undefined;
  readonly closed: Promise<CloseEvent>;

  hello: HelloFrame | undefined;
  peerHello: HelloFrame | undefined;
  kernelId = randomBytes(8).toString('hex');
  kernelName = `raw-${randomBytes(3).toString('hex')}`;
  /** The session this peer claims its frames come from. */
  get sessionId(): string {
    return `${this.kernelId}.1`;
  }

  private readonly codec = new Codec();
  private readonly openedAt = Date.now();
  private waiters = new Set<Waiter>();
  private seq = 0;
  private nextCallId = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.closeEvent = { code, reason: reason.toString(), afterMs: this.elapsed() };
        resolve(this.closeEvent);
        this.wake();
      });
    });
    // The kernel may cut us off mid-send (an oversized message); the close event says how.
    ws.on('error', () => {});
  }

  /** Opens a ws to a kernel: "127.0.0.1:PORT" (its `listen`) or a UNIX socket path. */
  static open(address: string, timeoutMs = 5_000): Promise<RawPeer> {
    const ws = address.startsWith('/')
      ? new WebSocket('ws://localhost/', {
          perMessageDeflate: false,
          createConnection: () => netConnect({ path: address }),
        })
      : new WebSocket(`ws://${address}/`, { perMessageDeflate: false });
    // Frames the kernel sends at once (its HELLO) must not be missed: listen before 'open'.
    const peer = new RawPeer(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`raw peer: no connection to ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(peer);
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Opens a ws and runs a full, correct handshake as a host kernel. */
  static async connect(address: string, options: HandshakeOptions): Promise<RawPeer> {
    const peer = await RawPeer.open(address);
    try {
      await peer.handshake(options);
    } catch (err) {
      peer.terminate();
      throw err;
    }
    return peer;
  }

  elapsed(): number {
    return Date.now() - this.openedAt;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame (encoded), raw bytes (as one binary message), or a string (as a text message). */
  send(what: Frame | Uint8Array | string): void {
    if (typeof what === 'string') {
      this.sent.push(Buffer.from(what, 'utf8'));
      this.ws.send(what, { binary: false });
      return;
    }
    const bytes = what instanceof Uint8Array ? Buffer.from(what) : Buffer.from(encodeFrame(what));
    this.sent.push(bytes);
    this.ws.send(bytes, { binary: true });
  }

  /**
   * The handshake as a dialing host kernel: HELLO; on the kernel's HELLO, AUTH =
   * authProof(secret, 'dialer', ours, theirs); check the kernel's AUTH; WELCOME; wait for
   * its WELCOME. Throws HandshakeRefused (with the REFUSE's code) if the kernel refuses.
   */
  async handshake(options: HandshakeOptions): Promise<void> {
    const ms = options.timeoutMs ?? 5_000;
    if (options.kernelId) this.kernelId = options.kernelId;
    if (options.kernelName) this.kernelName = options.kernelName;
    const hello = helloFrame({
      cloud: options.cloud,
      kernelId: this.kernelId,
      kernelName: this.kernelName,
      role: options.role ?? 'host',
      ...(options.range ? { range: options.range } : {}),
    });
    this.hello = hello;
    this.send(hello);
    const theirs = (await this.expect(FrameType.Hello, ms)) as HelloFrame;
    this.peerHello = theirs;
    this.send(authFrame(authProof(options.secret, 'dialer', hello, theirs)));
    const auth = await this.expect(FrameType.Auth, ms);
    const proved =
      auth.type === FrameType.Auth && verifyAuth(options.secret, 'listener', hello, theirs, auth.proof);
    // A kernel that cannot prove our secret gets no WELCOME; we then wait for its own
    // verdict on our proof (its REFUSE is what tests look at).
    if (proved) this.send(welcomeFrame(Math.min(hello.maxVersion, theirs.maxVersion)));
    await this.expect(FrameType.Welcome, ms);
    if (!proved) throw new Error('raw peer: the kernel welcomed us but failed to prove the cloud secret');
  }

  /** The next frame of `type` (searching from the first); REFUSE or a close instead throws HandshakeRefused. */
  private async expect(type: number, ms: number): Promise<Frame> {
    const got = await this.waitFrame(
      (f) => f.type === type || f.type === FrameType.Refuse,
      ms,
      `frame type ${type}`,
    );
    if (got.type === FrameType.Refuse) {
      throw new HandshakeRefused(got.code, `kernel refused: ${got.code} ${got.message}`, got);
    }
    return got;
  }

  /** Sends a POST to a session of the kernel. */
  post(to: string, event: string, args: unknown[]): void {
    this.send({
      type: FrameType.Post,
      seq: ++this.seq,
      from: this.sessionId,
      to,
      event,
      args,
      dest: '',
      origin: '',
    });
  }

  /** Sends a CALL and returns its callId (answers come as REPLY or ERROR with that callId). */
  call(to: string, event: string, args: unknown[], timeoutMs = 0): number {
    const callId = ++this.nextCallId;
    this.send({
      type: FrameType.Call,
      seq: ++this.seq,
      callId,
      from: this.sessionId,
      to,
      event,
      args,
      timeoutMs,
      dest: '',
      origin: '',
    });
    return callId;
  }

  /** The REPLY or ERROR for a call. */
  answer(callId: number, ms = 5_000): Promise<ReplyFrame | ErrorFrame> {
    return this.waitFrame(
      (f) => (f.type === FrameType.Reply || f.type === FrameType.Error) && f.callId === callId,
      ms,
      `the answer to call ${callId}`,
    ) as Promise<ReplyFrame | ErrorFrame>;
  }

  /** Calls and returns the REPLY's value; throws an Error with the ERROR's code. */
  async callAndWait(to: string, event: string, args: unknown[], ms = 5_000): Promise<unknown> {
    const answer = await this.answer(this.call(to, event, args), ms);
    if (answer.type === FrameType.Reply) return answer.value;
    const [code, message] = answer.error as unknown as string[];
    throw Object.assign(new Error(message), { code });
  }

  /**
   * The first frame received (already, or within `ms`) that matches. Rejects on timeout, or
   * when the connection closes with no such frame.
   */
  waitFrame<F extends Frame = Frame>(match: (f: Frame) => boolean, ms = 5_000, what = 'a frame'): Promise<F> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          const hit = this.frames.find((r) => match(r.frame));
          if (hit) {
            done();
            resolve(hit.frame as F);
            return true;
          }
          if (this.closeEvent) {
            done();
            reject(
              new Error(
                `raw peer: connection closed (${this.closeEvent.code} ${this.closeEvent.reason}) before ${what}; got ${this.describeFrames()}`,
              ),
            );
            return true;
          }
          return false;
        },
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`raw peer: no ${what} within ${ms} ms; got ${this.describeFrames()}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      if (!waiter.check()) this.waiters.add(waiter);
    });
  }

  /** Frames of one type received so far. */
  framesOf<F extends Frame>(type: number): F[] {
    return this.frames.filter((r) => r.frame.type === type).map((r) => r.frame as F);
  }

  /** The REFUSE the kernel sent, if any. */
  get refuse(): RefuseFrame | undefined {
    return this.framesOf<RefuseFrame>(FrameType.Refuse)[0];
  }

  /** Resolves with how the connection ended; rejects if it is still open after `ms`. */
  waitClose(ms = 5_000): Promise<CloseEvent> {
    if (this.closeEvent) return Promise.resolve(this.closeEvent);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`raw peer: the kernel did not close the connection within ${ms} ms`)),
        ms,
      );
      void this.closed.then((ev) => {
        clearTimeout(timer);
        resolve(ev);
      });
    });
  }

  /** True when any byte sequence sent or received contains `needle` (UTF-8). */
  bytesContain(needle: string): boolean {
    const n = Buffer.from(needle, 'utf8');
    return [...this.sent, ...this.received].some((b) => b.includes(n));
  }

  /** Closes gracefully (1000). */
  close(): Promise<CloseEvent> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000, 'test done');
    }
    return this.waitClose().catch(() => {
      this.ws.terminate();
      return this.closed;
    });
  }

  terminate(): void {
    this.ws.terminate();
  }

  private describeFrames(): string {
    const names = this.frames.map((r) =>
      r.frame.type === FrameType.Refuse ? `REFUSE(${r.frame.code})` : String(r.frame.type),
    );
    return names.length ? `frames [${names.slice(-20).join(', ')}]` : 'no frames';
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.received.push(Buffer.from(data));
    if (!isBinary) {
      this.undecodable.push(data.toString());
      return;
    }
    const at = this.elapsed();
    try {
      for (const frame of this.codec.decode(data)) {
        this.frames.push({ frame, at });
        if (frame.type === FrameType.Ping && this.autoPong && this.isOpen) {
          this.send({ type: FrameType.Pong, pingSentAt: frame.sentAt, sentAt: Date.now() });
        }
      }
    } catch (err) {
      this.undecodable.push(err);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w.check();
  }
}

/**
 * A valid frame's bytes with the msgpack string `marker` (as it was encoded) replaced by
 * raw msgpack bytes: for values the encoder would refuse to produce (too deep, say).
 */
export function spliceRaw(frameBytes: Uint8Array, marker: string, raw: Uint8Array): Buffer {
  const bytes = Buffer.from(frameBytes);
  const m = Buffer.from(marker, 'utf8');
  if (m.length >= 32) throw new Error('spliceRaw: marker must be a fixstr (< 32 bytes)');
  const encoded = Buffer.concat([Buffer.from([0xa0 | m.length]), m]);
  const at = bytes.indexOf(encoded);
  if (at < 0) throw new Error(`spliceRaw: marker "${marker}" not found`);
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(raw), bytes.subarray(at + encoded.length)]);
}

/** msgpack bytes of `depth` arrays nested in each other: [[[...[]...]]]. */
export function nestedArrays(depth: number): Buffer {
  const out = Buffer.alloc(depth, 0x91); // fixarray of one element
  out[depth - 1] = 0x90; // the innermost: an empty array
  return out;
}

/** One pino JSON line of a kernel's stderr. */
export interface LogLine {
  level: number;
  msg: string;
  err?: { code?: string; message?: string };
  [key: string]: unknown;
}

/** The JSON log lines in `text` (a kernel's stderr, or a slice of it); other lines are skipped. */
export function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line (still being written) or not JSON
    }
  }
  return out;
}
