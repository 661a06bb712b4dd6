/**
 * One connect attempt with its deadline and its AbortSignal, shared by every transport so
 * that all of them fail the same way: IKC_ERR_CONNECT, naming the address and the cause.
 */
import { IkcError } from '@ikc/wire';
import type { Conn, ConnectOptions } from '../transport.js';
import { codedError, connectError } from './errors.js';

/**
 * Runs `start`, which begins the attempt and returns a function that abandons it. `start`
 * reports through `ok` or `fail`; whichever of them, the deadline or the signal comes first
 * settles the attempt. A conn that opens after the attempt was given up is terminated.
 */
export function connectAttempt(
  address: string,
  options: ConnectOptions | undefined,
  start: (ok: (conn: Conn) => void, fail: (cause: unknown) => void) => () => void,
): Promise<Conn> {
  const { timeoutMs, signal } = options ?? {};
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    return Promise.reject(
      new IkcError('IKC_ERR_INVALID_ARG', `connect timeoutMs must be a number >= 0, got ${timeoutMs}`),
    );
  }
  if (signal?.aborted) return Promise.reject(connectError(address, signal.reason));

  return new Promise<Conn>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let abandon = (): void => {};
    const onAbort = (): void => giveUp(signal!.reason);
    const finish = (): void => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (cause: unknown): void => {
      if (settled) return;
      finish();
      reject(connectError(address, cause));
    };
    const giveUp = (cause: unknown): void => {
      if (settled) return;
      fail(cause);
      abandon();
    };
    const ok = (conn: Conn): void => {
      if (settled) return conn.terminate();
      finish();
      resolve(conn);
    };

    try {
      abandon = start(ok, fail);
    } catch (err) {
      return fail(err);
    }
    if (settled) return;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => giveUp(codedError('ETIMEDOUT', `timed out after ${timeoutMs} ms`)), timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
