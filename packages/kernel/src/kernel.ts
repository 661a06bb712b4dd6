import { hostname } from 'node:os';
import { IkcError } from '@ikc/wire';
import { nanoid } from 'nanoid';
import { Alarms } from './alarms.js';
import { Aliases } from './aliases.js';
import { type Clock, systemClock } from './clock.js';
import { Context } from './context.js';
import { withDeadline } from './deadline.js';
import { checkDefinition } from './definition.js';
import { defaultUnhandled, describe, ErrorReporter } from './errors.js';
import { EventQueue, type Queued } from './fifo.js';
import {
  type ForkedJob,
  type ForkedPool,
  type Forker,
  type ForkOptions,
  noJobs,
  type PoolOptions,
} from './fork.js';
import {
  type Monitor,
  type MonitorCallback,
  type MonitorEvent,
  MonitorHub,
  type MonitorOptions,
} from './monitor.js';
import {
  type CallOptions,
  type Handler,
  type RemoteEndpoint,
  RUNNING,
  Session,
  type SessionDefinition,
  type SessionInfo,
  STOPPED,
  STOPPING,
} from './session.js';
import { ProcessSignals, Signals } from './signals.js';
import { isSpec } from './spec.js';
import { Routed, type Router, type SpecTarget, shiftArgs, specTargetOf, type Target } from './targets.js';
import { postOrder, reparent, topLevel } from './tree.js';

export { TERMINAL_SIGNALS } from './signals.js';
export type { Router, Target } from './targets.js';

export interface KernelOptions {
  /** Human-chosen name, unique in a cloud (default: the host name). */
  name?: string;
  /** Source of time for timers (default: the system clock; tests pass a FakeClock). */
  clock?: Clock;
  /**
   * While sessions run, turn the process's SIGINT and SIGTERM into kernel signals, and when
   * Node's event loop runs dry with sessions left (nothing could ever wake them), send IDLE,
   * then the terminal ZOMBIE, as POE does (default: true).
   */
  processSignals?: boolean;
  /** Told of an error nobody else was: the sender has no `_error` handler and no monitor
   * watches errors (default: one line on stderr). */
  onUnhandledError?: (event: MonitorEvent) => void;
}

const NO_OPTIONS: CallOptions = Object.freeze({});

/** The event name of a queued task (queueCall); post() refuses empty names, so no event has it. */
const TASK = '';

/** Events the kernel itself sends; they never fall through to `_default`. */
const KERNEL_EVENTS: ReadonlySet<string> = new Set([
  '_start',
  '_stop',
  '_child',
  '_parent',
  '_signal',
  '_error',
]);

/** How long one turn of the dispatch loop may run before it lets I/O in. */
const DISPATCH_SLICE_MS = 10;

type Pending = Queued<Session>;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * A local kernel: sessions, their events, timers, signals and aliases, with POE's semantics.
 * It opens no sockets; @ikc/mesh connects kernels.
 */
export class Kernel {
  /** A nanoid, new each time a kernel starts (its incarnation). */
  readonly id: string;
  readonly name: string;
  readonly clock: Clock;
  /** Stands for the kernel itself: the sender of events posted from outside any session. */
  readonly root: Session;

  private readonly sessions = new Map<string, Session>();
  private readonly aliases = new Map<string, Session>();
  private readonly queue = new EventQueue<Session>();
  /** Where the dispatch loop reads each event into, so a queued event costs no object of its own. */
  private readonly next: Pending;
  private readonly monitors = new MonitorHub();
  private readonly errors: ErrorReporter;
  private readonly names: Aliases;
  private readonly alarms: Alarms;
  private readonly signals: Signals;
  private readonly processSignals: ProcessSignals;
  private counter = 0;
  /** Async handlers of posts and calls that have not settled yet. */
  private pendingHandlers = 0;
  private live = 0;
  private current: Session | null = null;
  private scheduled = false;
  private gcList: Session[] = [];
  private runWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private router: Router | undefined;

