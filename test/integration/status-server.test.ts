/** The status server over real HTTP on 127.0.0.1, with a scripted view of the loop. */
import type { AddressInfo } from "node:net";
import * as http from "node:http";
import { startStatusServer } from "../../sidecar/status/status-server";
import { Metrics } from "../../sidecar/status/metrics";
import { ChangeLog } from "../../sidecar/changes/change-log";
import pino from "pino";
import type { LoopView, SyncResult } from "../../sidecar/reconcile/types";

// Every time here is relative to the clock the status server reads (never a calendar date): the
// last pass was 5 minutes before "now".
const NOW = Date.now();
const clock = { now: () => NOW };
const okPass: SyncResult = {
  ok: true,
  at: NOW - 5 * 60_000,
  outcome: { kind: "reloaded", written: true, signals: 1, fallback: null },
  state: {
    defaultService: "webapp",
    services: [
      {
        name: "webapp",
        sticky: false,
        servers: [{ name: "web_1", sourceId: "c1", address: "10.0.0.2", port: 3000, weight: null }],
      },
    ],
  },
  excluded: [{ sourceId: "c2", name: "web_2", reason: "not-listening" }],
  awaitingReadiness: 1,
  drainPanic: [],
};
let view: LoopView = {
  eventsConnected: true,
  last: okPass,
  lastReload: null,
  lastRuntime: null,
  lastRejected: null,
  lastPassMs: null,
  serf: null,
};
const metrics = new Metrics();
const changes = new ChangeLog(null, { now: () => okPass.at + 40 } as never, pino({ level: "silent" }), {
  keep: 100,
  source: "docker",
});
let server: http.Server | undefined;

function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const { port } = server!.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
      })
      .on("error", reject);
  });
}

beforeAll(async () => {
  [server] = await startStatusServer(
    0,
    ["127.0.0.1"],
    {
      loop: () => view,
      replicas: () => [],
      replicaStatuses: async () => [{ replica: "1", statuses: new Map([["webapp/web_1", "UP"]]) }],
      metrics,
      changes,
      staleAfterMs: 10 * 60_000,
      clock,
    },
    { log: pino({ level: "silent" }) },
  );
  // Nothing routed before: the pass adds web_1, on its start event.
  await changes.start(new Map());
  changes.hint({ kind: "started", id: "c1", cause: "start" });
  changes.pass({
    result: okPass,
    durationS: 0.05,
    reasons: new Map([["start", okPass.at - 10]]),
    confirmedAt: okPass.at + 45,
    serf: null,
  });
});
afterAll(() => new Promise<void>((resolve) => server!.close(() => resolve())));

describe("the status server", () => {
  it("serves /status: the cross-reference of the last pass with HAProxy's statuses", async () => {
    const res = await get("/status");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      eventsConnected: true,
      haproxyReachable: true,
      serf: { configured: false },
      lastSync: { ok: true, at: new Date(okPass.at).toISOString(), outcome: "reloaded", awaitingReadiness: 1 },
      backends: [
        {
          container: "web_1",
          containerId: "c1",
          backend: "webapp",
          server: "web_1",
          address: "10.0.0.2",
          docker: "routed",
          haproxy: "UP",
        },
        { container: "web_2", containerId: "c2", backend: null, docker: "not-listening", haproxy: null },
      ],
    });
  });

  it("says healthy while the stream is up and the last pass worked, 503 otherwise", async () => {
    expect((await get("/healthz")).status).toBe(200);
    const stale = { ...okPass, at: NOW - 11 * 60_000 };
    view = { ...view, last: stale };
    expect(JSON.parse((await get("/healthz")).body)).toEqual({
      ok: false,
      reasons: ["last reconcile pass 660 s ago (more than 600 s)"],
    });
    view = { ...view, last: okPass };
    view = { ...view, eventsConnected: false };
    const down = await get("/healthz");
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ ok: false, reasons: ["docker event stream disconnected"] });
    view = { ...view, eventsConnected: true };
  });

  it("serves Prometheus text at /metrics and the page at /", async () => {
    metrics.pass({
      result: okPass,
      durationS: 0.02,
      reasons: new Map([["start", 0]]),
      confirmedAt: 20,
      serf: null,
    });
    const m = await get("/metrics");
    expect(m.type).toContain("text/plain");
    expect(m.body).toMatch(/^ha_sidecar_reloads_total 1$/m);
    expect(m.body).toMatch(/^ha_sidecar_backends\{state="not-listening"\} 1$/m);
    const page = await get("/");
    expect(page.type).toContain("text/html");
    expect(page.body).toContain("<title>ha-sidecar</title>");
  });

  it("answers 404 with the paths it knows", async () => {
    const res = await get("/nope");
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({
      error: "not found",
      paths: ["/", "/status", "/changes", "/timeline.svg", "/healthz", "/metrics", "/maintenance"],
    });
  });

  it("serves the change log at /changes, filtered by container and since", async () => {
    const all = JSON.parse((await get("/changes")).body);
    expect(all.records.map((r: { kind: string }) => r.kind)).toEqual(["backend-added", "server-added", "reload"]);
    expect(all.records[1]).toMatchObject({
      seq: 2,
      backend: "webapp",
      server: "web_1",
      containerId: "c1",
      reason: "docker event start",
      via: "reload",
      confirmedAt: new Date(okPass.at + 45).toISOString(),
    });
    expect(JSON.parse((await get("/changes?container=web_1")).body).count).toBe(1);
    expect(JSON.parse((await get("/changes?container=web_9")).body).count).toBe(0);
    expect(JSON.parse((await get(`/changes?since=${okPass.at + 46}`)).body).count).toBe(0);
    expect(JSON.parse((await get(`/changes?since=${new Date(okPass.at - 3_600_000).toISOString()}`)).body).count).toBe(
      3,
    );
    const bad = await get("/changes?since=yesterday");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/^since=yesterday: an ISO time/);
    expect((await get("/changes?host=x")).status).toBe(400);
  });

  it("draws the change log's last hour at /timeline.svg", async () => {
    const res = await get("/timeline.svg?minutes=60");
    expect(res.type).toBe("image/svg+xml");
    expect(res.body).toMatch(/^<svg /);
    expect(res.body).toContain('data-kind="server-added"');
    // The change, 5 minutes old, is outside the last 4 minutes.
    expect((await get("/timeline.svg?minutes=4")).body).not.toContain('data-kind="server-added"');
    expect((await get("/timeline.svg?minutes=0")).status).toBe(400);
  });
});
