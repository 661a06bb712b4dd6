import type { Kernel, Session } from '@ikc/kernel';
import { IkcError } from '@ikc/wire';
import { moduleUrl } from './options.js';
import type { PoolCloseOptions, PoolOptions } from './pool.js';
import { JOB_SERVICE } from './wire.js';

/** A pool call on another kernel may run long: it has no timeout but its kernel's death. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

/** What a remote pool says of itself (`stats()`), as a local Pool's getters do. */
export interface PoolStats {
  size: number;
  queued: number;
  busy: number;
  pids: number[];
}

/**
 * A process pool on another kernel (`jobs.pool({ module, size, on: 'beta' })`): its workers
 * run there, in that kernel's pool, and `run()` is a call to the session that kernel made
 * for it. The same `ready()`, `run()` and `close()` as a local Pool; the counts come from
 * `stats()`, asynchronously. Arguments and results cross the mesh (msgpack), not structured
 * clone.
 */
export class RemotePool {
  /** File URL of the module (it must exist at that path on the other kernel). */
  readonly module: string;
  /** Where the workers run. */
  readonly on: string;
  private readonly session: Promise<Session>;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly kernel: Kernel,
    options: PoolOptions & { on: string },
    private readonly onClosed: () => void,
  ) {
    this.module = moduleUrl(options.module);
    this.on = options.on;
    const env: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(options.env ?? {})) env[k] = v ?? null;
    // Without a size, the other kernel's maxProc.
    const wire = { module: this.module, size: options.size ?? null, env, cwd: options.cwd ?? null };
    this.session = kernel.callWith<Session>(
      { timeoutMs: NO_TIMEOUT_MS },
      `poe://${options.on}/${JOB_SERVICE}`,
      'pool',
      wire,
    );
    // A pool nobody ever asks anything of must not leave an unhandled rejection behind.
    this.session.catch(() => {});
  }

  /** The kernel made the pool (and its workers are starting); rejects with why it did not. */
  async made(): Promise<void> {
    await this.session;
  }

  /** Resolves once every worker there has imported the module; rejects with why not. */
  async ready(): Promise<void> {
    await this.kernel.callWith({ timeoutMs: NO_TIMEOUT_MS }, await this.session, 'ready');
  }

  /** Runs export `name` on a free worker there and resolves to what it returns. */
  async run<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    if (this.closing) throw new IkcError('IKC_ERR_JOBS_CLOSED', `the pool on ${this.on} is closed`);
    if (typeof name !== 'string' || name === '')
      throw new IkcError('IKC_ERR_INVALID_ARG', 'pool.run() needs the name of an export');
    return (await this.kernel.callWith(
      { timeoutMs: NO_TIMEOUT_MS },
      await this.session,
      'run',
      name,
      ...args,
    )) as T;
  }

  /** The pool's counts there: size, queued and busy calls, worker pids. */
  async stats(): Promise<PoolStats> {
    return (await this.kernel.call(await this.session, 'stats')) as PoolStats;
  }

  /** Closes the pool there (see Pool.close()). */
  close(options: PoolCloseOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      try {
        const session = await this.session;
        await this.kernel.callWith({ timeoutMs: NO_TIMEOUT_MS }, session, 'close', options.force === true);
      } catch {
        // Never made, or its kernel is gone: nothing is left to close there.
      } finally {
        this.onClosed();
      }
    })();
    return this.closing;
  }
}

/** The serving side: the session a kernel makes for a pool another kernel asked for. */
export function poolSession(
  kernel: Kernel,
  pool: {
    ready(): Promise<void>;
    run(name: string, ...args: unknown[]): Promise<unknown>;
    close(o: PoolCloseOptions): Promise<void>;
    size: number;
    queued: number;
    busy: number;
    pids: number[];
  },
  owner: string | undefined,
  forget: () => void,
): { session: Session; orphaned: () => void } {
  let release: () => void = () => {};
  const closeIt = (force: boolean) =>
    pool.close({ force }).finally(() => {
      forget();
      release();
      if (session.alive) kernel.stopSession(session);
    });
  const mine = (sender: Session) => sender.remote?.kernelId === owner;
  const refuse = () => {
    throw new IkcError('IKC_ERR_NOT_PUBLISHED', 'only the kernel that made this pool may use it');
  };
  const session = kernel.spawn({
    events: {
      ready: (ctx) => (mine(ctx.sender) ? pool.ready() : refuse()),
      run: (ctx, name: string, ...args: unknown[]) => (mine(ctx.sender) ? pool.run(name, ...args) : refuse()),
      stats: (ctx) =>
        mine(ctx.sender)
          ? { size: pool.size, queued: pool.queued, busy: pool.busy, pids: pool.pids }
          : refuse(),
      close: (ctx, force: boolean) => (mine(ctx.sender) ? closeIt(force === true) : refuse()),
    },
  });
  release = kernel.hold(session);
  return { session, orphaned: () => void closeIt(true) };
}
