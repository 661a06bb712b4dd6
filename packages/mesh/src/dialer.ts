import type { IkcError } from '@ikc/wire';
import type { MeshTuning } from './defaults.js';
import type { Link } from './link.js';
import type { Logger } from './log.js';
import type { Mesh } from './mesh.js';
import type { Transport } from './transport.js';

/**
 * Keeps one outgoing link alive: dials, and after a drop or a failed attempt dials again
 * with exponential backoff and jitter (reconnectMinMs doubling up to reconnectMaxMs, plus a
 * random 0-50%), so a restarted cloud does not reconnect in lockstep.
 */
export class Dialer {
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private link: Link | undefined;
  /** The kernel this address led to last time, to avoid a second link while one is up. */
  private peerId: string | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly transport: Transport,
    readonly address: string,
    private readonly tuning: MeshTuning,
    private readonly log: Logger,
  ) {}

  /** Dials once; resolves when the conn is open (the handshake then runs), rejects if it cannot. */
  async dial(): Promise<Link> {
    const conn = await this.transport.connect(this.address, { timeoutMs: this.tuning.handshakeTimeoutMs });
    if (this.stopped) {
      conn.close(1000, 'stopped');
      throw new Error('dialer stopped');
    }
    this.link = this.mesh.adopt(conn, 'dialer', (link, why) => this.onDown(link, why));
    return this.link;
  }

  /**
   * Dials now, and keeps redialing whenever the link is down. The promise settles (never
   * rejects) when this first attempt has linked and synced registries, or has failed.
   */
  start(): Promise<void> {
    return this.dial().then(
      (link) =>
        link.whenUp().then(
          () => {
            this.attempts = 0;
            return this.mesh.synced(link);
          },
          () => {}, // a refused handshake: onDown redials
        ),
      (err: IkcError) => this.retry(err),
    );
  }

  private onDown(link: Link, why: { reason: string; error?: IkcError; wasUp: boolean }): void {
    if (link.peer) this.peerId = link.peer.id;
    if (this.stopped) return;
    if (link.peer?.id === this.mesh.kernel.id) {
      this.log.warn({ address: this.address }, 'seed is this kernel itself; not dialing it again');
      this.stopped = true;
      return;
    }
    // After a link that was up, start the backoff over: the first redial is quick again.
    if (why.wasUp) this.attempts = 0;
    this.retry(why.error);
  }

  private retry(err?: IkcError | Error): void {
    if (this.stopped) return;
    const base = Math.min(this.tuning.reconnectMaxMs, this.tuning.reconnectMinMs * 2 ** this.attempts);
    const delay = Math.round(base * (1 + Math.random() * 0.5));
    this.attempts++;
    this.log.debug({ address: this.address, delayMs: delay, err: err?.message }, 'redialing');
    this.timer = setTimeout(() => {
      // A link to that kernel may be up already (it dialed us): then only check again later,
      // without growing the backoff (the next real drop starts from reconnectMinMs).
      if (this.peerId && this.mesh.isLinked(this.peerId)) {
        this.attempts = 0;
        return this.retry();
      }
      void this.start();
    }, delay);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
