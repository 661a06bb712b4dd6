import { type CallOptions, type Kernel, type Session, systemClock, withDeadline } from '@ikc/kernel';
import {
  Codec,
  type ErrorPayload,
  errorToPayload,
  type Frame,
  FrameType,
  frameName,
  IkcError,
  largeLimits,
} from '@ikc/wire';
import type { PendingCalls } from './calls.js';
import type { Channel, SequencedFrame } from './channel.js';
import type { MeshTuning } from './defaults.js';
import { encodingAs, encodingDone } from './endpoints.js';
import type { Logger } from './log.js';
import type { Mesh } from './mesh.js';

export interface OutboundOptions {
  mesh: Mesh;
  kernel: Kernel;
  tuning: MeshTuning;
  log: Logger;
  pending: PendingCalls;
  /** The channel that leads to a kernel, if any (see Mesh.routeTo). */
  routeTo: (kernelId: string) => Channel | undefined;
  kernelNameOf: (kernelId: string) => string;
  /** Lets a kernel post back to a local session it was shown. */
  grant: (kernelId: string, session: Session) => void;
  /** After a sequenced frame went to a channel: acknowledges the peer's frames with it. */
  acknowledge: (channel: Channel) => void;
}

/** Sending posts, calls, replies and errors to other kernels, over the channel that leads there. */
export class Outbound {
  /** Measures frames that wait in a channel while its link is down. */
  private readonly measurer: Codec;

  constructor(private readonly options: OutboundOptions) {
    this.measurer = new Codec({ limits: largeLimits(options.tuning.maxMessageBytes) });
  }

  /** The size of a frame that waits in a channel while its link is down. */
  readonly measure = (frame: Frame): number => {
    try {
      return this.measurer.encode(frame).length;
    } catch (err) {
      if (IkcError.is(err, 'IKC_ERR_ENCODE') && err.details?.limit === 'maxMessageBytes') {
        const size = err.details.size as number;
        throw new IkcError(
          'IKC_ERR_MESSAGE_TOO_LARGE',
          `${frameName(frame.type)} of ${size} bytes: mesh.maxMessageBytes is ${this.options.tuning.maxMessageBytes}`,
          { cause: err, details: { size, limit: this.options.tuning.maxMessageBytes } },
        );
      }
      throw err;
    }
  };

  /** Sends a sequenced frame to a kernel (numbering it), setting dest when it goes through a
   * relay. Throws on an encoding error, or IKC_ERR_OVERFLOW when the channel's send buffer is full. */
  private sendTo(kernelId: string, frame: SequencedFrame): boolean {
    const channel = this.options.routeTo(kernelId);
    if (!channel) return false;
    if (channel.full) {
      throw new IkcError(
        'IKC_ERR_OVERFLOW',
        `the send buffer to kernel ${channel.peerName} is full (${channel.bufferedBytes} bytes not yet acknowledged); await kernel.ready() before sending more`,
        { details: { kernel: channel.peerName, bytes: channel.bufferedBytes } },
      );
    }
    if (channel.peerId !== kernelId) frame.dest = kernelId;
    encodingAs(this.options.mesh, kernelId);
    try {
      channel.send(frame, this.measure);
    } finally {
      encodingDone();
    }
    this.options.acknowledge(channel);
    return true;
  }

  /** No route to the kernel: nothing was sent, so the event was certainly not delivered. */
  unreachable(kernel: string): IkcError {
    return new IkcError(
      'IKC_ERR_UNREACHABLE',
      `kernel ${kernel} is not reachable from kernel ${this.options.kernel.name}`,
      {
        details: { kernel, undelivered: true },
      },
    );
  }

  sendPost(kernelId: string, to: string, sender: Session, event: string, args: unknown[]): void {
    const { kernel } = this.options;
    this.options.grant(kernelId, sender);
    try {
      const sent = this.sendTo(kernelId, {
        type: FrameType.Post,
        seq: 0,
        from: sender.id,
        to,
        event,
        args,
        dest: '',
        origin: '',
      });
      if (!sent)
        kernel.reportError(sender, this.unreachable(this.options.kernelNameOf(kernelId)), {
          session: to,
          event,
        });
    } catch (err) {
      kernel.reportError(sender, err as IkcError, { session: to, event });
    }
  }

