import type { MonitorEvent } from '@ikc/kernel';
import { connect, type GlobalOptions } from '../connect.js';
import { EXIT } from '../exit.js';
import { toJson } from '../output.js';

function describe(e: MonitorEvent): string {
  const session = e.session as { id: string; aliases: string[] } | undefined;
  const who = session ? ` ${session.aliases[0] ?? session.id}` : '';
  const events = Array.isArray(e.events) ? ` ${(e.events as string[]).join(',')}` : '';
  const via = typeof e.via === 'string' ? ` (via ${e.via})` : '';
  const reason = typeof e.reason === 'string' ? ` (${e.reason})` : '';
  const err = e.error as { code?: string; message?: string } | undefined;
  const error = err ? ` ${err.code ?? ''} ${err.message ?? ''}` : '';
  return `${new Date().toISOString()} ${e.type} ${e.kernel}${who}${events}${via}${reason}${error}`;
}

/** ikc monitor: cloud events as they happen, one per line, until Ctrl-C. */
export async function monitor(options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'monitor');
  // What is already known, first: the kernels and what they publish.
  for (const peer of conn.leaf.peers()) {
    const e = { type: 'kernel.up', kernel: peer.name, kernelId: peer.id, role: peer.role } as MonitorEvent;
    process.stdout.write(`${options.json ? toJson(e) : describe(e)}\n`);
  }
  conn.leaf.monitor(
    ['kernel.up', 'kernel.down', 'register', 'unregister', 'publish', 'retract', 'error'],
    (e) => {
      if (e.kernel === conn.leaf.name) return; // the CLI's own leaf kernel is not news
      process.stdout.write(`${options.json ? toJson(e) : describe(e)}\n`);
    },
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await conn.close();
  return EXIT.OK;
}
