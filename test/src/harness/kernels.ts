import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../fixtures/kernel-main.js', import.meta.url));

export interface KernelProc {
  name: string;
  id: string;
  /** "127.0.0.1:PORT" */
  listen: string;
  socket: string;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout has a line containing `text` (or rejects after `ms`). */
  waitFor(text: string, ms?: number): Promise<void>;
  /** Sends a signal and resolves with the exit code and signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: string | null }>;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

/**
 * A fresh directory for UNIX sockets (kept short: socket paths are limited to ~100 bytes),
 * removed with what is in it when the test file's process exits.
 */
export function socketDir(): string {
  return scratchDir('ikc-');
}

/** A fresh directory under the system's temp dir, removed when this process exits. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `test/dist/fixtures/kernel-main.js` with this config and waits for its READY line. */
export async function startKernelProc(
  config: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<KernelProc> {
  const child = spawn(process.execPath, [MAIN, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, POE_LOG: process.env.POE_LOG ?? 'info' },
  });
  return watchKernel(child, timeoutMs);
}

/**
 * Watches a kernel-main process however it was spawned (here, or inside a network namespace):
 * collects its stdout and stderr and resolves once it has printed READY.
 */
export async function watchKernel(child: ChildProcess, timeoutMs = 10_000): Promise<KernelProc> {
  let out = '';
  let err = '';
  const watchers: { text: string; resolve: () => void }[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of [...watchers]) {
      if (out.includes(w.text)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (text: string, ms = timeoutMs) =>
    new Promise<void>((resolve, reject) => {
      if (out.includes(text)) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for "${text}"; stdout:\n${out}\nstderr:\n${err}`)),
        ms,
      );
      watchers.push({
        text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        if (!out.includes(text)) reject(new Error(`kernel exited before "${text}"; stderr:\n${err}`));
      });
    });
  await waitFor('READY ');
  const ready = JSON.parse(/READY (.*)\n/.exec(out)?.[1] ?? '{}') as {
    name: string;
    id: string;
    listen: string;
    socket: string;
  };
  return {
    ...ready,
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` until it returns true (or throws after `ms`). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 5_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
