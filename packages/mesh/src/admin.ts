import type { SessionDefinition } from '@ikc/kernel';
import type { MeshKernel } from './node.js';

/**
 * The session every host kernel runs under the alias `ikc`: read-only facts about the
 * kernel, published so that `ikc peers`, `ikc ls KERNEL` and `ikc jobs KERNEL` work from
 * anywhere in the cloud.
 */
export function adminSession(kernel: MeshKernel): SessionDefinition {
  const started = Date.now();
  return {
    alias: 'ikc',
    publish: ['info', 'peers', 'ls', 'jobs'],
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
      /** The job queue: its bounds and counts, and every job not yet reaped (docs/jobs.md). */
      jobs: () => {
        const jobs = kernel.jobs;
        return {
          kernel: kernel.name,
          maxProc: jobs?.maxProc ?? 0,
          active: jobs?.activeCount ?? 0,
          waiting: jobs?.waitingCount ?? 0,
          jobs: jobs?.list() ?? [],
        };
      },
    },
  };
}
