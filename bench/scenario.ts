/**
 * The scenario, under load: scale 2 → 10 → 2, restart one webapp, 20 back-to-back membership
 * changes, a structural change (a backend added and removed), and a crash of 2 of 4 webapps;
 * then scaling and the structural change again with the machine busy (bench/busy.ts).
 * `smoke`: one scale step 2 → 3 (what `make test` runs).
 */
import * as path from "node:path";
import { Busy } from "./busy";
import type { Lifecycle } from "./lifecycle";
import { log, ROOT, run, sleep, until } from "./lib";
import type { Stack } from "./stack";

export interface Step {
  readonly name: string;
  /** Whether the machine was kept busy (CPU hogs, an fsyncing writer) during the step. */
  readonly busy: boolean;
  readonly reloads: number;
  readonly settleMs: number;
  readonly startMs: number;
  readonly endMs: number;
}

export interface Crash {
  readonly atMs: number;
  readonly containers: readonly string[];
}

export class Scenario {
  readonly steps: Step[] = [];
  crash: Crash | null = null;

  constructor(
    private readonly stack: Stack,
    private readonly lifecycle: Lifecycle,
    private readonly image = "ha-sidecar/webapp:latest",
  ) {}

  async smoke(): Promise<void> {
    await this.step("scale 2 → 3", () => this.stack.scale(3), this.countUp(3));
    await sleep(2000);
  }

  /** Bursts of eight starts (2 → 10), each scaled back to 2. */
  async bursts(n: number): Promise<void> {
    for (let i = 1; i <= n; i++) {
      await this.step(`burst ${i}: scale 2 → 10`, () => this.stack.scale(10), this.countUp(10));
      await sleep(5000);
      await this.step(`burst ${i}: scale 10 → 2`, () => this.stack.scale(2), this.countUp(2));
      await sleep(3000);
    }
  }

  async full(): Promise<void> {
    const s = this.stack;
    await this.step("scale 2 → 10", () => s.scale(10), this.countUp(10));
    await sleep(5000);
    await this.step("scale 10 → 2", () => s.scale(2), this.countUp(2));
    await sleep(3000);
    const first = `${s.opts.project}_webapp_1`;
    await this.step(
      "restart one webapp",
      () => run(`docker restart ${first} >/dev/null`),
      async () => (await s.upServers()).includes(first) && (await s.upServers()).length === 2,
    );
    await sleep(3000);
    await this.step("20 back-to-back membership changes", () => this.flap(10), this.countUp(2));
    await sleep(2000);
    await this.step(
      "structural: a backend added",
      () => this.runLabelled("bench-structural", "--label heig.lb.backend=flap"),
      async () => (await s.upServers("flap")).includes("bench-structural"),
    );
    await this.step(
      "structural: the backend removed",
      () => run("docker rm -f bench-structural >/dev/null"),
      async () => {
        const csv = await s.cli("show stat");
        return !csv.includes("flap,");
      },
    );
    await sleep(2000);
    await this.step("scale 2 → 4", () => s.scale(4), this.countUp(4));
    await sleep(3000);
    await this.step("crash 2 of 4 (SIGKILL)", () => this.crashTwo(), this.countUp(4), 30_000);
    await sleep(3000);
    await this.step("scale 4 → 2", () => s.scale(2), this.countUp(2));
    await sleep(2000);
    // The same moves on a busy machine: apps boot slower, passes and checks run late.
    await this.step("scale 2 → 6", () => s.scale(6), this.countUp(6), 120_000, true);
    await sleep(3000);
    await this.step("scale 6 → 2", () => s.scale(2), this.countUp(2), 120_000, true);
    await sleep(2000);
    await this.step(
      "structural: a backend added",
      () => this.runLabelled("bench-structural", "--label heig.lb.backend=flap"),
      async () => (await s.upServers("flap")).includes("bench-structural"),
      120_000,
      true,
    );
    await this.step(
      "structural: the backend removed",
      () => run("docker rm -f bench-structural >/dev/null"),
      async () => !(await s.cli("show stat")).includes("flap,"),
      120_000,
      true,
    );
    await sleep(2000);
  }

  /**
   * Membership changes one at a time, each waiting for HAProxy to show it, so that none is
   * coalesced with the next: a labelled container joins the webapp backend (under load), then
   * stops gracefully.
   */
  private async flap(times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      await this.runLabelled("bench-flap");
      await until("flap up", async () => (await this.stack.upServers()).includes("bench-flap"));
      await run("docker stop -t 10 bench-flap >/dev/null && docker rm bench-flap >/dev/null");
      await until("flap gone", async () => !(await this.stack.cli("show stat")).includes(",bench-flap,"));
    }
  }

  /** Two webapps die at once, as an OOM kill would: SIGKILL to their PID 1 from the host. */
  private async crashTwo(): Promise<void> {
    const names = [`${this.stack.opts.project}_webapp_2`, `${this.stack.opts.project}_webapp_3`];
    const pids = await Promise.all(
      names.map(async (n) => (await run(`docker inspect -f '{{.State.Pid}}' ${n}`)).trim()),
    );
    this.crash = { atMs: Date.now(), containers: names };
    await run(`kill -9 ${pids.join(" ")}`);
    // The restart policy brings them back; wait until they were at least seen going.
    await until(
      "crashed containers restarted",
      async () =>
        (await run(`docker inspect -f '{{.RestartCount}}' ${names.join(" ")}`)).split("\n").filter((l) => Number(l) > 0)
          .length === 2,
      30_000,
    );
  }

  private runLabelled(name: string, extra = ""): Promise<string> {
    return run(
      `docker run -d --name ${name} --network ${this.stack.opts.network} --label heig.lb.enable=true ${extra} ${this.image} >/dev/null`,
    );
  }

  private countUp(n: number): () => Promise<boolean> {
    return async () => (await this.stack.upServers()).length === n;
  }

  private async step(
    name: string,
    action: () => Promise<unknown>,
    settled: () => Promise<boolean>,
    timeoutMs = 120_000,
    busy = false,
  ): Promise<void> {
    const before = await this.stack.reloads();
    const startMs = Date.now();
    log(`${name}${busy ? ", machine busy" : ""}…`);
    this.lifecycle.step = busy ? `${name} (busy)` : name;
    const hogs = new Busy();
    if (busy) hogs.start(path.join(ROOT, ".bench"));
    try {
      await action();
      await until(name, async () => (await settled()) && (await this.stack.configSettled()), timeoutMs);
    } finally {
      hogs.stop();
    }
    const endMs = Date.now();
    const step = {
      name,
      busy,
      reloads: (await this.stack.reloads()) - before,
      settleMs: endMs - startMs,
      startMs,
      endMs,
    };
    this.steps.push(step);
    log(`${name}: ${step.reloads} reload(s), settled in ${step.settleMs} ms`);
  }
}
