import { spawn, spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import * as http from "node:http";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");
// Set for the whole suite by env.ts: the tests' own compose project, ports and network.
export const PROJECT = process.env.COMPOSE_PROJECT_NAME!;
export const NETWORK = process.env.LB_NETWORK!;
export const HTTP_PORT = Number(process.env.HTTP_PORT);
export const STATS_PORT = Number(process.env.STATS_PORT);
export const STATUS_PORT = Number(process.env.SIDECAR_STATUS_PORT);
/** The container compose names `<project>_<service>_<n>`. */
export const containerOf = (service: string, n = 1): string => `${PROJECT}_${service}_${n}`;
/** Every container or network a test creates by hand carries this label, for cleanup. */
/** One value per lane of the suite (HS_TEST_LANE): a lane cleans up only what it made. */
export const TEST_LABEL = `ha-sidecar.test=${process.env.HS_TEST_LANE ?? "1"}`;

/** Runs a shell command from the repository root; throws with its output when it fails. */
export function sh(cmd: string, opts: { allowFail?: boolean; env?: NodeJS.ProcessEnv } = {}): string {
  // env: the suite's own (env.ts); child_process would otherwise read the real process's.
  const r = spawnSync("bash", ["-c", cmd], {
    cwd: ROOT,
    env: opts.env ?? process.env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`command failed (${r.status}): ${cmd}\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/**
 * `sh` without blocking the event loop: for commands that run while a request loop measures
 * (a blocked loop reads a slow command as timed-out requests).
 */
export function shAsync(cmd: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", cmd], { cwd: ROOT, env: opts.env ?? process.env });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`command failed (${code}): ${cmd}\n${out}\n${err}`)),
    );
  });
}

export const compose = (args: string, opts?: { allowFail?: boolean }): string => sh(`docker-compose ${args}`, opts);

export { eventually } from "../support/eventually";

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request on a new connection to 127.0.0.1 (or to `host`: a node container on a network the
 * test created).
 */
export function get(
  port: number,
  urlPath = "/",
  timeoutMs = 5_000,
  host = "127.0.0.1",
  auth?: string,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: timeoutMs, auth }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${host}:${port}${urlPath} timed out`)));
    req.on("error", reject);
  });
}

export interface StatsRow {
  readonly pxname: string;
  readonly svname: string;
  readonly status: string;
}

/** `user:password` of the stats page, where it has some (a swarm's always has). */
let statsAuth: string | undefined;
export function useStatsCredentials(userPassword: string | undefined): void {
  statsAuth = userPassword;
}

/** The stats page's CSV (`/;csv`), one object per line (`port`: another HAProxy replica's). */
export async function statsRows(host = "127.0.0.1", port = STATS_PORT): Promise<StatsRow[]> {
  const res = await get(port, "/;csv", 5_000, host, statsAuth);
  if (res.status !== 200) throw new Error(`stats CSV answered ${res.status}`);
  const lines = res.body.trim().split("\n");
  const header = lines[0]!.replace(/^# /, "").split(",");
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ""])) as unknown as StatsRow;
  });
}

/** Servers of one backend on the stats page, name → status, sorted by name. */
export async function statsServers(
  backend = "webapp",
  host = "127.0.0.1",
  port = STATS_PORT,
): Promise<Record<string, string>> {
  const rows = (await statsRows(host, port)).filter(
    (r) => r.pxname === backend && r.svname !== "FRONTEND" && r.svname !== "BACKEND",
  );
  return Object.fromEntries(rows.map((r) => [r.svname, r.status]).sort());
}

/** The servers of `backend` that HAProxy has UP, sorted. */
export async function upServers(backend = "webapp", host = "127.0.0.1", port = STATS_PORT): Promise<string[]> {
  return Object.entries(await statsServers(backend, host, port))
    .filter(([, s]) => s === "UP")
    .map(([n]) => n)
    .sort();
}

/** Sends `n` requests to the frontend; returns the x-backend-ip of each 200 and the other statuses. */
export async function spread(n: number, host = "127.0.0.1"): Promise<{ ips: Set<string>; failures: number[] }> {
  const ips = new Set<string>();
  const failures: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await get(HTTP_PORT, "/", 5_000, host);
    if (r.status === 200) ips.add(String(r.headers["x-backend-ip"]));
    else failures.push(r.status);
  }
  return { ips, failures };
}

/** IP of a container on a network, from Docker. */
export function containerIp(name: string, network = NETWORK): string {
  return sh(`docker inspect -f '{{(index .NetworkSettings.Networks "${network}").IPAddress}}' ${name}`).trim();
}

/** Names of the running replicas of a compose service. */
export function serviceContainers(service: string): string[] {
  return sh(
    `docker ps --filter label=com.docker.compose.project=${PROJECT} --filter label=com.docker.compose.service=${service} --format '{{.Names}}'`,
  )
    .split("\n")
    .filter(Boolean)
    .sort();
}

export function removeTestLeftovers(): void {
  sh(`docker ps -aq --filter label=${TEST_LABEL} | xargs -r docker rm -f`, { allowFail: true });
  sh(`docker network ls -q --filter label=${TEST_LABEL} | xargs -r docker network rm`, { allowFail: true });
}

/** The config file the sidecar wrote, read from the shared volume. */
export function liveConfig(): string {
  return compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg");
}

