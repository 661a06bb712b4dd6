/**
 * The kernel's event queue: a growable ring buffer that stores each event as four flat slots
 * (target, event, args, sender) instead of an object, so a queued event allocates nothing but
 * its argument array. Array#shift is O(n) on large arrays, hence the ring.
 */
export interface Queued<S> {
  target: S;
  event: string;
  args: unknown[];
  sender: S;
}

/** Capacity (in events) the ring starts with, and returns to once a deep queue has drained. */
const INITIAL_EVENTS = 64;
/** A drained ring bigger than this many events is given back, so one burst does not pin memory. */
const SHRINK_ABOVE_EVENTS = 65_536;

export class EventQueue<S> {
  private slots: unknown[] = new Array(INITIAL_EVENTS * 4);
  private head = 0;
  private tail = 0;
  private mask = INITIAL_EVENTS * 4 - 1;
  length = 0;

  push(target: S, event: string, args: unknown[], sender: S): void {
    if (this.length * 4 === this.mask + 1) this.grow();
    const s = this.slots;
    const t = this.tail;
    s[t] = target;
    s[t + 1] = event;
    s[t + 2] = args;
    s[t + 3] = sender;
    this.tail = (t + 4) & this.mask;
    this.length++;
  }

  /** Moves the oldest event into `out`; false when the queue is empty. */
  shiftInto(out: Queued<S>): boolean {
    if (this.length === 0) return false;
    const s = this.slots;
    const h = this.head;
    out.target = s[h] as S;
    out.event = s[h + 1] as string;
    out.args = s[h + 2] as unknown[];
    out.sender = s[h + 3] as S;
    s[h] = s[h + 1] = s[h + 2] = s[h + 3] = undefined;
    this.head = (h + 4) & this.mask;
    if (--this.length === 0 && this.mask + 1 > SHRINK_ABOVE_EVENTS * 4) this.reset();
    return true;
  }

  private reset(): void {
    this.slots = new Array(INITIAL_EVENTS * 4);
    this.head = this.tail = 0;
    this.mask = INITIAL_EVENTS * 4 - 1;
  }

  private grow(): void {
    const size = this.mask + 1;
    const next: unknown[] = new Array(size * 2);
    for (let i = 0; i < size; i++) next[i] = this.slots[(this.head + i) & this.mask];
    this.slots = next;
    this.head = 0;
    this.tail = size;
    this.mask = size * 2 - 1;
  }
}
