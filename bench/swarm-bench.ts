/**
 * `make bench-swarm`: the stack on a single-node swarm of its own (a nested engine, as the e2e
 * test runs it; ports 28080/28936), under load on 127.0.0.1: scale 2 → 6; the three ways users
 * roll an update (Swarm's defaults: stop-first, parallelism 1; start-first; parallelism 2),
 * first on an idle machine, then with the machine busy (CPU hogs and an fsyncing disk writer,
 * bench/busy.ts); scale 6 → 2. Measures task start → first response through HAProxy, failed
 * requests and reloads per step (from the sidecar's change log), and what one task listing
 * costs at 100 tasks. Writes .bench/swarm.json and .bench/swarm.txt.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Docker from "dockerode";
import { Busy } from "./busy";
import { ROOT, getOnce, log, percentiles, run, sh, sleep, until, type Percentiles } from "./lib";
import { Load, type Sample } from "./load";

const HTTP_PORT = 28080;
const STATE = ".run/hsbench-swarm";
const env: NodeJS.ProcessEnv = {
  ...process.env,
  HTTP_PORT: String(HTTP_PORT),
  STATS_PORT: "28936",
  SWARM_ENGINE: "nested",
  SWARM_NODE: "hs-bench-swarm",
  SWARM_NODE_NET: "hs-bench-swarm",
  SWARM_STATE: STATE,
  SECRETS_FILE: ".run/hsbench-swarm-secrets.env",
};
const swarm = (args: string): string => sh(`scripts/swarm.sh ${args}`, env);

interface Task {
  ID: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
  NetworksAttachments?: Array<{ Network: { Spec: { Name: string } }; Addresses: string[] }>;
}

interface StepResult {
  name: string;
  /** Whether the machine was kept busy during the step. */
  busy: boolean;
  startMs: number;
  endMs: number;
  requests: number;
  failed: number;
  reloads: number;
  runtimeApplies: number;
  startToFirst: Percentiles;
  /** Each new task's start → first response, ms. */
  delays: number[];
}

