/**
 * Recording fakes of the shared volume and of N HAProxy replicas, for the applier, the fleet and
 * the agreement check. Every call lands in one list (`calls`), a replica's prefixed with its name
 * when there are several (`2: signal`). A replica's reload loads the live file (its config id and
 * servers, a new worker) unless told to swallow the signal; runtime commands act on its servers.
 */
import { toError } from "../../sidecar/lib/errors";
import pino from "pino";
import { AgreementCheck } from "../../sidecar/apply/agreement";
import { Applier } from "../../sidecar/apply/applier";
import type { ConfigStore } from "../../sidecar/apply/config-file";
import { Fleet } from "../../sidecar/apply/fleet";
import type { ValidationResult, Validator } from "../../sidecar/apply/haproxy-check";
import { LiveFile } from "../../sidecar/apply/live-file";
import { RuntimeTarget } from "../../sidecar/apply/runtime-target";
import type { RunningServer } from "../../sidecar/haproxy/parse";
import type { ReplicaContainerState, ReplicaListing, ReplicaSource } from "../../sidecar/haproxy/replica-source";
import { RuntimeCommandError, type RuntimeClient } from "../../sidecar/haproxy/runtime-client";
import type { Clock } from "../../sidecar/lib/clock";
import type { ServerRef } from "../../sidecar/model/types";
import { sha256Hex, type Rendered } from "../../sidecar/render/render";
import { parseServerLines } from "../../sidecar/render/server-lines";

export const silent = pino({ level: "silent" });

