import pino from 'pino';

/** The slice of a pino logger the mesh uses; any compatible logger can be passed in. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

/** Structured JSON lines on stderr (pino), level from the argument, $POE_LOG, or 'info'. */
export function createLogger(level?: string, bindings: object = {}): Logger {
  return pino(
    { level: level ?? process.env.POE_LOG ?? 'info', base: bindings },
    pino.destination({ dest: 2, sync: true }),
  ) as unknown as Logger;
}

/** A logger that drops everything (tests, embedded use). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
