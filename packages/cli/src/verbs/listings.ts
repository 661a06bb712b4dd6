import type { MeshKernel, PeerView } from '@ikc/mesh';
import { IkcError } from '@ikc/wire';
import { connect, type GlobalOptions } from '../connect.js';
import { EXIT } from '../exit.js';
import { table, toJson } from '../output.js';

/** ikc peers: every kernel the host kernel knows, with state and round-trip time. */
export async function peers(options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'peers');
  try {
    const all = (await conn.leaf.callWith(
      { timeoutMs: conn.timeoutMs },
      `poe://${conn.host}/ikc/peers`,
    )) as (PeerView & { state: string })[];
    // The CLI's own leaf kernel, attached just for this command, is not one of the cloud's.
    const rows = all.filter((p) => p.name !== conn.leaf.name);
    // rtt is null (JSON) or '-' (table) until a round trip has been measured.
    if (options.json) process.stdout.write(`${toJson(rows.map((p) => ({ ...p, rtt: p.rtt ?? null })))}\n`);
    else {
      const lines = rows.map((p) => [
        p.name,
        p.id,
        p.role,
        p.address,
        p.state,
        p.rtt === undefined ? '-' : `${p.rtt} ms`,
      ]);
      process.stdout.write(`${table(['NAME', 'ID', 'ROLE', 'ADDRESS', 'STATE', 'RTT'], lines)}\n`);
    }
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}

interface SessionRow {
  id: string;
  aliases: string[];
  published: string[];
}

/**
 * ikc ls [KERNEL]: the sessions of a kernel (default: the host), through its `ikc` session;
 * for a kernel without one (a leaf), what it publishes, from the registry.
 */
export async function ls(kernelArg: string | undefined, options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'ls');
  try {
    const kernel = kernelArg ?? conn.host;
    let rows: SessionRow[];
    try {
      rows = (await conn.leaf.callWith(
        { timeoutMs: conn.timeoutMs },
        `poe://${kernel}/ikc/ls`,
      )) as SessionRow[];
    } catch (err) {
      if (!IkcError.is(err, 'IKC_ERR_NO_SESSION') && !IkcError.is(err, 'IKC_ERR_NOT_PUBLISHED')) throw err;
      const known = conn.leaf.mesh.remoteSessions().find((k) => k.kernel === kernel || k.kernelId === kernel);
      if (!known) throw err;
      rows = known.sessions;
    }
    if (options.json) process.stdout.write(`${toJson(rows)}\n`);
    else {
      const lines = rows.map((s) => [s.id, s.aliases.join(',') || '-', s.published.join(',') || '-']);
      process.stdout.write(`${table(['ID', 'ALIASES', 'PUBLISHED'], lines)}\n`);
    }
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}

type JobInfo = ReturnType<NonNullable<MeshKernel['jobs']>['list']>[number];

/** What a host kernel's `ikc/jobs` answers: its job queue. */
interface JobsReport {
  kernel: string;
  maxProc: number;
  active: number;
  waiting: number;
  jobs: JobInfo[];
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

/** How a job ended, in one word: its exit code, its signal, or its error's code. */
function ending(job: JobInfo): string {
  if (job.error) return job.error.code ?? 'error';
  if (job.signal) return job.signal;
  return job.exitCode === null ? '-' : String(job.exitCode);
}

/**
 * ikc jobs [KERNEL]: the job queue of a kernel (default: the host), through its `ikc`
 * session: every job not yet reaped, with its state, pid, and when it started and ended.
 */
export async function jobs(kernelArg: string | undefined, options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'jobs');
  try {
    const kernel = kernelArg ?? conn.host;
    const report = (await conn.leaf.callWith(
      { timeoutMs: conn.timeoutMs },
      `poe://${kernel}/ikc/jobs`,
    )) as JobsReport;
    if (options.json) process.stdout.write(`${toJson(report)}\n`);
    else {
      const lines = report.jobs.map((j) => [
        j.id,
        j.name,
        j.state,
        j.pid === null ? '-' : String(j.pid),
        j.kernel,
        when(j.startedAt),
        when(j.endedAt),
        ending(j),
      ]);
      process.stdout.write(
        `${report.kernel}: ${report.active} active, ${report.waiting} waiting, maxProc ${report.maxProc}\n` +
          `${table(['ID', 'NAME', 'STATE', 'PID', 'KERNEL', 'STARTED', 'ENDED', 'EXIT'], lines)}\n`,
      );
    }
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}
