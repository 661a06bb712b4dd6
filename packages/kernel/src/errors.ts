import { IkcError } from '@ikc/wire';
import type { Kernel } from './kernel.js';
import type { MonitorEvent, MonitorHub } from './monitor.js';
import { RUNNING, type Session } from './session.js';

/** Queues an event whose holds (target and sender) the caller has already taken. */
export type Enqueue = (target: Session, event: string, args: unknown[], sender: Session) => void;

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function defaultUnhandled(event: MonitorEvent): void {
  const err = event.error as { code?: string; message?: string } | undefined;
  process.stderr.write(
    `ikc kernel ${event.kernel}: unhandled error ${err?.code ?? ''} ${err?.message ?? ''}\n`,
  );
}

/**
 * Where a kernel's errors go: to the sender of the event that failed (as `_error`), to the
 * error monitors, and when neither hears one, to onUnhandledError. An error is never dropped.
 */
export class ErrorReporter {
  constructor(
    private readonly kernelName: string,
    private readonly root: Session,
    private readonly monitors: MonitorHub,
    private readonly emit: Kernel['emit'],
    private readonly onUnhandledError: (event: MonitorEvent) => void,
    private readonly enqueue: Enqueue,
  ) {}

  /** A handler of a posted event threw or rejected: tells its sender. */
  handlerFailed(session: Session, event: string, sender: Session, cause: unknown): void {
    const err = new IkcError(
      'IKC_ERR_HANDLER',
      `handler "${event}" of session ${session.aliasList?.[0] ?? session.id} threw: ${describe(cause)}`,
      { cause, details: { session: session.id, event } },
    );
    this.toSender(sender, err, { session: session.id, event });
  }

  /**
   * Tells a sender its event went wrong: as an `_error` event when it can handle one, and
   * always to the error monitors. When neither hears it, onUnhandledError does: an error is
   * never dropped silently.
   */
  toSender(sender: Session, err: IkcError, about: { session?: string; event?: string | undefined }): void {
    const seen = this.emitError(err, undefined, about.event, about.session, sender);
    if (sender.remote?.error && sender.state === RUNNING) return sender.remote.error(err, about);
    if (
      sender.state === RUNNING &&
      sender !== this.root &&
      sender.events._error !== undefined &&
      about.event !== '_error'
    ) {
      sender.refs++;
      this.root.refs++;
      this.enqueue(sender, '_error', [err], this.root);
    } else if (seen === 0) {
      this.onUnhandledError({
        type: 'error',
        kernel: this.kernelName,
        error: err,
        session: about.session,
        event: about.event,
      });
    }
  }

  /** A kernel-sent event's handler failed (nobody sent it): to the monitors, else onUnhandledError. */
  kernelEventFailed(error: unknown, session: Session, event: string): void {
    this.emitError(error, session, event) ||
      this.onUnhandledError({ type: 'error', kernel: this.kernelName, error, session: session.id, event });
  }

  /** Emits an `error` monitor event; returns how many monitors saw it. */
  emitError(error: unknown, session?: Session, event?: string, sessionId?: string, sender?: Session): number {
    if (!this.monitors.wants('error')) return 0;
    return this.emit({
      type: 'error',
      error,
      session: session?.id ?? sessionId,
      event,
      sender: sender?.id,
    });
  }
}
