/**
 * The two ends of an in-memory link. Messages cross in a later turn of the event loop
 * (setImmediate), in order, as copies; what a side has sent and the other not yet received
 * is its bufferedAmount, so backpressure and drain behave as on a socket whose peer reads
 * once per turn.
 */
import type { CloseInfo, Conn, ConnHandlers } from '../transport.js';
import { CLOSE_ABNORMAL, CLOSE_NORMAL, CLOSE_TOO_BIG, closeArgs } from './close-codes.js';
import { ConnEvents } from './conn-events.js';
import type { ResolvedTransportOptions } from './options.js';

/** One end's state, shared by its conn and the link. */
interface End {
  readonly events: ConnEvents;
  readonly options: ResolvedTransportOptions;
  /** Bytes sent and not yet delivered. */
  buffered: number;
  /** Set when send() returned false; cleared when drain is emitted. */
  needDrain: boolean;
}

type InFlight = { kind: 'message'; from: End; data: Uint8Array } | { kind: 'close'; info: CloseInfo };

class MemoryConn implements Conn {
  readonly remote: string;
  readonly transport = 'memory';
  readonly #link: MemoryLink;
  readonly #end: End;

  constructor(link: MemoryLink, end: End, remote: string) {
    this.#link = link;
    this.#end = end;
    this.remote = remote;
  }

  attach(handlers: ConnHandlers): void {
    this.#end.events.attach(handlers);
  }

  get bufferedAmount(): number {
    return this.#end.buffered;
  }

  send(data: Uint8Array): boolean {
    if (!this.#link.open) return false;
    // A copy, taken now: the sender may reuse its buffer, the receiver keeps what it gets.
    this.#link.push({ kind: 'message', from: this.#end, data: Buffer.from(data) });
    this.#end.buffered += data.byteLength;
    if (this.#end.buffered <= this.#end.options.highWaterMarkBytes) return true;
    this.#end.needDrain = true;
    return false;
  }

  close(code = CLOSE_NORMAL, reason = ''): void {
    const info = closeArgs(code, reason);
    if (this.#link.open) this.#link.closeAfterPending(info);
  }

  terminate(): void {
    this.#link.end({ code: CLOSE_ABNORMAL, reason: '' });
  }
}

export class MemoryLink {
  /** The side that connected. */
  readonly client: Conn;
  /** The side the listener accepted. */
  readonly server: Conn;
  /** False once either side has asked to close; neither may send any more. */
  open = true;
  readonly #ends: readonly [End, End];
  #ended = false;
  #queue: InFlight[] = [];
  #flushScheduled = false;

  constructor(
    clientRemote: string,
    clientOptions: ResolvedTransportOptions,
    serverRemote: string,
    serverOptions: ResolvedTransportOptions,
  ) {
    const end = (options: ResolvedTransportOptions): End => ({
      events: new ConnEvents(),
      options,
      buffered: 0,
      needDrain: false,
    });
    this.#ends = [end(clientOptions), end(serverOptions)];
    this.client = new MemoryConn(this, this.#ends[0], clientRemote);
    this.server = new MemoryConn(this, this.#ends[1], serverRemote);
  }

  push(item: InFlight): void {
    this.#queue.push(item);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** A graceful close: both sides see it after everything sent before it. */
  closeAfterPending(info: CloseInfo): void {
    this.open = false;
    this.push({ kind: 'close', info });
  }

  /** Ends the link now, dropping what is in flight; both sides see `info` in a later turn. */
  end(info: CloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    this.open = false;
    this.#queue = [];
    for (const end of this.#ends) end.buffered = 0;
    setImmediate(() => this.#closeBoth(info));
  }

  #flush(): void {
    this.#flushScheduled = false;
    // What handlers send while this runs waits for the next turn, as it would on a socket.
    const items = this.#queue;
    this.#queue = [];
    for (const item of items) {
      if (this.#ended) return;
      if (item.kind === 'close') {
        this.#ended = true;
        this.#closeBoth(item.info);
        return;
      }
      const { from, data } = item;
      const to = from === this.#ends[0] ? this.#ends[1] : this.#ends[0];
      from.buffered -= data.byteLength;
      if (data.byteLength > to.options.maxMessageBytes) {
        this.open = false;
        this.#ended = true;
        this.#closeBoth({
          code: CLOSE_TOO_BIG,
          reason: `message exceeds ${to.options.maxMessageBytes} bytes`,
        });
        return;
      }
      to.events.message(data);
    }
    for (const end of this.#ends) {
      if (end.needDrain && end.buffered <= end.options.highWaterMarkBytes) {
        end.needDrain = false;
        end.events.drain();
      }
    }
  }

  #closeBoth(info: CloseInfo): void {
    for (const end of this.#ends) end.events.close({ ...info });
  }
}