async function main(): Promise<void> {
  fs.mkdirSync(path.join(ROOT, ".bench"), { recursive: true });
  swarm("down");
  log("deploying the stack on a single-node swarm of its own (2 webapps)");
  swarm("up 2");
  const host = /DOCKER_HOST=tcp:\/\/([^:]+):(\d+)/.exec(fs.readFileSync(path.join(ROOT, `${STATE}.env`), "utf8"))!;
  const docker = new Docker({ host: host[1], port: Number(host[2]) });
  const dockerCli = `docker -H tcp://${host[1]}:${host[2]}`;
  try {
    const running = async (service = "heig_webapp"): Promise<Task[]> =>
      ((await docker.listTasks({ filters: { service: [service], "desired-state": ["running"] } })) as Task[]).filter(
        (t) => t.Status.State === "running",
      );
    const ipOf = (t: Task): string =>
      (t.NetworksAttachments ?? []).find((a) => a.Network.Spec.Name === "heig")?.Addresses[0]?.split("/")[0] ?? "";
    const startedAt = async (t: Task): Promise<number> =>
      Date.parse((await docker.getContainer(t.Status.ContainerStatus!.ContainerID!).inspect()).State.StartedAt);

    const load = new Load({ port: HTTP_PORT, keepAliveRate: 200, newConnectionLoops: 3 });
    const servedIps = (sinceMs: number): Set<string> =>
      new Set(load.samples.filter((s) => s.ok && s.ip !== "" && s.doneMs >= sinceMs).map((s) => s.ip));
    await until("2 tasks running", async () => (await running()).length === 2);
    // Load starts once HAProxy serves (a 503 before the first pass is start-up, not scaling).
    await until("HAProxy to serve", async () => (await getOnce(HTTP_PORT, "/")).status === 200);
    load.start();
    await until("both tasks answering", () => servedIps(0).size === 2);

    const changes = async (): Promise<Array<{ kind: string; confirmedAt: string | null; triggeredAt: string }>> => {
      const sidecar = (await run(`${dockerCli} ps -q -f name=heig_sidecar`, env)).trim().split("\n")[0];
      return (
        JSON.parse(await run(`${dockerCli} exec ${sidecar} node /app/sidecar.js status /changes`, env)) as {
          records: Array<{ kind: string; confirmedAt: string | null; triggeredAt: string }>;
        }
      ).records;
    };

    const steps: StepResult[] = [];
    const busy = new Busy();
    const step = async (name: string, cmd: string, replicas: number, busyMachine = false): Promise<void> => {
      const before = new Set((await running()).map((t) => t.ID));
      log(`${name}${busyMachine ? ", machine busy" : ""}`);
      const startMs = Date.now();
      if (busyMachine) busy.start(path.join(ROOT, ".bench"));
      try {
        await run(`${dockerCli} ${cmd}`, env);
      } finally {
        busy.stop();
      }
      // Settled: swarm runs the replicas it should, and each of them has answered through HAProxy.
      let tasks: Task[] = [];
      await until(
        `${name} to settle`,
        async () => {
          tasks = await running();
          const served = servedIps(startMs);
          return tasks.length === replicas && tasks.every((t) => served.has(ipOf(t)));
        },
        180_000,
      );
      // Three more seconds of load on the settled service: a loss right after the update counts.
      await sleep(3_000);
      const endMs = Date.now();
      const fresh = tasks.filter((t) => !before.has(t.ID));
      const delays: number[] = [];
      for (const t of fresh) {
        const first = load.samples.find((s: Sample) => s.ok && s.ip === ipOf(t) && s.doneMs >= startMs);
        if (first !== undefined) delays.push(first.doneMs - (await startedAt(t)));
      }
      const inStep = load.samples.filter((s) => s.sentMs >= startMs && s.sentMs < endMs);
      const records = (await changes()).filter((r) => {
        const at = Date.parse(r.confirmedAt ?? r.triggeredAt);
        return at >= startMs && at < endMs;
      });
      steps.push({
        name,
        busy: busyMachine,
        startMs,
        endMs,
        requests: inStep.length,
        failed: inStep.filter((s) => !s.ok).length,
        reloads: records.filter((r) => r.kind === "reload").length,
        runtimeApplies: records.filter((r) => r.kind === "runtime-apply").length,
        startToFirst: percentiles(delays),
        delays,
      });
    };

    await step("scale 2 → 6", "service scale heig_webapp=6", 6);
    const forms = [
      [
        "rolling update, Swarm's defaults (stop-first, parallelism 1)",
        "--update-order stop-first --update-parallelism 1",
      ],
      ["rolling update, start-first", "--update-order start-first --update-parallelism 1"],
      ["rolling update, stop-first, parallelism 2", "--update-order stop-first --update-parallelism 2"],
    ] as const;
    for (const busyMachine of [false, true])
      for (const [name, args] of forms)
        await step(name, `service update --detach=false --quiet --force ${args} heig_webapp`, 6, busyMachine);
    await step("scale 6 → 2", "service scale heig_webapp=2", 2);
    const totals = await load.stop();

    // What one listing (services, then their tasks: what the source polls) costs.
    const listing = async (): Promise<{ tasks: number; ms: Percentiles }> => {
      const ms: number[] = [];
      let tasks = 0;
      for (let i = 0; i < 21; i++) {
        const t0 = process.hrtime.bigint();
        const services = (await docker.listServices()) as Array<{ ID: string }>;
        tasks = ((await docker.listTasks({ filters: { service: services.map((s) => s.ID) } })) as Task[]).length;
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      return { tasks, ms: percentiles(ms) };
    };
    const small = await listing();
    log("a labelled service of 100 tasks (sleeping containers), for the listing's cost");
    sh(`docker save debian:trixie-slim | ${dockerCli} load -q >/dev/null`, env);
    sh(
      `${dockerCli} service create -d --name heig_listing --network heig --replicas 100 ` +
        `--label heig.lb.enable=true --label heig.lb.backend=listing --label heig.lb.port=3000 ` +
        `debian:trixie-slim sleep infinity >/dev/null`,
      env,
    );
    await until("100 listing tasks running", async () => (await running("heig_listing")).length === 100, 600_000);
    const large = await listing();
    sh(`${dockerCli} service rm heig_listing >/dev/null`, env);

    const result = { at: new Date().toISOString(), totals, steps, listing: { small, large } };
    const ms = (p: Percentiles): string =>
      p.n === 0 ? "n=0" : `p50 ${p.p50} ms, p95 ${p.p95} ms, max ${p.max} ms (n=${p.n})`;
    const lines = [
      `ha-sidecar swarm bench, ${result.at}`,
      `requests: ${totals.sent} sent, ${totals.failed} failed`,
      ...steps.map(
        (s) =>
          `  ${s.name}${s.busy ? " (machine busy)" : ""}: ${s.requests} requests, ${s.failed} failed, ${s.reloads} reload(s), ${s.runtimeApplies} runtime apply(s), settled in ${s.endMs - s.startMs - 3000} ms; task start → first response ${ms(s.startToFirst)}`,
      ),
      `task start → first response, all steps: ${ms(percentiles(steps.flatMap((s) => s.delays)))}`,
      `one listing (services + their tasks), ${small.tasks} tasks: ${ms(small.ms)}`,
      `one listing (services + their tasks), ${large.tasks} tasks: ${ms(large.ms)}`,
    ];
    fs.mkdirSync(path.join(ROOT, ".bench"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, ".bench/swarm.json"), JSON.stringify(result, null, 2));
    fs.writeFileSync(path.join(ROOT, ".bench/swarm.txt"), lines.join("\n") + "\n");
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    swarm("down");
  }
}

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  try {
    swarm("down");
  } catch {
    /* already reported */
  }
  process.exit(1);
});
