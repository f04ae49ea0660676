import { sleep, type Clock } from "../lib/clock";
import type { Backend, BackendSnapshot } from "../model/types";
import type { ReadinessProbe } from "../probe/readiness";

/** A backend that does not listen after this long is only probed again on ordinary passes. */
const PATIENCE_MS = 60_000;
/** Within one pass, how often to probe backends that do not listen yet. */
const POLL_MS = 50;

export interface ReadinessVerdict {
  /** Candidates that do not accept connections yet. */
  readonly notListening: ReadonlySet<string>;
  /** Of those, the ones worth looking at again shortly (not past the patience). */
  readonly awaitingReadiness: number;
}

/**
 * Backends with a health check of their own are gated by it; the others by a connect to their
 * port, once, until they answer: from then on HAProxy's checks watch them. Newcomers of a
 * burst become ready within a moment of each other: waiting a little within one pass gives one
 * reload for all of them instead of one per straggler.
 */
export class ReadinessGate {
  /** Backends that accepted a connection once. */
  private readonly ready = new Set<string>();
  private readonly firstUnreadyAt = new Map<string, number>();
  private cut: (() => void) | null = null;

  constructor(
    private readonly probe: ReadinessProbe,
    private readonly clock: Clock,
    private readonly waitMs: number,
  ) {}

  /** Forgets backends that are no longer running. */
  prune(running: ReadonlySet<string>): void {
    for (const id of this.ready) if (!running.has(id)) this.ready.delete(id);
    for (const id of this.firstUnreadyAt.keys()) if (!running.has(id)) this.firstUnreadyAt.delete(id);
  }

  /** Ends the current wait now: a backend leaving must not wait behind newcomers starting up. */
  cutWait(): void {
    this.cut?.();
  }

  async check(snapshots: readonly BackendSnapshot[], candidates: readonly Backend[]): Promise<ReadinessVerdict> {
    const health = new Map(snapshots.map((s) => [s.id, s.health]));
    const toProbe = candidates.filter((b) => health.get(b.sourceId) === "none" && !this.ready.has(b.sourceId));
    if (toProbe.length === 0) return { notListening: new Set(), awaitingReadiness: 0 };
    const notListening = await this.waitUntilListening(toProbe);
    const now = this.clock.now();
    let awaitingReadiness = 0;
    for (const id of notListening) {
      const since = this.firstUnreadyAt.get(id) ?? now;
      this.firstUnreadyAt.set(id, since);
      if (now - since < PATIENCE_MS) awaitingReadiness++;
    }
    return { notListening, awaitingReadiness };
  }

  /** Probes until every backend listens, the wait is over, or {@link cutWait} is called. */
  private async waitUntilListening(backends: readonly Backend[]): Promise<Set<string>> {
    const waiting = new Map(backends.map((b) => [b.sourceId, b]));
    const deadline = this.clock.now() + this.waitMs;
    let cut = false;
    this.cut = () => {
      cut = true;
    };
    try {
      for (;;) {
        await Promise.all(
          [...waiting.values()].map(async (b) => {
            if (await this.probe.isListening(b.address, b.port)) {
              this.ready.add(b.sourceId);
              this.firstUnreadyAt.delete(b.sourceId);
              waiting.delete(b.sourceId);
            }
          }),
        );
        if (waiting.size === 0 || cut || this.clock.now() + POLL_MS > deadline) break;
        await sleep(this.clock, POLL_MS);
      }
    } finally {
      this.cut = null;
    }
    return new Set(waiting.keys());
  }
}
