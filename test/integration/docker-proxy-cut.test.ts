/**
 * The proxy in front of a Docker socket that goes away mid-stream (a dockerd restarting): its
 * client must see the event stream cut, not end cleanly or hang open. A stand-in for dockerd on
 * a unix socket of the test's own.
 */
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import pino from "pino";
import { startDockerProxy } from "../../sidecar/docker-proxy/server";

const dir = mkdtempSync("/tmp/hs-it-proxy-cut-");
const START = { Type: "container", Action: "start", Actor: { ID: "abc", Attributes: { "heig.lb.enable": "true" } } };
const socketPath = path.join(dir, "docker.sock");
let dockerd: http.Server;
let proxy: http.Server;

beforeAll(async () => {
  dockerd = http.createServer((req, res) => {
    if (req.url?.startsWith("/events")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`${JSON.stringify(START)}\n`);
      // Then dockerd dies: the connection goes without an end.
      setTimeout(() => req.socket.destroy(), 200);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => dockerd.listen(socketPath, resolve));
  proxy = await startDockerProxy({
    socketPath,
    host: "127.0.0.1",
    port: 0,
    requestTimeoutMs: 1000,
    reloadSelector: { key: "heig.lb.role", value: "haproxy" },
    labelPrefix: "heig.lb",
    log: pino({ level: "silent" }),
  });
});

afterAll(async () => {
  await new Promise((r) => proxy.close(r));
  await new Promise((r) => dockerd.close(r));
  rmSync(dir, { recursive: true, force: true });
});

it("cuts the client's event stream when dockerd's goes away, instead of leaving it open or ending it", async () => {
  const { port } = proxy.address() as AddressInfo;
  const outcome = await new Promise<string>((resolve) => {
    http
      .get(
        {
          host: "127.0.0.1",
          port,
          path: `/events?filters=${encodeURIComponent('{"type":["container"]}')}`,
          agent: false,
        },
        (res) => {
          let data = "";
          res.on("data", (c: Buffer) => (data += c.toString()));
          res.on("end", () => resolve(`ended cleanly after ${JSON.stringify(data)}`));
          res.on("error", () => resolve(`cut after ${JSON.stringify(data)}`));
          res.on("aborted", () => resolve(`cut after ${JSON.stringify(data)}`));
        },
      )
      .on("error", (err) => resolve(`request failed: ${err.message}`));
  });
  expect(outcome).toBe(`cut after ${JSON.stringify(`${JSON.stringify(START)}\n`)}`);
});
