import { serviceOf } from "./desired-state";
import { parseLbLabels } from "./labels";
import type { ChangeHint } from "./types";

/**
 * Pure: folds one hint into the set of backends that are shutting down but may still be listed
 * as running. A source says "leaving" before the process is gone (Docker's `kill` comes before
 * `die` and `stop`), so routing stops then, not after the listing shows it.
 */
export function foldLeaving(draining: ReadonlySet<string>, hint: ChangeHint): ReadonlySet<string> {
  if (hint.kind === "leaving") return draining.has(hint.id) ? draining : new Set(draining).add(hint.id);
  // Not on `gone`: a listing taken before the removal may still show it running (a pass in
  // flight); pruneLeaving forgets it once a listing no longer does.
  if (hint.kind === "started" && draining.has(hint.id)) {
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

/** Backends created with our label and not started yet: when their creation was seen, and the backend they will join. */
export type PendingStarts = ReadonlyMap<string, { readonly seenAt: number; readonly service: string }>;

/**
 * Pure: folds one hint into the pending starts. `docker-compose up --scale` creates every new
 * replica within a fraction of a second, then starts them over several seconds; while starts
 * are pending, the burst is not over. Creations with bad labels are not waited for.
 */
export function foldPendingStart(
  pending: PendingStarts,
  hint: ChangeHint,
  nowMs: number,
  opts: { readonly labelPrefix: string; readonly defaultService: string },
): PendingStarts {
  if (hint.kind === "created") {
    const parsed = parseLbLabels(hint.labels, opts.labelPrefix);
    if (!parsed.ok || !parsed.value.enabled) return pending;
    const service = serviceOf(parsed.value.backend, hint.group, opts.defaultService);
    return new Map(pending).set(hint.id, { seenAt: nowMs, service });
  }
  if ((hint.kind === "started" || hint.kind === "gone" || hint.kind === "leaving") && pending.has(hint.id)) {
    const next = new Map(pending);
    next.delete(hint.id);
    return next;
  }
  return pending;
}

/**
 * Whether a start is still expected that would add a backend not in `existing` (a structural
 * change, so a reload: worth waiting for the rest of the burst). Members of existing backends
 * are added through the runtime API one by one and are not waited for. A creation older than
 * `ttlMs` (never started) no longer counts.
 */
export function hasPendingStarts(
  pending: PendingStarts,
  nowMs: number,
  ttlMs: number,
  existing: ReadonlySet<string>,
): boolean {
  for (const { seenAt, service } of pending.values()) if (nowMs - seenAt < ttlMs && !existing.has(service)) return true;
  return false;
}

/** Drops creations older than `ttlMs`: the map never grows with containers that never start. */
export function prunePendingStarts(pending: PendingStarts, nowMs: number, ttlMs: number): PendingStarts {
  let changed = false;
  const next = new Map<string, { seenAt: number; service: string }>();
  for (const [id, p] of pending) {
    if (nowMs - p.seenAt < ttlMs) next.set(id, p);
    else changed = true;
  }
  return changed ? next : pending;
}
