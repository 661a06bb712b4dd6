import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Config, DEFAULTS, defaultSocketPath, loadConfig, PEM_START, readPem } from '@ikc/config';
import { JOB_SERVICE, type JobContext, JobService, Jobs, type LeafGrant, type Placement } from '@ikc/jobs';
import { Kernel, type SessionDefinition } from '@ikc/kernel';
import { IkcError, type KernelRole } from '@ikc/wire';
import { adminSession } from './admin.js';
import { Cloud } from './cloud.js';
import { DEFAULT_PORT, defaultTuning, type MeshTuning } from './defaults.js';
import { Dialer } from './dialer.js';
import { MdnsDiscovery } from './discovery.js';
import { setHeapGrowth } from './heap.js';
import type { Link } from './link.js';
import { createLogger, type Logger } from './log.js';
import { Mesh, type PeerView } from './mesh.js';
import type { Listener, Transport } from './transport.js';
import { MemoryTransport } from './transports/memory.js';
import { acceptOnSocket, connectOnFd } from './transports/ws-pipe.js';
import { type TlsMaterial, WsTcpTransport } from './transports/ws-tcp.js';
import { WsUnixTransport } from './transports/ws-unix.js';

/** startKernel()'s options: the config file's shape (DESIGN.md), plus `mesh` tuning and a logger. */
export interface KernelConfig {
  kernel?: {
    /** Default: the host name. */
    name?: string;
    /** ws endpoint for other kernels, "host:port" (default 127.0.0.1:6603); false: none. */
    listen?: string | false;
    /** UNIX socket for leaf kernels and the CLI (default $XDG_RUNTIME_DIR/ikc/NAME.sock); false: none. */
    socket?: string | false;
    /** The process's heap growth, percent (default 400; 0: V8's own policy). See heapGrowthFlag(). */
    heapGrowingPercent?: number;
    /** Mutual TLS on every link to another kernel: PEM files (paths) or PEM text. */
    tls?: TlsFiles;
  };
  cloud?: {
    /** Kernels join only kernels of the same cloud (default "ikc"). */
    name?: string;
    /** Shared secret; needed to listen beyond loopback. */
    secret?: string;
    /** Kernels to dial: "ws://host:port", "host:port", "unix:/path". */
    seeds?: string[];
    /** Announce and discover kernels of this cloud by mDNS (default true; only when
     * listening beyond loopback, on that interface). */
    mdns?: boolean;
    /** Where a `*` event goes: 'round-robin' (default), 'least-loaded' or 'local-first'. */
    balance?: 'round-robin' | 'least-loaded' | 'local-first';
  };
  /** Session modules (paths, relative to `baseDir`) or session definitions, started in order. */
  sessions?: (string | SessionDefinition)[];
  /** The job queue (docs/jobs.md). */
  jobs?: {
    /** Commands and modules other kernels may fork here (default none). */
    allow?: string[];
    /** Jobs run at once (default: the CPU count). */
    maxProc?: number;
    /** Kill a job forked here for a kernel that went away (default true). */
    killOrphans?: boolean;
  };
  /** Where relative session module paths start (default: the working directory). */
  baseDir?: string;
  /** Mesh tunables (defaults.ts), each in its unit. */
  mesh?: Partial<MeshTuning>;
  log?: { level?: string };
  /** A logger to use instead of the default (pino on stderr). */
  logger?: Logger;
  /** Turn SIGINT/SIGTERM into a graceful shutdown (default true). */
  processSignals?: boolean;
  /** Run the `ikc` session (info, peers, ls) that the CLI asks (default true). */
  admin?: boolean;
}

/**
 * `kernel.tls`: this kernel's certificate and key, and the CA that signs the cloud's kernels.
 * Each is a file's path (relative to `baseDir`), or PEM text (a string that starts with
 * "-----BEGIN"), or a Buffer of PEM.
 */
export interface TlsFiles {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
}

