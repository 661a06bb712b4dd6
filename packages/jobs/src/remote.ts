import type { Readable } from 'node:stream';
import type { Context, Kernel, Session } from '@ikc/kernel';
import { IkcError } from '@ikc/wire';
import type { Channel } from './channels.js';
import { Inflow, Outflow } from './flow.js';
import type { Job, JobOutcome, JobState } from './job.js';
import type { JobSpec } from './options.js';
import type { JobOffer } from './service.js';
import { allowName, JOB_SERVICE, outcomeFromWire, toWire, type WireOutcome } from './wire.js';

/** What a remote run tells its queue (the forking kernel's Jobs). */
export interface RemoteHooks {
  /** The kernel it will run on is known (after `*` chose one). */
  placed(job: Job, kernel: string): void;
  /** `*` chose this very kernel: run it in the local queue after all. */
  local(job: Job): void;
  started(job: Job, pid: number | null): void;
  state(job: Job, state: JobState): void;
  ended(
    job: Job,
    type: 'finish' | 'fail',
    outcome: JobOutcome,
    texts: { stdoutText?: string; stderrText?: string },
  ): void;
}

/** How a `*` fork finds its kernel. */
export interface Placement {
  /** Names of the other kernels that fork jobs for others (publish `ikc.jobs`). */
  candidates(): string[];
  /** Whether this kernel may be chosen itself (a host kernel; not a leaf such as the CLI). */
  self: boolean;
  /** This kernel's load, as `offer` counts it. */
  load(): number;
}

/** Bytes of an already-ended stdin that go with the fork itself (stdinSoFar). */
const STDIN_WITH_FORK = 64 * 1024;

/** How long a `*` fork waits for each kernel's offer (milliseconds). */
const OFFER_TIMEOUT_MS = 2000;

/** A fork goes out at once, not with the rest of its turn's frames (CallOptions.flush). */
const FLUSHED = { flush: true } as const;

/**
 * The mesh's word that a call never reached its kernel: no route there from here (its
 * details say `undelivered`), or a host on the way answered that it has none.
 */
function neverSent(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; details?: { undelivered?: unknown } };
  return e.code === 'IKC_ERR_UNREACHABLE' && (e.details?.undelivered === true || e.name === 'RemoteError');
}

/** Codes that mean the kernel running the job, or the way to it, is gone. */
const LOST = new Set(['IKC_ERR_UNDELIVERED', 'IKC_ERR_UNREACHABLE', 'IKC_ERR_NO_SESSION']);

/**
 * Tells whether a post's error says the session it went to (`details.session`), or its whole
 * kernel (`details.kernel`, when no session is named), can no longer be reached: true for the
 * given session and kernel name when it does.
 */
export function lostBy(err: unknown): ((session: Session) => boolean) | undefined {
  const e = err as { code?: unknown; details?: { kernel?: unknown; session?: unknown } } | undefined;
  if (typeof e?.code !== 'string' || !LOST.has(e.code)) return undefined;
  const session = e.details?.session;
  const kernel = e.details?.kernel;
  if (typeof session === 'string' && session !== '') return (s) => s.id === session;
  if (typeof kernel === 'string') return (s) => s.remote?.kernelName === kernel;
  return undefined;
}

type HubEvents = Record<
  'data' | 'eof' | 'credit' | 'start' | 'state' | 'end' | 'gone',
  (ctx: Context, id: unknown, ...args: unknown[]) => void
>;

/**
 * Where a kernel's remote jobs hear from the kernels that run them: one session for all of
 * them, each event naming its job by id (its first argument). On a host kernel it is the
 * session of the kernel's JobService (`ikc.jobs`), which serves jobs for others through the
 * same events; elsewhere (a leaf kernel) one of its own, kept while remote jobs run. No
 * session is made per job, here or on the kernel that runs it.
 */
export class RemoteHub {
  private readonly runs = new Map<string, RemoteRun>();
  private shared: Session | undefined;
  private own: Session | undefined;
  private release: (() => void) | undefined;

  constructor(private readonly kernel: Kernel) {}

  /** The events a remote job's executor sends, as handlers for the hub's session. */
  readonly events: HubEvents = {
    data: (ctx, id, chan, ...chunks) => this.data(ctx, id, chan, chunks),
    eof: (ctx, id, chan) => this.run(ctx, id, 'eof')?.inflows.get(String(chan))?.eof(),
    credit: (ctx, id, chan, n) => this.run(ctx, id, 'credit')?.outflows.get(String(chan))?.grant(Number(n)),
    // `start` may carry the job's first output after its attempt (Executor.replyWithOutput).
    start: (ctx, id, pid, _attempt, chan, ...chunks) => {
      const run = this.run(ctx, id, 'start');
      run?.started(pid);
      if (chan !== undefined) run?.inflows.get(String(chan))?.dataAll(chunks);
    },
    state: (ctx, id, state) => this.run(ctx, id, 'state')?.stateIs(state as JobState),
    end: (ctx, id, outcome) => this.run(ctx, id, 'end')?.ended(outcome as WireOutcome),
    gone: (ctx, id) =>
      this.run(ctx, id, 'gone')?.gone(`kernel ${ctx.sender.remote?.kernelName} no longer runs it`),
  };

