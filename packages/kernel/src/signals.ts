import type { ErrorReporter } from './errors.js';
import { RUNNING, type Session } from './session.js';

/** Signals that stop every session that receives them without handling them. */
export const TERMINAL_SIGNALS: ReadonlySet<string> = new Set(['TERM', 'INT', 'HUP', 'ZOMBIE']);

/** Runs a kernel event's handler now (see Kernel.invokeNow). */
export type InvokeNow = (session: Session, event: string, args: unknown[], sender: Session) => unknown;

/**
 * Delivers signals to sessions through their `_signal` handlers, and stops those that leave
 * a terminal one unhandled. A handler handles a signal by calling ctx.sigHandled() before it
 * returns (see Kernel.signal).
 */
export class Signals {
  private handled = false;

  constructor(
    private readonly root: Session,
    private readonly invokeNow: InvokeNow,
    private readonly stopSession: (session: Session) => void,
    private readonly errors: ErrorReporter,
  ) {}

  /** Delivers `name` to each session of `order` in turn; true when any session handled it. */
  deliverAll(order: Session[], name: string, args: unknown[]): boolean {
    const terminal = TERMINAL_SIGNALS.has(name);
    let anyHandled = false;
    for (const session of order) {
      if (session.state !== RUNNING) continue;
      const handled = this.deliver(session, name, args);
      anyHandled ||= handled;
      if (terminal && !handled) this.stopSession(session);
    }
    return anyHandled;
  }

  markHandled(): void {
    this.handled = true;
  }

  private deliver(session: Session, name: string, args: unknown[]): boolean {
    const handler = session.events._signal;
    if (handler === undefined) return false;
    const outer = this.handled;
    this.handled = false;
    let handled = false;
    try {
      this.invokeNow(session, '_signal', [name, ...args], this.root);
      handled = this.handled;
    } catch (err) {
      this.errors.kernelEventFailed(err, session, '_signal');
    } finally {
      this.handled = outer;
    }
    return handled;
  }
}

/**
 * While a kernel has sessions: the process's SIGINT and SIGTERM become its INT and TERM
 * signals to every session, and when Node's event loop runs dry with sessions left, IDLE
 * then ZOMBIE, as POE does.
 */
export class ProcessSignals {
  private listener: ((sig: NodeJS.Signals) => void) | undefined;
  private beforeExitListener: (() => void) | undefined;

  constructor(
    private readonly enabled: boolean,
    /** Sends a signal to every session of the kernel. */
    private readonly signal: (name: string) => void,
    /** True when the kernel's queue is empty and no alarm is pending. */
    private readonly quiet: () => boolean,
    /** The kernel's live sessions. */
    private readonly live: () => number,
  ) {}

  install(): void {
    if (!this.enabled || this.listener) return;
    this.listener = (sig) => {
      this.signal(sig === 'SIGINT' ? 'INT' : 'TERM');
    };
    process.on('SIGINT', this.listener);
    process.on('SIGTERM', this.listener);
    // Node emits beforeExit when its loop has nothing left to do. Sessions still alive then
    // are held only by aliases or holds that nothing will ever use: POE's idle kernel.
    this.beforeExitListener = () => {
      if (!this.quiet() || this.live() === 0) return;
      this.signal('IDLE');
      if (this.quiet() && this.live() > 0) this.signal('ZOMBIE');
    };
    process.on('beforeExit', this.beforeExitListener);
  }

  remove(): void {
    if (!this.listener) return;
    process.off('SIGINT', this.listener);
    process.off('SIGTERM', this.listener);
    if (this.beforeExitListener) process.off('beforeExit', this.beforeExitListener);
    this.listener = undefined;
    this.beforeExitListener = undefined;
  }
}
