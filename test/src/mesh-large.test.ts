// Large arguments and results between real processes over TCP: a 64 MiB Buffer crosses in
// 1 MiB chunks and arrives byte for byte (its SHA-256 checked on the far side), results as
// large come back the same way, other links go on meanwhile, and a message over a kernel's
// mesh.maxMessageBytes is refused at the sender without hurting the link.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type MeshKernel, silentLogger, startKernel } from '@ikc/mesh';
import { pattern, sha256 } from './fixtures/digest.js';
import { type KernelProc, socketDir, startKernelProc } from './harness/kernels.js';

const cloud = { name: 'large', secret: 'large messages cloud secret' };
const MIB = 1024 * 1024;

interface Digest {
  sha256: string;
  bytes: number;
}

interface Memory {
  rss: number;
  maxRss: number;
}

describe('large arguments between kernel processes', () => {
  let beta: KernelProc;
  let gamma: KernelProc;
  let alpha: MeshKernel;
  const dir = socketDir();

  before(async () => {
    [beta, gamma] = await Promise.all([
      startKernelProc({
        kernel: { name: 'beta', listen: '127.0.0.1:0', socket: join(dir, 'beta.sock') },
        cloud,
        sessions: ['./digest.js'],
      }),
      startKernelProc({
        kernel: { name: 'gamma', listen: '127.0.0.1:0', socket: join(dir, 'gamma.sock') },
        cloud,
        sessions: ['./digest.js'],
        mesh: { maxMessageBytes: 32 * MIB },
      }),
    ]);
    // This process is a host kernel linked to both over TCP (ws), as two hosts are.
    alpha = await startKernel({
      kernel: { name: 'alpha', listen: '127.0.0.1:0', socket: false },
      cloud: { ...cloud, seeds: [beta.listen, gamma.listen], mdns: false },
      logger: silentLogger,
      processSignals: false,
      admin: false,
    });
  });

  after(async () => {
    await alpha?.stop();
    await Promise.all([beta?.stop(), gamma?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a 64 MiB Buffer argument arrives whole: its SHA-256 matches on the other side', async () => {
    const data = pattern(64 * MIB, 42);
    const before = (await alpha.call('poe://beta/digest/memory')) as Memory;
    const got = (await alpha.callWith({ timeoutMs: 60_000 }, 'poe://beta/digest/sha256', data)) as Digest;
    assert.deepEqual(got, { sha256: sha256(data), bytes: data.length });
    // Memory on the receiving side: the message once, its argument a view into it, plus
    // garbage not yet collected; far from the several copies a naive path would make.
    const afterwards = (await alpha.call('poe://beta/digest/memory')) as Memory;
    const grew = afterwards.maxRss - before.rss;
    assert.ok(grew < 4 * 64 * MIB, `beta's peak RSS grew by ${(grew / MIB).toFixed(0)} MiB`);
  });

  it('a 48 MiB result comes back whole, and a second large call works on the same link', async () => {
    const made = (await alpha.callWith(
      { timeoutMs: 60_000 },
      'poe://beta/digest/make',
      48 * MIB,
      7,
    )) as Buffer;
    assert.ok(Buffer.isBuffer(made));
    assert.equal(made.length, 48 * MIB);
    assert.equal(sha256(made), sha256(pattern(48 * MIB, 7)));
    const small = pattern(3 * MIB + 1, 3);
    assert.deepEqual(await alpha.call('poe://beta/digest/sha256', small), {
      sha256: sha256(small),
      bytes: small.length,
    });
  });

  it('other links go on while a large message is on its way', async () => {
    const data = pattern(64 * MIB, 5);
    const order: string[] = [];
    const big = alpha
      .callWith({ timeoutMs: 60_000 }, 'poe://beta/digest/sha256', data)
      .then((d) => order.push(`beta:${(d as Digest).bytes}`));
    const small = alpha.call('poe://gamma/digest/sha256', Buffer.from('hi')).then(() => order.push('gamma'));
    await Promise.all([big, small]);
    assert.deepEqual(order, ['gamma', `beta:${data.length}`]);
  });

  it("a message over the peer's mesh.maxMessageBytes is refused at the sender; the link stays up", async () => {
    const data = Buffer.alloc(40 * MIB, 1);
    await assert.rejects(alpha.call('poe://gamma/digest/sha256', data), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'IKC_ERR_MESSAGE_TOO_LARGE');
      assert.match(err.message, /gamma takes at most 33554432 bytes/);
      return true;
    });
    const fits = pattern(20 * MIB, 1);
    assert.deepEqual(await alpha.call('poe://gamma/digest/sha256', fits), {
      sha256: sha256(fits),
      bytes: fits.length,
    });
    assert.ok(alpha.peers().some((p) => p.name === 'gamma' && p.state === 'up'));
  });
});
