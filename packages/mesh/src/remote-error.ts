import { type ErrorPayload, IkcError } from '@ikc/wire';

/**
 * A remote handler's failure, rebuilt on the calling kernel. `code` is the remote code (an
 * IKC_ERR_* code, or the thrower's own such as ENOENT; IKC_ERR_HANDLER when it had none),
 * and the remote kernel, session, event, error class name and stack are kept.
 */
export class RemoteError extends IkcError {
  /** Name of the kernel where it was thrown. */
  readonly kernel: string;
  readonly session: string;
  readonly event: string;
  /** The remote error's class name (TypeError, IkcError, ...). */
  readonly remoteName: string;
  /** The stack as the remote kernel printed it. */
  readonly remoteStack: string;

  constructor(payload: ErrorPayload) {
    super(payload.code || 'IKC_ERR_HANDLER', payload.message, {
      details: { kernel: payload.kernel, session: payload.session, event: payload.event },
    });
    this.name = 'RemoteError';
    this.kernel = payload.kernel;
    this.session = payload.session;
    this.event = payload.event;
    this.remoteName = payload.name || 'Error';
    this.remoteStack = payload.stack;
    // The remote stack says where it went wrong; the local one only where the reply arrived.
    const where = `    at ${payload.event || '?'} (poe://${payload.kernel}/${payload.session})`;
    this.stack = `RemoteError [${this.code}]: ${payload.message}\n${where}\n${payload.stack}`;
  }
}
