import type { PeerView } from '@ikc/mesh';
import { IkcError } from '@ikc/wire';
import { connect, type GlobalOptions } from '../connect.js';
import { EXIT } from '../exit.js';
import { table, toJson } from '../output.js';

/** ikc peers: every kernel the host kernel knows, with state and round-trip time. */
export async function peers(options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'peers');
  try {
    const all = (await conn.leaf.callWith(
      { timeoutMs: conn.timeoutMs },
      `poe://${conn.host}/ikc/peers`,
    )) as (PeerView & { state: string })[];
    // The CLI's own leaf kernel, attached just for this command, is not one of the cloud's.
    const rows = all.filter((p) => p.name !== conn.leaf.name);
    // rtt is null (JSON) or '-' (table) until a round trip has been measured.
    if (options.json) process.stdout.write(`${toJson(rows.map((p) => ({ ...p, rtt: p.rtt ?? null })))}\n`);
    else {
      const lines = rows.map((p) => [
        p.name,
        p.id,
        p.role,
        p.address,
        p.state,
        p.rtt === undefined ? '-' : `${p.rtt} ms`,
      ]);
      process.stdout.write(`${table(['NAME', 'ID', 'ROLE', 'ADDRESS', 'STATE', 'RTT'], lines)}\n`);
    }
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}

interface SessionRow {
  id: string;
  aliases: string[];
  published: string[];
}

/**
 * ikc ls [KERNEL]: the sessions of a kernel (default: the host), through its `ikc` session;
 * for a kernel without one (a leaf), what it publishes, from the registry.
 */
export async function ls(kernelArg: string | undefined, options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'ls');
  try {
    const kernel = kernelArg ?? conn.host;
    let rows: SessionRow[];
    try {
      rows = (await conn.leaf.callWith(
        { timeoutMs: conn.timeoutMs },
        `poe://${kernel}/ikc/ls`,
      )) as SessionRow[];
    } catch (err) {
      if (!IkcError.is(err, 'IKC_ERR_NO_SESSION') && !IkcError.is(err, 'IKC_ERR_NOT_PUBLISHED')) throw err;
      const known = conn.leaf.mesh.remoteSessions().find((k) => k.kernel === kernel || k.kernelId === kernel);
      if (!known) throw err;
      rows = known.sessions;
    }
    if (options.json) process.stdout.write(`${toJson(rows)}\n`);
    else {
      const lines = rows.map((s) => [s.id, s.aliases.join(',') || '-', s.published.join(',') || '-']);
      process.stdout.write(`${table(['ID', 'ALIASES', 'PUBLISHED'], lines)}\n`);
    }
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}
