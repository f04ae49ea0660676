import type { ExclusionReason, SerfLiveness } from "../model/types";
import type { SerfView, SyncResult } from "../reconcile/reconciler";

/** One container as Docker, Serf and HAProxy each see it. */
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
}

/**
 * Pure: joins the last pass (Docker's view and the sidecar's decisions), Serf's opinion and
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
        container: b.name, containerId: b.containerId, backend: service.name, server: b.name, address: b.address,
        docker: "routed", serf: serf?.liveness[b.containerId] ?? null, haproxy: haproxy?.get(`${service.name}/${b.name}`) ?? null,
      });
    }
  }
  for (const e of last.excluded) {
    rows.push({
      container: e.containerName, containerId: e.containerId, backend: null, server: null, address: null,
      docker: e.reason, serf: serf?.liveness[e.containerId] ?? null, haproxy: null,
    });
  }
  return rows.sort((a, b) => (a.container < b.container ? -1 : a.container > b.container ? 1 : 0));
}

/** `show stat` CSV → `backend/server` → status, servers only. */
export function parseShowStat(csv: string): Map<string, string> {
  const lines = csv.trim().split("\n");
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const px = header.indexOf("pxname");
  const sv = header.indexOf("svname");
  const st = header.indexOf("status");
  const out = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const c = line.split(",");
    const server = c[sv];
    if (!server || server === "FRONTEND" || server === "BACKEND") continue;
    out.set(`${c[px]}/${server}`, c[st] ?? "");
  }
  return out;
}
