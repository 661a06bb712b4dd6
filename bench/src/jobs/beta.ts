/**
 * The jobs benchmark's second kernel, in a process of its own: `node beta.js`. A host kernel
 * named `beta` that forks ALLOW's commands for other kernels, with a session `ping` whose
 * `echo(x)` returns x (the round trip the first-byte measure counts in), and whose `hold(ms)`
 * blocks beta that long before it answers (a round trip that finds both kernels as idle as
 * a fork finds them). Prints
 * `{"ready":{"address":...}}` and serves control commands (remote/common.ts) until stdin
 * closes; `firstByte` times one fork of beta's own (common.ts firstByteMs).
 */

import type { Jobs } from '@ikc/jobs';
import { silentLogger, startKernel } from '@ikc/mesh';
import { CLOUD, mem, send, serveControl } from '../remote/common.js';
import { ALLOW, BETA, firstByteMs, HEAP_GROWTH, probeCommands } from './common.js';

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
      publish: ['echo', 'hold'],
      events: {
        echo: (_ctx, x: unknown) => x,
        // Blocks this kernel for `ms`, as a spawn blocks it, then answers how long it held.
        hold: (_ctx, ms: unknown) => {
          const t0 = performance.now();
          while (performance.now() - t0 < Number(ms)) {}
          return performance.now() - t0;
        },
      },
    },
  ],
});
serveControl({ ...probeCommands, firstByte: () => firstByteMs(kernel.jobs as Jobs) }, () =>
  kernel.stop().catch(() => {}),
);
send({ ready: { address: kernel.listenAddress, pid: process.pid, mem: mem() } });
