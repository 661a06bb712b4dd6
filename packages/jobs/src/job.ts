import { EventEmitter } from 'node:events';
import type { Duplex, Readable, Writable } from 'node:stream';
import { IkcError } from '@ikc/wire';
import { JobChannels } from './channels.js';
import type { JobSpec } from './options.js';

/**
 * Where a job is in its life (docs/jobs.md draws the transitions):
 * deferred (waiting for its time or its dependencies) -> queued (waiting for a free slot)
 * -> active <-> suspended -> complete (ended; outcome known) -> reaped (wait() returned it).
 * A failed attempt with retries left goes from active back to queued.
 */
export type JobState = 'deferred' | 'queued' | 'active' | 'suspended' | 'complete' | 'reaped';

/**
 * What a job announces (as Job events, kernel monitor events `job`, and events to its owner):
 * queue (it has to wait), start (an attempt started), finish (it ran and ended, whatever its
 * exit status), fail (it ended without ever running: busy, spawn error, killed or closed
 * while waiting, expired).
 */
export type JobEventType = 'queue' | 'start' | 'finish' | 'fail';

/** How a job ended: what wait() resolves to. */
export interface JobOutcome {
  /** The exit code, or null when a signal ended it or it never ran. */
  exitCode: number | null;
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null;
  /** A module job's return value (undefined for a cmd job, or when the function threw). */
  result: unknown;
  /** Why it failed, beyond its exit status: the module function's error (code and message
   * kept), IKC_ERR_JOB_TIMEOUT, IKC_ERR_JOB_BUSY, IKC_ERR_JOBS_CLOSED, a spawn error (ENOENT). */
  error?: Error;
}

/** A job as listings, monitors and owner events show it: plain data, cloneable. */
export interface JobInfo {
  id: string;
  name: string;
  /** The kernel it runs on (its name). */
  kernel: string;
  state: JobState;
  kind: 'cmd' | 'module';
  /** argv of a cmd job. */
  cmd?: string[];
  /** module URL and export of a module job. */
  module?: string;
  export?: string;
  pid: number | null;
  priority: number;
  /** Attempts started so far (1 + retries used). */
  attempts: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  error?: { code?: string; message: string };
  /** Milliseconds since the epoch. */
  forkedAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

/** What a Job asks of whoever runs it (the local queue; later, a remote kernel). */
export interface JobControl {
  kill(job: Job, signal: NodeJS.Signals): boolean;
  suspend(job: Job): boolean;
  resume(job: Job): boolean;
  /** wait() has handed the outcome out. */
  reaped(job: Job): void;
}

type Waiter = (outcome: JobOutcome) => void;

/**
 * A job: a command or a module function running as a child process somewhere. Its state,
 * exit status and streams are the same whether it runs here or (later) on another kernel:
 * nothing here is a ChildProcess. Streams exist from fork() on, so a caller can attach to
 * them before the job starts.
 *
 * Events: `state` (state, previous), and `queue`, `start`, `finish`, `fail` (each with the
 * job's info; finish and fail with the outcome too).
 */
export class Job extends EventEmitter {
  readonly id: string;
  readonly name: string;
  readonly priority: number;
  /** Writes go to the job's stdin (to each attempt in turn); end() closes it. */
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** @internal */ readonly spec: JobSpec;
  /** @internal */ readonly channels: JobChannels;
  /** @internal Set when kill() was asked for: no more attempts. */
  killed = false;

  private current: JobState;
  private pidNow: number | null = null;
  private attemptCount = 0;
  private outcome: JobOutcome | undefined;
  private waiters: Waiter[] = [];
  private out: string | undefined;
  private err: string | undefined;
  private readonly forkedAt = Date.now();
  private startedAt: number | null = null;
  private endedAt: number | null = null;

  constructor(
    id: string,
    spec: JobSpec,
    private readonly control: JobControl,
    private kernelName: string,
    state: 'deferred' | 'queued',
  ) {
    super();
    this.id = id;
    this.spec = spec;
    this.name = spec.name;
    this.priority = spec.priority;
    this.current = state;
    this.channels = new JobChannels(spec.channels);
    this.stdin = this.channels.stdin.stream as Writable;
    this.stdout = this.channels.stdout.stream as Readable;
    this.stderr = this.channels.stderr.stream as Readable;
    if (spec.stdin !== undefined) this.stdin.end(); // the data option is the whole stdin
    if (spec.capture) {
      // Captured output is read whether or not anyone else reads these streams.
      this.stdout.resume();
      this.stderr.resume();
    }
  }

  get state(): JobState {
    return this.current;
  }

  /** The process id of the running attempt (the last one after it ended), or null. */
  get pid(): number | null {
    return this.pidNow;
  }

  get attempts(): number {
    return this.attemptCount;
  }

  get exitCode(): number | null {
    return this.outcome?.exitCode ?? null;
  }

