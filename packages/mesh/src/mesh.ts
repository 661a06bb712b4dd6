import {
  type CallOptions,
  formatSpec,
  type Kernel,
  type MonitorEvent,
  type Router,
  type Session,
  type SessionInfo,
  type Spec,
} from '@ikc/kernel';
import {
  type CallFrame,
  type ErrorFrame,
  type Frame,
  FrameType,
  IkcError,
  type KernelRole,
  type LinkSide,
  type PostFrame,
  type RegistryFrame,
  type ReplyFrame,
} from '@ikc/wire';
import { AnyRouting } from './any-routing.js';
import { PendingCalls } from './calls.js';
import { Channel } from './channel.js';
import type { Cloud } from './cloud.js';
import type { MeshTuning } from './defaults.js';
import { Delivery } from './delivery.js';
import { Grants } from './grants.js';
import { Inbound } from './inbound.js';
import { Link, type PeerInfo } from './link.js';
import type { Logger } from './log.js';
import { Outbound } from './outbound.js';
import { Proxies } from './proxies.js';
import { Registry, sessionIn } from './registry.js';
import { RegistryExchange } from './registry-exchange.js';
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

/** Gossip messages kept per address while a lazy link is being opened. */
const GOSSIP_QUEUE_MAX = 16;

/** Kernel names whose id kernelIdOf keeps (it forgets them all past this many). */
const ID_BY_NAME_MAX = 1_024;

