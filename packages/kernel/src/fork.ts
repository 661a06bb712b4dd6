import { IkcError } from '@ikc/wire';
import type { Session } from './session.js';

/**
 * What kernel.fork() and ctx.fork() take and return. The kernel knows nothing of jobs: @ikc/jobs
 * fills these in (TypeScript declaration merging: they become its JobOptions and Job once it is
 * imported) and installs the forker when a job queue is made for the kernel.
 */
export interface ForkOptions {
  /** Where the job should run: a kernel name or id, `*`, or this kernel (default). */
  on?: string;
}

export interface ForkedJob {
  readonly id: string;
}

/** What kernel.pool() takes and returns (@ikc/jobs's PoolOptions and Pool). */
export interface PoolOptions {
  on?: string;
}

export interface ForkedPool {
  readonly module: string;
}

/** What a job queue gives its kernel. */
export interface Forker {
  /** Forks a job for `owner` (a session of the kernel: it gets the job's events), or for nobody. */
  fork(options: ForkOptions, owner: Session | undefined): ForkedJob;
  /** Starts a process pool. */
  pool(options: PoolOptions): ForkedPool;
}

export function noJobs(kernel: string): IkcError {
  return new IkcError(
    'IKC_ERR_NO_JOBS',
    `kernel ${kernel} has no job queue: make one with new Jobs(kernel) from @ikc/jobs (startKernel() and attach() do)`,
  );
}
