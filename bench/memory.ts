/**
 * `make memory` (node dist/memory.js): the memory of the sidecar and of the Docker API proxy,
 * bundled and started as their images start them (node with the flags of the Dockerfiles'
 * ENTRYPOINTs, in the environment of their ENV lines; MEMORY_NODE_FLAGS="..." runs both with
 * other flags, "" with none).
 *
 * On this host, without Docker: both bundles are plain processes, wired as compose wires them
 * (sidecar → tcp://127.0.0.1 → proxy → unix socket), in front of the fake Docker Engine API of
 * the unit tests and a fake HAProxy runtime (a reload loads the file on disk). RSS is read from
 * /proc/<pid>/status: at rest after start; its peak (VmHWM) while containers start and stop in
 * bursts (MEMORY_CYCLES, 600) with their events and the operator's pages are read every 100 ms;
 * at rest after that. Then the cost of one container healthcheck (max RSS, user + system CPU,
 * from /usr/bin/time) against the running sidecar: the image's script, and `sidecar healthcheck`.
 * A host measurement, not the container's: the kernel, libc and node are this host's.
 *
 * `node dist/memory.js stack`: the same RSS numbers from a compose stack of its own (project
 * hsmem, ports 27080/27936/27081): /proc/1/status of the sidecar and proxy containers, at rest,
 * then after scaling webapp 2 → 10 → 2 twice under load. Needs Docker and the images.
 *
 * MEMORY_DIST=DIR measures the bundles of DIR instead of dist/ (another commit's, to compare).
 * Writes .bench/memory.json and .bench/memory.txt.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { IDS, startFakeDocker, type FakeDocker } from "../test/unit/docker-fake";
import { startFakeHaproxy } from "../test/unit/haproxy-fake";
import { getOnce, log, ROOT, sh, sleep, until } from "./lib";
import { Load } from "./load";
import { dockerfileEnv, entrypointNodeFlags, parseProcStatus, parseTimeOutput } from "./proc";
import { Stack } from "./stack";

const OUT_DIR = path.join(ROOT, ".bench");
const DIST = path.resolve(ROOT, process.env.MEMORY_DIST ?? "dist");
const CYCLES = Number(process.env.MEMORY_CYCLES ?? 600);
const REST_MS = 5_000;
const HEALTHCHECK_RUNS = 10;

interface Rss {
  readonly rssMiB: number;
  readonly peakRssMiB: number;
  /** The process's own memory (RssAnon): RSS less the mapped files (node's binary, libraries). */
  readonly anonMiB: number;
}

interface ProcessResult {
  readonly nodeFlags: readonly string[];
  readonly imageEnv?: Readonly<Record<string, string>>;
  readonly atRestAfterStart: Rss;
  readonly atRestAfterChurn: Rss;
}

interface HealthcheckCost {
  readonly command: string;
  readonly runs: number;
  readonly maxRssKiB: { readonly median: number; readonly max: number };
  readonly cpuMs: { readonly median: number; readonly max: number };
}

const mib = (kib: number): number => +(kib / 1024).toFixed(1);
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function rss(status: string): Rss {
  const { rssKiB, peakRssKiB, anonKiB } = parseProcStatus(status);
  return { rssMiB: mib(rssKiB), peakRssMiB: mib(peakRssKiB), anonMiB: mib(anonKiB) };
}

/** The environment a bundle's image gives it (its Dockerfile's ENV). */
function imageEnv(dockerfile: string): Record<string, string> {
  return dockerfileEnv(readFileSync(path.join(ROOT, dockerfile), "utf8"));
}

const rssOf = (pid: number): Rss => rss(readFileSync(`/proc/${pid}/status`, "utf8"));