  /** A job's bytes (the `data` event, its chunks as one array: the JobService passes them on as they came). */
  data(ctx: Context, id: unknown, chan: unknown, chunks: unknown[]): void {
    this.run(ctx, id, 'data')?.inflows.get(String(chan))?.dataAll(chunks);
  }

  /** A post of the hub's failed: the jobs it concerns are lost. */
  failed(err: unknown): void {
    const by = lostBy(err);
    if (!by) return;
    for (const run of [...this.runs.values()]) if (run.runsThere(by)) run.lost((err as Error).message);
  }

  /** Whether `id` is one of this kernel's remote jobs (the JobService asks, for an event it shares). */
  has(id: unknown): boolean {
    return this.runs.has(String(id));
  }

  /** On a host kernel: the JobService's session takes the hub's events. */
  useSession(session: Session | undefined): void {
    this.shared = session;
  }

  /**
   * The run a message is for, if it came from the kernel that runs it. A message for a job
   * this kernel no longer has is answered `gone`, so the kernel still running it stops
   * streaming to nobody (and kills it, unless told not to).
   */
  private run(ctx: Context, id: unknown, event: string): RemoteRun | undefined {
    const run = this.runs.get(String(id));
    if (run === undefined) {
      if (event !== 'gone' && event !== 'end' && ctx.sender.isProxy)
        this.kernel.postFrom(this.session(), ctx.sender, 'gone', [id]);
      return undefined;
    }
    // A `gone` may answer an early post (stdin, a signal) for a fork that was refused: it does
    // not make the kernel that sent it this job's executor.
    return run.heard(ctx.sender, event !== 'gone');
  }

  /** The session a run sends from, and hears on. */
  private session(): Session {
    if (this.shared?.alive) return this.shared;
    if (!this.own?.alive) {
      const { events } = this;
      this.own = this.kernel.spawn({
        events: { ...events, _error: (_ctx: Context, err: unknown) => this.failed(err) },
      });
      this.release = this.kernel.hold(this.own);
    }
    return this.own;
  }

  /**
   * Sends the fork of job `id` to the JobService of kernel `target`, at once; resolves to that
   * service's session (the job's executor there), or rejects as the fork was refused.
   */
  requestFork(target: string, id: string, spec: JobSpec, stdin: Buffer | undefined): Promise<Session> {
    const wire = toWire(id, spec);
    if (stdin !== undefined) wire.stdin = stdin;
    const service = `poe://${target}/${JOB_SERVICE}`;
    return this.kernel.callFrom(this.session(), service, 'fork', [wire], FLUSHED) as Promise<Session>;
  }

  open(run: RemoteRun): Session {
    this.runs.set(run.job.id, run);
    return this.session();
  }

  close(run: RemoteRun): void {
    if (this.runs.get(run.job.id) === run) this.runs.delete(run.job.id);
    if (this.runs.size > 0 || !this.own) return;
    // Its own session goes when no remote job is left: it would keep kernel.run() waiting.
    const release = this.release;
    this.own = undefined;
    this.release = undefined;
    release?.();
  }
}

/**
 * A job forked on another kernel, seen from the kernel that forked it. The kernel's hub
 * (RemoteHub) receives the job's output, state and end from the JobService there, and sends
 * stdin, signals and credit back (flow.ts): the Job's streams behave as a local child's.
 */
export class RemoteRun {
  /** The hub's session: what this run sends from. */
  private peer: Session | undefined;
  /** The JobService's session on the kernel running it, once known. */
  private executor: Session | undefined;
  /** That JobService by name, once the fork is sent: what the run posts to until `executor` is known. */
  private service: string | undefined;
  /** The fork was answered (or failed). */
  private answered = false;
  private kernelId: string | undefined;
  /** @internal The job's channels as they come from there (the hub writes to them). */
  readonly inflows = new Map<string, Inflow>();
  /** @internal The job's channels as they go there (the hub grants them credit). */
  readonly outflows = new Map<string, Outflow>();
  private readonly closers: (() => void)[] = [];
  /** Signals asked for before the fork was sent. */
  private pending: string[] = [];
  private over = false;
  /** stdin went with the fork (stdinSoFar). */
  private stdinSent = false;

