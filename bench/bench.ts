/**
 * `make bench`: the scenario (bench/scenario.ts) under steady load on 127.0.0.1, twice on the
 * same machine in one run: first the reload path (LB_RUNTIME_API=off with the template of
 * before the runtime path: 2 s connect timeout, no observe), then the runtime path (the
 * defaults). Writes .bench/result.json, .bench/summary.txt and .bench/chart.svg (requests and
 * latency over time, steps, reloads, the crash). `--smoke`: a short load and one scale step on the
 * defaults (what `make test` runs), to .bench/smoke.json and .bench/smoke-chart.svg.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { benchChart } from "./chart";
import * as path from "node:path";
import { Lifecycle } from "./lifecycle";
import { log, ROOT, sh, sleep, until } from "./lib";
import { Load, type LoadTotals } from "./load";
import { convergence, heldReadies, timeline, window, type Convergence, type TimelinePoint } from "./measure";
import { Scenario, type Crash, type Step } from "./scenario";
import { Stack } from "./stack";

const SMOKE = process.argv.includes("--smoke");
/**
 * `--bursts`: the runtime path alone, BENCH_BURSTS (3) bursts of 2 → 10 → 2 under the same load:
 * the burst's numbers from more starts in a few minutes. BENCH_OVERRIDES (compose files, comma
 * separated) runs the stack with a setting to compare.
 */
const BURSTS = process.argv.includes("--bursts") ? Number(process.env.BENCH_BURSTS ?? 3) : 0;
const MODE = SMOKE ? "smoke" : BURSTS > 0 ? "bursts" : "full";
const EXTRA_OVERRIDES = (process.env.BENCH_OVERRIDES ?? "").split(",").filter((f) => f !== "");
const OUT_DIR = path.join(ROOT, ".bench");

/** The benchmark's own stack (the e2e suite, running the smoke, sets its own through the environment). */
const stack = (overrides: string[] = []): Stack =>
  new Stack({
    project: process.env.COMPOSE_PROJECT_NAME ?? "hsbench",
    network: process.env.LB_NETWORK ?? "hsbench-heig",
    httpPort: Number(process.env.HTTP_PORT ?? 28080),
    statsPort: Number(process.env.STATS_PORT ?? 28936),
    statusPort: Number(process.env.SIDECAR_STATUS_PORT ?? 28081),
    overrides: [...overrides, ...EXTRA_OVERRIDES],
  });

interface PhaseResult {
  readonly name: string;
  readonly durationS: number;
  readonly requests: LoadTotals;
  readonly steps: readonly Step[];
  /** Failed requests sent during each step (from its start to 3 s after it settled), by its startMs. */
  readonly failedPerStep: Readonly<Record<number, number>>;
  readonly crash: (Crash & ReturnType<typeof window>) | null;
  readonly convergence: Convergence;
  readonly haproxyWorkersAfterRun: number;
  readonly haproxyProcessesAfterRun: number;
  readonly sidecar: {
    /** Before any load: the stack up with its 2 webapps routed, 5 s after the config settled. */
    readonly idleRssMiB: number;
    readonly peakRssMiB: number;
    readonly rssAtRestMiB: number;
    readonly idleCpuPercentOfOneCore: number;
  };
  readonly startedAt: number;
  readonly reloadsAtMs: readonly number[];
  readonly timeline: readonly TimelinePoint[];
}

