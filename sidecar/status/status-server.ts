import * as http from "node:http";
import type { ChangeFilter } from "../changes/change-log";
import type { ChangeRecord } from "../changes/records";
import { timelineSvg } from "../changes/timeline";
import type { Clock } from "../lib/clock";
import type { LoopView } from "../reconcile/types";
import { buildCrossReference } from "./cross-reference";
import { health } from "./health";
import type { Metrics } from "./metrics";
import { STATUS_PAGE } from "./status-page";

/** What the status server reads. */
export interface StatusView {
  readonly loop: () => LoopView;
  /** HAProxy's server statuses (`backend/server` → status), null when HAProxy cannot be asked. */
  readonly haproxyStatuses: () => Promise<ReadonlyMap<string, string> | null>;
  readonly metrics: Metrics;
  /** The change log. */
  readonly changes: { query(filter?: ChangeFilter): ChangeRecord[] };
  /** A last pass older than this makes /healthz fail (about two resync periods). */
  readonly staleAfterMs: number;
  /** The loop's clock: the age of the last pass and the timeline's window are read on it. */
  readonly clock: Pick<Clock, "now">;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** The JSON of /status: the cross-reference table and the sidecar's recent history. */
export async function statusDocument(view: StatusView): Promise<unknown> {
  const { last, serf, lastReload: reload, lastRuntime: runtime, lastRejected: rejected, eventsConnected } = view.loop();
  const haproxy = await view.haproxyStatuses();
  return {
    eventsConnected,
    haproxyReachable: haproxy !== null,
    serf:
      serf === null
        ? { configured: false }
        : { configured: true, reachable: serf.reachable, drift: serf.drift, panic: serf.panic },
    lastSync:
      last === null
        ? null
        : last.ok
          ? {
              ok: true,
              at: iso(last.at),
              outcome: last.outcome.kind,
              awaitingReadiness: last.awaitingReadiness,
              drainPanic: last.drainPanic,
            }
          : { ok: false, at: iso(last.at), stage: last.stage, error: last.error.message },
    lastReload: reload === null ? null : { at: iso(reload.at), reason: reload.reason },
    lastRuntimeChange: runtime === null ? null : { at: iso(runtime.at), reason: runtime.reason },
    lastRejected: rejected === null ? null : { at: iso(rejected.at), message: rejected.message },
    backends: buildCrossReference(last, serf, haproxy),
  };
}

/**
 * `/` the operator's page (refreshes itself), `/status` its JSON, `/changes` the change log
 * (JSON, filtered), `/timeline.svg` its last hour drawn, `/healthz` 200 when the sidecar does its
 * job (see health.ts; 503 with the reasons otherwise), `/metrics` Prometheus text.
 */
export function statusHandler(view: StatusView): http.RequestListener {
  return (req, res) => {
    const parsed = new URL(req.url ?? "/", "http://status");
    const url = parsed.pathname;
    const send = (code: number, type: string, body: string): void => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    const json = (code: number, body: unknown): void =>
      send(code, "application/json", `${JSON.stringify(body, null, 2)}\n`);
    const fail = (err: Error): void => json(500, { error: err.message });
    if (url === "/healthz") {
      const h = health(view.loop(), view.clock.now(), view.staleAfterMs);
      return json(h.ok ? 200 : 503, h);
    }
    if (url === "/status") return void statusDocument(view).then((doc) => json(200, doc), fail);
    if (url === "/metrics") {
      return void view.metrics.registry
        .metrics()
        .then((text) => send(200, view.metrics.registry.contentType, text), fail);
    }
    if (url === "/changes") {
      const filter = changeFilter(parsed.searchParams);
      if (typeof filter === "string") return json(400, { error: filter });
      const records = view.changes.query(filter);
      return json(200, { count: records.length, records });
    }
    if (url === "/timeline.svg") {
      const minutes = Number(parsed.searchParams.get("minutes") ?? "60");
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
        return json(400, { error: "minutes: a whole number from 1 to 1440" });
      return send(200, "image/svg+xml", timelineSvg(view.changes.query(), view.clock.now(), minutes * 60_000));
    }
    if (url === "/" || url === "/index.html") return send(200, "text/html; charset=utf-8", STATUS_PAGE);
    json(404, { error: "not found", paths: ["/", "/status", "/changes", "/timeline.svg", "/healthz", "/metrics"] });
  };
}

/**
 * /changes filters: `container` (name, server name or id prefix), `since` (ISO time or epoch
 * ms). A message naming what is wrong, for a 400.
 */
export function changeFilter(params: URLSearchParams): ChangeFilter | string {
  const unknown = [...params.keys()].filter((k) => k !== "container" && k !== "since");
  if (unknown.length > 0) return `unknown filter ${unknown.join(", ")}: use container and since`;
  const container = params.get("container") ?? undefined;
  const sinceRaw = params.get("since");
  if (sinceRaw === null) return container === undefined ? {} : { container };
  const since = /^\d+$/.test(sinceRaw) ? Number(sinceRaw) : Date.parse(sinceRaw);
  if (Number.isNaN(since)) return `since=${sinceRaw}: an ISO time (2026-11-25T14:02:00Z) or epoch milliseconds`;
  return container === undefined ? { since } : { container, since };
}

/** The status server on `port` of each of `hosts` (0 for any free port); resolves once they listen. */
export async function startStatusServer(
  port: number,
  hosts: readonly string[],
  view: StatusView,
): Promise<http.Server[]> {
  const handler = statusHandler(view);
  return Promise.all(
    hosts.map(
      (host) =>
        new Promise<http.Server>((resolve, reject) => {
          const server = http.createServer(handler);
          server.once("error", reject);
          server.listen(port, host, () => resolve(server));
        }),
    ),
  );
}
