import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a kernel: lets a test cut every connection through it at once,
 * as a network failure would (the sockets are destroyed, no close handshake).
 */
export class CutProxy {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  cuts = 0;

  private constructor(readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      const upstream = connect(target);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
  }

  /** A proxy on a free loopback port for `address` ("127.0.0.1:PORT"). */
  static async to(address: string): Promise<CutProxy> {
    const [host, port] = address.split(':') as [string, string];
    const proxy = new CutProxy({ host, port: Number(port) });
    await new Promise<void>((r) => proxy.server.listen(0, '127.0.0.1', r));
    return proxy;
  }

  get address(): string {
    const a = this.server.address() as { port: number };
    return `127.0.0.1:${a.port}`;
  }

  /** Destroys every connection through the proxy now. */
  cut(): number {
    const n = this.pairs.size;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.cuts++;
    return n;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}
