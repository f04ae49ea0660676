/**
 * `make bench`: steady HTTP load on 127.0.0.1 while the stack scales 2 → 10 → 2, a webapp
 * restarts and the config changes 20 times back to back. Writes .bench/result.json and
 * .bench/summary.txt. `--smoke`: a short load and one scale step (used by `make test`).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import autocannon from "autocannon";

const ROOT = path.resolve(__dirname, "..");
const SMOKE = process.argv.includes("--smoke");
const OUT_DIR = path.join(ROOT, ".bench");
// The benchmark's own stack (see the Makefile's bench target; the e2e suite sets its own).
const PROJECT = process.env.COMPOSE_PROJECT_NAME ?? "hsbench";
const NETWORK = process.env.LB_NETWORK ?? "hsbench-heig";
const HTTP_PORT = Number(process.env.HTTP_PORT ?? 28080);
const STATS_PORT = Number(process.env.STATS_PORT ?? 28936);
const SIDECAR = `${PROJECT}_sidecar_1`;
// make and docker-compose, run from here, act on the same stack.
Object.assign(process.env, {
  COMPOSE_PROJECT_NAME: PROJECT,
  LB_NETWORK: NETWORK,
  HTTP_PORT: String(HTTP_PORT),
  STATS_PORT: String(STATS_PORT),
  SIDECAR_STATUS_PORT: process.env.SIDECAR_STATUS_PORT ?? "28081",
});
const KEEPALIVE_RATE = SMOKE ? 200 : 500; // requests/s over keep-alive connections
const NEWCONN_WORKERS = SMOKE ? 2 : 3; // sequential new-connection loops

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
};

function sh(cmd: string): string {
  const r = spawnSync("bash", ["-c", cmd], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}
/** Async: while load runs, the event loop must never block (a blocked loop fakes timeouts). */
function run(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", cmd], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} failed: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout),
    );
  });
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(fn)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function getOnce(port: number, urlPath: string): Promise<{ status: number; ip: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, ip: String(res.headers["x-backend-ip"] ?? ""), body }),
      );
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

async function upServers(): Promise<string[]> {
  const csv = (await getOnce(STATS_PORT, "/;csv")).body.trim().split("\n").slice(1);
  return csv
    .map((l) => l.split(","))
    .filter((c) => c[0] === "webapp" && c[1] !== "BACKEND" && c[17] === "UP")
    .map((c) => c[1]!);
}

const cli = (cmd: string, master = false): Promise<string> =>
  run(`docker exec ${SIDECAR} node /app/sidecar.js cli ${master ? "--master " : ""}${JSON.stringify(cmd)}`);
async function reloads(): Promise<number> {
  const line = (await cli("show proc", true)).split("\n").find((l) => /^\d+\s+master\s/.test(l))!;
  return Number(line.trim().split(/\s+/)[2]);
}
async function workers(): Promise<number> {
  const out = await cli("show proc", true);
  const section = out.split("# workers")[1]?.split("# programs")[0] ?? "";
  return section.split("\n").filter((l) => /^\d+\s+worker/.test(l.trim())).length;
}
async function configSettled(): Promise<boolean> {
  const running = /^description: (\S+)$/m.exec(await cli("show info"))?.[1];
  const file = /^\s*description (\S+)$/m.exec(
    await run(`docker exec ${SIDECAR} cat /var/lib/ha-sidecar/haproxy.cfg`),
  )?.[1];
  return running !== undefined && running === file;
}

// --- observation ------------------------------------------------------------------------
interface Hit {
  sentMs: number;
  doneMs: number;
  ip: string;
}
const hits: Hit[] = [];
const probe = { sent: 0, ok: 0, failed: 0, failures: [] as string[] };
let probing = true;

async function newConnectionLoop(): Promise<void> {
  while (probing) {
    const sentMs = Date.now();
    probe.sent++;
    try {
      const r = await getOnce(HTTP_PORT, "/");
      if (r.status >= 200 && r.status < 300) {
        probe.ok++;
        hits.push({ sentMs, doneMs: Date.now(), ip: r.ip });
      } else {
        probe.failed++;
        probe.failures.push(`HTTP ${r.status} at ${new Date(sentMs).toISOString()}`);
      }
    } catch (err) {
      probe.failed++;
      probe.failures.push(`${(err as Error).message} at ${new Date(sentMs).toISOString()}`);
    }
  }
}