export interface AttachOptions {
  /** The host kernel's UNIX socket (or "ws://host:port", "wss://host:port"). Default: $XDG_RUNTIME_DIR/ikc/HOSTNAME.sock. */
  socket?: string;
  /** Mutual TLS to a host kernel reached over TCP (needed for "wss://"). */
  tls?: TlsFiles;
  /** This leaf kernel's name (default "leaf-PID@HOST"). */
  name?: string;
  cloud?: { name?: string; secret?: string };
  mesh?: Partial<MeshTuning>;
  log?: { level?: string };
  logger?: Logger;
  processSignals?: boolean;
}

export { defaultSocketPath };

/** A module job's ctx, with ctx.kernel() typed: the job's leaf kernel. */
export type MeshJobContext = Omit<JobContext, 'kernel'> & { kernel(): Promise<MeshKernel> };

const tcp = new WsTcpTransport();
const unix = new WsUnixTransport();
const memory = new MemoryTransport();

/**
 * The transport an address needs, and the address as that transport takes it. TCP addresses
 * go to `tcpTransport` (a kernel with TLS has its own); "wss://" needs one with TLS.
 */
export function transportFor(
  address: string,
  tcpTransport: WsTcpTransport = tcp,
): { transport: Transport; address: string } {
  if (address.startsWith('memory:')) return { transport: memory, address: address.slice('memory:'.length) };
  if (address.startsWith('unix:')) return { transport: unix, address: address.slice('unix:'.length) };
  if (isAbsolute(address) || address.startsWith('./')) return { transport: unix, address };
  if (address.startsWith('wss://') && !tcpTransport.secure) {
    throw new IkcError(
      'IKC_ERR_INVALID_ARG',
      `"${address}" is a TLS address, but this kernel has no kernel.tls (cert, key and ca) to dial it with`,
      { details: { address } },
    );
  }
  return { transport: tcpTransport, address };
}

/**
 * Reads `kernel.tls`: each of cert, key and ca from its file (relative to `baseDir`) unless it
 * is PEM already. A missing or unreadable file, or one that is not PEM, is an error that
 * names the key and the file.
 */
export function readTls(tls: TlsFiles, baseDir = process.cwd()): TlsMaterial {
  const out: Partial<TlsMaterial> = {};
  for (const key of ['cert', 'key', 'ca'] as const) {
    const value = (tls as unknown as Record<string, unknown>)[key];
    if (Buffer.isBuffer(value) || (typeof value === 'string' && PEM_START.test(value))) {
      out[key] = value;
      continue;
    }
    if (typeof value !== 'string' || value === '') {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        `kernel.tls.${key} must be a PEM file's path (or PEM text), got ${value === '' ? 'an empty string' : typeof value}`,
        { details: { key: `kernel.tls.${key}` } },
      );
    }
    const file = resolve(baseDir, value);
    const pem = readPem(file);
    if ('problem' in pem) {
      throw new IkcError('IKC_ERR_INVALID_ARG', `kernel.tls.${key}: ${pem.problem}`, {
        details: { key: `kernel.tls.${key}`, file },
        ...(pem.cause === undefined ? {} : { cause: pem.cause }),
      });
    }
    out[key] = pem.text;
  }
  return out as TlsMaterial;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

function hostOf(listen: string): string {
  const m = /^(?:wss?:\/\/)?(\[[^\]]+\]|[^:]*):\d+$/.exec(listen);
  if (!m) throw new IkcError('IKC_ERR_INVALID_ARG', `kernel.listen must be HOST:PORT, got "${listen}"`);
  return m[1] as string;
}

/**
 * A kernel on the mesh: a local kernel whose posts, calls and resolves also reach the
 * sessions other kernels publish. startKernel() and attach() make one.
 */
export class MeshKernel extends Kernel {
  readonly mesh: Mesh;
  readonly log: Logger;
  /** The TCP address other kernels reach this one at, once listening. */
  listenAddress: string | undefined;
  /** The UNIX socket leaf kernels attach to, once listening. */
  socketPath: string | undefined;
  private readonly listeners: Listener[] = [];
  /** mDNS announcements and discovery, when on. */
  mdns: MdnsDiscovery | undefined;
  private readonly dialers: Dialer[] = [];
  /** The job queue: kernel.fork() forks here or, with `on`, on other kernels. */
  jobs: Jobs | undefined;
  /** Forks for other kernels (the session `ikc.jobs`); host kernels only. */
  jobService: JobService | undefined;
  private readonly tuning: MeshTuning;
  /** Its TCP transport: the shared plain one, or its own with TLS. */
  private readonly tcp: WsTcpTransport;
  /** The cloud's name, as the handshake checks it. */
  private readonly cloudName: string;
  private stopping: Promise<void> | undefined;
  private readonly stoppedWaiters: (() => void)[] = [];
  private signalListener: ((sig: NodeJS.Signals) => void) | undefined;

