import { serviceOf } from "./desired-state";
import { parseLbLabels } from "./labels";
import type { ChangeHint } from "./types";

/** One change to a set of ids: what a hint does to it, applied by its owner (in O(1), not a copy). */
export type IdSetChange = { readonly add: string } | { readonly remove: string } | null;

/**
 * Pure: what one hint does to the set of backends that are shutting down but may still be
 * listed as running. A source says "leaving" before the process is gone (Docker's `kill` comes
 * before `die` and `stop`), so routing stops then, not after the listing shows it. A change,
 * not a new set: a fleet of thousands stopping at once is thousands of hints.
 */
export function leavingChange(draining: ReadonlySet<string>, hint: ChangeHint): IdSetChange {
  if (hint.kind === "leaving") return draining.has(hint.id) ? null : { add: hint.id };
  // Not on `gone`: a listing taken before the removal may still show it running (a pass in
  // flight); pruneLeaving forgets it once a listing no longer does.
  if (hint.kind === "started" && draining.has(hint.id)) return { remove: hint.id };
  return null;
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

/** A backend created with our label and not started yet: when its creation was seen, and the backend it will join. */
export interface PendingStart {
  readonly seenAt: number;
  readonly service: string;
}

/** Backends created with our label and not started yet, by id. */
export type PendingStarts = ReadonlyMap<string, PendingStart>;

/** One change to the pending starts, applied by their owner (in O(1), not a copy). */
export type PendingStartChange =
  { readonly set: string; readonly entry: PendingStart } | { readonly remove: string } | null;

/**
 * Pure: what one hint does to the pending starts. `docker-compose up --scale` creates every new
 * replica within a fraction of a second, then starts them over several seconds; while starts
 * are pending, the burst is not over. Creations with bad labels are not waited for.
 */
export function pendingStartChange(
  pending: PendingStarts,
  hint: ChangeHint,
  nowMs: number,
  opts: { readonly labelPrefix: string; readonly defaultService: string },
): PendingStartChange {
  if (hint.kind === "created") {
    const parsed = parseLbLabels(hint.labels, opts.labelPrefix);
    if (!parsed.ok || !parsed.value.enabled) return null;
    return {
      set: hint.id,
      entry: { seenAt: nowMs, service: serviceOf(parsed.value.backend, hint.group, opts.defaultService) },
    };
  }
  if ((hint.kind === "started" || hint.kind === "gone" || hint.kind === "leaving") && pending.has(hint.id))
    return { remove: hint.id };
  return null;
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
  const next = new Map<string, PendingStart>();
  for (const [id, p] of pending) {
    if (nowMs - p.seenAt < ttlMs) next.set(id, p);
    else changed = true;
  }
  return changed ? next : pending;
}
