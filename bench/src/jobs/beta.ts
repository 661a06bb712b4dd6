/**
 * The jobs benchmark's second kernel, in a process of its own: `node beta.js`. A host kernel
 * named `beta` that forks ALLOW's commands for other kernels, with a session `ping` whose
 * `echo(x)` returns x (the round trip the first-byte measure counts in), and whose `hold(ms)`
 * blocks beta that long before it answers (a round trip that finds both kernels as idle as
 * a fork finds them), and whose `spawnFirst(argv)` spawns argv with child_process and answers
 * its first stdout chunk (the leanest remote start ikc's messaging allows, with no job in
 * it), and whose `postFirst(argv, id)` spawns argv with the three pipes a job has and posts
 * each stdout chunk, then the close, back to the caller (a job's shape built from plain posts,
 * with no jobs layer). Prints `{"ready":{"address":...}}` and serves control commands
 * (remote/common.ts) until stdin closes; `firstByte` times one fork of beta's own (common.ts
 * firstByteMs), `spawnFirst` one spawn of ECHO_ARGV as that event makes it, and `postFirst`
 * one as that event makes it, its output through a PassThrough as a job's is, timed here;
 * each after IDLE_MS of idleness (common.ts).
 */

import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { Jobs } from '@ikc/jobs';
import { silentLogger, startKernel } from '@ikc/mesh';
import { CLOUD, mem, send, serveControl } from '../remote/common.js';
import {
  ALLOW,
  afterIdle,
  BETA,
  CHURN_IN_FLIGHT,
  ECHO_ARGV,
  firstByteMs,
  HEAP_GROWTH,
  probeCommands,
} from './common.js';

/** Spawns argv and resolves with its first stdout chunk (stdin and stderr not opened). */
function firstChunk(argv: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    child.once('error', reject);
    child.stdout.once('data', resolve);
    child.stdout.resume();
  });
}

/** Spawns argv with stdin, stdout and stderr piped, as a job's are; stdin ended, stderr drained. */
function spawnPiped(argv: string[]): ChildProcessByStdio<Writable, Readable, Readable> {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  child.stderr.resume();
  return child;
}

/** ms from spawn to the first chunk of ECHO_ARGV out of a PassThrough its stdout is written to. */
async function postFirstMs(): Promise<number> {
  const t0 = process.hrtime.bigint();
  const out = new PassThrough();
  const child = spawnPiped(ECHO_ARGV);
  child.stdout.on('data', (chunk: Buffer) => out.write(chunk));
  const closed = new Promise((resolve) => child.once('close', resolve));
  await new Promise((resolve) => out.once('data', resolve));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  out.resume();
  await closed;
  return ms;
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
  jobs: { allow: ALLOW, maxProc: CHURN_IN_FLIGHT },
  logger: silentLogger,
  processSignals: false,
  admin: false,
  sessions: [
    {
      alias: 'ping',
      publish: ['echo', 'hold', 'spawnFirst', 'postFirst'],
      events: {
        echo: (_ctx, x: unknown) => x,
        // Blocks this kernel for `ms`, as a spawn blocks it, then answers how long it held.
        hold: (_ctx, ms: unknown) => {
          const t0 = performance.now();
          while (performance.now() - t0 < Number(ms)) {}
          return performance.now() - t0;
        },
        spawnFirst: (_ctx, argv: unknown) => firstChunk(argv as string[]),
        postFirst: (ctx, argv: unknown, id: unknown) => {
          const child = spawnPiped(argv as string[]);
          child.stdout.on('data', (chunk: Buffer) => ctx.post(ctx.sender, 'data', id, chunk));
          child.once('close', (code) => ctx.post(ctx.sender, 'exit', id, code));
        },
      },
    },
  ],
});
serveControl(
  {
    ...probeCommands,
    firstByte: afterIdle(() => firstByteMs(kernel.jobs as Jobs)),
    spawnFirst: afterIdle(spawnFirstMs),
    postFirst: afterIdle(postFirstMs),
  },
  () => kernel.stop().catch(() => {}),
);
send({ ready: { address: kernel.listenAddress, pid: process.pid, mem: mem() } });
