import {
  type CallOptions,
  formatSpec,
  type Kernel,
  type MonitorEvent,
  type RemoteEndpoint,
  type Router,
  Session,
  type Spec,
  systemClock,
  withDeadline,
} from '@ikc/kernel';
import {
  type CallFrame,
  Codec,
  type ErrorFrame,
  type ErrorPayload,
  errorToPayload,
  type Frame,
  FrameType,
  frameName,
  IkcError,
  type KernelRole,
  type LinkSide,
  largeLimits,
  type PostFrame,
  type RegistryFrame,
  type ReplyFrame,
  registerSessionClass,
  SessionRef,
} from '@ikc/wire';
import { PendingCalls } from './calls.js';
import { Channel, type SequencedFrame } from './channel.js';
import type { Cloud } from './cloud.js';
import type { MeshTuning } from './defaults.js';
import { Link, type PeerInfo } from './link.js';
import type { Logger } from './log.js';
import { probeListener } from './probe.js';
import { type KernelEntry, Registry, type RegistryChange, sessionIn } from './registry.js';
import { RemoteError } from './remote-error.js';
import type { Conn } from './transport.js';

export interface MeshOptions {
  kernel: Kernel;
  cloud: string;
  secret: string;
  role: KernelRole;
  tuning: MeshTuning;
  log: Logger;
  /** Opens a connection to a kernel's listening address (for links opened lazily). */
  dial?: (address: string) => Promise<Conn>;
  /** Where a `*` event goes: in turn (default), the least-loaded kernel, or here first. */
  balance?: 'round-robin' | 'least-loaded' | 'local-first';
}

/**
 * True for an error that proves the event never reached its kernel: no route from here, or
 * a relaying host's "no route" (a RemoteError IKC_ERR_UNREACHABLE comes only from a relay;
 * a lost link's IKC_ERR_UNREACHABLE is a local error, and its event may have arrived).
 */
function neverDelivered(err: unknown): boolean {
  if (!IkcError.is(err, 'IKC_ERR_UNREACHABLE')) return false;
  return err instanceof RemoteError || err.details?.undelivered === true;
}

/** While a peer's link is down, its listening address is probed this often (milliseconds). */
const PROBE_EVERY_MS = 250;

/** Acknowledge at least every this many received frames. */
const ACK_EVERY = 256;
/** Else acknowledge this long after the first unacknowledged frame (milliseconds). */
const ACK_DELAY_MS = 10;

/** Gossip messages kept per address while a lazy link is being opened. */
const GOSSIP_QUEUE_MAX = 16;

