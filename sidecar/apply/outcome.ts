import type { RuntimeResult } from "./runtime-apply";
import type { ReplicaOutcome } from "./target";

/** What one apply did, for the fleet as a whole (each replica's own: ReplicaOutcome). */
export type ApplyOutcome =
  /** HAProxy already runs this exact config. */
  | { readonly kind: "unchanged" }
  /**
   * Membership changed through the runtime API, confirmed by reading the servers back; no
   * reload. `written`: the file, which follows in the background, differs and was queued.
   */
  | { readonly kind: "runtime"; readonly written: boolean; readonly result: RuntimeResult }
  /** Written (if needed), signalled, and HAProxy confirmed it loaded it (every replica signalled, in turn). */
  | { readonly kind: "reloaded"; readonly written: boolean; readonly signals: number; readonly fallback: string | null }
  /** Written; no HAProxy runs, it will read the file when it starts. */
  | { readonly kind: "no-haproxy"; readonly written: boolean }
  /** `haproxy -c` refused it: the live file was left untouched, HAProxy brought back to it. */
  | { readonly kind: "rejected"; readonly message: string; readonly repeated: boolean };

/** Raised for what is worth retrying (I/O, Docker, an unconfirmed reload). */
export class ApplyError extends Error {
  override readonly name = "ApplyError";
}

const union = (lists: ReadonlyArray<readonly string[]>): string[] => [...new Set(lists.flat())];

/**
 * Pure: the fleet's outcome from each running replica's. The strongest thing any replica went
 * through tells it: a reload (the most signals it took, the first fallback), else a runtime
 * change (what changed anywhere), else nothing (`written`: the file changed all the same). With
 * no replica brought there: the first failure (to be retried), or no HAProxy at all.
 * @param background the file follows in the background (no replica needed a reload).
 */
export function fleetOutcome(
  outcomes: readonly ReplicaOutcome[],
  written: boolean,
  background: boolean,
): ApplyOutcome | Error {
  const done = outcomes.filter((o) => o.kind !== "failed" && o.kind !== "skipped");
  if (done.length === 0) {
    const failed = outcomes.find((o) => o.kind === "failed");
    return failed !== undefined ? failed.error : { kind: "no-haproxy", written };
  }
  const reloads = done.flatMap((o) => (o.kind === "reloaded" ? [o] : []));
  if (reloads.some((o) => o.signals > 0))
    return {
      kind: "reloaded",
      written,
      signals: Math.max(...reloads.map((o) => o.signals)),
      fallback: reloads.find((o) => o.fallback !== null)?.fallback ?? null,
    };
  const runtime = done.flatMap((o) => (o.kind === "runtime" ? [o.result] : []));
  if (runtime.length > 0 || (written && background))
    return {
      kind: "runtime",
      written,
      result: {
        added: union(runtime.map((r) => r.added)),
        changed: union(runtime.map((r) => r.changed)),
        removed: union(runtime.map((r) => r.removed)),
        pendingDeletes: union(runtime.map((r) => r.pendingDeletes)),
      },
    };
  return written ? { kind: "reloaded", written, signals: 0, fallback: null } : { kind: "unchanged" };
}
