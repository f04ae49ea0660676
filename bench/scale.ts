/**
 * `make bench-scale`: the real sidecar, the real docker-proxy and the real HAProxy (the compose
 * stack, as in production) against a simulated fleet of N containers (bench/fleet.ts: a fake
 * Docker Engine API and N real listeners in one process), at N = 10, 100, 1,000 and 5,000
 * (BENCH_SCALE_N to choose). At each N:
 *
 * - the fleet appears at once (a listing with N new containers): time until N servers are UP;
 * - event → server UP (the sidecar's change log: HAProxy's read-back, `confirmedAt`, minus the
 *   time the fake emitted the start event; the app listens before its event), one container at
 *   a time (40 starts, each as soon as the stop before it is drained, whose pass may still run;
 *   then 40 more, each once the stop before it is applied: a change alone), and in a burst of
 *   10 % of N;
 * - Docker API calls and bytes per started container, HAProxy CLI commands per change, reloads;
 * - a full resync pass (LB_RESYNC_MS=3000; `/status` gives each pass's duration, and that of the
 *   whole listing taken just before it);
 * - the sidecar's RSS and CPU, HAProxy's worker RSS per server;
 * - `/status`, `/metrics` and the status page's time to answer.
 *
 * Writes .bench/scale.json, .bench/scale.txt, .bench/scale-chart.svg and each size's sidecar log
 * (.bench/scale-sidecar-N.log: why each reload happened).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { scaleChart } from "./scale-chart";
import { getOnce, log, percentiles, ROOT, run, sh, sleep, until, type Percentiles } from "./lib";
import type { ScaleResult, SingleStart } from "./scale-result";
import { Stack } from "./stack";

const SIZES = (process.env.BENCH_SCALE_N ?? "10,100,1000,5000").split(",").map(Number);
const FLEET = 27_000;
/** Starts timed one at a time at each N (BENCH_SCALE_STARTS): 40, so that p95 is not the second worst of 20. */
const SINGLE_STARTS = Number(process.env.BENCH_SCALE_STARTS ?? 40);

/** The fleet's control API on 127.0.0.1 (published by bench/compose.scale.yml). */
async function fleet(method: "GET" | "POST", urlPath: string): Promise<unknown> {
  const out = await run(`curl -sf -X ${method} 'http://127.0.0.1:${FLEET}${urlPath}'`);
  return JSON.parse(out) as unknown;
}

interface Change {
  readonly kind: string;
  readonly server: string | null;
  readonly triggeredAt: string;
  readonly confirmedAt: string | null;
}

async function timed(port: number, urlPath: string, times = 10): Promise<Percentiles> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const r = await getOnce(port, urlPath);
    if (r.status !== 200) throw new Error(`${urlPath}: ${r.status}`);
    ms.push(performance.now() - t0);
  }
  return percentiles(ms);
}

/** Every `server-added` record confirmed since `sinceMs`, by server name. */
async function confirmedAdds(s: Stack, sinceMs: number): Promise<Map<string, number>> {
  return new Map([...(await addRecords(s, sinceMs))].map(([name, c]) => [name, Date.parse(c.confirmedAt!)]));
}

/** The change log's confirmed server additions since `sinceMs`, by server name. */
function addRecords(s: Stack, sinceMs: number): Promise<Map<string, Change>> {
  return confirmedRecords(s, sinceMs, "server-added");
}

/** The servers the change log says were removed (and HAProxy confirmed it) since `sinceMs`. */
async function removedServers(s: Stack, sinceMs: number): Promise<Set<string>> {
  return new Set((await confirmedRecords(s, sinceMs, "server-removed")).keys());
}

async function confirmedRecords(s: Stack, sinceMs: number, kind: string): Promise<Map<string, Change>> {
  const r = await getOnce(s.opts.statusPort, `/changes?since=${sinceMs}`, 30_000);
  const { records } = JSON.parse(r.body) as { records: Change[] };
  return new Map(
    records.filter((c) => c.kind === kind && c.server !== null && c.confirmedAt !== null).map((c) => [c.server!, c]),
  );
}