/** A config of structure `id` listing `servers` ("name addr:port [weight]"). */
export function rendered(id: string, servers: string[] = [], held: string[] = []): Rendered {
  const text = [
    "global",
    `    description ha-sidecar-${id}`,
    "defaults",
    "    default-server inter 1s",
    "backend webapp",
    ...servers.map((s) => {
      const [name, ep, weight] = s.split(" ");
      return `    server ${name} ${ep} check${weight ? ` weight ${weight}` : ""}${held.includes(name!) ? " disabled" : ""}`;
    }),
    "",
  ].join("\n");
  return {
    text,
    sha256: sha256Hex(text),
    configId: id,
    servers: parseServerLines(text),
    ...(held.length > 0 ? { held: new Set(held.map((n) => `webapp/${n}`)) } : {}),
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type FakeServer = Mutable<RunningServer> & { conns: number };

/** The shared volume: the live haproxy.cfg (staged, validated, committed) and `haproxy -c`. */
export class Volume implements ConfigStore, Validator {
  live: string | null = null;
  staged = new Map<string, string>();
  verdict: ValidationResult = { ok: true };

  constructor(readonly calls: string[] = []) {}

  async read() {
    this.calls.push("read");
    return this.live;
  }
  async stage(text: string) {
    const p = `tmp${this.staged.size}`;
    this.staged.set(p, text);
    this.calls.push("stage");
    return p;
  }
  async commit(p: string) {
    this.live = this.staged.get(p)!;
    this.staged.delete(p);
    this.calls.push("commit");
  }
  async removeStale() {
    return 0;
  }
  async discard(p: string) {
    this.staged.delete(p);
    this.calls.push("discard");
  }
  async validate() {
    this.calls.push("validate");
    return this.verdict;
  }
}

/** One HAProxy replica: its serving worker's config and servers, and its runtime API. */
export class FakeReplica {
  running: string | null = null;
  worker = 100;
  servers = new Map<string, FakeServer>();
  swallowSignals = 0;
  refuse: RegExp | null = null;
  /** Its sockets do not answer (a paused container, a dead process). */
  unreachable = false;

  constructor(
    private readonly volume: Volume,
    private readonly prefix = "",
  ) {}

  private rec(call: string): void {
    this.volume.calls.push(`${this.prefix}${call}`);
  }

  /** What a worker does at start: load the live file. */
  load(): void {
    const live = this.volume.live ?? "";
    this.worker += 1;
    this.running = /description ha-sidecar-(\S+)/.exec(live)?.[1] ?? null;
    this.servers = new Map(
      [...parseServerLines(live)].map(([k, l]) => [
        k,
        {
          backend: l.backend,
          name: l.name,
          id: l.id,
          address: l.address,
          port: l.port,
          weight: l.weight,
          maint: false,
          drain: false,
          conns: 0,
        },
      ]),
    );
  }

  /** SIGUSR2 to its master. */
  signal(): "sent" {
    this.rec("signal");
    if (this.swallowSignals > 0) this.swallowSignals--;
    else this.load();
    return "sent";
  }

  private answer<T>(value: () => T): Promise<T> {
    return this.unreachable ? Promise.reject(new Error("connect ECONNREFUSED")) : Promise.resolve(value());
  }

  readonly runtime: RuntimeClient = {
    runningConfigId: async () => (this.unreachable ? null : this.running),
    runningInfo: async () => (this.unreachable ? null : { configId: this.running ?? "", worker: this.worker }),
    serverStatuses: async () =>
      this.unreachable ? null : new Map([...this.servers].map(([k, s]) => [k, s.maint ? "MAINT" : "UP"])),
    serverStateDump: () =>
      this.answer(() => {
        this.rec("save-state");
        return "1\n# be_id be_name\n";
      }),
    servers: () => this.answer(() => new Map([...this.servers].map(([k, { conns: _c, ...s }]) => [k, s]))),
    // As HAProxy: every command of the line runs, and the first refusal is told.
    commands: async (list) => {
      const refused: Error[] = [];
      for (const c of list)
        await this.runtime.command(c.command, c.success).catch((err: unknown) => refused.push(toError(err)));
      if (refused[0] !== undefined) throw refused[0];
    },
    masterCommand: async () => "",
    drainServers: async (refs: readonly ServerRef[]) => {
      if (this.unreachable) throw new Error("connect ECONNREFUSED");
      this.rec(`drain ${refs.map((r) => `${r.backend}/${r.server}`).join(",")}`);
      for (const r of refs) {
        const s = this.servers.get(`${r.backend}/${r.server}`);
        if (s) s.maint = true;
      }
    },
    command: async (cmd: string) => {
      if (this.unreachable) throw new Error("connect ECONNREFUSED");
      this.rec(cmd);
      if (this.refuse?.test(cmd)) throw new RuntimeCommandError(cmd, "unknown keyword 'x'.");
      const [verb, what, key = "", ...rest] = cmd.split(" ");
      const s = this.servers.get(verb === "shutdown" ? rest[0]! : key);
      if (verb === "add") {
        const [address, port] = rest[0]!.split(":");
        const w = rest.indexOf("weight");
        const id = rest.indexOf("id");
        this.servers.set(key, {
          backend: key.split("/")[0]!,
          name: key.split("/")[1]!,
          id: id < 0 ? null : Number(rest[id + 1]),
          address: address!,
          port: Number(port),
          weight: w < 0 ? 1 : Number(rest[w + 1]),
          maint: true,
          drain: false,
          conns: 0,
        });
        return "New server registered.\n";
      }
      if (verb === "enable" && what === "server") s!.maint = false;
      if (verb === "disable" && what === "server") s!.maint = true;
      if (verb === "set" && rest[0] === "weight") s!.weight = Number(rest[1]);
      if (verb === "set" && rest[0] === "state") {
        s!.maint = rest[1] === "maint";
        s!.drain = rest[1] === "drain";
      }
      if (verb === "set" && rest[0] === "addr") {
        s!.address = rest[1]!;
        s!.port = Number(rest[3]);
        return "IP changed\n";
      }
      if (verb === "shutdown") s!.conns = 0;
      if (verb === "del") {
        if (s!.conns > 0)
          throw new RuntimeCommandError(cmd, "Server still has connections attached to it, cannot remove it.");
        this.servers.delete(key);
        return "Server deleted.\n";
      }
      return "\n";
    },
  };
}

/** The replicas' containers, as Docker lists them: replica k is container `c<k>`, `ha_<k>`. */
export class FakeReplicaSource implements ReplicaSource {
  readonly states = new Map<number, ReplicaContainerState>();
  listings = 0;
  failListing = false;

  constructor(readonly replicas: Map<number, FakeReplica>) {}

  async list(): Promise<ReplicaListing> {
    this.listings += 1;
    if (this.failListing) throw new Error("docker: connect ECONNREFUSED");
    const labelled = this.replicas.size > 1;
    return {
      replicas: [...this.replicas.keys()]
        .sort((a, b) => a - b)
        .map((index) => ({
          index,
          labelled,
          containerId: `c${index}`,
          container: `ha_${index}`,
          state: this.states.get(index) ?? "running",
        })),
      skipped: [],
    };
  }

  async signal(containerId: string): Promise<"sent" | "gone"> {
    const replica = this.replicas.get(Number(containerId.slice(1)));
    return replica === undefined ? "gone" : replica.signal();
  }
}

/** A clock whose timers fire at once, moving time forward (the reload confirmation's polling). */
export function steppingClock(): Clock & { advance(ms: number): void } {
  let t = 0;
  return {
    now: () => t,
    setTimeout: (fn, ms) => {
      t += ms;
      fn();
      return 0 as unknown as ReturnType<typeof setTimeout>;
    },
    clearTimeout: () => undefined,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

export interface FleetOptions {
  readonly replicas?: number;
  readonly runtimeApi?: boolean;
  readonly clock?: Clock;
  readonly serverState?: ConfigStore;
}

const noState: ConfigStore = {
  read: async () => null,
  stage: async () => "state.tmp",
  commit: async () => undefined,
  discard: async () => undefined,
  removeStale: async () => 0,
};

/** The volume, N replicas, and the applier, fleet and agreement check over them, wired as in production. */
export function fleetOf(opts: FleetOptions = {}) {
  const n = opts.replicas ?? 2;
  const volume = new Volume();
  const replicas = new Map(
    Array.from({ length: n }, (_, i) => [i + 1, new FakeReplica(volume, n > 1 ? `${i + 1}: ` : "")] as const),
  );
  const source = new FakeReplicaSource(replicas);
  const clock = opts.clock ?? steppingClock();
  const rejectedInBackground: string[] = [];
  const fleet = new Fleet(
    source,
    (r) =>
      new RuntimeTarget(replicas.get(r.index)!.runtime, () => source.signal(r.containerId), silent, {
        reloadConfirmMs: 1000,
        pollMs: 100,
        maxSignals: 3,
        clock,
        forceDeleteAfterMs: 5000,
      }),
    silent,
  );
  const live = new LiveFile(volume, volume, silent, (sha) => rejectedInBackground.push(sha));
  const applier = new Applier({ live, serverState: opts.serverState ?? noState, fleet }, silent, {
    clock,
    runtimeApi: opts.runtimeApi,
  });
  const agreement = new AgreementCheck(applier, fleet, clock, silent);
  return {
    volume,
    calls: volume.calls,
    replicas,
    replica: (k: number) => replicas.get(k)!,
    source,
    fleet,
    applier,
    agreement,
    clock,
    rejectedInBackground,
    apply: (r: Rendered, leaving: ServerRef[] = []) => applier.apply(r, leaving),
    idle: () => applier.idle(),
  };
}
