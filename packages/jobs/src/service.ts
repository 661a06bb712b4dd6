import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Context, Kernel, Monitor, MonitorEvent, Session } from '@ikc/kernel';
import { IkcError } from '@ikc/wire';
import { Inflow, Outflow } from './flow.js';
import type { Job, JobOutcome } from './job.js';
import type { Jobs } from './jobs.js';
import { normalize } from './options.js';
import type { PoolOptions } from './pool.js';
import { lostBy } from './remote.js';
import { poolSession } from './remote-pool.js';
import { allowName, fromWire, JOB_SERVICE, outcomeToWire, type WireOutcome } from './wire.js';

/** What a kernel answers `offer` with: may it run the job, and how busy it is. */
export interface JobOffer {
  allowed: boolean;
  /** (running + waiting jobs) / maxProc: below 1, a job would start at once. */
  load: number;
}

export interface JobServiceOptions {
  /** Kernels whose forks count as local (not checked against `allow`): this host's leaves. */
  trusted?: (kernelId: string) => boolean;
  /** Kill a job whose forking kernel went away, or whose link stayed down past the resume
   * window (default true). False leaves it running, its output dropped. */
  killOrphans?: boolean;
}

/**
 * How long fork's reply waits for the job's first output (Executor.replyWithOutput), ms: far
 * longer than a command takes to write its first bytes, short enough that a job that writes
 * nothing at first (it reads its stdin, say) gets its stdin and signals soon.
 */
const REPLY_WAIT_MS = 5;

/**
 * Forks jobs for other kernels: the session `ikc.jobs`, publishing `fork`, `offer` and `pool`,
 * and what a forking kernel sends right behind a fork, before its answer (`data`, `eof`,
 * `signal`, `suspend`, `resume`: each is taken only from the kernel that forked the job). Each
 * job forked here has an Executor that streams its channels to the forking kernel's hub (its
 * peer: RemoteHub) and takes its stdin, signals and credit, all through this one session, each
 * event naming its job by id. The same session is this kernel's own hub, for the jobs it
 * forks elsewhere: an event for a job this kernel runs for another goes to its Executor, any
 * other to the hub.
 */
export class JobService {
  readonly session: Session;
  private readonly executors = new Map<string, Executor>();
  /** Pools made here for other kernels, with the kernel each belongs to. */
  private readonly pools = new Set<{ owner: string | undefined; orphaned: () => void }>();
  private readonly monitor: Monitor;

  constructor(
    readonly jobs: Jobs,
    private readonly options: JobServiceOptions = {},
  ) {
    const kernel = jobs.kernel;
    const hub = jobs.remoteHub;
    this.session = kernel.spawn({
      alias: JOB_SERVICE,
      publish: ['fork', 'offer', 'pool', 'data', 'eof', 'signal', 'suspend', 'resume'],
      events: {
        fork: (ctx: Context, wire: unknown) => this.fork(ctx, wire),
        pool: (ctx: Context, wire: unknown) => this.pool(ctx, wire),
        offer: (ctx: Context, what: unknown) => this.offer(ctx, what),
        // Shared with the hub: a job run here for another kernel, else one forked from here.
        data: (ctx: Context, id: unknown, chan: unknown, ...chunks: unknown[]) =>
          hub.has(id) ? hub.data(ctx, id, chan, chunks) : this.executor(ctx, id)?.data(chan, chunks),
        eof: (ctx: Context, id: unknown, chan: unknown) =>
          hub.has(id) ? hub.events.eof(ctx, id, chan) : this.executor(ctx, id)?.eof(chan),
        credit: (ctx: Context, id: unknown, chan: unknown, n: unknown) =>
          hub.has(id) ? hub.events.credit(ctx, id, chan, n) : this.executor(ctx, id)?.credit(chan, n),
        gone: (ctx: Context, id: unknown) =>
          hub.has(id)
            ? hub.events.gone(ctx, id)
            : this.executor(ctx, id, false)?.orphaned('its kernel no longer has it'),
        // A job run here for another kernel.
        signal: (ctx: Context, id: unknown, sig: unknown) => this.executor(ctx, id)?.signal(sig),
        suspend: (ctx: Context, id: unknown) => this.executor(ctx, id)?.suspend(),
        resume: (ctx: Context, id: unknown) => this.executor(ctx, id)?.resume(),
        // A job forked from here.
        start: hub.events.start,
        state: hub.events.state,
        end: hub.events.end,
        _error: (_ctx: Context, err: unknown) => {
          hub.failed(err);
          const by = lostBy(err);
          if (!by) return;
          for (const ex of [...this.executors.values()]) if (by(ex.peer)) ex.orphaned((err as Error).message);
        },
      },
    });
    hub.useSession(this.session);
    this.monitor = kernel.monitor(['kernel.down'], (e: MonitorEvent) => {
      for (const ex of this.executors.values())
        if (ex.peerKernel === e.kernelId) ex.orphaned(`kernel ${e.kernel} went down`);
      for (const p of [...this.pools]) if (p.owner === e.kernelId) p.orphaned();
    });
  }