  constructor(
    options: {
      name: string;
      cloud: string;
      secret: string;
      role: KernelRole;
      tuning: MeshTuning;
      logger: Logger;
      balance?: 'round-robin' | 'least-loaded' | 'local-first';
      /** Mutual TLS on its TCP links. */
      tls?: TlsMaterial;
    },
    processSignals: boolean,
  ) {
    // The mesh kernel handles process signals itself: a host stays up without sessions. An
    // error nobody handled goes to its log, as a JSON line like everything else it says.
    const log = options.logger.child({ kernel: options.name });
    super({
      name: options.name,
      processSignals: false,
      onUnhandledError: (e) => {
        const err = e.error as { code?: string; message?: string } | undefined;
        log.error(
          { err: { code: err?.code, message: err?.message }, session: e.session, event: e.event },
          'unhandled error',
        );
      },
    });
    this.tuning = options.tuning;
    this.tcp = options.tls
      ? new WsTcpTransport({
          tls: options.tls,
          onTlsRefused: (remote, err) =>
            log.warn(
              { remote, err: { code: (err as { code?: string }).code, message: err.message } },
              'refused a TLS connection',
            ),
        })
      : tcp;
    this.cloudName = options.cloud;
    this.log = log;
    this.mesh = new Mesh({
      kernel: this,
      cloud: options.cloud,
      secret: options.secret,
      role: options.role,
      tuning: options.tuning,
      log: this.log,
      balance: options.balance,
      dial: (address) => {
        const { transport, address: where } = transportFor(address, this.tcp);
        return transport.connect(where, { timeoutMs: options.tuning.handshakeTimeoutMs });
      },
    });
    if (processSignals) {
      this.signalListener = (sig) => {
        this.log.info({ signal: sig }, 'shutting down');
        this.signal('*', sig === 'SIGINT' ? 'INT' : 'TERM');
        void this.stop();
      };
      process.on('SIGINT', this.signalListener);
      process.on('SIGTERM', this.signalListener);
    }
  }

  /** Whether its links to other kernels over TCP are mutual TLS (kernel.tls). */
  get tls(): boolean {
    return this.tcp.secure;
  }

  /** Kernels this one knows: linked directly, or reached through a host. */
  peers(): PeerView[] {
    return this.mesh.peers();
  }

  /** @internal */
  async listenOn(address: string, role: 'tcp' | 'unix'): Promise<void> {
    const { transport, address: where } = transportFor(
      role === 'unix' ? `unix:${address}` : address,
      this.tcp,
    );
    const listener = await transport.listen(where, (conn) => {
      this.mesh.adopt(conn, 'listener');
    });
    this.listeners.push(listener);
    if (role === 'tcp') {
      this.listenAddress = listener.address;
      this.mesh.listenAddress = listener.address;
    } else this.socketPath = listener.address;
    this.log.info({ address: listener.address, transport: transport.name }, 'listening');
  }

  /**
   * @internal Serves the link of a module job's child that attaches as a leaf kernel over
   * `socket`, this kernel's end of the child's socket pair. The link proves a token made
   * for it alone: the child never learns the cloud's secret.
   */
  hostJobLeaf(socket: Socket, job: string): Omit<LeafGrant, 'fd'> {
    const secret = randomBytes(32).toString('base64url');
    const remote = `pipe:job ${job}`;
    acceptOnSocket(socket, remote, (conn) => {
      this.mesh.adopt(conn, 'listener', undefined, secret);
    });
    return { module: import.meta.url, cloud: this.cloudName, secret, name: `job-${job}`, host: this.name };
  }

