import { formatSpec, parseSpec, type Spec } from '@ikc/kernel';
import type { Connection } from './connect.js';
import { CliError, EXIT } from './exit.js';

/**
 * A SPEC from the command line, with its event, made concrete for the CLI's leaf kernel:
 * an empty kernel (poe:///calc/add) means the host kernel the CLI attached to, since the
 * CLI itself holds no sessions.
 */
export function specOf(text: string, conn: Connection): Spec & { event: string } {
  let spec: Spec;
  try {
    spec = parseSpec(text);
  } catch (err) {
    throw new CliError(EXIT.USAGE, `ikc: ${(err as Error).message}`);
  }
  if (spec.event === undefined) {
    throw new CliError(EXIT.USAGE, `ikc: "${text}" names no event: use poe://KERNEL/SESSION/EVENT`);
  }
  return { kernel: spec.kernel === '' ? conn.host : spec.kernel, session: spec.session, event: spec.event };
}

export function specText(spec: Spec): string {
  return formatSpec(spec);
}