function memberAddressOf(listen: string): string {
  return listen.replace(/^ws:\/\//, '').replace(/\/$/, '');
}

/** A flooding link is logged at most this often (milliseconds). */
const OVERLOAD_LOG_INTERVAL_MS = 10_000;

/** What `peers()` shows of each kernel this one knows. */
export interface PeerView {
  name: string;
  id: string;
  role: string;
  /** The address of the direct link, or "via NAME" for a kernel reached through a host. */
  address: string;
  /** 'up'; 'suspect' while gossip suspects it; 'resuming' while a dropped link may come back. */
  state: 'up' | 'suspect' | 'resuming';
  /** Round-trip time of the link that leads to it (milliseconds), when measured. */
  rtt: number | undefined;
  sessions: number;
}

// Session objects cross the wire as references. msgpackr's extension table is process-wide,
// so the mesh whose link is encoding says (through this variable) which kernel a local
// session is being shown to: that kernel may then post back to it (see grant()).
let encodingFor: { mesh: Mesh; kernelId: string } | undefined;
registerSessionClass(Session as unknown as abstract new (...args: never[]) => Session, (s: Session) => {
  if (s.remote) return new SessionRef(s.remote.kernelId, s.id);
  if (encodingFor && encodingFor.mesh.kernel === s.kernel) encodingFor.mesh.grant(encodingFor.kernelId, s);
  return new SessionRef(s.kernel.id, s.id);
});

/** A proxy's way to its remote session: through the mesh, by kernel id and session id or alias. */
class SessionEndpoint implements RemoteEndpoint {
  gone: IkcError | undefined;

  constructor(
    private readonly mesh: Mesh,
    readonly kernelId: string,
    readonly kernelName: string,
    /** The session id on that kernel (or an alias the kernel resolves). */
    readonly target: string,
  ) {}

  post(sender: Session, event: string, args: unknown[]): void {
    this.mesh.sendPost(this.kernelId, this.target, sender, event, args);
  }

  call(sender: Session, event: string, args: unknown[], options: CallOptions): Promise<unknown> {
    return this.mesh.sendCall(this.kernelId, this.target, sender, event, args, options);
  }

  error(err: IkcError, about: { session?: string; event?: string }): void {
    this.mesh.sendPostError(this.kernelId, this.target, err, about);
  }

  ready(): Promise<void> {
    return this.mesh.readyFor(this.kernelId);
  }
}

/** A `*` proxy: each post or call goes to one of the kernels that publish the alias. */
class AnyEndpoint implements RemoteEndpoint {
  readonly kernelId = '*';
  readonly kernelName = '*';

  constructor(
    private readonly mesh: Mesh,
    readonly alias: string,
  ) {}

  post(sender: Session, event: string, args: unknown[]): void {
    this.mesh.routeAny(sender, { kernel: '*', session: this.alias }, event, args, undefined);
  }

  call(sender: Session, event: string, args: unknown[], options: CallOptions): Promise<unknown> {
    return this.mesh.routeAny(
      sender,
      { kernel: '*', session: this.alias },
      event,
      args,
      options,
    ) as Promise<unknown>;
  }
}

/**
 * The mesh of one kernel: its links to other kernels, the registry of what they publish,
 * and the router that carries posts and calls between them. A host kernel also relays
 * frames and registries for its leaf kernels.
 */
export class Mesh implements Router {
  readonly kernel: Kernel;
  private readonly options: MeshOptions;
  private readonly log: Logger;
  private readonly links = new Set<Link>();
  /** Peer kernel id -> its up link. */
  private readonly direct = new Map<string, Link>();
  private readonly registry = new Registry();
  private readonly pending = new PendingCalls();
  /** Kernel id -> ids of local sessions it may post to although they publish nothing (replies). */
  private readonly grants = new Map<string, Set<string>>();
  /** Proxies this mesh holds alive, by session id, with the release of their hold. */
  private readonly held = new Map<string, { proxy: Session; release: () => void; kernelId: string }>();
  /** Sender proxies in least-recently-used order (ids), bounded by tuning.maxSenderProxies. */
  private readonly senders = new Map<string, true>();
  private readonly anyProxies = new Map<string, Session>();
  /** The conversation with each peer incarnation, by peer kernel id: outlives its links. */
  private readonly channels = new Map<string, Channel>();
  /** Calls a peer has in flight here, by peer kernel id. */
  private readonly inflight = new Map<string, number>();
  /** When each peer was last logged for overloading (ms), so a flood logs once a while, not per call. */
  private readonly overloadLogged = new Map<string, number>();
  /** Calls relayed through this kernel, per next-hop peer id: `${origin}:${callId}` -> origin. */
  private readonly relayed = new Map<string, Map<string, { origin: string; callId: number }>>();
  /** Measures frames that wait in a channel while its link is down. */
  private readonly measurer: Codec;
  private readonly ackTimers = new Map<Channel, NodeJS.Timeout>();
  /** Kernels this one has announced as up to monitors. */
  private readonly known = new Map<string, string>();
  /** Every kernel name seen, by id, so errors about a kernel that is gone can still name it. */
  private readonly names = new Map<string, string>();
  private readonly roundRobin = new Map<string, number>();
  /** The cloud membership, on a host kernel. */
  cloud: Cloud | undefined;
  /** Gossip waiting for a lazily opened link, by address. */
  private readonly gossipQueue = new Map<string, unknown[]>();
  /** Waiting for a peer's first REGISTRY (see synced()), by link. */
  private readonly syncWaiters = new Map<Link, (() => void)[]>();
  private registryVersion = 0;
  private registryQueued = false;
  private stopping = false;
  private readonly unsubscribe: () => void;

  constructor(options: MeshOptions) {
    this.options = options;
    this.kernel = options.kernel;
    this.log = options.log;
    this.measurer = new Codec({ limits: largeLimits(options.tuning.maxMessageBytes) });
    this.kernel.attachRouter(this);
    const watch = this.kernel.monitor(['register', 'unregister', 'publish', 'retract'], (e) => {
      if (e.kernel !== this.kernel.name || e.remote) return;
      if (e.type === 'unregister') this.forgetGrants((e.session as { id: string }).id);
      this.queueRegistry();
    });
    this.unsubscribe = () => watch.close();
  }

  /** Where this kernel listens for others (told to peers in HELLO); set by the node once bound. */
  listenAddress: string | undefined;

  get role(): KernelRole {
    return this.options.role;
  }

  // ---- links -----------------------------------------------------------------------------

  /** Takes a new connection, dialed (`dialer`) or accepted (`listener`), and runs its handshake. */
  adopt(
    conn: Conn,
    side: LinkSide,
    onDown?: (link: Link, why: { reason: string; error?: IkcError; wasUp: boolean }) => void,
  ): Link {
    if (this.stopping || this.leaving) conn.close(1000, 'shutting down'); // e.g. a lazy dial that finished late
    const link = new Link({
      conn,
      side,
      cloud: this.options.cloud,
      secret: this.options.secret,
      kernelId: this.kernel.id,
      kernelName: this.kernel.name,
      role: this.options.role,
      listen: this.listenAddress,
      tuning: this.options.tuning,
      log: this.log,
      codec: { fromRef: (ref) => this.fromRef(ref) },
      acceptRole: (role, peer) => this.acceptPeer(role, peer),
    });
    this.links.add(link);
    link.start({
      up: (l) => this.onUp(l),
      frame: (l, f) => this.onFrame(l, f),
      down: (l, why) => {
        this.onDown(l, why);
        onDown?.(l, why);
      },
    });
    return link;
  }

  /** Set while this kernel leaves the cloud: it opens no new links. */
  leaving = false;

  private acceptPeer(role: KernelRole, peer: PeerInfo): IkcError | undefined {
    if (this.cloud?.stateOf(peer.id) === 'left') {
      return new IkcError(
        'IKC_ERR_HANDSHAKE',
        `kernel ${peer.name} has left the cloud; that incarnation does not come back`,
      );
    }
    if (peer.id === this.kernel.id)
      return new IkcError('IKC_ERR_HANDSHAKE', 'this link leads back to the kernel itself');
    if (this.options.role === 'leaf' && role !== 'host') {
      return new IkcError(
        'IKC_ERR_HANDSHAKE',
        `a leaf kernel links only to its host kernel, not to ${peer.name} (${role})`,
      );
    }
    if (this.options.role === 'host' || role === 'host') {
      for (const other of this.direct.values()) {
        if (other.peer && other.peer.name === peer.name && other.peer.id !== peer.id) {
          return new IkcError(
            'IKC_ERR_NAME_TAKEN',
            `kernel name "${peer.name}" is taken by kernel ${other.peer.id}, which is still linked to ${this.kernel.name}`,
          );
        }
      }
    }
    return undefined;
  }

  /**
   * Resolves once the peer of `link` has sent its registry (and, from a host, what it relays,
   * which follows in the same message), or once the link is gone: after that, resolving and
   * calling what the peer publishes works.
   */
  synced(link: Link): Promise<void> {
    if (link.isClosed || (link.peer && this.registry.get(link.peer.id)?.via === link)) {
      return new Promise((resolve) => setImmediate(resolve));
    }
    return new Promise((resolve) => {
      let list = this.syncWaiters.get(link);
      if (!list) this.syncWaiters.set(link, (list = []));
      list.push(() => setImmediate(resolve));
    });
  }

  private wakeSynced(link: Link): void {
    const list = this.syncWaiters.get(link);
    if (!list) return;
    this.syncWaiters.delete(link);
    for (const wake of list) wake();
  }

  /** True while a link to that kernel is up. */
  isLinked(kernelId: string): boolean {
    return this.direct.has(kernelId);
  }

  private onUp(link: Link): void {
    const peer = link.peer as PeerInfo;
    const existing = this.direct.get(peer.id);
    if (existing && existing !== link) {
      // Both kernels dialed each other: keep the link whose dialer has the smaller id, as
      // the other side decides the same way.
      const dialerOf = (l: Link) => (l.side === 'dialer' ? this.kernel.id : peer.id);
      const keepNew = dialerOf(link) < dialerOf(existing);
      (keepNew ? existing : link).close('duplicate', 'another link to the same kernel is kept');
      if (!keepNew) return;
    }
    this.direct.set(peer.id, link);
    this.names.set(peer.id, peer.name);
    if (this.channels.has(peer.id) && !this.known.has(peer.id)) {
      // Back within the resume window after gossip had declared it dead.
      this.known.set(peer.id, peer.name);
      this.emit({ type: 'kernel.up', kernel: peer.name, kernelId: peer.id, role: peer.role });
    }
    // A new incarnation of a kernel we were talking to: the old conversation is over.
    for (const old of [...this.channels.values()]) {
      if (old.peerName === peer.name && old.peerId !== peer.id)
        this.failChannel(old, 'restarted (a new incarnation)');
    }
    let channel = this.channels.get(peer.id);
    const resumed = channel !== undefined;
    if (!channel) {
      channel = new Channel(peer.id, peer.name, this.options.tuning);
      this.channels.set(peer.id, channel);
    }
    // Tell the peer what we have, then resend what it has not acknowledged (it drops repeats).
    link.send({ type: FrameType.Ack, seq: channel.takeAck() });
    const { resent, refused } = channel.resumeOn(link);
    for (const { frame, error } of refused) this.unsendable(frame, error, peer.id);
    this.log.info(
      { peer: peer.name, id: peer.id, role: peer.role, address: link.address, resumed, resent },
      resumed ? 'link resumed' : 'link up',
    );
    this.sendRegistriesTo(link);
  }

  private onDown(link: Link, why: { reason: string; error?: IkcError; wasUp: boolean }): void {
    this.links.delete(link);
    this.wakeSynced(link);
    const peer = link.peer;
    if (!peer || this.direct.get(peer.id) !== link) return;
    this.direct.delete(peer.id);
    if (why.reason === 'duplicate') return;
    const channel = this.channels.get(peer.id);
    if (!channel || channel.link !== link) return;
    channel.link = undefined;
    this.log.info({ peer: peer.name, reason: why.reason, err: why.error?.message }, 'link down');
    const cause = why.error?.message ?? why.reason;
    // A graceful close (BYE, a refusal) or a leaf going away is final. A dropped link may come
    // back: unless the peer's port refuses connections (its process is gone), the channel
    // waits `resumeWindowMs` for a new link before giving up.
    if (
      this.stopping ||
      why.reason !== 'dropped' ||
      peer.role === 'leaf' ||
      (this.options.role === 'leaf' && !peer.listen)
    ) {
      return this.failChannel(channel, cause);
    }
    const windowMs = this.options.tuning.resumeWindowMs;
    channel.resumeTimer = setTimeout(
      () => this.failChannel(channel, `${cause}; no new link within ${windowMs} ms`),
      windowMs,
    );
    channel.resumeTimer.unref();
    if (peer.listen) this.probeWhileDown(channel, peer.listen, cause);
  }

  /**
   * While a channel waits for its link to come back, knocks on the peer's listening address
   * now and then: a refused connection means its process is gone, so there is no point
   * waiting out the window. (Once is not enough: when a process is killed, its links may
   * close an instant before its listening socket does.)
   */
  private probeWhileDown(channel: Channel, listen: string, cause: string): void {
    const every = Math.max(50, Math.min(PROBE_EVERY_MS, this.options.tuning.resumeWindowMs / 10));
    const knock = () => {
      if (channel.link || channel.failed || this.stopping) return;
      void probeListener(listen, every * 4).then((state) => {
        if (channel.link || channel.failed) return;
        if (state === 'refused')
          this.failChannel(channel, `${cause}; its address ${listen} refuses connections`);
        else setTimeout(knock, every).unref();
      });
    };
    knock();
  }

  /**
   * Ends the conversation with a peer incarnation: its calls in flight reject, every post
   * it never acknowledged is reported to its sender as undeliverable, calls relayed through
   * it fail back to their callers, and the kernels reached through it are gone.
   */
  private failChannel(channel: Channel, cause: string): void {
    if (channel.failed) return;
    this.channels.delete(channel.peerId);
    clearTimeout(this.ackTimers.get(channel));
    this.ackTimers.delete(channel);
    const lost = channel.fail();
    const name = channel.peerName;
    const unreachable = () => new IkcError('IKC_ERR_UNREACHABLE', `kernel ${name} went away (${cause})`);
    this.pending.failPeer(channel.peerId, unreachable);
    this.inflight.delete(channel.peerId);
    this.overloadLogged.delete(channel.peerId);
    // Reported to the sessions that posted them, unless this kernel is the one stopping.
    if (!this.stopping) for (const frame of lost) this.undelivered(frame, name, cause);
    for (const { origin, callId } of this.relayed.get(channel.peerId)?.values() ?? []) {
      this.sendCallError(origin, callId, errorToPayload(unreachable(), { kernel: this.kernel.name }));
    }
    this.relayed.delete(channel.peerId);
    channel.link?.close('failed', cause);
    for (const entry of this.registry.reachedThrough(channel.peerId)) this.kernelGone(entry.id, cause);
    this.kernelGone(channel.peerId, cause, name);
  }

  /** A frame that never reached its peer: its sender is told (posts); calls fail elsewhere. */
  private undelivered(frame: SequencedFrame, kernel: string, cause: string): void {
    if (frame.type !== FrameType.Post) return; // CALLs: failPeer / relayed; answers: their callers time out
    const err = new IkcError(
      'IKC_ERR_UNDELIVERED',
      `post of "${frame.event}" to ${frame.to} on kernel ${kernel} was not delivered: kernel ${kernel} went away (${cause})`,
      { details: { kernel, session: frame.to, event: frame.event } },
    );
    if (frame.origin) {
      // Relayed through us: tell the kernel it came from.
      return this.sendPostErrorTo(
        frame.origin,
        frame.from,
        errorToPayload(err, { kernel: this.kernel.name }),
      );
    }
    const sender = this.kernel.lookup(frame.from);
    this.emit({ type: 'undeliverable', error: err, session: frame.from, event: frame.event, to: frame.to });
    if (sender && !sender.isProxy)
      this.kernel.reportError(sender, err, { session: frame.to, event: frame.event });
  }

  /** Forgets a kernel: its registry, proxies and grants; tells monitors; a host tells its peers. */
  private kernelGone(id: string, reason: string, name?: string): void {
    if (this.channels.has(id)) return; // still talking to it (linked, or within the resume window)
    const removed = this.registry.remove(id);
    const kernelName = removed?.entry.name ?? name ?? id;
    if (removed) this.emitChanges(removed.entry, removed.changes);
    this.grants.delete(id);
    const gone = new IkcError('IKC_ERR_UNREACHABLE', `kernel ${kernelName} went away (${reason})`);
    for (const [sid, h] of [...this.held]) if (h.kernelId === id) this.dropProxy(sid, gone);
    if (this.known.delete(id)) {
      this.emit({ type: 'kernel.down', kernel: kernelName, kernelId: id, reason });
    }
    if (this.options.role === 'host' && removed) {
      // Our leaf (or a kernel we relayed) is gone: peers that reached it through us must know.
      this.broadcast(this.registryGoneFrame(removed.entry), undefined);
    }
  }

  private registryGoneFrame(entry: KernelEntry): RegistryFrame {
    return {
      type: FrameType.Registry,
      kernelId: entry.id,
      kernelName: entry.name,
      version: entry.version + 1,
      state: 'gone',
      sessions: [],
      role: entry.role,
    };
  }

  // ---- frames ----------------------------------------------------------------------------

  private onFrame(link: Link, frame: Frame): void {
    if (frame.type === FrameType.Ack) {
      this.channels.get((link.peer as PeerInfo).id)?.acknowledge(frame.seq);
      return;
    }
    if (
      frame.type === FrameType.Post ||
      frame.type === FrameType.Call ||
      frame.type === FrameType.Reply ||
      frame.type === FrameType.Error
    ) {
      const channel = this.channels.get((link.peer as PeerInfo).id);
      if (!channel) return;
      if (!channel.receive(frame.seq)) return; // resent after a drop, and seen before
      this.scheduleAck(channel);
    }
    switch (frame.type) {
      case FrameType.Post:
        return this.onPost(link, frame);
      case FrameType.Call:
        return this.onCall(link, frame);
      case FrameType.Reply:
        return this.onReply(link, frame);
      case FrameType.Error:
        return this.onError(link, frame);
      case FrameType.Registry:
        return this.onRegistry(link, frame);
      case FrameType.Gossip:
        this.cloud?.receive(link, frame.payload);
        return;
      default:
        throw new IkcError('IKC_ERR_PROTOCOL', `unexpected ${frame.type} frame from ${link.peer?.name}`);
    }
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
    const target = this.kernel.lookup(to);
    if (!target || target.isProxy || target === this.kernel.root) {
      return new IkcError('IKC_ERR_NO_SESSION', `no session "${to}" on kernel ${this.kernel.name}`);
    }
    if (target.published.includes(event) || this.grants.get(origin)?.has(target.id)) return target;
    return new IkcError(
      'IKC_ERR_NOT_PUBLISHED',
      `event "${event}" of session ${target.aliases[0] ?? target.id} on kernel ${this.kernel.name} is not published`,
      { details: { session: target.id, event } },
    );
  }

  private onPost(link: Link, f: PostFrame): void {
    if (!this.forDelivery(f)) return this.relay(link, f);
    const origin = this.originOf(link, f);
    const target = this.admit(origin, f.to, f.event);
    if (target instanceof IkcError) {
      return this.sendPostErrorTo(
        origin,
        f.from,
        errorToPayload(target, { kernel: this.kernel.name, session: f.to, event: f.event }),
      );
    }
    this.kernel.postFrom(this.senderProxy(origin, f.from), target, f.event, f.args as unknown[]);
  }

  private onCall(link: Link, f: CallFrame): void {
    if (!this.forDelivery(f)) return this.relay(link, f);
    const origin = this.originOf(link, f);
    const where = { kernel: this.kernel.name, session: f.to, event: f.event };
    if (f.to === '' && f.event === '') {
      // A barrier: answered once everything that arrived before it has been dispatched, so
      // the errors of earlier posts (sent as they happen) reach the sender before the reply.
      void this.kernel.afterQueued().then(() => this.sendReply(origin, f.callId, true, where));
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
      return this.sendCallError(origin, f.callId, errorToPayload(err, where));
    }
    const target = this.admit(origin, f.to, f.event);
    if (target instanceof IkcError)
      return this.sendCallError(origin, f.callId, errorToPayload(target, where));
    this.inflight.set(peerId, busy + 1);
    const done = () => {
      const n = this.inflight.get(peerId);
      if (n !== undefined) this.inflight.set(peerId, n - 1);
    };
    // Queued, not run at once: a sender's earlier posts to this kernel are handled first.
    this.kernel.queueCall(this.senderProxy(origin, f.from), target, f.event, f.args as unknown[]).then(
      (value) => {
        done();
        this.sendReply(origin, f.callId, value, where);
      },
      (err: unknown) => {
        done();
        this.sendCallError(origin, f.callId, errorToPayload(err, { ...where, session: target.id }));
      },
    );
  }

  private onReply(link: Link, f: ReplyFrame): void {
    if (!this.forDelivery(f)) return this.relay(link, f);
    this.pending.settle(f.callId, f.value);
  }

  private onError(link: Link, f: ErrorFrame): void {
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
        return this.sendPostErrorTo(origin, f.from, { ...payload, event: f.event });
      if (f.type === FrameType.Call)
        return this.sendCallError(origin, f.callId, { ...payload, event: f.event });
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
      next.send((seq) => ({ ...relayed, seq }) as SequencedFrame, this.measure);
    } catch (err) {
      // Too large for the next hop: answered like a failure there, and this link stays up.
      this.unsendable(relayed, err, next.peerId);
    }
  }

  /** The size of a frame that waits in a channel while its link is down. */
  private measure = (frame: Frame): number => {
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

  /**
   * A sequenced frame that a link refused to carry (too large for the peer), whether on its
   * way out or relayed: whoever is waiting for it is told, as if it had failed there.
   * `peerId` is the kernel it was going to.
   */
  private unsendable(frame: SequencedFrame, error: unknown, peerId: string): void {
    const err = IkcError.is(error) ? error : new IkcError('IKC_ERR_ENCODE', String(error), { cause: error });
    this.log.warn(
      { err: { code: err.code, message: err.message }, peer: this.kernelNameOf(peerId) },
      `cannot send ${frameName(frame.type)}: ${err.message}`,
    );
    const payload = errorToPayload(err, { kernel: this.kernel.name });
    switch (frame.type) {
      case FrameType.Call:
        if (frame.origin) this.sendCallError(frame.origin, frame.callId, { ...payload, event: frame.event });
        else this.pending.settle(frame.callId, undefined, err);
        return;
      case FrameType.Post: {
        if (frame.origin) {
          this.sendPostErrorTo(frame.origin, frame.from, { ...payload, event: frame.event });
          return;
        }
        const sender = this.kernel.lookup(frame.from);
        if (sender && !sender.isProxy)
          this.kernel.reportError(sender, err, { session: frame.to, event: frame.event });
        return;
      }
      case FrameType.Reply:
        // The caller learns why instead of waiting for its timeout.
        this.sendCallError(frame.dest || peerId, frame.callId, payload);
        return;
      default:
        return; // an ERROR frame: its caller times out
    }
  }

  /** Acknowledges received frames: at once every ACK_EVERY frames, else soon after. While
   * the kernel's queue is over `receiveQueueLimit`, not until it has drained: the peer's send
   * buffer then fills and it has to wait, so a slow receiver bounds everyone's memory. */
  private scheduleAck(channel: Channel): void {
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
    if (this.kernel.queued > this.options.tuning.receiveQueueLimit) {
      // Hold the ACK until what is queued now has been handled.
      this.ackTimers.set(
        channel,
        setTimeout(() => {}, 0x7fffffff),
      );
      void this.kernel.afterQueued().then(() => this.sendAck(channel));
      return;
    }
    channel.link?.send({ type: FrameType.Ack, seq: channel.takeAck() });
  }

  // ---- sending ---------------------------------------------------------------------------

  /**
   * The channel that leads to a kernel: its own, or that of the kernel its registry came
   * through (its host). A channel whose link is down still takes frames: they wait in it
   * for the link to come back, within the resume window.
   */
  private routeTo(kernelId: string): Channel | undefined {
    const own = this.channels.get(kernelId);
    if (own) return own;
    const viaPeer = this.registry.get(kernelId)?.via?.peer?.id;
    const via = viaPeer ? this.channels.get(viaPeer) : undefined;
    if (via) return via;
    // A leaf reaches everything through its host.
    if (this.options.role === 'leaf') for (const c of this.channels.values()) return c;
    // A member known by gossip: open a link to it now (frames wait in its channel meanwhile).
    const address = this.cloud?.addressOf(kernelId);
    if (address) return this.openChannel(kernelId, this.kernelNameOf(kernelId), address);
    return undefined;
  }

  /**
   * A channel to a kernel known by gossip, with a link dialed lazily to its address. If the
   * dial fails the channel waits out the resume window (the kernel may be on its way up),
   * unless gossip declares the kernel dead first.
   */
  private openChannel(kernelId: string, name: string, address: string): Channel {
    const channel = new Channel(kernelId, name, this.options.tuning);
    this.channels.set(kernelId, channel);
    this.dialLazily(address);
    channel.resumeTimer = setTimeout(
      () =>
        this.failChannel(channel, `no link to ${address} within ${this.options.tuning.resumeWindowMs} ms`),
      this.options.tuning.resumeWindowMs,
    );
    channel.resumeTimer.unref();
    return channel;
  }

  private readonly dialing = new Set<string>();
  /** Addresses a seed Dialer keeps linked: gossip does not dial them on its own. */
  readonly dialedBySeed = new Set<string>();

  /** Dials a kernel's address once (if not already), for gossip or a lazily opened channel. */
  private dialLazily(address: string): void {
    if (!this.options.dial || this.dialing.has(address) || this.stopping || this.leaving) return;
    if (this.dialedBySeed.has(memberAddressOf(address))) return;
    this.dialing.add(address);
    this.options
      .dial(address)
      .then((conn) => {
        const link = this.adopt(conn, 'dialer', (l, why) => {
          // A lazy link that was up and dropped: dial again while gossip says the kernel lives.
          const id = l.peer?.id;
          if (why.wasUp && id && this.cloud?.addressOf(id) && !this.stopping) {
            setTimeout(() => this.dialLazily(address), this.options.tuning.reconnectMinMs).unref();
          }
        });
        return link.whenUp().then(() => this.flushGossip(address, link));
      })
      .catch((err: Error) => this.log.debug({ address, err: err.message }, 'lazy dial failed'))
      .finally(() => {
        this.dialing.delete(address);
        this.gossipQueue.delete(address);
      });
  }

  private flushGossip(address: string, link: Link): void {
    for (const payload of this.gossipQueue.get(address) ?? []) link.send({ type: FrameType.Gossip, payload });
    this.gossipQueue.delete(address);
  }

  /** Sends a membership message to a member (by id if linked, else by address, dialing lazily). */
  sendGossip(to: { id?: string; address: string }, payload: unknown): void {
    let link = to.id ? this.direct.get(to.id) : undefined;
    if (!link) {
      for (const l of this.direct.values()) {
        if (l.peer && memberAddressOf(l.peer.listen) === to.address) {
          link = l;
          break;
        }
      }
    }
    if (link) {
      link.send({ type: FrameType.Gossip, payload });
      return;
    }
    const queue = this.gossipQueue.get(to.address) ?? [];
    if (queue.length < GOSSIP_QUEUE_MAX) queue.push(payload); // membership tolerates loss
    this.gossipQueue.set(to.address, queue);
    this.dialLazily(to.address);
  }

  /** What this kernel gossips about itself. */
  ownMeta(): { v: number; role: string; sessions: readonly unknown[]; load: number } {
    const frame = this.ownRegistry();
    return { v: frame.version, role: this.options.role, sessions: frame.sessions, load: this.kernel.backlog };
  }

  /** Gossip: a member is alive (again), with its published sessions if it says them. */
  memberUp(id: string, name: string, _address: string, registry: RegistryFrame | undefined, load = 0): void {
    this.names.set(id, name);
    this.loads.set(id, load);
    if (registry) this.applyRegistry(registry, this.direct.get(id));
    else if (!this.known.has(id)) {
      this.known.set(id, name);
      this.emit({ type: 'kernel.up', kernel: name, kernelId: id, role: 'host' });
    }
  }

  memberSuspect(id: string, name: string): void {
    if (this.known.has(id)) this.emit({ type: 'kernel.suspect', kernel: name, kernelId: id });
  }

  memberAlive(id: string, name: string): void {
    if (this.known.has(id)) this.emit({ type: 'kernel.alive', kernel: name, kernelId: id });
  }

  /**
   * Gossip: a member left, or was found dead by probing. A leave ends its channel now. A
   * death is told to monitors now (and `*` events avoid it), but its channel stays: a frozen
   * kernel or a cut cable may come back, and nothing sent is given up before the link's own
   * end (silence, then the resume window; a refused port ends it at once). If the kernel
   * refutes its death, monitors see it up again.
   */
  memberGone(id: string, reason: string): void {
    const channel = this.channels.get(id);
    if (!channel) return this.kernelGone(id, reason);
    if (reason === 'left') return this.failChannel(channel, reason);
    if (this.known.delete(id))
      this.emit({ type: 'kernel.down', kernel: channel.peerName, kernelId: id, reason });
  }

  /** True for a kernel that gossip holds dead or gone: `*` events go elsewhere. */
  private shunned(id: string): boolean {
    const state = this.cloud?.stateOf(id);
    return state === 'dead' || state === 'left';
  }

  nameConflict(id: string, name: string, holder: string | undefined): void {
    this.emit({ type: 'kernel.name-conflict', kernel: name, kernelId: id, holder });
  }

  /** Sends a sequenced frame to a kernel, setting dest when it goes through a relay.
   * Throws on an encoding error, or IKC_ERR_OVERFLOW when the channel's send buffer is full. */
  private sendTo(kernelId: string, make: (seq: number, dest: string) => SequencedFrame): boolean {
    const channel = this.routeTo(kernelId);
    if (!channel) return false;
    if (channel.full) {
      throw new IkcError(
        'IKC_ERR_OVERFLOW',
        `the send buffer to kernel ${channel.peerName} is full (${channel.bufferedBytes} bytes not yet acknowledged); await kernel.ready() before sending more`,
        { details: { kernel: channel.peerName, bytes: channel.bufferedBytes } },
      );
    }
    const dest = channel.peerId === kernelId ? '' : kernelId;
    encodingFor = { mesh: this, kernelId };
    try {
      channel.send((seq) => make(seq, dest), this.measure);
    } finally {
      encodingFor = undefined;
    }
    return true;
  }

  /** Resolves when the route to `kernelId` has room in its send buffer (see sendBufferBytes). */
  readyFor(kernelId: string): Promise<void> {
    return this.routeTo(kernelId)?.ready() ?? Promise.resolve();
  }

  /** Lets a kernel post back to a local session it was shown (as a sender or an argument). */
  grant(kernelId: string, session: Session): void {
    if (session.isProxy) return;
    let set = this.grants.get(kernelId);
    if (!set) this.grants.set(kernelId, (set = new Set()));
    set.add(session.id);
  }

  private forgetGrants(sessionId: string): void {
    for (const set of this.grants.values()) set.delete(sessionId);
  }

  /** The kernel id a specifier's kernel part names (a name or an id), if known. */
  kernelIdOf(kernel: string): string | undefined {
    if (this.channels.has(kernel) || this.registry.get(kernel)) return kernel;
    for (const c of this.channels.values()) if (c.peerName === kernel) return c.peerId;
    return this.registry.find(kernel)?.id;
  }

  private kernelNameOf(id: string): string {
    return this.channels.get(id)?.peerName ?? this.registry.get(id)?.name ?? this.names.get(id) ?? id;
  }

  /**
   * Stops a proxy whose kernel or session went away. From then on using it fails with
   * `gone`, and its specifier aliases are free for a proxy of a new incarnation.
   */
  private dropProxy(sessionId: string, gone: IkcError): void {
    const held = this.held.get(sessionId);
    if (!held) return;
    (held.proxy.remote as SessionEndpoint).gone = gone;
    this.held.delete(sessionId);
    this.senders.delete(sessionId);
    held.release();
    this.kernel.stopSession(held.proxy);
  }

  /** No route to the kernel: nothing was sent, so the event was certainly not delivered. */
  private unreachable(kernel: string): IkcError {
    return new IkcError(
      'IKC_ERR_UNREACHABLE',
      `kernel ${kernel} is not reachable from kernel ${this.kernel.name}`,
      {
        details: { kernel, undelivered: true },
      },
    );
  }

  sendPost(kernelId: string, to: string, sender: Session, event: string, args: unknown[]): void {
    this.grant(kernelId, sender);
    try {
      const sent = this.sendTo(kernelId, (seq, dest) => ({
        type: FrameType.Post,
        seq,
        from: sender.id,
        to,
        event,
        args,
        dest,
        origin: '',
      }));
      if (!sent)
        this.kernel.reportError(sender, this.unreachable(this.kernelNameOf(kernelId)), {
          session: to,
          event,
        });
    } catch (err) {
      this.kernel.reportError(sender, err as IkcError, { session: to, event });
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
    const channel = this.routeTo(kernelId);
    if (!channel) return Promise.reject(this.unreachable(this.kernelNameOf(kernelId)));
    if (channel.full) {
      // A call can wait for room (a post cannot, and is refused): its timeout still runs.
      const what = `call of poe://${this.kernelNameOf(kernelId)}/${to}/${event}`;
      const timeoutMs = options.timeoutMs ?? this.options.tuning.callTimeoutMs;
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
    this.grant(kernelId, sender);
    const timeoutMs = options.timeoutMs ?? this.options.tuning.callTimeoutMs;
    const what = () => `call of poe://${this.kernelNameOf(kernelId)}/${to}/${event}`;
    const { callId, promise } = this.pending.open(channel.peerId, timeoutMs, options.signal, what);
    try {
      this.sendTo(kernelId, (seq, dest) => ({
        type: FrameType.Call,
        seq,
        callId,
        from: sender.id,
        to,
        event,
        args,
        timeoutMs,
        dest,
        origin: '',
      }));
    } catch (err) {
      this.pending.settle(callId, undefined, err);
    }
    return promise;
  }

  private sendReply(
    origin: string,
    callId: number,
    value: unknown,
    where: { session: string; event: string },
  ): void {
    try {
      this.sendTo(origin, (seq, dest) => ({ type: FrameType.Reply, seq, callId, value, dest, origin: '' }));
    } catch (err) {
      // The result cannot cross the wire (a function, a cycle...): the caller gets why.
      this.sendCallError(origin, callId, errorToPayload(err, { kernel: this.kernel.name, ...where }));
    }
  }

  private sendCallError(origin: string, callId: number, error: ErrorPayload): void {
    const sent = this.sendTo(origin, (seq, dest) => ({
      type: FrameType.Error,
      seq,
      callId,
      postSeq: 0,
      error,
      dest,
      origin: '',
      replyTo: '',
    }));
    if (!sent) this.log.debug({ origin, callId }, 'cannot return a call error: no route to its caller');
  }

  private sendPostErrorTo(origin: string, replyTo: string, error: ErrorPayload): void {
    const sent = this.sendTo(origin, (seq, dest) => ({
      type: FrameType.Error,
      seq,
      callId: 0,
      postSeq: 0,
      error,
      dest,
      origin: '',
      replyTo,
    }));
    if (!sent) this.log.debug({ origin, replyTo }, 'cannot report a failed post: no route to its sender');
  }

  /** A post from a remote session failed here (a handler threw, no handler...): tell it. */
  sendPostError(
    kernelId: string,
    replyTo: string,
    err: IkcError,
    about: { session?: string; event?: string },
  ): void {
    const payload = errorToPayload(err, {
      kernel: this.kernel.name,
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
    return this.sendCall(kernelId, '', this.kernel.root, '', [], options).then(() => undefined);
  }

  /** The kernel that a `*` post or call to ALIAS would go to next, if any publishes ALIAS. */
  nextPublisher(alias: string): string | undefined {
    const candidates = this.registry
      .publishers(alias)
      .filter(({ entry }) => !this.shunned(entry.id) && this.routeTo(entry.id) !== undefined)
      .sort((a, b) => (a.entry.id < b.entry.id ? -1 : 1));
    if (candidates.length === 0) return undefined;
    const turn = this.roundRobin.get(alias) ?? 0;
    return candidates[turn % candidates.length]?.entry.id;
  }

  // ---- the Router contract (what the kernel hands over) ----------------------------------

  post(sender: Session, spec: Spec, event: string, args: unknown[]): void {
    if (spec.kernel === '*') {
      this.routeAny(sender, spec, event, args, undefined);
      return;
    }
    const kernelId = this.kernelIdOf(spec.kernel);
    if (!kernelId)
      return this.kernel.reportError(sender, this.unreachable(spec.kernel), { session: spec.session, event });
    this.sendPost(kernelId, spec.session, sender, event, args);
  }

  call(sender: Session, spec: Spec, event: string, args: unknown[], options: CallOptions): Promise<unknown> {
    if (spec.kernel === '*') return this.routeAny(sender, spec, event, args, options) as Promise<unknown>;
    const kernelId = this.kernelIdOf(spec.kernel);
    if (!kernelId) return Promise.reject(this.unreachable(spec.kernel));
    return this.sendCall(kernelId, spec.session, sender, event, args, options);
  }

  /** poe://* /ALIAS: one of the kernels that publish ALIAS, in turn (round robin). */
  routeAny(
    sender: Session,
    spec: Spec,
    event: string,
    args: unknown[],
    options: CallOptions | undefined,
    exclude?: Set<string>,
  ): Promise<unknown> | undefined {
    const candidates = this.registry
      .publishers(spec.session)
      .filter(
        ({ entry }) =>
          !this.shunned(entry.id) && this.routeTo(entry.id) !== undefined && !exclude?.has(entry.id),
      )
      .sort((a, b) => (a.entry.id < b.entry.id ? -1 : 1));
    if (candidates.length === 0) {
      const err = new IkcError('IKC_ERR_NO_SESSION', `no reachable kernel publishes "${spec.session}"`, {
        details: { session: spec.session },
      });
      if (options) return Promise.reject(err);
      this.kernel.reportError(sender, err, { session: spec.session, event });
      return undefined;
    }
    // local-first: a session here that publishes the event takes it, without a hop.
    if (this.options.balance === 'local-first' && !exclude) {
      const local = this.kernel.lookup(spec.session);
      if (local && !local.isProxy && local.published.includes(event)) {
        if (options) return this.kernel.callFrom(sender, local, event, args, options);
        this.kernel.postFrom(sender, local, event, args);
        return undefined;
      }
    }
    const { entry, session } = this.choose(spec.session, candidates);
    if (options) {
      // Fail over: a call that certainly never reached its kernel (no route there, here or at
      // a relaying host) is tried on the next publisher. One that may have arrived is not
      // retried, so nothing runs twice.
      return this.sendCall(entry.id, session.id, sender, event, args, options).catch((err: unknown) => {
        if (!neverDelivered(err)) throw err;
        const tried = new Set(exclude ?? []).add(entry.id);
        if (candidates.length <= 1) throw err;
        return this.routeAny(sender, spec, event, args, options, tried);
      });
    }
    this.sendPost(entry.id, session.id, sender, event, args);
    return undefined;
  }

  ready(spec: Spec): Promise<void> {
    const kernelId = spec.kernel === '*' ? this.nextPublisher(spec.session) : this.kernelIdOf(spec.kernel);
    return kernelId ? this.readyFor(kernelId) : Promise.resolve();
  }

  /** Which publisher a `*` event goes to: in turn, or the least loaded (gossiped load). */
  private choose<T extends { entry: KernelEntry }>(alias: string, candidates: T[]): T {
    if (this.options.balance === 'least-loaded') {
      let best = candidates[0] as T;
      for (const c of candidates)
        if ((this.loads.get(c.entry.id) ?? 0) < (this.loads.get(best.entry.id) ?? 0)) best = c;
      return best;
    }
    const turn = this.roundRobin.get(alias) ?? 0;
    this.roundRobin.set(alias, turn + 1);
    return candidates[turn % candidates.length] as T;
  }

  /** Each kernel's load as last gossiped (queued events and unsettled async handlers). */
  private readonly loads = new Map<string, number>();

  async resolve(spec: Spec): Promise<Session> {
    if (spec.kernel === '*') {
      if (this.registry.publishers(spec.session).length === 0) {
        throw new IkcError('IKC_ERR_NO_SESSION', `no kernel in the cloud publishes "${spec.session}"`);
      }
      let proxy = this.anyProxies.get(spec.session);
      if (!proxy?.alive) {
        proxy = this.kernel.addProxy(
          new AnyEndpoint(this, spec.session),
          `*/${spec.session}@${this.kernel.id}`,
          [formatSpec({ kernel: '*', session: spec.session })],
        );
        this.kernel.hold(proxy);
        this.anyProxies.set(spec.session, proxy);
      }
      return proxy;
    }
    const kernelId = this.kernelIdOf(spec.kernel);
    if (!kernelId) throw this.unreachable(spec.kernel);
    const entry = this.registry.get(kernelId);
    const info = entry ? sessionIn(entry, spec.session) : undefined;
    // A session id of that kernel resolves even when it publishes nothing (posting to it may then be refused).
    const id = info?.id ?? (spec.session.startsWith(`${kernelId}.`) ? spec.session : undefined);
    if (!id) {
      throw new IkcError(
        'IKC_ERR_NO_SESSION',
        `kernel ${this.kernelNameOf(kernelId)} publishes no session "${spec.session}"`,
      );
    }
    const name = this.kernelNameOf(kernelId);
    const aliases = (info?.aliases ?? []).flatMap((a) => [
      formatSpec({ kernel: name, session: a }),
      formatSpec({ kernel: kernelId, session: a }),
    ]);
    return this.proxyFor(kernelId, id, aliases, info?.events ?? [], false);
  }

  /** The proxy of a remote session, made and held on first need. */
  private proxyFor(
    kernelId: string,
    sessionId: string,
    aliases: string[],
    events: string[],
    sender: boolean,
  ): Session {
    const held = this.held.get(sessionId);
    if (held?.proxy.alive) {
      if (!sender) this.senders.delete(sessionId); // resolved: no longer evictable
      return held.proxy;
    }
    const endpoint = new SessionEndpoint(this, kernelId, this.kernelNameOf(kernelId), sessionId);
    const proxy = this.kernel.addProxy(endpoint, sessionId, aliases, events);
    if (!proxy.isProxy) return proxy; // a local session has that id: never shadow it
    this.held.set(sessionId, { proxy, release: this.kernel.hold(proxy), kernelId });
    if (sender) this.rememberSender(sessionId);
    return proxy;
  }

  /** `ctx.sender` for an event from a remote session. */
  private senderProxy(kernelId: string, sessionId: string): Session {
    // A stream from one sender: no map work at all for every frame after the first.
    const last = this.lastSender;
    if (last && last.id === sessionId && last.alive) return last;
    const proxy = this.lookupSenderProxy(kernelId, sessionId);
    this.lastSender = proxy;
    return proxy;
  }

  private lastSender: Session | undefined;

  private lookupSenderProxy(kernelId: string, sessionId: string): Session {
    const held = this.held.get(sessionId);
    if (held?.proxy.alive) {
      if (this.senders.delete(sessionId)) this.senders.set(sessionId, true); // most recently used
      return held.proxy;
    }
    return this.proxyFor(kernelId, sessionId, [], [], true);
  }

  private rememberSender(sessionId: string): void {
    this.senders.set(sessionId, true);
    while (this.senders.size > this.options.tuning.maxSenderProxies) {
      const oldest = this.senders.keys().next().value as string;
      this.senders.delete(oldest);
      const h = this.held.get(oldest);
      this.held.delete(oldest);
      h?.release();
    }
  }

  private fromRef(ref: SessionRef): unknown {
    if (ref.kernel === this.kernel.id) return this.kernel.lookup(ref.session) ?? ref.toString();
    return this.senderProxy(ref.kernel, ref.session);
  }

  // ---- registry --------------------------------------------------------------------------

  private ownRegistry(): RegistryFrame {
    const sessions = this.kernel
      .list()
      .filter((s) => s.published.length > 0)
      .map((s) => [s.id, s.aliases, s.published]);
    return {
      type: FrameType.Registry,
      kernelId: this.kernel.id,
      kernelName: this.kernel.name,
      version: this.registryVersion,
      state: 'up',
      sessions,
      role: this.options.role,
    };
  }

  private queueRegistry(): void {
    if (this.registryQueued || this.stopping) return;
    this.registryQueued = true;
    queueMicrotask(() => {
      this.registryQueued = false;
      this.registryVersion++;
      this.broadcast(this.ownRegistry(), undefined);
      this.cloud?.publish(this.ownMeta());
    });
  }

  private entryFrame(entry: KernelEntry): RegistryFrame {
    return {
      type: FrameType.Registry,
      kernelId: entry.id,
      kernelName: entry.name,
      version: entry.version,
      state: 'up',
      sessions: [...entry.sessions.values()].map((s) => [s.id, s.aliases, s.events]),
      role: entry.role,
    };
  }

  /** On link up: our own registry; a host adds its leaves' (to hosts) or everything it knows (to a leaf). */
  private sendRegistriesTo(link: Link): void {
    link.send(this.ownRegistry());
    if (this.options.role !== 'host') return;
    const toLeaf = link.peer?.role === 'leaf';
    for (const entry of this.registry.all()) {
      if (entry.via === link) continue;
      if (toLeaf || entry.via?.peer?.role === 'leaf') link.send(this.entryFrame(entry));
    }
  }

  /** Sends to every up link except `except`. */
  private broadcast(frame: Frame, except: Link | undefined): void {
    for (const link of this.direct.values()) if (link !== except) link.send(frame);
  }

  private onRegistry(link: Link, f: RegistryFrame): void {
    if (f.kernelId === this.kernel.id) return;
    if (f.state === 'gone') {
      const fromLeaf = link.peer?.role === 'leaf';
      const entry = this.registry.get(f.kernelId);
      if (entry && entry.via === link && f.version > entry.version) {
        this.kernelGone(f.kernelId, 'left');
        if (this.options.role === 'host' && !fromLeaf) this.relayToLeaves(f, link);
      }
      return;
    }
    this.applyRegistry(f, link);
    if (f.kernelId === link.peer?.id) this.wakeSynced(link);
  }

  /**
   * Takes in a kernel's registry, from a REGISTRY frame (`link`) or from gossip (no link):
   * monitors hear of the kernel and of what changed, and a host passes it on (a leaf's to
   * everyone, anyone's to its leaves).
   */
  private applyRegistry(f: RegistryFrame, link: Link | undefined): void {
    if (f.kernelId === this.kernel.id) return;
    const gossip = this.cloud?.stateOf(f.kernelId);
    if (gossip === 'left' || gossip === 'dead') return; // late news of a kernel that is gone
    this.names.set(f.kernelId, f.kernelName);
    const applied = this.registry.apply(f, link ?? this.registry.get(f.kernelId)?.via);
    if (!applied) return;
    if (!this.known.has(f.kernelId)) {
      this.known.set(f.kernelId, f.kernelName);
      this.emit({
        type: 'kernel.up',
        kernel: f.kernelName,
        kernelId: f.kernelId,
        role: f.role,
        via: this.direct.has(f.kernelId) || !link ? undefined : link.peer?.name,
      });
    }
    this.emitChanges(applied.entry, applied.changes);
    if (this.options.role !== 'host') return;
    if (link?.peer?.role === 'leaf') this.broadcast(f, link);
    else this.relayToLeaves(f, link);
  }

  private relayToLeaves(f: RegistryFrame, from: Link | undefined): void {
    for (const l of this.direct.values()) if (l !== from && l.peer?.role === 'leaf') l.send(f);
  }

  private emitChanges(entry: KernelEntry, changes: RegistryChange[]): void {
    for (const c of changes) {
      if (c.type === 'unregister') {
        const gone = `session ${c.session.aliases[0] ?? c.session.id} on kernel ${entry.name} is gone`;
        this.dropProxy(c.session.id, new IkcError('IKC_ERR_NO_SESSION', gone));
      } else if (c.type === 'publish' || c.type === 'retract') {
        // A resolved proxy's `published` stays a live view of the remote session's.
        const proxy = this.held.get(c.session.id)?.proxy;
        if (proxy) proxy.publishedSet = new Set(c.session.events);
      }
      this.emit({
        type: c.type,
        kernel: entry.name,
        kernelId: entry.id,
        remote: true,
        session: { id: c.session.id, aliases: c.session.aliases, published: c.session.events, parent: null },
        ...(c.events ? { events: c.events } : {}),
      });
    }
  }

  private emit(event: Omit<MonitorEvent, 'kernel'> & { kernel?: string }): void {
    this.kernel.emit(event);
  }

  // ---- views and shutdown ----------------------------------------------------------------

  peers(): PeerView[] {
    const out: PeerView[] = [];
    for (const channel of this.channels.values()) {
      const link = channel.link;
      const peer = link?.peer;
      out.push({
        name: channel.peerName,
        id: channel.peerId,
        role: peer?.role ?? this.registry.get(channel.peerId)?.role ?? 'host',
        address: peer?.listen || link?.address || '-',
        state: link?.isUp
          ? this.cloud?.stateOf(channel.peerId) === 'suspect'
            ? 'suspect'
            : 'up'
          : 'resuming',
        rtt: link?.rtt,
        sessions: this.registry.get(channel.peerId)?.sessions.size ?? 0,
      });
    }
    for (const entry of this.registry.all()) {
      if (this.channels.has(entry.id)) continue;
      out.push({
        name: entry.name,
        id: entry.id,
        role: entry.role,
        address: entry.via ? `via ${entry.via.peer?.name}` : (this.cloud?.addressOf(entry.id) ?? '-'),
        state: this.cloud?.stateOf(entry.id) === 'suspect' ? 'suspect' : 'up',
        rtt: entry.via?.rtt,
        sessions: entry.sessions.size,
      });
    }
    return out;
  }

  /** Remote published sessions, by kernel name (for listings). */
  remoteSessions(): {
    kernel: string;
    kernelId: string;
    sessions: { id: string; aliases: string[]; published: string[] }[];
  }[] {
    return this.registry.all().map((e) => ({
      kernel: e.name,
      kernelId: e.id,
      sessions: [...e.sessions.values()].map((s) => ({ id: s.id, aliases: s.aliases, published: s.events })),
    }));
  }

  /** Says goodbye on every link (peers need not wait to notice), and fails what is pending. */
  stop(reason = 'shutdown'): void {
    if (this.stopping) return;
    this.stopping = true;
    this.unsubscribe();
    // Channels waiting for a link to come back end now: nothing should keep the process up.
    for (const channel of [...this.channels.values()]) {
      if (!channel.link) this.failChannel(channel, `kernel ${this.kernel.name} is shutting down`);
    }
    for (const timer of this.ackTimers.values()) clearTimeout(timer);
    // Acknowledge what we got before saying BYE, so peers do not report delivered posts as lost.
    for (const channel of this.channels.values()) {
      if (channel.link && channel.unackedIn > 0)
        channel.link.send({ type: FrameType.Ack, seq: channel.takeAck() });
    }
    for (const link of [...this.links]) {
      if (link.isUp)
        link.send(this.registryGoneFrame({ ...this.selfEntry(), version: this.registryVersion }));
      link.close(reason, `kernel ${this.kernel.name} is shutting down`);
    }
    this.pending.failAll(
      () => new IkcError('IKC_ERR_KERNEL_STOPPED', `kernel ${this.kernel.name} has stopped`),
    );
  }

  private selfEntry(): KernelEntry {
    return {
      id: this.kernel.id,
      name: this.kernel.name,
      role: this.options.role,
      version: this.registryVersion,
      sessions: new Map(),
      via: undefined as unknown as Link,
    };
  }
}