  constructor(
    private readonly kernel: Kernel,
    readonly job: Job,
    private target: string,
    private readonly hooks: RemoteHooks,
    private readonly placement: Placement | undefined,
    private readonly hub: RemoteHub,
  ) {}

  /** The id of the kernel running it, once known. */
  get runsOn(): string | undefined {
    return this.kernelId;
  }

  /**
   * Sends the fork there, and takes its answer. `request` is the fork already sent (Jobs.fork
   * sends one for a named kernel before it makes the Job); else this picks the kernel first,
   * when the target is `*`, and sends the fork with the job's stdin if it is already written.
   */
  async start(request?: Promise<Session>): Promise<void> {
    try {
      if (request === undefined) {
        if (this.target === '*') {
          const where = await this.choose();
          if (where === undefined) return this.hooks.local(this.job);
          this.target = where;
        }
        if (this.over) return;
        this.hooks.placed(this.job, this.target);
      }
      this.openPeer();
      request ??= this.hub.requestFork(this.target, this.job.id, this.job.spec, this.stdinSoFar());
      this.sent();
      const executor = await request;
      this.answered = true;
      if (this.over) return;
      this.know(executor);
    } catch (err) {
      this.answered = true;
      const code = (err as { code?: unknown }).code;
      // The fork may have reached the other kernel, and the job may run there: lost, not
      // refused. Unless the mesh says it never left (no route to that kernel at all).
      const maybeThere =
        this.executor !== undefined ||
        (typeof code === 'string' && (LOST.has(code) || code === 'IKC_ERR_TIMEOUT') && !neverSent(err));
      if (maybeThere) this.lost((err as Error).message);
      else this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * The job's whole stdin, when the caller has already ended it (written and closed right
   * after fork(), as most callers that give a job its input do) and it is small: it then goes
   * with the fork, as the `stdin` option would, and no stream is opened for it. A fork with
   * no input is one message there, and nothing more crosses before its output comes back.
   */
  private stdinSoFar(): Buffer | undefined {
    const { spec } = this.job;
    const stream = this.job.channels.stdin.toChild;
    // With retries, what was written goes to the first attempt only (as in a local job): keep
    // the stream, which does that.
    if (spec.stdin !== undefined || spec.retries > 0) return undefined;
    if (!stream?.writableEnded || stream.writableLength > 0) return undefined;
    if (stream.readableLength > STDIN_WITH_FORK) return undefined;
    const chunks: Buffer[] = [];
    for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null)
      chunks.push(chunk);
    this.stdinSent = true;
    return Buffer.concat(chunks);
  }

  /**
   * @internal A message for this job (RemoteHub): this run, if it came from the kernel
   * running it. The first one may come before fork's reply, and makes that kernel's
   * JobService known (unless `learn` is false).
   */
  heard(sender: Session, learn = true): this | undefined {
    if (this.over || !sender.isProxy) return undefined;
    if (this.executor) return sender.id === this.executor.id ? this : undefined;
    const remote = sender.remote;
    if (remote?.kernelName !== this.target && remote?.kernelId !== this.target) return undefined;
    if (learn) this.know(sender);
    return this;
  }

  /** Whether the job runs (or was sent) where `by` says the hub lost touch. */
  runsThere(by: (session: Session) => boolean): boolean {
    return this.executor !== undefined && by(this.executor);
  }

  /** @internal The job started there (RemoteHub). */
  started(pid: unknown): void {
    this.hooks.started(this.job, typeof pid === 'number' ? pid : null);
  }

  /** @internal The job's state there (RemoteHub). */
  stateIs(state: JobState): void {
    this.hooks.state(this.job, state);
  }

  /**
   * The fork has gone out: stdin and signals follow it from now on, to the JobService there by
   * name until the executor is known (they arrive after the fork, which makes the job).
   */
  private sent(): void {
    this.service = `poe://${this.target}/${JOB_SERVICE}`;
    this.openOutflows();
    for (const p of this.pending.splice(0)) this.send(p);
  }

  /**
   * The executor is known: from fork's reply, or from its first message, which may come first
   * (the job starts there as the reply leaves). From now on its kernel's death is this job's loss.
   */
  private know(executor: Session): void {
    if (this.executor || this.over) return;
    this.executor = executor;
    this.kernelId = executor.remote?.kernelId;
  }

