import type Docker from "dockerode";
import { writeFileAtomic } from "./config-file";
import type { ServerRef } from "../model/types";
import { parseShowStat } from "../status/cross-reference";
import { parseDescription, runtimeCommand } from "./runtime-socket";

/** Prefix of `global.description` that carries the config id (see the template). */
export const DESCRIPTION_PREFIX = "ha-sidecar-";

/** The running HAProxy, as the applier needs it. */
export interface HaproxyControl {
  /** Config id the serving worker loaded, or null when HAProxy cannot be asked right now. */
  runningConfigId(): Promise<string | null>;
  /** Saves server state (`show servers state`) so that the next worker starts from it. */
  saveServerState(): Promise<void>;
  /** Sets servers to maintenance in every running worker, old ones included. */
  drainServers(servers: readonly ServerRef[]): Promise<void>;
  /** Asks the HAProxy master for a soft reload; `no-container` when no HAProxy runs. */
  signalReload(): Promise<"sent" | "no-container">;
}

/** Finds `ha` by label and signals it through the Docker API; reads it through its runtime socket. */
export class DockerHaproxyControl implements HaproxyControl {
  constructor(
    private readonly docker: Docker,
    private readonly selector: { readonly key: string; readonly value: string },
    private readonly runtimeSocket: string,
    private readonly serverStateFile: string,
    private readonly masterSocket: string,
  ) {}

  async drainServers(servers: readonly ServerRef[]): Promise<void> {
    const pids = parseWorkerPids(await runtimeCommand(this.masterSocket, "show proc"));
    // One connection per worker; "No such server" from a worker that never had one is fine.
    await Promise.all(pids.map((pid) =>
      runtimeCommand(this.masterSocket, servers.map((s) => `@!${pid} set server ${s.backend}/${s.server} state maint`).join("; "))));
  }

  async runningConfigId(): Promise<string | null> {
    let info: string;
    try {
      info = await runtimeCommand(this.runtimeSocket, "show info");
    } catch {
      return null;
    }
    const description = parseDescription(info);
    return description?.startsWith(DESCRIPTION_PREFIX) ? description.slice(DESCRIPTION_PREFIX.length) : "";
  }

  /** Server statuses (`backend/server` → UP, DOWN, MAINT…) of the serving worker, or null. */
  async serverStatuses(): Promise<Map<string, string> | null> {
    try {
      return parseShowStat(await runtimeCommand(this.runtimeSocket, "show stat"));
    } catch {
      return null;
    }
  }

  async saveServerState(): Promise<void> {
    const state = await runtimeCommand(this.runtimeSocket, "show servers state");
    await writeFileAtomic(this.serverStateFile, state);
  }

  async signalReload(): Promise<"sent" | "no-container"> {
    const found = await this.docker.listContainers({
      filters: { label: [`${this.selector.key}=${this.selector.value}`], status: ["running"] },
    });
    if (found.length === 0) return "no-container";
    for (const c of found) await this.docker.getContainer(c.Id).kill({ signal: "SIGUSR2" });
    return "sent";
  }
}

/** Worker pids from the master CLI's `show proc` (current and old workers). */
export function parseWorkerPids(showProc: string): number[] {
  const workers = showProc.split("# workers")[1]?.split("# programs")[0] ?? "";
  return workers.split("\n").map((l) => /^(\d+)\s+worker\b/.exec(l.trim())?.[1]).filter((p): p is string => p !== undefined).map(Number);
}