interface Lifecycle {
  id: string;
  name: string;
  action: string;
  atMs: number;
  signal?: string;
  step: string;
}
let currentStep = "warm-up";
const lifecycle: Lifecycle[] = [];
const ipOf = new Map<string, string>();
function watchEvents(): ChildProcess {
  const p = spawn(
    "docker",
    [
      "events",
      "--format",
      "{{json .}}",
      "--filter",
      "type=container",
      "--filter",
      "label=com.docker.compose.service=webapp",
      "--filter",
      `label=com.docker.compose.project=${PROJECT}`,
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  let buf = "";
  p.stdout.on("data", (c: Buffer) => {
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const e = JSON.parse(line) as {
          Action: string;
          Actor: { ID: string; Attributes: Record<string, string> };
          timeNano: number;
        };
        if (!["start", "kill"].includes(e.Action)) continue;
        const ev: Lifecycle = {
          id: e.Actor.ID,
          name: e.Actor.Attributes["name"] ?? "",
          action: e.Action,
          atMs: e.timeNano / 1e6,
          step: currentStep,
        };
        if (e.Actor.Attributes["signal"]) ev.signal = e.Actor.Attributes["signal"];
        lifecycle.push(ev);
        if (e.Action === "start") {
          void run(
            `docker inspect -f '{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}' ${e.Actor.ID}`,
          ).then(
            (ip) => {
              if (ip.trim()) ipOf.set(e.Actor.ID, ip.trim());
            },
            () => undefined,
          );
        }
      } catch {
        /* partial line */
      }
    }
  });
  return p;
}

function percentiles(xs: number[]): { n: number; p50: number | null; p95: number | null; max: number | null } {
  if (xs.length === 0) return { n: 0, p50: null, p95: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!);
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: Math.round(s[s.length - 1]!) };
}

function convergence(): {
  startToFirstResponseMs: ReturnType<typeof percentiles>;
  killToLastRoutedMs: ReturnType<typeof percentiles>;
  startToFirstResponseByStepMs: Record<string, ReturnType<typeof percentiles>>;
  unobservedStarts: string[];
} {
  const starts: number[] = [];
  const byStep = new Map<string, number[]>();
  const unobserved: string[] = [];
  const drains: number[] = [];
  for (const ev of lifecycle) {
    const ip = ipOf.get(ev.id);
    if (!ip) continue;
    if (ev.action === "start") {
      const first = hits.find((h) => h.ip === ip && h.doneMs >= ev.atMs);
      if (first) {
        starts.push(first.doneMs - ev.atMs);
        byStep.set(ev.step, [...(byStep.get(ev.step) ?? []), first.doneMs - ev.atMs]);
      } else unobserved.push(ev.name);
    } else if (ev.action === "kill" && (ev.signal === "15" || ev.signal === "9")) {
      // The last request HAProxy sent there, before the same IP was started again.
      const restart = lifecycle.find((o) => o.action === "start" && o.atMs > ev.atMs && ipOf.get(o.id) === ip);
      const routed = hits.filter((h) => h.ip === ip && h.sentMs >= ev.atMs && (!restart || h.sentMs < restart.atMs));
      drains.push(routed.length === 0 ? 0 : Math.max(...routed.map((h) => h.sentMs)) - ev.atMs);
    }
  }
  return {
    startToFirstResponseMs: percentiles(starts),
    killToLastRoutedMs: percentiles(drains),
    startToFirstResponseByStepMs: Object.fromEntries([...byStep].map(([k, v]) => [k, percentiles(v)])),
    unobservedStarts: unobserved,
  };
}

// --- scenario ---------------------------------------------------------------------------
interface Step {
  name: string;
  reloads: number;
  settleMs: number;
}
const steps: Step[] = [];

