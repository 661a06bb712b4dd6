import type { SessionDefinition } from '@ikc/kernel';
import type { MeshKernel } from './node.js';

/**
 * The session every host kernel runs under the alias `ikc`: read-only facts about the
 * kernel, published so that `ikc peers` and `ikc ls KERNEL` work from anywhere in the cloud.
 */
export function adminSession(kernel: MeshKernel): SessionDefinition {
  const started = Date.now();
  return {
    alias: 'ikc',
    publish: ['info', 'peers', 'ls'],
    events: {
      info: () => ({
        name: kernel.name,
        id: kernel.id,
        listen: kernel.listenAddress ?? null,
        socket: kernel.socketPath ?? null,
        uptimeMs: Date.now() - started,
        sessions: kernel.size,
      }),
      /** This kernel first, then every kernel it knows. */
      peers: () => [
        {
          name: kernel.name,
          id: kernel.id,
          role: 'host',
          address: kernel.listenAddress ?? kernel.socketPath ?? '-',
          state: 'self',
          rtt: 0,
          sessions: kernel.list().filter((s) => s.published.length > 0).length,
        },
        ...kernel.peers(),
      ],
      ls: () => kernel.list(),
    },
  };
}
