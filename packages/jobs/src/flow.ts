import type { Readable, Writable } from 'node:stream';

/**
 * Flow control for a remote job's channels, end to end: the reading side grants the writing
 * side credit (bytes it may send), and grants more only as its reader takes data out. So a
 * slow reader on one kernel stops the child's pipe on the other, and no kernel holds more
 * than a window (plus a stream's own buffer) of one channel's data, whatever the link does.
 */

/** Bytes a channel may have sent and not yet taken by its reader, at first (the first credit). */
export const CHANNEL_WINDOW = 1024 * 1024;

/**
 * What a channel's window may grow to while its reader keeps up (it doubles at a credit
 * step whenever data found the reader waiting): a fast stream is then not held to one
 * window per credit round trip, and a slow reader's window stays at CHANNEL_WINDOW.
 */
export const MAX_CHANNEL_WINDOW = 8 * 1024 * 1024;

/** Credit goes back in steps of at least this much, so a stream of small chunks costs few posts. */
const CREDIT_STEP = CHANNEL_WINDOW / 4;

/** Bytes sent between two looks at the link's send buffer (kernel.ready()). */
const READY_EVERY = 256 * 1024;

/**
 * Chunks read in one turn of the event loop go out as one post of up to this many (a pipe
 * gives at most 64 KiB a read, and a fast child fills several): each travels as a blob of
 * its own, but the post, its routing and its dispatch are paid once. The mesh's MAX_BLOBS.
 * A chunk that finds the channel quiet (the last turn read at most one) goes at once: a
 * job's first output, or a line of an interactive one, is not held to the end of the turn.
 */
export const CHUNKS_PER_POST = 16;

export interface OutflowSink {
  /** One or more chunks, in order, read since the last call. */
  data(chunks: Buffer[]): void;
  eof(): void;
  /** Resolves when the link to the other side has room (kernel.ready()). */
  ready(): Promise<void>;
}

/**
 * Reads `source` and sends its chunks while there is credit; pauses it when the credit is spent
 * (so its writer, a child's pipe, is stopped), and when the link's send buffer is full.
 */
export class Outflow {
  private credit = CHANNEL_WINDOW;
  private sinceReady = 0;
  private waitingReady = false;
  private stopped = false;
  /** Chunks read in this turn of the event loop, sent together after it (endOfTurn()). */
  private pending: Buffer[] = [];
  private turnQueued = false;
  /** The last turn read more than one chunk: this turn's first waits for the others. */
  private streaming = false;

  constructor(
    private readonly source: Readable,
    private readonly sink: OutflowSink,
  ) {
    source.on('data', this.onData);
    source.once('end', this.onEnd);
  }

  /** The other side took `bytes` out: send that much more. */
  grant(bytes: number): void {
    if (this.stopped || !(bytes > 0)) return;
    this.credit += bytes;
    this.unblock();
  }

  /** Sends nothing more (the job is over there, or the other side went away). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.pending = [];
    this.source.off('data', this.onData);
    this.source.off('end', this.onEnd);
  }

  private onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!this.turnQueued) {
      this.turnQueued = true;
      setImmediate(this.endOfTurn);
      if (!this.streaming) this.sink.data([bytes]);
      else this.pending.push(bytes);
    } else {
      this.pending.push(bytes);
      if (this.pending.length >= CHUNKS_PER_POST) this.send();
    }
    this.credit -= bytes.length;
    this.sinceReady += bytes.length;
    if (this.sinceReady >= READY_EVERY) {
      this.sinceReady = 0;
      this.waitingReady = true;
      void this.sink.ready().then(
        () => this.readyAgain(),
        () => this.readyAgain(),
      );
    }
    if (this.credit <= 0 || this.waitingReady) this.source.pause();
  };

  private readyAgain(): void {
    this.waitingReady = false;
    this.unblock();
  }

  private unblock(): void {
    if (!this.stopped && this.credit > 0 && !this.waitingReady && this.source.isPaused())
      this.source.resume();
  }

  /** The turn's reads are over: what waits goes as one post; was it a stream's turn? */
  private endOfTurn = (): void => {
    this.turnQueued = false;
    const waiting = this.pending.length;
    // Not streaming, the turn's first chunk went at once and `waiting` more came after it.
    this.streaming = this.streaming ? waiting > 1 : waiting > 0;
    this.send();
  };

  /** What was read since the last send, as one post. */
  private send(): void {
    if (this.stopped || this.pending.length === 0) return;
    const chunks = this.pending;
    this.pending = [];
    this.sink.data(chunks);
  }

  private onEnd = (): void => {
    if (this.stopped) return;
    this.send();
    this.stop();
    this.sink.eof();
  };
}

/**
 * Writes what arrives into `sink` and gives credit back as the sink's reader takes it (a
 * write's callback runs once the chunk has moved on, which a full PassThrough delays).
 * When data finds the reader waiting (nothing buffered in the sink), the link, not the
 * reader, is what holds the stream back: the next grant also widens the window, doubling
 * it up to MAX_CHANNEL_WINDOW.
 */
export class Inflow {
  private taken = 0;
  private ended = false;
  /** The credit the writer was given in all, less what the reader took: the window now. */
  private window = CHANNEL_WINDOW;
  /** Data found the sink empty since the last grant (the first chunk always does: not counted). */
  private starved = false;
  private granted = false;

  constructor(
    private readonly sink: Writable,
    private readonly grant: (bytes: number) => void,
    /** Called at eof instead of ending the sink (a channel with several sources ends itself). */
    private readonly onEof: () => void = () => sink.end(),
  ) {}

  /** The chunks of one `data` post, in order. */
  dataAll(chunks: readonly unknown[]): void {
    for (const chunk of chunks) this.data(chunk as Uint8Array);
  }

  data(chunk: Uint8Array): void {
    if (this.ended) return;
    if (this.granted && this.sink.writableLength === 0 && readable(this.sink) === 0) this.starved = true;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.sink.write(bytes, () => this.took(bytes.length));
  }

  eof(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEof();
  }

  private took(bytes: number): void {
    this.taken += bytes;
    if (this.taken < CREDIT_STEP || this.ended) return;
    let n = this.taken;
    this.taken = 0;
    if (this.starved && this.window < MAX_CHANNEL_WINDOW) {
      const wider = Math.min(this.window, MAX_CHANNEL_WINDOW - this.window);
      this.window += wider;
      n += wider;
    }
    this.starved = false;
    this.granted = true;
    this.grant(n);
  }
}

/** Bytes waiting on a sink's readable side (a PassThrough's), or 0 for a plain Writable. */
function readable(sink: Writable): number {
  return (sink as Writable & { readableLength?: number }).readableLength ?? 0;
}
