/**
 * The run queue: highest priority first, then first come, first served. A binary heap on
 * (priority, arrival), so a long queue costs O(log n) per job.
 */
export class RunQueue<T extends { readonly priority: number }> {
  private heap: { item: T; seq: number }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(item: T): void {
    this.heap.push({ item, seq: this.seq++ });
    this.up(this.heap.length - 1);
  }

  /** The next item to run, or undefined. */
  shift(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined) return undefined;
    if (heap.length > 0) {
      heap[0] = last;
      this.down(0);
    }
    return top.item;
  }

  /** Takes one item out wherever it is; false when it was not queued. */
  remove(item: T): boolean {
    const i = this.heap.findIndex((e) => e.item === item);
    if (i < 0) return false;
    const last = this.heap.pop() as { item: T; seq: number };
    if (i < this.heap.length) {
      this.heap[i] = last;
      this.down(i);
      this.up(i);
    }
    return true;
  }

  /** The items in the order they would run. */
  toArray(): T[] {
    return [...this.heap].sort((a, b) => (this.before(a, b) ? -1 : 1)).map((e) => e.item);
  }

  private before(a: { item: T; seq: number }, b: { item: T; seq: number }): boolean {
    return a.item.priority > b.item.priority || (a.item.priority === b.item.priority && a.seq < b.seq);
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < heap.length && this.before(heap[l]!, heap[best]!)) best = l;
      if (r < heap.length && this.before(heap[r]!, heap[best]!)) best = r;
      if (best === i) return;
      [heap[i], heap[best]] = [heap[best]!, heap[i]!];
      i = best;
    }
  }
}
