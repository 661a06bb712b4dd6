/**
 * The child process of a `module` job (Forks::Super's bg_eval): receives one RunMessage on
 * the IPC channel, imports the module, calls the export as `(ctx, ...args)`, and sends the
 * result (or the error) back. Then it exits: the job ends when its function returns, even
 * if the module left timers or sockets open. Run by the parent as `node runner.js`.
 */
import type { Duplex } from 'node:stream';
import { openChannel } from './child.js';
import type {
  JobContext,
  LeafGrant,
  PlainError,
  ReplyMessage,
  RunMessage,
  RunnerMessage,
} from './protocol.js';
import { toPlainError } from './protocol.js';

/** Calls of the function's waiting for the parent's reply, by id. */
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
let nextCall = 0;

/** An error the parent sent back, as an Error with its name, code and details. */
function rebuilt(plain: PlainError): Error {
  const err = Object.assign(new Error(plain.message), { code: plain.code, details: plain.details });
  err.name = plain.name;
  if (plain.stack !== undefined) err.stack = plain.stack;
  return err;
}

function send(message: RunnerMessage): Promise<void> {
  return new Promise((resolve) => {
    try {
      process.send?.(message, undefined, undefined, () => resolve());
    } catch (err) {
      // The value cannot be cloned: say so instead.
      const error = toPlainError(
        new Error(`the job's result cannot be sent to the parent: ${(err as Error).message}`, { cause: err }),
      );
      process.send?.({ t: 'error', error } satisfies RunnerMessage, undefined, undefined, () => resolve());
    }
  });
}

/** Ends every channel this side writes to, and waits until their data left the process. */
function flush(channels: Record<string, Duplex>): Promise<void> {
  return Promise.all(
    Object.values(channels).map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s.writable) return resolve();
          s.once('error', () => resolve());
          s.end(() => resolve());
        }),
    ),
  ).then(() => undefined);
}

/** The leaf kernel ctx.kernel() attached, as far as the runner needs it. */
interface Leaf {
  stop(): Promise<void>;
}

/** How long the runner waits for its leaf kernel to say goodbye before it exits anyway (ms). */
const LEAF_STOP_MS = 2000;

/** Attaches this process as the leaf kernel `grant` offers (importing the mesh only now). */
async function attachLeaf(grant: LeafGrant | undefined, job: string): Promise<Leaf> {
  if (!grant) {
    throw Object.assign(
      new Error(
        `job ${job} was started by a kernel that cannot host a leaf kernel (a leaf itself, or a kernel without a mesh)`,
      ),
      { code: 'IKC_ERR_CONNECT' },
    );
  }
  const mesh = (await import(grant.module)) as { attachJobLeaf(grant: LeafGrant): Promise<Leaf> };
  return mesh.attachJobLeaf(grant);
}

/** Stops the leaf kernel, if one was attached, giving it LEAF_STOP_MS to say goodbye. */
async function detach(leaf: Promise<Leaf> | undefined): Promise<void> {
  const kernel = await leaf?.catch(() => undefined);
  if (!kernel) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    kernel.stop().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, LEAF_STOP_MS);
    }),
  ]);
  clearTimeout(timer);
}

async function run(msg: RunMessage): Promise<number> {
  if (msg.join)
    process.stderr.write = process.stdout.write.bind(process.stdout) as typeof process.stderr.write;
  const channels: Record<string, Duplex> = {};
  for (const c of msg.channels) channels[c.name] = openChannel(c);
  let leaf: Promise<Leaf> | undefined;
  try {
    const mod = (await import(msg.module)) as Record<string, unknown>;
    const fn = mod[msg.export];
    if (typeof fn !== 'function') {
      throw Object.assign(new Error(`module ${msg.module} has no exported function "${msg.export}"`), {
        code: 'IKC_ERR_INVALID_ARG',
      });
    }
    const ctx: JobContext = {
      id: msg.id,
      name: msg.name,
      channels,
      args: msg.args,
      post: (target, ...rest) => process.send?.({ t: 'post', target, rest } satisfies RunnerMessage),
      call: <T>(target: string, ...rest: unknown[]) =>
        new Promise<T>((resolve, reject) => {
          const id = ++nextCall;
          calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
          process.send?.({ t: 'call', id, target, rest } satisfies RunnerMessage);
        }),
      kernel: <K>() => (leaf ??= attachLeaf(msg.leaf, msg.id)) as Promise<K>,
    };
    const value = await fn(ctx, ...msg.args);
    await flush(channels);
    await detach(leaf);
    await send({ t: 'result', value });
    return 0;
  } catch (err) {
    await flush(channels);
    await detach(leaf);
    await send({ t: 'error', error: toPlainError(err) });
    return 1;
  }
}

// The parent went away: nobody is left to give a result to.
process.on('disconnect', () => process.exit(1));
process.on('message', (msg: RunMessage | ReplyMessage) => {
  if (msg.t === 'run') {
    run(msg).then((code) => process.exit(code));
    return;
  }
  const call = calls.get(msg.id);
  if (!call) return;
  calls.delete(msg.id);
  if (msg.error) call.reject(rebuilt(msg.error));
  else call.resolve(msg.value);
});
