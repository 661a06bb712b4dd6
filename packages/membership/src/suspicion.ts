import type { Clock } from './clock.js';

/**
 * Remaining time of a suspicion, as in memberlist's suspicion.go (Lifeguard): the timeout
 * starts at `maxMs` and shrinks towards `minMs` as independent members confirm the
 * suspicion, on a log scale, reaching `minMs` after `k` confirmations:
 *   timeout = max - (max - min) × log(n + 1) / log(k + 1),   never below min,
 * minus what has already elapsed (so the result can be zero or negative).
 */
export function remainingSuspicionMs(
  n: number,
  k: number,
  elapsedMs: number,
  minMs: number,
  maxMs: number,
): number {
  const frac = k > 0 ? Math.log(n + 1) / Math.log(k + 1) : 1;
  const timeout = Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
  return timeout - elapsedMs;
}

/**
 * One suspicion timer. Created with the member that raised the suspicion (whose own
 * gossip must not count as a confirmation when it comes back), fires `onTimeout` once.
 */
export class Suspicion {
  private readonly confirmers = new Set<string>();
  private confirmations = 0;
  /** When the suspicion began, as the clock reads time. */
  readonly started: number;
  private timer: unknown;
  private done = false;

  constructor(
    private readonly clock: Clock,
    from: string,
    /** Confirmations wanted to reach the floor; 0 means the floor is used at once. */
    readonly k: number,
    readonly minMs: number,
    readonly maxMs: number,
    private readonly onTimeout: (confirmations: number) => void,
  ) {
    this.confirmers.add(from);
    this.started = clock.now();
    this.timer = clock.setTimer(() => this.fire(), k > 0 ? maxMs : minMs);
  }

  /** Confirmations counted so far. */
  get count(): number {
    return this.confirmations;
  }

  /** When the timer will fire, as the clock reads time. */
  get deadline(): number {
    return this.started + remainingSuspicionMs(this.confirmations, this.k, 0, this.minMs, this.maxMs);
  }

  /**
   * Registers that `from` also suspects the member. Returns true when that was new (a new
   * member, below k): the caller then passes the suspicion on.
   */
  confirm(from: string): boolean {
    if (this.done || this.confirmations >= this.k || this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    this.confirmations++;
    const remaining = remainingSuspicionMs(
      this.confirmations,
      this.k,
      this.clock.now() - this.started,
      this.minMs,
      this.maxMs,
    );
    this.clock.clearTimer(this.timer);
    this.timer = this.clock.setTimer(() => this.fire(), Math.max(0, remaining));
    return true;
  }

  cancel(): void {
    this.done = true;
    this.clock.clearTimer(this.timer);
  }

  private fire(): void {
    if (this.done) return;
    this.done = true;
    this.onTimeout(this.confirmations);
  }
}
