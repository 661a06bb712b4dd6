/**
 * The errors the transports raise. Every one is an IkcError with a stable code:
 * IKC_ERR_CONNECT for a connect that failed, IKC_ERR_LISTEN for a listen that failed, and
 * `cause` holding what the system (or the simulated network) said.
 */
import { IkcError } from '@ikc/wire';

/** The error every failed connect rejects with; `cause` holds what went wrong underneath. */
export function connectError(address: string, cause: unknown): IkcError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new IkcError('IKC_ERR_CONNECT', `cannot connect to ${address}: ${why}`, {
    cause,
    details: { address },
  });
}

/** The error every failed listen rejects with. */
export function listenError(address: string, cause: unknown): IkcError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new IkcError('IKC_ERR_LISTEN', `cannot listen on ${address}: ${why}`, {
    cause,
    details: { address },
  });
}

/** An Error with a Node-style errno code, for causes no system call produced. */
export function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
