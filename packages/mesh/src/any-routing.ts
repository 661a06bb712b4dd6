import type { CallOptions, Kernel, Session, Spec } from '@ikc/kernel';
import { IkcError } from '@ikc/wire';
import type { KernelEntry, Registry } from './registry.js';
import { RemoteError } from './remote-error.js';

/**
 * True for an error that proves the event never reached its kernel: no route from here, or
 * a relaying host's "no route" (a RemoteError IKC_ERR_UNREACHABLE comes only from a relay;
 * a lost link's IKC_ERR_UNREACHABLE is a local error, and its event may have arrived).
 */
function neverDelivered(err: unknown): boolean {
  if (!IkcError.is(err, 'IKC_ERR_UNREACHABLE')) return false;
  return err instanceof RemoteError || err.details?.undelivered === true;
}

export interface AnyRoutingOptions {
  kernel: Kernel;
  registry: Registry;
  /** Where a `*` event goes: in turn (default), the least-loaded kernel, or here first. */
  balance: 'round-robin' | 'least-loaded' | 'local-first' | undefined;
  /** True for a kernel a `*` event may go to now (not shunned by gossip, and with a route). */
  reachable: (kernelId: string) => boolean;
  sendPost: (kernelId: string, to: string, sender: Session, event: string, args: unknown[]) => void;
  sendCall: (
    kernelId: string,
    to: string,
    sender: Session,
    event: string,
    args: unknown[],
    options: CallOptions,
  ) => Promise<unknown>;
}

/** `poe://* /ALIAS` events: which of the kernels that publish ALIAS takes each, and failing over. */
export class AnyRouting {
  private readonly roundRobin = new Map<string, number>();
  /** Each kernel's load as last gossiped (queued events and unsettled async handlers). */
  private readonly loads = new Map<string, number>();

  constructor(private readonly options: AnyRoutingOptions) {}

  /** Gossip told a kernel's load. */
  setLoad(kernelId: string, load: number): void {
    this.loads.set(kernelId, load);
  }

  /** The kernel that a `*` post or call to ALIAS would go to next, if any publishes ALIAS. */
  nextPublisher(alias: string): string | undefined {
    const candidates = this.options.registry
      .publishers(alias)
      .filter(({ entry }) => this.options.reachable(entry.id))
      .sort((a, b) => (a.entry.id < b.entry.id ? -1 : 1));
    if (candidates.length === 0) return undefined;
    const turn = this.roundRobin.get(alias) ?? 0;
    return candidates[turn % candidates.length]?.entry.id;
  }

  /** poe://* /ALIAS: one of the kernels that publish ALIAS, in turn (round robin). */
  route(
    sender: Session,
    spec: Spec,
    event: string,
    args: unknown[],
    options: CallOptions | undefined,
    exclude?: Set<string>,
  ): Promise<unknown> | undefined {
    const { kernel } = this.options;
    const candidates = this.options.registry
      .publishers(spec.session)
      .filter(({ entry }) => this.options.reachable(entry.id) && !exclude?.has(entry.id))
      .sort((a, b) => (a.entry.id < b.entry.id ? -1 : 1));
    if (candidates.length === 0) {
      const err = new IkcError('IKC_ERR_NO_SESSION', `no reachable kernel publishes "${spec.session}"`, {
        details: { session: spec.session },
      });
      if (options) return Promise.reject(err);
      kernel.reportError(sender, err, { session: spec.session, event });
      return undefined;
    }
    // local-first: a session here that publishes the event takes it, without a hop.
    if (this.options.balance === 'local-first' && !exclude) {
      const local = kernel.lookup(spec.session);
      if (local && !local.isProxy && local.publishes(event)) {
        if (options) return kernel.callFrom(sender, local, event, args, options);
        kernel.postFrom(sender, local, event, args);
        return undefined;
      }
    }
    const { entry, session } = this.choose(spec.session, candidates);
    if (options) {
      // Fail over: a call that certainly never reached its kernel (no route there, here or at
      // a relaying host) is tried on the next publisher. One that may have arrived is not
      // retried, so nothing runs twice.
      return this.options
        .sendCall(entry.id, session.id, sender, event, args, options)
        .catch((err: unknown) => {
          if (!neverDelivered(err)) throw err;
          const tried = new Set(exclude ?? []).add(entry.id);
          if (candidates.length <= 1) throw err;
          return this.route(sender, spec, event, args, options, tried);
        });
    }
    this.options.sendPost(entry.id, session.id, sender, event, args);
    return undefined;
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
}
