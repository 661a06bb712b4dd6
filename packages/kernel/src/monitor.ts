/**
 * Monitors: a way for programs and sessions to watch what the kernel does. A monitor takes a
 * callback, or is read as an async iterator; either way it sees events in the order they
 * happened. The mesh adds kernel-level events (up, suspect, down) through the same hub.
 */
export interface MonitorEvent {
  type: string;
  /** Name of the kernel the event happened on. */
  kernel: string;
  [key: string]: unknown;
}

export type MonitorCallback = (event: MonitorEvent) => void;

export interface MonitorOptions {
  /** Only events of this kernel (its name, or its id as `kernelId`). */
  kernel?: string;
}

/** How many events an iterator buffers for a slow reader before it drops the oldest. */
export const MONITOR_BUFFER_EVENTS = 10_000;

export class Monitor implements AsyncIterable<MonitorEvent> {
  private buffer: MonitorEvent[] = [];
  private waiting: ((r: IteratorResult<MonitorEvent>) => void) | undefined;
  private closed = false;
  /** Events dropped because the iterator's reader fell more than MONITOR_BUFFER_EVENTS behind. */
  dropped = 0;

  constructor(
    private readonly hub: MonitorHub,
    readonly types: ReadonlySet<string> | undefined,
    private readonly callback: MonitorCallback | undefined,
    readonly kernel: string | undefined = undefined,
  ) {}

  /** @internal */
  deliver(event: MonitorEvent): void {
    if (this.closed) return;
    if (this.callback) return this.callback(event);
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      return waiting({ value: event, done: false });
    }
    if (this.buffer.length >= MONITOR_BUFFER_EVENTS) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(event);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.remove(this);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<MonitorEvent> {
    return {
      next: () => {
        const event = this.buffer.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export class MonitorHub {
  private monitors: Monitor[] = [];

  /** True when anyone watches events of this type; lets hot paths skip building events. */
  wants(type: string): boolean {
    for (const m of this.monitors) if (!m.types || m.types.has(type)) return true;
    return false;
  }

  add(
    types: string | string[] | undefined,
    callback?: MonitorCallback,
    options: MonitorOptions = {},
  ): Monitor {
    const set = types === undefined ? undefined : new Set(Array.isArray(types) ? types : [types]);
    const monitor = new Monitor(this, set, callback, options.kernel);
    this.monitors.push(monitor);
    return monitor;
  }

  remove(monitor: Monitor): void {
    this.monitors = this.monitors.filter((m) => m !== monitor);
  }

  emit(event: MonitorEvent): number {
    let seen = 0;
    // Copy: a callback may close its monitor or open another while we iterate.
    for (const m of [...this.monitors]) {
      if (m.types && !m.types.has(event.type)) continue;
      if (m.kernel !== undefined && event.kernel !== m.kernel && event.kernelId !== m.kernel) continue;
      seen++;
      try {
        m.deliver(event);
      } catch {
        // A monitor's callback must not break the kernel or hide the event from others.
      }
    }
    return seen;
  }

  closeAll(): void {
    for (const m of [...this.monitors]) m.close();
  }
}
