import type { Logger } from "pino";
import type { RunningServer } from "../haproxy/parse";
import type { RunningInfo, RuntimeClient } from "../haproxy/runtime-client";
import { sleep, type Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import type { ServerRef } from "../model/types";
import type { Rendered } from "../render/render";
import type { ServerLine } from "../render/server-lines";
import { ApplyError } from "./outcome";
import { runRuntimePlan } from "./runtime-apply";
import {
  drainsOver,
  idMismatches,
  planRuntime,
  readyCommands,
  runtimeDrift,
  slowstartMsOf,
  wantsMaint,
  withReadied,
  type RuntimeOp,
} from "./runtime-plan";
import type { EarlyChanges, HaproxyTarget, ReadBack, RuntimeApplied } from "./target";

const NO_EARLY: EarlyChanges = { drained: new Set(), readied: new Set() };

/** How long a leaving server keeps its connections when its labels say nothing (heig.lb.drain). */
export const DEFAULT_DRAIN_MS = 10_000;

/** A read taken ahead of an apply (readAhead) serves it for this long at most. */
export const READ_AHEAD_MAX_MS = 2_000;

/** A read asked for ahead of an apply (each part until taken), and the writes begun by then. */
interface ReadAhead {
  readonly writes: number;
  readonly at: number;
  info: Promise<RunningInfo | null> | null;
  servers: Promise<Map<string, RunningServer>> | null;
}

export interface RuntimeTargetOptions {
  readonly reloadConfirmMs: number;
  readonly clock: Clock;
  /** Poll period while waiting for HAProxy to report the new config. */
  readonly pollMs?: number;
  /** Signals sent per reload before giving up until the next retry. */
  readonly maxSignals?: number;
  /**
   * A drained server still holding connections this long after its drain has them shut, unless
   * its own `heig.lb.drain` says otherwise.
   */
  readonly forceDeleteAfterMs?: number;
}

/**
 * One HAProxy replica through its runtime and master sockets, reloaded by a signal to its
 * container (`signal`). A reload counts once a new serving worker reports the new config id:
 * HAProxy ignores a SIGUSR2 that comes too soon after the previous reload, so it is signalled again.
 */
export class RuntimeTarget implements HaproxyTarget {
  /** When each server leaving rotation was drained (servers still in HAProxy only). */
  private readonly drainedSince = new Map<string, number>();
  /** Servers added with a slow start, and when their ramp ends (epoch ms). */
  private readonly rampingUntil = new Map<string, number>();
  /** Each server's own drain time (heig.lb.drain), as the last render that had it said. */
  private readonly drainMs = new Map<string, number>();
  /** Writes to it begun (runtime commands that change it, reload signals), and those under way. */
  private writes = { begun: 0, underWay: 0 };
  private ahead: ReadAhead | null = null;

  constructor(
    private readonly runtime: RuntimeClient,
    private readonly signal: () => Promise<"sent" | "gone">,
    private readonly log: Logger,
    private readonly opts: RuntimeTargetOptions,
  ) {}

  readAhead(servers: boolean): void {
    this.ahead = null;
    // A write under way may land before or after the read: what it reads could be either.
    if (this.writes.underWay > 0) return;
    const read = servers ? this.runtime.servers() : null;
    // Taken by the apply, or dropped: its failure is the apply's to see, or nobody's.
    read?.catch(() => undefined);
    const at = this.opts.clock.now();
    this.ahead = { writes: this.writes.begun, at, info: this.runtime.runningInfo(), servers: read };
  }

  info(): ReturnType<HaproxyTarget["info"]> {
    return this.takeAhead("info") ?? this.runtime.runningInfo();
  }

  async readBack(): Promise<ReadBack | null> {
    // A read of its own: what was read ahead of a pass is older, and may miss a change made from
    // outside (a command on its socket, a restart) that the agreement check reads back to repair.
    this.ahead = null;
    // Both at once: at a thousand servers `show servers state` is the longer of the two.
    const [info, servers] = await Promise.all([this.runtime.runningInfo(), this.runtime.servers().catch(() => null)]);
    return info === null || servers === null ? null : { ...info, servers };
  }

  servers(): Promise<ReadonlyMap<string, RunningServer>> {
    return this.takeAhead("servers") ?? this.runtime.servers();
  }

  /** The part of the read taken ahead, once, if nothing was written to the replica since it was asked for. */
  private takeAhead<K extends "info" | "servers">(part: K): ReadAhead[K] {
    const ahead = this.ahead;
    if (ahead === null) return null;
    const fresh = this.opts.clock.now() - ahead.at <= READ_AHEAD_MAX_MS;
    if (ahead.writes !== this.writes.begun || !fresh) {
      this.ahead = null;
      return null;
    }
    const read = ahead[part];
    ahead[part] = null;
    return read;
  }

  /** Runs `work`, which changes what the replica runs: a read taken ahead of it no longer serves. */
  private async writing<T>(work: () => Promise<T>): Promise<T> {
    this.writes.begun++;
    this.writes.underWay++;
    try {
      return await work();
    } finally {
      this.writes.underWay--;
    }
  }

  async applyAtRuntime(
    rendered: Rendered,
    early: () => EarlyChanges = () => NO_EARLY,
    read?: ReadonlyMap<string, RunningServer>,
  ): Promise<RuntimeApplied> {
    const before = read ?? (await this.runtime.servers());
    const renumbered = idMismatches(rendered.servers, before);
    if (renumbered.length > 0)
      throw new ApplyError(`servers run under other ids than the config gives them: ${renumbered.join(", ")}`);
    // A held server made ready early is not put back in maintenance: it listens.
    const ops = planRuntime(withReadied(rendered, early().readied), before);
    // A leaving server is no longer in the render: its drain time is the one it had there.
    for (const [key, ms] of rendered.drainMs ?? []) this.drainMs.set(key, ms);
    for (const key of rendered.servers.keys()) if (!rendered.drainMs?.has(key)) this.drainMs.delete(key);
    const forced = this.forcedDeletes(ops, before);
    const result = await this.writing(() => runRuntimePlan(this.runtime, ops, forced));
    const now = this.opts.clock.now();
    // A slow starter ramps from when it routes: added, or out of maintenance.
    for (const op of ops) {
      const line = op.kind === "add" ? op.line : op.kind === "ready" ? op.line : undefined;
      if (line !== undefined && !wantsMaint(line)) this.ramping(line, now);
    }
    for (const [key, until] of this.rampingUntil)
      if (until <= now || !rendered.servers.has(key)) this.rampingUntil.delete(key);
    const after = ops.length === 0 ? before : await this.runtime.servers();
    for (const key of this.drainedSince.keys()) if (!after.has(key)) this.drainedSince.delete(key);
    // What the fast paths did while this apply ran is not drift: the pass that follows at once
    // takes it in. A server a kill event drained is leaving (a reload for it would be a reload
    // for nothing); one held until it listens may have been made ready, or not yet.
    const { drained, readied } = early();
    const drift = runtimeDrift(withReadied(rendered, readied), after).filter((key) => {
      const r = after.get(key);
      return !(r?.maint === true && (drained.has(key) || rendered.held?.has(key) === true));
    });
    if (drift.length > 0)
      throw new ApplyError(`servers differ from the config after the runtime apply: ${drift.join(", ")}`);
    return { result, changed: ops.length > 0, servers: after };
  }

  reload(configId: string): Promise<number | "gone"> {
    return this.writing(() => this.reloadNow(configId));
  }

  private async reloadNow(configId: string): Promise<number | "gone"> {
    const clock = this.opts.clock;
    const pollMs = this.opts.pollMs ?? 50;
    const maxSignals = this.opts.maxSignals ?? 3;
    // A reload to the structure it already runs (after a failed runtime apply) changes no config
    // id: the new worker's pid tells that one took place.
    const before = (await this.runtime.runningInfo())?.worker ?? null;
    const done = (info: RunningInfo | null): boolean =>
      info?.configId === configId && (before === null || info.worker !== before);
    for (let signals = 1; signals <= maxSignals; signals++) {
      const sent = await this.signal().catch((err: unknown) => {
        throw new ApplyError(`could not signal haproxy: ${toError(err).message}`, { cause: err });
      });
      if (sent === "gone") return "gone";
      // HAProxy ignores a SIGUSR2 that arrives too soon after the previous reload: wait for
      // the worker to report the new id, and signal again if it does not.
      const deadline = clock.now() + this.opts.reloadConfirmMs;
      while (clock.now() < deadline) {
        await sleep(clock, pollMs);
        if (done(await this.runtime.runningInfo())) return signals;
      }
      this.log.warn({ configId, signals }, "haproxy has not loaded the new config yet, signalling again");
    }
    throw new ApplyError(`haproxy did not load config ${configId} after ${maxSignals} reload signals`);
  }

  drain(servers: readonly ServerRef[]): Promise<void> {
    return this.writing(() => this.runtime.drainServers(servers));
  }

  async ready(servers: readonly ServerLine[]): Promise<void> {
    await this.writing(() => this.runtime.commands(servers.flatMap(readyCommands)));
    const now = this.opts.clock.now();
    for (const line of servers) this.ramping(line, now);
  }

  /** Records when a slow starter's ramp that starts `now` ends (for /status). */
  private ramping(line: ServerLine, now: number): void {
    const ms = slowstartMsOf(line);
    if (ms > 0) this.rampingUntil.set(`${line.backend}/${line.name}`, now + ms);
  }

  serverStateDump(): Promise<string> {
    return this.runtime.serverStateDump();
  }

  serverStatuses(): Promise<Map<string, string> | null> {
    return this.runtime.serverStatuses();
  }

  /** Servers drained for their whole drain time: their remaining sessions are shut before the delete. */
  private forcedDeletes(ops: readonly RuntimeOp[], before: ReadonlyMap<string, unknown>): Set<string> {
    const now = this.opts.clock.now();
    for (const key of this.drainedSince.keys()) if (!before.has(key)) this.drainedSince.delete(key);
    for (const key of this.drainMs.keys()) if (!before.has(key)) this.drainMs.delete(key);
    for (const op of ops) {
      const key = op.kind === "delete" ? `${op.ref.backend}/${op.ref.server}` : null;
      if (key !== null && !this.drainedSince.has(key)) this.drainedSince.set(key, now);
    }
    return drainsOver(this.drainedSince, this.drainMs, this.opts.forceDeleteAfterMs ?? DEFAULT_DRAIN_MS, now);
  }

  transitions(): { ramping: ReadonlyMap<string, number>; draining: ReadonlyMap<string, number> } {
    const defaultMs = this.opts.forceDeleteAfterMs ?? DEFAULT_DRAIN_MS;
    return {
      ramping: new Map(this.rampingUntil),
      draining: new Map([...this.drainedSince].map(([key, at]) => [key, at + (this.drainMs.get(key) ?? defaultMs)])),
    };
  }
}