  constructor(options: KernelOptions = {}) {
    this.id = nanoid();
    this.name = options.name ?? hostname();
    this.clock = options.clock ?? systemClock;
    this.root = new Session(this, `${this.id}.0`, {}, {}, null);
    this.sessions.set(this.root.id, this.root);
    this.next = { target: this.root, event: '', args: [], sender: this.root };
    const emit: Kernel['emit'] = (event) => this.emit(event);
    const release = (session: Session) => this.release(session);
    const invokeNow = (session: Session, event: string, args: unknown[], sender: Session) =>
      this.invokeNow(session, event, args, sender);
    const onUnhandledError = options.onUnhandledError ?? defaultUnhandled;
    this.errors = new ErrorReporter(
      this.name,
      this.root,
      this.monitors,
      emit,
      (event) => onUnhandledError.call(this, event), // with the kernel as `this`, as it always was
      this.enqueue,
    );
    this.names = new Aliases(this.aliases, this.monitors, emit, release);
    this.alarms = new Alarms(this.clock, release, this.enqueue);
    this.signals = new Signals(this.root, invokeNow, (session) => this.stopSession(session), this.errors);
    this.processSignals = new ProcessSignals(
      options.processSignals ?? true,
      (name) => this.signal('*', name),
      () => this.queue.length === 0 && this.alarms.size === 0,
      () => this.live,
    );
  }

  // ---- sessions -------------------------------------------------------------------------

  /** Starts a session. Inside a handler, the running session becomes its parent (as in POE). */
  spawn<H = Record<string, unknown>>(definition: SessionDefinition<H>): Session<H> {
    const parent = this.current && this.current !== this.root ? this.current : null;
    return this.spawnChild(definition, parent);
  }

  /** @internal */
  spawnChild<H>(definition: SessionDefinition<H>, parent: Session | null): Session<H> {
    if (this.stopped) throw new IkcError('IKC_ERR_KERNEL_STOPPED', `kernel ${this.name} has stopped`);
    const events = checkDefinition(definition);
    const aliases = definition.alias === undefined ? [] : [definition.alias].flat();
    for (const alias of aliases) this.names.checkFree(alias, undefined);

    const heap = definition.heap ?? ({} as H);
    const session = new Session<H>(this, `${this.id}.${++this.counter}`, events, heap, parent);
    this.sessions.set(session.id, session);
    if (++this.live === 1) this.processSignals.install();
    if (parent) {
      (parent.childSet ??= new Set()).add(session);
      parent.refs++;
    }
    session.refs++; // held while _start runs
    for (const alias of aliases) this.aliasSet(session, alias);
    if (definition.publish?.length) this.publish(session, definition.publish);
    if (this.monitors.wants('register')) this.emit({ type: 'register', session: session.info() });

    let started: unknown;
    try {
      started = this.invokeNow(session, '_start', definition.args ?? [], parent ?? this.root);
    } catch (cause) {
      this.stopSession(session);
      throw new IkcError('IKC_ERR_HANDLER', `_start of session ${session.id} threw: ${describe(cause)}`, {
        cause,
        details: { session: session.id, event: '_start' },
      });
    }
    if (parent) this.notify(parent, '_child', ['create', session, started], session);
    this.release(session);
    return session;
  }

  /** The session a target names on this kernel, or undefined. Never throws for a missing one. */
  lookup(target: Target): Session | undefined {
    const found = this.quick(target) ?? (isSpec(target) ? this.find(target) : undefined);
    return found instanceof Session ? found : undefined;
  }

  /** The hot path of post and call: a live local session given as an object, id or alias. */
  private quick(target: Target): Session | undefined {
    if (target instanceof Session)
      return target.kernel === this && target.state === RUNNING ? target : undefined;
    if (typeof target !== 'string' || isSpec(target)) return undefined;
    const found = this.aliases.get(target) ?? this.sessions.get(target);
    return found?.state === RUNNING ? found : undefined;
  }

