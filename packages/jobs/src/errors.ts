import { IkcError } from '@ikc/wire';
import type { PlainError } from './protocol.js';

/**
 * Rebuilds an error a child sent: an IkcError when its code is ikc's, else an Error of the
 * same name; message, stack, code and details are kept.
 */
export function fromPlainError(plain: PlainError): Error {
  const code = plain.code;
  const details =
    typeof plain.details === 'object' && plain.details !== null
      ? (plain.details as Record<string, unknown>)
      : undefined;
  let err: Error & { code?: string; details?: unknown };
  if (code?.startsWith('IKC_ERR_')) {
    err = new IkcError(code, plain.message, details ? { details } : {});
  } else {
    err = new Error(plain.message);
    err.name = plain.name;
    if (code !== undefined) err.code = code;
    if (plain.details !== undefined) err.details = plain.details;
  }
  if (plain.stack !== undefined) err.stack = plain.stack;
  return err;
}

/** How a process ended, in words: `exit code 3` or `signal SIGKILL`. */
export function howEnded(exitCode: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `exit code ${exitCode}`;
}
