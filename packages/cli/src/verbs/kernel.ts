import { loadConfig } from '@ikc/config';
import { createLogger, fromConfig, startKernel } from '@ikc/mesh';
import { CliError, EXIT } from '../exit.js';

export interface KernelOptions {
  config?: string;
  name?: string;
  listen?: string;
  session?: string[];
}

/**
 * ikc kernel: runs this host's kernel from the configuration until SIGINT or SIGTERM, which
 * stop it gracefully (sessions get _stop, peers are told, links close) and exit 0.
 */
export async function kernel(options: KernelOptions): Promise<number> {
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig({
      file: options.config,
      overrides: { 'kernel.name': options.name, 'kernel.listen': options.listen },
      sessions: options.session,
    });
  } catch (err) {
    throw new CliError(EXIT.USAGE, `ikc: ${(err as Error).message}`);
  }
  const { config, file } = loaded;
  const logger = createLogger(config.log.level);
  const k = await startKernel({ ...fromConfig(config), logger });
  logger.info({ kernel: k.name, id: k.id, config: file ?? '(defaults)' }, 'kernel started');
  const where = [k.listenAddress && `ws://${k.listenAddress}`, k.socketPath].filter(Boolean).join(' and ');
  // The kernel's own sessions (ikc, and ikc.jobs that forks for others) are not the user's.
  const forker = k.jobService?.session.id;
  const sessions = k.list().filter((s) => s.aliases[0] !== 'ikc' && s.id !== forker);
  const example = sessions.find((s) => s.published.length > 0 && s.aliases.length > 0);
  const flag = options.config ? ` --config ${options.config}` : '';
  process.stdout.write(
    [
      `ikc kernel "${k.name}" (id ${k.id}) is running, listening on ${where}`,
      `config: ${file ?? 'none found, defaults'}`,
      `sessions: ${sessions.map((s) => `${s.aliases[0] ?? s.id}${s.published.length ? ` (${s.published.join(', ')})` : ''}`).join('; ') || 'none'}`,
      'Try, in another terminal:',
      `  npx ikc${flag} peers`,
      `  npx ikc${flag} ls`,
      ...(example ? [`  npx ikc${flag} call poe:///${example.aliases[0]}/${example.published[0]} 2 3`] : []),
      `  npx ikc${flag} monitor`,
      `  npx ikc${flag} fork -- uname -a`,
      'Ctrl-C stops it gracefully.',
      '',
    ].join('\n'),
  );
  await k.whenStopped();
  logger.info({ kernel: k.name }, 'kernel stopped');
  return EXIT.OK;
}
