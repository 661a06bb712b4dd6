import { IkcError } from '@ikc/wire';
import type { Clock } from './clock.js';
import type { CallOptions } from './session.js';

/**
 * Settles like `promise`, or rejects first with IKC_ERR_TIMEOUT when `timeoutMs` passes
 * (on `clock`, so tests can drive it) or IKC_ERR_ABORTED when `signal` aborts. `what` names
 * the call in the error message. The timer and the abort listener are removed either way.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  options: CallOptions,
  clock: Clock,
  what: string,
): Promise<T> {
  const { timeoutMs, signal } = options;
  if (timeoutMs === undefined && signal === undefined) return promise;
  if (signal?.aborted) {
    promise.catch(() => {}); // its outcome no longer matters to anyone
    return Promise.reject(aborted(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    let timer: unknown;
    const onAbort = () => {
      done();
      reject(aborted(signal as AbortSignal, what));
    };
    const done = () => {
      if (timer !== undefined) clock.clearTimer(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (timeoutMs !== undefined) {
      timer = clock.setTimer(() => {
        done();
        reject(
          new IkcError('IKC_ERR_TIMEOUT', `${what} timed out after ${timeoutMs} ms`, {
            details: { timeoutMs },
          }),
        );
      }, timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}

function aborted(signal: AbortSignal, what: string): IkcError {
  return new IkcError('IKC_ERR_ABORTED', `${what} was aborted`, { cause: signal.reason });
}
