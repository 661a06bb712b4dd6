import { type Kernel, type Monitor, type MonitorEvent, Session } from '@ikc/kernel';
import { IkcError } from '@ikc/wire';
import type { AttemptExit, Execution, Launcher, LeafHost } from './execution.js';
import { Job, type JobControl, type JobEventType, type JobInfo, type JobOutcome } from './job.js';
import { LocalLauncher } from './local.js';
import { JOB_DEFAULTS, type JobOptions, type JobRef, type JobSpec, normalize } from './options.js';
import { Pool, type PoolOptions } from './pool.js';
import { RunQueue } from './queue.js';
import { type Placement, type RemoteHooks, RemoteHub, RemoteRun } from './remote.js';
import { RemotePool } from './remote-pool.js';

export interface JobsOptions {
  /** Jobs running at once (count; default: os.availableParallelism()). Suspended jobs count. */
  maxProc?: number;
  /** Commands (program names or absolute paths) and modules (absolute paths) other kernels
   * may fork here. Local forks are not checked: this process may run anything anyway. */
  allow?: readonly string[];
  /** How `on: '*'` finds a kernel (the mesh gives this; without it `*` means here). */
  placement?: Placement;
  /** Between a timeout's (or close()'s) SIGTERM and its SIGKILL, in ms (default 2000). */
  killGraceMs?: number;
  /** Runs the attempts (default: local child processes). */
  launcher?: Launcher;
  /** Hosts module jobs' children as leaf kernels (ctx.kernel()); a host kernel's mesh gives this. */
  leafHost?: LeafHost;
}

/** What an owner session is posted, as the one argument of its `_job` event. */
export interface JobEventPayload {
  type: JobEventType;
  job: JobInfo;
  /** For finish and fail. */
  outcome?: JobOutcome;
}

/** One running attempt and its timers. */
interface Running {
  exec: Execution;
  timedOut: boolean;
  timer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
}

/** A dependency: a job to watch, or 'past' for a job of this queue that is long gone (done). */
type Dep = Job | 'past';

interface Waiting {
  finish: Dep[];
  start: Dep[];
}

/** Per kernel: the job counter (ids are never reused, even across Jobs instances) and the open queue. */
const registry = new WeakMap<Kernel, { counter: number; open: Jobs | undefined }>();

/** Open queues, for the process's exit hook. */
const openQueues = new Set<Jobs>();

