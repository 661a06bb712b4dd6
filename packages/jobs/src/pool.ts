import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { IkcError } from '@ikc/wire';
import { fromPlainError, howEnded } from './errors.js';
import { moduleUrl } from './options.js';
import type { CallMessage, WorkerMessage } from './protocol.js';

/** The script every pool worker runs. */
export const POOL_WORKER = fileURLToPath(new URL('./pool-worker.js', import.meta.url));

/** Workers in a row that die before their module is loaded, after which the pool gives up. */
export const POOL_MAX_EARLY_DEATHS = 3;

export interface PoolOptions {
  /** The module whose exports run on the workers: a path (relative to the current directory) or a file URL. */
  module: string | URL;
  /** Worker processes kept warm (count; default: the queue's maxProc). */
  size?: number;
  /** Variables set over process.env for the workers (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** Working directory of the workers. */
  cwd?: string;
  /** Another kernel to run the workers on (a name or id; see Jobs.pool()). */
  on?: string;
}

export interface PoolCloseOptions {
  /** Kill the workers now (SIGKILL); running and queued calls reject with IKC_ERR_JOBS_CLOSED. */
  force?: boolean;
}

interface Call {
  id: number;
  name: string;
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

interface Worker {
  child: ChildProcess;
  pid: number;
  call: Call | undefined;
  loaded: boolean;
  ready: Promise<void>;
  markReady: (error?: Error) => void;
  exited: Promise<void>;
}

function ignore(): void {}

/** A first-in, first-out list with O(1) shift. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

/**
 * A process pool (the FastCGI idea from Forks::Super's plans): `size` node workers kept warm,
 * each with the module imported; `run(name, ...args)` calls an export on an idle worker, or
 * waits in a FIFO queue until one is free. A worker runs one call at a time. A worker that
 * dies is replaced; the call it was running rejects with IKC_ERR_JOB_CRASHED.
 */
export class Pool {
  /** File URL of the module. */
  readonly module: string;
  readonly size: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly cwd: string | undefined;
  private readonly workers = new Set<Worker>();
  private idle: Worker[] = [];
  private readonly queue = new Fifo<Call>();
  private nextId = 0;
  /** run() refuses new calls. */
  private closed = false;
  /** No worker is replaced any more. */
  private stopping = false;
  private forced = false;
  private closing: Promise<void> | undefined;
  private drainWaiters: (() => void)[] = [];
  private earlyDeaths = 0;
  private broken: Error | undefined;

  constructor(
    options: PoolOptions,
    private readonly onClosed: () => void = ignore,
  ) {
    if (typeof options !== 'object' || options === null || options.module === undefined) {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        'a pool needs `module`: the path of the module its workers run',
      );
    }
    const size = options.size ?? 1;
    if (!Number.isInteger(size) || size < 1) {
      throw new IkcError('IKC_ERR_INVALID_ARG', `pool size must be an integer >= 1, got ${String(size)}`);
    }
    this.module = moduleUrl(options.module);
    this.size = size;
    this.env = { ...process.env, ...options.env };
    for (const [k, v] of Object.entries(this.env)) if (v === undefined) delete this.env[k];
    this.cwd = options.cwd;
    for (let i = 0; i < size; i++) this.spawnWorker();
  }

  /** Calls waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Workers running a call now. */
  get busy(): number {
    let n = 0;
    for (const w of this.workers) if (w.call) n++;
    return n;
  }

  /** Process ids of the live workers. */
  get pids(): number[] {
    return [...this.workers].map((w) => w.pid);
  }

  /** Resolves once every live worker has imported the module; rejects with the import's error. */
  ready(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    return Promise.all([...this.workers].map((w) => w.ready)).then(() => undefined);
  }

