/**
 * An in-memory transport: kernels of one process linked without sockets, for tests and
 * simulations. It keeps the whole contract (asynchronous in-order delivery, limits,
 * backpressure, close codes), so code tested over it behaves the same over ws. Addresses
 * are names in a MemoryNetwork; each network is its own world, so tests can run side by side.
 */
import type { Conn, ConnectOptions, Listener, Transport, TransportOptions } from '../transport.js';
import { connectAttempt } from './connect-attempt.js';
import { codedError, listenError } from './errors.js';
import { MemoryLink } from './memory-link.js';
import { type ResolvedTransportOptions, resolveTransportOptions } from './options.js';

interface Endpoint {
  readonly options: ResolvedTransportOptions;
  readonly onConn: (conn: Conn) => void;
}

/** The names listened on, and the names that swallow connects, of one simulated network. */
export class MemoryNetwork {
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #blackholes = new Set<string>();
  #accepted = 0;

  /** The names being listened on now. */
  get names(): string[] {
    return [...this.#endpoints.keys()];
  }

  /**
   * Makes connects to `name` hang, as if the host dropped every packet, until their
   * timeout or signal gives up (whether or not something listens there). Returns the
   * function that lifts it.
   */
  blackhole(name: string): () => void {
    this.#blackholes.add(name);
    return () => this.#blackholes.delete(name);
  }

  /** @internal Used by MemoryTransport.listen(). */
  bind(name: string, endpoint: Endpoint): void {
    if (this.#endpoints.has(name)) throw listenError(name, codedError('EADDRINUSE', 'address in use'));
    this.#endpoints.set(name, endpoint);
  }

  /** @internal Used by Listener.close(). */
  unbind(name: string, endpoint: Endpoint): void {
    if (this.#endpoints.get(name) === endpoint) this.#endpoints.delete(name);
  }

  /**
   * @internal Used by MemoryTransport.connect(): a new link to the listener on `name` and
   * the listener's callback for its end; undefined means the attempt hangs.
   */
  dial(
    name: string,
    options: ResolvedTransportOptions,
  ): { link: MemoryLink; onConn: (conn: Conn) => void } | undefined {
    if (this.#blackholes.has(name)) return undefined;
    const endpoint = this.#endpoints.get(name);
    if (endpoint === undefined) throw codedError('ECONNREFUSED', `connect ECONNREFUSED ${name}`);
    const link = new MemoryLink(
      `memory:${name}`,
      options,
      `memory:${name}#${++this.#accepted}`,
      endpoint.options,
    );
    return { link, onConn: endpoint.onConn };
  }
}

/** The network MemoryTransports share when not given one. */
export const defaultMemoryNetwork = new MemoryNetwork();

export interface MemoryTransportOptions extends TransportOptions {
  /** Where names are listened on and connected to; defaults to defaultMemoryNetwork. */
  network?: MemoryNetwork;
}

export class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly network: MemoryNetwork;
  readonly options: ResolvedTransportOptions;

  constructor(options: MemoryTransportOptions = {}) {
    this.network = options.network ?? defaultMemoryNetwork;
    this.options = resolveTransportOptions(options);
  }

  async listen(address: string, onConn: (conn: Conn) => void): Promise<Listener> {
    const endpoint: Endpoint = { options: this.options, onConn };
    this.network.bind(address, endpoint);
    let closed = false;
    return {
      address,
      close: async () => {
        if (closed) return;
        closed = true;
        this.network.unbind(address, endpoint);
      },
    };
  }

  async connect(address: string, options?: ConnectOptions): Promise<Conn> {
    return connectAttempt(address, options, (ok, fail) => {
      // The attempt completes in a later turn, as a socket's would.
      const timer = setImmediate(() => {
        let dialed: ReturnType<MemoryNetwork['dial']>;
        try {
          dialed = this.network.dial(address, this.options);
        } catch (err) {
          return fail(err);
        }
        if (dialed === undefined) return;
        // Like a socket server's, the listener's callback runs before connect() resolves.
        dialed.onConn(dialed.link.server);
        ok(dialed.link.client);
      });
      return () => clearImmediate(timer);
    });
  }
}
