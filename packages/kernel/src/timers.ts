import type { Clock } from './clock.js';

/** One pending alarm. `name` is set for named timers (ctx.delay / ctx.alarm). */
export interface Alarm<S> {
  id: number;
  due: number;
  seq: number;
  session: S;
  event: string;
  args: unknown[];
  name: string | undefined;
  cancelled: boolean;
}

/**
 * All of a kernel's alarms in one binary min-heap (by due time, then creation order), with a
 * single host timer armed for the earliest. Removal marks an alarm cancelled and leaves it in
 * the heap until it reaches the top, so remove is O(1) and the heap stays simple.
 */
export class TimerQueue<S> {
  private heap: Alarm<S>[] = [];
  private byId = new Map<number, Alarm<S>>();
  private nextId = 1;
  private seq = 0;
  private handle: unknown = undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    /** Called with each alarm as it falls due, in order. */
    private readonly fire: (alarm: Alarm<S>) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  add(session: S, due: number, event: string, args: unknown[], name?: string): Alarm<S> {
    const alarm: Alarm<S> = {
      id: this.nextId++,
      due,
      seq: this.seq++,
      session,
      event,
      args,
      name,
      cancelled: false,
    };
    this.byId.set(alarm.id, alarm);
    this.pushHeap(alarm);
    this.arm();
    return alarm;
  }

  get(id: number): Alarm<S> | undefined {
    return this.byId.get(id);
  }

  remove(id: number): Alarm<S> | undefined {
    const alarm = this.byId.get(id);
    if (!alarm) return undefined;
    alarm.cancelled = true;
    this.byId.delete(id);
    if (this.byId.size === 0) this.disarm();
    return alarm;
  }

  /** Moves an alarm to a new due time, keeping its id. */
  reschedule(id: number, due: number): Alarm<S> | undefined {
    const old = this.byId.get(id);
    if (!old) return undefined;
    old.cancelled = true;
    const alarm: Alarm<S> = { ...old, due, seq: this.seq++, cancelled: false };
    this.byId.set(id, alarm);
    this.pushHeap(alarm);
    this.arm();
    return alarm;
  }

  clear(): void {
    for (const a of this.byId.values()) a.cancelled = true;
    this.byId.clear();
    this.heap = [];
    this.disarm();
  }

  private onTimer = (): void => {
    this.handle = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (;;) {
      const top = this.heap[0];
      if (!top) break;
      if (top.cancelled) {
        this.popHeap();
        continue;
      }
      if (top.due > now) break;
      this.popHeap();
      this.byId.delete(top.id);
      this.fire(top);
    }
    this.arm();
  };

  private arm(): void {
    while (this.heap[0]?.cancelled) this.popHeap();
    const top = this.heap[0];
    if (!top) return this.disarm();
    if (top.due >= this.armedFor && this.handle !== undefined) return;
    this.disarm();
    this.armedFor = top.due;
    this.handle = this.clock.setTimer(this.onTimer, top.due - this.clock.now());
  }

  private disarm(): void {
    if (this.handle !== undefined) this.clock.clearTimer(this.handle);
    this.handle = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private less(a: Alarm<S>, b: Alarm<S>): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private pushHeap(alarm: Alarm<S>): void {
    const h = this.heap;
    h.push(alarm);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private popHeap(): Alarm<S> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
