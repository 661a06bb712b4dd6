/**
 * The child's side of named channels. A job's named channels are extra stdio descriptors
 * (fd 3, 4, ...), each one end of a socket pair, listed in the environment as
 * IKC_CHANNELS="name=fd,...". A program in any language opens those fds; a node program
 * can call jobChannels().
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ChildChannel } from './protocol.js';

/** The environment variable that lists a job's named channels. */
export const CHANNELS_ENV = 'IKC_CHANNELS';

/** Parses IKC_CHANNELS ("name=fd,...") into name -> fd. */
export function parseChannelsEnv(value: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (!value) return out;
  for (const part of value.split(',')) {
    const eq = part.lastIndexOf('=');
    const fd = Number(part.slice(eq + 1));
    if (eq > 0 && Number.isInteger(fd) && fd > 2) out.set(part.slice(0, eq), fd);
  }
  return out;
}

/** Opens one channel's fd as a stream. Both halves close independently (half-open), so a
 * `<>` channel can read to the end and still answer. */
export function openChannel(channel: Pick<ChildChannel, 'fd'> & Partial<ChildChannel>): Duplex {
  const dir = channel.dir ?? '<>';
  const socket = new Socket({
    fd: channel.fd,
    readable: dir !== '<',
    writable: dir !== '>',
    allowHalfOpen: true,
  });
  if (channel.mode === 'text') socket.setEncoding('utf8');
  return socket;
}

/**
 * In a node child of a `cmd` job: its named channels as streams (readable and writable
 * both: the fd alone does not tell the direction). Call once; each call opens the fds anew.
 */
export function jobChannels(env: NodeJS.ProcessEnv = process.env): Record<string, Duplex> {
  const out: Record<string, Duplex> = {};
  for (const [name, fd] of parseChannelsEnv(env[CHANNELS_ENV])) out[name] = openChannel({ fd });
  return out;
}
