import type { Logger } from "pino";
import type { Reloader } from "../haproxy/reloader";
import type { RuntimeClient } from "../haproxy/runtime-client";
import { sleep, type Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import type { ServerRef } from "../model/types";
import { configIdOfText, type Rendered } from "../render/render";
import { parseServerLines } from "../render/server-lines";
import type { ConfigStore } from "./config-file";
import type { LiveFile } from "./live-file";
import { runRuntimePlan, type RuntimeResult } from "./runtime-apply";
import { idMismatches, planRuntime, runtimeDrift, type RuntimeOp } from "./runtime-plan";
import { keepServerState } from "./server-state";

/** What one apply did. */
export type ApplyOutcome =
  /** HAProxy already runs this exact config. */
  | { readonly kind: "unchanged" }
  /**
   * Membership changed through the runtime API, confirmed by reading the servers back; no
   * reload. `written`: the file, which follows in the background, differs and was queued.
   */
  | { readonly kind: "runtime"; readonly written: boolean; readonly result: RuntimeResult }
  /** Written (if needed), signalled, and HAProxy confirmed it loaded it. */
  | { readonly kind: "reloaded"; readonly written: boolean; readonly signals: number; readonly fallback: string | null }
  /** Written; no HAProxy runs, it will read the file when it starts. */
  | { readonly kind: "no-haproxy"; readonly written: boolean }
  /** `haproxy -c` refused it: the live file was left untouched, HAProxy brought back to it. */
  | { readonly kind: "rejected"; readonly message: string; readonly repeated: boolean };

/** Raised for what is worth retrying (I/O, Docker, an unconfirmed reload). */
export class ApplyError extends Error {
  override readonly name = "ApplyError";
}

/** What the applier works with: the files on the shared volume and the running HAProxy. */
export interface ApplierPorts {
  /** The live haproxy.cfg (staged, validated, renamed). */
  readonly live: LiveFile;
  /** The server-state file the next worker loads (`server-state-file`). */
  readonly serverState: ConfigStore;
  readonly reloader: Reloader;
  readonly runtime: RuntimeClient;
}

export interface ApplierOptions {
  readonly reloadConfirmMs: number;
  readonly clock: Clock;
  /** Poll period while waiting for HAProxy to report the new config. */
  readonly pollMs?: number;
  /** Signals sent per apply before giving up until the next retry. */
  readonly maxSignals?: number;
  /** A drained server still holding connections this long after its drain has them shut. */
  readonly forceDeleteAfterMs?: number;
  /** False: never use the runtime API, reload for every change. */
  readonly runtimeApi?: boolean;
}

/**
 * Applies a render in the order that loses nothing. When HAProxy already runs this config's
 * structure (same config id), membership goes through the runtime API (no reload) and the file
 * follows in the background, validated off the critical path. Otherwise: the text is staged
 * beside the live file, validated, renamed over it, HAProxy signalled and only done once it
 * reports the new config id. A rejected text is not tried again.
 */
export class Applier {
  /** Rejections already reported once. */
  private readonly reported = new Set<string>();
  /** When each server leaving rotation was drained (servers still in HAProxy only). */
  private readonly drainedSince = new Map<string, number>();

  constructor(
    private readonly ports: ApplierPorts,
    private readonly log: Logger,
    private readonly opts: ApplierOptions,
  ) {}

  /**
   * @param leaving servers the new config drops: set to maintenance in every running HAProxy
   *   worker before a reload (the runtime path works them out itself).
   */
  async apply(rendered: Rendered, leaving: readonly ServerRef[] = []): Promise<ApplyOutcome> {
    const refused = this.ports.live.rejection(rendered.sha256);
    if (refused !== null) return this.rejected(rendered.sha256, refused);
    let fallback: string | null = null;
    if (this.opts.runtimeApi !== false && (await this.ports.runtime.runningConfigId()) === rendered.configId) {
      try {
        return await this.applyAtRuntime(rendered);
      } catch (err) {
        // Anything off (a refused command, servers that do not read back as wanted): a reload
        // of the validated file converges whatever state HAProxy is in.
        fallback = toError(err).message;
        this.log.warn({ err: toError(err) }, "runtime apply failed, reloading instead");
      }
    }
    return this.applyByReload(rendered, leaving, fallback);
  }

  /** Resolves once the file has caught up with the last runtime apply. */
  idle(): Promise<void> {
    return this.ports.live.idle();
  }

  private async applyAtRuntime(rendered: Rendered): Promise<ApplyOutcome> {
    const runtime = this.ports.runtime;
    const before = await runtime.servers();
    const renumbered = idMismatches(rendered.servers, before);
    if (renumbered.length > 0)
      throw new ApplyError(`servers run under other ids than the config gives them: ${renumbered.join(", ")}`);
    const ops = planRuntime(rendered.servers, before);
    const result = await runRuntimePlan(runtime, ops, this.forcedDeletes(ops, before));
    const drift = runtimeDrift(rendered.servers, await runtime.servers());
    if (drift.length > 0)
      throw new ApplyError(`servers differ from the config after the runtime apply: ${drift.join(", ")}`);
    const written = (await this.ports.live.current()).sha !== rendered.sha256;
    if (written) this.ports.live.writeInBackground(rendered);
    return ops.length === 0 && !written ? { kind: "unchanged" } : { kind: "runtime", written, result };
  }

  private async applyByReload(
    rendered: Rendered,
    leaving: readonly ServerRef[],
    fallback: string | null,
  ): Promise<ApplyOutcome> {
    await this.ports.live.idle();
    const write = await this.ports.live.write(rendered, async () => {
      if (leaving.length > 0) await this.drain(leaving);
      await this.saveServerState(rendered);
    });
    if (typeof write !== "string") return this.rejected(write.sha, write.message);
    const written = write === "written";
    // After a failed runtime apply, only a reload is sure to converge.
    if (fallback === null && (await this.runs(rendered))) {
      return written ? { kind: "reloaded", written, signals: 0, fallback } : { kind: "unchanged" };
    }
    return this.reloadUntilConfirmed(rendered.configId, written, fallback);
  }

  /**
   * A render `haproxy -c` refused. The runtime path may already have given HAProxy its servers
   * (the file is checked after): HAProxy is brought back to the live file's.
   */
  private async rejected(sha: string, message: string): Promise<ApplyOutcome> {
    const repeated = this.reported.has(sha);
    if (!repeated) {
      if (this.reported.size >= 16) this.reported.delete(this.reported.values().next().value!);
      this.reported.add(sha);
    }
    const live = await this.ports.live.current();
    if (live.text !== null && (await this.ports.runtime.runningConfigId()) === configIdOfText(live.text)) {
      try {
        const wanted = parseServerLines(live.text);
        const ops = planRuntime(wanted, await this.ports.runtime.servers());
        if (ops.length > 0) await runRuntimePlan(this.ports.runtime, ops, new Set());
      } catch (err) {
        this.log.warn({ err: toError(err) }, "could not bring haproxy back to the last good config's servers");
      }
    }
    return { kind: "rejected", message, repeated };
  }

  /**
   * Whether HAProxy already runs this config: its structure (config id) and its servers (the id
   * alone says nothing about them). With the runtime API on, drained servers waiting for their
   * deletion may linger; without it, nothing deletes them but a reload: the servers must match
   * exactly.
   */
  private async runs(rendered: Rendered): Promise<boolean> {
    const runtime = this.ports.runtime;
    if ((await runtime.runningConfigId()) !== rendered.configId) return false;
    try {
      const running = await runtime.servers();
      if (this.opts.runtimeApi === false && [...running.keys()].some((key) => !rendered.servers.has(key))) return false;
      return runtimeDrift(rendered.servers, running).length === 0;
    } catch {
      return false;
    }
  }

  /** Servers drained long enough ago that their remaining sessions are shut before the delete. */
  private forcedDeletes(ops: readonly RuntimeOp[], before: ReadonlyMap<string, unknown>): Set<string> {
    const now = this.opts.clock.now();
    for (const key of this.drainedSince.keys()) if (!before.has(key)) this.drainedSince.delete(key);
    for (const op of ops) {
      const key = op.kind === "delete" ? `${op.ref.backend}/${op.ref.server}` : null;
      if (key !== null && !this.drainedSince.has(key)) this.drainedSince.set(key, now);
    }
    const after = this.opts.forceDeleteAfterMs ?? 10_000;
    return new Set([...this.drainedSince].filter(([, since]) => now - since >= after).map(([key]) => key));
  }

  private async reloadUntilConfirmed(
    configId: string,
    written: boolean,
    fallback: string | null,
  ): Promise<ApplyOutcome> {
    const clock = this.opts.clock;
    const pollMs = this.opts.pollMs ?? 50;
    const maxSignals = this.opts.maxSignals ?? 3;
    for (let signals = 1; signals <= maxSignals; signals++) {
      const sent = await this.ports.reloader.reload().catch((err: unknown) => {
        throw new ApplyError(`could not signal haproxy: ${toError(err).message}`, { cause: err });
      });
      if (sent === "no-target") return { kind: "no-haproxy", written };
      // HAProxy ignores a SIGUSR2 that arrives too soon after the previous reload: wait for
      // the worker to report the new id, and signal again if it does not.
      const deadline = clock.now() + this.opts.reloadConfirmMs;
      while (clock.now() < deadline) {
        await sleep(clock, pollMs);
        if ((await this.ports.runtime.runningConfigId()) === configId)
          return { kind: "reloaded", written, signals, fallback };
      }
      this.log.warn({ configId, signals }, "haproxy has not loaded the new config yet, signalling again");
    }
    throw new ApplyError(`haproxy did not load config ${configId} after ${maxSignals} reload signals`);
  }

  private async drain(leaving: readonly ServerRef[]): Promise<void> {
    try {
      await this.ports.runtime.drainServers(leaving);
    } catch (err) {
      // HAProxy not reachable: the reload still takes the servers out of the new worker, but
      // old workers may send them requests until they finish.
      this.log.warn({ err: toError(err), servers: leaving.length }, "servers not drained before reload");
    }
  }

  private async saveServerState(rendered: Rendered): Promise<void> {
    try {
      const dump = keepServerState(await this.ports.runtime.serverStateDump(), rendered.servers);
      await this.ports.serverState.commit(await this.ports.serverState.stage(dump));
    } catch (err) {
      // Without a saved state the new worker starts its servers fresh: worth a warning, not a stop.
      this.log.warn({ err: toError(err) }, "server state not saved before reload");
    }
  }
}
