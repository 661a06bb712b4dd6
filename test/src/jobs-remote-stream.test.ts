// A multi-gigabyte stream from a remote job through a deliberately slow reader: the credit
// flow (packages/jobs/src/flow.ts) must stop the child's pipe on the other kernel whenever
// the reader here falls behind, so no process holds more than a bounded amount of it. The
// job runs on kernel process beta; this test process is kernel alpha and the reader.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, it } from 'node:test';
import { CHANNEL_WINDOW } from '@ikc/jobs';
import { type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { type KernelProc, startKernelProc } from './harness/kernels.js';

/** The stream: 2 GiB of zeros. */
const SIZE = 2 * 1024 ** 3;
/** What no process of the three (beta, its job, this one) may exceed while it flows. */
const RSS_BOUND = 256 * 1024 ** 2;

let beta: KernelProc | undefined;
let alpha: MeshKernel | undefined;
after(async () => {
  await alpha?.stop();
  await beta?.stop('SIGKILL');
});

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // gone
  }
}

const MiB = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;

it('2 GiB from a remote job through a slow reader keeps every process under 256 MiB RSS', {
  timeout: 180_000,
}, async () => {
  beta = await startKernelProc({
    kernel: { name: 'stream-beta', listen: '127.0.0.1:0', socket: false },
    cloud: { name: 'jobs-stream' },
    jobs: { allow: ['head'] },
  });
  alpha = await startKernel({
    kernel: { name: 'stream-alpha', listen: '127.0.0.1:0', socket: false },
    cloud: { name: 'jobs-stream', seeds: [beta.listen] },
    logger: silentLogger,
    processSignals: false,
  });
  const job = alpha.fork({ cmd: ['head', '-c', String(SIZE), '/dev/zero'], on: 'stream-beta' });
  const peak = { beta: 0, job: 0, alpha: 0 };
  const betaPid = beta.child.pid as number;
  const sample = setInterval(() => {
    peak.beta = Math.max(peak.beta, rssOf(betaPid));
    if (job.pid) peak.job = Math.max(peak.job, rssOf(job.pid));
    peak.alpha = Math.max(peak.alpha, process.memoryUsage().rss);
  }, 25);

  // Phase 1: nobody reads for 2 s. The job must be held back on beta: what `head` has
  // written is the window plus the buffers on the way (its pipe, beta's stream, this
  // kernel's stream: well under 4 MiB), not gigabytes.
  job.stdout.pause();
  await new Promise((r) => setTimeout(r, 2_000));
  assert.ok(job.state === 'active' && job.pid !== null, `the job is running (${job.state})`);
  const written = () => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${job.pid}/io`, 'utf8'))?.[1]);
  const heldBack = written();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(written(), heldBack, 'head is blocked');
  assert.ok(
    heldBack > 0 && heldBack <= CHANNEL_WINDOW + 3 * 1024 ** 2,
    `head wrote ${heldBack} bytes while nobody read`,
  );

  // Phase 2: a reader that stops for 50 ms every 64 MiB.
  let got = 0;
  let nextStop = 64 * 1024 ** 2;
  const t0 = Date.now();
  const reader = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, done) {
      got += chunk.length;
      if (got >= nextStop) {
        nextStop += 64 * 1024 ** 2;
        setTimeout(done, 50);
      } else done();
    },
  });
  await pipeline(job.stdout, reader);
  const ms = Date.now() - t0;
  clearInterval(sample);
  const outcome = await job.wait(10_000);
  console.log(
    `# ${MiB(got)} in ${ms} ms (${((got / 1e6) * 1000) / ms} MB/s); peak RSS beta ${MiB(peak.beta)}, ` +
      `job ${MiB(peak.job)}, this process ${MiB(peak.alpha)}; head wrote ${heldBack} bytes while nobody read`,
  );
  assert.equal(outcome.exitCode, 0);
  assert.equal(got, SIZE, 'every byte arrived');
  assert.ok(peak.beta > 0 && peak.alpha > 0, 'RSS was sampled');
  for (const [who, rss] of Object.entries(peak))
    assert.ok(rss < RSS_BOUND, `${who} peaked at ${MiB(rss)}, over ${MiB(RSS_BOUND)}`);
});
