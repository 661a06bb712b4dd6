import type { Kernel, MonitorEvent, Session } from '@ikc/kernel';
import {
  type CallFrame,
  type ErrorFrame,
  errorToPayload,
  FrameType,
  IkcError,
  type KernelRole,
  type PostFrame,
  type ReplyFrame,
} from '@ikc/wire';
import type { PendingCalls } from './calls.js';
import type { Channel, SequencedFrame } from './channel.js';
import type { MeshTuning } from './defaults.js';
import type { Delivery } from './delivery.js';
import type { Grants } from './grants.js';
import type { Link, PeerInfo } from './link.js';
import type { Logger } from './log.js';
import type { Outbound } from './outbound.js';
import type { Proxies } from './proxies.js';
import { RemoteError } from './remote-error.js';

/** A flooding link is logged at most this often (milliseconds). */
const OVERLOAD_LOG_INTERVAL_MS = 10_000;

export interface InboundOptions {
  kernel: Kernel;
  role: KernelRole;
  tuning: MeshTuning;
  log: Logger;
  pending: PendingCalls;
  grants: Grants;
  proxies: Proxies;
  outbound: Outbound;
  delivery: Delivery;
  /** The channel that leads to a kernel, if any (see Mesh.routeTo). */
  routeTo: (kernelId: string) => Channel | undefined;
  kernelNameOf: (kernelId: string) => string;
  emit: (event: Omit<MonitorEvent, 'kernel'> & { kernel?: string }) => void;
}

/**
 * POST, CALL, REPLY and ERROR frames that arrive: delivered to local sessions (if the
 * sending kernel may reach them), answered, or relayed by a host towards their kernel.
 */
export class Inbound {
  private readonly kernel: Kernel;
  private readonly log: Logger;
  private readonly pending: PendingCalls;
  private readonly grants: Grants;
  private readonly proxies: Proxies;
  private readonly outbound: Outbound;
  private readonly delivery: Delivery;
  /** Calls a peer has in flight here, by peer kernel id. */
  private readonly inflight = new Map<string, number>();
  /** The last target admitted for a published event, and the names it was found by (admit()). */
  private lastAdmitted: Session | undefined;
  private lastTo = '';
  private lastEvent = '';
  private lastNames = -1;
  /** When each peer was last logged for overloading (ms), so a flood logs once a while, not per call. */
  private readonly overloadLogged = new Map<string, number>();
  /** Calls relayed through this kernel, per next-hop peer id: `${origin}:${callId}` -> origin. */
  private readonly relayed = new Map<string, Map<string, { origin: string; callId: number }>>();

  constructor(private readonly options: InboundOptions) {
    this.kernel = options.kernel;
    this.log = options.log;
    this.pending = options.pending;
    this.grants = options.grants;
    this.proxies = options.proxies;
    this.outbound = options.outbound;
    this.delivery = options.delivery;
  }

  /** Forgets a peer incarnation's calls in flight here, and when it was logged for overloading. */
  forgetPeer(peerId: string): void {
    this.inflight.delete(peerId);
    this.overloadLogged.delete(peerId);
  }

  /** Calls relayed through a peer that is gone fail back to their callers. */
  failRelayed(peerId: string, unreachable: () => IkcError): void {
    for (const { origin, callId } of this.relayed.get(peerId)?.values() ?? []) {
      this.outbound.sendCallError(
        origin,
        callId,
        errorToPayload(unreachable(), { kernel: this.kernel.name }),
      );
    }
    this.relayed.delete(peerId);
  }

  private routeTo(kernelId: string): Channel | undefined {
    return this.options.routeTo(kernelId);
  }

  private kernelNameOf(id: string): string {
    return this.options.kernelNameOf(id);
  }

  private emit(event: Omit<MonitorEvent, 'kernel'> & { kernel?: string }): void {
    this.options.emit(event);
  }

  /** The kernel a frame started from. */
  private originOf(link: Link, frame: { origin?: string }): string {
    return frame.origin || (link.peer as PeerInfo).id;
  }

  private forDelivery(frame: { dest?: string }): boolean {
    return !frame.dest || frame.dest === this.kernel.id;
  }

  /** The local session a remote event is for, if the origin kernel may reach that event. */
  private admit(origin: string, to: string, event: string): Session | IkcError {
    // A stream of frames to one published event: compare strings rather than hash each
    // frame's freshly decoded names again, while no name or published event has changed.
    const last = this.lastAdmitted;
    if (last !== undefined && to === this.lastTo && event === this.lastEvent) {
      if (this.lastNames === this.kernel.namesVersion && last.alive) return last;
    }
    const target = this.kernel.lookup(to);
    if (!target || target.isProxy || target === this.kernel.root) {
      return new IkcError('IKC_ERR_NO_SESSION', `no session "${to}" on kernel ${this.kernel.name}`);
    }
    if (target.publishes(event)) {
      this.lastAdmitted = target;
      this.lastTo = to;
      this.lastEvent = event;
      this.lastNames = this.kernel.namesVersion;
      return target;
    }
    if (this.grants.allows(origin, target.id)) return target;
    return new IkcError(
      'IKC_ERR_NOT_PUBLISHED',
      `event "${event}" of session ${target.aliases[0] ?? target.id} on kernel ${this.kernel.name} is not published`,
      { details: { session: target.id, event } },
    );
  }

