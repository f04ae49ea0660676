import type { Clock, TimerHandle } from "../lib/clock";
import type { Backend, BackendSnapshot } from "../model/types";
import type { ReadinessProbe } from "../probe/readiness";

export interface ReadinessOptions {
  /** How often a backend that does not listen yet is probed again. */
  readonly pollMs: number;
  /** A backend that does not listen after this long is only probed again on ordinary passes. */
  readonly patienceMs: number;
}

export interface ReadinessVerdict {
  /** Candidates that do not accept connections yet. */
  readonly notListening: ReadonlySet<string>;
  /** Of those, the ones still watched (not past the patience): told to `onReady` when they listen. */
  readonly awaiting: ReadonlySet<string>;
}

/**
 * Backends with a health check of their own are gated by it; the others by a connect to their
 * port, once, until they answer: from then on HAProxy's checks watch them. A candidate that does
 * not listen yet is watched in the background (probed every `pollMs`), and the moment it
 * answers, `onReady` is told: its pass follows at once, not at the next event or resync.
 */
export class ReadinessGate {
  /** Backends that accepted a connection once. */
  private readonly ready = new Set<string>();
  private readonly firstUnreadyAt = new Map<string, number>();
  private readonly watched = new Map<string, { backend: Backend; timer: TimerHandle | null }>();
  private listener: (id: string) => void = () => undefined;
  private stopped = false;

  constructor(
    private readonly probe: ReadinessProbe,
    private readonly clock: Clock,
    private readonly opts: ReadinessOptions,
  ) {}

  /** Who to tell when a watched backend starts to listen. */
  onReady(listener: (id: string) => void): void {
    this.listener = listener;
  }

  /** Forgets backends that are no longer running. */
  prune(running: ReadonlySet<string>): void {
    for (const id of this.ready) if (!running.has(id)) this.ready.delete(id);
    for (const id of this.firstUnreadyAt.keys()) if (!running.has(id)) this.firstUnreadyAt.delete(id);
  }

  /**
   * Stops watching a backend that is leaving, now rather than at the next pass: its address may
   * soon be another container's, whose listening must not ready this one's server.
   */
  forget(id: string): void {
    this.unwatch(id);
    this.firstUnreadyAt.delete(id);
  }

  /** Probes each candidate that is not known to be ready, once; watches those that do not answer. */
  async check(snapshots: readonly BackendSnapshot[], candidates: readonly Backend[]): Promise<ReadinessVerdict> {
    const health = new Map(snapshots.map((s) => [s.id, s.health]));
    const toProbe = candidates.filter((b) => health.get(b.sourceId) === "none" && !this.ready.has(b.sourceId));
    const probed = new Set(toProbe.map((b) => b.sourceId));
    for (const id of this.watched.keys()) if (!probed.has(id)) this.unwatch(id);
    const answers = await Promise.all(
      toProbe.map(async (b) => [b, await this.probe.isListening(b.address, b.port)] as const),
    );
    const notListening = new Set<string>();
    const awaiting = new Set<string>();
    const now = this.clock.now();
    for (const [b, listening] of answers) {
      if (listening) {
        this.markReady(b.sourceId);
        continue;
      }
      notListening.add(b.sourceId);
      const since = this.firstUnreadyAt.get(b.sourceId) ?? now;
      this.firstUnreadyAt.set(b.sourceId, since);
      if (now - since < this.opts.patienceMs) {
        awaiting.add(b.sourceId);
        this.watch(b);
      } else {
        this.unwatch(b.sourceId);
      }
    }
    return { notListening, awaiting };
  }

  /** Stops every watch. */
  stop(): void {
    this.stopped = true;
    for (const id of [...this.watched.keys()]) this.unwatch(id);
  }

  private watch(b: Backend): void {
    const current = this.watched.get(b.sourceId);
    if (current !== undefined) {
      current.backend = b; // its address may have changed
      return;
    }
    const entry = { backend: b, timer: null as TimerHandle | null };
    this.watched.set(b.sourceId, entry);
    const tick = (): void => {
      entry.timer = null;
      void this.probe.isListening(entry.backend.address, entry.backend.port).then((listening) => {
        if (this.stopped || this.watched.get(b.sourceId) !== entry) return;
        if (listening) {
          this.markReady(b.sourceId);
          this.listener(b.sourceId);
        } else if (this.clock.now() - (this.firstUnreadyAt.get(b.sourceId) ?? 0) < this.opts.patienceMs) {
          entry.timer = this.clock.setTimeout(tick, this.opts.pollMs);
        } else {
          this.unwatch(b.sourceId);
        }
      });
    };
    entry.timer = this.clock.setTimeout(tick, this.opts.pollMs);
  }

  private unwatch(id: string): void {
    const entry = this.watched.get(id);
    if (entry !== undefined && entry.timer !== null) this.clock.clearTimeout(entry.timer);
    this.watched.delete(id);
  }

  private markReady(id: string): void {
    this.ready.add(id);
    this.firstUnreadyAt.delete(id);
    this.unwatch(id);
  }
}
