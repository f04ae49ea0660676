import * as http from "node:http";
import type { SyncResult } from "../reconcile/reconciler";

/** What the status server reads; filled by main. */
export interface StatusView {
  readonly eventsConnected: () => boolean;
  readonly lastSync: () => SyncResult | null;
  readonly lastReload: () => { at: number; reason: string } | null;
}

/** Serves `/healthz` (200 when the event stream is up and the last pass was ok) and `/status`. */
export function startStatusServer(port: number, view: StatusView): http.Server {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    const last = view.lastSync();
    if (url === "/healthz") {
      const ok = view.eventsConnected() && last !== null && last.ok;
      return send(ok ? 200 : 503, { ok, eventsConnected: view.eventsConnected(), lastSyncOk: last?.ok ?? null });
    }
    if (url === "/status") {
      return send(200, {
        eventsConnected: view.eventsConnected(),
        lastReload: view.lastReload(),
        lastSync: last === null ? null : last.ok
          ? { ok: true, at: new Date(last.at).toISOString(), outcome: last.outcome, services: last.state.services, excluded: last.excluded }
          : { ok: false, at: new Date(last.at).toISOString(), stage: last.stage, error: last.error },
      });
    }
    send(404, { error: "not found", paths: ["/healthz", "/status"] });
  });
  server.listen(port);
  return server;
}