  sendCall(
    kernelId: string,
    to: string,
    sender: Session,
    event: string,
    args: unknown[],
    options: CallOptions,
  ): Promise<unknown> {
    const { kernelNameOf, tuning } = this.options;
    const channel = this.options.routeTo(kernelId);
    if (!channel) return Promise.reject(this.unreachable(kernelNameOf(kernelId)));
    if (channel.full) {
      // A call can wait for room (a post cannot, and is refused): its timeout still runs.
      const what = `call of poe://${kernelNameOf(kernelId)}/${to}/${event}`;
      const timeoutMs = options.timeoutMs ?? tuning.callTimeoutMs;
      const started = Date.now();
      return withDeadline(channel.ready(), { ...options, timeoutMs }, systemClock, what).then(() =>
        this.sendCall(kernelId, to, sender, event, args, {
          ...options,
          timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)),
        }),
      );
    }
    if (options.signal?.aborted) {
      return Promise.reject(
        new IkcError('IKC_ERR_ABORTED', `call of "${event}" was aborted`, { cause: options.signal.reason }),
      );
    }
    this.options.grant(kernelId, sender);
    const timeoutMs = options.timeoutMs ?? tuning.callTimeoutMs;
    const what = () => `call of poe://${kernelNameOf(kernelId)}/${to}/${event}`;
    const { callId, promise } = this.options.pending.open(channel.peerId, timeoutMs, options.signal, what);
    try {
      this.sendTo(kernelId, {
        type: FrameType.Call,
        seq: 0,
        callId,
        from: sender.id,
        to,
        event,
        args,
        timeoutMs,
        dest: '',
        origin: '',
      });
      if (options.flush) channel.link?.flushNow();
    } catch (err) {
      this.options.pending.settle(callId, undefined, err);
    }
    return promise;
  }

  sendReply(origin: string, callId: number, value: unknown, where: { session: string; event: string }): void {
    try {
      this.sendTo(origin, { type: FrameType.Reply, seq: 0, callId, value, dest: '', origin: '' });
    } catch (err) {
      // The result cannot cross the wire (a function, a cycle...): the caller gets why.
      this.sendCallError(origin, callId, errorToPayload(err, { kernel: this.options.kernel.name, ...where }));
    }
  }

  sendCallError(origin: string, callId: number, error: ErrorPayload): void {
    const sent = this.sendTo(origin, {
      type: FrameType.Error,
      seq: 0,
      callId,
      postSeq: 0,
      error,
      dest: '',
      origin: '',
      replyTo: '',
    });
    if (!sent)
      this.options.log.debug({ origin, callId }, 'cannot return a call error: no route to its caller');
  }

  sendPostErrorTo(origin: string, replyTo: string, error: ErrorPayload): void {
    const sent = this.sendTo(origin, {
      type: FrameType.Error,
      seq: 0,
      callId: 0,
      postSeq: 0,
      error,
      dest: '',
      origin: '',
      replyTo,
    });
    if (!sent)
      this.options.log.debug({ origin, replyTo }, 'cannot report a failed post: no route to its sender');
  }

  /** A post from a remote session failed here (a handler threw, no handler...): tell it. */
  sendPostError(
    kernelId: string,
    replyTo: string,
    err: IkcError,
    about: { session?: string; event?: string },
  ): void {
    const payload = errorToPayload(err, {
      kernel: this.options.kernel.name,
      session: about.session,
      event: about.event,
    });
    // A handler's own error code (E_DEMO, ENOENT...) is what a caller would see: keep it.
    const thrown = (err.cause as { code?: unknown } | undefined)?.code;
    if (err.code === 'IKC_ERR_HANDLER' && typeof thrown === 'string' && thrown !== '') payload.code = thrown;
    this.sendPostErrorTo(kernelId, replyTo, payload);
  }

  /**
   * Resolves when `kernelId` has dispatched everything this kernel sent it before (a CALL
   * with empty target and event). A post's failure there reaches its sender before this does.
   */
  barrier(kernelId: string, timeoutMs?: number): Promise<void> {
    const options = timeoutMs === undefined ? {} : { timeoutMs };
    return this.sendCall(kernelId, '', this.options.kernel.root, '', [], options).then(() => undefined);
  }
}
