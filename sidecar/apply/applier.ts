import type { Logger } from "pino";
import type { Reloader } from "../haproxy/reloader";
import type { RuntimeClient } from "../haproxy/runtime-client";
import { sleep, type Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import type { ServerRef } from "../model/types";
import type { Rendered } from "../render/render";
import { sha256Hex } from "../render/render";
import type { ConfigStore } from "./config-file";
import type { Validator } from "./haproxy-check";
import { runRuntimePlan, type RuntimeResult } from "./runtime-apply";
import { planRuntime, runtimeDrift, type RuntimeOp } from "./runtime-plan";
import { keepServerState } from "./server-state";

/** What one apply did. */
export type ApplyOutcome =
  /** HAProxy already runs this exact config. */
  | { readonly kind: "unchanged" }
  /** Membership changed through the runtime API, confirmed by reading the servers back; no reload. */
  | { readonly kind: "runtime"; readonly written: boolean; readonly result: RuntimeResult }
  /** Written (if needed), signalled, and HAProxy confirmed it loaded it. */
  | { readonly kind: "reloaded"; readonly written: boolean; readonly signals: number; readonly fallback: string | null }
  /** Written; no HAProxy runs, it will read the file when it starts. */
  | { readonly kind: "no-haproxy"; readonly written: boolean }
  /** `haproxy -c` refused it: the live file was left untouched (and runtime additions undone). */
  | { readonly kind: "rejected"; readonly message: string; readonly repeated: boolean };

/** Raised for what is worth retrying (I/O, Docker, an unconfirmed reload). */
export class ApplyError extends Error {
  override readonly name = "ApplyError";
}

/** What the applier works with: the files on the shared volume and the running HAProxy. */
export interface ApplierPorts {
  /** The live haproxy.cfg. */
  readonly config: ConfigStore;
  /** The server-state file the next worker loads (`server-state-file`). */
  readonly serverState: ConfigStore;
  readonly validator: Validator;
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
 * is written after, validated off the critical path. Otherwise: the text is staged beside the
 * live file, validated, renamed over it, HAProxy signalled and only done once it reports the
 * new config id. A rejected text is not tried again.
 */
export class Applier {
  private liveSha: string | null | undefined; // undefined: not read yet
  private rejected: { sha: string; message: string } | null = null;
  /** When each server leaving rotation was drained (servers still in HAProxy only). */
  private drainedSince = new Map<string, number>();

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
    if (this.rejected?.sha === rendered.sha256)
      return { kind: "rejected", message: this.rejected.message, repeated: true };
    if (this.liveSha === undefined) {
      // Seeded from disk so that a restarted sidecar does not rewrite or reload for nothing.
      const current = await this.ports.config.read();
      this.liveSha = current === null ? null : sha256Hex(current);
    }
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

  private async applyAtRuntime(rendered: Rendered): Promise<ApplyOutcome> {
    const runtime = this.ports.runtime;
    const before = await runtime.servers();
    const ops = planRuntime(rendered.servers, before);
    const result = await runRuntimePlan(runtime, ops, this.forcedDeletes(ops, before));
    let written = false;
    if (this.liveSha !== rendered.sha256) {
      const staged = await this.stage(rendered);
      if (typeof staged !== "string") {
        await this.undoAdds(result);
        return staged;
      }
      await this.ports.config.commit(staged);
      this.liveSha = rendered.sha256;
      written = true;
    }
    this.rejected = null;
    const drift = runtimeDrift(rendered.servers, await runtime.servers());
    if (drift.length > 0)
      throw new ApplyError(`servers differ from the config after the runtime apply: ${drift.join(", ")}`);
    return ops.length === 0 && !written ? { kind: "unchanged" } : { kind: "runtime", written, result };
  }

  private async applyByReload(
    rendered: Rendered,
    leaving: readonly ServerRef[],
    fallback: string | null,
  ): Promise<ApplyOutcome> {
    let written = false;
    if (this.liveSha !== rendered.sha256) {
      const staged = await this.stage(rendered);
      if (typeof staged !== "string") return staged;
      if (leaving.length > 0) await this.drain(leaving);
      await this.saveServerState(rendered);
      await this.ports.config.commit(staged);
      this.liveSha = rendered.sha256;
      written = true;
    }
    this.rejected = null;
    if (await this.runs(rendered))
      return written ? { kind: "reloaded", written, signals: 0, fallback } : { kind: "unchanged" };
    return this.reloadUntilConfirmed(rendered.configId, written, fallback);
  }

  /**
   * Whether HAProxy already runs this config: its structure (config id) and its servers. The id
   * alone says nothing about servers (with the runtime API off, or after it failed).
   */
  private async runs(rendered: Rendered): Promise<boolean> {
    const runtime = this.ports.runtime;
    if ((await runtime.runningConfigId()) !== rendered.configId) return false;
    try {
      return runtimeDrift(rendered.servers, await runtime.servers()).length === 0;
    } catch {
      return false;
    }
  }

  /** Stages and validates the text: the staged path, or the rejection (nothing staged is left). */
  private async stage(rendered: Rendered): Promise<string | Extract<ApplyOutcome, { kind: "rejected" }>> {
    const staged = await this.ports.config.stage(rendered.text);
    let verdict;
    try {
      verdict = await this.ports.validator.validate(staged);
    } catch (err) {
      await this.ports.config.discard(staged);
      throw new ApplyError(`could not run the config check: ${toError(err).message}`, { cause: err });
    }
    if (verdict.ok) return staged;
    await this.ports.config.discard(staged);
    this.rejected = { sha: rendered.sha256, message: verdict.message };
    return { kind: "rejected", message: verdict.message, repeated: false };
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

  /** Takes back the servers a rejected pass added: the live file does not have them. */
  private async undoAdds(result: RuntimeResult): Promise<void> {
    const ops: RuntimeOp[] = result.added.flatMap((key) => {
      const [backend, server] = key.split("/") as [string, string];
      return [
        { kind: "drain", ref: { backend, server } } as const,
        { kind: "delete", ref: { backend, server } } as const,
      ];
    });
    if (ops.length === 0) return;
    try {
      await runRuntimePlan(this.ports.runtime, ops, new Set());
    } catch (err) {
      this.log.warn(
        { err: toError(err), servers: result.added },
        "could not take back servers added before the config was rejected",
      );
    }
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