  /** Resolves a target to a session, or rejects with IKC_ERR_NO_SESSION (or IKC_ERR_NOT_LOCAL). */
  async resolve(target: Target): Promise<Session> {
    const found = this.find(target);
    if (found instanceof IkcError) {
      // A bare name that is not here may be a published alias elsewhere in the cloud.
      if (
        this.router &&
        found.code === 'IKC_ERR_NO_SESSION' &&
        typeof target === 'string' &&
        !isSpec(target)
      ) {
        return this.router.resolve({ kernel: '*', session: target });
      }
      throw found;
    }
    if (found instanceof Routed) return (this.router as Router).resolve(found.spec);
    return found;
  }

  /** Every live session on this kernel (the root excluded). */
  list(): SessionInfo[] {
    const out: SessionInfo[] = [];
    for (const s of this.sessions.values()) {
      if (s !== this.root && s.state === RUNNING && s.remote === null) out.push(s.info());
    }
    return out;
  }

  /** Number of live sessions (the root excluded). */
  get size(): number {
    return this.live;
  }

  /** Events waiting in the queue now. */
  get queued(): number {
    return this.queue.length;
  }

  /** Work not yet done: events waiting in the queue, and async handlers not yet settled. */
  get backlog(): number {
    return this.queue.length + this.pendingHandlers;
  }

  /**
   * Resolves when events to `target` may flow: at once for a local session; for a session
   * on another kernel, when the send buffer of the link that leads there has room again
   * (posts past its hard limit are refused with IKC_ERR_OVERFLOW). Await it in a loop that
   * sends a lot, and memory stays bounded.
   */
  ready(target: Target): Promise<void> {
    const found = this.find(target);
    if (found instanceof Routed) return this.router?.ready?.(found.spec) ?? Promise.resolve();
    if (found instanceof Session && found.remote?.ready) return found.remote.ready();
    return Promise.resolve();
  }

  private isLocalKernel(kernel: string): boolean {
    return kernel === '' || kernel === this.name || kernel === this.id;
  }

  /** Finds the session a target names and the event, or says exactly why not. */
  private find(target: Target): Session | IkcError | Routed {
    if (target instanceof Session) {
      if (target.kernel !== this) {
        return new IkcError(
          'IKC_ERR_NO_SESSION',
          `${target} belongs to kernel ${target.kernel.name}, not ${this.name}`,
        );
      }
      if (target.state !== RUNNING) {
        return target.remote?.gone ?? new IkcError('IKC_ERR_NO_SESSION', `session ${target.id} has stopped`);
      }
      return target;
    }
    if (typeof target !== 'string') {
      return new IkcError(
        'IKC_ERR_INVALID_ARG',
        `a target must be a session, an id, an alias or a poe:// specifier`,
      );
    }
    if (!isSpec(target)) return this.findNamed(target);
    const t = specTargetOf(target);
    return t instanceof IkcError ? t : this.findSpec(t, target);
  }

  /** find() of a parsed specifier (`text`, for errors). */
  private findSpec(t: SpecTarget, text: string): Session | IkcError | Routed {
    if (this.isLocalKernel(t.spec.kernel)) return this.findNamed(t.spec.session);
    // A resolved proxy answers to its specifier, as an alias of this kernel.
    const proxy = this.aliases.get(t.base);
    if (proxy?.state === RUNNING) return proxy;
    if (this.router) return t.routed;
    return new IkcError(
      'IKC_ERR_NOT_LOCAL',
      `"${text}" names kernel "${t.spec.kernel}", and kernel ${this.name} is not attached to a cloud`,
    );
  }

  private findNamed(name: string): Session | IkcError {
    const found = this.aliases.get(name) ?? this.sessions.get(name);
    if (found === undefined || found.state !== RUNNING) {
      return new IkcError('IKC_ERR_NO_SESSION', `no session "${name}" on kernel ${this.name}`, {
        details: { target: name },
      });
    }
    return found;
  }

  // ---- post and call ---------------------------------------------------------------------