  /**
   * Runs the module's export `name` with `args` (structured clone) on a free worker and
   * resolves to what it returns. A throw rejects with that error (name, message, code,
   * stack kept); a worker that dies during the call rejects it with IKC_ERR_JOB_CRASHED.
   */
  run<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.broken) return Promise.reject(this.broken);
    if (typeof name !== 'string' || name === '') {
      return Promise.reject(new IkcError('IKC_ERR_INVALID_ARG', 'pool.run() needs the name of an export'));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: ++this.nextId, name, args, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  /**
   * Shuts the pool down. By default new calls are refused, the queued and running ones
   * finish, then the workers exit. With `force`, the workers are killed at once and the
   * calls not yet answered reject. A forced close may follow a graceful one that hangs.
   */
  close(options: PoolCloseOptions = {}): Promise<void> {
    this.closed = true;
    if (options.force && !this.forced) {
      this.forced = true;
      this.stopping = true;
      for (const call of this.queue.drain()) call.reject(this.closedError());
      for (const w of this.workers) {
        const call = w.call;
        w.call = undefined;
        call?.reject(this.closedError());
        w.child.kill('SIGKILL');
      }
      this.wakeDrainWaiters();
    }
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.drained();
    this.stopping = true;
    for (const w of this.workers) if (w.child.connected) w.child.disconnect();
    while (this.workers.size) await Promise.all([...this.workers].map((w) => w.exited));
    this.onClosed();
  }

  private closedError(): IkcError {
    return new IkcError('IKC_ERR_JOBS_CLOSED', `the pool of ${this.module} is closed`);
  }

  /** Resolves when no call is queued or running (at once after a forced close). */
  private drained(): Promise<void> {
    if (this.forced || (this.queue.length === 0 && this.busy === 0)) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrainWaiters(): void {
    if (!this.forced && (this.queue.length > 0 || this.busy > 0)) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private spawnWorker(): void {
    const child = fork(POOL_WORKER, [this.module], {
      serialization: 'advanced',
      execArgv: [],
      env: this.env,
      cwd: this.cwd,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let markReady: (error?: Error) => void = ignore;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = (error) => (error ? reject(error) : resolve());
    });
    ready.catch(ignore); // only ready() callers care
    let exited: () => void = ignore;
    const worker: Worker = {
      child,
      pid: child.pid ?? -1,
      call: undefined,
      loaded: false,
      ready,
      markReady,
      exited: new Promise((resolve) => {
        exited = resolve;
      }),
    };
    child.on('message', (m: WorkerMessage) => this.onMessage(worker, m));
    child.on('error', ignore); // a send to a dead worker; its exit follows
    child.once('exit', (code, signal) => {
      this.onExit(worker, code, signal);
      exited();
    });
    this.workers.add(worker);
    this.idle.push(worker);
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop() as Worker;
      const call = this.queue.shift() as Call;
      const message: CallMessage = { t: 'call', id: call.id, name: call.name, args: call.args };
      try {
        worker.child.send(message);
        worker.call = call;
      } catch (err) {
        this.idle.push(worker);
        call.reject(
          new IkcError('IKC_ERR_INVALID_ARG', `the arguments of pool call "${call.name}" cannot be cloned`, {
            cause: err,
          }),
        );
      }
    }
  }

  private onMessage(worker: Worker, m: WorkerMessage): void {
    if (m.t === 'ready') {
      worker.loaded = true;
      this.earlyDeaths = 0;
      worker.markReady(m.error ? fromPlainError(m.error) : undefined);
      return;
    }
    const call = worker.call;
    if (!call || call.id !== m.id) return;
    worker.call = undefined;
    if (m.t === 'done') call.resolve(m.value);
    else call.reject(fromPlainError(m.error));
    this.idle.push(worker);
    this.dispatch();
    this.wakeDrainWaiters();
  }

  private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(worker);
    this.idle = this.idle.filter((w) => w !== worker);
    const how = howEnded(code, signal);
    const call = worker.call;
    worker.call = undefined;
    if (call) {
      call.reject(
        new IkcError(
          'IKC_ERR_JOB_CRASHED',
          `pool worker ${worker.pid} died (${how}) while running "${call.name}"`,
          {
            details: { pid: worker.pid, exitCode: code, signal, call: call.name },
          },
        ),
      );
    }
    if (!worker.loaded) {
      const err = new IkcError(
        'IKC_ERR_JOB_CRASHED',
        `pool worker ${worker.pid} died (${how}) before it loaded ${this.module}`,
        {
          details: { pid: worker.pid, exitCode: code, signal },
        },
      );
      worker.markReady(err);
      if (!this.stopping && ++this.earlyDeaths >= POOL_MAX_EARLY_DEATHS) {
        this.broken = err;
        for (const c of this.queue.drain()) c.reject(err);
      }
    }
    if (!this.stopping && !this.broken) this.spawnWorker();
    this.dispatch();
    this.wakeDrainWaiters();
  }
}