/** The last pass (`/status`): when, how long, and where it spent its time; null before any. */
async function lastPass(
  s: Stack,
): Promise<{ at: string; durationMs: number; stagesMs: Record<string, number> } | null> {
  const st = JSON.parse((await getOnce(s.opts.statusPort, "/status", 30_000)).body) as {
    lastSync: { at: string; durationMs: number | null; stagesMs?: Record<string, number> | null } | null;
  };
  const last = st.lastSync;
  return last?.stagesMs && last.durationMs !== null
    ? { at: last.at, durationMs: last.durationMs, stagesMs: last.stagesMs }
    : null;
}

/** When the fleet emitted each start event, by container name. */
async function emittedStarts(): Promise<Map<string, number>> {
  const list = (await fleet("GET", "/emitted")) as Array<{ name: string; atMs: number }>;
  return new Map(list.map((e) => [e.name, e.atMs]));
}

async function haproxyCommands(s: Stack): Promise<number> {
  const m = /^ha_sidecar_haproxy_commands_total (\d+)/m.exec((await getOnce(s.opts.statusPort, "/metrics")).body);
  return Number(m?.[1] ?? 0);
}

function haproxyWorkerRssKb(s: Stack): number {
  const pid = sh(
    `docker top ${s.ha} -eo pid,uid,comm | awk '$2 == 10002 && $3 == "haproxy" { print $1 }' | tail -1`,
  ).trim();
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

/**
 * SINGLE_STARTS starts, one at a time: each waits for its server to be confirmed, then it stops
 * again. `alone`: the next start once the stop's own pass is applied (its server-removed record
 * confirmed): a change with no other under way. `after-stop`: the next start once the stop is
 * drained (its server no longer UP), as bench-scale always did: the stop's pass, due 100 ms after
 * its events, may then still run, and the start's pass waits for it.
 */
async function singleStarts(s: Stack, mode: "alone" | "after-stop"): Promise<SingleStart[]> {
  const starts: SingleStart[] = [];
  for (let i = 0; i < SINGLE_STARTS; i++) {
    const since = Date.now();
    const { started } = (await fleet("POST", "/start?count=1")) as { started: string[] };
    const name = started[0]!;
    let record: Change | undefined;
    await until(
      `${name} confirmed`,
      async () => (record = (await addRecords(s, since)).get(name)) !== undefined,
      60_000,
    );
    const emitted = (await emittedStarts()).get(name)!;
    const pass = await lastPass(s);
    const confirmingPass = pass !== null && Date.parse(pass.at) >= since ? pass : null;
    starts.push({
      ms: Date.parse(record!.confirmedAt!) - emitted,
      heardMs: Date.parse(record!.triggeredAt) - emitted,
      passStartMs: confirmingPass === null ? null : Date.parse(confirmingPass.at) - emitted,
      stagesMs: confirmingPass?.stagesMs ?? null,
    });
    const stoppedAt = Date.now();
    await fleet("POST", "/stop?count=1");
    await until(`${name} gone`, async () => !(await s.upServers()).includes(name), 60_000);
    if (mode === "alone")
      await until(`${name} removed`, async () => (await removedServers(s, stoppedAt)).has(name), 60_000);
  }
  return starts;
}

async function measure(s: Stack, n: number, baseline: { rssKb: number; n: number } | null): Promise<ScaleResult> {
  const failures: string[] = [];
  // The fleet at once, with no events: the first listing (or resync) finds N containers.
  const upFrom = Date.now();
  await fleet("POST", `/fleet?n=${n}&events=1`);
  await until(`${n} servers UP`, async () => (await s.upServers()).length === n, 600_000);
  const fleetUpMs = Date.now() - upFrom;
  log(`N=${n}: the fleet UP in ${fleetUpMs} ms`);
  const reloadsBefore = await s.reloads();
  // One at a time, each start as soon as the stop before it is drained (its pass may still run),
  // as bench-scale always measured them. Docker calls and HAProxy commands are counted here.
  await fleet("POST", "/counters/reset");
  const commandsBefore = await haproxyCommands(s);
  const afterStop = await singleStarts(s, "after-stop");
  const counters = (await fleet("GET", "/counters")) as Record<string, { requests: number; bytes: number }>;
  const calls = Object.values(counters).reduce((t, c) => t + c.requests, 0);
  const bytes = Object.values(counters).reduce((t, c) => t + c.bytes, 0);
  // Per change: a start and a stop each.
  const commands = (await haproxyCommands(s)) - commandsBefore;
  // One at a time, each alone: the next start once the stop before it is applied.
  const alone = await singleStarts(s, "alone");

  // A burst of 10 % of N.
  const size = Math.max(1, Math.round(n / 10));
  const burstSince = Date.now();
  const { started } = (await fleet("POST", `/start?count=${size}`)) as { started: string[] };
  let confirmed = new Map<string, number>();
  await until(
    `a burst of ${size} confirmed`,
    async () => {
      confirmed = await confirmedAdds(s, burstSince);
      return started.every((name) => confirmed.has(name));
    },
    600_000,
  );
  const emitted = await emittedStarts();
  const burst = started.map((name) => confirmed.get(name)! - emitted.get(name)!);
  await fleet("POST", `/stop?count=${size}`);
  await until("the burst gone", async () => (await s.upServers()).length === n, 600_000);

  // Resync passes on a quiet fleet: the duration of each, from /status.
  const passes: number[] = [];
  let lastAt = "";
  const quietUntil = Date.now() + 15_000;
  while (Date.now() < quietUntil) {
    const pass = await lastPass(s);
    if (pass !== null && pass.at !== lastAt) {
      // A resync's whole listing is taken before its pass: both count.
      if (lastAt !== "") passes.push(pass.durationMs + (pass.stagesMs.prefetch ?? 0));
      lastAt = pass.at;
    }
    await sleep(500);
  }

  const before = s.sidecarProc();
  await sleep(10_000);
  const after = s.sidecarProc();
  const workerKb = haproxyWorkerRssKb(s);
  const result: ScaleResult = {
    n,
    fleetUpMs,
    single: percentiles(afterStop.map((x) => x.ms)),
    singleStarts: afterStop,
    singleAlone: percentiles(alone.map((x) => x.ms)),
    singleAloneStarts: alone,
    singleStagesMs: Object.fromEntries(
      ["list", "gates", "render", "apply"].map((k) => [
        k,
        percentiles(afterStop.flatMap((x) => (x.stagesMs === null ? [] : [x.stagesMs[k] ?? 0]))).p50,
      ]),
    ),
    burst: { ...percentiles(burst), size },
    dockerCallsPerStart: +(calls / SINGLE_STARTS).toFixed(2),
    dockerBytesPerStart: Math.round(bytes / SINGLE_STARTS),
    dockerPerStartByCall: Object.fromEntries(
      Object.entries(counters).map(([call, c]) => [
        call,
        `${+(c.requests / SINGLE_STARTS).toFixed(2)} (${Math.round(c.bytes / SINGLE_STARTS)} B)`,
      ]),
    ),
    haproxyCommandsPerChange: +(commands / (2 * SINGLE_STARTS)).toFixed(1),
    reloads: (await s.reloads()) - reloadsBefore,
    resyncPassMs: percentiles(passes),
    sidecarRssMiB: +(after.rssKb / 1024).toFixed(1),
    sidecarPeakRssMiB: +(after.peakRssKb / 1024).toFixed(1),
    sidecarCpuPercent: +(((after.ticks - before.ticks) / 100 / 10) * 100).toFixed(1),
    haproxyWorkerRssMiB: +(workerKb / 1024).toFixed(1),
    haproxyKiBPerServer: baseline === null ? null : +((workerKb - baseline.rssKb) / (n - baseline.n)).toFixed(2),
    statusMs: await timed(s.opts.statusPort, "/status"),
    metricsMs: await timed(s.opts.statusPort, "/metrics"),
    pageMs: await timed(s.opts.statusPort, "/"),
    failures,
  };
  return result;
}

/**
 * The `count` slowest single starts, each laid out: when the sidecar heard of it and its pass
 * began (after the event), the pass's stages, and the total.
 */
function slowest(starts: readonly SingleStart[], count: number): string {
  return [...starts]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count)
    .map((x) => {
      const stages = Object.entries(x.stagesMs ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(" ");
      return `${x.ms} ms (heard at ${x.heardMs}, pass from ${x.passStartMs ?? "?"}: ${stages || "?"})`;
    })
    .join("; ");
}

function summary(r: ScaleResult): string {
  const p = (x: Percentiles): string => `p50 ${x.p50} ms, p95 ${x.p95} ms`;
  return [
    `N=${r.n}: fleet UP in ${r.fleetUpMs} ms; event → UP: single ${p(r.single)}, burst of ${r.burst.size} ${p(r.burst)}`,
    `  Docker per start, by call: ${Object.entries(r.dockerPerStartByCall ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `  a single start's pass, medians: ${Object.entries(r.singleStagesMs ?? {})
      .map(([k, v]) => `${k} ${v} ms`)
      .join(", ")}`,
    `  the slowest single starts: ${slowest(r.singleStarts ?? [], 3)}`,
    ...(r.singleAlone === undefined
      ? []
      : [
          `  a start alone (once the stop before it is applied): ${p(r.singleAlone)}; the slowest: ${slowest(r.singleAloneStarts ?? [], 3)}`,
        ]),
    `  resync pass ${p(r.resyncPassMs)} (n=${r.resyncPassMs.n}); Docker per start: ${r.dockerCallsPerStart} calls, ${r.dockerBytesPerStart} bytes; HAProxy commands per change: ${r.haproxyCommandsPerChange}; reloads: ${r.reloads}`,
    `  sidecar RSS ${r.sidecarRssMiB} MiB (peak ${r.sidecarPeakRssMiB}), CPU idle ${r.sidecarCpuPercent}%; HAProxy worker ${r.haproxyWorkerRssMiB} MiB${r.haproxyKiBPerServer === null ? "" : `, ${r.haproxyKiBPerServer} KiB per server`}`,
    `  /status ${p(r.statusMs)}, /metrics ${p(r.metricsMs)}, status page ${p(r.pageMs)}`,
  ].join("\n");
}

async function main(): Promise<void> {
  fs.mkdirSync(path.join(ROOT, ".bench"), { recursive: true });
  const results: ScaleResult[] = [];
  let baseline: { rssKb: number; n: number } | null = null;
  for (const n of SIZES) {
    const s = new Stack({
      project: "hsscale",
      network: "hsscale-heig",
      httpPort: 27180,
      statsPort: 27936,
      statusPort: 27181,
      overrides: ["bench/compose.scale.yml"],
    });
    Object.assign(s.env, { LB_RESYNC_MS: "3000", FLEET_CONTROL_PORT: String(FLEET) });
    log(`N=${n}: bringing the stack up (ha, docker-proxy, sidecar, the simulated fleet)`);
    s.up(0);
    try {
      await until("the fleet", async () => ((await fleet("GET", "/size")) as { size: number }).size === 0, 60_000);
      await until(
        "the sidecar's first pass",
        async () => (await getOnce(s.opts.statusPort, "/healthz")).status === 200,
        120_000,
      );
      const r = await measure(s, n, baseline);
      if (baseline === null) baseline = { rssKb: r.haproxyWorkerRssMiB * 1024, n };
      results.push(r);
      log(summary(r));
    } finally {
      // The sidecar's own account (each reload says why), beside the numbers; its debug lines
      // only when asked for (LB_LOG_LEVEL=debug: each hint, with its time).
      const keep = process.env.LB_LOG_LEVEL === "debug" ? "" : ` | grep -v '"level":20'`;
      fs.writeFileSync(
        path.join(ROOT, `.bench/scale-sidecar-${n}.log`),
        sh(`docker logs ${s.sidecar} 2>&1${keep} || true`),
      );
      s.down();
    }
  }
  const at = new Date().toISOString();
  fs.writeFileSync(path.join(ROOT, ".bench/scale.json"), `${JSON.stringify({ at, results }, null, 2)}\n`);
  const text = [`ha-sidecar bench-scale, ${at}`, ...results.map(summary)].join("\n");
  fs.writeFileSync(path.join(ROOT, ".bench/scale.txt"), `${text}\n`);
  fs.writeFileSync(
    path.join(ROOT, ".bench/scale-chart.svg"),
    scaleChart(results, `ha-sidecar bench-scale, ${at.slice(0, 16).replace("T", " ")} UTC`),
  );
  process.stdout.write(`${text}\n`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