  /**
   * Queues `event` for `target`, FIFO, fire-and-forget. The sender is the running session
   * (or the kernel's root). A target of the form poe://KERNEL/SESSION/EVENT carries the event
   * itself: then every other parameter is an argument. An error (no such session, no
   * handler, a handler that throws) reaches the sender as an `_error` event.
   */
  post(target: Target, event?: unknown, ...args: unknown[]): void {
    this.postFrom(this.current ?? this.root, target, event, args);
  }

  /**
   * Runs `target`'s handler for `event` now and resolves to its (awaited) return value. A
   * handler that throws rejects the call with what it threw.
   */
  call<T = unknown>(target: Target, event?: unknown, ...args: unknown[]): Promise<T> {
    return this.callFrom(this.current ?? this.root, target, event, args) as Promise<T>;
  }

  /** Like call, with a timeout (ms) and an AbortSignal: `callWith({ timeoutMs: 500 }, 'calc', 'add', 1, 2)`. */
  callWith<T = unknown>(
    options: CallOptions,
    target: Target,
    event?: unknown,
    ...args: unknown[]
  ): Promise<T> {
    return this.callFrom(this.current ?? this.root, target, event, args, options) as Promise<T>;
  }

  /** Lets a router (@ikc/mesh) take events for other kernels. */
  attachRouter(router: Router): void {
    this.router = router;
  }

  /**
   * Adds a proxy: a session of this kernel whose events go to `remote`. Its id is the remote
   * session's (ids are cloud-unique); `aliases` may be specifiers (`poe://beta/calc`). Proxies
   * do not count as live sessions for run(), and are not listed. The caller holds it alive
   * with hold() and releases it when the remote session is gone; then it stops like any session.
   */
  addProxy(remote: RemoteEndpoint, id: string, aliases: string[] = [], published: string[] = []): Session {
    const existing = this.sessions.get(id);
    if (existing?.state === RUNNING) return existing;
    const proxy = new Session(this, id, {}, {}, null);
    proxy.remote = remote;
    if (published.length) proxy.publishedSet = new Set(published);
    this.sessions.set(id, proxy);
    this.names.adopt(proxy, aliases);
    return proxy;
  }

  /**
   * @internal For a router: a call that waits its turn in the queue, behind the events
   * already posted, so a remote sender's posts and calls run in the order it sent them.
   */
  queueCall(sender: Session, target: Target, event: string, args: unknown[]): Promise<unknown> {
    // Nothing waiting and no handler running: every event queued before it has been
    // dispatched, so its turn is now (a remote call then costs no extra turn of the loop).
    if (this.queue.length === 0 && this.current === null) return this.callFrom(sender, target, event, args);
    return new Promise((resolve, reject) => {
      this.queueTask(() => this.callFrom(sender, target, event, args).then(resolve, reject));
    });
  }

  /** Resolves once every event queued before this call has been dispatched. */
  afterQueued(): Promise<void> {
    return new Promise((resolve) => this.queueTask(resolve));
  }

  private queueTask(task: () => void): void {
    this.root.refs += 2; // as target and sender of the task entry, released by deliver()
    this.queue.push(this.root, TASK, [task], this.root);
    if (!this.scheduled) this.schedule();
  }

  /** Queues an event whose holds the caller has taken: `_error` reports and due alarms. */
  private readonly enqueue = (target: Session, event: string, args: unknown[], sender: Session): void => {
    this.queue.push(target, event, args, sender);
    if (!this.scheduled) this.schedule();
  };

  /** @internal For a router: tells a sender that its event could not be delivered (see ErrorReporter.toSender). */
  reportError(sender: Session, err: IkcError, about: { session?: string; event?: string }): void {
    this.errors.toSender(sender, err, about);
  }

