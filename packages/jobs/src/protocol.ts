/**
 * Messages on the IPC channel between the parent and its node children (module-job runner
 * and pool workers), sent with structured clone ('advanced' serialization). The child side
 * imports only this file and child.ts, so a child starts without loading the kernel.
 */
import type { Duplex } from 'node:stream';
import type { ChannelDir, ChannelMode } from './channels.js';

/** An error as it crosses the IPC channel: V8's clone of an Error keeps neither code nor details. */
export interface PlainError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  details?: unknown;
}

/** A named channel as the child sees it: the fd it is on. */
export interface ChildChannel {
  name: string;
  dir: ChannelDir;
  mode: ChannelMode;
  fd: number;
}

/**
 * How a module job's child attaches as a leaf kernel of the kernel that started it, over the
 * socket pair end it inherits as `fd`. The kernel's mesh makes it (Jobs option `leafHost`).
 */
export interface LeafGrant {
  /** The module (a file URL) whose `attachJobLeaf(grant)` attaches the leaf. */
  module: string;
  /** The cloud's name, as the handshake checks it. */
  cloud: string;
  /** A token for this one link, proven in the handshake in place of the cloud's secret. */
  secret: string;
  /** The leaf kernel's name: `job-` and the job's id. */
  name: string;
  /** The name of the kernel it attaches to. */
  host: string;
  /** The child's end of the socket pair. */
  fd: number;
}

/** Parent -> module-job runner: what to run. */
export interface RunMessage {
  t: 'run';
  module: string;
  export: string;
  args: unknown[];
  channels: ChildChannel[];
  /** stderr goes into stdout (the `join` preset). */
  join: boolean;
  id: string;
  name: string;
  /** Present when the kernel can host the child as a leaf kernel. */
  leaf?: LeafGrant;
}

/** What a module job's function gets as its first argument: `(ctx, ...args)`. */
export interface JobContext {
  /** The job's id (`KERNEL.jN`). */
  id: string;
  name: string;
  /** The job's named channels as streams: write to `<` ones, read `>` ones, both for `<>`. */
  channels: Record<string, Duplex>;
  /** The arguments, as also spread after ctx. */
  args: unknown[];
  /**
   * Posts an event to a session through the kernel that started this process: an alias or
   * session id there, or a specifier (`poe://KERNEL/SESSION/EVENT` takes the event from it:
   * the rest are arguments). It goes out as from the job's owner session (or the kernel).
   * Arguments cross by structured clone.
   */
  post(target: string, ...rest: unknown[]): void;
  /** Calls an event the same way and resolves to its result (or rejects with its error). */
  call<T = unknown>(target: string, ...rest: unknown[]): Promise<T>;
  /**
   * Attaches this process as a leaf kernel (named `job-ID`) of the kernel that started it,
   * over a socket pair of its own, and resolves to that kernel (a MeshKernel of @ikc/mesh:
   * `MeshJobContext` types it). Its sessions can be posted to and called from any kernel of
   * the cloud, and it can post, call, resolve and fork as any leaf. The first call attaches;
   * later calls give the same kernel. It is stopped (BYE) when the function returns. Rejects
   * with IKC_ERR_CONNECT when the job was started by a kernel that cannot host a leaf (a
   * leaf kernel itself, or a kernel without a mesh).
   */
  kernel<K = unknown>(): Promise<K>;
}

/** Module-job runner -> parent: the function's outcome, and its posts and calls. */
export type RunnerMessage =
  | { t: 'result'; value: unknown }
  | { t: 'error'; error: PlainError }
  | { t: 'post'; target: string; rest: unknown[] }
  | { t: 'call'; id: number; target: string; rest: unknown[] };

/** Parent -> module-job runner: how a call of the function's ended. */
export type ReplyMessage = { t: 'reply'; id: number; value?: unknown; error?: PlainError };

/** Parent -> pool worker. */
export interface CallMessage {
  t: 'call';
  id: number;
  name: string;
  args: unknown[];
}

/** Pool worker -> parent. `ready` once the module is imported (with the import's error if it failed). */
export type WorkerMessage =
  | { t: 'ready'; error?: PlainError }
  | { t: 'done'; id: number; value: unknown }
  | { t: 'fail'; id: number; error: PlainError };

/** What of a thrown value crosses to the parent: name, message, stack, and code and details when present. */
export function toPlainError(err: unknown): PlainError {
  if (err instanceof Error) {
    const { code, details } = err as Error & { code?: unknown; details?: unknown };
    const plain: PlainError = { name: err.name, message: err.message };
    if (err.stack !== undefined) plain.stack = err.stack;
    if (typeof code === 'string') plain.code = code;
    if (details !== undefined) {
      try {
        plain.details = structuredClone(details);
      } catch {
        // details that cannot be cloned stay behind
      }
    }
    return plain;
  }
  return { name: 'Error', message: `non-error thrown: ${String(err)}` };
}
