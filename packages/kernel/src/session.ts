import type { IkcError } from '@ikc/wire';
import type { Context } from './context.js';
import type { Kernel } from './kernel.js';

/**
 * An event handler. It gets the event's context first, then the event's arguments; what it
 * returns (or what its promise resolves to) is the result of a `call`.
 */
// biome-ignore lint/suspicious/noExplicitAny: handlers declare their own argument types.
export type Handler<H = any> = (ctx: Context<H>, ...args: any[]) => unknown;

// biome-ignore lint/suspicious/noExplicitAny: a session's handler state is whatever its definition says.
export type Events<H = any> = Record<string, Handler<H>>;

/** What `kernel.spawn()` takes, and what a session module's default export is. */
// biome-ignore lint/suspicious/noExplicitAny: a session's handler state is whatever its definition says.
export interface SessionDefinition<H = any> {
  /** Names this session holds on its kernel; each keeps the session alive. */
  alias?: string | string[];
  /** Events other kernels may post to and call. */
  publish?: string[];
  /** The session's own state, as `ctx.heap` (default: a new empty object). */
  heap?: H;
  /** Event name -> handler. `_start`, `_stop`, `_child`, `_parent`, `_signal`, `_error` and
   * `_default` are the kernel's own events. */
  events: Events<H>;
  /** Arguments for `_start`. */
  args?: unknown[];
}

/** Options of a call: how long to wait, and a way to give up early. */
export interface CallOptions {
  /** Reject with IKC_ERR_TIMEOUT after this long (milliseconds). */
  timeoutMs?: number;
  /** Reject with IKC_ERR_ABORTED when this signal aborts. */
  signal?: AbortSignal;
  /**
   * Send the call to another kernel at once, rather than with the other frames of this turn
   * of the event loop (which go together when the turn's synchronous work is done): for a
   * call whose answer is awaited while the caller does more work first.
   */
  flush?: boolean;
}

/**
 * Where a proxy session's events go: a session on another kernel. @ikc/mesh implements it;
 * the local kernel hands post and call to it instead of dispatching them.
 */
export interface RemoteEndpoint {
  readonly kernelId: string;
  readonly kernelName: string;
  post(sender: Session, event: string, args: unknown[]): void;
  call(sender: Session, event: string, args: unknown[], options: CallOptions): Promise<unknown>;
  /** Tells the remote sender that an event it posted here failed (the kernel calls this for
   * a proxy sender instead of queueing `_error` to it). */
  error?(err: IkcError, about: { session?: string; event?: string }): void;
  /** Once set, why this proxy no longer works (its kernel or session went away). */
  gone?: IkcError;
  /** Resolves when events to it may flow (the link's send buffer has room). */
  ready?(): Promise<void>;
}

/** Life states. A session is only addressable while RUNNING. */
export const RUNNING = 1;
export const STOPPING = 2;
export const STOPPED = 3;

/** What monitors and listings show of a session. */
export interface SessionInfo {
  id: string;
  aliases: string[];
  published: string[];
  parent: string | null;
}

/**
 * A session: a small actor with a cloud-unique id, aliases, a heap and event handlers.
 * The object is also a reference: pass it as an event argument, post to it, call it.
 * Fields marked internal belong to the kernel; use the context's methods to change them.
 */
// biome-ignore lint/suspicious/noExplicitAny: a session's handler state is whatever its definition says.
export class Session<H = any> {
  /** @internal */ events: Events<H>;
  /** @internal Count of what keeps this session alive (aliases, queued events, timers, children, holds, pending async handlers). */
  refs = 0;
  /** @internal */ state = RUNNING;
  /** @internal */ aliasList: string[] | null = null;
  /** @internal */ parentSession: Session | null;
  /** @internal */ childSet: Set<Session> | null = null;
  /** @internal */ publishedSet: Set<string> | null = null;
  /** @internal Named timers (ctx.delay / ctx.alarm): name -> alarm id. */
  named: Map<string, number> | null = null;
  /** @internal Every pending alarm of this session, so a stop can cancel them. */
  alarmIds: Set<number> | null = null;
  /** Set on a proxy: the remote session its events go to. Null for a local session. */
  remote: RemoteEndpoint | null = null;

  constructor(
    readonly kernel: Kernel,
    readonly id: string,
    events: Events<H>,
    public heap: H,
    parent: Session | null,
  ) {
    this.events = events;
    this.parentSession = parent;
  }

  get aliases(): string[] {
    return this.aliasList ? [...this.aliasList] : [];
  }

  get published(): string[] {
    return this.publishedSet ? [...this.publishedSet] : [];
  }

  /** Whether the session publishes `event` (as `published.includes(event)`, without a copy). */
  publishes(event: string): boolean {
    return this.publishedSet?.has(event) === true;
  }

  get parent(): Session | null {
    return this.parentSession;
  }

  get children(): Session[] {
    return this.childSet ? [...this.childSet] : [];
  }

  /** True until the session has begun to stop. */
  get alive(): boolean {
    return this.state === RUNNING;
  }

  /** How many things hold this session alive right now. */
  get holds(): number {
    return this.refs;
  }

  /** True for a proxy of a session on another kernel. */
  get isProxy(): boolean {
    return this.remote !== null;
  }

  info(): SessionInfo {
    return {
      id: this.id,
      aliases: this.aliases,
      published: this.published,
      parent: this.parentSession?.id ?? null,
    };
  }

  post(event: string, ...args: unknown[]): void {
    this.kernel.post(this, event, ...args);
  }

  call<T = unknown>(event: string, ...args: unknown[]): Promise<T> {
    return this.kernel.call<T>(this, event, ...args);
  }

  toString(): string {
    return `Session(${this.aliasList?.[0] ?? this.id})`;
  }
}