  get signal(): NodeJS.Signals | null {
    return this.outcome?.signal ?? null;
  }

  /** A module job's return value, once complete. */
  get result(): unknown {
    return this.outcome?.result;
  }

  get error(): Error | undefined {
    return this.outcome?.error;
  }

  /** With `capture`: what the last attempt wrote to stdout, once complete. */
  get stdoutText(): string | undefined {
    return this.out;
  }

  get stderrText(): string | undefined {
    return this.err;
  }

  /** True once the job has ended (complete or reaped). */
  get done(): boolean {
    return this.outcome !== undefined;
  }

  /**
   * Resolves with the outcome once the job has ended, whatever its exit status; the job is
   * then reaped. With `timeoutMs`, rejects with IKC_ERR_TIMEOUT if it has not ended by
   * then (the job is not killed).
   */
  wait(timeoutMs?: number): Promise<JobOutcome> {
    if (this.outcome) {
      this.reap();
      return Promise.resolve(this.outcome);
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = (outcome) => {
        if (timer) clearTimeout(timer);
        resolve(outcome);
      };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            new IkcError('IKC_ERR_TIMEOUT', `job ${this.id} did not end within ${timeoutMs} ms`, {
              details: { job: this.id, timeoutMs },
            }),
          );
        }, timeoutMs);
      }
    });
  }

  /**
   * Sends `signal` to the job's whole process group (a stopped job is continued so that it
   * gets it). A job still waiting to start is taken out of the queue and ends at once.
   * A killed job is not retried. False when the job had already ended.
   */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.outcome) return false;
    this.killed = true;
    return this.control.kill(this, signal);
  }

  /** Stops the running job's process group (SIGSTOP); false unless it was active. */
  suspend(): boolean {
    return this.current === 'active' && this.control.suspend(this);
  }

  /** Continues a suspended job (SIGCONT); false unless it was suspended. */
  resume(): boolean {
    return this.current === 'suspended' && this.control.resume(this);
  }

  /**
   * A channel's stream in the parent: stdin, stdout, stderr or a named one. Readable for
   * `<`, Writable for `>`, Duplex for `<>` (the type parameter says which you expect).
   */
  channel<S extends Readable | Writable = Duplex>(name: string): S {
    const channel = this.channels.get(name);
    if (!channel) throw new IkcError('IKC_ERR_INVALID_ARG', `job ${this.id} has no channel "${name}"`);
    return channel.stream as S;
  }

  info(): JobInfo {
    const spec = this.spec;
    const info: JobInfo = {
      id: this.id,
      name: this.name,
      kernel: this.kernelName,
      state: this.current,
      kind: spec.kind,
      pid: this.pidNow,
      priority: this.priority,
      attempts: this.attemptCount,
      exitCode: this.exitCode,
      signal: this.signal,
      forkedAt: this.forkedAt,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
    };
    if (spec.kind === 'cmd') info.cmd = [...spec.argv];
    else {
      info.module = spec.moduleUrl;
      info.export = spec.exportName;
    }
    const error = this.outcome?.error as (Error & { code?: unknown }) | undefined;
    if (error)
      info.error = {
        message: error.message,
        ...(typeof error.code === 'string' ? { code: error.code } : {}),
      };
    return info;
  }

  override toString(): string {
    return `Job(${this.id} ${this.name} ${this.current})`;
  }

  // ---- driven by the queue --------------------------------------------------------------

  /** @internal */
  setState(state: JobState): void {
    const previous = this.current;
    if (previous === state) return;
    this.current = state;
    this.tell('state', state, previous);
  }

  /**
   * @internal Emits to the job's listeners. A listener that throws must not leave the queue
   * half-way through a transition: its error is rethrown on the next tick instead, where it
   * surfaces as an uncaught exception, as a throw in any event listener would.
   */
  tell(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  /** @internal A `*` job's kernel has been chosen. */
  placedOn(kernel: string): void {
    this.kernelName = kernel;
  }

  /** @internal An attempt has started. */
  started(pid: number | null): void {
    this.attemptCount++;
    this.pidNow = pid;
    this.startedAt ??= Date.now();
    this.setState('active');
  }

  /** @internal The job will not run again: record how it ended and wake the waiters. */
  ended(outcome: JobOutcome, texts: { stdoutText?: string; stderrText?: string }): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.endedAt = Date.now();
    if (this.spec.capture) {
      this.out = texts.stdoutText ?? '';
      this.err = texts.stderrText ?? '';
    }
    this.channels.finish();
    this.setState('complete');
    if (this.waiters.length) {
      const waiters = this.waiters;
      this.waiters = [];
      this.reap();
      for (const w of waiters) w(outcome);
    }
  }

  private reap(): void {
    if (this.current !== 'complete') return;
    this.setState('reaped');
    this.control.reaped(this);
  }
}