  /** @internal */
  addDialer(address: string): Dialer {
    const { transport, address: where } = transportFor(address, this.tcp);
    const dialer = new Dialer(this.mesh, transport, where, this.tuning, this.log);
    this.dialers.push(dialer);
    if (transport.name === 'tcp')
      this.mesh.dialedBySeed.add(address.replace(/^wss?:\/\//, '').replace(/\/$/, ''));
    return dialer;
  }

  /**
   * Shuts down gracefully: sessions stop (`_stop` runs), peers are told (BYE), links and
   * listeners close, the UNIX socket is removed.
   */
  override stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.signalListener) {
        process.off('SIGINT', this.signalListener);
        process.off('SIGTERM', this.signalListener);
      }
      for (const d of this.dialers) d.stop();
      await this.mdns?.stop();
      // Jobs end first (SIGTERM, then SIGKILL): their sessions and links are still up to say so.
      this.jobService?.close();
      await this.jobs?.close();
      await super.stop();
      // Tell the cloud (gossip 'left'), opening no new link meanwhile, then say BYE on every link.
      this.mesh.leaving = true;
      if (this.mesh.cloud) await this.mesh.cloud.leave();
      // A member of a cloud says BYE 'left': a peer that hears the BYE before the gossip
      // (which spreads over a few gossip rounds) still learns why this kernel went.
      this.mesh.stop(this.mesh.cloud ? 'left' : 'shutdown');
      await Promise.all(this.listeners.map((l) => l.close().catch(() => {})));
      for (const wake of this.stoppedWaiters.splice(0)) wake();
    })();
    return this.stopping;
  }

  /** Resolves once the kernel has stopped, however that came about (stop(), SIGINT, SIGTERM). */
  whenStopped(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopping) void this.stopping.then(resolve);
      else this.stoppedWaiters.push(resolve);
    });
  }
}

