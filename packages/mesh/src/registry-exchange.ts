import type { Kernel, MonitorEvent } from '@ikc/kernel';
import { type Frame, FrameType, IkcError, type KernelRole, type RegistryFrame } from '@ikc/wire';
import type { Cloud } from './cloud.js';
import type { Link } from './link.js';
import type { Proxies } from './proxies.js';
import type { KernelEntry, Registry, RegistryChange } from './registry.js';

export interface RegistryExchangeOptions {
  kernel: Kernel;
  role: KernelRole;
  registry: Registry;
  /** Peer kernel id -> its up link. */
  direct: Map<string, Link>;
  /** Every kernel name seen, by id. */
  names: Map<string, string>;
  /** Kernels this one has announced as up to monitors. */
  known: Map<string, string>;
  proxies: Proxies;
  cloud: () => Cloud | undefined;
  stopping: () => boolean;
  /** Forgets a kernel (see Mesh.kernelGone). */
  kernelGone: (id: string, reason: string) => void;
  emit: (event: Omit<MonitorEvent, 'kernel'> & { kernel?: string }) => void;
}

/**
 * REGISTRY frames: this kernel's own registry sent to its peers (and gossiped), the
 * registries of others taken in and told to monitors, and a host's relaying of them.
 */
export class RegistryExchange {
  /** Waiting for a peer's first REGISTRY (see synced()), by link. */
  private readonly syncWaiters = new Map<Link, (() => void)[]>();
  private version = 0;
  private queued = false;

  constructor(private readonly options: RegistryExchangeOptions) {}

  /**
   * Resolves once the peer of `link` has sent its registry (and, from a host, what it relays,
   * which follows in the same message), or once the link is gone: after that, resolving and
   * calling what the peer publishes works.
   */
  synced(link: Link): Promise<void> {
    if (link.isClosed || (link.peer && this.options.registry.get(link.peer.id)?.via === link)) {
      return new Promise((resolve) => setImmediate(resolve));
    }
    return new Promise((resolve) => {
      let list = this.syncWaiters.get(link);
      if (!list) this.syncWaiters.set(link, (list = []));
      list.push(() => setImmediate(resolve));
    });
  }

  wakeSynced(link: Link): void {
    const list = this.syncWaiters.get(link);
    if (!list) return;
    this.syncWaiters.delete(link);
    for (const wake of list) wake();
  }

  /** What this kernel gossips about itself. */
  ownMeta(): { v: number; role: string; sessions: readonly unknown[]; load: number } {
    const frame = this.ownRegistry();
    return {
      v: frame.version,
      role: this.options.role,
      sessions: frame.sessions,
      load: this.options.kernel.backlog,
    };
  }

  private ownRegistry(): RegistryFrame {
    const sessions = this.options.kernel
      .list()
      .filter((s) => s.published.length > 0)
      .map((s) => [s.id, s.aliases, s.published]);
    return {
      type: FrameType.Registry,
      kernelId: this.options.kernel.id,
      kernelName: this.options.kernel.name,
      version: this.version,
      state: 'up',
      sessions,
      role: this.options.role,
    };
  }

