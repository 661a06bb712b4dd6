import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IkcError } from '@ikc/wire';
import type { ChannelDir, ChannelPreset, ChannelSpec } from './channels.js';
import { fromPlainError } from './errors.js';
import type { JobOutcome } from './job.js';
import { JOB_DEFAULTS, type JobOptions, type JobSpec, type OnBusy } from './options.js';
import { type PlainError, toPlainError } from './protocol.js';

/**
 * What crosses the mesh for a remote job (docs/jobs.md, "Remote jobs"). The forking kernel
 * calls `poe://KERNEL/ikc.jobs/fork` with a WireSpec; the kernel that runs the job checks it
 * again as it would a local fork's options, and trusts nothing else in it.
 */

/** The alias of the session through which a kernel forks jobs for others. */
export const JOB_SERVICE = 'ikc.jobs';

/**
 * A fork's options as they cross the wire: a JobSpec without what the forking kernel keeps
 * (start time, dependencies, the owner's event). Only `id` is always there: every other
 * field is left out when it holds its default (a command job, the program's base name as
 * its name, no limits, priority 0, no env, and so on), so a plain command's fork is a few
 * dozen bytes, and the serving kernel fills the defaults in again.
 */
export interface WireSpec {
  /** The job's id, made by the forking kernel (cloud-unique: it starts with that kernel's id). */
  id: string;
  /** Default 'cmd'. */
  kind?: 'cmd' | 'module';
  /** A command job's argv. */
  argv?: string[];
  /** A module job's module (file URL), export and arguments. */
  module?: string;
  export?: string;
  args?: unknown[];
  /** Default: what fork() names the job from its argv or module. */
  name?: string;
  timeoutMs?: number | null;
  expiresAt?: number | null;
  priority?: number;
  env?: Record<string, string | null>;
  cwd?: string | null;
  retries?: number;
  capture?: boolean;
  stdin?: string | Uint8Array | null;
  onBusy?: OnBusy;
  /** The standard channels' preset; default 'normal'. */
  std?: ChannelPreset;
  named?: { name: string; dir: ChannelDir }[];
}

/** How a remote job ended, as the kernel that ran it reports it. */
export interface WireOutcome {
  type: 'finish' | 'fail';
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  result: unknown;
  error: PlainError | null;
  stdoutText: string | null;
  stderrText: string | null;
}

export function toWire(id: string, spec: JobSpec): WireSpec {
  const w: WireSpec = { id };
  if (spec.kind === 'cmd') {
    w.argv = spec.argv;
    if (spec.name !== basename(spec.argv[0] as string)) w.name = spec.name;
  } else {
    w.kind = 'module';
    w.module = spec.moduleUrl;
    w.export = spec.exportName;
    w.args = spec.args;
    w.name = spec.name;
  }
  if (spec.timeoutMs !== undefined) w.timeoutMs = spec.timeoutMs;
  if (spec.expiresAt !== undefined) w.expiresAt = spec.expiresAt;
  if (spec.priority !== JOB_DEFAULTS.priority) w.priority = spec.priority;
  const keys = Object.keys(spec.env);
  if (keys.length > 0) {
    const env: Record<string, string | null> = {};
    for (const k of keys) env[k] = spec.env[k] ?? null;
    w.env = env;
  }
  if (spec.cwd !== undefined) w.cwd = spec.cwd;
  if (spec.retries !== JOB_DEFAULTS.retries) w.retries = spec.retries;
  if (spec.capture) w.capture = true;
  if (spec.stdin !== undefined) w.stdin = spec.stdin;
  if (spec.onBusy !== JOB_DEFAULTS.onBusy) w.onBusy = spec.onBusy;
  if (spec.channels.std !== 'normal') w.std = spec.channels.std;
  if (spec.channels.named.length > 0) w.named = spec.channels.named.map(({ name, dir }) => ({ name, dir }));
  return w;
}