function memberAddressOf(listen: string): string {
  return listen.replace(/^wss?:\/\//, '').replace(/\/$/, '');
}

/** What `peers()` shows of each kernel this one knows. */
export interface PeerView {
  name: string;
  id: string;
  role: string;
  /** The address of the direct link, or "via NAME" for a kernel reached through a host. */
  address: string;
  /**
   * 'up'; 'suspect' while gossip suspects it; 'resuming' while a dropped link may come back;
   * 'down' once gossip holds it dead, while its channel still waits (a frozen kernel's socket
   * can stay open until deadAfterMs, a cut link until the resume window ends).
   */
  state: 'up' | 'suspect' | 'resuming' | 'down';
  /** Round-trip time of the link that leads to it (milliseconds), when measured. */
  rtt: number | undefined;
  sessions: number;
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
  private readonly grants = new Grants();
  private readonly proxies: Proxies;
  private readonly anyRouting: AnyRouting;
  private readonly outbound: Outbound;
  private readonly delivery: Delivery;
  private readonly exchange: RegistryExchange;
  private readonly inbound: Inbound;
  /** The conversation with each peer incarnation, by peer kernel id: outlives its links. */
  private readonly channels = new Map<string, Channel>();
  /** The id each kernel name last led to through a channel (kernelIdOf). */
  private readonly idByName = new Map<string, string>();
  /** Kernels this one has announced as up to monitors. */
  private readonly known = new Map<string, string>();
  /** Every kernel name seen, by id, so errors about a kernel that is gone can still name it. */
  private readonly names = new Map<string, string>();
  /** The cloud membership, on a host kernel. */
  cloud: Cloud | undefined;
  /** Gossip waiting for a lazily opened link, by address. */
  private readonly gossipQueue = new Map<string, unknown[]>();
  private stopping = false;
  private readonly unsubscribe: () => void;

  constructor(options: MeshOptions) {
    this.options = options;
    this.kernel = options.kernel;
    this.log = options.log;
    const kernelNameOf = (id: string) => this.kernelNameOf(id);
    const emit = (event: Omit<MonitorEvent, 'kernel'> & { kernel?: string }) => this.emit(event);
    this.proxies = new Proxies(this, this.kernel, options.tuning.maxSenderProxies, kernelNameOf);
    this.outbound = new Outbound({
      mesh: this,
      kernel: this.kernel,
      tuning: options.tuning,
      log: this.log,
      pending: this.pending,
      routeTo: (id) => this.routeTo(id),
      kernelNameOf,
      grant: (id, session) => this.grant(id, session),
      acknowledge: (channel) => this.delivery.piggyback(channel),
    });
    this.delivery = new Delivery({
      kernel: this.kernel,
      tuning: options.tuning,
      log: this.log,
      pending: this.pending,
      outbound: this.outbound,
      kernelNameOf,
      emit,
      failChannel: (channel, cause) => this.failChannel(channel, cause),
      stopping: () => this.stopping,
    });
    this.anyRouting = new AnyRouting({
      kernel: this.kernel,
      registry: this.registry,
      balance: options.balance,
      reachable: (id) => !this.shunned(id) && this.routeTo(id) !== undefined,
      sendPost: (...a) => this.sendPost(...a),
      sendCall: (...a) => this.sendCall(...a),
    });
    this.exchange = new RegistryExchange({
      kernel: this.kernel,
      role: options.role,
      registry: this.registry,
      direct: this.direct,
      names: this.names,
      known: this.known,
      proxies: this.proxies,
      cloud: () => this.cloud,
      stopping: () => this.stopping,
      kernelGone: (id, reason) => this.kernelGone(id, reason),
      emit,
    });
    this.inbound = new Inbound({
      kernel: this.kernel,
      role: options.role,
      tuning: options.tuning,
      log: this.log,
      pending: this.pending,
      grants: this.grants,
      proxies: this.proxies,
      outbound: this.outbound,
      delivery: this.delivery,
      routeTo: (id) => this.routeTo(id),
      kernelNameOf,
      emit,
    });
    this.kernel.attachRouter(this);
    // The registry lists the sessions that publish events, with their aliases: only a change
    // to one of those is news. A session that publishes nothing (a job's peer, a call's
    // sender) comes and goes without a REGISTRY frame.
    const watch = this.kernel.monitor(['register', 'unregister', 'publish', 'retract', 'alias'], (e) => {
      if (e.kernel !== this.kernel.name || e.remote) return;
      const session = e.session as SessionInfo;
      if (e.type === 'unregister') this.grants.forgetSession(session.id);
      if (e.type === 'publish' || e.type === 'retract' || session.published.length > 0) this.exchange.queue();
    });
    this.unsubscribe = () => watch.close();
  }

  /** Where this kernel listens for others (told to peers in HELLO); set by the node once bound. */
  listenAddress: string | undefined;

  get role(): KernelRole {
    return this.options.role;
  }

  // ---- links -----------------------------------------------------------------------------

  /**
   * Takes a new connection, dialed (`dialer`) or accepted (`listener`), and runs its
   * handshake. `secret` replaces the cloud's secret on this one link (a module job's leaf
   * proves a token of its own, never learning the cloud's).
   */
  adopt(
    conn: Conn,
    side: LinkSide,
    onDown?: (link: Link, why: { reason: string; error?: IkcError; wasUp: boolean }) => void,
    secret: string = this.options.secret,
  ): Link {
    if (this.stopping || this.leaving) conn.close(1000, 'shutting down'); // e.g. a lazy dial that finished late
    const link = new Link({
      conn,
      side,
      cloud: this.options.cloud,
      secret,
      kernelId: this.kernel.id,
      kernelName: this.kernel.name,
      role: this.options.role,
      listen: this.listenAddress,
      tuning: this.options.tuning,
      log: this.log,
      codec: { fromRef: (ref) => this.proxies.fromRef(ref) },
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
    return this.exchange.synced(link);
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
    for (const { frame, error } of refused) this.delivery.unsendable(frame, error, peer.id);
    this.log.info(
      { peer: peer.name, id: peer.id, role: peer.role, address: link.address, resumed, resent },
      resumed ? 'link resumed' : 'link up',
    );
    this.exchange.sendTo(link);
  }

  private onDown(link: Link, why: { reason: string; error?: IkcError; wasUp: boolean }): void {
    this.links.delete(link);
    this.exchange.wakeSynced(link);
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
    if (peer.listen) this.delivery.probeWhileDown(channel, peer.listen, cause);
  }

  /**
   * Ends the conversation with a peer incarnation: its calls in flight reject, every post
   * it never acknowledged is reported to its sender as undeliverable, calls relayed through
   * it fail back to their callers, and the kernels reached through it are gone.
   */
  private failChannel(channel: Channel, cause: string): void {
    if (channel.failed) return;
    this.channels.delete(channel.peerId);
    this.delivery.forget(channel);
    const lost = channel.fail();
    const name = channel.peerName;
    const unreachable = () => new IkcError('IKC_ERR_UNREACHABLE', `kernel ${name} went away (${cause})`);
    this.pending.failPeer(channel.peerId, unreachable);
    this.inbound.forgetPeer(channel.peerId);
    // Reported to the sessions that posted them, unless this kernel is the one stopping.
    if (!this.stopping) for (const frame of lost) this.delivery.undelivered(frame, name, cause);
    this.inbound.failRelayed(channel.peerId, unreachable);
    channel.link?.close('failed', cause);
    for (const entry of this.registry.reachedThrough(channel.peerId)) this.kernelGone(entry.id, cause);
    this.kernelGone(channel.peerId, cause, name);
  }

  /** Forgets a kernel: its registry, proxies and grants; tells monitors; a host tells its peers. */
  private kernelGone(id: string, reason: string, name?: string): void {
    if (this.channels.has(id)) return; // still talking to it (linked, or within the resume window)
    const removed = this.registry.remove(id);
    const kernelName = removed?.entry.name ?? name ?? id;
    if (removed) this.exchange.emitChanges(removed.entry, removed.changes);
    this.grants.forgetKernel(id);
    const gone = new IkcError('IKC_ERR_UNREACHABLE', `kernel ${kernelName} went away (${reason})`);
    this.proxies.dropKernel(id, gone);
    if (this.known.delete(id)) {
      this.emit({ type: 'kernel.down', kernel: kernelName, kernelId: id, reason });
    }
    if (this.options.role === 'host' && removed) {
      // Our leaf (or a kernel we relayed) is gone: peers that reached it through us must know.
      this.exchange.broadcast(this.exchange.goneFrame(removed.entry), undefined);
    }
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
      this.onSequenced(link, frame);
      // The acknowledgement's timer after the frame is handled, not before: arming it costs a
      // just-woken kernel tens of microseconds, and a remote call's handler (a fork) should
      // not wait for that.
      this.delivery.scheduleAck(channel);
      return;
    }
    switch (frame.type) {
      case FrameType.Registry:
        return this.exchange.receive(link, frame);
      case FrameType.Gossip:
        this.cloud?.receive(link, frame.payload);
        return;
      default:
        throw new IkcError('IKC_ERR_PROTOCOL', `unexpected ${frame.type} frame from ${link.peer?.name}`);
    }
  }

  private onSequenced(link: Link, frame: PostFrame | CallFrame | ReplyFrame | ErrorFrame): void {
    switch (frame.type) {
      case FrameType.Post:
        return this.inbound.post(link, frame);
      case FrameType.Call:
        return this.inbound.call(link, frame);
      case FrameType.Reply:
        return this.inbound.reply(link, frame);
      case FrameType.Error:
        return this.inbound.error(link, frame);
    }
  }

  // ---- routes ----------------------------------------------------------------------------

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

  // ---- gossip ----------------------------------------------------------------------------

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
    return this.exchange.ownMeta();
  }

  /** Gossip: a member is alive (again), with its published sessions if it says them. */
  memberUp(id: string, name: string, _address: string, registry: RegistryFrame | undefined, load = 0): void {
    this.names.set(id, name);
    this.anyRouting.setLoad(id, load);
    if (registry) this.exchange.apply(registry, this.direct.get(id));
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

  // ---- sending ---------------------------------------------------------------------------

  /** Resolves when the route to `kernelId` has room in its send buffer (see sendBufferBytes). */
  readyFor(kernelId: string): Promise<void> {
    return this.routeTo(kernelId)?.ready() ?? Promise.resolve();
  }

  /** Lets a kernel post back to a local session it was shown (as a sender or an argument). */
  grant(kernelId: string, session: Session): void {
    this.grants.grant(kernelId, session);
  }

  /** The kernel id a specifier's kernel part names (a name or an id), if known. */
  kernelIdOf(kernel: string): string | undefined {
    if (this.channels.has(kernel) || this.registry.get(kernel)) return kernel;
    // Posts by specifier name a kernel on every post: keep the id a name last led to, while
    // its channel is there under that name, rather than look through every channel.
    const last = this.idByName.get(kernel);
    if (last !== undefined && this.channels.get(last)?.peerName === kernel) return last;
    for (const c of this.channels.values()) {
      if (c.peerName !== kernel) continue;
      if (this.idByName.size >= ID_BY_NAME_MAX) this.idByName.clear();
      this.idByName.set(kernel, c.peerId);
      return c.peerId;
    }
    return this.registry.find(kernel)?.id;
  }

  private kernelNameOf(id: string): string {
    return this.channels.get(id)?.peerName ?? this.registry.get(id)?.name ?? this.names.get(id) ?? id;
  }

  sendPost(kernelId: string, to: string, sender: Session, event: string, args: unknown[]): void {
    this.outbound.sendPost(kernelId, to, sender, event, args);
  }

  sendCall(
    kernelId: string,
    to: string,
    sender: Session,
    event: string,
    args: unknown[],
    options: CallOptions,
  ): Promise<unknown> {
    return this.outbound.sendCall(kernelId, to, sender, event, args, options);
  }

  /** A post from a remote session failed here (a handler threw, no handler...): tell it. */
  sendPostError(
    kernelId: string,
    replyTo: string,
    err: IkcError,
    about: { session?: string; event?: string },
  ): void {
    this.outbound.sendPostError(kernelId, replyTo, err, about);
  }

  /**
   * Resolves when `kernelId` has dispatched everything this kernel sent it before (a CALL
   * with empty target and event). A post's failure there reaches its sender before this does.
   */
  barrier(kernelId: string, timeoutMs?: number): Promise<void> {
    return this.outbound.barrier(kernelId, timeoutMs);
  }

  /** The kernel that a `*` post or call to ALIAS would go to next, if any publishes ALIAS. */
  nextPublisher(alias: string): string | undefined {
    return this.anyRouting.nextPublisher(alias);
  }

  // ---- the Router contract (what the kernel hands over) ----------------------------------

  post(sender: Session, spec: Spec, event: string, args: unknown[]): void {
    if (spec.kernel === '*') {
      this.routeAny(sender, spec, event, args, undefined);
      return;
    }
    const kernelId = this.kernelIdOf(spec.kernel);
    if (!kernelId)
      return this.kernel.reportError(sender, this.outbound.unreachable(spec.kernel), {
        session: spec.session,
        event,
      });
    this.sendPost(kernelId, spec.session, sender, event, args);
  }

  call(sender: Session, spec: Spec, event: string, args: unknown[], options: CallOptions): Promise<unknown> {
    if (spec.kernel === '*') return this.routeAny(sender, spec, event, args, options) as Promise<unknown>;
    const kernelId = this.kernelIdOf(spec.kernel);
    if (!kernelId) return Promise.reject(this.outbound.unreachable(spec.kernel));
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
    return this.anyRouting.route(sender, spec, event, args, options, exclude);
  }

  ready(spec: Spec): Promise<void> {
    const kernelId = spec.kernel === '*' ? this.nextPublisher(spec.session) : this.kernelIdOf(spec.kernel);
    return kernelId ? this.readyFor(kernelId) : Promise.resolve();
  }

  async resolve(spec: Spec): Promise<Session> {
    if (spec.kernel === '*') {
      if (this.registry.publishers(spec.session).length === 0) {
        throw new IkcError('IKC_ERR_NO_SESSION', `no kernel in the cloud publishes "${spec.session}"`);
      }
      return this.proxies.anyProxy(spec.session);
    }
    const kernelId = this.kernelIdOf(spec.kernel);
    if (!kernelId) throw this.outbound.unreachable(spec.kernel);
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
    return this.proxies.proxyFor(kernelId, id, aliases, info?.events ?? [], false);
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
        state: this.peerState(channel.peerId, link?.isUp ?? false),
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
        state: this.peerState(entry.id, true),
        rtt: entry.via?.rtt,
        sessions: entry.sessions.size,
      });
    }
    return out;
  }

  /** What peers() shows of kernel `id`: gossip's verdict first, then the link's. */
  private peerState(id: string, linked: boolean): PeerView['state'] {
    if (this.shunned(id)) return 'down';
    if (!linked) return 'resuming';
    return this.cloud?.stateOf(id) === 'suspect' ? 'suspect' : 'up';
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
    this.delivery.clearTimers();
    // Acknowledge what we got before saying BYE, so peers do not report delivered posts as lost.
    for (const channel of this.channels.values()) {
      if (channel.link && channel.unackedIn > 0)
        channel.link.send({ type: FrameType.Ack, seq: channel.takeAck() });
    }
    for (const link of [...this.links]) {
      if (link.isUp) link.send(this.exchange.selfGoneFrame());
      link.close(reason, `kernel ${this.kernel.name} is shutting down`);
    }
    this.pending.failAll(
      () => new IkcError('IKC_ERR_KERNEL_STOPPED', `kernel ${this.kernel.name} has stopped`),
    );
  }
}
