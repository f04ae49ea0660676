/** POST /maintenance on the real status server (127.0.0.1, any free port), over raw HTTP. */
import type * as http from "node:http";
import type * as net from "node:net";
import pino from "pino";
import { MaintenanceStore } from "../../sidecar/maintenance/maintenance-store";
import { unknownTarget, type MaintenanceRequest } from "../../sidecar/model/maintenance";
import { Metrics } from "../../sidecar/status/metrics";
import { MAX_MAINTENANCE_BODY, startStatusServer, statusDocument } from "../../sidecar/status/status-server";
import { NOW, healthyLoop, rawRequest } from "./status-fixture";
import { maint } from "../../sidecar/commands";
import type { Config } from "../../sidecar/config";

const ID = "0123456789abcdef".repeat(4);
const BACKENDS = ["compose_webapp_1", "compose_webapp_2", "c_1"].map((name, i) => ({
  name,
  serverName: name,
  id: i === 0 ? ID : `${i}`.repeat(64),
}));
const silent = pino({ level: "silent" });
let server: http.Server;
let port: number;
let store: MaintenanceStore;
const applied: MaintenanceRequest[] = [];
const view = () => ({
  loop: () => healthyLoop,
  replicaStatuses: async () => [],
  replicas: () => [],
  metrics: new Metrics(),
  changes: { query: () => [] },
  staleAfterMs: 60_000,
  clock: { now: () => NOW },
  maintenance: {
    list: () => store.list(),
    set: async (req: MaintenanceRequest) => {
      const r = await store.set(req);
      if (r.changed) applied.push(req);
      return r;
    },
    unknown: (container: string) => unknownTarget(container, BACKENDS),
  },
  lifecycle: () => ({
    ramping: new Map([["webapp/new_1", NOW + 25_500]]),
    draining: new Map([
      ["webapp/old_1", NOW + 8_000],
      ["webapp/done_1", NOW - 1],
    ]),
  }),
});