  /** Picks the least-loaded kernel that allows the job (this one included when it may run
   * jobs); undefined means this kernel. */
  private async choose(): Promise<string | undefined> {
    const placement = this.placement;
    const spec = this.job.spec;
    const what = { kind: spec.kind, name: allowName(spec) };
    const names = placement?.candidates() ?? [];
    const offers = await Promise.all(
      names.map((name) =>
        this.kernel
          .callWith<JobOffer>({ timeoutMs: OFFER_TIMEOUT_MS }, `poe://${name}/${JOB_SERVICE}/offer`, what)
          .then(
            (offer) => ({ name, offer }),
            () => undefined,
          ),
      ),
    );
    let best: { name: string | undefined; load: number } | undefined = placement?.self
      ? { name: undefined, load: placement.load() }
      : undefined;
    for (const o of offers) {
      if (!o?.offer?.allowed || typeof o.offer.load !== 'number') continue;
      if (!best || o.offer.load < best.load) best = { name: o.name, load: o.offer.load };
    }
    if (!best) {
      throw new IkcError(
        'IKC_ERR_JOB_NOT_ALLOWED',
        `no kernel in the cloud forks ${spec.kind === 'module' ? 'module' : 'command'} "${what.name}" for others (jobs.allow)`,
        { details: { kernels: names } },
      );
    }
    return best.name;
  }

  private openPeer(): void {
    this.peer = this.hub.open(this);
    // What the job writes can arrive before fork's reply does: listen from now on.
    for (const channel of this.job.channels.all()) {
      if (channel.dir === '>' || !channel.fromChild) continue;
      const closed = channel.source(true);
      this.closers.push(closed);
      this.inflows.set(
        channel.name,
        new Inflow(channel.fromChild, (n) => this.post('credit', channel.name, n), closed),
      );
    }
  }

  private openOutflows(): void {
    const spec = this.job.spec;
    for (const channel of this.job.channels.all()) {
      if (channel.dir === '<' || !channel.toChild) continue;
      if (channel.name === 'stdin' && (spec.stdin !== undefined || this.stdinSent)) continue; // sent with the fork
      this.outflows.set(channel.name, this.outflow(channel));
    }
  }

  private outflow(channel: Channel): Outflow {
    const name = channel.name;
    return new Outflow(channel.toChild as Readable, {
      data: (chunks) => this.post('data', name, ...chunks),
      eof: () => this.post('eof', name),
      ready: () => {
        const to = this.executor ?? this.service;
        return to === undefined ? Promise.resolve() : this.kernel.ready(to);
      },
    });
  }

  private post(event: string, ...args: unknown[]): void {
    const to = this.executor ?? this.service;
    if (this.over || to === undefined || !this.peer?.alive) return;
    args.unshift(this.job.id);
    this.kernel.postFrom(this.peer, to, event, args);
  }

  private send(what: string): void {
    if (what === 'suspend' || what === 'resume') this.post(what);
    else this.post('signal', what);
  }

  /** kill(): a signal for the job's process group there. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.over) return false;
    if (this.service !== undefined) this.send(signal);
    else this.pending.push(signal);
    return true;
  }

  suspend(): boolean {
    return this.signal('suspend' as NodeJS.Signals);
  }

  resume(): boolean {
    return this.signal('resume' as NodeJS.Signals);
  }

  /** The kernel `id` went down: the job is lost if it ran there. */
  kernelDown(id: string, name: string): void {
    if (id === this.kernelId) this.lost(`kernel ${name} went down`);
  }

  /** @internal The job's end there (RemoteHub). */
  ended(wire: WireOutcome): void {
    if (this.over) return;
    const { type, outcome, texts } = outcomeFromWire(wire);
    this.close();
    this.hooks.ended(this.job, type, outcome, texts);
  }

  /**
   * @internal That kernel no longer has the job (RemoteHub). Before fork's answer this is the
   * answer to a post that followed a fork it refused: the answer says what became of the fork.
   */
  gone(why: string): void {
    if (this.answered) this.lost(why);
  }

  /** @internal The kernel running it, or the way there, is gone: so is the job, as far as this kernel knows. */
  lost(why: string): void {
    if (this.over) return;
    this.fail(
      new IkcError(
        'IKC_ERR_JOB_LOST',
        `job ${this.job.id} on kernel ${this.target} was lost: ${why}; it may have run, and will be killed there if it still runs`,
        { details: { job: this.job.id, kernel: this.target } },
      ),
    );
  }

  /** Ends the job here without word from there (the fork failed, the kernel is gone, closing). */
  fail(error: Error): void {
    if (this.over) return;
    const started = this.job.attempts > 0;
    this.close();
    this.hooks.ended(
      this.job,
      started ? 'finish' : 'fail',
      { exitCode: null, signal: null, result: undefined, error },
      {},
    );
  }

  private close(): void {
    this.over = true;
    for (const out of this.outflows.values()) out.stop();
    this.outflows.clear();
    for (const closed of this.closers.splice(0)) closed();
    this.inflows.clear();
    this.hub.close(this);
  }
}
