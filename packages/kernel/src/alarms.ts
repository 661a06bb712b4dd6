import { IkcError } from '@ikc/wire';
import type { Clock } from './clock.js';
import type { Enqueue } from './errors.js';
import { RUNNING, type Session } from './session.js';
import { type Alarm, TimerQueue } from './timers.js';

/**
 * The alarms of a kernel's sessions, on top of its TimerQueue: each alarm holds its session
 * and is listed on it (so a stop cancels it), named ones by name (ctx.delay / ctx.alarm).
 */
export class Alarms {
  private readonly timers: TimerQueue<Session>;

  constructor(
    clock: Clock,
    private readonly release: (session: Session) => void,
    private readonly enqueue: Enqueue,
  ) {
    this.timers = new TimerQueue<Session>(clock, (alarm) => this.fire(alarm));
  }

  /** Alarms pending. */
  get size(): number {
    return this.timers.size;
  }

  add(session: Session, event: string, due: number, args: unknown[], name?: string): number {
    if (typeof event !== 'string' || event === '')
      throw new IkcError('IKC_ERR_INVALID_ARG', 'a timer needs an event name');
    if (!Number.isFinite(due))
      throw new IkcError('IKC_ERR_INVALID_ARG', `a timer needs a finite time, got ${due}`);
    if (session.state !== RUNNING)
      throw new IkcError('IKC_ERR_NO_SESSION', `session ${session.id} has stopped`);
    const alarm = this.timers.add(session, due, event, args, name);
    (session.alarmIds ??= new Set()).add(alarm.id);
    if (name !== undefined) (session.named ??= new Map()).set(name, alarm.id);
    session.refs++;
    return alarm.id;
  }

  /** Replaces the session's timer named `event`; with no time, only clears it. */
  setNamed(session: Session, event: string, due: number | undefined, args: unknown[]): number | undefined {
    const existing = session.named?.get(event);
    if (existing !== undefined) this.remove(session, existing);
    return due === undefined ? undefined : this.add(session, event, due, args, event);
  }

  remove(session: Session, id: number): { event: string; due: number; args: unknown[] } | undefined {
    const alarm = this.timers.get(id);
    if (!alarm || alarm.session !== session) return undefined;
    this.timers.remove(id);
    this.forget(alarm);
    this.release(session);
    return { event: alarm.event, due: alarm.due, args: alarm.args };
  }

  removeAll(session: Session): number {
    const ids = session.alarmIds ? [...session.alarmIds] : [];
    for (const id of ids) this.remove(session, id);
    return ids.length;
  }

  move(session: Session, id: number, due: number): boolean {
    const alarm = this.timers.get(id);
    if (!alarm || alarm.session !== session) return false;
    return this.timers.reschedule(id, due) !== undefined;
  }

  /** Cancels every alarm of a stopping session (their holds end with it). */
  cancelAll(session: Session): void {
    if (session.alarmIds) for (const id of session.alarmIds) this.timers.remove(id);
    session.alarmIds = null;
    session.named = null;
  }

  /** Cancels every alarm of the kernel. */
  clear(): void {
    this.timers.clear();
  }

  private forget(alarm: Alarm<Session>): void {
    const s = alarm.session;
    s.alarmIds?.delete(alarm.id);
    if (alarm.name !== undefined && s.named?.get(alarm.name) === alarm.id) s.named.delete(alarm.name);
  }

  /** A due alarm becomes an ordinary queued event from the session to itself; its hold passes to the event. */
  private fire(alarm: Alarm<Session>): void {
    this.forget(alarm);
    const session = alarm.session;
    if (session.state !== RUNNING) return;
    session.refs++; // as the event's sender; the alarm's hold passes to the event as its target
    this.enqueue(session, alarm.event, alarm.args, session);
  }
}
