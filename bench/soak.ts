/**
 * `make soak`: the sidecar under churn for a long time (30 min; SOAK_MINUTES to change it): steady
 * load on 127.0.0.1 while a labelled container is started, routed, stopped and removed every few
 * seconds. Samples the sidecar's RSS every 10 s and fits a line through it: memory that grows with
 * time or retries shows as a slope. Writes .bench/soak.json and .bench/soak.txt.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { log, ROOT, run, sleep, until } from "./lib";
import { Load } from "./load";
import { Stack } from "./stack";

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);

/** Least-squares slope and intercept of y over x. */
function fit(points: ReadonlyArray<readonly [number, number]>): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

async function main(): Promise<void> {
  mkdirSync(path.join(ROOT, ".bench"), { recursive: true });
  const s = new Stack({
    project: "hssoak",
    network: "hssoak-heig",
    httpPort: 29080,
    statsPort: 29936,
    statusPort: 29081,
  });
  log(`soak: ${MINUTES} min of churn under load`);
  await run("docker rm -f soak-churn >/dev/null 2>&1 || true");
  s.up(2);
  await until("2 webapps UP", async () => (await s.upServers()).length === 2);
  const load = new Load({ port: s.opts.httpPort, keepAliveRate: 200, newConnectionLoops: 1 });
  load.start();
  const startedMs = Date.now();
  const endMs = startedMs + MINUTES * 60_000;
  const rss: Array<[number, number]> = [];
  let cycles = 0;
  const sampler = setInterval(() => {
    const p = s.sidecarProc();
    rss.push([(Date.now() - startedMs) / 60_000, p.rssKb / 1024]);
  }, 10_000);
  while (Date.now() < endMs) {
    await run(
      `docker run -d --name soak-churn --network ${s.opts.network} --label heig.lb.enable=true ha-sidecar/webapp:latest >/dev/null`,
    );
    await until("churn container up", async () => (await s.upServers()).includes("soak-churn"), 60_000);
    await sleep(1000);
    await run("docker stop -t 10 soak-churn >/dev/null && docker rm soak-churn >/dev/null");
    await until("churn container gone", async () => !(await s.cli("show stat")).includes(",soak-churn,"), 60_000);
    cycles++;
    if (cycles % 20 === 0)
      log(
        `soak: ${cycles} cycles, ${Math.round((Date.now() - startedMs) / 60_000)} min, RSS ${rss.at(-1)?.[1].toFixed(1)} MiB`,
      );
  }
  clearInterval(sampler);
  const requests = await load.stop();
  const proc = s.sidecarProc();
  // The first minutes include the JIT warming up and the first allocations: fit the rest.
  const settled = rss.filter(([m]) => m >= Math.min(5, MINUTES / 3));
  const { slope } = fit(settled);
  // A leak keeps its slope; a heap settling into its size flattens: the second half says which.
  const lastHalf = fit(rss.filter(([m]) => m >= MINUTES / 2)).slope;
  const result = {
    at: new Date().toISOString(),
    minutes: MINUTES,
    churnCycles: cycles,
    requests,
    rssMiB: {
      first: rss[0]?.[1] ?? null,
      last: rss.at(-1)?.[1] ?? null,
      peak: +(proc.peakRssKb / 1024).toFixed(1),
      slopeMiBPerHour: +(slope * 60).toFixed(2),
      secondHalfSlopeMiBPerHour: +(lastHalf * 60).toFixed(2),
    },
    reloads: await s.reloads(),
    samples: rss.map(([m, mib]) => [+m.toFixed(2), +mib.toFixed(2)]),
  };
  writeFileSync(path.join(ROOT, ".bench/soak.json"), `${JSON.stringify(result, null, 2)}\n`);
  const summary = [
    `ha-sidecar soak, ${result.at}: ${MINUTES} min, ${cycles} start/route/stop/remove cycles`,
    `requests: ${requests.sent} sent, ${requests.failed} failed`,
    `sidecar RSS: first ${result.rssMiB.first?.toFixed(1)} MiB, last ${result.rssMiB.last?.toFixed(1)} MiB, peak ${result.rssMiB.peak} MiB; slope after warm-up ${result.rssMiB.slopeMiBPerHour} MiB/hour, over the second half ${result.rssMiB.secondHalfSlopeMiBPerHour} MiB/hour`,
    `haproxy reloads during the soak: ${result.reloads}`,
  ].join("\n");
  writeFileSync(path.join(ROOT, ".bench/soak.txt"), `${summary}\n`);
  process.stdout.write(`${summary}\n`);
  s.down();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