function bad(message: string): IkcError {
  return new IkcError('IKC_ERR_INVALID_ARG', `remote fork: ${message}`);
}

const ID = /^[\w.-]{1,128}$/;

/**
 * The options a WireSpec asks for, for this kernel's own fork() to check. Channels are binary
 * here whatever their mode: bytes cross the wire, and the forking kernel decodes text.
 */
export function fromWire(value: unknown): { id: string; options: JobOptions } {
  if (typeof value !== 'object' || value === null) throw bad('the job spec must be an object');
  const w = value as WireSpec;
  if (typeof w.id !== 'string' || !ID.test(w.id))
    throw bad('the job id must be a word of up to 128 characters');
  const kind = w.kind ?? 'cmd';
  if (kind !== 'cmd' && kind !== 'module') throw bad('kind must be cmd or module');
  const options: JobOptions = {};
  if (kind === 'cmd') options.cmd = w.argv as string[];
  else {
    options.module = w.module as string;
    options.export = w.export as string;
    options.args = w.args as unknown[];
  }
  if (w.name !== undefined) options.name = w.name;
  if (w.priority !== undefined) options.priority = w.priority;
  if (w.retries !== undefined) options.retries = w.retries;
  if (w.capture === true) options.capture = true;
  if (w.onBusy !== undefined) options.onBusy = w.onBusy;
  if (w.env !== undefined) {
    if (typeof w.env !== 'object' || w.env === null) throw bad('env must be an object');
    const env: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(w.env)) {
      if (v !== null && typeof v !== 'string') throw bad(`env ${k} must be a string`);
      env[k] = v ?? undefined;
    }
    options.env = env;
  }
  if (w.std !== undefined || w.named !== undefined) {
    if (w.named !== undefined && !Array.isArray(w.named)) throw bad('named channels must be a list');
    const channels: (ChannelPreset | ChannelSpec)[] = [w.std ?? 'normal'];
    for (const c of (w.named ?? []) as ChannelSpec[])
      channels.push({ name: c?.name, dir: c?.dir, mode: 'binary' });
    options.channels = channels;
  }
  if (w.timeoutMs !== null && w.timeoutMs !== undefined) options.timeout = (w.timeoutMs as number) / 1000;
  if (w.expiresAt !== null && w.expiresAt !== undefined) options.expiration = w.expiresAt;
  if (w.cwd !== null && w.cwd !== undefined) options.cwd = w.cwd;
  if (w.stdin !== null && w.stdin !== undefined) options.stdin = w.stdin;
  return { id: w.id, options };
}

/** The name `jobs.allow` has to list for a job: its program, or its module's path. */
export function allowName(spec: JobSpec): string {
  return spec.kind === 'cmd' ? (spec.argv[0] as string) : fileURLToPath(spec.moduleUrl);
}

export function outcomeToWire(
  type: 'finish' | 'fail',
  outcome: JobOutcome,
  texts: { stdoutText?: string | undefined; stderrText?: string | undefined },
): WireOutcome {
  return {
    type,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    result: outcome.result,
    error: outcome.error ? toPlainError(outcome.error) : null,
    stdoutText: texts.stdoutText ?? null,
    stderrText: texts.stderrText ?? null,
  };
}

export function outcomeFromWire(w: WireOutcome): {
  type: 'finish' | 'fail';
  outcome: JobOutcome;
  texts: { stdoutText?: string; stderrText?: string };
} {
  const outcome: JobOutcome = { exitCode: w.exitCode, signal: w.signal, result: w.result };
  if (w.error) outcome.error = fromPlainError(w.error);
  const texts: { stdoutText?: string; stderrText?: string } = {};
  if (typeof w.stdoutText === 'string') texts.stdoutText = w.stdoutText;
  if (typeof w.stderrText === 'string') texts.stderrText = w.stderrText;
  return { type: w.type === 'fail' ? 'fail' : 'finish', outcome, texts };
}
