import type { Clock } from './clock.js';

interface Timer {
  due: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A simulated clock for many members in one process: timers wait in a binary heap
 * (earliest due first, then first set), and time jumps from one timer to the next, so a
 * thousand members can live through minutes in about a second. Nothing runs on its own:
 * call runFor or runUntil.
 */
export class SimClock implements Clock {
  private heap: Timer[] = [];
  private current: number;
  private counter = 0;
  private fired = 0;

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Timers fired so far (a measure of the simulation's work). */
  get steps(): number {
    return this.fired;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const timer: Timer = { due: this.current + Math.max(0, ms), order: this.counter++, fn, cancelled: false };
    this.push(timer);
    return timer;
  }

  clearTimer(handle: unknown): void {
    if (handle && typeof handle === 'object') (handle as Timer).cancelled = true;
  }

  /** Fires every timer due within the next `ms` milliseconds, then sets the time to that end. */
  runFor(ms: number): void {
    const end = this.current + ms;
    this.runTo(end, undefined);
    this.current = Math.max(this.current, end);
  }

  /**
   * Runs until `done()` holds, or `maxMs` have passed; returns true when `done()` held.
   * `done` is checked before the first timer, then after each timer that fires at least
   * `checkEveryMs` after the previous check (0: after every timer), so that a costly check
   * does not dominate a long run.
   */
  runUntil(done: () => boolean, maxMs: number, checkEveryMs = 0): boolean {
    if (done()) return true;
    const end = this.current + maxMs;
    const met = this.runTo(end, done, checkEveryMs);
    if (!met) this.current = Math.max(this.current, end);
    return met;
  }

  private runTo(end: number, done: (() => boolean) | undefined, checkEveryMs = 0): boolean {
    let nextCheck = this.current + checkEveryMs;
    for (;;) {
      const top = this.heap[0];
      if (!top || top.due > end) return done ? done() : false;
      this.pop();
      if (top.cancelled) continue;
      this.current = top.due;
      this.fired++;
      top.fn();
      if (done && this.current >= nextCheck) {
        if (done()) return true;
        nextCheck = this.current + checkEveryMs;
      }
    }
  }

  private less(a: Timer, b: Timer): boolean {
    return a.due !== b.due ? a.due < b.due : a.order < b.order;
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Timer;
      if (!this.less(t, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = t;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Timer;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r] as Timer, h[l] as Timer) ? r : l;
      if (!this.less(h[c] as Timer, last)) break;
      h[i] = h[c] as Timer;
      i = c;
    }
    h[i] = last;
  }
}
