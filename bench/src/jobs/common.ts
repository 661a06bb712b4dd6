/**
 * What the jobs benchmark's processes share: the name of the kernel that runs remote jobs,
 * the commands it allows, and peak-RSS figures that can be reset between runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Jobs } from '@ikc/jobs';
import { gc } from '../remote/common.js';

/** The kernel in the child process that forks jobs for the benchmark's kernel. */
export const BETA = 'beta';

/** The benchmark's own kernel (this process). */
export const ALPHA = 'alpha';

/** What beta forks for others (`jobs.allow`): the bulk source and the first-byte job. */
export const ALLOW = ['head', '/bin/echo'];

/**
 * Both kernels' `kernel.heapGrowingPercent` (IKC_BENCH_HEAP_GROWTH; default: the kernel's
 * own default). `0` measures them with V8's adaptive heap growth, as before that policy.
 */
export const HEAP_GROWTH: { heapGrowingPercent?: number } =
  process.env.IKC_BENCH_HEAP_GROWTH === undefined
    ? {}
    : { heapGrowingPercent: Number(process.env.IKC_BENCH_HEAP_GROWTH) };

/** The bulk job: `size` zero bytes on stdout. */
export function bulkCommand(bytes: number): string[] {
  return ['head', '-c', String(bytes), '/dev/zero'];
}

/**
 * Short jobs running at once in the churn part (churn.ts), and beta's `jobs.maxProc`: as many
 * as the raw ws server runs at once, so neither side waits in a queue the other has not.
 */
export const CHURN_IN_FLIGHT = 8;

/** The first-byte job. */
export const ECHO_ARGV = ['/bin/echo', 'x'];

/** Starts per measured run of a fork-to-first-byte measure. */
export const STARTS = 20;

/**
 * Forks ECHO_ARGV (on `on`, or here) and resolves with the ms from fork() to the first chunk
 * of its stdout, once the job has ended.
 */
export async function firstByteMs(jobs: Jobs, on?: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const job = jobs.fork({ cmd: ECHO_ARGV, ...(on === undefined ? {} : { on }) });
  job.stdin.end();
  await new Promise((resolve) => job.stdout.once('data', resolve));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  job.stdout.resume();
  job.stderr.resume();
  await job.wait();
  return ms;
}

/**
 * Largest resident set size since the last resetPeak() (or the process's start), in bytes:
 * Linux's VmHWM. NaN where /proc is missing.
 */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Sets the peak (VmHWM) back to the RSS now (`5` in /proc/self/clear_refs); returns the RSS. */
export function resetPeak(): number {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux, or not allowed: peaks then cover the process's whole life.
  }
  return process.memoryUsage.rss();
}

/** CPU time this process has used so far, all its threads (GC and JIT helpers too), in seconds. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Idle ms before each start the remote-start rounds time, local or remote: no process of the
 * bench does anything in them. On a 2-vCPU VM a start's time depends on how long its
 * processes have been idle: a local start 3 ms after beta's last spawn came out about 0.2 ms
 * faster than one after 8 ms of idleness, which was enough to flip which of two pairs looked
 * dearer. With the same pause before each, every start finds its processes in the same state,
 * whatever ran before it.
 */
export const IDLE_MS = 10;

/** A local start's measure, taken after IDLE_MS of idleness (beta's and the raw ws server's). */
export function afterIdle(measure: () => Promise<number>): () => Promise<number> {
  return async () => {
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return measure();
  };
}

/** Bytes of JS heap in use after a full GC (what a process keeps, not what it last made). */
export function heapAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/** Control commands (remote/common.ts serveControl) every helper process of this bench has. */
export const probeCommands = { resetPeak, peak: peakRss, cpu: cpuSeconds, heap: heapAfterGc };
