import { constants } from 'node:os';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ForkedJob } from '@ikc/kernel';
import { IkcError } from '@ikc/wire';
import { connect, type GlobalOptions } from '../connect.js';
import { CliError, describeError, EXIT, exitCodeFor } from '../exit.js';

export interface ForkOptions extends GlobalOptions {
  /** The kernel to run on (name or id), or `*`; default: the host kernel. */
  on?: string;
  /** NAME=VALUE pairs set over the kernel's environment. */
  env?: string[];
  /** Working directory on the kernel's host. */
  cwd?: string;
  /** False (--no-stdin): the job's stdin ends at once, and this process's is not read. */
  stdin?: boolean;
}

type Outcome = Awaited<ReturnType<ForkedJob['wait']>>;

/** The signals a terminal or a supervisor sends a foreground command: they go to the job. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function envOf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(EXIT.USAGE, `ikc: --env takes NAME=VALUE, got "${pair}"`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** How the job ended, as this command's exit status; an error goes to stderr as `CODE: message`. */
function exitStatus(outcome: Outcome): number {
  if (outcome.error) {
    process.stderr.write(`${describeError(outcome.error)}\n`);
    return exitCodeFor(outcome.error);
  }
  // A shell's convention for a command a signal ended: 128 + the signal's number.
  if (outcome.signal) return 128 + (constants.signals[outcome.signal] ?? 0);
  return outcome.exitCode ?? EXIT.FAILED;
}

/** Resolves once `stream` has ended or failed (its data has gone to whoever reads it). */
function drained(stream: Readable): Promise<void> {
  return finished(stream).catch(() => {});
}

/**
 * ikc fork [--on KERNEL|*] -- CMD [ARG...]: runs a job (on the host kernel by default) as if it
 * were this command: this process's stdin goes to it, its stdout and stderr come here (with
 * backpressure both ways), SIGINT, SIGTERM and SIGHUP are passed on to it, and the exit status
 * is the job's (128 + N for signal N). A job that could not run exits 1 with its error; a
 * timeout (--timeout) exits 3.
 */
export async function fork(command: string[], options: ForkOptions): Promise<number> {
  const env = envOf(options.env);
  const cwd = options.cwd === undefined ? undefined : resolve(options.cwd);
  const timeout = options.timeout === undefined ? undefined : Number(options.timeout);
  const conn = await connect(options, 'fork');
  try {
    // Without a kernel named, the host's: a leaf with no `on` would run the job in this process.
    const on = options.on || conn.host;
    // As `ikc call` does: a kernel nobody knows is unreachable (exit 3); the job never left here.
    if (on !== '*' && !conn.leaf.mesh.kernelIdOf(on))
      throw new IkcError('IKC_ERR_UNREACHABLE', `kernel ${on} is not reachable from ${conn.host}`);
    const job = conn.leaf.fork({
      cmd: command,
      on,
      ...(timeout === undefined ? {} : { timeout }),
      ...(env ? { env } : {}),
      ...(cwd ? { cwd } : {}),
    });

    const relay = (signal: NodeJS.Signals) => void job.kill(signal);
    for (const s of FORWARDED) process.on(s, relay);

    // Output: piped, so a slow reader here slows the job there. A reader that went away
    // (`ikc fork -- yes | head -1`) ends the job as it would a local command: SIGPIPE.
    const outputs: [Readable, NodeJS.WriteStream][] = [
      [job.stdout, process.stdout],
      [job.stderr, process.stderr],
    ];
    for (const [from, to] of outputs) {
      from.pipe(to, { end: false });
      to.on('error', (err: NodeJS.ErrnoException) => {
        from.unpipe(to);
        from.resume(); // the job's output has nowhere to go: drop it
        if (err.code === 'EPIPE') job.kill('SIGPIPE');
      });
    }

    // Input: piped too, ended at EOF (Ctrl-D on a terminal). With --no-stdin, EOF at once.
    const stdin = options.stdin === false ? undefined : process.stdin;
    if (stdin) {
      stdin.on('error', () => job.stdin.end());
      stdin.pipe(job.stdin);
    } else job.stdin.end();

    try {
      const [outcome] = await Promise.all([job.wait(), drained(job.stdout), drained(job.stderr)]);
      return exitStatus(outcome);
    } finally {
      for (const s of FORWARDED) process.off(s, relay);
      if (stdin) {
        // Whatever is left on stdin is not the job's any more; stop reading so that we can exit.
        stdin.unpipe(job.stdin);
        stdin.destroy();
      }
    }
  } finally {
    await conn.close();
  }
}
