import { IkcError } from '@ikc/wire';

/** The exit codes DESIGN.md fixes. */
export const EXIT = {
  OK: 0,
  /** The event or job failed (its code and message on stderr). */
  FAILED: 1,
  /** Bad usage or bad configuration. */
  USAGE: 2,
  /** No kernel reachable, or timed out. */
  UNREACHABLE: 3,
} as const;

/** An error the CLI reports and exits with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

const USAGE_CODES = new Set([
  'IKC_ERR_CONFIG',
  'IKC_ERR_BAD_SPEC',
  'IKC_ERR_INVALID_ARG',
  'IKC_ERR_INSECURE_LISTEN',
  'IKC_ERR_LISTEN',
]);
const UNREACHABLE_CODES = new Set([
  'IKC_ERR_UNREACHABLE',
  'IKC_ERR_TIMEOUT',
  // `ikc fork --timeout S` ran out: the job was killed (timed out, like `ikc call --timeout`).
  'IKC_ERR_JOB_TIMEOUT',
  'IKC_ERR_CONNECT',
  'IKC_ERR_KERNEL_STOPPED',
  'IKC_ERR_HANDSHAKE',
]);

/** The exit code for an error an ikc call or kernel start ended with. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (IkcError.is(err)) {
    if (USAGE_CODES.has(err.code)) return EXIT.USAGE;
    if (UNREACHABLE_CODES.has(err.code)) return EXIT.UNREACHABLE;
  }
  return EXIT.FAILED;
}

/** One line for stderr: `CODE: message` (the code scripts match on, then the why). */
export function describeError(err: unknown): string {
  if (err instanceof CliError) return err.message;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  return `${code}${typeof e?.message === 'string' ? e.message : String(err)}`;
}
