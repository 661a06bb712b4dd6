import { IkcError } from '@ikc/wire';
import { parseArg } from '../args.js';
import { connect, type GlobalOptions } from '../connect.js';
import { EXIT } from '../exit.js';
import { specOf, specText } from '../target.js';

/**
 * ikc post SPEC [ARG...]: posts the event, then waits at a barrier on the target kernel (a
 * call answered once everything sent before it has been dispatched), so an undeliverable
 * post, or one whose handler throws at once, is reported and exits 1.
 */
export async function post(specArg: string, args: string[], options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'post');
  try {
    const spec = specOf(specArg, conn);
    let kernel = spec.kernel;
    if (kernel === '*') {
      const chosen = conn.leaf.mesh.nextPublisher(spec.session);
      if (!chosen)
        throw new IkcError('IKC_ERR_NO_SESSION', `no reachable kernel publishes "${spec.session}"`);
      kernel = chosen;
    }
    const kernelId = conn.leaf.mesh.kernelIdOf(kernel);
    if (!kernelId)
      throw new IkcError('IKC_ERR_UNREACHABLE', `kernel ${kernel} is not reachable from ${conn.host}`);
    const failures: unknown[] = [];
    const sender = conn.leaf.spawn({
      events: {
        _start: (ctx) =>
          ctx.post(specText({ ...spec, kernel: kernelId }) as `poe://${string}`, ...args.map(parseArg)),
        _error: (_ctx, err: unknown) => void failures.push(err),
        _default: () => {}, // a reply the posted event sends back (pong, say) is welcome and ignored
      },
    });
    const release = conn.leaf.hold(sender);
    await conn.leaf.mesh.barrier(kernelId, conn.timeoutMs);
    await conn.leaf.idle(); // let an _error that arrived before the barrier's reply be handled
    release();
    if (failures.length > 0) throw failures[0];
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}
