/**
 * The Docker API proxy against the real dockerd: the allowlist on the wire, the event stream
 * kept open past the request timeout, and SIGUSR2 only to a container labelled as HAProxy.
 */
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { startDockerProxy } from "../../sidecar/docker-proxy/server";

jest.setTimeout(60_000);
const LABEL = "ha-sidecar.test=1";
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
  sh(`docker run -d --name hs-it-fake-ha --label ${LABEL} --label heig.lb.role=haproxy --network none ${trap}`);
  sh(`docker run -d --name hs-it-bystander --label ${LABEL} --network none ${trap}`);
  server = await startDockerProxy({
    socketPath: "/var/run/docker.sock",
    host: "127.0.0.1",
    port: 0,
    requestTimeoutMs: 500,
    reloadSelector: { key: "heig.lb.role", value: "haproxy" },
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
  it("answers the reads the sidecar needs, with or without the version prefix", async () => {
    expect((await request("GET", "/_ping")).body).toBe("OK");
    expect(JSON.parse((await request("GET", "/v1.41/containers/json")).body)).toEqual(expect.any(Array));
    expect(JSON.parse((await request("GET", "/containers/hs-it-fake-ha/json")).body)).toMatchObject({
      Name: "/hs-it-fake-ha",
    });
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

  it("answers the event stream's headers at once, keeps it open past the request timeout, and relays events", async () => {
    const events: string[] = [];
    let headers = false;
    // Only the bystander's events: none until it is restarted below.
    const filters = encodeURIComponent(JSON.stringify({ type: ["container"], container: ["hs-it-bystander"] }));
    const req = http.get({ host: "127.0.0.1", port, path: `/events?filters=${filters}`, agent: false }, (res) => {
      headers = true;
      res.on("data", (c: Buffer) => events.push(c.toString()));
    });
    await new Promise((r) => setTimeout(r, 1200)); // longer than the 500 ms request timeout
    // No event happened yet: the headers came anyway (a client knows it is connected).
    expect(headers).toBe(true);
    expect(events).toEqual([]);
    sh("docker restart -t 0 hs-it-bystander >/dev/null");
    await new Promise((r) => setTimeout(r, 500));
    req.destroy();
    expect(events.join("")).toContain('"Action":"start"');
  });
});
