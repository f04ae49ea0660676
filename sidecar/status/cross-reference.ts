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
  /** HAProxy's status of the server (UP, DOWN, MAINT, …), null when not in HAProxy. */
  readonly haproxy: string | null;
  /** More on why it is left out (the bad label, HAProxy's message…), or null. */
  readonly detail: string | null;
}

const byContainer = (a: CrossReferenceRow, b: CrossReferenceRow): number =>
  a.container < b.container ? -1 : a.container > b.container ? 1 : 0;

/**
 * Pure: joins the last pass (the source's view and the sidecar's decisions), Serf's opinion and
 * HAProxy's server statuses (`backend/server` → status) into one sorted table.
 */
export function buildCrossReference(
  last: SyncResult | null,
  serf: SerfView | null,
  haproxy: ReadonlyMap<string, string> | null,
): CrossReferenceRow[] {
  if (last === null || !last.ok) return [];
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
        detail: null,
      });
    }
  }
  for (const e of last.excluded) {
    rows.push({
      container: e.name,
      containerId: e.sourceId,
      backend: null,
      server: null,
      address: null,
      docker: e.reason,
      serf: serf?.liveness[e.sourceId] ?? null,
      haproxy: null,
      detail: e.label !== undefined ? `${e.label}: ${e.detail ?? ""}` : (e.detail ?? null),
    });
  }
  return rows.sort(byContainer);
}