  post(link: Link, f: PostFrame): void {
    if (!this.forDelivery(f)) return this.relay(link, f);
    const origin = this.originOf(link, f);
    const target = this.admit(origin, f.to, f.event);
    if (target instanceof IkcError) {
      return this.outbound.sendPostErrorTo(
        origin,
        f.from,
        errorToPayload(target, { kernel: this.kernel.name, session: f.to, event: f.event }),
      );
    }
    this.kernel.postFrom(this.proxies.senderProxy(origin, f.from), target, f.event, f.args as unknown[]);
  }

  call(link: Link, f: CallFrame): void {
    if (!this.forDelivery(f)) return this.relay(link, f);
    const origin = this.originOf(link, f);
    const where = { kernel: this.kernel.name, session: f.to, event: f.event };
    if (f.to === '' && f.event === '') {
      // A barrier: answered once everything that arrived before it has been dispatched, so
      // the errors of earlier posts (sent as they happen) reach the sender before the reply.
      void this.kernel.afterQueued().then(() => this.outbound.sendReply(origin, f.callId, true, where));
      return;
    }
    const peerId = (link.peer as PeerInfo).id;
    const busy = this.inflight.get(peerId) ?? 0;
    if (busy >= this.options.tuning.maxInflightCalls) {
      const err = new IkcError(
        'IKC_ERR_OVERLOADED',
        `kernel ${this.kernel.name} has ${busy} calls in flight from ${link.peer?.name}; refusing more`,
      );
      const now = Date.now();
      if (now - (this.overloadLogged.get(peerId) ?? 0) > OVERLOAD_LOG_INTERVAL_MS) {
        this.overloadLogged.set(peerId, now);
        this.log.warn(
          { err: { code: err.code }, peer: link.peer?.name, limit: this.options.tuning.maxInflightCalls },
          `refusing calls from ${link.peer?.name}: ${busy} in flight (limit ${this.options.tuning.maxInflightCalls})`,
        );
      }
      return this.outbound.sendCallError(origin, f.callId, errorToPayload(err, where));
    }
    const target = this.admit(origin, f.to, f.event);
    if (target instanceof IkcError)
      return this.outbound.sendCallError(origin, f.callId, errorToPayload(target, where));
    this.inflight.set(peerId, busy + 1);
    const done = () => {
      const n = this.inflight.get(peerId);
      if (n !== undefined) this.inflight.set(peerId, n - 1);
    };
    // Queued, not run at once: a sender's earlier posts to this kernel are handled first.
    this.kernel
      .queueCall(this.proxies.senderProxy(origin, f.from), target, f.event, f.args as unknown[])
      .then(
        (value) => {
          done();
          this.outbound.sendReply(origin, f.callId, value, where);
        },
        (err: unknown) => {
          done();
          this.outbound.sendCallError(
            origin,
            f.callId,
            errorToPayload(err, { ...where, session: target.id }),
          );
        },
      );
  }

  reply(link: Link, f: ReplyFrame): void {
    if (!this.forDelivery(f)) return this.relay(link, f);
    this.pending.settle(f.callId, f.value);
  }

  error(link: Link, f: ErrorFrame): void {
    if (!this.forDelivery(f)) return this.relay(link, f);
    const error = new RemoteError(f.error);
    if (f.callId > 0) {
      this.pending.settle(f.callId, undefined, error);
      return;
    }
    // A post of ours failed over there: tell the session that posted it.
    const sender = f.replyTo ? this.kernel.lookup(f.replyTo) : undefined;
    if (sender && !sender.isProxy)
      this.kernel.reportError(sender, error, { session: f.error.session, event: f.error.event });
    else this.emit({ type: 'error', error, session: f.error.session, event: f.error.event });
  }

  /** A host passes on a frame meant for another kernel (one of its leaves, or through it). */
  private relay(link: Link, f: PostFrame | CallFrame | ReplyFrame | ErrorFrame): void {
    const dest = f.dest as string;
    const origin = this.originOf(link, f);
    const next = this.options.role === 'host' ? this.routeTo(dest) : undefined;
    if (!next || next.peerId === link.peer?.id) {
      const err = new IkcError(
        'IKC_ERR_UNREACHABLE',
        `kernel ${this.kernel.name} has no route to kernel ${this.kernelNameOf(dest)}`,
      );
      const payload = errorToPayload(err, { kernel: this.kernel.name });
      if (f.type === FrameType.Post)
        return this.outbound.sendPostErrorTo(origin, f.from, { ...payload, event: f.event });
      if (f.type === FrameType.Call)
        return this.outbound.sendCallError(origin, f.callId, { ...payload, event: f.event });
      return; // an answer that cannot be delivered: its caller times out or has gone
    }
    if (f.type === FrameType.Call) {
      let map = this.relayed.get(next.peerId);
      if (!map) this.relayed.set(next.peerId, (map = new Map()));
      map.set(`${origin}:${f.callId}`, { origin, callId: f.callId });
    } else if (f.type === FrameType.Reply || f.type === FrameType.Error) {
      this.relayed.get((link.peer as PeerInfo).id)?.delete(`${dest}:${f.callId}`);
    }
    const nextDest = next.peerId === dest ? '' : dest;
    const relayed = { ...f, dest: nextDest, origin } as SequencedFrame;
    try {
      next.send(relayed, this.outbound.measure);
    } catch (err) {
      // Too large for the next hop: answered like a failure there, and this link stays up.
      this.delivery.unsendable(relayed, err, next.peerId);
    }
  }
}