async function step(name: string, action: () => Promise<unknown>, settled: () => Promise<boolean>): Promise<void> {
  const before = await reloads();
  const t0 = Date.now();
  log(`${name}…`);
  currentStep = name;
  await action();
  await until(name, async () => (await settled()) && (await configSettled()));
  const s = { name, reloads: (await reloads()) - before, settleMs: Date.now() - t0 };
  steps.push(s);
  log(`${name}: ${s.reloads} reload(s), settled in ${s.settleMs} ms`);
}
const countUp = (n: number) => async (): Promise<boolean> => (await upServers()).length === n;

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  log("bringing the stack up (make up)");
  sh("make down >/dev/null 2>&1 || true");
  sh("docker rm -f bench-flap >/dev/null 2>&1 || true");
  sh("make up >/dev/null");
  await until("2 webapps UP", countUp(2));
  await until("config settled", configSettled);

  const events = watchEvents();
  await sleep(500);
  const started = Date.now();
  log(`load: keep-alive ${KEEPALIVE_RATE} req/s (autocannon) + ${NEWCONN_WORKERS} new-connection loops`);
  let keepAlive!: autocannon.Instance;
  const keepAliveDone = new Promise<autocannon.Result>((resolve, reject) => {
    keepAlive = autocannon(
      {
        url: `http://127.0.0.1:${HTTP_PORT}/`,
        connections: 8,
        overallRate: KEEPALIVE_RATE,
        duration: 3600,
        timeout: 10,
      },
      (err: Error | null, res) => (err ? reject(err) : resolve(res)),
    );
  });
  const loops = Array.from({ length: NEWCONN_WORKERS }, () => newConnectionLoop());
  await sleep(SMOKE ? 1000 : 3000);

  if (SMOKE) {
    await step("scale 2 → 3", () => run("make scale N=3 >/dev/null 2>&1"), countUp(3));
    await sleep(2000);
  } else {
    await step("scale 2 → 10", () => run("make scale N=10 >/dev/null 2>&1"), countUp(10));
    await sleep(5000);
    await step("scale 10 → 2", () => run("make scale N=2 >/dev/null 2>&1"), countUp(2));
    await sleep(3000);
    await step(
      "restart one webapp",
      () => run(`docker restart ${PROJECT}_webapp_1 >/dev/null`),
      async () => (await upServers()).includes(`${PROJECT}_webapp_1`) && (await upServers()).length === 2,
    );
    await sleep(3000);
    const before = await reloads();
    const t0 = Date.now();
    log("20 back-to-back config changes…");
    currentStep = "20 back-to-back config changes";
    for (let i = 0; i < 10; i++) {
      // A labelled container in a backend of its own: each run/rm changes haproxy.cfg without
      // touching the servers under load. Each step waits for HAProxy to show it, so that none
      // of the 20 is coalesced with the next.
      await run(
        `docker run -d --name bench-flap --network ${NETWORK} --label heig.lb.enable=true --label heig.lb.backend=flap ha-sidecar/webapp:latest >/dev/null`,
      );
      await until("flap listed", async () => (await getOnce(STATS_PORT, "/;csv")).body.includes("flap,bench-flap,"));
      await run("docker rm -f bench-flap >/dev/null");
      await until("flap gone", async () => !(await getOnce(STATS_PORT, "/;csv")).body.includes("flap,bench-flap,"));
    }
    await until("config settled", configSettled);
    steps.push({
      name: "20 back-to-back config changes",
      reloads: (await reloads()) - before,
      settleMs: Date.now() - t0,
    });
    log(`20 changes: ${steps[steps.length - 1]!.reloads} reload(s)`);
    await sleep(3000);
  }

  probing = false;
  keepAlive.stop();
  const ka = await keepAliveDone;
  await Promise.all(loops);
  const durationS = (Date.now() - started) / 1000;
  events.kill();

  log("measuring the sidecar at rest and render/validate times");
  const workersAfter = await workers();
  const stat = (): number => {
    const f = sh(`docker exec ${SIDECAR} cat /proc/1/stat`).split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const ticks0 = stat();
  const idleS = SMOKE ? 3 : 10;
  await sleep(idleS * 1000);
  const idleCpuPct = ((stat() - ticks0) / 100 / idleS) * 100; // USER_HZ = 100
  const peakRssKb = Number(/VmHWM:\s+(\d+)/.exec(sh(`docker exec ${SIDECAR} cat /proc/1/status`))![1]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(sh(`docker exec ${SIDECAR} cat /proc/1/status`))![1]);
  let render: unknown = null;
  if (!SMOKE) {
    sh(`docker cp dist/render-bench.js ${SIDECAR}:/tmp/render-bench.js`);
    render = JSON.parse(sh(`docker exec ${SIDECAR} node /tmp/render-bench.js`));
  }

  // autocannon's own "sent" counts each connection's first rate-window at start-up as sent;
  // count what was answered plus what failed instead.
  const kaFailed = ka.errors + ka.timeouts + ka.non2xx + ka.resets;
  const kaSent = ka["2xx"] + kaFailed;
  const result = {
    mode: SMOKE ? "smoke" : "full",
    at: new Date().toISOString(),
    durationS: Math.round(durationS),
    requests: {
      sent: kaSent + probe.sent,
      failed: kaFailed + probe.failed,
      keepAlive: {
        sent: kaSent,
        ok: ka["2xx"],
        errors: ka.errors,
        timeouts: ka.timeouts,
        non2xx: ka.non2xx,
        resets: ka.resets,
        latencyMsP50: ka.latency.p50,
        latencyMsP99: ka.latency.p99,
        autocannonSent: ka.requests.sent,
      },
      newConnection: {
        sent: probe.sent,
        ok: probe.ok,
        failed: probe.failed,
        firstFailures: probe.failures.slice(0, 10),
      },
    },
    steps,
    convergence: convergence(),
    sidecar: {
      peakRssMiB: +(peakRssKb / 1024).toFixed(1),
      rssAtRestMiB: +(rssKb / 1024).toFixed(1),
      idleCpuPercentOfOneCore: +idleCpuPct.toFixed(2),
    },
    haproxyWorkersAfterRun: workersAfter,
    renderAndValidate: render,
  };
  writeFileSync(path.join(OUT_DIR, SMOKE ? "smoke.json" : "result.json"), `${JSON.stringify(result, null, 2)}\n`);
  const c = result.convergence;
  const summary = [
    `ha-sidecar bench (${result.mode}), ${result.at}, ${result.durationS} s of load`,
    `requests: ${result.requests.sent} sent, ${result.requests.failed} failed ` +
      `(keep-alive ${kaSent}, new-connection ${probe.sent})`,
    ...steps.map((s) => `  ${s.name}: ${s.reloads} reload(s), settled in ${s.settleMs} ms`),
    `start → first response through HAProxy: p50 ${c.startToFirstResponseMs.p50} ms, p95 ${c.startToFirstResponseMs.p95} ms, max ${c.startToFirstResponseMs.max} ms (n=${c.startToFirstResponseMs.n})`,
    ...Object.entries(c.startToFirstResponseByStepMs).map(
      ([k, v]) => `  ${k}: p50 ${v.p50} ms, max ${v.max} ms (n=${v.n})`,
    ),
    `kill → last request routed there: p50 ${c.killToLastRoutedMs.p50} ms, p95 ${c.killToLastRoutedMs.p95} ms, max ${c.killToLastRoutedMs.max} ms (n=${c.killToLastRoutedMs.n})`,
    `sidecar: peak RSS ${result.sidecar.peakRssMiB} MiB, idle CPU ${result.sidecar.idleCpuPercentOfOneCore}% of one core`,
    `haproxy worker processes after the run: ${workersAfter}`,
    ...(Array.isArray(render)
      ? (render as Array<{ backends: number; renderMsMedian: number; validateMsMedian: number }>).map(
          (r) =>
            `  ${r.backends} backends: render ${r.renderMsMedian.toFixed(2)} ms, haproxy -c ${r.validateMsMedian.toFixed(0)} ms`,
        )
      : []),
  ].join("\n");
  writeFileSync(path.join(OUT_DIR, SMOKE ? "smoke.txt" : "summary.txt"), `${summary}\n`);
  process.stdout.write(`${summary}\n`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