  /**
   * The Executor an event is for, if it came from the kernel that forked the job. An event
   * for a job this kernel does not run (it ended) is answered `gone` (unless it is one).
   */
  private executor(ctx: Context, id: unknown, answer = true): Executor | undefined {
    const ex = this.executors.get(String(id));
    if (ex !== undefined) return ex.peer.id === ctx.sender.id ? ex : undefined;
    if (answer && ctx.sender.isProxy) this.jobs.kernel.postFrom(this.session, ctx.sender, 'gone', [id]);
    return undefined;
  }

  /** Stops taking forks (the queue is closing); running jobs are ended by the queue. */
  close(): void {
    this.jobs.remoteHub.useSession(undefined);
    this.monitor.close();
    if (this.session.alive) this.jobs.kernel.stopSession(this.session);
  }

  private trusted(sender: Session): boolean {
    const kernelId = sender.remote?.kernelId;
    return kernelId === undefined || this.options.trusted?.(kernelId) === true;
  }

  private offer(ctx: Context, what: unknown): JobOffer {
    const { kind, name } = (what ?? {}) as { kind?: unknown; name?: unknown };
    const allowed =
      this.trusted(ctx.sender) ||
      (typeof name === 'string' &&
        (kind === 'module' ? this.jobs.allowsModule(name) : this.jobs.allows(name)));
    return { allowed, load: this.jobs.load };
  }

  /** A process pool for another kernel: its module must be allowed; answers the pool's session. */
  private pool(ctx: Context, value: unknown): Session {
    const w = (value ?? {}) as { module?: unknown; size?: unknown; env?: unknown; cwd?: unknown };
    if (typeof w.module !== 'string' || !w.module.startsWith('file:'))
      throw new IkcError('IKC_ERR_INVALID_ARG', 'remote pool: module must be a file URL');
    const path = fileURLToPath(w.module);
    if (!this.trusted(ctx.sender) && !this.jobs.allowsModule(path)) {
      throw new IkcError(
        'IKC_ERR_JOB_NOT_ALLOWED',
        `kernel ${this.jobs.kernel.name} does not run a pool of module "${path}" for other kernels (jobs.allow)`,
        { details: { kernel: this.jobs.kernel.name, module: path } },
      );
    }
    const env: Record<string, string | undefined> = {};
    if (typeof w.env === 'object' && w.env !== null)
      for (const [k, v] of Object.entries(w.env)) env[k] = typeof v === 'string' ? v : undefined;
    const options: PoolOptions = { module: w.module, env };
    if (w.size !== null && w.size !== undefined) options.size = w.size as number;
    if (typeof w.cwd === 'string') options.cwd = w.cwd;
    const pool = this.jobs.pool({ ...options, on: undefined });
    const entry = { owner: ctx.sender.remote?.kernelId, orphaned: () => {} };
    const made = poolSession(this.jobs.kernel, pool, entry.owner, () => this.pools.delete(entry));
    entry.orphaned = made.orphaned;
    this.pools.add(entry);
    return made.session;
  }

  private fork(ctx: Context, value: unknown): Session | Promise<Session> {
    const peer = ctx.sender;
    const { id, options } = fromWire(value);
    const spec = normalize(options);
    const name = allowName(spec);
    const allowed =
      this.trusted(peer) || (spec.kind === 'module' ? this.jobs.allowsModule(name) : this.jobs.allows(name));
    if (!allowed) {
      throw new IkcError(
        'IKC_ERR_JOB_NOT_ALLOWED',
        `kernel ${this.jobs.kernel.name} does not fork ${spec.kind === 'module' ? 'module' : 'command'} "${name}" for other kernels (jobs.allow)`,
        { details: { kernel: this.jobs.kernel.name, [spec.kind === 'module' ? 'module' : 'cmd']: name } },
      );
    }
    const executor = new Executor(
      this.jobs.kernel,
      this.session,
      id,
      peer,
      this.options.killOrphans ?? true,
      () => this.executors.delete(id),
    );
    let job: Job;
    try {
      job = this.jobs.forkAs(id, options, spec);
    } catch (err) {
      executor.abandon();
      throw err;
    }
    this.executors.set(id, executor);
    executor.run(job, this.jobs);
    // Start it now if a slot is free, and send nothing back until it has something to say
    // (Executor.replyWithOutput).
    executor.quiet = true;
    try {
      this.jobs.startNow();
    } finally {
      executor.quiet = false;
    }
    if (job.state !== 'active' || job.attempts === 0) return executor.session;
    return executor.replyWithOutput();
  }
}

/** One job forked here for another kernel: its channels, its events, and its end. */
class Executor {
  readonly peerKernel: string | undefined;
  private job: Job | undefined;
  private jobs: Jobs | undefined;
  private readonly outflows = new Map<string, Outflow>();
  private readonly inflows = new Map<string, Inflow>();
  private outcome: WireOutcome | undefined;
  private finished = false;
  /** The peer went away: nothing more is sent to it. */
  private orphan = false;
  /** Within the fork call: a start (and its state) is not posted yet (replyWithOutput). */
  quiet = false;
  /** Sends fork's reply and the job's `start` (with its first output, if that is the first
   * word), while they wait for its first word (replyWithOutput). */
  private answer: ((output?: unknown[]) => void) | undefined;

