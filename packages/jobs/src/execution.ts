import type { Socket } from 'node:net';
import type { Kernel, Session } from '@ikc/kernel';
import type { JobChannels } from './channels.js';
import type { JobSpec } from './options.js';
import type { LeafGrant } from './protocol.js';

/**
 * Offers a module job's child to be a leaf kernel: takes the parent's end of a socket pair,
 * serves the child's link on it, and says how the child attaches (all but the child's fd).
 */
export type LeafHost = (socket: Socket, job: string) => Omit<LeafGrant, 'fd'>;

/** How one attempt of a job ended. */
export interface AttemptExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** A module job's return value. */
  result?: unknown;
  /** Why the attempt failed, beyond its exit status: a spawn error, a module job's throw. */
  error?: Error;
  /** With `capture`: what the attempt wrote (utf-8). */
  stdoutText?: string;
  stderrText?: string;
}

/**
 * One attempt of a job, running somewhere. The Job and the queue know only this: a local
 * process implements it (local.ts); a job forked on another kernel will implement it over
 * the mesh, with the same streams behind it.
 */
export interface Execution {
  /** The process id where there is one (the process group id, locally). */
  readonly pid: number | null;
  /** Sends a signal to the whole job (its process group); false when nothing is left to signal. */
  signal(signal: NodeJS.Signals): boolean;
  /** Settles when the attempt is over: its process exited, and captured output and results are in. Never rejects. */
  readonly done: Promise<AttemptExit>;
}

/** What an execution needs to know of its job. */
export interface LaunchRequest {
  id: string;
  spec: JobSpec;
  channels: JobChannels;
  /** No attempt will follow this one (no retries left): its output ends the channels. */
  last: boolean;
  /** Where a module job's ctx.post and ctx.call go, and as whom (the owner, or the kernel's root). */
  kernel?: Kernel;
  sender?: Session;
  /** Where a module job's child may attach as a leaf kernel (ctx.kernel()). */
  leafHost?: LeafHost;
}

/** Starts attempts. */
export interface Launcher {
  launch(request: LaunchRequest): Execution;
}
