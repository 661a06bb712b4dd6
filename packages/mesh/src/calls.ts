import { IkcError } from '@ikc/wire';

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
  /** The peer kernel (next hop) it went out to. */
  peerId: string;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Calls this kernel has sent and not yet seen answered. Every one ends: with a REPLY, an
 * ERROR, its timeout, its AbortSignal, or the loss of the link it went out on.
 */
export class PendingCalls {
  private readonly calls = new Map<number, Pending>();
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
    const timer = setTimeout(() => {
      this.settle(
        callId,
        undefined,
        new IkcError('IKC_ERR_TIMEOUT', `${what()} timed out after ${timeoutMs} ms`),
      );
    }, timeoutMs);
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
    this.calls.set(callId, { resolve, reject, timer, peerId, signal, onAbort });
    return { callId, promise };
  }

  /** Ends a call with a value or an error. Returns false when it had already ended. */
  settle(callId: number, value: unknown, error?: unknown): boolean {
    const call = this.calls.get(callId);
    if (!call) return false;
    this.calls.delete(callId);
    clearTimeout(call.timer);
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
  }
}