async function phase(name: string, s: Stack): Promise<PhaseResult> {
  log(`${name}: bringing the stack up`);
  sh("docker rm -f bench-flap bench-structural >/dev/null 2>&1 || true");
  s.up(2);
  await until("2 webapps UP", async () => (await s.upServers()).length === 2);
  await until("config settled", () => s.configSettled());
  await sleep(5000);
  const idle = s.sidecarProc();

  const lifecycle = new Lifecycle(s.opts.project, s.opts.network, s.ha);
  await lifecycle.prime();
  lifecycle.start();
  const load = new Load({ port: s.opts.httpPort, keepAliveRate: SMOKE ? 200 : 500, newConnectionLoops: SMOKE ? 2 : 3 });
  await sleep(500);
  const startedMs = Date.now();
  log(`${name}: load on 127.0.0.1:${s.opts.httpPort}`);
  load.start();
  await sleep(SMOKE ? 1000 : 3000);
  const scenario = new Scenario(s, lifecycle);
  if (SMOKE) await scenario.smoke();
  else if (BURSTS > 0) await scenario.bursts(BURSTS);
  else await scenario.full();
  const requests = await load.stop();
  const endMs = Date.now();
  lifecycle.stop();
  // For a closer look at a run: HAProxy's own messages and the sidecar's log, by phase.
  const slug = `${MODE}-${name.replace(/[^a-z0-9]+/gi, "-").replace(/-+$/, "")}`.toLowerCase();
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(path.join(OUT_DIR, `${slug}-haproxy.log`), lifecycle.haproxyMessages.map((l) => `${l}\n`).join(""));
  writeFileSync(path.join(OUT_DIR, `${slug}-sidecar.log`), s.sidecarLogs(startedMs, ""));

  const idleS = SMOKE ? 3 : 10;
  const before = s.sidecarProc();
  await sleep(idleS * 1000);
  const after = s.sidecarProc();
  const crash = scenario.crash;
  return {
    name,
    durationS: Math.round((endMs - startedMs) / 1000),
    requests,
    steps: scenario.steps,
    failedPerStep: Object.fromEntries(
      scenario.steps.map((st) => [
        st.startMs,
        load.samples.filter((x) => !x.ok && x.sentMs >= st.startMs && x.sentMs < st.endMs + 3000).length,
      ]),
    ),
    crash: crash === null ? null : { ...crash, ...window(load.samples, crash.atMs - 500, crash.atMs + 5000) },
    convergence: convergence(
      load.samples,
      lifecycle.starts,
      lifecycle.ends,
      heldReadies(s.sidecarLogs(startedMs, "held servers ready")),
      lifecycle.firstRoutes,
      lifecycle.ups,
    ),
    haproxyWorkersAfterRun: await s.workers(),
    haproxyProcessesAfterRun: await s.haproxyProcesses(),
    sidecar: {
      idleRssMiB: +(idle.rssKb / 1024).toFixed(1),
      peakRssMiB: +(after.peakRssKb / 1024).toFixed(1),
      rssAtRestMiB: +(after.rssKb / 1024).toFixed(1),
      idleCpuPercentOfOneCore: +(((after.ticks - before.ticks) / 100 / idleS) * 100).toFixed(2), // USER_HZ = 100
    },
    startedAt: startedMs,
    reloadsAtMs: (await s.reloadTimes(startedMs)).filter((at) => at <= endMs),
    timeline: timeline(load.samples, startedMs, endMs),
  };
}

