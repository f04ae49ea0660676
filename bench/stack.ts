/** The benchmark's own compose stack, driven through make and read through HAProxy's CLIs. */
import { randomBytes } from "node:crypto";
import { configIdOf, parseReloadCount, parseWorkerPids } from "../sidecar/haproxy/parse";
import { getOnce, run, sh } from "./lib";

export interface StackOptions {
  readonly project: string;
  readonly network: string;
  readonly httpPort: number;
  readonly statsPort: number;
  readonly statusPort: number;
  /** Extra compose files (overrides), beside compose/docker-compose.yml. */
  readonly overrides?: readonly string[];
}

export class Stack {
  readonly env: NodeJS.ProcessEnv;
  readonly sidecar: string;
  readonly ha: string;

  constructor(readonly opts: StackOptions) {
    this.sidecar = `${opts.project}_sidecar_1`;
    this.ha = `${opts.project}_ha_1`;
    this.env = {
      ...process.env,
      COMPOSE_PROJECT_NAME: opts.project,
      COMPOSE_FILE: ["compose/docker-compose.yml", ...(opts.overrides ?? [])].join(":"),
      LB_NETWORK: opts.network,
      HTTP_PORT: String(opts.httpPort),
      STATS_PORT: String(opts.statsPort),
      SIDECAR_STATUS_PORT: String(opts.statusPort),
      LB_CONTROL_NETWORK: `ha-${opts.project}-control`,
      STATS_BIND: "127.0.0.1",
      SERF_ENCRYPT_KEY: randomBytes(32).toString("base64"),
      SERF_RPC_AUTH: randomBytes(24).toString("hex"),
      SECRETS_FILE: `.run/${opts.project}-secrets.env`,
    };
  }

  up(n = 2): void {
    sh("make down >/dev/null 2>&1 || true", this.env);
    sh(`make up N=${n} >/dev/null`, this.env);
  }

  down(): void {
    sh("make down >/dev/null 2>&1 || true", this.env);
  }

  scale(n: number): Promise<string> {
    return run(`make scale N=${n} >/dev/null 2>&1`, this.env);
  }

  cli(cmd: string, master = false): Promise<string> {
    return run(
      `docker exec ${this.sidecar} node /app/sidecar.js cli ${master ? "--master " : ""}${JSON.stringify(cmd)}`,
    );
  }

  /** The HAProxy master's own reload counter. */
  async reloads(): Promise<number> {
    return parseReloadCount(await this.cli("show proc", true)) ?? Number.NaN;
  }

  async workers(): Promise<number> {
    return parseWorkerPids(await this.cli("show proc", true)).length;
  }

  /** HAProxy processes in the `ha` container (master and workers). */
  async haproxyProcesses(): Promise<number> {
    return (await run(`docker top ${this.ha} -eo pid,comm`)).split("\n").filter((l) => l.trim().endsWith(" haproxy"))
      .length;
  }

  /** The serving worker runs the structure of the file on the volume. */
  async configSettled(): Promise<boolean> {
    const running = configIdOf(await this.cli("show info"));
    const file = /^\s*description ha-sidecar-(\S+)$/m.exec(
      await run(`docker exec ${this.sidecar} cat /var/lib/ha-sidecar/haproxy.cfg`),
    )?.[1];
    return running !== "" && running === file;
  }

  /** When HAProxy confirmed each reload, from the sidecar's change log (/changes). */
  async reloadTimes(sinceMs: number): Promise<number[]> {
    const answer = await getOnce(this.opts.statusPort, `/changes?since=${sinceMs}`);
    const { records } = JSON.parse(answer.body) as { records: Array<{ kind: string; confirmedAt: string | null }> };
    return records.filter((r) => r.kind === "reload" && r.confirmedAt !== null).map((r) => Date.parse(r.confirmedAt!));
  }

  /** Servers of a backend that the stats page lists UP. */
  async upServers(backend = "webapp"): Promise<string[]> {
    const csv = (await getOnce(this.opts.statsPort, "/;csv")).body.trim().split("\n");
    const header = (csv[0] ?? "").replace(/^# /, "").split(",");
    const [px, sv, st] = ["pxname", "svname", "status"].map((h) => header.indexOf(h));
    return csv
      .slice(1)
      .map((l) => l.split(","))
      .filter((c) => c[px!] === backend && c[sv!] !== "BACKEND" && c[st!] === "UP")
      .map((c) => c[sv!]!);
  }

  /** The sidecar's log lines since `sinceMs` that hold `text`. */
  sidecarLogs(sinceMs: number, text: string): string {
    const since = new Date(sinceMs).toISOString();
    return sh(`docker logs --since ${since} ${this.sidecar} 2>&1 | grep -F ${JSON.stringify(text)} || true`);
  }

  /** The sidecar's PID 1 CPU ticks (user + system) and memory. */
  sidecarProc(): { ticks: number; rssKb: number; peakRssKb: number } {
    const stat = sh(`docker exec ${this.sidecar} cat /proc/1/stat`).split(") ")[1]!.split(" ");
    const status = sh(`docker exec ${this.sidecar} cat /proc/1/status`);
    return {
      ticks: Number(stat[11]) + Number(stat[12]),
      rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]),
      peakRssKb: Number(/VmHWM:\s+(\d+)/.exec(status)![1]),
    };
  }
}
