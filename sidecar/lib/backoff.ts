/**
 * Capped exponential backoff that never gives up: 250 ms, 500 ms, 1 s, … up to `capMs`,
 * back to the start after `reset()` (call it on success).
 */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs = 250,
    private readonly capMs = 30_000,
  ) {}

  /** Delay before the next attempt, and counts the attempt. */
  next(): number {
    const delay = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