  /** This kernel's registry changed: peers (and gossip) hear of it once the current turn ends. */
  queue(): void {
    if (this.queued || this.options.stopping()) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.version++;
      this.broadcast(this.ownRegistry(), undefined);
      this.options.cloud()?.publish(this.ownMeta());
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

  goneFrame(entry: KernelEntry): RegistryFrame {
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

  /** The REGISTRY frame that says this kernel is gone (sent on shutdown). */
  selfGoneFrame(): RegistryFrame {
    return this.goneFrame({ ...this.selfEntry(), version: this.version });
  }

  private selfEntry(): KernelEntry {
    return {
      id: this.options.kernel.id,
      name: this.options.kernel.name,
      role: this.options.role,
      version: this.version,
      sessions: new Map(),
      via: undefined as unknown as Link,
    };
  }

  /** On link up: our own registry; a host adds its leaves' (to hosts) or everything it knows (to a leaf). */
  sendTo(link: Link): void {
    link.send(this.ownRegistry());
    if (this.options.role !== 'host') return;
    const toLeaf = link.peer?.role === 'leaf';
    for (const entry of this.options.registry.all()) {
      if (entry.via === link) continue;
      if (toLeaf || entry.via?.peer?.role === 'leaf') link.send(this.entryFrame(entry));
    }
  }

  /** Sends to every up link except `except`. */
  broadcast(frame: Frame, except: Link | undefined): void {
    for (const link of this.options.direct.values()) if (link !== except) link.send(frame);
  }

  receive(link: Link, f: RegistryFrame): void {
    if (f.kernelId === this.options.kernel.id) return;
    if (f.state === 'gone') {
      const fromLeaf = link.peer?.role === 'leaf';
      const entry = this.options.registry.get(f.kernelId);
      if (entry && entry.via === link && f.version > entry.version) {
        this.options.kernelGone(f.kernelId, 'left');
        if (this.options.role === 'host' && !fromLeaf) this.relayToLeaves(f, link);
      }
      return;
    }
    this.apply(f, link);
    if (f.kernelId === link.peer?.id) this.wakeSynced(link);
  }

  /**
   * Takes in a kernel's registry, from a REGISTRY frame (`link`) or from gossip (no link):
   * monitors hear of the kernel and of what changed, and a host passes it on (a leaf's to
   * everyone, anyone's to its leaves).
   */
  apply(f: RegistryFrame, link: Link | undefined): void {
    const { kernel, registry, known } = this.options;
    if (f.kernelId === kernel.id) return;
    const gossip = this.options.cloud()?.stateOf(f.kernelId);
    if (gossip === 'left' || gossip === 'dead') return; // late news of a kernel that is gone
    this.options.names.set(f.kernelId, f.kernelName);
    const applied = registry.apply(f, link ?? registry.get(f.kernelId)?.via);
    // Nothing new, but a kernel gossip had found dead (its entry kept while its channel
    // waited) is alive again: monitors hear it is up, as they heard it was down.
    if (!applied && (known.has(f.kernelId) || !registry.get(f.kernelId))) return;
    if (!known.has(f.kernelId)) {
      known.set(f.kernelId, f.kernelName);
      this.options.emit({
        type: 'kernel.up',
        kernel: f.kernelName,
        kernelId: f.kernelId,
        role: f.role,
        via: this.options.direct.has(f.kernelId) || !link ? undefined : link.peer?.name,
      });
    }
    if (!applied) return;
    this.emitChanges(applied.entry, applied.changes);
    if (this.options.role !== 'host') return;
    if (link?.peer?.role === 'leaf') this.broadcast(f, link);
    else this.relayToLeaves(f, link);
  }

  private relayToLeaves(f: RegistryFrame, from: Link | undefined): void {
    for (const l of this.options.direct.values()) if (l !== from && l.peer?.role === 'leaf') l.send(f);
  }

  emitChanges(entry: KernelEntry, changes: RegistryChange[]): void {
    for (const c of changes) {
      if (c.type === 'unregister') {
        const gone = `session ${c.session.aliases[0] ?? c.session.id} on kernel ${entry.name} is gone`;
        this.options.proxies.drop(c.session.id, new IkcError('IKC_ERR_NO_SESSION', gone));
      } else if (c.type === 'publish' || c.type === 'retract') {
        // A resolved proxy's `published` stays a live view of the remote session's.
        const proxy = this.options.proxies.heldProxy(c.session.id);
        if (proxy) proxy.publishedSet = new Set(c.session.events);
      }
      this.options.emit({
        type: c.type,
        kernel: entry.name,
        kernelId: entry.id,
        remote: true,
        session: { id: c.session.id, aliases: c.session.aliases, published: c.session.events, parent: null },
        ...(c.events ? { events: c.events } : {}),
      });
    }
  }
}
