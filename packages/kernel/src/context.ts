import type { ForkedJob, ForkOptions } from './fork.js';
import type { Kernel, Target } from './kernel.js';
import type { CallOptions, Session, SessionDefinition } from './session.js';

/**
 * What a handler gets as its first argument: who it is, who sent the event, and the kernel's
 * verbs bound to this session as the sender. A context stays valid after the handler returns,
 * so an async handler can keep using it.
 */
// biome-ignore lint/suspicious/noExplicitAny: a session's handler state is whatever its definition says.
export class Context<H = any> {
  constructor(
    readonly kernel: Kernel,
    readonly session: Session<H>,
    /** The posting session: local, or a proxy of a remote one. Reply with ctx.post(ctx.sender, ...). */
    readonly sender: Session,
    /** The event being handled. */
    readonly event: string,
  ) {}

  get heap(): H {
    return this.session.heap;
  }

  set heap(value: H) {
    this.session.heap = value;
  }

  /** Queues an event for `target`, FIFO, with this session as the sender. A specifier with
   * an event (poe://K/S/EVENT) carries the event itself: the rest are arguments. */
  post(target: Target, event: string, ...args: unknown[]): void;
  post(spec: `poe://${string}`, ...args: unknown[]): void;
  post(target: Target, event?: unknown, ...args: unknown[]): void {
    this.kernel.postFrom(this.session, target, event, args);
  }

  /** Runs `target`'s handler now and resolves to its (awaited) return value. */
  call<T = unknown>(target: Target, event: string, ...args: unknown[]): Promise<T>;
  call<T = unknown>(spec: `poe://${string}`, ...args: unknown[]): Promise<T>;
  call<T = unknown>(target: Target, event?: unknown, ...args: unknown[]): Promise<T> {
    return this.kernel.callFrom(this.session, target, event, args) as Promise<T>;
  }

  /** Like call, with a timeout (ms) and an AbortSignal. */
  callWith<T = unknown>(options: CallOptions, target: Target, event: string, ...args: unknown[]): Promise<T> {
    return this.kernel.callFrom(this.session, target, event, args, options) as Promise<T>;
  }

  /** Resolves when events to `target` may flow (see Kernel.ready): await it when sending a lot. */
  ready(target: Target): Promise<void> {
    return this.kernel.ready(target);
  }

  /** Posts an event to this session itself. */
  yield(event: string, ...args: unknown[]): void {
    this.kernel.postFrom(this.session, this.session, event, args);
  }

  /** Sets a timer named after `event`, replacing this session's earlier one of that name.
   * With no `ms`, only clears it. Returns the alarm id, or undefined when only clearing. */
  delay(event: string, ms?: number, ...args: unknown[]): number | undefined {
    return this.kernel.setNamedAlarm(
      this.session,
      event,
      ms === undefined ? undefined : this.kernel.clock.now() + ms,
      args,
    );
  }

  /** Like delay, at an absolute time (ms since the epoch, as Date.now()). */
  alarm(event: string, at?: number, ...args: unknown[]): number | undefined {
    return this.kernel.setNamedAlarm(this.session, event, at, args);
  }

  /** Adds a timer without touching others of the same event; returns its id. */
  delaySet(event: string, ms: number, ...args: unknown[]): number {
    return this.kernel.addAlarm(this.session, event, this.kernel.clock.now() + ms, args);
  }

  /** Like delaySet, at an absolute time (ms since the epoch). */
  alarmSet(event: string, at: number, ...args: unknown[]): number {
    return this.kernel.addAlarm(this.session, event, at, args);
  }

  /** Moves a timer of this session to `ms` from now. Returns false if it is gone. */
  delayAdjust(id: number, ms: number): boolean {
    return this.kernel.moveAlarm(this.session, id, this.kernel.clock.now() + ms);
  }

  /** Removes a timer of this session; returns what it would have delivered, or undefined. */
  alarmRemove(id: number): { event: string; due: number; args: unknown[] } | undefined {
    return this.kernel.removeAlarm(this.session, id);
  }

  /** Removes every timer of this session; returns how many there were. */
  alarmRemoveAll(): number {
    return this.kernel.removeAllAlarms(this.session);
  }

  aliasSet(alias: string): void {
    this.kernel.aliasSet(this.session, alias);
  }

  aliasRemove(alias: string): boolean {
    return this.kernel.aliasRemove(this.session, alias);
  }

  get aliases(): string[] {
    return this.session.aliases;
  }

  /** Makes events reachable from other kernels. */
  publish(...events: string[]): void {
    this.kernel.publish(this.session, events);
  }

  retract(...events: string[]): void {
    this.kernel.retract(this.session, events);
  }

  /** Starts a child session; its lifetime keeps this one alive. */
  spawn<C>(definition: SessionDefinition<C>): Session<C> {
    return this.kernel.spawnChild(definition, this.session);
  }

  signal(target: Target | '*', name: string, ...args: unknown[]): boolean {
    return this.kernel.signal(target, name, ...args);
  }

  /** Inside `_signal`: marks the signal handled, so a terminal one does not stop this session. */
  sigHandled(): void {
    this.kernel.markSignalHandled();
  }

  /** Forks a job (see kernel.fork()); the job posts its events (`_job`) to this session and
   * keeps it alive until it ends. */
  fork(options: ForkOptions): ForkedJob {
    return this.kernel.forkFor(this.session, options);
  }

  /** Keeps this session alive until the returned function is called (once is enough). */
  hold(): () => void {
    return this.kernel.hold(this.session);
  }

  /** Stops this session once the current handler returns: `_stop` runs, timers and aliases go,
   * children move to this session's parent. */
  stop(): void {
    this.kernel.stopSession(this.session);
  }
}
