import type { CallFrame, ErrorFrame, Frame, PostFrame, ReplyFrame } from '@ikc/wire';
import type { Link } from './link.js';

/** A sequenced frame: POST, CALL, REPLY, ERROR. */
export type SequencedFrame = PostFrame | CallFrame | ReplyFrame | ErrorFrame;

export interface ChannelLimits {
  /** send() past this many unacknowledged bytes makes ready() wait (bytes). */
  sendBufferBytes: number;
  /** Past this many, new posts and calls are refused (bytes). */
  sendBufferHardBytes: number;
}

/**
 * The conversation between this kernel and one incarnation of another: it outlives the
 * links that carry it. Outgoing sequenced frames are numbered and kept until the peer
 * acknowledges them (cumulative ACK), so a link that drops and comes back resends what was
 * not acknowledged; incoming ones are counted, and a frame seen before is dropped. Together:
 * exactly once, in order, across drops within the resume window.
 */
/** The first capacity of a channel's rings of unacknowledged frames (a power of two). */
const RING_START = 64;

export class Channel {
  /** The link carrying it now, if any. */
  link: Link | undefined;
  /** Last seq sent (assigned). */
  private outSeq = 0;
  /** Unacknowledged outgoing frames, oldest first, and their sizes in bytes: two rings of the
   * same power-of-two capacity, from `head`, `count` long. A stream of posts keeps thousands
   * here; a ring that only grows allocates nothing per frame (no object, no array growth). */
  private unacked: (SequencedFrame | undefined)[] = new Array(RING_START).fill(undefined);
  private sizes = new Float64Array(RING_START);
  private head = 0;
  private count = 0;
  private bytes = 0;
  /** Highest seq received with no gap. */
  inSeq = 0;
  /** Highest seq acknowledged to the peer. */
  private ackedIn = 0;
  private readyWaiters: (() => void)[] = [];
  /** While the link is down: when the resume window ends. */
  resumeTimer: NodeJS.Timeout | undefined;
  /** Set when the channel is over for good. */
  failed = false;

  constructor(
    readonly peerId: string,
    readonly peerName: string,
    private readonly limits: ChannelLimits,
  ) {}

  /** Unacknowledged bytes now. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  get bufferedFrames(): number {
    return this.count;
  }

  get writable(): boolean {
    return this.bytes < this.limits.sendBufferBytes;
  }

  get full(): boolean {
    return this.bytes >= this.limits.sendBufferHardBytes;
  }

  /** Numbers a frame (sets its `seq`), keeps it until acknowledged, and sends it if a link is up. */
  send(frame: SequencedFrame, measure: (frame: Frame) => number): void {
    const seq = ++this.outSeq;
    frame.seq = seq;
    // Sent now, the link's batcher measures it; while down, it is measured for the budget.
    const bytes = this.link?.isUp ? this.link.send(frame) : measure(frame);
    if (this.count === this.sizes.length) this.grow();
    const at = (this.head + this.count++) & (this.sizes.length - 1);
    this.unacked[at] = frame;
    this.sizes[at] = bytes;
    this.bytes += bytes;
  }

  /** Doubles the rings, oldest frame first at 0. */
  private grow(): void {
    const n = this.sizes.length;
    const frames: (SequencedFrame | undefined)[] = new Array(n * 2).fill(undefined);
    const sizes = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      const from = (this.head + i) & (n - 1);
      frames[i] = this.unacked[from];
      sizes[i] = this.sizes[from] as number;
    }
    this.unacked = frames;
    this.sizes = sizes;
    this.head = 0;
  }

  /** The frames not acknowledged yet, oldest first. */
  private pending(): SequencedFrame[] {
    const mask = this.sizes.length - 1;
    const out: SequencedFrame[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.unacked[(this.head + i) & mask] as SequencedFrame);
    return out;
  }

  /** The peer has everything up to `seq`. */
  acknowledge(seq: number): void {
    const list = this.unacked;
    const mask = this.sizes.length - 1;
    while (this.count > 0 && (list[this.head] as SequencedFrame).seq <= seq) {
      this.bytes -= this.sizes[this.head] as number;
      list[this.head] = undefined;
      this.head = (this.head + 1) & mask;
      this.count--;
    }
    if (this.writable && this.readyWaiters.length) {
      for (const wake of this.readyWaiters.splice(0)) wake();
    }
  }

  /**
   * A new link for this channel: everything not acknowledged goes out again, in order.
   * Returns how many frames went, and those the link refused (a frame larger than the new
   * link's peer takes): they are dropped from the channel, for the caller to report.
   */
  resumeOn(link: Link): { resent: number; refused: { frame: SequencedFrame; error: unknown }[] } {
    this.link = link;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    let resent = 0;
    const refused: { frame: SequencedFrame; error: unknown }[] = [];
    const mask = this.sizes.length - 1;
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & mask;
      const frame = this.unacked[from] as SequencedFrame;
      const size = this.sizes[from] as number;
      try {
        link.send(frame);
        resent++;
        const to = (this.head + kept++) & mask;
        this.unacked[to] = frame;
        this.sizes[to] = size;
      } catch (error) {
        refused.push({ frame, error });
        this.bytes -= size;
      }
    }
    for (let i = kept; i < this.count; i++) this.unacked[(this.head + i) & mask] = undefined;
    this.count = kept;
    return { resent, refused };
  }

  /** Counts an incoming sequenced frame: false when it was seen before (drop it). */
  receive(seq: number): boolean {
    if (seq <= this.inSeq) return false;
    this.inSeq = seq;
    return true;
  }

  /** How many received frames are not acknowledged yet. */
  get unackedIn(): number {
    return this.inSeq - this.ackedIn;
  }

  /** Marks everything received as acknowledged; returns the seq to put in the ACK. */
  takeAck(): number {
    this.ackedIn = this.inSeq;
    return this.inSeq;
  }

  /** Resolves when the unacknowledged bytes fall below sendBufferBytes. */
  ready(): Promise<void> {
    if (this.writable || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Ends the channel; returns the frames that were never acknowledged, oldest first. */
  fail(): SequencedFrame[] {
    this.failed = true;
    clearTimeout(this.resumeTimer);
    const lost = this.pending();
    this.unacked = new Array(RING_START).fill(undefined);
    this.sizes = new Float64Array(RING_START);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    for (const wake of this.readyWaiters.splice(0)) wake();
    return lost;
  }
}
