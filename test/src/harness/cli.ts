// Helpers for the end-to-end tests of the `ikc` command: every test runs the real binary
// (packages/cli/dist/src/main.js) with `process.execPath`, in a sandbox: a temp dir that is
// also $HOME (so ~/.poe.conf is the sandbox's) and $XDG_RUNTIME_DIR, with no POE_* variable
// leaking in from the machine. The sandbox remembers every process it started, so that an
// `after` hook can kill them all (even when a test failed) and remove the dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `ikc` binary (what node_modules/.bin/ikc links to). */
export const IKC_MAIN = fileURLToPath(new URL('../../../packages/cli/dist/src/main.js', import.meta.url));
/** examples/calc.mjs: alias calc, publishes add, mul, ping, fail (throws code E_DEMO). */
export const CALC_MODULE = fileURLToPath(new URL('../../../examples/calc.mjs', import.meta.url));

/** Variables that would make a test depend on the machine it runs on. */
const LEAKY = ['POE_CONF', 'POE_SECRET', 'POE_LOG', 'XDG_RUNTIME_DIR', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS'];

export interface Exit {
  code: number | null;
  signal: string | null;
}

export interface IkcResult extends Exit {
  stdout: string;
  stderr: string;
  /** The process id (the CLI's leaf kernel is named ikc-VERB-PID). */
  pid: number | undefined;
}

export interface RunOptions {
  /** Variables to set (a value of undefined removes the variable). */
  env?: Record<string, string | undefined>;
  /** Working directory (default: the sandbox). */
  cwd?: string;
  /** Kill the process (SIGKILL) if it has not exited by then; default 30 s. */
  timeoutMs?: number;
  /** Written to the process's stdin, which is then closed (default: stdin is /dev/null). */
  input?: string | Buffer;
}

/** A long-running `ikc` process (kernel, monitor) whose output can be waited for. */
export interface IkcProc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /**
   * Resolves when `stream` (default stdout) contains `text` (a string or a regexp); rejects
   * when the process exits first, or after `ms` (default 30 s: generous, for loaded machines).
   */
  waitFor(text: string | RegExp, opts?: { stream?: 'stdout' | 'stderr'; ms?: number }): Promise<void>;
  /** Sends `signal` (default SIGTERM) and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  exited: Promise<Exit>;
}

/** An `ikc kernel` that printed its banner. */
export interface IkcKernel extends IkcProc {
  name: string;
  /** "127.0.0.1:PORT", from the banner's ws:// address. */
  listen: string;
  /** Its UNIX socket, from the banner. */
  socket: string;
}

const matches = (text: string, want: string | RegExp) =>
  typeof want === 'string' ? text.includes(want) : want.test(text);

export class CliSandbox {
  /** The temp dir: $HOME, $XDG_RUNTIME_DIR, and the place for configs, modules, sockets. */
  readonly dir: string;
  private readonly procs = new Set<ChildProcess>();

  constructor(prefix = 'ikc-cli-') {
    // Kept short: UNIX socket paths are limited to ~100 bytes.
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Writes a file in the sandbox; returns its absolute path. */
  write(name: string, text: string): string {
    const file = this.path(name);
    writeFileSync(file, text);
    return file;
  }

  /** Writes a config file as JSON (which is YAML too); returns its absolute path. */
  writeConfig(name: string, config: unknown): string {
    return this.write(name, `${JSON.stringify(config, null, 2)}\n`);
  }

  /** The environment for `ikc`: the machine's minus POE_* and friends, HOME = the sandbox. */
  env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of LEAKY) delete env[key];
    env.HOME = this.dir;
    env.XDG_RUNTIME_DIR = this.dir;
    for (const [key, value] of Object.entries(extra)) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    return env;
  }

  /** Starts `ikc ARGS...` and returns a handle on it. */
  spawn(args: string[], opts: RunOptions = {}): IkcProc {
    const child = spawn(process.execPath, [IKC_MAIN, ...args], {
      cwd: opts.cwd ?? this.dir,
      env: this.env(opts.env),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    this.procs.add(child);
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => {}); // EPIPE: the process did not read it all; its exit says why
      child.stdin?.end(opts.input);
    }
    let out = '';
    let err = '';
    const waiters = new Set<() => void>();
    const poke = () => {
      for (const w of [...waiters]) w();
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      poke();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      poke();
    });
    const exited = new Promise<Exit>((resolve) => {
      child.on('close', (code, signal) => {
        this.procs.delete(child);
        resolve({ code, signal });
        poke();
      });
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    killer.unref();
    void exited.then(() => clearTimeout(killer));
    let done = false;
    void exited.then(() => (done = true));

    const waitFor: IkcProc['waitFor'] = (text, { stream = 'stdout', ms = 30_000 } = {}) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (matches(stream === 'stdout' ? out : err, text)) {
            finish();
            resolve();
          } else if (done) {
            finish();
            reject(
              new Error(`ikc ${args.join(' ')} exited before printing ${String(text)} on ${stream}.
stdout:\n${out}\nstderr:\n${err}`),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(`timed out after ${ms} ms waiting for ${String(text)} on ${stream} of ikc ${args.join(' ')}.
stdout:\n${out}\nstderr:\n${err}`),
          );
        }, ms);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });

    return {
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

  /** Runs `ikc ARGS...` to the end. */
  async run(args: string[], opts: RunOptions = {}): Promise<IkcResult> {
    const proc = this.spawn(args, opts);
    const exit = await proc.exited;
    return { ...exit, stdout: proc.stdout(), stderr: proc.stderr(), pid: proc.child.pid };
  }

  /** Starts `ikc kernel ARGS...` and resolves once it printed its banner. */
  async startKernel(args: string[] = [], opts: RunOptions = {}): Promise<IkcKernel> {
    const proc = this.spawn(['kernel', ...args], { timeoutMs: 120_000, ...opts });
    try {
      await proc.waitFor(/is running.*\n/);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    const banner = proc.stdout();
    const name = /ikc kernel "([^"]+)"/.exec(banner)?.[1] ?? '';
    const listen = /ws:\/\/([^\s/]+:\d+)/.exec(banner)?.[1] ?? '';
    const socket = /(\/\S+\.sock)\b/.exec(banner)?.[1] ?? '';
    return { ...proc, name, listen, socket };
  }

  /** Kills every process still running (SIGTERM, then SIGKILL) and removes the dir. */
  async cleanup(): Promise<void> {
    await Promise.all(
      [...this.procs].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const hard = setTimeout(() => child.kill('SIGKILL'), 3_000);
            child.once('close', () => {
              clearTimeout(hard);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The lines of `text` that parse as JSON objects (pino's log lines, monitor --json's events). */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value))
        out.push(value as Record<string, unknown>);
    } catch {
      // not JSON
    }
  }
  return out;
}

/** A config for a kernel listening on loopback (any free port), its socket in the sandbox. */
export function kernelConfig(
  box: CliSandbox,
  name: string,
  extra: { cloud?: Record<string, unknown>; sessions?: string[]; [key: string]: unknown } = {},
): Record<string, unknown> {
  const { cloud, ...rest } = extra;
  return {
    kernel: { name, listen: '127.0.0.1:0', socket: box.path(`${name}.sock`) },
    cloud: { name: 'cli-test', secret: 'cli-test-secret', mdns: false, ...cloud },
    ...rest,
  };
}
