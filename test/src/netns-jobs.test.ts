// Remote jobs between two hosts (network namespaces joined by a bridge): kernel alpha on
// host 0, kernel beta on host 1, linked over the bridge with the cloud secret. This test
// process attaches to alpha as a leaf (over its UNIX socket: the filesystem is shared) and
// forks on beta, so every message goes leaf -> alpha -> beta and back. Then nft drops every
// packet between the hosts for 2 s in the middle of a job's output: nothing may be lost.
// Needs root, ip and nft.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { attach, type MeshKernel, silentLogger } from '@ikc/mesh';
import { IkcError } from '@ikc/wire';
import { Lab, labSkipReason } from './harness/netns.js';

const skip = labSkipReason();
const cloud = { name: 'netns-jobs', secret: 'forks across the bridge' };

const labs: Lab[] = [];
const leaves: MeshKernel[] = [];
after(async () => {
  for (const leaf of leaves) await leaf.stop().catch(() => {});
  for (const lab of labs) await lab.destroy();
});

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString();
  return out;
}

describe('jobs forked from one host on another', () => {
  it('run on the other host, stream back, and lose nothing across a 2 s network cut', {
    skip,
    timeout: 90_000,
  }, async () => {
    const lab = await Lab.create(2);
    labs.push(lab);
    const beta = await lab.startKernel(1, {
      kernel: { name: 'beta' },
      cloud,
      jobs: { allow: ['ip', 'seq'] },
    });
    const alpha = await lab.startKernel(0, {
      kernel: { name: 'alpha' },
      cloud: { ...cloud, seeds: [beta.listen] },
    });
    await alpha.waitFor('"kernel.up","kernel":"beta"');
    const leaf = await attach({ cloud, socket: alpha.socket, processSignals: false, logger: silentLogger });
    leaves.push(leaf);

    // It runs on host 1: its network is beta's.
    const where = leaf.fork({ cmd: ['ip', '-4', '-o', 'addr', 'show', 'eth0'], on: 'beta' });
    const addr = text(where.stdout);
    assert.equal((await where.wait(20_000)).exitCode, 0);
    assert.match(await addr, new RegExp(` ${lab.hosts[1]?.address.replaceAll('.', '\\.')}/24 `));

    // beta's allow list holds: refused, across the bridge too.
    const refused = await leaf.fork({ cmd: ['sh', '-c', 'true'], on: 'beta' }).wait(20_000);
    assert.ok(IkcError.is(refused.error, 'IKC_ERR_JOB_NOT_ALLOWED'), String(refused.error));

    // 300,000 lines; the reader pauses after the first 200 KB, the hosts are cut apart for
    // 2 s (shorter than deadAfterMs: the link rides it out), then healed, then it reads on.
    const N = 300_000;
    const job = leaf.fork({ cmd: ['seq', '1', String(N)], on: 'beta' });
    job.stdout.setEncoding('utf8');
    let got = '';
    let cutDone: Promise<void> | undefined;
    job.stdout.on('data', (d: string) => {
      got += d;
      if (!cutDone && got.length > 200_000) {
        job.stdout.pause();
        cutDone = (async () => {
          await lab.cut(0, 1);
          const before = got.length;
          job.stdout.resume(); // drain what is already here; nothing more can come
          await new Promise((r) => setTimeout(r, 2_000));
          const during = got.length;
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(got.length, during, 'nothing crossed the cut');
          assert.ok(during >= before);
          await lab.heal();
        })();
      }
    });
    const outcome = await job.wait(60_000);
    await new Promise((r) => (job.stdout.readableEnded ? r(undefined) : job.stdout.once('end', r)));
    await cutDone;
    assert.equal(outcome.exitCode, 0);
    assert.ok(cutDone, 'the cut happened mid-stream');
    const lines = got.split('\n');
    assert.equal(lines.length, N + 1);
    assert.ok(
      lines.slice(0, N).every((l, i) => l === String(i + 1)),
      'every line once and in order',
    );
  });
});
