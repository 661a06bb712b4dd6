import { connect } from 'node:net';

/**
 * Is a kernel's process still there? A TCP connect to the address it listens on answers
 * fast: 'refused' means nothing listens (the process is gone: its links cannot come back),
 * 'open' that something does (a dropped link may resume), 'unknown' on a timeout or any
 * other error (a partition looks like this). The connection is closed at once.
 */
export function probeListener(address: string, timeoutMs: number): Promise<'refused' | 'open' | 'unknown'> {
  const m = /^(?:wss?:\/\/)?\[?([^\]]*?)\]?:(\d+)\/?$/.exec(address);
  if (!m) return Promise.resolve('unknown');
  return new Promise((resolve) => {
    const socket = connect({ host: m[1] as string, port: Number(m[2]) });
    const done = (state: 'refused' | 'open' | 'unknown') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(state);
    };
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown'),
    );
  });
}
