import type { Clock } from "../lib/clock";
import type { BackendSnapshot } from "../model/types";
import type { BackendSource } from "../source/backend-source";

/** A listing reused by passes that only readiness asked for is never older than this. */
const MAX_AGE_MS = 10_000;

/**
 * The source's listing, taken again unless nothing can have changed since the last one: no
 * hint came (every change comes as one while the watch is connected) and it is recent.
 */
export class Listing {
  private last: { readonly snapshots: BackendSnapshot[]; readonly at: number } | null = null;
  private stale = true;

  constructor(
    private readonly source: BackendSource,
    private readonly clock: Clock,
  ) {}

  /** Something changed (a hint, a reconnection): the next get lists again. */
  invalidate(): void {
    this.stale = true;
  }

  async get(signal?: AbortSignal): Promise<BackendSnapshot[]> {
    const now = this.clock.now();
    if (!this.stale && this.last !== null && now - this.last.at < MAX_AGE_MS) return this.last.snapshots;
    // Stale again if a hint arrives while the listing is under way.
    this.stale = false;
    try {
      const snapshots = await this.source.list(signal);
      this.last = { snapshots, at: now };
      return snapshots;
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }
}
