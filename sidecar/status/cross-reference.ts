import type { ExclusionReason, SerfLiveness } from "../model/types";
import type { SyncResult } from "../reconcile/types";
import type { SerfView } from "../reconcile/serf-gate";

/** One backend as the source, Serf and HAProxy each see it. */
export interface CrossReferenceRow {
  readonly container: string;
  readonly containerId: string;
  /** HAProxy backend and server, when routed. */
  readonly backend: string | null;
  readonly server: string | null;
  readonly address: string | null;
  /** `routed`, or why the sidecar leaves it out. */
  readonly docker: "routed" | ExclusionReason;
  readonly serf: SerfLiveness | null;
  /** HAProxy's status of the server (UP, DOWN, MAINT...) on the first replica that answers, null when not in it. */
  readonly haproxy: string | null;
  /** Its status on each replica, by replica number (null: not in that one, or it does not answer). */
  readonly replicas: Readonly<Record<string, string | null>>;
  /** More on why it is left out (the bad label, HAProxy's message...), or null. */
  readonly detail: string | null;
}

const byContainer = (a: CrossReferenceRow, b: CrossReferenceRow): number =>
  a.container < b.container ? -1 : a.container > b.container ? 1 : 0;

/** One replica's server statuses (`backend/server` -> status), null when it does not answer. */
export interface ReplicaStatusesView {
  readonly replica: string;
  readonly statuses: ReadonlyMap<string, string> | null;
}

/**
 * Pure: joins the last pass (the source's view and the sidecar's decisions), Serf's opinion and
 * each HAProxy replica's server statuses into one sorted table.
 */
export function buildCrossReference(
  last: SyncResult | null,
  serf: SerfView | null,
  replicas: readonly ReplicaStatusesView[],
): CrossReferenceRow[] {
  if (last === null || !last.ok) return [];
  const haproxy = replicas.find((r) => r.statuses !== null)?.statuses ?? null;
  const onEach = (key: string | null): Record<string, string | null> =>
    Object.fromEntries(replicas.map((r) => [r.replica, key === null ? null : (r.statuses?.get(key) ?? null)]));
  const rows: CrossReferenceRow[] = [];
  for (const service of last.state.services) {
    for (const b of service.servers) {
      rows.push({
        container: b.name,
        containerId: b.sourceId,
        backend: service.name,
        server: b.name,
        address: b.address,
        docker: "routed",
        serf: serf?.liveness[b.sourceId] ?? null,
        haproxy: haproxy?.get(`${service.name}/${b.name}`) ?? null,
        replicas: onEach(`${service.name}/${b.name}`),
        detail: null,
      });
    }
  }
  // Held until they listen: in HAProxy already (in maintenance), routed nothing.
  const held = new Map(
    (last.state.held ?? []).flatMap((s) => s.servers.map((b) => [b.sourceId, { backend: s.name, b }] as const)),
  );
  for (const e of last.excluded) {
    const h = held.get(e.sourceId);
    const key = h === undefined ? null : `${h.backend}/${h.b.name}`;
    rows.push({
      container: e.name,
      containerId: e.sourceId,
      backend: h?.backend ?? null,
      server: h?.b.name ?? null,
      address: h?.b.address ?? null,
      docker: e.reason,
      serf: serf?.liveness[e.sourceId] ?? null,
      haproxy: key === null ? null : (haproxy?.get(key) ?? null),
      replicas: onEach(key),
      detail:
        e.label !== undefined
          ? `${e.label}: ${e.detail ?? ""}`
          : (e.detail ?? (h === undefined ? null : "in HAProxy, in maintenance until it listens")),
    });
  }
  return rows.sort(byContainer);
}
