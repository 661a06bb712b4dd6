import { IkcError } from '@ikc/wire';

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** When it times out (performance.now() milliseconds). */
  deadline: number;
  timeoutMs: number;
  /** The peer kernel (next hop) it went out to. */
  peerId: string;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  what: () => string;
}

/**
 * The calls opened with one timeout, in the order they were opened, which (all having the
 * same timeout) is the order they expire in: one timer, armed for the first that is still
 * pending, serves them all. Settled calls stay in the list until the timer passes them.
 */
interface Expiry {
  ids: number[];
  head: number;
  /** Calls of this list not yet settled. */
  live: number;
  timer: NodeJS.Timeout | undefined;
  /** When the timer fires (performance.now() milliseconds). */
  due: number;
}

/**
 * Calls this kernel has sent and not yet seen answered. Every one ends: with a REPLY, an
 * ERROR, its timeout, its AbortSignal, or the loss of the link it went out on.
 *
 * Timeouts cost no timer per call (a remote call's round trip is tens of microseconds, and
 * arming and clearing a timer for each was a measurable part of it): calls with the same
 * timeout share one timer, which is unref'd while none of them is pending, so it never
 * keeps the process alive on its own.
 */
export class PendingCalls {
  private readonly calls = new Map<number, Pending>();
  private readonly expiries = new Map<number, Expiry>();
  private nextId = 1;

  get size(): number {
    return this.calls.size;
  }

  /** Registers a call about to be sent to the peer `peerId`; returns its id and its promise. */
  open(
    peerId: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    /** Names the call in a timeout or abort message; only called when one happens. */
    what: () => string,
  ): { callId: number; promise: Promise<unknown> } {
    const callId = this.nextId++;
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    let onAbort: (() => void) | undefined;
    if (signal) {
      onAbort = () =>
        this.settle(
          callId,
          undefined,
          new IkcError('IKC_ERR_ABORTED', `${what()} was aborted`, { cause: signal.reason }),
        );
      signal.addEventListener('abort', onAbort, { once: true });
    }
    const deadline = performance.now() + timeoutMs;
    this.calls.set(callId, { resolve, reject, deadline, timeoutMs, peerId, signal, onAbort, what });
    this.expireLater(callId, timeoutMs, deadline);
    return { callId, promise };
  }

  private expireLater(callId: number, timeoutMs: number, deadline: number): void {
    let expiry = this.expiries.get(timeoutMs);
    if (!expiry) {
      expiry = { ids: [], head: 0, live: 0, timer: undefined, due: 0 };
      this.expiries.set(timeoutMs, expiry);
    }
    expiry.ids.push(callId);
    if (expiry.live++ === 0) {
      // The list held only settled calls: start it afresh.
      expiry.ids = [callId];
      expiry.head = 0;
    } else if (expiry.ids.length - expiry.head > 2 * expiry.live + 1024) {
      // A call pending long at the head, many settled behind it: keep only the pending ones.
      expiry.ids = expiry.ids.slice(expiry.head).filter((id) => this.calls.has(id));
      expiry.head = 0;
    }
    const timer = expiry.timer;
    if (timer === undefined || expiry.due > deadline) {
      if (timer !== undefined) clearTimeout(timer);
      this.arm(expiry, timeoutMs, deadline);
    } else if (expiry.live === 1) {
      timer.ref();
    }
  }

  private arm(expiry: Expiry, timeoutMs: number, due: number): void {
    expiry.due = due;
    expiry.timer = setTimeout(() => this.expire(expiry, timeoutMs), Math.max(0, due - performance.now()));
  }

  /** Times out the calls of `expiry` whose deadline has come, and arms for the next one. */
  private expire(expiry: Expiry, timeoutMs: number): void {
    expiry.timer = undefined;
    const now = performance.now();
    while (expiry.head < expiry.ids.length) {
      const id = expiry.ids[expiry.head] as number;
      const call = this.calls.get(id);
      if (call !== undefined && call.timeoutMs === timeoutMs) {
        // Timers may fire a little early: what is not due yet waits for the next round.
        if (call.deadline > now + 1) return this.arm(expiry, timeoutMs, call.deadline);
        this.settle(
          id,
          undefined,
          new IkcError('IKC_ERR_TIMEOUT', `${call.what()} timed out after ${timeoutMs} ms`),
        );
      }
      expiry.head++;
    }
    expiry.ids = [];
    expiry.head = 0;
  }

  /** Ends a call with a value or an error. Returns false when it had already ended. */
  settle(callId: number, value: unknown, error?: unknown): boolean {
    const call = this.calls.get(callId);
    if (!call) return false;
    this.calls.delete(callId);
    const expiry = this.expiries.get(call.timeoutMs);
    if (expiry !== undefined && --expiry.live === 0) expiry.timer?.unref();
    if (call.onAbort) call.signal?.removeEventListener('abort', call.onAbort);
    if (error !== undefined) call.reject(error);
    else call.resolve(value);
    return true;
  }

  /** Fails every call that went out to the peer `peerId` (its channel ended). */
  failPeer(peerId: string, error: () => IkcError): number {
    let n = 0;
    for (const [id, call] of [...this.calls]) {
      if (call.peerId === peerId) {
        this.settle(id, undefined, error());
        n++;
      }
    }
    return n;
  }

  failAll(error: () => IkcError): void {
    for (const id of [...this.calls.keys()]) this.settle(id, undefined, error());
    for (const expiry of this.expiries.values()) clearTimeout(expiry.timer);
    this.expiries.clear();
  }
}
