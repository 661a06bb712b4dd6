import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kernel, type MonitorEvent } from '@ikc/kernel';
import { Jobs, type JobsOptions } from '../src/index.js';

/** The compiled fixture `name` (test/fixtures/NAME.ts). */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
}

/** argv that runs a fixture script with this node. */
export function nodeScript(name: string, ...args: string[]): string[] {
  return [process.execPath, fixture(name), ...args];
}

const open: Jobs[] = [];

/** A kernel (no process signal handlers) and its job queue; closeAll() ends them. */
export function setup(options: JobsOptions = {}): { kernel: Kernel; jobs: Jobs; unhandled: MonitorEvent[] } {
  const unhandled: MonitorEvent[] = [];
  const kernel = new Kernel({
    name: 'jt',
    processSignals: false,
    onUnhandledError: (e) => unhandled.push(e),
  });
  const jobs = new Jobs(kernel, options);
  open.push(jobs);
  return { kernel, jobs, unhandled };
}

/** Closes every queue setup() made: kills what still runs. For after/afterEach hooks. */
export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((j) => j.close()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Processes of group `pgid` that are alive (not zombies), from /proc. A killed grandchild
 * stays a zombie until init reaps it, and kill(-pgid, 0) still finds a zombie.
 */
export function liveMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') out.push(Number(name));
  }
  return out;
}

/** True once kill(-pgid, 0) fails with ESRCH: no process of the group is left, zombies
 * included (polls up to `withinMs`; init may take a while to reap). */
export async function groupGone(pgid: number, withinMs = 5000): Promise<boolean> {
  const until = Date.now() + withinMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
      throw err;
    }
    if (Date.now() > until) return false;
    await sleep(20);
  }
}

/** Everything a readable yields, as one string, once it ends. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream)
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text;
}
