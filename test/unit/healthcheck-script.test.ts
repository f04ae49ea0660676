/**
 * compose/sidecar/healthcheck, the sidecar container's healthcheck (bash and its /dev/tcp),
 * against a stand-in for the status server: healthy only when /healthz answers 200.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { SETTINGS } from "../../sidecar/config";

const SCRIPT = path.resolve(__dirname, "../../compose/sidecar/healthcheck");
const REASONS = "docker event stream disconnected\nno reconcile pass yet\n";

let answer = 200;
const paths: string[] = [];
const server = http.createServer((req, res) => {
  paths.push(`${req.method} ${req.url}`);
  res.writeHead(answer, { "content-type": "text/plain" }).end(answer === 200 ? "ok\n" : REASONS);
});
let port: number;

beforeAll(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve())));
beforeAll(() => {
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => server.close(r)));

// Asynchronous, so that the server in this process can answer; "close": stdout is all read.
const check = (env: Record<string, string>): Promise<{ code: number | null; stdout: string }> =>
  new Promise((resolve) => {
    const child = spawn("bash", [SCRIPT], { env: { PATH: process.env.PATH, ...env } });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.on("close", (code: number | null) => resolve({ code, stdout }));
  });

describe("the container healthcheck script", () => {
  it("is healthy when /healthz says 200", async () => {
    answer = 200;
    paths.length = 0;
    expect(await check({ LB_STATUS_PORT: String(port) })).toEqual({ code: 0, stdout: "" });
    expect(paths).toEqual(["GET /healthz"]);
  });

  it("is unhealthy otherwise, with /healthz's reasons for docker inspect", async () => {
    answer = 503;
    expect(await check({ LB_STATUS_PORT: String(port) })).toEqual({
      code: 1,
      stdout: `${REASONS}/healthz: HTTP/1.1 503 Service Unavailable\n`,
    });
  });

  it("is unhealthy when nothing listens", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const unused = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect((await check({ LB_STATUS_PORT: String(unused) })).code).toBe(1);
  });

  it("asks the sidecar's default status port when LB_STATUS_PORT is not set", () => {
    expect(readFileSync(SCRIPT, "utf8")).toContain(`\${LB_STATUS_PORT:-${SETTINGS.LB_STATUS_PORT.def}}`);
    expect(spawnSync("bash", ["-n", SCRIPT]).status).toBe(0);
  });
});