beforeAll(async () => {
  store = new MaintenanceStore(null, { now: () => NOW }, silent);
  [server] = (await startStatusServer(0, ["127.0.0.1"], view(), { log: silent })) as [http.Server];
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (body: string, headers: Record<string, string> = { "Content-Type": "application/json" }) =>
  rawRequest(
    port,
    `POST /maintenance HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("")}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );

describe("POST /maintenance", () => {
  it("puts a container in maintenance and takes it out, saying who asked; the change is applied", async () => {
    const on = await post('{"container":"compose_webapp_1","on":true,"by":"alice"}');
    expect(on.status).toBe(200);
    expect(JSON.parse(on.body)).toEqual({
      container: "compose_webapp_1",
      maintenance: "on",
      by: "alice",
      since: new Date(NOW).toISOString(),
      changed: true,
    });
    const list = await rawRequest(port, "GET /maintenance HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    expect(JSON.parse(list.body)).toEqual({
      maintenance: [{ container: "compose_webapp_1", by: "alice", since: new Date(NOW).toISOString() }],
    });
    const off = await post('{"container":"compose_webapp_1","on":false,"by":"bob"}');
    expect(JSON.parse(off.body)).toMatchObject({ maintenance: "off", changed: true });
    expect(applied.map((r) => `${r.container} ${r.on} ${r.by}`)).toEqual([
      "compose_webapp_1 true alice",
      "compose_webapp_1 false bob",
    ]);
  });

  it.each([
    ["a web page (Origin)", { "Content-Type": "application/json", Origin: "http://evil.example" }, 403],
    ["a cross-site fetch", { "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site" }, 403],
    ["a form post", { "Content-Type": "application/x-www-form-urlencoded" }, 415],
    ["text", { "Content-Type": "text/plain" }, 415],
  ])("refuses %s", async (_what, headers, status) => {
    const res = await post('{"container":"c_1","on":true,"by":"x"}', headers);
    expect(res.status).toBe(status);
    expect(store.list()).toEqual([]);
  });

  it("refuses a body that is too long, and one that is not a request", async () => {
    expect((await post(`{"container":"${"a".repeat(MAX_MAINTENANCE_BODY)}"}`)).status).toBe(413);
    const bad = await post('{"container":"c 1","on":true,"by":"x"}');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/container/);
    expect(store.list()).toEqual([]);
  });

  it("keeps the Host check", async () => {
    const res = await rawRequest(
      port,
      "POST /maintenance HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    expect(res.status).toBe(421);
  });

  it("still refuses POST elsewhere", async () => {
    const res = await rawRequest(
      port,
      "POST /status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    expect(res.status).toBe(405);
  });
});

describe("/status", () => {
  it("lists servers in maintenance, ramping up and draining, with the time left", async () => {
    await store.set({ container: "c_9", on: true, by: "alice" });
    const doc = (await statusDocument(view())) as Record<string, unknown>;
    expect(doc.maintenance).toEqual([{ container: "c_9", by: "alice", since: new Date(NOW).toISOString() }]);
    expect(doc.ramping).toEqual([
      { server: "webapp/new_1", until: new Date(NOW + 25_500).toISOString(), secondsLeft: 26 },
    ]);
    expect(doc.draining).toEqual([
      { server: "webapp/old_1", until: new Date(NOW + 8_000).toISOString(), secondsLeft: 8 },
    ]);
    await store.set({ container: "c_9", on: false, by: "alice" });
  });
});

describe("sidecar maint (the CLI)", () => {
  const config = () => ({ statusPort: port }) as Config;
  const quietly = async (work: () => Promise<number>): Promise<{ code: number; out: string; err: string }> => {
    let out = "";
    let err = "";
    const o = jest.spyOn(process.stdout, "write").mockImplementation((c) => ((out += String(c)), true));
    const e = jest.spyOn(process.stderr, "write").mockImplementation((c) => ((err += String(c)), true));
    try {
      return { code: await work(), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  };

  it("asks the status server, saying who asks, and --off takes it out", async () => {
    const on = await quietly(() => maint(config(), ["compose_webapp_2", "--by", "carol"], {}));
    expect(on.code).toBe(0);
    expect(JSON.parse(on.out)).toMatchObject({ container: "compose_webapp_2", maintenance: "on", by: "carol" });
    expect(store.list().map((e) => e.container)).toContain("compose_webapp_2");
    const off = await quietly(() => maint(config(), ["compose_webapp_2", "--off"], { USER: "dave" }));
    expect(JSON.parse(off.out)).toMatchObject({ maintenance: "off", by: "dave" });
    expect(store.list().map((e) => e.container)).not.toContain("compose_webapp_2");
  });

  it("refuses a name that matches no backend, naming the backends, and changes nothing; an id of 12+ matches", async () => {
    const typo = await quietly(() => maint(config(), ["compose_webap_1"], {}));
    expect(typo.code).toBe(1);
    expect(JSON.parse(typo.err)).toEqual({
      error: "no backend is named compose_webap_1: give a container name, a server name or an id of 12 or more",
      backends: ["c_1", "compose_webapp_1", "compose_webapp_2"],
    });
    expect(store.list().map((e) => e.container)).not.toContain("compose_webap_1");
    // Too short an id prefix names nothing; 12 characters do.
    expect((await quietly(() => maint(config(), [ID.slice(0, 11)], {}))).code).toBe(1);
    expect((await quietly(() => maint(config(), [ID.slice(0, 12)], {}))).code).toBe(0);
    expect(store.list().map((e) => e.container)).toContain(ID.slice(0, 12));
    // Taking out of maintenance is never refused (the container may be gone since).
    expect((await quietly(() => maint(config(), [ID.slice(0, 12), "--off"], {}))).code).toBe(0);
    expect((await quietly(() => maint(config(), ["compose_webap_1", "--off"], {}))).code).toBe(0);
  });

  it.each([[[]], [["a b"]], [["a", "b"]], [["a", "--of"]]])("prints the usage for %j", async (args) => {
    const r = await quietly(() => maint(config(), args, {}));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/sidecar maint CONTAINER/);
  });
});
