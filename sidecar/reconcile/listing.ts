import type { Clock } from "../lib/clock";
import type { BackendSnapshot } from "../model/types";
import type { BackendSource } from "../source/backend-source";

/** A listing is taken whole again once older than this, whatever the hints said. */
const MAX_AGE_MS = 10_000;
/** More backends than this to look at again: one whole listing is cheaper than their ids. */
const MAX_DELTA_IDS = 64;

/**
 * The source's listing, kept between passes. While the source's watch is connected every change
 * comes as a hint naming its backend, so a pass looks again at those backends only (when the
 * source can list by id), and reuses the rest: a change costs the same whatever the fleet's size.
 * Taken whole at start, on every reconnection and resync (`invalidate()`), and once older than
 * MAX_AGE_MS.
 */
export class Listing {
  private byId = new Map<string, BackendSnapshot>();
  private at = Number.NEGATIVE_INFINITY;
  private whole = true;
  private readonly dirty = new Set<string>();

  constructor(
    private readonly source: BackendSource,
    private readonly clock: Clock,
  ) {}

  /** `id` changed (a hint): look at it again. Without one: take the whole listing again. */
  invalidate(id?: string): void {
    if (id === undefined) this.whole = true;
    else this.dirty.add(id);
  }

  async get(signal?: AbortSignal): Promise<BackendSnapshot[]> {
    const now = this.clock.now();
    // What is looked at now; hints that come in while the listing is under way stay for the next.
    const ids = [...this.dirty];
    // A source that cannot list by id, or too many ids: the whole listing.
    const narrow = this.source.listById === true && ids.length <= MAX_DELTA_IDS;
    const whole = this.whole || now - this.at >= MAX_AGE_MS || (ids.length > 0 && !narrow);
    if (!whole && ids.length === 0) return [...this.byId.values()];
    const wasWhole = this.whole;
    this.whole = false;
    for (const id of ids) this.dirty.delete(id);
    try {
      const snapshots = await (whole ? this.source.list(signal) : this.source.list(signal, ids));
      if (whole) {
        this.byId = new Map(snapshots.map((s) => [s.id, s]));
        this.at = now;
      } else {
        // Those it no longer lists are gone (stopped, removed, off the network).
        for (const id of ids) this.byId.delete(id);
        for (const s of snapshots) this.byId.set(s.id, s);
      }
      return [...this.byId.values()];
    } catch (err) {
      this.whole ||= wasWhole || whole;
      for (const id of ids) this.dirty.add(id);
      throw err;
    }
  }
}
