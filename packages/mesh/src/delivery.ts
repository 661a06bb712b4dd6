import type { Kernel, MonitorEvent } from '@ikc/kernel';
import { errorToPayload, FrameType, frameName, IkcError } from '@ikc/wire';
import type { PendingCalls } from './calls.js';
import type { Channel, SequencedFrame } from './channel.js';
import type { MeshTuning } from './defaults.js';
import type { Logger } from './log.js';
import type { Outbound } from './outbound.js';
import { probeListener } from './probe.js';

/** While a peer's link is down, its listening address is probed this often (milliseconds). */
const PROBE_EVERY_MS = 250;

/** Acknowledge at least every this many received frames. */
const ACK_EVERY = 256;
/** Else acknowledge this long after the first unacknowledged frame (milliseconds). */
const ACK_DELAY_MS = 10;

export interface DeliveryOptions {
  kernel: Kernel;
  tuning: MeshTuning;
  log: Logger;
  pending: PendingCalls;
  outbound: Outbound;
  kernelNameOf: (kernelId: string) => string;
  emit: (event: Omit<MonitorEvent, 'kernel'> & { kernel?: string }) => void;
  /** Ends the conversation with a peer incarnation (see Mesh.failChannel). */
  failChannel: (channel: Channel, cause: string) => void;
  stopping: () => boolean;
}

/**
 * Delivery bookkeeping of the channels: acknowledging what arrived, telling senders about
 * what did not, and probing a dropped peer's address while its link is down.
 */
export class Delivery {
  private readonly ackTimers = new Map<Channel, NodeJS.Timeout>();

  constructor(private readonly options: DeliveryOptions) {}

  /** Acknowledges received frames: at once every ACK_EVERY frames, else soon after. While
   * the kernel's queue is over `receiveQueueLimit`, not until it has drained: the peer's send
   * buffer then fills and it has to wait, so a slow receiver bounds everyone's memory. */
  scheduleAck(channel: Channel): void {
    if (channel.unackedIn >= ACK_EVERY) return this.sendAck(channel);
    if (this.ackTimers.has(channel)) return;
    this.ackTimers.set(
      channel,
      setTimeout(() => this.sendAck(channel), ACK_DELAY_MS),
    );
  }

  private sendAck(channel: Channel): void {
    clearTimeout(this.ackTimers.get(channel));
    this.ackTimers.delete(channel);
    if (channel.failed || channel.unackedIn === 0) return;
    if (this.options.kernel.queued > this.options.tuning.receiveQueueLimit) {
      // Hold the ACK until what is queued now has been handled.
      this.ackTimers.set(
        channel,
        setTimeout(() => {}, 0x7fffffff),
      );
      void this.options.kernel.afterQueued().then(() => this.sendAck(channel));
      return;
    }
    channel.link?.send({ type: FrameType.Ack, seq: channel.takeAck() });
  }

  /**
   * Acknowledges what arrived from a channel's peer along with a frame just sent to it (one
   * more small frame in the same message): a peer that gets answers, or a writer that gets
   * credit, learns at once what it may forget, instead of ACK_DELAY_MS later. Not while the
   * kernel's queue is over its limit (see scheduleAck).
   */
  piggyback(channel: Channel): void {
    if (channel.unackedIn === 0 || channel.failed || !channel.link?.isUp) return;
    if (this.options.kernel.queued > this.options.tuning.receiveQueueLimit) return;
    channel.link.send({ type: FrameType.Ack, seq: channel.takeAck() });
  }

  /** Forgets a failed channel's pending acknowledgement. */
  forget(channel: Channel): void {
    clearTimeout(this.ackTimers.get(channel));
    this.ackTimers.delete(channel);
  }

  /** Clears every pending acknowledgement timer (on shutdown). */
  clearTimers(): void {
    for (const timer of this.ackTimers.values()) clearTimeout(timer);
  }

  /**
   * While a channel waits for its link to come back, knocks on the peer's listening address
   * now and then: a refused connection means its process is gone, so there is no point
   * waiting out the window. (Once is not enough: when a process is killed, its links may
   * close an instant before its listening socket does.)
   */
  probeWhileDown(channel: Channel, listen: string, cause: string): void {
    const every = Math.max(50, Math.min(PROBE_EVERY_MS, this.options.tuning.resumeWindowMs / 10));
    const knock = () => {
      if (channel.link || channel.failed || this.options.stopping()) return;
      void probeListener(listen, every * 4).then((state) => {
        if (channel.link || channel.failed) return;
        if (state === 'refused')
          this.options.failChannel(channel, `${cause}; its address ${listen} refuses connections`);
        else setTimeout(knock, every).unref();
      });
    };
    knock();
  }

  /** A frame that never reached its peer: its sender is told (posts); calls fail elsewhere. */
  undelivered(frame: SequencedFrame, kernel: string, cause: string): void {
    if (frame.type !== FrameType.Post) return; // CALLs: failPeer / relayed; answers: their callers time out
    const err = new IkcError(
      'IKC_ERR_UNDELIVERED',
      `post of "${frame.event}" to ${frame.to} on kernel ${kernel} was not delivered: kernel ${kernel} went away (${cause})`,
      { details: { kernel, session: frame.to, event: frame.event } },
    );
    if (frame.origin) {
      // Relayed through us: tell the kernel it came from.
      return this.options.outbound.sendPostErrorTo(
        frame.origin,
        frame.from,
        errorToPayload(err, { kernel: this.options.kernel.name }),
      );
    }
    const sender = this.options.kernel.lookup(frame.from);
    this.options.emit({
      type: 'undeliverable',
      error: err,
      session: frame.from,
      event: frame.event,
      to: frame.to,
    });
    if (sender && !sender.isProxy)
      this.options.kernel.reportError(sender, err, { session: frame.to, event: frame.event });
  }

  /**
   * A sequenced frame that a link refused to carry (too large for the peer), whether on its
   * way out or relayed: whoever is waiting for it is told, as if it had failed there.
   * `peerId` is the kernel it was going to.
   */
  unsendable(frame: SequencedFrame, error: unknown, peerId: string): void {
    const { kernel, outbound } = this.options;
    const err = IkcError.is(error) ? error : new IkcError('IKC_ERR_ENCODE', String(error), { cause: error });
    this.options.log.warn(
      { err: { code: err.code, message: err.message }, peer: this.options.kernelNameOf(peerId) },
      `cannot send ${frameName(frame.type)}: ${err.message}`,
    );
    const payload = errorToPayload(err, { kernel: kernel.name });
    switch (frame.type) {
      case FrameType.Call:
        if (frame.origin)
          outbound.sendCallError(frame.origin, frame.callId, { ...payload, event: frame.event });
        else this.options.pending.settle(frame.callId, undefined, err);
        return;
      case FrameType.Post: {
        if (frame.origin) {
          outbound.sendPostErrorTo(frame.origin, frame.from, { ...payload, event: frame.event });
          return;
        }
        const sender = kernel.lookup(frame.from);
        if (sender && !sender.isProxy)
          kernel.reportError(sender, err, { session: frame.to, event: frame.event });
        return;
      }
      case FrameType.Reply:
        // The caller learns why instead of waiting for its timeout.
        outbound.sendCallError(frame.dest || peerId, frame.callId, payload);
        return;
      default:
        return; // an ERROR frame: its caller times out
    }
  }
}
