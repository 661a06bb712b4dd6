import type { IkcError } from '@ikc/wire';
import type { CallOptions, Session } from './session.js';
import { formatSpec, parseSpec, type Spec } from './spec.js';

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

/**
 * A specifier with what a kernel needs to route by it: parsed once per text and kept (a
 * program posts to the same few over and over), so a post by specifier costs one lookup.
 */
export interface SpecTarget {
  readonly spec: Spec;
  /** poe://KERNEL/SESSION, as a resolved proxy answers to it (an alias of this kernel). */
  readonly base: string;
  /** The same Routed for every event to it. */
  readonly routed: Routed;
}

const specTargets = new Map<string, SpecTarget>();
const SPEC_TARGETS_MAX = 4_096;

/** The SpecTarget of `text` (a poe:// specifier); throws IKC_ERR_BAD_SPEC as parseSpec does. */
export function specTarget(text: string): SpecTarget {
  let found = specTargets.get(text);
  if (found === undefined) {
    const spec = parseSpec(text);
    found = {
      spec,
      base: formatSpec({ kernel: spec.kernel, session: spec.session }),
      routed: new Routed(spec),
    };
    if (specTargets.size >= SPEC_TARGETS_MAX) specTargets.clear();
    specTargets.set(text, found);
  }
  return found;
}

/** specTarget, or the IKC_ERR_BAD_SPEC it throws, returned (find() reports it, never throws). */
export function specTargetOf(text: string): SpecTarget | IkcError {
  try {
    return specTarget(text);
  } catch (err) {
    return err as IkcError;
  }
}

/** The arguments of an event named by poe://K/S/EVENT: `event`, the parameter, is the first. */
export function shiftArgs(event: unknown, args: unknown[]): unknown[] {
  if (args.length === 0) return event === undefined ? [] : [event];
  return [event, ...args];
}
