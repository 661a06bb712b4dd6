import { PROTOCOL_MAX } from '@ikc/wire';
import { Bonjour } from 'bonjour-service';
import type { Logger } from './log.js';

export interface MdnsOptions {
  cloud: string;
  kernelId: string;
  kernelName: string;
  /** HOST:PORT the kernel listens on; HOST is the interface announced and browsed on. */
  listen: string;
  log: Logger;
  /** A kernel of the same cloud was found at HOST:PORT. */
  found(address: string): void;
}

const SERVICE_TYPE = 'ikc';

/**
 * mDNS discovery (bonjour-service): announces `_ikc._tcp` with the cloud name, kernel id
 * and protocol version in TXT, and reports kernels of the same cloud as they appear.
 * Bound to the interface the kernel listens on; a kernel that listens on loopback only has
 * nothing to announce to the LAN, so it does not run this at all.
 */
export class MdnsDiscovery {
  private bonjour: Bonjour | undefined;

  constructor(private readonly options: MdnsOptions) {}

  start(): void {
    const [host, port] = splitHostPort(this.options.listen);
    const iface = host === '0.0.0.0' || host === '::' ? undefined : host;
    // Bind the wildcard address: Linux delivers no multicast to a socket bound to a unicast
    // address. `interface` still chooses where queries and announcements go out.
    this.bonjour = new Bonjour(
      { interface: iface, bind: '0.0.0.0', reuseAddr: true } as never,
      (err: Error) => this.options.log.warn({ err: { message: err.message } }, 'mDNS error'),
    );
    this.bonjour.publish({
      name: `${this.options.kernelName}-${this.options.kernelId.slice(0, 8)}`,
      type: SERVICE_TYPE,
      port,
      host: iface,
      txt: { cloud: this.options.cloud, id: this.options.kernelId, v: String(PROTOCOL_MAX) },
      disableIPv6: true,
    } as never);
    this.bonjour.find({ type: SERVICE_TYPE }, (service) => {
      const txt = (service.txt ?? {}) as Record<string, string>;
      if (txt.cloud !== this.options.cloud || txt.id === this.options.kernelId) return;
      const addresses = (service.addresses ?? []).filter((a) => a.includes('.'));
      const address = addresses[0] ?? (service as { referer?: { address?: string } }).referer?.address;
      if (!address) return;
      this.options.log.debug({ kernel: service.name, address, port: service.port }, 'mDNS found a kernel');
      this.options.found(`${address}:${service.port}`);
    });
  }

  /** Withdraws the announcement (goodbye packets) and closes the socket. */
  stop(): Promise<void> {
    const bonjour = this.bonjour;
    this.bonjour = undefined;
    if (!bonjour) return Promise.resolve();
    return new Promise((resolve) => {
      bonjour.unpublishAll(() => {
        bonjour.destroy();
        resolve();
      });
    });
  }
}

function splitHostPort(listen: string): [string, number] {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  return m ? [m[1] as string, Number(m[2])] : ['0.0.0.0', 0];
}