  /**
   * `session` is the JobService's, which sends and receives for every job forked here; `peer`
   * is the forking kernel's hub, and `id` the job's id, which each event carries first.
   */
  constructor(
    private readonly kernel: Kernel,
    readonly session: Session,
    private readonly id: string,
    readonly peer: Session,
    private readonly killOrphans: boolean,
    private readonly forget: () => void,
  ) {
    this.peerKernel = peer.remote?.kernelId;
  }

  data(chan: unknown, chunks: unknown[]): void {
    this.inflows.get(String(chan))?.dataAll(chunks);
  }

  eof(chan: unknown): void {
    this.inflows.get(String(chan))?.eof();
  }

  credit(chan: unknown, n: unknown): void {
    this.outflows.get(String(chan))?.grant(Number(n));
  }

  signal(sig: unknown): void {
    this.job?.kill(sig as NodeJS.Signals);
  }

  suspend(): void {
    this.job?.suspend();
  }

  resume(): void {
    this.job?.resume();
  }

  /**
   * fork's reply and the job's `start` post, for a job that started within the call: they wait
   * for the executor's first post (the job's first output, as a rule, or its end), or
   * REPLY_WAIT_MS if there is none by then. The `start` then goes in the same message as the
   * first output, just before it, and the reply right after: the forking kernel is woken once,
   * and has the job's pid before its first bytes. Meanwhile (while the child starts) this
   * kernel does nothing for the job. The executor is known there from either.
   */
  replyWithOutput(): Promise<Session> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answer?.(), REPLY_WAIT_MS);
      this.answer = (output?: unknown[]) => {
        this.answer = undefined;
        clearTimeout(timer);
        resolve(this.session);
        const job = this.job as Job;
        if (output === undefined) this.post('start', job.pid, job.attempts);
        else this.post('start', job.pid, job.attempts, ...output);
      };
    });
  }

  private post(event: string, ...args: unknown[]): void {
    if (this.answer !== undefined) {
      // The job's first output rides on its `start`: one post for the forking kernel to take,
      // not two (see the hub's `start`).
      if (event === 'data') return this.answer(args);
      this.answer();
    }
    if (this.finished || this.orphan || !this.session.alive) return;
    args.unshift(this.id);
    this.kernel.postFrom(this.session, this.peer, event, args);
  }

  run(job: Job, jobs: Jobs): void {
    this.job = job;
    this.jobs = jobs;
    job.on('state', (state: string) => {
      if (this.quiet) return;
      if (state === 'queued' || state === 'deferred' || state === 'suspended' || state === 'active')
        this.post('state', state);
    });
    job.on('start', () => {
      if (!this.quiet) this.post('start', job.pid, job.attempts);
    });
    const ended = (type: 'finish' | 'fail') => (_info: unknown, outcome: JobOutcome) => {
      this.outcome = outcomeToWire(type, outcome, { stdoutText: job.stdoutText, stderrText: job.stderrText });
      void job.wait(); // reap: the forking kernel keeps the job from now on
      this.maybeEnd();
    };
    job.once('finish', ended('finish'));
    job.once('fail', ended('fail'));

    const ready = () => this.kernel.ready(this.peer);
    for (const channel of job.channels.all()) {
      const stream = channel.stream;
      if (channel.dir !== '>' && channel.fromChild) {
        const name = channel.name;
        this.outflows.set(
          name,
          new Outflow(stream as Readable, {
            data: (chunks) => this.post('data', name, ...chunks),
            eof: () => {
              this.outflows.delete(name);
              this.post('eof', name);
              this.maybeEnd();
            },
            ready,
          }),
        );
      }
      if (channel.dir !== '<' && !(channel.name === 'stdin' && job.spec.stdin !== undefined)) {
        const name = channel.name;
        this.inflows.set(name, new Inflow(stream as Writable, (n) => this.post('credit', name, n)));
      }
    }
  }

  /** Once the job has ended and every channel has said all it had: tell the peer, and go. */
  private maybeEnd(): void {
    if (!this.outcome || this.outflows.size > 0 || this.finished) return;
    this.post('end', this.outcome);
    this.finish();
  }

  private finish(): void {
    this.answer?.();
    this.finished = true;
    this.forget();
  }

  /** fork() failed before there was a job. */
  abandon(): void {
    this.finish();
  }

  /** The peer can no longer hear us: kill the job (unless told not to), drop its output. */
  orphaned(_why: string): void {
    if (this.finished || this.orphan) return;
    this.orphan = true;
    const job = this.job;
    if (job && !job.done && this.killOrphans) this.jobs?.terminateJob(job);
    for (const out of this.outflows.values()) out.stop();
    this.outflows.clear();
    for (const channel of job?.channels.all() ?? []) channel.fromChild?.resume();
    this.maybeEnd(); // at once if the job is over; else when it ends (it is reaped then)
  }
}
