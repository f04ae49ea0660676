/**
 * The Docker API proxy against the real dockerd: the allowlist on the wire, answers reduced to
 * what the sidecar reads (no Env, no foreign labels, no exec events), the event stream kept open
 * past the request timeout, and SIGUSR2 only to a container labelled as HAProxy.
 */
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { startDockerProxy } from "../../sidecar/docker-proxy/server";

jest.setTimeout(60_000);
const LABEL = "ha-sidecar.test=1";
/** In the test containers' env and labels: never in an answer of the proxy. */
const MARKER = "hs-it-secret-4b1d";
const filters = (f: unknown): string => `filters=${encodeURIComponent(JSON.stringify(f))}`;
const sh = (cmd: string): string => {
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const logs: Array<Record<string, unknown>> = [];
let server: http.Server;
let port = 0;

function request(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  spawnSync("bash", ["-c", "docker rm -f hs-it-fake-ha hs-it-bystander"]);
  // Both trap SIGUSR2: a wrongly delivered one must not kill them (it is checked by counting).
  const trap = `--entrypoint sh ha-sidecar/webapp:latest -c 'trap "echo usr2 >> /tmp/usr2" USR2; while :; do sleep 0.1; done'`;
  const secrets = `-e DB_PASSWORD=${MARKER} --label com.example.password=${MARKER}`;
  sh(
    `docker run -d --name hs-it-fake-ha --label ${LABEL} --label heig.lb.role=haproxy ${secrets} --network none ${trap}`,
  );
  sh(`docker run -d --name hs-it-bystander --label ${LABEL} ${secrets} --network none ${trap}`);
  server = await startDockerProxy({
    socketPath: "/var/run/docker.sock",
    host: "127.0.0.1",
    port: 0,
    requestTimeoutMs: 500,
    reloadSelector: { key: "heig.lb.role", value: "haproxy" },
    labelPrefix: "heig.lb",
    log: pino(
      { level: "info" },
      { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
    ),
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.close();
  spawnSync("bash", ["-c", "docker rm -f hs-it-fake-ha hs-it-bystander"]);
});

describe("the Docker API proxy against a real dockerd", () => {
  it("answers the reads the sidecar needs, with or without the version prefix, reduced", async () => {
    expect((await request("GET", "/_ping")).body).toBe("OK");
    const listing = await request("GET", `/v1.41/containers/json?${filters({ label: ["heig.lb.role=haproxy"] })}`);
    expect(listing.status).toBe(200);
    const fakeHa = (JSON.parse(listing.body) as Array<Record<string, unknown>>).find((c) =>
      (c["Names"] as string[]).includes("/hs-it-fake-ha"),
    );
    expect(Object.keys(fakeHa ?? {}).sort()).toEqual(["Id", "Labels", "Names", "NetworkSettings", "State", "Status"]);
    expect(fakeHa?.["Labels"]).toEqual({ "heig.lb.role": "haproxy" });
    // Not the proxy's stack (it runs in none here): reduced to id, name and the labels read.
    const inspect = await request("GET", "/containers/hs-it-bystander/json");
    expect(JSON.parse(inspect.body)).toEqual({
      Id: expect.any(String),
      Name: "/hs-it-bystander",
      Config: { Labels: {} },
    });
    expect(listing.body + inspect.body).not.toContain(MARKER);
  });

  it.each([
    ["GET", "/version"],
    ["HEAD", "/_ping"],
    ["GET", "/containers/json"],
    ["GET", `/containers/json?${filters({ label: ["ha-sidecar.test"] })}`],
    ["GET", "/events"],
    ["GET", "/networks"],
    ["GET", "/services/x"],
    ["GET", "/info"],
  ])("refuses %s %s, which the sidecar never sends, with 403", async (method, path) => {
    expect((await request(method, path)).status).toBe(403);
  });

  it.each([
    ["POST", "/containers/create"],
    ["POST", "/containers/hs-it-bystander/stop"],
    ["POST", "/containers/hs-it-bystander/exec"],
    ["GET", "/containers/hs-it-bystander/archive?path=/etc"],
    ["GET", "/containers/hs-it-bystander/export"],
    ["DELETE", "/containers/hs-it-bystander?force=true"],
    ["POST", "/containers/hs-it-fake-ha/kill?signal=SIGKILL"],
  ])("refuses %s %s with 403, and logs it", async (method, path) => {
    const res = await request(method, path);
    expect(res.status).toBe(403);
    expect(res.body).toContain("denied");
    expect(logs.some((l) => l["msg"] === "docker api request denied" && l["url"] === path)).toBe(true);
    expect(sh("docker inspect -f '{{.State.Running}}' hs-it-bystander hs-it-fake-ha")).toBe("true\ntrue");
  });

  it("refuses an upgrade even on an allowed path", async () => {
    await expect(request("GET", "/_ping", { connection: "Upgrade", upgrade: "tcp" })).resolves.toMatchObject({
      status: 403,
    });
  });

  it("sends SIGUSR2 only to a container labelled as HAProxy", async () => {
    expect((await request("POST", "/containers/hs-it-bystander/kill?signal=SIGUSR2")).status).toBe(403);
    expect((await request("POST", "/containers/hs-it-fake-ha/kill?signal=SIGUSR2")).status).toBe(204);
    await new Promise((r) => setTimeout(r, 500));
    expect(sh("docker exec hs-it-fake-ha cat /tmp/usr2")).toBe("usr2");
    expect(spawnSync("docker", ["exec", "hs-it-bystander", "cat", "/tmp/usr2"]).status).not.toBe(0);
  });

  it("answers the event stream's headers at once, keeps it open past the request timeout, and relays our events only, reduced", async () => {
    const chunks: string[] = [];
    let headers = false;
    const path = `/events?${filters({ type: ["container"] })}`;
    const req = http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      headers = true;
      res.on("data", (c: Buffer) => chunks.push(c.toString()));
    });
    await new Promise((r) => setTimeout(r, 1200)); // longer than the 500 ms request timeout
    // The headers came before any event (a client knows it is connected).
    expect(headers).toBe(true);
    const fakeHa = sh("docker inspect -f '{{.Id}}' hs-it-fake-ha");
    const bystander = sh("docker inspect -f '{{.Id}}' hs-it-bystander");
    sh("docker exec hs-it-fake-ha true"); // exec_* events: dropped (their command lines too)
    sh("docker restart -t 0 hs-it-fake-ha hs-it-bystander >/dev/null");
    await new Promise((r) => setTimeout(r, 500));
    req.destroy();
    // Other containers on this engine (a `make up` stack) may send events too: only ours are judged.
    const events = chunks
      .join("")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
    const ofFakeHa = events.filter((e) => e.Actor.ID === fakeHa);
    expect(ofFakeHa.map((e) => e.Action)).toContain("start");
    expect(ofFakeHa.some((e) => e.Action.startsWith("exec_"))).toBe(false);
    expect(ofFakeHa.find((e) => e.Action === "start")?.Actor.Attributes).toEqual({
      name: "hs-it-fake-ha",
      "heig.lb.role": "haproxy",
    });
    // Neither ours nor this stack's HAProxy: none of its events.
    expect(events.filter((e) => e.Actor.ID === bystander)).toEqual([]);
    expect(chunks.join("")).not.toContain(MARKER);
  });
});
