import { formatSpec, type Kernel, type Session } from '@ikc/kernel';
import type { IkcError, SessionRef } from '@ikc/wire';
import { AnyEndpoint, SessionEndpoint } from './endpoints.js';
import type { Mesh } from './mesh.js';

/**
 * The proxies a mesh holds alive: of resolved remote sessions, of remote senders (bounded,
 * least recently used first out) and of `*` aliases.
 */
export class Proxies {
  /** Proxies this mesh holds alive, by session id, with the release of their hold. */
  private readonly held = new Map<string, { proxy: Session; release: () => void; kernelId: string }>();
  /** Sender proxies in least-recently-used order (ids), bounded by tuning.maxSenderProxies. */
  private readonly senders = new Map<string, true>();
  private readonly anyProxies = new Map<string, Session>();
  private lastSender: Session | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly kernel: Kernel,
    private readonly maxSenderProxies: number,
    private readonly kernelNameOf: (id: string) => string,
  ) {}

  /** The proxy of `poe://* /ALIAS`, made and held on first need. */
  anyProxy(alias: string): Session {
    let proxy = this.anyProxies.get(alias);
    if (!proxy?.alive) {
      proxy = this.kernel.addProxy(new AnyEndpoint(this.mesh, alias), `*/${alias}@${this.kernel.id}`, [
        formatSpec({ kernel: '*', session: alias }),
      ]);
      this.kernel.hold(proxy);
      this.anyProxies.set(alias, proxy);
    }
    return proxy;
  }

  /** The proxy of a remote session, made and held on first need. */
  proxyFor(
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
    const endpoint = new SessionEndpoint(this.mesh, kernelId, this.kernelNameOf(kernelId), sessionId);
    const proxy = this.kernel.addProxy(endpoint, sessionId, aliases, events);
    if (!proxy.isProxy) return proxy; // a local session has that id: never shadow it
    this.held.set(sessionId, { proxy, release: this.kernel.hold(proxy), kernelId });
    if (sender) this.rememberSender(sessionId);
    return proxy;
  }

  /** `ctx.sender` for an event from a remote session. */
  senderProxy(kernelId: string, sessionId: string): Session {
    // A stream from one sender: no map work at all for every frame after the first.
    const last = this.lastSender;
    if (last && last.id === sessionId && last.alive) return last;
    const proxy = this.lookupSenderProxy(kernelId, sessionId);
    this.lastSender = proxy;
    return proxy;
  }

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
    while (this.senders.size > this.maxSenderProxies) {
      const oldest = this.senders.keys().next().value as string;
      this.senders.delete(oldest);
      const h = this.held.get(oldest);
      this.held.delete(oldest);
      h?.release();
    }
  }

  /** What a session reference decodes to: the local session, or a remote one's sender proxy. */
  fromRef(ref: SessionRef): unknown {
    if (ref.kernel === this.kernel.id) return this.kernel.lookup(ref.session) ?? ref.toString();
    return this.senderProxy(ref.kernel, ref.session);
  }

  /** The held proxy of a remote session, if any. */
  heldProxy(sessionId: string): Session | undefined {
    return this.held.get(sessionId)?.proxy;
  }

  /**
   * Stops a proxy whose kernel or session went away. From then on using it fails with
   * `gone`, and its specifier aliases are free for a proxy of a new incarnation.
   */
  drop(sessionId: string, gone: IkcError): void {
    const held = this.held.get(sessionId);
    if (!held) return;
    (held.proxy.remote as SessionEndpoint).gone = gone;
    this.held.delete(sessionId);
    this.senders.delete(sessionId);
    held.release();
    this.kernel.stopSession(held.proxy);
  }

  /** Drops every proxy of a kernel that went away. */
  dropKernel(kernelId: string, gone: IkcError): void {
    for (const [sid, h] of [...this.held]) if (h.kernelId === kernelId) this.drop(sid, gone);
  }
}
