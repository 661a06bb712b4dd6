import type { CallOptions, Session } from './session.js';
import { isSpec, parseSpec, type Spec } from './spec.js';

/** Where an event can go: a session object, its id, one of its aliases, or poe://KERNEL/SESSION. */
export type Target = Session | string;

/**
 * Takes the events whose specifier names another kernel (or `*`). @ikc/mesh attaches one;
 * without it such a target is IKC_ERR_NOT_LOCAL. Errors of a routed post are the router's
 * to report, with kernel.reportError.
 */
export interface Router {
  post(sender: Session, spec: Spec, event: string, args: unknown[]): void;
  call(sender: Session, spec: Spec, event: string, args: unknown[], options: CallOptions): Promise<unknown>;
  /** A proxy for a session elsewhere, created on first resolution. */
  resolve(spec: Spec): Promise<Session>;
  /** Resolves when events to that kernel may flow (its send buffer has room). */
  ready?(spec: Spec): Promise<void>;
}

/** A target that names a session on another kernel, for the router. */
export class Routed {
  constructor(readonly spec: Spec) {}
}

/** One Routed per parsed (cached, frozen) specifier: a program posts to the same few over and over. */
const routed = new WeakMap<Spec, Routed>();

export function routedTo(spec: Spec): Routed {
  let found = routed.get(spec);
  if (found === undefined) {
    found = new Routed(spec);
    routed.set(spec, found);
  }
  return found;
}

/** Splits poe://K/S/EVENT targets: the event comes from the specifier, `event` is the first argument. */
export function splitTarget(target: Target, event: unknown, args: unknown[]): [Target, unknown, unknown[]] {
  if (typeof target === 'string' && isSpec(target)) {
    let spec: ReturnType<typeof parseSpec>;
    try {
      spec = parseSpec(target);
    } catch {
      return [target, event, args]; // find() reports the bad specifier
    }
    if (spec.event !== undefined) {
      if (args.length === 0) return [target, spec.event, event === undefined ? [] : [event]];
      return [target, spec.event, [event, ...args]];
    }
  }
  return [target, event, args];
}