/** The node flags a bundle runs with: MEMORY_NODE_FLAGS, or its image's ENTRYPOINT's. */
function nodeFlags(dockerfile: string): string[] {
  const forced = process.env.MEMORY_NODE_FLAGS;
  if (forced !== undefined) return forced.split(/\s+/).filter((f) => f !== "");
  return entrypointNodeFlags(readFileSync(path.join(ROOT, dockerfile), "utf8"));
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

function startNode(flags: readonly string[], script: string, env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const proc = spawn("node", [...flags, script], { env: { PATH: process.env.PATH, ...env }, stdio: "pipe" });
  let out = "";
  const keep = (c: Buffer): void => {
    out = (out + c.toString()).slice(-200_000);
  };
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  proc.on("exit", () => writeFileSync(logFile, out));
  return proc;
}

/** Containers start and stop in bursts, with Docker's events, while the operator's pages are read. */
async function churn(fake: FakeDocker, statusPort: number, cycles: number): Promise<void> {
  const live: string[] = [];
  let reading = true;
  const reader = (async () => {
    const pages = ["/", "/status", "/metrics", "/changes", "/timeline.svg?minutes=5", "/healthz"];
    for (let i = 0; reading; i++) {
      await getOnce(statusPort, pages[i % pages.length]!).catch(() => undefined);
      await sleep(100);
    }
  })();
  for (let i = 0; i < cycles; i++) {
    const id = (i + 1).toString(16).padStart(64, "0");
    const name = `mem_webapp_${i}`;
    const labels = { "heig.lb.enable": "true", "heig.lb.port": "3000", "com.docker.compose.project": "hs" };
    fake.containers.push({
      id,
      name,
      labels: { ...labels, "com.docker.compose.service": "webapp" },
      networks: { heig: `172.20.${(i >> 8) & 255}.${i & 255}` },
      status: "Up 1 second",
    });
    fake.publish("container", "start", id, { ...labels, name });
    live.push(id);
    // Ten at a time; the oldest stops (kill, then die) as the next starts.
    if (live.length > 10) {
      const old = live.shift()!;
      const oldName = fake.containers.find((c) => c.id === old)!.name;
      fake.publish("container", "kill", old, { ...labels, name: oldName, signal: "15" });
      fake.containers.splice(
        fake.containers.findIndex((c) => c.id === old),
        1,
      );
      fake.publish("container", "die", old, { ...labels, name: oldName, exitCode: "0" });
    }
    // Bursts of 20 starts 10 ms apart, then a second for the passes to catch up.
    await sleep(i % 20 === 19 ? 1_000 : 10);
  }
  for (const id of live.splice(0)) {
    const [gone] = fake.containers.splice(
      fake.containers.findIndex((c) => c.id === id),
      1,
    );
    fake.publish("container", "die", id, { "heig.lb.enable": "true", name: gone!.name });
  }
  reading = false;
  await reader;
}

/** One command, HEALTHCHECK_RUNS times, under /usr/bin/time; it must exit 0 (the sidecar is healthy). */
function healthcheckCost(command: readonly string[], env: NodeJS.ProcessEnv): HealthcheckCost {
  const runs = Array.from({ length: HEALTHCHECK_RUNS }, () => {
    const r = spawnSync("/usr/bin/time", ["-f", "%M %U %S", ...command], {
      env: { PATH: process.env.PATH, ...env },
      encoding: "utf8",
    });
    if (r.error !== undefined) throw new Error(`/usr/bin/time: ${r.error.message} (Debian's package "time")`);
    if (r.status !== 0) throw new Error(`${command.join(" ")} exited ${r.status}: ${r.stderr}`);
    return parseTimeOutput(r.stderr);
  });
  const rss = runs.map((r) => r.maxRssKiB);
  const cpu = runs.map((r) => r.cpuMs);
  return {
    command: command.join(" ").replace(`${ROOT}/`, ""),
    runs: runs.length,
    maxRssKiB: { median: median(rss), max: Math.max(...rss) },
    cpuMs: { median: median(cpu), max: Math.max(...cpu) },
  };
}

async function onThisHost(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hs-memory-"));
  mkdirSync(path.join(dir, "run"));
  const haproxyBin = path.join(dir, "haproxy");
  writeFileSync(haproxyBin, '#!/bin/sh\n[ "$1" = -v ] && echo "HAProxy version 3.0.11 (stand-in)"\nexit 0\n');
  chmodSync(haproxyBin, 0o755);
  const configFile = path.join(dir, "haproxy.cfg");
  const haproxy = startFakeHaproxy(path.join(dir, "run/admin.sock"), path.join(dir, "run/master.sock"), configFile);
  const fake = await startFakeDocker({
    record: false,
    onKill: (id, signal) => id === IDS.ha && signal === "SIGUSR2" && haproxy.reload(),
  });
  fake.mode.events = { kind: "live" };
  const sidecarFlags = nodeFlags("compose/sidecar/Dockerfile");
  const proxyFlags = nodeFlags("compose/docker-proxy/Dockerfile");
  const sidecarImageEnv = imageEnv("compose/sidecar/Dockerfile");
  const proxyImageEnv = imageEnv("compose/docker-proxy/Dockerfile");
  const [proxyPort, statusPort] = [await freePort(), await freePort()];
  const proxy = startNode(
    proxyFlags,
    path.join(DIST, "docker-proxy.js"),
    {
      ...proxyImageEnv,
      PROXY_SOCKET: fake.socketPath,
      PROXY_PORT: String(proxyPort),
      PROXY_LOG_LEVEL: "warn",
    },
    path.join(dir, "proxy.log"),
  );
  const sidecarEnv = {
    ...sidecarImageEnv,
    DOCKER_HOST: `tcp://127.0.0.1:${proxyPort}`,
    LB_TEMPLATE: path.join(ROOT, "templates/haproxy.cfg.hbs"),
    LB_OUTPUT: configFile,
    LB_CHANGES_FILE: path.join(dir, "changes.jsonl"),
    LB_SERVER_STATE_FILE: path.join(dir, "server-state"),
    LB_RUNTIME_SOCKET: path.join(dir, "run/admin.sock"),
    LB_MASTER_SOCKET: path.join(dir, "run/master.sock"),
    LB_HAPROXY_BIN: haproxyBin,
    // The reload path: the fake confirms reloads and reads the file's servers back, no runtime command.
    LB_RUNTIME_API: "off",
    LB_SERF_RPC: "none",
    LB_READINESS: "none",
    LB_STATUS_ADDRESS: "127.0.0.1",
    LB_STATUS_PORT: String(statusPort),
    LB_LOG_LEVEL: "warn",
  };
  const sidecar = startNode(sidecarFlags, path.join(DIST, "sidecar.js"), sidecarEnv, path.join(dir, "sidecar.log"));
  try {
    await until("the sidecar healthy", async () => (await getOnce(statusPort, "/healthz")).status === 200, 30_000);
    await sleep(REST_MS);
    const sidecarAtRest = rssOf(sidecar.pid!);
    const proxyAtRest = rssOf(proxy.pid!);
    log(`at rest: sidecar ${sidecarAtRest.rssMiB} MiB, proxy ${proxyAtRest.rssMiB} MiB; churn: ${CYCLES} containers`);
    const churnStartMs = Date.now();
    await churn(fake, statusPort, CYCLES);
    const churnS = Math.round((Date.now() - churnStartMs) / 1000);
    await until(
      "the sidecar healthy with the churn's containers gone",
      async () =>
        (await getOnce(statusPort, "/healthz")).status === 200 &&
        !readFileSync(configFile, "utf8").includes("mem_webapp"),
      60_000,
    );
    await sleep(REST_MS);
    const sidecarAfter = rssOf(sidecar.pid!);
    const proxyAfter = rssOf(proxy.pid!);
    const metrics = (await getOnce(statusPort, "/metrics")).body;
    const heap = (name: string): number =>
      mib(Number(new RegExp(`^ha_sidecar_nodejs_${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? NaN) / 1024);
    const healthchecks = [
      ...(fileExists("compose/sidecar/healthcheck")
        ? [
            healthcheckCost(["bash", path.join(ROOT, "compose/sidecar/healthcheck")], {
              LB_STATUS_PORT: String(statusPort),
            }),
          ]
        : []),
      healthcheckCost(["node", path.join(DIST, "sidecar.js"), "healthcheck"], {
        LB_STATUS_PORT: String(statusPort),
      }),
    ];
    return {
      where: "host processes (not the containers)",
      node: process.version,
      bundleBytes: {
        sidecar: statSync(path.join(DIST, "sidecar.js")).size,
        proxy: statSync(path.join(DIST, "docker-proxy.js")).size,
      },
      churn: { containers: CYCLES, seconds: churnS },
      sidecar: {
        nodeFlags: sidecarFlags,
        imageEnv: sidecarImageEnv,
        atRestAfterStart: sidecarAtRest,
        atRestAfterChurn: sidecarAfter,
        heapAfterChurnMiB: { used: heap("heap_size_used_bytes"), total: heap("heap_size_total_bytes") },
      },
      proxy: {
        nodeFlags: proxyFlags,
        imageEnv: proxyImageEnv,
        atRestAfterStart: proxyAtRest,
        atRestAfterChurn: proxyAfter,
      },
      healthchecks,
    };
  } finally {
    sidecar.kill("SIGTERM");
    proxy.kill("SIGTERM");
    await Promise.all(
      [sidecar, proxy].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.on("exit", r)))),
    );
    await haproxy.close();
    await fake.close();
    log(`logs: ${dir}/sidecar.log, ${dir}/proxy.log`);
    if (process.env.MEMORY_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function fileExists(relative: string): boolean {
  try {
    statSync(path.join(ROOT, relative));
    return true;
  } catch {
    return false;
  }
}

/** A compose stack of its own; RSS of the containers' PID 1. */
async function inAStack(): Promise<Record<string, unknown>> {
  const s = new Stack({
    project: "hsmem",
    network: "hsmem-heig",
    httpPort: 27080,
    statsPort: 27936,
    statusPort: 27081,
  });
  const proxyContainer = `${s.opts.project}_docker-proxy_1`;
  const rssIn = (container: string): Rss => rss(sh(`docker exec ${container} cat /proc/1/status`));
  s.up(2);
  try {
    await until("2 webapps UP", async () => (await s.upServers()).length === 2);
    await until("config settled", () => s.configSettled());
    await sleep(REST_MS);
    const atRest = { sidecar: rssIn(s.sidecar), proxy: rssIn(proxyContainer) };
    const load = new Load({ port: s.opts.httpPort, keepAliveRate: 200, newConnectionLoops: 1 });
    load.start();
    for (let i = 0; i < 2; i++) {
      await s.scale(10);
      await until("10 webapps UP", async () => (await s.upServers()).length === 10);
      await s.scale(2);
      await until("2 webapps UP", async () => (await s.upServers()).length === 2);
    }
    const requests = await load.stop();
    await sleep(REST_MS);
    const after = { sidecar: rssIn(s.sidecar), proxy: rssIn(proxyContainer) };
    return {
      where: "containers of a compose stack (hsmem)",
      requests,
      sidecar: { atRestAfterStart: atRest.sidecar, atRestAfterChurn: after.sidecar },
      proxy: { atRestAfterStart: atRest.proxy, atRestAfterChurn: after.proxy },
    };
  } finally {
    s.down();
  }
}

function summary(r: Record<string, unknown>): string {
  const p = (name: string): string => {
    const x = r[name] as ProcessResult & { heapAfterChurnMiB?: { used: number; total: number } };
    const env = Object.entries(x.imageEnv ?? {}).map(([k, v]) => `${k}=${v} `);
    const flags = x.nodeFlags === undefined ? "" : ` (${env.join("")}node ${x.nodeFlags.join(" ") || "without flags"})`;
    const heap =
      x.heapAfterChurnMiB === undefined
        ? ""
        : `; V8 heap ${x.heapAfterChurnMiB.used} used of ${x.heapAfterChurnMiB.total} MiB`;
    return (
      `${name}${flags}: RSS at rest ${x.atRestAfterStart.rssMiB} MiB (own ${x.atRestAfterStart.anonMiB}); ` +
      `peak ${x.atRestAfterChurn.peakRssMiB} MiB; after churn, at rest ${x.atRestAfterChurn.rssMiB} MiB ` +
      `(own ${x.atRestAfterChurn.anonMiB})${heap}`
    );
  };
  const bytes = r.bundleBytes as { sidecar: number; proxy: number } | undefined;
  const checks = (r.healthchecks as HealthcheckCost[] | undefined) ?? [];
  return [
    `memory (${String(r.where)})`,
    ...(bytes === undefined
      ? []
      : [`bundles: sidecar.js ${bytes.sidecar} bytes, docker-proxy.js ${bytes.proxy} bytes`]),
    p("sidecar"),
    p("proxy"),
    ...checks.map(
      (c) =>
        `healthcheck \`${c.command}\`: max RSS ${mib(c.maxRssKiB.median)} MiB (max ${mib(c.maxRssKiB.max)}), ` +
        `CPU ${c.cpuMs.median} ms (max ${c.cpuMs.max}) over ${c.runs} runs`,
    ),
  ].join("\n");
}

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  const result = {
    at: new Date().toISOString(),
    ...(process.argv[2] === "stack" ? await inAStack() : await onThisHost()),
  };
  writeFileSync(path.join(OUT_DIR, "memory.json"), `${JSON.stringify(result, null, 2)}\n`);
  const text = summary(result);
  writeFileSync(path.join(OUT_DIR, "memory.txt"), `${text}\n`);
  process.stdout.write(`${text}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`memory: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