  /**
   * find() for post and call, and the event and arguments: poe://KERNEL/SESSION/EVENT names
   * the event itself, and then `event` is the first argument.
   */
  private route(
    target: Target,
    event: unknown,
    args: unknown[],
  ): [Session | IkcError | Routed, unknown, unknown[]] {
    if (typeof target !== 'string' || !isSpec(target)) return [this.find(target), event, args];
    const t = specTargetOf(target);
    if (t instanceof IkcError) return [t, event, args];
    if (t.spec.event === undefined) return [this.findSpec(t, target), event, args];
    return [this.findSpec(t, target), t.spec.event, shiftArgs(event, args)];
  }

  /** @internal */
  postFrom(sender: Session, target: Target, event: unknown, args: unknown[]): void {
    let found: Session | IkcError | Routed | undefined = this.quick(target);
    if (found === undefined) [found, event, args] = this.route(target, event, args);
    if (this.stopped) {
      found = new IkcError('IKC_ERR_KERNEL_STOPPED', `kernel ${this.name} has stopped`);
    } else if (typeof event !== 'string' || event === '') {
      found = new IkcError('IKC_ERR_INVALID_ARG', `post() needs an event name, got ${typeof event}`);
    }
    if (found instanceof IkcError) {
      return this.errors.toSender(sender, found, { event: typeof event === 'string' ? event : undefined });
    }
    if (found instanceof Routed)
      return (this.router as Router).post(sender, found.spec, event as string, args);
    // A proxy's events go out at once, not through the queue: a session's posts and calls to
    // a remote session then leave in the order they were made.
    if (found.remote !== null) return found.remote.post(sender, event as string, args);
    // A queued event holds both ends (as in POE), so its sender is still there for a reply or an error.
    found.refs++;
    sender.refs++;
    this.queue.push(found, event as string, args, sender);
    if (!this.scheduled) this.schedule();
  }

  /** @internal */
  callFrom(
    sender: Session,
    target: Target,
    event: unknown,
    args: unknown[],
    options: CallOptions = NO_OPTIONS,
  ): Promise<unknown> {
    let found: Session | IkcError | Routed | undefined = this.quick(target);
    if (found === undefined) [found, event, args] = this.route(target, event, args);
    if (this.stopped) found = new IkcError('IKC_ERR_KERNEL_STOPPED', `kernel ${this.name} has stopped`);
    else if (typeof event !== 'string' || event === '') {
      found = new IkcError('IKC_ERR_INVALID_ARG', `call() needs an event name, got ${typeof event}`);
    }
    if (found instanceof IkcError) return Promise.reject(found);
    const name = event as string;
    if (found instanceof Routed) return (this.router as Router).call(sender, found.spec, name, args, options);
    if (found.remote !== null) return found.remote.call(sender, name, args, options);
    if (options !== NO_OPTIONS) {
      return withDeadline(this.callFrom(sender, found, name, args), options, this.clock, `call of "${name}"`);
    }
    const session = found;
    let handler = session.events[name];
    let handlerArgs = args;
    if (handler === undefined) {
      [handler, handlerArgs] = this.handlerFor(session, name, args);
      if (!handler) return Promise.reject(this.noHandler(session, name));
    }
    let result: unknown;
    try {
      result = this.invoke(session, handler, handlerArgs, sender, name);
    } catch (err) {
      this.errors.emitError(err, session, name);
      return Promise.reject(err);
    }
    if (!isThenable(result)) return Promise.resolve(result);
    session.refs++; // a pending async handler holds its session
    this.pendingHandlers++;
    return Promise.resolve(result).then(
      (value) => {
        this.pendingHandlers--;
        this.release(session);
        return value;
      },
      (err: unknown) => {
        this.pendingHandlers--;
        this.errors.emitError(err, session, name);
        this.release(session);
        throw err;
      },
    );
  }

  private handlerFor(session: Session, event: string, args: unknown[]): [Handler | undefined, unknown[]] {
    const handler = session.events[event];
    if (handler !== undefined) return [handler, args];
    const fallback = session.events._default;
    if (fallback !== undefined && !KERNEL_EVENTS.has(event)) return [fallback, [event, args]];
    return [undefined, args];
  }

