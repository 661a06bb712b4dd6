/** Runs the transport contract suite against every implementation. */
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryNetwork, MemoryTransport } from '../src/transports/memory.js';
import { WsTcpTransport } from '../src/transports/ws-tcp.js';
import { WsUnixTransport } from '../src/transports/ws-unix.js';
import { transportContract } from './transport-contract.js';

/** A socket server that accepts and never answers, so a ws handshake to it hangs. */
async function silentServer(
  listenOn: string | { host: string; port: number },
): Promise<{ server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (typeof listenOn === 'string') server.listen(listenOn, resolve);
    else server.listen(listenOn.port, listenOn.host, resolve);
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { server, close };
}

transportContract('ws-tcp', () => ({
  create: (options) => new WsTcpTransport(options),
  address: () => '127.0.0.1:0',
  stall: async () => {
    const { server, close } = await silentServer({ host: '127.0.0.1', port: 0 });
    const { port } = server.address() as { port: number };
    return { address: `127.0.0.1:${port}`, close };
  },
}));

transportContract('ws-unix', () => {
  let dir: string | undefined;
  let n = 0;
  const directory = (): string => {
    dir ??= join(tmpdir(), `ikc-unix-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    return dir;
  };
  return {
    create: (options) => new WsUnixTransport(options),
    address: () => join(directory(), `k${++n}.sock`),
    stall: async () => {
      await mkdir(directory(), { recursive: true, mode: 0o700 });
      const path = join(directory(), `stall${++n}.sock`);
      const { close } = await silentServer(path);
      return { address: path, close };
    },
    cleanup: async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
});

transportContract('memory', () => {
  const network = new MemoryNetwork();
  let n = 0;
  return {
    create: (options) => new MemoryTransport({ ...options, network }),
    address: () => `kernel-${++n}`,
    stall: async () => {
      const name = `stalled-${++n}`;
      const lift = network.blackhole(name);
      return { address: name, close: async () => void lift() };
    },
  };
});
