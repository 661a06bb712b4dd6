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
export class Channel {
  /** The link carrying it now, if any. */
  link: Link | undefined;
  /** Last seq sent (assigned). */
  private outSeq = 0;
  /** Unacknowledged outgoing frames, oldest first, and their sizes in bytes: two arrays with
   * one moving head (not an object per frame: a stream of posts keeps thousands here). */
  private unacked: (SequencedFrame | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
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
    return this.unacked.length - this.head;
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
    this.unacked.push(frame);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** The peer has everything up to `seq`. */
  acknowledge(seq: number): void {
    const list = this.unacked;
    while (this.head < list.length && (list[this.head] as SequencedFrame).seq <= seq) {
      this.bytes -= this.sizes[this.head] as number;
      list[this.head] = undefined;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > list.length) {
      this.unacked = list.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
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
    let kept = this.head;
    for (let i = this.head; i < this.unacked.length; i++) {
      const frame = this.unacked[i] as SequencedFrame;
      try {
        link.send(frame);
        resent++;
        this.unacked[kept] = frame;
        this.sizes[kept++] = this.sizes[i] as number;
      } catch (error) {
        refused.push({ frame, error });
        this.bytes -= this.sizes[i] as number;
      }
    }
    this.unacked.length = kept;
    this.sizes.length = kept;
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
    const lost = this.unacked.slice(this.head) as SequencedFrame[];
    this.unacked = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
    for (const wake of this.readyWaiters.splice(0)) wake();
    return lost;
  }
}
