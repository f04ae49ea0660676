import type { ChangeHint } from "./types";

/**
 * Pure: folds one hint into the set of backends that are shutting down but may still be listed
 * as running. A source says "leaving" before the process is gone (Docker's `kill` comes before
 * `die` and `stop`), so routing stops then, not after the listing shows it.
 */
export function foldLeaving(draining: ReadonlySet<string>, hint: ChangeHint): ReadonlySet<string> {
  if (hint.kind === "leaving") return draining.has(hint.id) ? draining : new Set(draining).add(hint.id);
  if ((hint.kind === "started" || hint.kind === "gone") && draining.has(hint.id)) {
    const next = new Set(draining);
    next.delete(hint.id);
    return next;
  }
  return draining;
}

/** Forgets backends that are no longer running: their exclusion is now visible in the listing. */
export function pruneLeaving(draining: ReadonlySet<string>, runningIds: ReadonlySet<string>): ReadonlySet<string> {
  let changed = false;
  const next = new Set<string>();
  for (const id of draining) {
    if (runningIds.has(id)) next.add(id);
    else changed = true;
  }
  return changed ? next : draining;
}

/** Backends created with our label and not started yet, with the time their creation was seen. */
export type PendingStarts = ReadonlyMap<string, number>;

/**
 * Pure: folds one hint into the pending starts. `docker-compose up --scale` creates every new
 * replica within a fraction of a second, then starts them over several seconds; while starts
 * are pending, the burst is not over.
 */
export function foldPendingStart(
  pending: PendingStarts,
  hint: ChangeHint,
  nowMs: number,
  labelPrefix: string,
): PendingStarts {
  if (hint.kind === "created") {
    if (hint.labels[`${labelPrefix}.enable`] !== "true") return pending;
    return new Map(pending).set(hint.id, nowMs);
  }
  if ((hint.kind === "started" || hint.kind === "gone" || hint.kind === "leaving") && pending.has(hint.id)) {
    const next = new Map(pending);
    next.delete(hint.id);
    return next;
  }
  return pending;
}

/** Whether a start is still expected; a creation older than `ttlMs` (never started) no longer counts. */
export function hasPendingStarts(pending: PendingStarts, nowMs: number, ttlMs: number): boolean {
  for (const seen of pending.values()) if (nowMs - seen < ttlMs) return true;
  return false;
}

/** Drops creations older than `ttlMs`: the map never grows with containers that never start. */
export function prunePendingStarts(pending: PendingStarts, nowMs: number, ttlMs: number): PendingStarts {
  let changed = false;
  const next = new Map<string, number>();
  for (const [id, seen] of pending) {
    if (nowMs - seen < ttlMs) next.set(id, seen);
    else changed = true;
  }
  return changed ? next : pending;
}
