import { type Config, type LoadedConfig, loadConfig } from '@ikc/config';
import { attach, type MeshKernel } from '@ikc/mesh';
import { IkcError } from '@ikc/wire';
import { CliError, EXIT } from './exit.js';

export interface GlobalOptions {
  config?: string;
  kernel?: string;
  json?: boolean;
  timeout?: string;
}

/** The configuration, or exit 2 naming the file and key. */
export async function configFor(options: GlobalOptions): Promise<LoadedConfig> {
  try {
    return await loadConfig({ file: options.config });
  } catch (err) {
    throw new CliError(EXIT.USAGE, `ikc: ${(err as Error).message}`);
  }
}

export interface Connection {
  leaf: MeshKernel;
  /** Name of the host kernel the CLI attached to. */
  host: string;
  config: Config;
  /** Timeout for calls (ms), from --timeout S or the config. */
  timeoutMs: number;
  close(): Promise<void>;
}

/** Seconds from --timeout, as milliseconds (or the config's call timeout). */
export function timeoutOf(options: GlobalOptions, config: Config): number {
  if (options.timeout === undefined) return config.mesh.callTimeoutMs;
  const s = Number(options.timeout);
  if (!(s > 0)) throw new CliError(EXIT.USAGE, `ikc: --timeout takes seconds, got "${options.timeout}"`);
  return Math.round(s * 1000);
}

/**
 * Attaches the CLI to its host kernel as a leaf, at --kernel or the config's kernel.socket.
 * No kernel there: exit 3, saying where it looked.
 */
export async function connect(options: GlobalOptions, verb: string): Promise<Connection> {
  const { config, file } = await configFor(options);
  const timeoutMs = timeoutOf(options, config);
  const where = options.kernel ?? (config.kernel.socket === false ? undefined : config.kernel.socket);
  if (!where) {
    throw new CliError(
      EXIT.USAGE,
      `ikc: kernel.socket is off in ${file ?? 'the defaults'}; give --kernel SOCKET|ws://HOST:PORT|wss://HOST:PORT`,
    );
  }
  let leaf: MeshKernel;
  try {
    leaf = await attach({
      socket: where,
      name: `ikc-${verb}-${process.pid}`,
      cloud: { name: config.cloud.name, secret: config.cloud.secret },
      // --kernel wss://HOST:PORT: the CLI proves itself with the kernel's own certificate.
      ...(config.kernel.tls ? { tls: config.kernel.tls } : {}),
      mesh: { ...config.mesh, handshakeTimeoutMs: Math.min(config.mesh.handshakeTimeoutMs, timeoutMs) },
      log: { level: process.env.POE_LOG ?? 'silent' },
      processSignals: false,
    });
  } catch (err) {
    const source = options.kernel ? '--kernel' : `kernel.socket from ${file ?? 'the defaults'}`;
    const code = IkcError.is(err) ? err.code : 'IKC_ERR_CONNECT';
    const exit = code === 'IKC_ERR_CONNECT' || code === 'IKC_ERR_HANDSHAKE' ? EXIT.UNREACHABLE : EXIT.USAGE;
    if (exit === EXIT.UNREACHABLE) {
      throw new CliError(
        exit,
        `ikc: ${code}: no kernel answered at ${where} (${source}): ${(err as Error).message}; is \`ikc kernel\` running?`,
      );
    }
    // A kernel answered, and refused us (another cloud, another secret): configuration.
    throw new CliError(
      exit,
      `ikc: ${code}: the kernel at ${where} (${source}) refused this client: ${(err as Error).message}`,
    );
  }
  const host = leaf.peers().find((p) => !p.address.startsWith('via '))?.name ?? '';
  return { leaf, host, config, timeoutMs, close: () => leaf.stop() };
}
