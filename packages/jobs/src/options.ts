import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IkcError } from '@ikc/wire';
import { type ChannelLayout, type ChannelOption, parseChannels } from './channels.js';

/** Defaults of the job queue and the pool, each with its unit. One place, so docs and code agree. */
export const JOB_DEFAULTS = {
  /** Jobs that may run at once on one kernel (count): the CPU count. */
  maxProc: (): number => availableParallelism(),
  /** Between the SIGTERM of a timeout (or close()) and the SIGKILL that follows, in ms. */
  killGraceMs: 2000,
  /** Completed jobs nobody wait()ed for, kept for list() and get() (count; oldest dropped first). */
  keepComplete: 1000,
  /** Order in the queue: higher first (unitless). */
  priority: 0,
  /** Extra attempts after a failed one (count). */
  retries: 0,
  /** What fork() does when maxProc jobs run. */
  onBusy: 'queue' as OnBusy,
  /** The event a job posts to its owner session. */
  event: '_job',
} as const;

export type OnBusy = 'block' | 'fail' | 'queue';

/** A job given by id (of this kernel's queue) or as the Job object. */
export type JobRef = string | { readonly id: string };

/** What `jobs.fork()` takes. Times are in seconds (durations) or a Date / ms epoch (instants). */
export interface JobOptions {
  /** The command: argv as an array (no shell), or one program name. */
  cmd?: string | readonly string[];
  /** A module path (relative to the current directory) or file URL whose `export` runs in a child node. */
  module?: string | URL;
  /** The function the module exports; it is called as `(ctx, ...args)`; its return value is the job's result. */
  export?: string;
  /** For `module`: the function's arguments (structured clone). For `cmd`: appended to argv as strings. */
  args?: readonly unknown[];
  /** A label for listings (default: the program's base name, or `module:export`). */
  name?: string;
  /** Seconds an attempt may run before its process group gets SIGTERM (then SIGKILL). */
  timeout?: number;
  /** An instant (Date or ms since the epoch) after which the job is killed, or never started. */
  expiration?: Date | number;
  /** Seconds to wait after fork() before the job may start. */
  delay?: number;
  /** An instant (Date or ms since the epoch) before which the job does not start. */
  startAfter?: Date | number;
  /** Jobs that must be complete before this one starts. */
  dependsOn?: JobRef | readonly JobRef[];
  /** Jobs that must have started before this one starts. */
  dependsStart?: JobRef | readonly JobRef[];
  /** Higher runs first; equal priorities run in fork order (default 0). */
  priority?: number;
  /** Variables set over process.env (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** Working directory of the process (default: this process's). */
  cwd?: string;
  /** Runs a failed attempt again, up to this many more times (default 0). */
  retries?: number;
  /** Collects stdout and stderr of the last attempt into job.stdoutText / job.stderrText. */
  capture?: boolean;
  /** Written to the job's stdin, which is then closed (again for each attempt). */
  stdin?: string | Uint8Array;
  /** When maxProc jobs run: 'queue' or 'block' wait in the queue; 'fail' throws IKC_ERR_JOB_BUSY. */
  onBusy?: OnBusy;
  /** 'normal' (default), 'join' (stderr into stdout), 'quiet' (output to /dev/null), and named channels. */
  channels?: ChannelOption;
  /** The event posted to the owner session (default `_job`). */
  event?: string;
  /** Where the job should run. Local jobs only for now: undefined, '' or this kernel's name or id. */
  on?: string;
}

/** Options after validation, with defaults filled in. */
export interface JobSpec {
  kind: 'cmd' | 'module';
  /** argv for cmd jobs. */
  argv: string[];
  /** File URL of a module job's module. */
  moduleUrl: string;
  exportName: string;
  args: unknown[];
  name: string;
  timeoutMs: number | undefined;
  expiresAt: number | undefined;
  startAt: number | undefined;
  dependsOn: JobRef[];
  dependsStart: JobRef[];
  priority: number;
  env: Record<string, string | undefined>;
  cwd: string | undefined;
  retries: number;
  capture: boolean;
  stdin: string | Uint8Array | undefined;
  onBusy: OnBusy;
  channels: ChannelLayout;
  event: string;
}

function bad(message: string): IkcError {
  return new IkcError('IKC_ERR_INVALID_ARG', message);
}

