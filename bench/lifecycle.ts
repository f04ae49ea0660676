/**
 * Follows the webapps' lives through `docker events`: starts (with the container's StartedAt, its
 * address and the moment its app began to listen, from its log line) and kills/deaths; and,
 * given HAProxy's container, the first request HAProxy routed to each started one (its log).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { LineSplitter } from "../sidecar/lib/json-lines";
import { run } from "./lib";
import { haproxyUp, httpLogRoute, type NamedMoment } from "./measure";

export interface StartRecord {
  readonly id: string;
  readonly name: string;
  readonly step: string;
  /** The start event's time; replaced by State.StartedAt once inspected. */
  startedAtMs: number;
  ip: string;
  /** When the app began to accept connections (its "webapp listening" log line), if seen. */
  listeningAtMs: number | null;
}

export interface EndRecord {
  readonly id: string;
  readonly name: string;
  readonly step: string;
  readonly action: "kill" | "die";
  readonly atMs: number;
  readonly signal: string | null;
  ip: string;
}

export class Lifecycle {
  readonly starts: StartRecord[] = [];
  readonly ends: EndRecord[] = [];
  /** The first request HAProxy's log shows routed to each start's server (webapp backend). */
  readonly firstRoutes: NamedMoment[] = [];
  /** HAProxy's own messages during the run (its standard error), each with Docker's timestamp. */
  readonly haproxyMessages: string[] = [];
  /** Servers HAProxy put UP, by its own messages. */
  readonly ups: NamedMoment[] = [];
  step = "warm-up";
  private proc: ChildProcess | null = null;
  private haLog: ChildProcess | null = null;
  private readonly ipOf = new Map<string, string>();
  /** Started webapps whose first routed request is still to come. */
  private readonly unrouted = new Set<string>();

  constructor(
    private readonly project: string,
    private readonly network: string,
    private readonly haContainer: string | null = null,
  ) {}

  start(): void {
    if (this.haContainer !== null) this.followHaproxyLog(this.haContainer);
    this.proc = followLines(
      [
        "events",
        "--format",
        "{{json .}}",
        "--filter",
        "type=container",
        "--filter",
        "label=heig.lb.enable=true",
        "--filter",
        "event=start",
        "--filter",
        "event=kill",
        "--filter",
        "event=die",
      ],
      (line) => {
        try {
          this.onEvent(
            JSON.parse(line) as {
              Action: string;
              Actor: { ID: string; Attributes: Record<string, string> };
              timeNano: number;
            },
          );
        } catch {
          /* not an event line */
        }
      },
    );
  }

  stop(): void {
    this.proc?.kill();
    this.haLog?.kill();
  }

  /** HAProxy's request log from now on (its stdout), read line by line for the unrouted servers. */
  private followHaproxyLog(container: string): void {
    this.haLog = followLines(
      ["logs", "-f", "-t", "--since", new Date().toISOString(), container],
      (line) => {
        if (this.unrouted.size === 0 || !line.includes(" webapp/")) return;
        const r = httpLogRoute(line);
        if (r === null || r.backend !== "webapp" || !this.unrouted.has(r.server)) return;
        this.unrouted.delete(r.server);
        this.firstRoutes.push({ name: r.server, atMs: r.atMs });
      },
      // Its own messages (a server going DOWN or UP, and why), with Docker's timestamps.
      (line) => {
        this.haproxyMessages.push(line);
        const up = haproxyUp(line);
        if (up !== null) this.ups.push(up);
      },
    );
  }

  /** Learns the addresses of the webapps already running (their kills come later). */
  async prime(): Promise<void> {
    const ids = (
      await run(
        `docker ps -q --filter label=com.docker.compose.project=${this.project} --filter label=com.docker.compose.service=webapp`,
      )
    )
      .split("\n")
      .filter(Boolean);
    for (const id of ids) {
      const ip = (
        await run(`docker inspect -f '{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}' ${id}`)
      ).trim();
      const full = (await run(`docker inspect -f '{{.Id}}' ${id}`)).trim();
      this.ipOf.set(full, ip);
    }
  }

  private onEvent(e: {
    Action: string;
    Actor: { ID: string; Attributes: Record<string, string> };
    timeNano: number;
  }): void {
    const id = e.Actor.ID;
    const name = e.Actor.Attributes["name"] ?? "";
    const atMs = e.timeNano / 1e6;
    // Only members of the webapp backend get the load the numbers are read from.
    const backend = e.Actor.Attributes["heig.lb.backend"];
    if (backend !== undefined && backend !== "webapp") return;
    if (e.Action === "start") {
      const rec: StartRecord = { id, name, step: this.step, startedAtMs: atMs, ip: "", listeningAtMs: null };
      this.starts.push(rec);
      this.unrouted.add(name);
      void this.inspect(rec);
    } else if (e.Action === "kill" || e.Action === "die") {
      this.ends.push({
        id,
        name,
        step: this.step,
        action: e.Action,
        atMs,
        signal: e.Actor.Attributes["signal"] ?? null,
        ip: this.ipOf.get(id) ?? "",
      });
    }
  }

  private async inspect(rec: StartRecord): Promise<void> {
    try {
      const out = await run(
        `docker inspect -f '{{.State.StartedAt}} {{(index .NetworkSettings.Networks "${this.network}").IPAddress}}' ${rec.id}`,
      );
      const [startedAt, ip] = out.trim().split(" ");
      if (ip === undefined || ip === "" || ip === "<no") return; // not on the watched network
      rec.startedAtMs = isoToMs(startedAt!);
      rec.ip = ip ?? "";
      this.ipOf.set(rec.id, rec.ip);
      for (const e of this.ends) if (e.id === rec.id && e.ip === "") e.ip = rec.ip;
      // The app logs the moment it listens; it may not have yet.
      for (let i = 0; i < 50 && rec.listeningAtMs === null; i++) {
        // Only this start's lines: a restarted container has its earlier runs' lines too.
        const logs = await run(
          `docker logs --since ${startedAt} ${rec.id} 2>/dev/null | grep -m1 '"webapp listening"' || true`,
        );
        const at = /"atMs":([0-9.]+)/.exec(logs)?.[1];
        if (at !== undefined) rec.listeningAtMs = Number(at);
        else await new Promise((r) => setTimeout(r, 200));
      }
    } catch {
      /* gone before it could be inspected */
    }
  }
}

/** RFC 3339 with nanoseconds → epoch milliseconds (Date.parse keeps only milliseconds). */
export function isoToMs(iso: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return Date.parse(iso);
  return Date.parse(`${m[1]}${m[3]}`) + Number(`0${m[2] ?? ""}`) * 1000;
}

/** `docker ARGS`, its standard output told line by line (at most 1 MiB a line). */
function followLines(
  args: readonly string[],
  onLine: (line: string) => void,
  onErrLine?: (line: string) => void,
): ChildProcess {
  const p = spawn("docker", args, { stdio: ["ignore", "pipe", onErrLine === undefined ? "ignore" : "pipe"] });
  const lines = new LineSplitter(1 << 20, (line) => onLine(line.toString()));
  p.stdout!.on("data", (c: Buffer) => lines.push(c));
  if (onErrLine !== undefined) {
    const errLines = new LineSplitter(1 << 20, (line) => onErrLine(line.toString()));
    p.stderr!.on("data", (c: Buffer) => errLines.push(c));
  }
  return p;
}
