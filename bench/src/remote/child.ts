/**
 * The parent's side of the control channel (common.ts): spawns a helper process
 * (receiver.js or big-sender.js), waits for its `{"ready":...}` line, and sends it
 * commands. Extra node flags for the helpers (e.g. `--cpu-prof`) come from
 * IKC_BENCH_CHILD_FLAGS, split on spaces. IKC_BENCH_PIN pins the processes to CPUs with
 * `taskset` (see pinning()).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Child<R> {
  readonly process: ChildProcess;
  /** What the child said when it was ready. */
  readonly ready: R;
  /** Sends a command and resolves with its result. */
  request<T = unknown>(cmd: string): Promise<T>;
  /** Closes its stdin (it stops and exits) and waits for the exit. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/**
 * IKC_BENCH_PIN: `one` runs the benchmark and its helpers on CPU 0 alone; `split` runs the
 * benchmark on CPU 0 and its helpers on CPU 1. Unset, the kernel's scheduler places them.
 * On a small VM a wake-up across CPUs can cost more than a whole round trip on one, and
 * where the scheduler puts two processes that talk to each other changes from run to run:
 * pinned, every system pays the same for it (docs/performance.md, Latency).
 */
export function pinning(): { self: string; children: string } | undefined {
  const mode = process.env.IKC_BENCH_PIN;
  if (mode === 'one') return { self: '0', children: '0' };
  if (mode === 'split') return { self: '0', children: '1' };
  if (mode) throw new Error(`IKC_BENCH_PIN must be "one" or "split", not "${mode}"`);
  return undefined;
}

/** Pins this process (all its threads) as IKC_BENCH_PIN says; does nothing when unset. */
export function pinSelf(): void {
  const pin = pinning();
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', pin.self, String(process.pid)], { stdio: 'ignore' });
}

function script(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

export function spawnChild<R>(name: string, args: string[]): Promise<Child<R>> {
  const flags = (process.env.IKC_BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean);
  const argv = [process.execPath, '--expose-gc', ...flags, script(name), ...args];
  const pin = pinning();
  if (pin) argv.unshift('taskset', '-c', pin.children);
  const proc = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
    for (const p of pending.values()) p.reject(new Error(`${name} exited (code ${code})`));
    pending.clear();
  });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill();
      reject(new Error(`${name} ${args.join(' ')} was not ready within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} ${args.join(' ')} exited (code ${code}) before it was ready`));
    });
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      let msg: { ready?: R; id?: number; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        process.stderr.write(`[${name}] ${line}\n`);
        return;
      }
      if (msg.ready !== undefined) {
        clearTimeout(timer);
        resolve({
          process: proc,
          ready: msg.ready,
          request<T>(cmd: string): Promise<T> {
            if (exitCode !== undefined) return Promise.reject(new Error(`${name} has exited`));
            const id = nextId++;
            return new Promise<T>((res, rej) => {
              pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
              proc.stdin?.write(`${JSON.stringify({ id, cmd })}\n`);
            });
          },
          async stop(): Promise<void> {
            if (exitCode === undefined) proc.stdin?.end();
            const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(killer);
          },
        });
        return;
      }
      const p = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id as number);
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.result);
    });
  });
}
