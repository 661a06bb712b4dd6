/**
 * A pool worker: a warm node process that imports one module (its file URL is argv[2]) and
 * runs the module's exports as the parent asks, one call at a time, on the IPC channel.
 * An export is called with the call's arguments (no ctx: a pool call has no channels).
 * It exits when the parent disconnects (pool.close(), or the parent died).
 */
import type { CallMessage, WorkerMessage } from './protocol.js';
import { toPlainError } from './protocol.js';

const url = process.argv[2] as string;

function send(message: WorkerMessage): void {
  try {
    process.send?.(message);
  } catch (err) {
    if (message.t !== 'done') throw err;
    // The return value cannot be cloned: the call fails with that reason.
    const error = toPlainError(
      new Error(`the result of the pool call cannot be sent to the parent: ${(err as Error).message}`, {
        cause: err,
      }),
    );
    process.send?.({ t: 'fail', id: message.id, error } satisfies WorkerMessage);
  }
}

const loaded: Promise<Record<string, unknown>> = import(url);
loaded.then(
  () => send({ t: 'ready' }),
  (err: unknown) => send({ t: 'ready', error: toPlainError(err) }),
);

async function call(msg: CallMessage): Promise<void> {
  try {
    const mod = await loaded;
    const fn = mod[msg.name];
    if (typeof fn !== 'function') {
      throw Object.assign(new Error(`pool module ${url} has no exported function "${msg.name}"`), {
        code: 'IKC_ERR_INVALID_ARG',
      });
    }
    send({ t: 'done', id: msg.id, value: await fn(...msg.args) });
  } catch (err) {
    send({ t: 'fail', id: msg.id, error: toPlainError(err) });
  }
}

process.on('message', (msg: CallMessage) => {
  if (msg.t === 'call') void call(msg);
});
process.on('disconnect', () => process.exit(0));
