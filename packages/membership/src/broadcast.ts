import type { Update } from './messages.js';
import { msgpackSize } from './size.js';

/**
 * How many times each member sends one update: retransmitMult × ceil(log10(N + 1)). An
 * epidemic needs O(log N) rounds to reach everyone, so this grows with log N, and the load
 * each member carries per update does too, never with N itself.
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

interface Item {
  key: string;
  update: Update;
  size: number;
  transmits: number;
  /** Enqueue order: newer is larger. */
  order: number;
}

/**
 * The updates waiting to be piggybacked (memberlist's TransmitLimitedQueue). Each carries a
 * key (the member it is about, and the kind of fact): a newer update for the same key
 * replaces the older one, which is never sent again. Updates sent fewer times go first,
 * and among those the newest; each leaves the queue after `limit` sends.
 */
export class BroadcastQueue {
  private items: Item[] = [];
  private readonly byKey = new Map<string, Item>();
  private counter = 0;
  private sorted = true;

  get size(): number {
    return this.items.length;
  }

  /** True while an update for `key` is still waiting to be sent (again). */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  enqueue(key: string, update: Update): void {
    const old = this.byKey.get(key);
    if (old) this.items.splice(this.items.indexOf(old), 1);
    const item: Item = { key, update, size: msgpackSize(update), transmits: 0, order: ++this.counter };
    this.byKey.set(key, item);
    // Newest, never sent: it belongs in front; keeping it there spares a sort.
    if (this.sorted) this.items.unshift(item);
    else this.items.push(item);
  }

  /**
   * Updates that fit in `budget` bytes (their estimated msgpack sizes, plus one byte of
   * array overhead each), counted as sent once more; those sent `limit` times leave.
   */
  take(budget: number, limit: number): Update[] {
    const out: Update[] = [];
    if (this.items.length === 0 || budget <= 0) return out;
    if (!this.sorted) {
      this.items.sort((a, b) => a.transmits - b.transmits || b.order - a.order);
      this.sorted = true;
    }
    let remaining = budget;
    let finished = false;
    for (const item of this.items) {
      if (item.size + 1 > remaining) {
        if (remaining < 32) break;
        continue;
      }
      remaining -= item.size + 1;
      out.push(item.update);
      item.transmits++;
      if (item.transmits >= limit) finished = true;
    }
    if (out.length > 0) this.sorted = this.items.length <= 1;
    if (finished) {
      this.items = this.items.filter((item) => {
        if (item.transmits < limit) return true;
        this.byKey.delete(item.key);
        return false;
      });
    }
    return out;
  }

  clear(): void {
    this.items = [];
    this.byKey.clear();
  }
}
