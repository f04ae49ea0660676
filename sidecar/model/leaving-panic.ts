import { serviceOf } from "./desired-state";
import { parseLbLabels } from "./labels";
import type { Backend, BackendSnapshot, DesiredState, Exclusion, ExclusionReason, Service } from "./types";

export interface LeavingPanicInput {
  /** The state the gates built: leaving backends already left out (reason `draining`). */
  readonly state: DesiredState;
  readonly excluded: readonly Exclusion[];
  readonly snapshots: readonly BackendSnapshot[];
  /** What HAProxy routes now (the last state applied); null before the first apply. */
  readonly applied: DesiredState | null;
  /** 0–1: draining never leaves a backend fewer than this share of the servers that can serve now. */
  readonly threshold: number;
  /**
   * Each backend's replacements on their way: candidates that run and are left out only because
   * they do not answer yet (not listening, health check starting).
   */
  readonly pending: ReadonlyMap<string, number>;
}

/** The exclusions of a candidate that is coming, not going: it runs, its app is not ready yet. */
export const NOT_READY_YET: ReadonlySet<ExclusionReason> = new Set(["not-listening", "health-starting"]);

export interface LeavingPanicDecision {
  readonly state: DesiredState;
  readonly excluded: readonly Exclusion[];
  /** Backends whose leaving servers are kept routed: draining them would leave too few. */
  readonly panic: readonly string[];
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Pure: servers that are leaving (their container was told to stop, a task was shut down) but
 * still run stay routed where draining them would leave their backend
 * - empty: a leaving server that still answers for a moment is better than a 503 for everyone;
 * - or fewer than `threshold` of the servers that can serve now (those staying plus those
 *   leaving) while replacements are on their way (running, not answering yet): Swarm moves on to
 *   the next task as soon as a container runs, not once its app listens, so a rolling update
 *   can shut every old task down before one new app answers.
 * A scale-down (leavers and no replacement) drains them at once, whatever is left. A kept server
 * that no longer accepts connections costs a retry on another one (and HAProxy marks it down at
 * once). Only servers HAProxy routes now are kept: a leaving one is never added back.
 */
export function keepLeavingServers(input: LeavingPanicInput): LeavingPanicDecision {
  const { state, excluded, applied, threshold } = input;
  if (applied === null || threshold <= 0) return { state, excluded, panic: [] };
  const running = new Set(input.snapshots.filter((s) => s.running).map((s) => s.id));
  const draining = new Set(excluded.filter((e) => e.reason === "draining").map((e) => e.sourceId));
  const services = new Map(state.services.map((s) => [s.name, s]));
  const kept = new Set<string>();
  const panic: string[] = [];
  for (const before of applied.services) {
    const now = services.get(before.name);
    const staying = new Set((now?.servers ?? []).map((b) => b.name));
    const leaving = before.servers.filter(
      (b) => !staying.has(b.name) && draining.has(b.sourceId) && running.has(b.sourceId),
    );
    if (leaving.length === 0) continue;
    const empty = staying.size === 0;
    const tooFew =
      staying.size < threshold * (staying.size + leaving.length) && (input.pending.get(before.name) ?? 0) > 0;
    if (!empty && !tooFew) continue;
    panic.push(before.name);
    for (const b of leaving) kept.add(b.sourceId);
    const servers: Backend[] = [...(now?.servers ?? []), ...leaving].sort((a, b) => compareText(a.name, b.name));
    services.set(before.name, { name: before.name, sticky: now?.sticky ?? before.sticky, servers } satisfies Service);
  }
  if (panic.length === 0) return { state, excluded, panic };
  return {
    state: { ...state, services: [...services.values()].sort((a, b) => compareText(a.name, b.name)) },
    excluded: excluded.filter((e) => !kept.has(e.sourceId)),
    panic: panic.sort(compareText),
  };
}

/**
 * Pure: whether stopping routing to `drainingIds` now (before the pass) could leave `backend`
 * with too few servers: none left, or fewer than `threshold` of those HAProxy routes in it while
 * replacements are on their way (`pending`, from the last pass). Then the early drain waits for
 * the pass, which knows about replacements and keeps the leaving ones if it must.
 */
export function drainWouldPanic(
  applied: DesiredState | null,
  backend: string,
  drainingIds: ReadonlySet<string>,
  threshold: number,
  pending: number,
): boolean {
  if (threshold <= 0) return false;
  const servers = applied?.services.find((s) => s.name === backend)?.servers ?? [];
  const staying = servers.filter((b) => !drainingIds.has(b.sourceId)).length;
  return staying === 0 || (staying < threshold * servers.length && pending > 0);
}

/**
 * Pure: how many replacements each backend has on its way: candidates left out only because they
 * do not answer yet (NOT_READY_YET), counted in the backend their labels put them in.
 */
export function pendingReplacements(
  excluded: readonly Exclusion[],
  snapshots: readonly BackendSnapshot[],
  opts: { readonly labelPrefix: string; readonly defaultService: string },
): Map<string, number> {
  const byId = new Map(snapshots.map((s) => [s.id, s]));
  const out = new Map<string, number>();
  for (const e of excluded) {
    if (!NOT_READY_YET.has(e.reason)) continue;
    const s = byId.get(e.sourceId);
    const parsed = s === undefined ? null : parseLbLabels(s.labels, opts.labelPrefix);
    if (s === undefined || parsed === null || !parsed.ok) continue;
    const backend = serviceOf(parsed.value.backend, s.group, opts.defaultService);
    out.set(backend, (out.get(backend) ?? 0) + 1);
  }
  return out;
}
