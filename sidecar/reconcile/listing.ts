import type { Clock } from "../lib/clock";
import type { BackendSnapshot } from "../model/types";
import type { BackendSource } from "../source/backend-source";

/** A listing is taken whole again once older than this, whatever the hints said (beside a pass, see get). */
const MAX_AGE_MS = 10_000;
/** More backends than this to look at again: one whole listing is cheaper than their ids. */
const MAX_DELTA_IDS = 64;

/**
 * The source's listing, kept between passes. While the source's watch is connected every change
 * comes as a hint naming its backend, so a pass looks again at those backends only (when the
 * source can list by id), and reuses the rest: a change costs the same whatever the fleet's size.
 * Taken whole at start and on every reconnection (`invalidate()`); once older than MAX_AGE_MS,
 * and for a resync, off the pass (`prefetch()`): a pass for a hint never waits behind a whole listing
 * of a large fleet only because a resync was due.
 */
export class Listing {
  private byId = new Map<string, BackendSnapshot>();
  private at = Number.NEGATIVE_INFINITY;
  private whole = true;
  /** When the whole listing was last asked for again: one asked for earlier does not do. */
  private wholeAfter = Number.NEGATIVE_INFINITY;
  private readonly dirty = new Set<string>();
  /** A whole listing taken off a pass (prefetch), for the next one, and when it was asked for. */
  private ready: {
    readonly snapshots: readonly BackendSnapshot[];
    readonly at: number;
    readonly tookMs: number;
  } | null = null;
  /** How long the prefetched listing the last get() took up had taken (0: none). */
  adoptedMs = 0;
  /** Backends hints named since that listing was asked for: what it says of them may be older. */
  private namedSince: Set<string> | null = null;
  private prefetching: Promise<void> | null = null;

  constructor(
    private readonly source: BackendSource,
    private readonly clock: Clock,
  ) {}

  /** `id` changed (a hint): look at it again. Without one: take the whole listing again. */
  invalidate(id?: string): void {
    if (id === undefined) {
      this.whole = true;
      this.wholeAfter = this.clock.now();
    } else {
      this.dirty.add(id);
      this.namedSince?.add(id);
    }
  }

  /**
   * Takes the whole listing now, off any pass (a resync): the next get() uses it instead of
   * waiting on Docker, and a pass for a hint meanwhile is not held behind it. The backends hints
   * name meanwhile are looked at again (by id) when it is used. When it fails, the next get()
   * takes the whole listing itself, as without it. Never rejects.
   */
  prefetch(signal?: AbortSignal): Promise<void> {
    if (this.prefetching !== null) return this.prefetching;
    const at = this.clock.now();
    // Since the earliest listing not used yet: naming a few too many only costs a lookup by id.
    this.namedSince ??= new Set();
    this.prefetching = this.source
      .list(signal)
      .then(
        (snapshots) => {
          this.ready = { snapshots, at, tookMs: this.clock.now() - at };
        },
        () => {
          // Unless an earlier one is still there to be used, the next pass lists whole itself.
          if (this.ready !== null) return;
          this.namedSince = null;
          this.whole = true;
        },
      )
      .finally(() => {
        this.prefetching = null;
      });
    return this.prefetching;
  }

  async get(signal?: AbortSignal): Promise<BackendSnapshot[]> {
    this.adoptReady();
    const now = this.clock.now();
    // What is looked at now; hints that come in while the listing is under way stay for the next.
    const ids = [...this.dirty];
    // A source that cannot list by id, or too many ids: the whole listing.
    const narrow = this.source.listById === true && ids.length <= MAX_DELTA_IDS;
    // Too old: a source that lists by id takes the whole listing again beside this pass (the
    // next one uses it); one that cannot lists whole for any change anyway.
    const old = now - this.at >= MAX_AGE_MS;
    const whole = this.whole || (old && this.source.listById !== true) || (ids.length > 0 && !narrow);
    if (old && !whole) void this.prefetch();
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

  /** A prefetched whole listing becomes the listing, unless a newer one was asked for since. */
  private adoptReady(): void {
    const ready = this.ready;
    this.adoptedMs = 0;
    if (ready === null) return;
    const named = this.namedSince ?? new Set<string>();
    this.ready = null;
    this.namedSince = null;
    if (ready.at < this.wholeAfter) return;
    this.byId = new Map(ready.snapshots.map((s) => [s.id, s]));
    this.at = ready.at;
    this.whole = false;
    this.adoptedMs = ready.tookMs;
    for (const id of named) this.dirty.add(id);
  }
}
