/**
 * The jobs benchmark's second kernel, in a process of its own: `node beta.js`. A host kernel
 * named `beta` that forks ALLOW's commands for other kernels, with a session `ping` whose
 * `echo(x)` returns x (the round trip the first-byte measure counts in), and whose `hold(ms)`
 * blocks beta that long before it answers (a round trip that finds both kernels as idle as
 * a fork finds them), and whose `spawnFirst(argv)` spawns argv with child_process and answers
 * its first stdout chunk (the leanest remote start ikc's messaging allows, with no job in
 * it). Prints `{"ready":{"address":...}}` and serves control commands (remote/common.ts)
 * until stdin closes; `firstByte` times one fork of beta's own (common.ts firstByteMs), and
 * `spawnFirst` one spawn of ECHO_ARGV as the session's event makes it, timed here.
 */

import { spawn } from 'node:child_process';
import type { Jobs } from '@ikc/jobs';
import { silentLogger, startKernel } from '@ikc/mesh';
import { CLOUD, mem, send, serveControl } from '../remote/common.js';
import { ALLOW, BETA, ECHO_ARGV, firstByteMs, HEAP_GROWTH, probeCommands } from './common.js';

/** Spawns argv and resolves with its first stdout chunk (stdin and stderr not opened). */
function firstChunk(argv: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    child.once('error', reject);
    child.stdout.once('data', resolve);
    child.stdout.resume();
  });
}

/** ms from spawn to the first chunk of ECHO_ARGV, spawned as `spawnFirst` spawns it. */
async function spawnFirstMs(): Promise<number> {
  const t0 = process.hrtime.bigint();
  await firstChunk(ECHO_ARGV);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const kernel = await startKernel({
  kernel: { name: BETA, listen: '127.0.0.1:0', socket: false, ...HEAP_GROWTH },
  cloud: { name: CLOUD.name, secret: CLOUD.secret, seeds: [] },
  jobs: { allow: ALLOW },
  logger: silentLogger,
  processSignals: false,
  admin: false,
  sessions: [
    {
      alias: 'ping',
      publish: ['echo', 'hold', 'spawnFirst'],
      events: {
        echo: (_ctx, x: unknown) => x,
        // Blocks this kernel for `ms`, as a spawn blocks it, then answers how long it held.
        hold: (_ctx, ms: unknown) => {
          const t0 = performance.now();
          while (performance.now() - t0 < Number(ms)) {}
          return performance.now() - t0;
        },
        spawnFirst: (_ctx, argv: unknown) => firstChunk(argv as string[]),
      },
    },
  ],
});
serveControl(
  { ...probeCommands, firstByte: () => firstByteMs(kernel.jobs as Jobs), spawnFirst: spawnFirstMs },
  () => kernel.stop().catch(() => {}),
);
send({ ready: { address: kernel.listenAddress, pid: process.pid, mem: mem() } });