/** Runs `sidecar cli` inside the sidecar container (HAProxy's runtime or master socket; `replica` k of several). */
export function haproxyCli(command: string, master = false, replica?: number): string {
  return compose(
    `exec -T sidecar node /app/sidecar.js cli ${replica === undefined ? "" : `--replica ${replica} `}${master ? "--master " : ""}${JSON.stringify(command)}`,
  );
}

/** How many times the HAProxy master has reloaded, from its own counter (`show proc`). */
export function haproxyReloads(): number {
  const line = haproxyCli("show proc", true)
    .split("\n")
    .find((l) => /^\d+\s+master\s/.test(l));
  if (!line) throw new Error("no master line in show proc");
  return Number(line.trim().split(/\s+/)[2]);
}

/** The config id the serving HAProxy worker reports, and the one in the live file. */
export function configIds(): { running: string; file: string } {
  const running = /^description: ha-sidecar-(\S+)$/m.exec(haproxyCli("show info"))?.[1] ?? "";
  const file = /^\s*description ha-sidecar-(\S+)$/m.exec(liveConfig())?.[1] ?? "";
  return { running, file };
}

/** Sidecar log lines (JSON) whose msg is `msg`. */
export function sidecarLogs(msg: string): Array<Record<string, unknown>> {
  return compose("logs --no-color sidecar")
    .split("\n")
    .map((l) => l.slice(l.indexOf("{")))
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((r) => r["msg"] === msg);
}

/**
 * Starts a labelled webapp container on the watched network that the test owns. It joins the
 * stack's Serf cluster as compose's webapps do (the key comes from this process's environment,
 * env.ts, not the command line): an agent that cannot join is a missing member, and the Serf
 * gate takes such a container out LB_SERF_GRACE_MS (15 s) after it was routed. A test that ran
 * longer than that on a busy machine saw one of its servers leave (the 90/10 split at 84 %).
 */
export function runLabelled(name: string, extra = ""): void {
  sh(
    `docker run -d --name ${name} --label ${TEST_LABEL} --network ${NETWORK} --label heig.lb.enable=true ` +
      `-e SERF_ENCRYPT_KEY -e SERF_JOIN=serf -e WEBAPP_NETWORK=${NETWORK} ${extra} ha-sidecar/webapp:latest`,
  );
}

/**
 * The request loops still running: a test that failed before it stopped its own gets it stopped
 * after it (setup-e2e.ts, which reads this set from globalThis: importing this module there would
 * fix its ports before a test file's own env module set them).
 */
const runningLoops: Set<{ stop: () => Promise<unknown> }> = ((globalThis as Record<string, unknown>)[
  "__hsRequestLoops"
] ??= new Set()) as Set<{ stop: () => Promise<unknown> }>;

/**
 * The request loop's body, run in a worker thread of its own: the tests' synchronous commands
 * (`sh`, spawnSync) block the main thread's event loop for seconds (a `make scale` that stops
 * containers), and a loop sharing it would read that pause as requests timing out.
 */
const REQUEST_LOOP_WORKER = `
const http = require("node:http");
const { parentPort, workerData } = require("node:worker_threads");
const { port, timeoutMs } = workerData;
let running = true;
let sent = 0;
let failed = 0;
const failures = [];
const fail = (what) => {
  if (++failed <= 100) failures.push(what);
  else failures[99] = "... " + (failed - 99) + " more";
};
const once = () =>
  new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200 ? null : "HTTP " + res.statusCode));
      res.on("error", (err) => resolve(err.message));
    });
    req.on("timeout", () => req.destroy(new Error("GET 127.0.0.1:" + port + "/ timed out")));
    req.on("error", (err) => resolve(err.message));
  });
parentPort.on("message", () => (running = false));
(async () => {
  while (running) {
    sent++;
    const f = await once();
    if (f !== null) fail(f);
  }
  parentPort.postMessage({ sent, failures });
})();
`;

/**
 * Requests in a loop on new connections to 127.0.0.1:`port` until stopped, in a worker thread
 * (see above): how many, which failed (the first 100 said, all counted). A loop left running by
 * a failed test is stopped after it (setup-e2e.ts).
 */
export function requestLoop(port = HTTP_PORT): { stop: () => Promise<{ sent: number; failures: string[] }> } {
  const worker = new Worker(REQUEST_LOOP_WORKER, { eval: true, workerData: { port, timeoutMs: 5_000 } });
  const result = new Promise<{ sent: number; failures: string[] }>((resolve, reject) => {
    worker.once("message", (m: { sent: number; failures: string[] }) => resolve(m));
    worker.once("error", reject);
  });
  let stopped: Promise<{ sent: number; failures: string[] }> | null = null;
  const handle = {
    stop: () => {
      runningLoops.delete(handle);
      stopped ??= (async () => {
        worker.postMessage("stop");
        const r = await result;
        await worker.terminate();
        return r;
      })();
      return stopped;
    },
  };
  runningLoops.add(handle);
  return handle;
}

/** Signals the Serf agent of a container, by its pid (from the host: it may be the container's PID 1). */
export const signalSerf = (container: string, signal: "STOP" | "CONT"): void => {
  sh(`docker top ${container} -eo pid,comm | awk '$2 == "serf" { print $1 }' | xargs -r kill -${signal}`);
};
