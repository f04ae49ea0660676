import type { Backend, BackendSnapshot, DesiredState, Exclusion, Service } from "./types";

export interface LeavingPanicInput {
  /** The state the gates built: leaving backends already left out (reason `draining`). */
  readonly state: DesiredState;
  readonly excluded: readonly Exclusion[];
  readonly snapshots: readonly BackendSnapshot[];
  /** What HAProxy routes now (the last state applied); null before the first apply. */
  readonly applied: DesiredState | null;
  /** 0–1: draining never leaves a backend fewer than this share of the servers that can serve now. */
  readonly threshold: number;
}

export interface LeavingPanicDecision {
  readonly state: DesiredState;
  readonly excluded: readonly Exclusion[];
  /** Backends whose leaving servers are kept routed: draining them would leave too few. */
  readonly panic: readonly string[];
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Pure: servers that are leaving (their container was told to stop, a task was shut down) but
 * still run stay routed where draining them would leave a backend fewer than `threshold` of the
 * servers that can serve right now (those that stay plus those leaving). A replacement that
 * does not listen yet must not leave a backend empty: Swarm moves on to the next task as soon as
 * a container runs, not once its app listens, so a rolling update can shut every old task down
 * before one new app answers. A leaving server that no longer accepts connections costs a retry
 * on another server (and HAProxy marks it down at once); an empty backend costs a 503 for
 * everyone. Only servers HAProxy routes now are kept: a leaving one is never added back.
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
    if (leaving.length === 0 || staying.size >= threshold * (staying.size + leaving.length)) continue;
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
 * Pure: whether stopping routing to `leavingIds` now (before the pass) would leave `backend`
 * fewer than `threshold` of the servers HAProxy routes in it. Then the early drain waits for the
 * pass, which knows about replacements and keeps the leaving ones if it must.
 */
export function drainWouldPanic(
  applied: DesiredState | null,
  backend: string,
  drainingIds: ReadonlySet<string>,
  threshold: number,
): boolean {
  if (threshold <= 0) return false;
  const servers = applied?.services.find((s) => s.name === backend)?.servers ?? [];
  const staying = servers.filter((b) => !drainingIds.has(b.sourceId)).length;
  return staying < threshold * servers.length;
}
