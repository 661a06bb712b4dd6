/**
 * A FIFO on a growable ring buffer. Array#shift is O(n) on large arrays, and the event queue
 * is the kernel's hottest structure, so it gets its own small class.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = new Array(64);
  private head = 0;
  private tail = 0;
  private mask = 63;
  length = 0;

  push(item: T): void {
    if (this.length === this.mask + 1) this.grow();
    this.items[this.tail] = item;
    this.tail = (this.tail + 1) & this.mask;
    this.length++;
  }

  /** Caller must check `length` first; an empty queue returns undefined. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.length--;
    return item;
  }

  private grow(): void {
    const size = this.mask + 1;
    const next: (T | undefined)[] = new Array(size * 2);
    for (let i = 0; i < size; i++) next[i] = this.items[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.tail = size;
    this.mask = size * 2 - 1;
  }
}
