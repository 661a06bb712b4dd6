/**
 * @ikc/jobs — Forks::Super's jobs for ikc: fork commands and module functions as child
 * processes, a queue bounded by maxProc, IPC channels with backpressure, a process pool.
 * Jobs run here or on another kernel (`on`): the Job is the same either way.
 */

// Channels, launchers and the option checker are exported for other launchers (the remote
// part): a job on another kernel is the same Job over another Execution.
export {
  Channel,
  type ChannelDir,
  type ChannelLayout,
  type ChannelMode,
  type ChannelOption,
  type ChannelPreset,
  type ChannelSpec,
  JobChannels,
  parseChannels,
} from './channels.js';
export { CHANNELS_ENV, jobChannels, openChannel, parseChannelsEnv } from './child.js';
export type { AttemptExit, Execution, Launcher, LaunchRequest, LeafHost } from './execution.js';
export { CHANNEL_WINDOW, MAX_CHANNEL_WINDOW } from './flow.js';
export {
  Job,
  type JobControl,
  type JobEventType,
  type JobInfo,
  type JobOutcome,
  type JobState,
} from './job.js';
export { type JobEventPayload, Jobs, type JobsOptions } from './jobs.js';
export { LocalLauncher, RUNNER } from './local.js';
export {
  JOB_DEFAULTS,
  type JobOptions,
  type JobRef,
  type JobSpec,
  normalize,
  type OnBusy,
} from './options.js';
export { POOL_MAX_EARLY_DEATHS, POOL_WORKER, Pool, type PoolCloseOptions, type PoolOptions } from './pool.js';
export type { JobContext, LeafGrant, PlainError } from './protocol.js';
export type { Placement } from './remote.js';
export { type PoolStats, RemotePool } from './remote-pool.js';
export { type JobOffer, JobService, type JobServiceOptions } from './service.js';
export { JOB_SERVICE } from './wire.js';

import type { Job as ForkedJobClass } from './job.js';
import type { JobOptions as ForkOptionsOf } from './options.js';
import type { PoolOptions as PoolOptionsOf } from './pool.js';
import type { RemotePool as RemotePoolClass } from './remote-pool.js';

// kernel.fork() and ctx.fork() take JobOptions and return a Job once this package is loaded
// (it installs the forker when a job queue is made; see @ikc/kernel's fork.ts).
declare module '@ikc/kernel' {
  interface ForkOptions extends ForkOptionsOf {}
  interface ForkedJob extends ForkedJobClass {}
  interface PoolOptions extends PoolOptionsOf {}
  // A Pool here, or a RemotePool with `on`: what both have.
  interface ForkedPool extends Pick<RemotePoolClass, 'ready' | 'run' | 'close'> {}
}