function summarize(p: PhaseResult): string[] {
  const c = p.convergence;
  const pc = (x: { p50: number | null; p95: number | null; max: number | null; n: number }): string =>
    `p50 ${x.p50} ms, p95 ${x.p95} ms, max ${x.max} ms (n=${x.n})`;
  return [
    `== ${p.name}: ${p.durationS} s of load`,
    `requests: ${p.requests.sent} sent, ${p.requests.failed} failed (keep-alive ${p.requests.keepAlive.sent}, new-connection ${p.requests.newConnection.sent})`,
    ...p.steps.map(
      (s) =>
        `  ${s.name}${s.busy ? " (machine busy)" : ""}: ${p.failedPerStep[s.startMs] ?? 0} failed, ${s.reloads} reload(s), settled in ${s.settleMs} ms`,
    ),
    `start → first response through HAProxy: ${pc(c.startToFirstResponseMs)}`,
    ...Object.entries(c.startToFirstResponseByStepMs).map(([k, v]) => `  ${k}: ${pc(v)}`),
    `app listening → first response through HAProxy: ${pc(c.listeningToFirstResponseMs)}`,
    ...Object.entries(c.listeningToFirstResponseByStepMs).map(([k, v]) => `  ${k}: ${pc(v)}`),
    `app listening → its server UP in HAProxy (HAProxy's own message, held servers): ${pc(c.listeningToUpMs)}`,
    ...Object.entries(c.listeningToUpByStepMs).map(([k, v]) => `  ${k}: ${pc(v)}`),
    `app listening → first request routed to it (HAProxy's log): ${pc(c.listeningToFirstRoutedMs)}`,
    ...Object.entries(c.listeningToFirstRoutedByStepMs).map(([k, v]) => `  ${k}: ${pc(v)}`),
    `held until they listened, then made ready by the sidecar's probe: ${c.heldThenReady.listeningToReadyMs.n} of ${c.heldThenReady.of} starts; app listening → made ready ${pc(c.heldThenReady.listeningToReadyMs)}`,
    ...Object.entries(c.heldThenReady.listeningToReadyByStepMs).map(([k, v]) => `  ${k}: ${pc(v)}`),
    `made ready → first request routed to it (HAProxy's log): ${pc(c.heldThenReady.readyToFirstRoutedMs)}`,
    `kill → last request routed there: ${pc(c.killToLastRoutedMs)}`,
    ...(p.crash === null
      ? []
      : [
          `crash of 2 of 4 (from 0.5 s before to 5 s after): ${p.crash.sent} requests, ${p.crash.failed} failed, latency p50 ${p.crash.latencyMs.p50} ms, p99 ${p.crash.latencyMs.p99} ms, max ${p.crash.latencyMs.max} ms`,
        ]),
    `sidecar: idle RSS ${p.sidecar.idleRssMiB} MiB before the load, peak ${p.sidecar.peakRssMiB} MiB, at rest ${p.sidecar.rssAtRestMiB} MiB, idle CPU ${p.sidecar.idleCpuPercentOfOneCore}% of one core`,
    `haproxy after the run: ${p.haproxyWorkersAfterRun} worker(s), ${p.haproxyProcessesAfterRun} haproxy process(es)`,
  ];
}

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  const phases: PhaseResult[] = [];
  if (SMOKE) {
    phases.push(await phase("runtime path", stack()));
  } else if (BURSTS > 0) {
    phases.push(await phase(`runtime path (defaults${EXTRA_OVERRIDES.map((f) => ` + ${f}`).join("")})`, stack()));
  } else {
    phases.push(
      await phase(
        "reload path (LB_RUNTIME_API=off, the template before the runtime path)",
        stack(["bench/compose.reload-path.yml"]),
      ),
    );
    phases.push(await phase("runtime path (defaults)", stack()));
  }
  const s = stack();
  let render: unknown = null;
  if (MODE === "full") {
    log("render and validate times, inside the sidecar container");
    // Through stdin: the sidecar's root filesystem is read-only (docker cp is refused).
    try {
      render = JSON.parse(sh(`docker exec -i ${s.sidecar} node - < dist/render-bench.js`));
    } catch (err) {
      log(`render and validate times not measured: ${(err as Error).message}`);
    }
  }
  const result = { mode: MODE, at: new Date().toISOString(), phases, renderAndValidate: render };
  writeFileSync(
    path.join(OUT_DIR, MODE === "full" ? "result.json" : `${MODE}.json`),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  const summary = [
    `ha-sidecar bench (${result.mode}), ${result.at}`,
    ...phases.flatMap(summarize),
    ...(Array.isArray(render)
      ? (render as Array<{ backends: number; renderMsMedian: number; validateMsMedian: number }>).map(
          (r) =>
            `  ${r.backends} backends: render ${r.renderMsMedian.toFixed(2)} ms, haproxy -c ${r.validateMsMedian.toFixed(0)} ms`,
        )
      : []),
  ].join("\n");
  writeFileSync(path.join(OUT_DIR, MODE === "full" ? "summary.txt" : `${MODE}.txt`), `${summary}\n`);
  const chart = benchChart(
    phases.map((p) => ({ ...p, crashAtMs: p.crash?.atMs ?? null })),
    `ha-sidecar bench (${result.mode}), ${result.at.slice(0, 16).replace("T", " ")} UTC`,
  );
  writeFileSync(path.join(OUT_DIR, MODE === "full" ? "chart.svg" : `${MODE}-chart.svg`), chart);
  process.stdout.write(`${summary}\n`);
  if (!SMOKE) s.down();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