function seconds(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw bad(`job option ${key} must be a number of seconds >= 0, got ${String(value)}`);
  }
  return value * 1000;
}

function instant(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw bad(`job option ${key} must be a Date or milliseconds since the epoch, got ${String(value)}`);
  }
  return ms;
}

function count(value: unknown, key: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw bad(`job option ${key} must be an integer >= 0, got ${String(value)}`);
  }
  return value;
}

function refs(value: unknown, key: string): JobRef[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const ref of list) {
    const ok =
      typeof ref === 'string' ||
      (typeof ref === 'object' && ref !== null && typeof (ref as { id?: unknown }).id === 'string');
    if (!ok) throw bad(`job option ${key} takes job ids or Job objects`);
  }
  return list as JobRef[];
}

/** The file URL of a module given as a path (relative to the current directory) or a URL. */
export function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (module.startsWith('file:')) return module;
  return pathToFileURL(resolve(module)).href;
}

/** Checks a fork's options and fills in the defaults; throws IKC_ERR_INVALID_ARG naming the option. */
export function normalize(options: JobOptions): JobSpec {
  if (typeof options !== 'object' || options === null) throw bad('fork() takes an options object');
  const { cmd, module } = options;
  if ((cmd === undefined) === (module === undefined)) {
    throw bad('a job needs either `cmd` (a command) or `module` and `export` (a function)');
  }
  const args = options.args === undefined ? [] : options.args;
  if (!Array.isArray(args)) throw bad('job option args must be an array');

  let kind: JobSpec['kind'] = 'cmd';
  let argv: string[] = [];
  let url = '';
  let exportName = '';
  let name: string;
  if (cmd !== undefined) {
    const list = typeof cmd === 'string' ? [cmd] : cmd;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((a) => typeof a !== 'string') ||
      list[0] === ''
    ) {
      throw bad('job option cmd must be a program name or a non-empty array of strings (argv)');
    }
    argv = [...list, ...args.map((a) => String(a))];
    name = basename(argv[0] as string);
  } else {
    if (typeof module !== 'string' && !(module instanceof URL)) {
      throw bad('job option module must be a path or a file URL');
    }
    if (typeof options.export !== 'string' || options.export === '') {
      throw bad('a module job needs `export`: the name of the function to run');
    }
    kind = 'module';
    url = moduleUrl(module);
    exportName = options.export;
    name = `${basename(String(module))}:${exportName}`;
  }
  if (options.name !== undefined && typeof options.name !== 'string')
    throw bad('job option name must be a string');

  const priority = options.priority ?? JOB_DEFAULTS.priority;
  if (typeof priority !== 'number' || !Number.isFinite(priority))
    throw bad('job option priority must be a number');
  const onBusy = options.onBusy ?? JOB_DEFAULTS.onBusy;
  if (onBusy !== 'block' && onBusy !== 'fail' && onBusy !== 'queue') {
    throw bad(`job option onBusy must be 'block', 'fail' or 'queue', got ${String(onBusy)}`);
  }
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) {
    throw bad('job option env must be an object of strings');
  }
  if (options.cwd !== undefined && typeof options.cwd !== 'string')
    throw bad('job option cwd must be a path');
  const stdin = options.stdin;
  if (stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array)) {
    throw bad('job option stdin must be a string or bytes');
  }
  const event = options.event ?? JOB_DEFAULTS.event;
  if (typeof event !== 'string' || event === '') throw bad('job option event must be an event name');

  const delayMs = seconds(options.delay, 'delay');
  const after = instant(options.startAfter, 'startAfter');
  const starts = [delayMs === undefined ? undefined : Date.now() + delayMs, after].filter(
    (t): t is number => t !== undefined,
  );

  return {
    kind,
    argv,
    moduleUrl: url,
    exportName,
    args: [...args],
    name: options.name ?? name,
    timeoutMs: seconds(options.timeout, 'timeout'),
    expiresAt: instant(options.expiration, 'expiration'),
    startAt: starts.length ? Math.max(...starts) : undefined,
    dependsOn: refs(options.dependsOn, 'dependsOn'),
    dependsStart: refs(options.dependsStart, 'dependsStart'),
    priority,
    env: { ...options.env },
    cwd: options.cwd,
    retries: count(options.retries, 'retries', JOB_DEFAULTS.retries),
    capture: options.capture === true,
    stdin,
    onBusy,
    channels: parseChannels(options.channels),
    event,
  };
}
