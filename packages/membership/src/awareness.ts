/**
 * Lifeguard's local health awareness: a score that rises when this member's own probes go
 * unanswered (failed probes, missing nacks, having to refute a suspicion) and falls with
 * each successful probe. A slow or overloaded member thus waits longer before it suspects
 * others, instead of blaming them for its own trouble.
 */
export class Awareness {
  private value = 0;

  /** `max` is the multiplier ceiling: the score stays in 0 .. max - 1. */
  constructor(private readonly max: number) {}

  get score(): number {
    return this.value;
  }

  /** Returns true when the score changed. */
  apply(delta: number): boolean {
    const before = this.value;
    this.value = Math.min(this.max - 1, Math.max(0, this.value + delta));
    return this.value !== before;
  }

  /** `ms` stretched by the current health: × (score + 1). */
  scale(ms: number): number {
    return ms * (this.value + 1);
  }
}
