/**
 * @ikc/jobs — Forks::Super's jobs for ikc: fork commands and module functions as child
 * processes, a queue bounded by maxProc, IPC channels with backpressure, a process pool.
 * Local jobs for now; the Job and Execution interfaces are what remote forks will implement.
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
export type { AttemptExit, Execution, Launcher, LaunchRequest } from './execution.js';
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
export type { JobContext, PlainError } from './protocol.js';