  private noHandler(session: Session, event: string): IkcError {
    return new IkcError(
      'IKC_ERR_NO_HANDLER',
      `session ${session.aliasList?.[0] ?? session.id} has no handler for "${event}" and no _default`,
      { details: { session: session.id, event } },
    );
  }

  /** Runs one handler with a fresh context, tracking the running session. */
  private invoke(
    session: Session,
    handler: Handler,
    args: unknown[],
    sender: Session,
    event: string,
  ): unknown {
    const ctx = new Context(this, session, sender, event);
    const previous = this.current;
    this.current = session;
    try {
      switch (args.length) {
        case 0:
          return handler(ctx);
        case 1:
          return handler(ctx, args[0]);
        case 2:
          return handler(ctx, args[0], args[1]);
        default:
          return handler(ctx, ...args);
      }
    } finally {
      this.current = previous;
    }
  }

  // ---- the dispatch loop -----------------------------------------------------------------

  private schedule(): void {
    this.scheduled = true;
    setImmediate(this.drain);
  }

  private drain = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    const start = performance.now();
    let n = 0;
    while (queue.length > 0) {
      queue.shiftInto(this.next);
      this.deliver(this.next);
      if (this.gcList.length > 0) this.collect();
      // Let timers and I/O in now and then, so a busy kernel stays responsive (checked every
      // 64 events: with slow handlers, every 1024 starved I/O for whole seconds).
      if ((++n & 63) === 0 && performance.now() - start > DISPATCH_SLICE_MS) {
        if (!this.scheduled) this.schedule();
        return;
      }
    }
    if (this.gcList.length > 0) this.collect();
    if (queue.length === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  private deliver(pending: Pending): void {
    const { target: session, event, args, sender } = pending;
    if (event === TASK) {
      (args[0] as () => void)();
      this.release(session);
      return this.release(sender);
    }
    if (session.state !== RUNNING) {
      const err = new IkcError(
        'IKC_ERR_SESSION_STOPPED',
        `session ${session.id} stopped before "${event}" could be delivered`,
        { details: { session: session.id, event } },
      );
      this.errors.toSender(sender, err, { session: session.id, event });
      return this.release(sender);
    }
    // The hot path: look the handler up inline rather than through handlerFor's tuple.
    let handler = session.events[event];
    let handlerArgs = args;
    if (handler === undefined) {
      [handler, handlerArgs] = this.handlerFor(session, event, args);
      if (!handler) {
        this.errors.toSender(sender, this.noHandler(session, event), { session: session.id, event });
        this.release(session);
        return this.release(sender);
      }
    }
    let result: unknown;
    try {
      result = this.invoke(session, handler, handlerArgs, sender, event);
    } catch (err) {
      this.errors.handlerFailed(session, event, sender, err);
    }
    if (isThenable(result)) {
      // Both ends stay held until the handler settles, so a late failure still finds its sender.
      this.pendingHandlers++;
      result.then(
        () => {
          this.pendingHandlers--;
          this.release(session);
          this.release(sender);
        },
        (err: unknown) => {
          this.pendingHandlers--;
          this.errors.handlerFailed(session, event, sender, err);
          this.release(session);
          this.release(sender);
        },
      );
      return;
    }
    this.release(session);
    this.release(sender);
  }

  /** Resolves once the event queue is empty. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      if (!this.scheduled) this.schedule();
    });
  }

  // ---- lifetime ---------------------------------------------------------------------------

  private release(session: Session): void {
    if (--session.refs === 0 && session !== this.root && session.state === RUNNING) {
      this.gcList.push(session);
      if (!this.scheduled) this.schedule();
    }
  }

  private collect(): void {
    const list = this.gcList;
    this.gcList = [];
    for (const s of list) if (s.refs === 0 && s.state === RUNNING) this.stopSession(s);
  }

  /** Keeps a session alive until the returned function is called. */
  hold(session: Session): () => void {
    if (session.state !== RUNNING)
      throw new IkcError('IKC_ERR_NO_SESSION', `session ${session.id} has stopped`);
    session.refs++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(session);
    };
  }

