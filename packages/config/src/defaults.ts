import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every default of ikc's configuration, in one place, each with its unit. The schema
 * (schema.ts) fills these in; poe.conf.example at the repository root shows each of them,
 * and a test keeps the three in step. Two defaults are computed on the machine (marked
 * COMPUTED): the kernel name and its socket path.
 */
export const DEFAULTS = {
  kernel: {
    /** COMPUTED: the host name. */
    name: '',
    /** ws endpoint for other kernels, HOST:PORT (loopback unless cloud.secret is set). */
    listen: '127.0.0.1:6603',
    /** COMPUTED: $XDG_RUNTIME_DIR/ikc/NAME.sock, else in the temp dir. */
    socket: '',
    /** How far V8 lets the old generation grow past what survived a full GC before the next (percent; 0: V8's own adaptive policy). */
    heapGrowingPercent: 400,
  },
  cloud: {
    /** Kernels link only to kernels of the same cloud. */
    name: 'ikc',
    /** Shared secret, proved by challenge-response; needed to listen beyond loopback. */
    secret: '',
    /** Announce and discover kernels of this cloud on the LAN by mDNS (only when listening beyond loopback). */
    mdns: true,
    /** Kernels to dial: ws://HOST:PORT, wss://HOST:PORT, HOST:PORT or unix:/PATH. */
    seeds: [] as string[],
    /** Where an event for any kernel (poe://*) goes: round-robin, least-loaded or local-first. */
    balance: 'round-robin' as 'round-robin' | 'least-loaded' | 'local-first',
  },
  /** Session modules the kernel starts, relative to the config file. */
  sessions: [] as string[],
  jobs: {
    /** Commands (names or absolute paths) and modules (absolute paths) other kernels may fork here. */
    allow: [] as string[],
    /** COMPUTED at load: jobs run at once per kernel (jobs); default the CPU count. */
    maxProc: 0,
    /** Kill a job forked here for a kernel that went away (or stayed cut off past mesh.resumeWindowMs). */
    killOrphans: true,
  },
  log: {
    /** pino level: trace, debug, info, warn, error, fatal or silent ($POE_LOG overrides). */
    level: 'info',
  },
  mesh: {
    /** A handshake not finished by then is cut (milliseconds). */
    handshakeTimeoutMs: 5_000,
    /** A remote call with no timeout of its own fails after this long (milliseconds). */
    callTimeoutMs: 30_000,
    /** How often each link sends PING, which measures round-trip time (milliseconds). */
    pingIntervalMs: 2_000,
    /** A link that hears nothing for this long is closed as dead (milliseconds). */
    deadAfterMs: 10_000,
    /** First delay before redialing a seed after a drop; doubles each try (milliseconds). */
    reconnectMinMs: 100,
    /** Longest delay between redials, plus 0-50% random jitter (milliseconds). */
    reconnectMaxMs: 5_000,
    /** Calls one peer may have in flight here before more are refused (calls). */
    maxInflightCalls: 10_000,
    /** Proxies kept for remote senders, least recently used dropped first (proxies). */
    maxSenderProxies: 10_000,
    /** A dropped link may come back this long; until then nothing sent is lost (milliseconds). */
    resumeWindowMs: 10_000,
    /** Past this many unacknowledged bytes to one peer, kernel.ready() waits (bytes). */
    sendBufferBytes: 16 * 1024 * 1024,
    /** Past this many, new posts and calls to that peer are refused: IKC_ERR_OVERFLOW (bytes). */
    sendBufferHardBytes: 64 * 1024 * 1024,
    /** While more events than this wait in the kernel's queue, peers are not acknowledged (events). */
    receiveQueueLimit: 100_000,
    /** Largest message (a frame with its arguments) sent or taken; beyond 1 MiB it goes in chunks (bytes). */
    maxMessageBytes: 256 * 1024 * 1024,
  },
};

/** Keys whose default is worked out on the machine, not written in DEFAULTS. */
export const COMPUTED_KEYS: readonly string[] = ['kernel.name', 'kernel.socket', 'jobs.maxProc'];

/**
 * Keys with no default, off unless set: `kernel.tls` (mutual TLS) takes all three or none.
 * poe.conf.example shows them commented out.
 */
export const OPTIONAL_KEYS: readonly string[] = ['kernel.tls.cert', 'kernel.tls.key', 'kernel.tls.ca'];

export type MeshTuning = typeof DEFAULTS.mesh;

/** The mesh tunables' defaults, as a fresh object. */
export function defaultTuning(): MeshTuning {
  return { ...DEFAULTS.mesh };
}

export function defaultKernelName(): string {
  return hostname();
}

/** Where a kernel named `name` puts its UNIX socket by default. */
export function defaultSocketPath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_RUNTIME_DIR || tmpdir(), 'ikc', `${name}.sock`);
}

export function defaultMaxProc(): number {
  return availableParallelism();
}
