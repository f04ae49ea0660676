/**
 * The bundles the images run, built by scripts/bundle.mjs (the build of record) into a directory
 * of the test's own: their text stays one byte per character for V8; the sidecar's leaves out the
 * Docker transports it never uses (ssh2, gRPC, protobufjs), whose stubs throw if ever called, and
 * handlebars' optional source-map, and still renders as the sources do; and
 * the bundled sidecar still does its whole job against the fake Docker Engine API over both
 * transports it has: tcp://host:port (how compose reaches the filtering proxy) and a unix socket.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { build, type Plugin } from "esbuild";
import { eventually } from "../support/eventually";
import { IDS, startFakeDocker, type FakeDocker } from "./docker-fake";
import { startFakeHaproxy, type FakeHaproxy } from "./haproxy-fake";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { node20, unusedTransports, UNUSED, ABSENT } = require("../../scripts/bundle-options.js") as {
  node20: Record<string, unknown>;
  unusedTransports: Plugin;
  UNUSED: Record<string, string>;
  ABSENT: string[];
};

const ROOT = path.resolve(__dirname, "../..");
const dir = mkdtempSync(path.join(os.tmpdir(), "hs-bundle-"));

beforeAll(() => {
  execFileSync("node", [path.join(ROOT, "scripts/bundle.mjs"), dir], { cwd: ROOT, stdio: "pipe" });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the bundles", () => {
  it.each(["sidecar.js", "docker-proxy.js"])(
    "%s is Latin-1 text: V8 keeps its source one byte per character",
    (file) => {
      // One character above U+00FF (a "…" in a comment esbuild kept) and V8 holds the whole
      // source as a two-byte string. Write it in ASCII where this names the line.
      const wide = readFileSync(path.join(dir, file), "utf8")
        .split("\n")
        .flatMap((line, i) =>
          [...line].some((c) => c.codePointAt(0)! > 0xff) ? [`line ${i + 1}: ${line.trim().slice(0, 120)}`] : [],
        );
      expect(wide).toEqual([]);
    },
  );

  it("leaves ssh2, gRPC and protobufjs out of the sidecar: stubs in their place", () => {
    const text = readFileSync(path.join(dir, "sidecar.js"), "utf8");
    // esbuild heads every module it bundles with a comment naming its file.
    const packages = new Set([...text.matchAll(/^\/\/ \S*node_modules\/((?:@[^/\s]+\/)?[^/\s]+)/gm)].map((m) => m[1]));
    expect(packages).toContain("dockerode");
    expect(packages).toContain("docker-modem");
    for (const name of ["ssh2", "@grpc/grpc-js", "@grpc/proto-loader", "protobufjs", "asn1", "tweetnacl", ...ABSENT])
      expect(packages).not.toContain(name);
    for (const name of Object.keys(UNUSED)) expect(text).toContain(`// unused-transport:${name}\n`);
  });

  it("renders with handlebars as the sources do, source-map left out: ha's bootstrap config", () => {
    const rendered = execFileSync("node", [path.join(dir, "sidecar.js"), "render", "--empty"], {
      env: { PATH: process.env.PATH, LB_TEMPLATE: path.join(ROOT, "templates/haproxy.cfg.hbs") },
      encoding: "utf8",
    });
    expect(rendered).toBe(readFileSync(path.join(ROOT, "compose/ha/bootstrap.cfg"), "utf8"));
  });

  it("fails loudly, naming the transport, when a left-out transport is used", async () => {
    // dockerode over ssh:// as the sidecar's bundle would run it, and the stubs used directly.
    const probe = path.join(dir, "probe.js");
    await build({
      ...node20,
      stdin: {
        resolveDir: ROOT,
        loader: "js",
        contents: `
          const Docker = require("dockerode");
          const tryIt = (fn) => { try { fn(); return "no error"; } catch (err) { return err.message; } };
          new Docker({ protocol: "ssh", host: "127.0.0.1", port: 22, username: "x" }).ping().then(
            () => console.log(JSON.stringify({ ssh: "no error" })),
            (err) => console.log(JSON.stringify({
              ssh: err.message,
              grpc: tryIt(() => new (require("@grpc/grpc-js").Server)()),
              protoLoader: tryIt(() => require("@grpc/proto-loader").loadSync("x.proto")),
              protobufjs: tryIt(() => require("protobufjs").Root.fromJSON({})),
            })),
          );`,
      },
      outfile: probe,
      plugins: [unusedTransports],
    });
    const said = JSON.parse(execFileSync("node", ["--no-deprecation", probe], { encoding: "utf8" })) as Record<
      string,
      string
    >;
    expect(said.ssh).toMatch(
      /^ha-sidecar: Docker over ssh:\/\/ \(docker-modem's ssh transport, package ssh2\) is not in this bundle/,
    );
    expect(said.grpc).toMatch(
      /^ha-sidecar: BuildKit sessions \(dockerode's gRPC, package @grpc\/grpc-js\) is not in this bundle/,
    );
    expect(said.protoLoader).toMatch(/BuildKit sessions .* package @grpc\/proto-loader\) is not in this bundle/);
    expect(said.protobufjs).toMatch(/BuildKit build progress .* package protobufjs\) is not in this bundle/);
  }, 30_000);
});

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

const get = (port: number, urlPath: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: urlPath, agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });

describe.each(["tcp", "unix"] as const)("the bundled sidecar over %s", (via) => {
  let docker: FakeDocker;
  let haproxy: FakeHaproxy;
  let sidecar: ChildProcess;
  let output = "";
  let statusPort: number;
  const work = path.join(dir, via);
  const configFile = path.join(work, "haproxy.cfg");

  beforeAll(async () => {
    mkdirSync(path.join(work, "run"), { recursive: true });
    writeFileSync(
      path.join(work, "haproxy"),
      '#!/bin/sh\n[ "$1" = -v ] && echo "HAProxy version 3.0.11 (stand-in)"\nexit 0\n',
    );
    chmodSync(path.join(work, "haproxy"), 0o755);
    haproxy = startFakeHaproxy(path.join(work, "run/admin.sock"), path.join(work, "run/master.sock"), configFile);
    docker = await startFakeDocker({
      onKill: (id, signal) => id === IDS.ha && signal === "SIGUSR2" && haproxy.reload(),
    });
    docker.mode.events = { kind: "live" };
    statusPort = await freePort();
    sidecar = spawn("node", [path.join(dir, "sidecar.js")], {
      env: {
        PATH: process.env.PATH,
        DOCKER_HOST: via === "tcp" ? `tcp://127.0.0.1:${docker.port}` : `unix://${docker.socketPath}`,
        LB_TEMPLATE: path.join(ROOT, "templates/haproxy.cfg.hbs"),
        LB_OUTPUT: configFile,
        LB_CHANGES_FILE: "none",
        LB_SERVER_STATE_FILE: path.join(work, "server-state"),
        LB_RUNTIME_SOCKET: path.join(work, "run/admin.sock"),
        LB_MASTER_SOCKET: path.join(work, "run/master.sock"),
        LB_HAPROXY_BIN: path.join(work, "haproxy"),
        LB_RUNTIME_API: "off",
        LB_SERF_RPC: "none",
        LB_READINESS: "none",
        LB_QUIET_MS: "0",
        LB_STATUS_ADDRESS: "127.0.0.1",
        LB_STATUS_PORT: String(statusPort),
      },
    });
    sidecar.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    sidecar.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  });

  afterAll(async () => {
    if (sidecar.exitCode === null) {
      const exited = new Promise((r) => sidecar.once("exit", r));
      sidecar.kill("SIGTERM");
      await exited;
    }
    await Promise.all([docker.close(), haproxy.close()]);
  });

  it("lists, follows events, finds HAProxy by inspecting itself and signals it: healthy", async () => {
    await eventually(async () => expect((await get(statusPort, "/healthz")).status).toBe(200), 15_000, 50).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}\nsidecar output:\n${output}`);
      },
    );
    expect(readFileSync(configFile, "utf8")).toContain("server hs_webapp_1 172.20.0.5:3000");
    const asked = docker.requests.map((r) => `${r.via} ${r.method} ${r.url.replace(/\?.*/, "")}`);
    expect(asked).toEqual(
      expect.arrayContaining([
        `${via} GET /containers/json`,
        `${via} GET /events`,
        `${via} GET /containers/${os.hostname()}/json`,
        `${via} POST /containers/${IDS.ha}/kill`,
      ]),
    );
    expect(docker.requests.every((r) => r.via === via)).toBe(true);
    expect(docker.requests.find((r) => r.method === "POST")?.url).toMatch(/signal=SIGUSR2/);
  }, 20_000);

  it("routes a container that an event announces", async () => {
    const id = "1".repeat(64);
    const labels = {
      "heig.lb.enable": "true",
      "com.docker.compose.project": "hs",
      "com.docker.compose.service": "webapp",
    };
    docker.containers.push({
      id,
      name: "hs_webapp_2",
      labels,
      networks: { heig: "172.20.0.6" },
      status: "Up 1 second",
    });
    docker.publish("container", "start", id, { ...labels, name: "hs_webapp_2" });
    await eventually(
      () => expect(readFileSync(configFile, "utf8")).toContain("server hs_webapp_2 172.20.0.6:3000"),
      10_000,
      50,
    );
    expect((await get(statusPort, "/metrics")).body).toMatch(/^ha_sidecar_docker_events_total\{[^}]*\} [1-9]/m);
  }, 15_000);
});