  /**
   * Stops a session now: `_stop` runs, its timers and aliases go, its live children move to
   * its parent (POE's reparenting), and its parent gets `_child('lose', session)`. Inside the
   * session's own handler the stop waits until that handler's synchronous part returns.
   */
  stopSession(session: Session): void {
    if (session.state !== RUNNING || session === this.root) return;
    if (this.current === session) {
      queueMicrotask(() => this.stopSession(session));
      return;
    }
    session.state = STOPPING;
    const parent = session.parentSession;
    if (session.childSet)
      for (const child of [...session.childSet]) reparent(child, session, parent, this.notify);
    this.notify(session, '_stop', [], this.root);

    this.names.dropAll(session);
    this.alarms.cancelAll(session);
    this.sessions.delete(session.id);
    session.state = STOPPED;
    if (session.remote === null && this.monitors.wants('unregister')) {
      this.emit({ type: 'unregister', session: session.info() });
    }
    if (parent) {
      parent.childSet?.delete(session);
      this.notify(parent, '_child', ['lose', session], session);
      this.release(parent);
    }
    if (session.remote === null && --this.live === 0) this.becameEmpty();
  }

  private becameEmpty(): void {
    this.processSignals.remove();
    const waiters = this.runWaiters;
    this.runWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when no session is left (at once if there is none). */
  run(): Promise<void> {
    if (this.live === 0) return Promise.resolve();
    return new Promise((resolve) => this.runWaiters.push(resolve));
  }

  /** Stops every session (children before parents), cancels all timers and refuses new work. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      for (const s of postOrder(topLevel(this.sessions.values(), this.root, true))) this.stopSession(s);
      this.stopped = true;
      this.alarms.clear();
      this.processSignals.remove();
    }
    await this.idle();
    this.monitors.closeAll();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Forks a job (a command or a module function, here or on another kernel) through the job
   * queue @ikc/jobs made for this kernel; IKC_ERR_NO_JOBS when there is none.
   */
  fork(options: ForkOptions): ForkedJob {
    return this.forkFor(undefined, options);
  }

  /** @internal ctx.fork(): the job's events go to `owner`, and it keeps `owner` alive. */
  forkFor(owner: Session | undefined, options: ForkOptions): ForkedJob {
    if (!this.forker) throw noJobs(this.name);
    return this.forker.fork(options, owner);
  }

  /** Starts a process pool (@ikc/jobs), here or with `on` on another kernel; IKC_ERR_NO_JOBS without a job queue. */
  pool(options: PoolOptions): ForkedPool {
    if (!this.forker) throw noJobs(this.name);
    return this.forker.pool(options);
  }

  /** @internal Installed by a job queue (@ikc/jobs), removed when it closes. */
  setForker(forker: Forker | undefined): void {
    this.forker = forker;
  }

  private forker: Forker | undefined;

  /** Runs a kernel-sent event's handler now if the session has one; failures go to monitors. */
  private readonly notify = (session: Session, event: string, args: unknown[], sender: Session): unknown => {
    try {
      return this.invokeNow(session, event, args, sender);
    } catch (err) {
      this.errors.kernelEventFailed(err, session, event);
      return undefined;
    }
  };

  /** Runs a kernel event's handler synchronously (absent handler: nothing happens). An async
   * handler holds its session until it settles; a rejection goes to monitors. */
  private invokeNow(session: Session, event: string, args: unknown[], sender: Session): unknown {
    const handler = session.events[event];
    if (handler === undefined) return undefined;
    const result = this.invoke(session, handler, args, sender, event);
    if (isThenable(result)) {
      session.refs++;
      result.then(
        () => this.release(session),
        (err: unknown) => {
          this.errors.kernelEventFailed(err, session, event);
          this.release(session);
        },
      );
    }
    return result;
  }

  // ---- aliases and publishing (aliases.ts) ---------------------------------------------------

  /** @internal Grows on every change of an alias or a published event (and when a session stops). */
  get namesVersion(): number {
    return this.names.version;
  }

  /** @internal */
  aliasSet(session: Session, alias: string): void {
    this.names.set(session, alias);
  }

  /** @internal */
  aliasRemove(session: Session, alias: string): boolean {
    return this.names.remove(session, alias);
  }

  /** @internal */
  publish(session: Session, events: string[]): void {
    this.names.publish(session, events);
  }

  /** @internal */
  retract(session: Session, events: string[]): void {
    this.names.retract(session, events);
  }

  // ---- timers (alarms.ts) -------------------------------------------------------------------

  /** @internal */
  addAlarm(session: Session, event: string, due: number, args: unknown[], name?: string): number {
    return this.alarms.add(session, event, due, args, name);
  }

  /** @internal Replaces the session's timer named `event`; with no time, only clears it. */
  setNamedAlarm(
    session: Session,
    event: string,
    due: number | undefined,
    args: unknown[],
  ): number | undefined {
    return this.alarms.setNamed(session, event, due, args);
  }

  /** @internal */
  removeAlarm(session: Session, id: number): { event: string; due: number; args: unknown[] } | undefined {
    return this.alarms.remove(session, id);
  }

  /** @internal */
  removeAllAlarms(session: Session): number {
    return this.alarms.removeAll(session);
  }

  /** @internal */
  moveAlarm(session: Session, id: number, due: number): boolean {
    return this.alarms.move(session, id, due);
  }

  // ---- signals (signals.ts) -----------------------------------------------------------------

  /**
   * Delivers a signal now to `target` and its descendants ('*': every session) through their
   * `_signal(ctx, name, ...args)` handlers. A session that does not handle a terminal signal
   * (TERM, INT, HUP, ZOMBIE) stops; a handler handles it by calling ctx.sigHandled() before
   * it returns (a return value does not count: as in POE, where an arrow function's stray
   * truthy result kept sessions alive by accident). Returns true when any session handled it.
   */
  signal(target: Target | '*', name: string, ...args: unknown[]): boolean {
    if (typeof name !== 'string' || name === '')
      throw new IkcError('IKC_ERR_INVALID_ARG', 'a signal needs a name');
    let tops: Session[];
    if (target === '*') tops = topLevel(this.sessions.values(), this.root);
    else {
      const found = this.find(target);
      if (found instanceof IkcError) throw found;
      if (found instanceof Routed || found.remote !== null) {
        throw new IkcError(
          'IKC_ERR_NOT_LOCAL',
          `signals reach sessions of this kernel only, not ${String(target)}`,
        );
      }
      tops = found === this.root ? topLevel(this.sessions.values(), this.root) : [found];
    }
    if (this.monitors.wants('signal'))
      this.emit({ type: 'signal', name, target: target === '*' ? '*' : String(target) });
    return this.signals.deliverAll(postOrder(tops), name, args);
  }

  /** @internal */
  markSignalHandled(): void {
    this.signals.markHandled();
  }

  // ---- monitors -----------------------------------------------------------------------------

  /**
   * Watches the kernel: `register`, `unregister`, `alias`, `publish`, `retract`, `signal`,
   * `error` (and, with @ikc/mesh, kernel events). With a callback, each event is passed to it
   * as it happens; without, read the returned monitor as an async iterator. close() ends it.
   * `options.kernel` (a name or id) keeps only the events of that kernel.
   */
  monitor(types?: string | string[], callback?: MonitorCallback, options: MonitorOptions = {}): Monitor {
    return this.monitors.add(types, callback, options);
  }

  /** @internal Emits an event to the monitors that watch its type; returns how many did. */
  emit(event: Omit<MonitorEvent, 'kernel'> & { kernel?: string }): number {
    return this.monitors.emit({ kernel: this.name, ...event } as MonitorEvent);
  }
}