/** The longest delay setTimeout takes (ms); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The process is exiting: no job should outlive it unseen in a process group of its own. */
function onProcessExit(): void {
  for (const jobs of openQueues) jobs.terminateAll();
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new IkcError('IKC_ERR_INVALID_ARG', `${what} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/**
 * A kernel's job queue (Forks::Super's): forks jobs, runs at most maxProc at once in
 * priority order, starts deferred ones when their time and their dependencies allow, and
 * tells each job's owner session, the kernel's monitors and the Job's listeners what
 * happens. One per kernel.
 */
export class Jobs implements JobControl {
  readonly kernel: Kernel;
  readonly allow: readonly string[];
  private max: number;
  private readonly killGraceMs: number;
  private readonly launcher: Launcher;
  private readonly slot: { counter: number; open: Jobs | undefined };
  /** Jobs not yet reaped, by id. */
  private readonly jobs = new Map<string, Job>();
  private readonly ready = new RunQueue<Job>();
  private readonly deferred = new Map<Job, Waiting>();
  private readonly running = new Map<Job, Running>();
  /** Jobs whose current wait was announced (`queue`), so it is announced once. */
  private readonly announced = new Set<Job>();
  private readonly owners = new Map<Job, { session: Session; release: () => void }>();
  /** Ended, unreaped jobs in the order they ended: the oldest are forgotten past keepComplete. */
  private readonly ended = new Set<Job>();
  private readonly pools = new Set<Pool | RemotePool>();
  /** Jobs forked on other kernels, while they run there. */
  private readonly remotes = new Map<Job, RemoteRun>();
  /** @internal Where remote jobs forked here hear from the kernels that run them (JobService shares its session). */
  readonly remoteHub: RemoteHub;
  /** Jobs for other kernels whose time and dependencies have come: launched by the next pump. */
  private readonly remoteReady: Job[] = [];
  /** Jobs that go to another kernel once they may start: where to (a name, or `*`). */
  private readonly remoteTarget = new Map<Job, string>();
  private readonly placement: Placement | undefined;
  private readonly leafHost: LeafHost | undefined;
  private readonly downMonitor: Monitor;
  private pumpQueued = false;
  private wake: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(kernel: Kernel, options: JobsOptions = {}) {
    let slot = registry.get(kernel);
    if (!slot) registry.set(kernel, (slot = { counter: 0, open: undefined }));
    if (slot.open) {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        `kernel ${kernel.name} already has a job queue; close() it first`,
      );
    }
    this.kernel = kernel;
    this.slot = slot;
    this.remoteHub = new RemoteHub(kernel);
    this.max = positiveInt(options.maxProc ?? JOB_DEFAULTS.maxProc(), 'maxProc');
    this.allow = Object.freeze([...(options.allow ?? [])]);
    this.killGraceMs = options.killGraceMs ?? JOB_DEFAULTS.killGraceMs;
    this.launcher = options.launcher ?? new LocalLauncher();
    this.placement = options.placement;
    this.leafHost = options.leafHost;
    slot.open = this;
    kernel.setForker({
      fork: (opts, owner) => this.fork(opts as JobOptions, owner),
      pool: (opts) => this.pool(opts as PoolOptions),
    });
    this.downMonitor = kernel.monitor(['kernel.down'], (e: MonitorEvent) => {
      for (const run of this.remotes.values()) run.kernelDown(String(e.kernelId), e.kernel);
    });
    if (openQueues.size === 0) process.on('exit', onProcessExit);
    openQueues.add(this);
  }

  /** The open job queue of a kernel, if it has one (for code that holds only the kernel). */
  static of(kernel: Kernel): Jobs | undefined {
    return registry.get(kernel)?.open;
  }

  get maxProc(): number {
    return this.max;
  }

  /** Raising it starts waiting jobs at once; lowering it lets running jobs finish. */
  set maxProc(value: number) {
    this.max = positiveInt(value, 'maxProc');
    this.schedule();
  }

  /** Jobs running now (active or suspended). */
  get activeCount(): number {
    return this.running.size;
  }

  /** Jobs waiting: deferred or queued. */
  get waitingCount(): number {
    return this.ready.size + this.deferred.size;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** (running + waiting jobs) / maxProc: below 1, a job forked now would start at once. */
  get load(): number {
    return (this.running.size + this.ready.size) / this.max;
  }

  /** True when the module at `path` (absolute, or a file URL) is in `allow`. */
  allowsModule(path: string): boolean {
    return this.allow.includes(path);
  }

  /** True when `program` (argv[0]) is in `allow`, by its full path or its base name. */
  allows(program: string): boolean {
    const base = program.slice(program.lastIndexOf('/') + 1);
    return this.allow.includes(program) || (!program.includes('/') && this.allow.includes(base));
  }

  /** fork() and pool() on a closed queue, or on a kernel that has stopped, throw. */
  private refuseIfClosed(): void {
    if (this.closing)
      throw new IkcError('IKC_ERR_JOBS_CLOSED', `the job queue of kernel ${this.kernel.name} is closed`);
    if (this.kernel.isStopped)
      throw new IkcError(
        'IKC_ERR_KERNEL_STOPPED',
        `kernel ${this.kernel.name} has stopped: it forks nothing more`,
      );
  }

  /**
   * Forks a job. It starts later (never inside this call), so listeners and pipes attached
   * right after fork() see everything. With `owner`, the job posts `_job` events (or
   * `options.event`) to that session and holds it alive until it ends.
   */
  fork(options: JobOptions, owner?: Session): Job {
    return this.forkWith(options, owner, undefined);
  }

  /**
   * @internal A fork another kernel asked for (JobService): its id is made there, and `spec`
   * is `normalize(options)`, already made to check `jobs.allow`. It does not start here: the
   * service starts it with startNow() once it listens to the job.
   */
  forkAs(id: string, options: JobOptions, spec?: JobSpec): Job {
    if (this.jobs.has(id))
      throw new IkcError('IKC_ERR_INVALID_ARG', `kernel ${this.kernel.name} already has a job ${id}`);
    return this.forkWith({ ...options, on: undefined }, undefined, id, spec);
  }

  private forkWith(
    options: JobOptions,
    owner: Session | undefined,
    givenId: string | undefined,
    normalized?: JobSpec,
  ): Job {
    this.refuseIfClosed();
    const on = options?.on;
    if (on !== undefined && typeof on !== 'string')
      throw new IkcError('IKC_ERR_INVALID_ARG', 'job option on must be a kernel name or id, or "*"');
    const remote = on !== undefined && on !== '' && on !== this.kernel.name && on !== this.kernel.id;
    if (remote && on === '*' && !this.placement) {
      // No cloud to choose from: `*` is this kernel.
      return this.forkWith({ ...options, on: undefined }, owner, givenId);
    }
    const spec = normalized ?? normalize(options);
    if (
      owner !== undefined &&
      (!(owner instanceof Session) || owner.kernel !== this.kernel || !owner.alive)
    ) {
      throw new IkcError('IKC_ERR_INVALID_ARG', 'a job owner must be a live session of this kernel');
    }
    const waiting: Waiting = {
      finish: spec.dependsOn.map((r) => this.dep(r)),
      start: spec.dependsStart.map((r) => this.dep(r)),
    };
    const defer = !this.canStart(spec, waiting, Date.now());
    if (!remote && !defer && spec.onBusy === 'fail' && this.running.size + this.ready.size >= this.max)
      throw this.busy();

    const id = givenId ?? `${this.kernel.id}.j${++this.slot.counter}`;
    // A job for a named kernel that may start now: its fork leaves within this call, before the
    // Job is made, and that kernel starts it while this one goes on (nothing it sends back can
    // be read before fork() returns). Its stdin follows the fork as it is written.
    const request =
      remote && on !== '*' && !defer ? this.remoteHub.requestFork(on, id, spec, undefined) : undefined;
    const job = new Job(id, spec, this, remote ? on : this.kernel.name, defer ? 'deferred' : 'queued');
    this.jobs.set(id, job);
    if (owner) this.owners.set(job, { session: owner, release: this.kernel.hold(owner) });
    for (const d of [...waiting.finish, ...waiting.start]) {
      // A job of another queue (later: of another kernel) tells us itself when it moves on.
      if (d !== 'past' && !this.jobs.has(d.id)) d.on('state', () => this.schedule());
    }
    if (remote) this.remoteTarget.set(job, on);
    if (defer) this.deferred.set(job, waiting);
    else if (request) this.launchRemote(job, request);
    else if (remote) this.remoteReady.push(job);
    else this.ready.push(job);
    if (givenId === undefined && !request) this.schedule();
    return job;
  }

  /**
   * @internal Starts what may start, now (JobService, after forkAs): a fork for another kernel
   * starts within its call, so nothing is sent back while the child starts (its `start` goes
   * with its first output: Executor.replyWithOutput).
   */
  startNow(): void {
    this.pump();
  }

  /** A job of this queue that has not been reaped (or forgotten). */
  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Every job not yet reaped: id, name, state, pid and the rest of its info. */
  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => j.info());
  }

  /**
   * A process pool of warm node workers running one module's exports; with `on` naming
   * another kernel, the workers run there (a RemotePool, that kernel's `jobs.allow` must list
   * the module).
   */
  pool(options: PoolOptions & { on?: undefined | '' }): Pool;
  pool(options: PoolOptions): Pool | RemotePool;
  pool(options: PoolOptions): Pool | RemotePool {
    this.refuseIfClosed();
    const on = options?.on;
    if (on !== undefined && on !== '' && on !== this.kernel.name && on !== this.kernel.id) {
      if (typeof on !== 'string' || on === '*')
        throw new IkcError('IKC_ERR_INVALID_ARG', 'pool option on must name one kernel');
      const size = options.size;
      if (size !== undefined && (!Number.isInteger(size) || size < 1))
        throw new IkcError('IKC_ERR_INVALID_ARG', `pool size must be an integer >= 1, got ${String(size)}`);
      if (options.module === undefined)
        throw new IkcError(
          'IKC_ERR_INVALID_ARG',
          'a pool needs `module`: the path of the module its workers run',
        );
      const remote: RemotePool = new RemotePool(this.kernel, { ...options, on }, () =>
        this.pools.delete(remote),
      );
      this.pools.add(remote);
      return remote;
    }
    const pool = new Pool({ ...options, size: options.size ?? this.max }, () => this.pools.delete(pool));
    this.pools.add(pool);
    return pool;
  }

  /**
   * Closes the queue: waiting jobs end (IKC_ERR_JOBS_CLOSED), running ones get SIGTERM (then
   * SIGKILL after killGraceMs), pools are closed by force. Resolves when all have ended.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.wake) clearTimeout(this.wake);
    const closed = () =>
      new IkcError('IKC_ERR_JOBS_CLOSED', `the job queue of kernel ${this.kernel.name} was closed`);
    for (const job of [...this.deferred.keys(), ...this.ready.toArray(), ...this.remoteReady.splice(0)]) {
      this.deferred.delete(job);
      this.ready.remove(job);
      this.end(job, { exitCode: null, signal: null, result: undefined, error: closed() }, {}, 'fail');
    }
    this.downMonitor.close();
    if (this.slot.open === this) this.kernel.setForker(undefined);
    const done: Promise<unknown>[] = [...this.pools].map((p) => p.close({ force: true }));
    for (const run of this.remotes.values()) done.push(this.closeRemote(run, closed));
    for (const [job, run] of this.running) {
      job.killed = true;
      this.terminate(job, run);
      done.push(run.exec.done);
    }
    await Promise.all(done);
    // Let the attempts' ends (queued on the same promises) run first.
    await new Promise((resolve) => setImmediate(resolve));
    openQueues.delete(this);
    if (openQueues.size === 0) process.off('exit', onProcessExit);
    if (this.slot.open === this) this.slot.open = undefined;
  }

  // ---- JobControl: what a Job asks of its queue ---------------------------------------------

  /** @internal */
  kill(job: Job, signal: NodeJS.Signals): boolean {
    const remote = this.remotes.get(job);
    if (remote) return remote.signal(signal);
    const at = this.remoteReady.indexOf(job);
    if (at >= 0) {
      this.remoteReady.splice(at, 1);
      this.end(job, { exitCode: null, signal, result: undefined }, {}, 'fail');
      return true;
    }
    const run = this.running.get(job);
    if (run) {
      const sent = run.exec.signal(signal);
      if (job.state === 'suspended') {
        run.exec.signal('SIGCONT');
        job.setState('active');
      }
      return sent;
    }
    if (this.deferred.delete(job) || this.ready.remove(job)) {
      this.end(job, { exitCode: null, signal, result: undefined }, {}, 'fail');
      this.schedule();
      return true;
    }
    return false;
  }

  /** @internal */
  suspend(job: Job): boolean {
    const remote = this.remotes.get(job);
    if (remote) return remote.suspend();
    const run = this.running.get(job);
    if (!run?.exec.signal('SIGSTOP')) return false;
    job.setState('suspended');
    return true;
  }

  /** @internal */
  resume(job: Job): boolean {
    const remote = this.remotes.get(job);
    if (remote) return remote.resume();
    const run = this.running.get(job);
    if (!run?.exec.signal('SIGCONT')) return false;
    job.setState('active');
    return true;
  }

  /** @internal */
  reaped(job: Job): void {
    this.ended.delete(job);
    if (this.jobs.get(job.id) === job) this.jobs.delete(job.id);
  }

  // ---- the queue -----------------------------------------------------------------------------

  private dep(ref: JobRef): Dep {
    if (ref instanceof Job) return ref;
    const id = typeof ref === 'string' ? ref : ref.id;
    const job = this.jobs.get(id);
    if (job) return job;
    // An id of this kernel's queue that is no longer listed ended long ago.
    const m = /^(.*)\.j(\d+)$/.exec(id);
    if (m && m[1] === this.kernel.id && Number(m[2]) <= this.slot.counter) return 'past';
    throw new IkcError('IKC_ERR_INVALID_ARG', `no job "${id}" to depend on`, { details: { job: id } });
  }

  private canStart(spec: JobSpec, waiting: Waiting, now: number): boolean {
    if (spec.startAt !== undefined && spec.startAt > now) return false;
    const started = (d: Dep) => d === 'past' || d.attempts > 0 || d.done;
    const finished = (d: Dep) => d === 'past' || d.done;
    return waiting.finish.every(finished) && waiting.start.every(started);
  }

  private busy(): IkcError {
    return new IkcError(
      'IKC_ERR_JOB_BUSY',
      `${this.max} jobs are running on kernel ${this.kernel.name} (maxProc)`,
      {
        details: { maxProc: this.max },
      },
    );
  }

  private schedule(afterIo = false): void {
    if (this.pumpQueued || this.closing) return;
    this.pumpQueued = true;
    if (afterIo) setImmediate(this.pump);
    else queueMicrotask(this.pump);
  }

  /** Moves deferred jobs whose time has come into the queue, and starts queued jobs while slots are free. */
  private pump = (): void => {
    this.pumpQueued = false;
    if (this.closing) return;
    const now = Date.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    for (const [job, waiting] of this.deferred) {
      const at = job.spec.startAt;
      if (at !== undefined && at > now) wakeAt = Math.min(wakeAt, at);
      if (!this.canStart(job.spec, waiting, now)) continue;
      this.deferred.delete(job);
      if (this.remoteTarget.has(job)) {
        this.remoteReady.push(job);
        continue;
      }
      if (job.spec.onBusy === 'fail' && this.running.size + this.ready.size >= this.max) {
        this.end(job, { exitCode: null, signal: null, result: undefined, error: this.busy() }, {}, 'fail');
        continue;
      }
      job.setState('queued');
      this.ready.push(job);
    }
    for (const job of this.remoteReady.splice(0)) this.launchRemote(job);
    while (this.running.size < this.max) {
      const job = this.ready.shift();
      if (!job) break;
      this.start(job, now);
    }
    for (const job of [...this.deferred.keys(), ...this.ready.toArray()]) {
      if (this.announced.has(job)) continue;
      this.announced.add(job);
      this.announce(job, 'queue');
    }
    if (this.wake) clearTimeout(this.wake);
    this.wake = Number.isFinite(wakeAt)
      ? setTimeout(this.pump, Math.min(Math.max(0, wakeAt - now), MAX_TIMER_MS))
      : undefined;
  };

  private start(job: Job, now: number): void {
    const { spec } = job;
    this.announced.delete(job);
    if (spec.expiresAt !== undefined && spec.expiresAt <= now) {
      const error = new IkcError('IKC_ERR_JOB_TIMEOUT', `job ${job.id} expired before it could start`, {
        details: { job: job.id, expiration: spec.expiresAt },
      });
      return this.end(job, { exitCode: null, signal: null, result: undefined, error }, {}, 'fail');
    }
    const last = job.attempts >= spec.retries;
    let exec: Execution;
    try {
      exec = this.launcher.launch({
        id: job.id,
        spec,
        channels: job.channels,
        last,
        kernel: this.kernel,
        sender: this.owners.get(job)?.session ?? this.kernel.root,
        ...(this.leafHost ? { leafHost: this.leafHost } : {}),
      });
    } catch (err) {
      // spawn() throws at once for some bad input (a NUL byte in argv or env, ...).
      const error = err instanceof Error ? err : new Error(String(err));
      return this.end(job, { exitCode: null, signal: null, result: undefined, error }, {}, 'fail');
    }
    const run: Running = { exec, timedOut: false };
    this.running.set(job, run);
    job.started(exec.pid);
    if (exec.pid !== null) this.announce(job, 'start');
    const limits: number[] = [];
    if (spec.timeoutMs !== undefined) limits.push(spec.timeoutMs);
    if (spec.expiresAt !== undefined) limits.push(spec.expiresAt - now);
    if (limits.length) {
      run.timer = setTimeout(
        () => {
          run.timedOut = true;
          this.terminate(job, run);
        },
        Math.min(...limits),
      );
    }
    exec.done.then((exit) => this.attemptEnded(job, run, exit));
    this.schedule(); // jobs that wait for this one to start
  }

  /** At `deadline` (ms since the epoch) the attempt is timed out; long waits are re-armed. */
  private armDeadline(job: Job, run: Running, deadline: number): void {
    const left = deadline - Date.now();
    run.timer = setTimeout(
      () => {
        if (Date.now() < deadline) return this.armDeadline(job, run, deadline);
        run.timedOut = true;
        this.terminate(job, run);
      },
      Math.min(Math.max(0, left), MAX_TIMER_MS),
    );
  }

  /** SIGTERM to the group (continued if stopped), then SIGKILL if it outlives the grace. */
  private terminate(job: Job, run: Running): void {
    run.exec.signal('SIGTERM');
    if (job.state === 'suspended') {
      run.exec.signal('SIGCONT');
      job.setState('active');
    }
    run.killTimer ??= setTimeout(() => run.exec.signal('SIGKILL'), this.killGraceMs).unref();
  }

  private attemptEnded(job: Job, run: Running, exit: AttemptExit): void {
    if (run.timer) clearTimeout(run.timer);
    if (run.killTimer) clearTimeout(run.killTimer);
    this.running.delete(job);
    const { spec } = job;
    let error = exit.error;
    if (run.timedOut && error === undefined) {
      const timeout = spec.timeoutMs === undefined ? '' : ` of ${spec.timeoutMs / 1000} s`;
      error = new IkcError(
        'IKC_ERR_JOB_TIMEOUT',
        `job ${job.id} ran past its timeout${timeout} and was killed`,
        {
          details: { job: job.id, timeoutMs: spec.timeoutMs, expiration: spec.expiresAt },
        },
      );
    }
    const failed = error !== undefined || exit.exitCode !== 0;
    if (failed && !job.killed && !this.closing && job.attempts <= spec.retries) {
      job.setState('queued');
      this.ready.push(job);
      this.schedule();
      return;
    }
    const outcome: JobOutcome = { exitCode: exit.exitCode, signal: exit.signal, result: exit.result };
    if (error !== undefined) outcome.error = error;
    this.end(job, outcome, exit, run.exec.pid === null ? 'fail' : 'finish');
    this.schedule();
  }

  private end(
    job: Job,
    outcome: JobOutcome,
    texts: { stdoutText?: string; stderrText?: string },
    type: 'finish' | 'fail',
  ): void {
    this.announced.delete(job);
    this.remoteTarget.delete(job); // a remote job killed (or closed) before it was sent
    job.ended(outcome, texts);
    if (job.state === 'complete') {
      this.ended.add(job);
      if (this.ended.size > JOB_DEFAULTS.keepComplete) {
        const oldest = this.ended.values().next().value as Job;
        this.reaped(oldest);
      }
    }
    this.announce(job, type, outcome);
    const owner = this.owners.get(job);
    if (owner) {
      this.owners.delete(job);
      owner.release();
    }
  }

  /** Tells the job's listeners, the kernel's monitors and the owner session. */
  private announce(job: Job, type: JobEventType, outcome?: JobOutcome): void {
    const info = job.info();
    job.tell(type, info, outcome);
    this.kernel.emit({ type: 'job', event: type, job: info });
    const owner = this.owners.get(job);
    if (owner?.session.alive && !this.kernel.isStopped) {
      const payload: JobEventPayload = outcome ? { type, job: info, outcome } : { type, job: info };
      this.kernel.post(owner.session, job.spec.event, payload);
    }
  }

  // ---- jobs on other kernels (remote.ts) -------------------------------------------------------

  /** Starts a job on another kernel; `request` is its fork, if fork() already sent it. */
  private launchRemote(job: Job, request?: Promise<Session>): void {
    const target = this.remoteTarget.get(job) as string;
    this.remoteTarget.delete(job);
    const run = new RemoteRun(this.kernel, job, target, this.remoteHooks, this.placement, this.remoteHub);
    this.remotes.set(job, run);
    void run.start(request);
  }

  private readonly remoteHooks: RemoteHooks = {
    placed: (job, kernel) => job.placedOn(kernel),
    local: (job) => {
      this.remotes.delete(job);
      job.placedOn(this.kernel.name);
      if (this.closing) {
        const error = new IkcError(
          'IKC_ERR_JOBS_CLOSED',
          `the job queue of kernel ${this.kernel.name} was closed`,
        );
        return this.end(job, { exitCode: null, signal: null, result: undefined, error }, {}, 'fail');
      }
      this.ready.push(job);
      this.schedule();
    },
    started: (job, pid) => {
      job.started(pid);
      this.announce(job, 'start');
    },
    state: (job, state) => {
      if (state === 'queued' || state === 'deferred') {
        job.setState(state);
        if (!this.announced.has(job)) {
          this.announced.add(job);
          this.announce(job, 'queue');
        }
      } else if (state === 'active' || state === 'suspended') job.setState(state);
    },
    ended: (job, type, outcome, texts) => {
      this.remotes.delete(job);
      this.end(job, outcome, texts, type);
      this.schedule();
    },
  };

  /** Closing: SIGTERM to a remote job, and its end awaited for killGraceMs at most. */
  private closeRemote(run: RemoteRun, closed: () => IkcError): Promise<void> {
    run.job.killed = true;
    run.signal('SIGTERM');
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        run.fail(closed());
        resolve();
      }, this.killGraceMs);
      run.job.once('state', function check(this: unknown, state: string) {
        if (state === 'complete' || state === 'reaped') {
          clearTimeout(timer);
          resolve();
        } else run.job.once('state', check);
      });
    });
  }

  /** @internal An orphaned job (its forking kernel went away): SIGTERM, then SIGKILL. */
  terminateJob(job: Job): void {
    job.killed = true;
    const run = this.running.get(job);
    if (run) return this.terminate(job, run);
    this.kill(job, 'SIGTERM');
  }

  /** @internal SIGTERM to every running job's group, at once (the process is exiting). */
  terminateAll(): void {
    for (const [job, run] of this.running) {
      run.exec.signal('SIGTERM');
      if (job.state === 'suspended') run.exec.signal('SIGCONT');
    }
  }
}
