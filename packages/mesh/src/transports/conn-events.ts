/**
 * What every Conn owes its handlers, kept in one place: events that arrive before attach()
 * are held, never lost; close is delivered once; nothing is delivered after it.
 */
import { IkcError } from '@ikc/wire';
import type { CloseInfo, ConnHandlers } from '../transport.js';

type Held = { kind: 'message'; data: Uint8Array } | { kind: 'close'; info: CloseInfo } | { kind: 'drain' };

export class ConnEvents {
  #handlers: ConnHandlers | undefined;
  /** Events waiting for attach(), then for the microtask that replays them; undefined once live. */
  #held: Held[] | undefined = [];
  #closed = false;

  /** True once close has been delivered or is held for delivery. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Held events are replayed in a microtask rather than inside attach(), so a caller may
   * finish setting up after attach() returns and still see every event.
   */
  attach(handlers: ConnHandlers): void {
    if (this.#handlers !== undefined) {
      throw new IkcError('IKC_ERR_INVALID_ARG', 'attach() was already called on this conn');
    }
    this.#handlers = handlers;
    if (this.#held?.length === 0) this.#held = undefined;
    else queueMicrotask(() => this.#replay());
  }

  message(data: Uint8Array): void {
    if (this.#closed) return;
    if (this.#held !== undefined) this.#held.push({ kind: 'message', data });
    else this.#handlers?.message(data);
  }

  drain(): void {
    if (this.#closed) return;
    if (this.#held !== undefined) this.#held.push({ kind: 'drain' });
    else this.#handlers?.drain?.();
  }

  close(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#held !== undefined) this.#held.push({ kind: 'close', info });
    else this.#handlers?.close(info);
  }

  #replay(): void {
    const handlers = this.#handlers!;
    // Events that arrive while replaying join the end of the list, keeping their order.
    const held = this.#held!;
    for (let i = 0; i < held.length; i++) {
      const event = held[i]!;
      if (event.kind === 'message') handlers.message(event.data);
      else if (event.kind === 'drain') handlers.drain?.();
      else handlers.close(event.info);
    }
    this.#held = undefined;
  }
}
