import { fileURLToPath } from 'node:url';
import { IkcError } from '@ikc/wire';
import type { ChannelDir, ChannelPreset, ChannelSpec } from './channels.js';
import { fromPlainError } from './errors.js';
import type { JobOutcome } from './job.js';
import type { JobOptions, JobSpec, OnBusy } from './options.js';
import { type PlainError, toPlainError } from './protocol.js';

/**
 * What crosses the mesh for a remote job (docs/jobs.md, "Remote jobs"). The forking kernel
 * calls `poe://KERNEL/ikc.jobs/fork` with a WireSpec; the kernel that runs the job checks it
 * again as it would a local fork's options, and trusts nothing else in it.
 */

/** The alias of the session through which a kernel forks jobs for others. */
export const JOB_SERVICE = 'ikc.jobs';

/** A fork's options as they cross the wire: a JobSpec without what the forking kernel keeps
 * (start time, dependencies, the owner's event). */
export interface WireSpec {
  /** The job's id, made by the forking kernel (cloud-unique: it starts with that kernel's id). */
  id: string;
  kind: 'cmd' | 'module';
  argv: string[];
  module: string;
  export: string;
  args: unknown[];
  name: string;
  timeoutMs: number | null;
  expiresAt: number | null;
  priority: number;
  env: Record<string, string | null>;
  cwd: string | null;
  retries: number;
  capture: boolean;
  stdin: string | Uint8Array | null;
  onBusy: OnBusy;
  std: ChannelPreset;
  named: { name: string; dir: ChannelDir }[];
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
  const env: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(spec.env)) env[k] = v ?? null;
  return {
    id,
    kind: spec.kind,
    argv: spec.argv,
    module: spec.moduleUrl,
    export: spec.exportName,
    args: spec.args,
    name: spec.name,
    timeoutMs: spec.timeoutMs ?? null,
    expiresAt: spec.expiresAt ?? null,
    priority: spec.priority,
    env,
    cwd: spec.cwd ?? null,
    retries: spec.retries,
    capture: spec.capture,
    stdin: spec.stdin ?? null,
    onBusy: spec.onBusy,
    std: spec.channels.std,
    named: spec.channels.named.map(({ name, dir }) => ({ name, dir })),
  };
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
  const w = value as Partial<WireSpec>;
  if (typeof w.id !== 'string' || !ID.test(w.id))
    throw bad('the job id must be a word of up to 128 characters');
  if (w.kind !== 'cmd' && w.kind !== 'module') throw bad('kind must be cmd or module');
  if (!Array.isArray(w.named)) throw bad('named channels must be a list');
  const env: Record<string, string | undefined> = {};
  if (typeof w.env !== 'object' || w.env === null) throw bad('env must be an object');
  for (const [k, v] of Object.entries(w.env)) {
    if (v !== null && typeof v !== 'string') throw bad(`env ${k} must be a string`);
    env[k] = v ?? undefined;
  }
  const channels: (ChannelPreset | ChannelSpec)[] = [w.std as ChannelPreset];
  for (const c of w.named as ChannelSpec[]) channels.push({ name: c?.name, dir: c?.dir, mode: 'binary' });
  const options: JobOptions = {
    name: w.name as string,
    priority: w.priority as number,
    retries: w.retries as number,
    capture: w.capture === true,
    onBusy: w.onBusy as OnBusy,
    env,
    channels,
  };
  if (w.kind === 'cmd') options.cmd = w.argv as string[];
  else {
    options.module = w.module as string;
    options.export = w.export as string;
    options.args = w.args as unknown[];
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