async function loadSessions(config: KernelConfig): Promise<SessionDefinition[]> {
  const out: SessionDefinition[] = [];
  for (const entry of config.sessions ?? []) {
    if (typeof entry !== 'string') {
      out.push(entry);
      continue;
    }
    const path = resolve(config.baseDir ?? process.cwd(), entry);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (cause) {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        `session module ${path} failed to load: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const def = mod.default as SessionDefinition | undefined;
    if (typeof def !== 'object' || def === null || typeof def.events !== 'object') {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        `session module ${path} must default-export a session definition ({ alias?, publish?, events })`,
      );
    }
    out.push(def);
  }
  return out;
}

function tuningOf(overrides: Partial<MeshTuning> | undefined): MeshTuning {
  const tuning = defaultTuning();
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (!(key in tuning)) throw new IkcError('IKC_ERR_INVALID_ARG', `unknown mesh option "${key}"`);
    if (typeof value !== 'number' || !(value > 0)) {
      throw new IkcError(
        'IKC_ERR_INVALID_ARG',
        `mesh.${key} must be a positive number, got ${String(value)}`,
      );
    }
    (tuning as unknown as Record<string, number>)[key] = value;
  }
  return tuning;
}

/**
 * Starts a host kernel: loads its session modules (all or nothing), listens for kernels on
 * `kernel.listen` (TCP) and for leaf kernels on `kernel.socket` (UNIX), starts the sessions,
 * and dials the seeds, redialing with backoff whenever a link drops. Resolves once each seed
 * has linked (and sent what it publishes) or failed its first attempt.
 */
export async function startKernel(config?: KernelConfig): Promise<MeshKernel> {
  // No config: load the file, as `ikc kernel` does (--config, $POE_CONF, ~/.poe.conf, /etc/poe.conf).
  config ??= fromConfig((await loadConfig()).config);
  const name = config.kernel?.name ?? hostname();
  const secret = config.cloud?.secret ?? '';
  const tls = config.kernel?.tls ? readTls(config.kernel.tls, config.baseDir) : undefined;
  const listen = config.kernel?.listen === undefined ? `127.0.0.1:${DEFAULT_PORT}` : config.kernel.listen;
  if (listen !== false && !secret && !tls && !LOOPBACK.test(hostOf(listen))) {
    throw new IkcError(
      'IKC_ERR_INSECURE_LISTEN',
      `kernel ${name} has no cloud.secret and no kernel.tls, so it refuses to listen on ${listen}, beyond loopback: ` +
        'set cloud.secret (shared by the cloud), or kernel.tls (mutual TLS), or listen on 127.0.0.1',
    );
  }
  // A TLS seed with no TLS to dial it with: say so now, not after the kernel has started.
  const plain = tls ? undefined : (config.cloud?.seeds ?? []).find((seed) => seed.startsWith('wss://'));
  if (plain !== undefined) transportFor(plain);
  const definitions = await loadSessions(config);
  const logger = config.logger ?? createLogger(config.log?.level);
  const heap = config.kernel?.heapGrowingPercent ?? DEFAULTS.kernel.heapGrowingPercent;
  if (!(Number.isInteger(heap) && heap >= 0)) {
    throw new IkcError(
      'IKC_ERR_INVALID_ARG',
      `kernel.heapGrowingPercent must be a whole number >= 0, got ${heap}`,
    );
  }
  setHeapGrowth(heap);
  const kernel = new MeshKernel(
    {
      name,
      cloud: config.cloud?.name ?? 'ikc',
      secret,
      role: 'host',
      tuning: tuningOf(config.mesh),
      logger,
      balance: config.cloud?.balance,
      ...(tls ? { tls } : {}),
    },
    config.processSignals ?? true,
  );
  try {
    if (listen !== false) await kernel.listenOn(listen, 'tcp');
    const socket = config.kernel?.socket === undefined ? defaultSocketPath(name) : config.kernel.socket;
    if (socket !== false) await kernel.listenOn(socket, 'unix');
    if (config.admin !== false) kernel.spawn(adminSession(kernel));
    kernel.jobs = new Jobs(kernel, {
      allow: config.jobs?.allow ?? [],
      ...(config.jobs?.maxProc === undefined ? {} : { maxProc: config.jobs.maxProc }),
      placement: placementFor(kernel, true),
      leafHost: (socket, job) => kernel.hostJobLeaf(socket, job),
    });
    kernel.jobService = new JobService(kernel.jobs, {
      trusted: (id) => isOwnLeaf(kernel, id),
      killOrphans: config.jobs?.killOrphans ?? true,
    });
    for (const def of definitions) kernel.spawn(def);
    // Host kernels that listen for others gossip membership and their registries.
    if (kernel.listenAddress) {
      const cloud = new Cloud(
        kernel.mesh,
        { id: kernel.id, name, address: kernel.listenAddress },
        kernel.log,
      );
      kernel.mesh.cloud = cloud;
      cloud.start();
      const host = hostOf(kernel.listenAddress).replace(/^\[|\]$/g, '');
      if ((config.cloud?.mdns ?? true) && !LOOPBACK.test(host)) {
        kernel.mdns = new MdnsDiscovery({
          cloud: config.cloud?.name ?? 'ikc',
          kernelId: kernel.id,
          kernelName: name,
          listen: kernel.listenAddress,
          log: kernel.log,
          found: (address) => void cloud.join([address]),
        });
        kernel.mdns.start();
      }
    }
  } catch (err) {
    await kernel.stop();
    throw err;
  }
  // Wait for each seed's first attempt (linked and synced, or failed: a seed that is down
  // does not stop the start; it is redialed in the background).
  await Promise.all((config.cloud?.seeds ?? []).map((seed) => kernel.addDialer(seed).start()));
  if (kernel.mesh.cloud) await kernel.mesh.cloud.join(config.cloud?.seeds ?? []);
  return kernel;
}

/** startKernel()'s options from a loaded configuration file. */
export function fromConfig(config: Config): KernelConfig {
  return {
    kernel: config.kernel,
    cloud: {
      name: config.cloud.name,
      secret: config.cloud.secret,
      seeds: config.cloud.seeds,
      mdns: config.cloud.mdns,
      balance: config.cloud.balance,
    },
    sessions: config.sessions,
    jobs: config.jobs,
    mesh: config.mesh,
    log: config.log,
  };
}

/** How `on: '*'` finds kernels that fork for others: those that publish `ikc.jobs`. */
function placementFor(kernel: MeshKernel, self: boolean): Placement {
  return {
    self,
    candidates: () =>
      kernel.mesh
        .remoteSessions()
        .filter(
          (k) =>
            k.kernelId !== kernel.id &&
            k.sessions.some((s) => s.aliases.includes(JOB_SERVICE) && s.published.includes('fork')),
        )
        .map((k) => k.kernel),
    load: () => kernel.jobs?.load ?? 0,
  };
}

/** A leaf kernel attached to this host itself (over its socket): its forks count as local. */
function isOwnLeaf(kernel: MeshKernel, id: string): boolean {
  const peer = kernel.peers().find((p) => p.id === id);
  return peer !== undefined && peer.role === 'leaf' && !peer.address.startsWith('via ');
}

/**
 * Attaches this program to its host kernel as a leaf kernel: its sessions reach every kernel
 * the host reaches, and the sessions it publishes are reachable cloud-wide through the host.
 * Rejects with IKC_ERR_CONNECT (naming the socket) when no host kernel answers there.
 */
export async function attach(options: AttachOptions = {}): Promise<MeshKernel> {
  const host = hostname();
  const socket = options.socket ?? defaultSocketPath(host);
  if (socket.startsWith('wss://') && !options.tls) transportFor(socket); // throws, naming what is missing
  const kernel = leafKernel({
    name: options.name ?? `leaf-${process.pid}@${host}`,
    cloud: options.cloud?.name ?? 'ikc',
    secret: options.cloud?.secret ?? '',
    tuning: tuningOf(options.mesh),
    logger: options.logger ?? createLogger(options.log?.level ?? process.env.POE_LOG ?? 'warn'),
    processSignals: options.processSignals ?? true,
    ...(options.tls ? { tls: readTls(options.tls) } : {}),
  });
  // From the first link on, the dialer redials whenever the link drops.
  const dialer = kernel.addDialer(
    socket.includes('://') || socket.startsWith('memory:') ? socket : `unix:${socket}`,
  );
  return linkLeaf(kernel, () => dialer.dial(), `no host kernel answers at ${socket}`);
}

/**
 * In a module job's child: attaches it as the leaf kernel `grant` offers, over the socket
 * pair end it inherited (what ctx.kernel() does). There is no redial: the socket pair is
 * the child's only way to its kernel, and the job ends with it.
 */
export async function attachJobLeaf(grant: LeafGrant): Promise<MeshKernel> {
  const tuning = defaultTuning();
  const kernel = leafKernel({
    name: grant.name,
    cloud: grant.cloud,
    secret: grant.secret,
    tuning,
    // The job's stderr is the job's: the leaf says only what went wrong, unless POE_LOG asks.
    logger: createLogger(process.env.POE_LOG ?? 'error'),
    processSignals: false,
  });
  return linkLeaf(
    kernel,
    async () => {
      const conn = await connectOnFd(grant.fd, `pipe:kernel ${grant.host}`, {
        timeoutMs: tuning.handshakeTimeoutMs,
      });
      return kernel.mesh.adopt(conn, 'dialer');
    },
    `job leaf ${grant.name} could not attach to kernel ${grant.host} over fd ${grant.fd}`,
  );
}

function leafKernel(options: {
  name: string;
  cloud: string;
  secret: string;
  tuning: MeshTuning;
  logger: Logger;
  processSignals: boolean;
  tls?: TlsMaterial;
}): MeshKernel {
  const { processSignals, ...rest } = options;
  return new MeshKernel({ ...rest, role: 'leaf' }, processSignals);
}

/**
 * Dials a leaf's one link and waits until it is up and the host's registries have come (the
 * cloud is reachable from then on). Then the leaf gets its job queue: it forks here and,
 * with `on`, on any kernel; it forks nothing for others.
 */
async function linkLeaf(kernel: MeshKernel, dial: () => Promise<Link>, failure: string): Promise<MeshKernel> {
  try {
    const link = await dial();
    await link.whenUp(); // rejects with why the host refused (cloud, secret, version)
    await kernel.mesh.synced(link);
  } catch (err) {
    await kernel.stop();
    throw err instanceof IkcError ? err : new IkcError('IKC_ERR_CONNECT', failure, { cause: err });
  }
  kernel.jobs = new Jobs(kernel, { placement: placementFor(kernel, false) });
  return kernel;
}
