/**
 * What the remote benchmark's processes share: the sink every receiver runs (the same
 * behaviour behind ikc, raw ws and Moleculer), the raw baseline's frame layout, memory
 * figures, and a small line-based control channel over a child's stdin/stdout.
 *
 * The control channel is separate from the system under test on purpose: asking a receiver
 * for its memory, or to collect garbage, must not travel over (or be slowed by) the link
 * being measured.
 */
import { createInterface } from 'node:readline';

/** The systems a receiver can run. */
export type System = 'ikc' | 'ws' | 'moleculer';

export const SYSTEMS: readonly System[] = ['ikc', 'ws', 'moleculer'];

/** The cloud both ikc kernels join. */
export const CLOUD = { name: 'bench', secret: 'b' } as const;

/** Kernel name (ikc) and node id (Moleculer) of the receiving side. */
export const RECEIVER = 'receiver';

/** Frame types of the raw baseline: the same numbers as @ikc/wire's POST, CALL, REPLY, ERROR. */
export const RAW_POST = 32;
export const RAW_CALL = 33;
export const RAW_REPLY = 34;
export const RAW_ERROR = 35;

/** Largest ws message the raw baseline accepts (it has no limit of its own to defend). */
export const RAW_MAX_PAYLOAD = 256 * 1024 * 1024;

/**
 * Largest packet Moleculer's TCP transporter accepts (its default is 1 MiB, less than a
 * 1 MiB Buffer becomes in Moleculer's default JSON serializer).
 */
export const MOLECULER_MAX_PACKET = 64 * 1024 * 1024;

export const MIB = 1024 * 1024;

/** The events the sink publishes (ikc) or serves (raw ws, Moleculer). */
export const SINK_EVENTS = ['hit', 'echo', 'big', 'until', 'reset'] as const;

/** Byte length of a large argument, however the system delivered it. */
export function byteLengthOf(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  // Moleculer's JSON serializer turns a Buffer into { type: 'Buffer', data: [bytes...] }.
  const data = (value as { data?: unknown } | null)?.data;
  if (Array.isArray(data)) return data.length;
  return -1;
}

/**
 * The receiving end's behaviour: counts `hit`s (and adds up their arguments), answers
 * `until(n)` once n hits have arrived, echoes, and measures large arguments.
 */
export class Sink {
  count = 0;
  sum = 0;
  #target = Number.POSITIVE_INFINITY;
  #wake: ((count: number) => void) | undefined;

  hit(i: number): void {
    this.sum += i;
    if (++this.count >= this.#target) {
      const wake = this.#wake as (count: number) => void;
      this.#target = Number.POSITIVE_INFINITY;
      this.#wake = undefined;
      wake(this.count);
    }
  }

  /** Resolves with the count once at least `n` hits have arrived since the last reset. */
  until(n: number): number | Promise<number> {
    if (this.count >= n) return this.count;
    return new Promise((resolve) => {
      this.#target = n;
      this.#wake = resolve;
    });
  }

  /** Starts counting afresh; returns the count so far. */
  reset(): number {
    const count = this.count;
    this.count = 0;
    this.sum = 0;
    return count;
  }

  echo(x: unknown): unknown {
    return x;
  }

  big(data: unknown): number {
    return byteLengthOf(data);
  }
}

export interface Mem {
  /** Resident set size now, in bytes. */
  rss: number;
  /** Largest resident set size of the process's life so far, in bytes (getrusage). */
  maxRss: number;
}

export function mem(): Mem {
  return { rss: process.memoryUsage.rss(), maxRss: process.resourceUsage().maxRSS * 1024 };
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---- control channel (child side) --------------------------------------------------------

type Command = () => unknown;

/**
 * Serves control commands on stdin, one JSON line each (`{"id":1,"cmd":"mem"}`), answering
 * on stdout (`{"id":1,"result":...}` or `{"id":1,"error":"..."}`). `mem` and `gc` are always
 * there. The process exits when stdin closes, so a child never outlives its parent.
 */
export function serveControl(commands: Record<string, Command>, onClose: () => Promise<void>): void {
  const all: Record<string, Command> = {
    mem,
    gc: () => {
      gc();
      return mem();
    },
    ...commands,
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const { id, cmd } = JSON.parse(line) as { id: number; cmd: string };
    const command = all[cmd];
    Promise.resolve()
      .then(() => {
        if (!command) throw new Error(`unknown command ${cmd}`);
        return command();
      })
      .then(
        (result) => send({ id, result: result ?? null }),
        (err: unknown) => send({ id, error: String((err as Error)?.message ?? err) }),
      );
  });
  lines.on('close', () => {
    void onClose().finally(() => process.exit(0));
  });
}

/** Writes one control line to stdout. */
export function send(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** An error as a plain object a control line can carry. */
export function errorInfo(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : 'ERROR', message: String(e?.message ?? err) };
}
