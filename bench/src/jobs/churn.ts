/**
 * Many short remote jobs. A kernel that forks for others all day must keep nothing of a job
 * once it has ended, and should not spend much more per job than a plain server would. Each
 * run forks JOBS `/bin/echo x` on beta, IN_FLIGHT at a time (`fork({ on: 'beta' })`, its
 * stdin ended, stdout and stderr read, `wait()`), against the raw ws server (ws-source.ts)
 * spawning the same command for IN_FLIGHT connections of its own, one command at a time on
 * each. Per run: jobs per second; CPU time per job of this process and of the child (beta,
 * or the raw server), all threads; and after the run, each process's JS heap after a full
 * GC. The slope of that heap over the measured runs, per job, is what a job leaves behind
 * (the warm-up run's is left out: code and caches still settle in it).
 */

import type { Jobs } from '@ikc/jobs';
import { fmt, median, type Row, RUNS, report } from '../harness.js';
import type { Child } from '../remote/child.js';
import { BETA, CHURN_IN_FLIGHT, cpuSeconds, ECHO_ARGV, heapAfterGc } from './common.js';
import { type RawClient, type RemoteSetup, rawClient, withTimeout } from './remote.js';

/** Jobs per run. */
const JOBS = 2000;
/** Jobs running at once (forks in flight, or raw connections). */
const IN_FLIGHT = CHURN_IN_FLIGHT;
const KIB = 1024;

interface ChurnRun {
  /** Jobs per second. */
  rate: number;
  /** CPU ms per job, this process and the child. */
  hereCpu: number;
  thereCpu: number;
  /** JS heap after a full GC once the run is over, bytes. */
  hereHeap: number;
  thereHeap: number;
}

interface Contender {
  name: string;
  child: Child<unknown>;
  /** Runs one job on `lane` (0 to IN_FLIGHT − 1) and resolves once it has ended. */
  one(lane: number): Promise<void>;
}

async function ikcJob(jobs: Jobs): Promise<void> {
  const job = jobs.fork({ cmd: ECHO_ARGV, on: BETA });
  job.stdin.end();
  job.stdout.resume();
  job.stderr.resume();
  const outcome = await job.wait();
  if (outcome.exitCode !== 0) throw new Error(`remote echo exited ${outcome.exitCode}: ${outcome.error}`);
}

async function rawJob(raw: RawClient): Promise<void> {
  const r = await raw.run(ECHO_ARGV);
  if (r.exitCode !== 0 || r.bytes === 0) throw new Error(`raw echo exited ${r.exitCode}, ${r.bytes} bytes`);
}

/** The least-squares slope of `ys` against their index (growth per step). */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return Number.NaN;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

async function churnRun(c: Contender): Promise<ChurnRun> {
  const thereCpu0 = await c.child.request<number>('cpu');
  const hereCpu0 = cpuSeconds();
  const start = process.hrtime.bigint();
  let started = 0;
  const lane = async (i: number) => {
    while (started < JOBS) {
      started++;
      await c.one(i);
    }
  };
  await withTimeout(
    Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => lane(i))),
    `${c.name}, ${JOBS} jobs`,
  );
  const ns = Number(process.hrtime.bigint() - start);
  const hereCpu = cpuSeconds() - hereCpu0;
  const thereCpu = (await c.child.request<number>('cpu')) - thereCpu0;
  return {
    rate: (JOBS * 1e9) / ns,
    hereCpu: (hereCpu * 1e3) / JOBS,
    thereCpu: (thereCpu * 1e3) / JOBS,
    hereHeap: heapAfterGc(),
    thereHeap: await c.child.request<number>('heap'),
  };
}

const RAW = `raw ws server spawning it, ${IN_FLIGHT} connections (baseline)`;
const IKC = `ikc, fork({ on: 'beta' }), ${IN_FLIGHT} in flight`;
const HERE_RAW = 'raw ws: client (this process)';
const HERE_IKC = 'ikc: alpha (this process)';
const THERE_RAW = 'raw ws: server (child process)';
const THERE_IKC = 'ikc: beta (child process)';

/** Reports the churn's rate, CPU per job and heap per job, and whether alpha kept any job. */
export async function benchChurn(s: RemoteSetup): Promise<void> {
  const raws = await Promise.all(Array.from({ length: IN_FLIGHT }, () => rawClient(s.source.ready.address)));
  const contenders: Contender[] = [
    { name: RAW, child: s.source, one: (i) => rawJob(raws[i] as RawClient) },
    { name: IKC, child: s.beta, one: () => ikcJob(s.jobs) },
  ];
  try {
    const warm: ChurnRun[] = [];
    for (const c of contenders) warm.push(await churnRun(c));
    const runs: ChurnRun[][] = contenders.map(() => []);
    for (let r = 0; r < RUNS; r++) {
      for (let i = 0; i < contenders.length; i++) runs[i]?.push(await churnRun(contenders[i] as Contender));
    }
    const med = (i: number, key: keyof ChurnRun) => median((runs[i] as ChurnRun[]).map((x) => x[key]));
    report(`Many short remote jobs (${fmt(JOBS)} \`/bin/echo x\` per run, ${IN_FLIGHT} at a time)`, [
      { name: RAW, value: med(0, 'rate'), unit: 'jobs/s' },
      { name: IKC, value: med(1, 'rate'), unit: 'jobs/s', baseline: RAW },
    ]);
    const perProcess = (key: 'hereCpu' | 'thereCpu', here: [string, string]): Row[] => [
      { name: here[0], value: med(0, key), unit: 'CPU ms/job' },
      { name: here[1], value: med(1, key), unit: 'CPU ms/job', baseline: here[0] },
    ];
    report('CPU time per short remote job (user + system, all threads; not the command itself)', [
      ...perProcess('hereCpu', [HERE_RAW, HERE_IKC]),
      ...perProcess('thereCpu', [THERE_RAW, THERE_IKC]),
    ]);
    // What each job leaves behind: the slope of the heap after each measured run, per job.
    const growth = (i: number, key: 'hereHeap' | 'thereHeap') =>
      (slope((runs[i] as ChurnRun[]).map((x) => x[key])) / KIB / JOBS) * 1000;
    report(
      `JS heap kept per 1,000 short remote jobs (after a full GC; slope over ${RUNS} runs of ${fmt(JOBS)})`,
      [
        { name: HERE_RAW, value: growth(0, 'hereHeap'), unit: 'KiB' },
        { name: HERE_IKC, value: growth(1, 'hereHeap'), unit: 'KiB' },
        { name: THERE_RAW, value: growth(0, 'thereHeap'), unit: 'KiB' },
        { name: THERE_IKC, value: growth(1, 'thereHeap'), unit: 'KiB' },
      ],
    );
    const heaps = contenders.map((c, i) => {
      const all = [warm[i] as ChurnRun, ...(runs[i] as ChurnRun[])];
      const mib = (key: 'hereHeap' | 'thereHeap') =>
        all.map((x) => (x[key] / KIB / KIB).toFixed(1)).join(', ');
      return `- ${c.name}: heap after each run (warm-up first) ${mib('hereHeap')} MiB here, ${mib('thereHeap')} MiB there`;
    });
    const left = s.jobs.list().length;
    console.log(
      `${heaps.join('\n')}\n- jobs alpha still lists after ${fmt((RUNS + 1) * JOBS)} waited for: ${left}\n`,
    );
    if (left !== 0) throw new Error(`alpha still lists ${left} jobs that were waited for`);
  } finally {
    for (const raw of raws) raw.close();
  }
}
