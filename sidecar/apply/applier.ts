import type { Logger } from "pino";
import type { Reloader } from "../haproxy/reloader";
import type { RuntimeClient } from "../haproxy/runtime-client";
import { toError } from "../lib/errors";
import type { ServerRef } from "../model/types";
import type { Rendered } from "../render/render";
import { sha256Hex } from "../render/render";
import type { ConfigStore } from "./config-file";
import type { Validator } from "./haproxy-check";

/** What one apply did. */
export type ApplyOutcome =
  /** HAProxy already serves this exact config. */
  | { readonly kind: "unchanged" }
  /** Written (if needed), signalled, and HAProxy confirmed it loaded it. */
  | { readonly kind: "reloaded"; readonly written: boolean; readonly signals: number }
  /** Written; no HAProxy container runs, it will read the file when it starts. */
  | { readonly kind: "no-haproxy"; readonly written: boolean }
  /** `haproxy -c` refused it: the live file and HAProxy were left untouched. */
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
  /** Poll period while waiting for HAProxy to report the new config. */
  readonly pollMs?: number;
  /** Signals sent per apply before giving up until the next retry. */
  readonly maxSignals?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Applies a render in the order that loses nothing: unchanged bytes are never rewritten; a new
 * text is staged beside the live file, validated, then renamed over it; HAProxy is signalled and
 * is only done once it reports the new config id. A rejected text is not tried again.
 */
export class Applier {
  private liveSha: string | null | undefined; // undefined: not read yet
  private rejected: { sha: string; message: string } | null = null;

  constructor(
    private readonly ports: ApplierPorts,
    private readonly log: Logger,
    private readonly opts: ApplierOptions,
  ) {}

  /**
   * @param leaving servers the new config drops: set to maintenance in every running HAProxy
   *   worker once the new config is known to be valid, before the reload.
   */
  async apply(rendered: Rendered, leaving: readonly ServerRef[] = []): Promise<ApplyOutcome> {
    if (this.rejected?.sha === rendered.sha256) {
      return { kind: "rejected", message: this.rejected.message, repeated: true };
    }
    if (this.liveSha === undefined) {
      // Seeded from disk so that a restarted sidecar does not rewrite or reload for nothing.
      const current = await this.ports.config.read();
      this.liveSha = current === null ? null : sha256Hex(current);
    }

    let written = false;
    if (this.liveSha !== rendered.sha256) {
      const staged = await this.ports.config.stage(rendered.text);
      let verdict;
      try {
        verdict = await this.ports.validator.validate(staged);
      } catch (err) {
        await this.ports.config.discard(staged);
        throw new ApplyError(`could not run the config check: ${toError(err).message}`, { cause: err });
      }
      if (!verdict.ok) {
        await this.ports.config.discard(staged);
        this.rejected = { sha: rendered.sha256, message: verdict.message };
        return { kind: "rejected", message: verdict.message, repeated: false };
      }
      if (leaving.length > 0) await this.drain(leaving);
      await this.saveServerState();
      await this.ports.config.commit(staged);
      this.liveSha = rendered.sha256;
      written = true;
    }
    this.rejected = null;

    if ((await this.ports.runtime.runningConfigId()) === rendered.configId) {
      return written ? { kind: "reloaded", written, signals: 0 } : { kind: "unchanged" };
    }
    return this.reloadUntilConfirmed(rendered.configId, written);
  }

  private async reloadUntilConfirmed(configId: string, written: boolean): Promise<ApplyOutcome> {
    const sleep = this.opts.sleep ?? defaultSleep;
    const now = this.opts.now ?? Date.now;
    const pollMs = this.opts.pollMs ?? 50;
    const maxSignals = this.opts.maxSignals ?? 3;
    for (let signals = 1; signals <= maxSignals; signals++) {
      const sent = await this.ports.reloader.reload().catch((err: unknown) => {
        throw new ApplyError(`could not signal haproxy: ${toError(err).message}`, { cause: err });
      });
      if (sent === "no-target") return { kind: "no-haproxy", written };
      // HAProxy ignores a SIGUSR2 that arrives too soon after the previous reload: wait for
      // the worker to report the new id, and signal again if it does not.
      const deadline = now() + this.opts.reloadConfirmMs;
      while (now() < deadline) {
        await sleep(pollMs);
        if ((await this.ports.runtime.runningConfigId()) === configId) return { kind: "reloaded", written, signals };
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

  private async saveServerState(): Promise<void> {
    try {
      const dump = await this.ports.runtime.serverStateDump();
      await this.ports.serverState.commit(await this.ports.serverState.stage(dump));
    } catch (err) {
      // Without a saved state the new worker starts its servers fresh: worth a warning, not a stop.
      this.log.warn({ err: toError(err) }, "server state not saved before reload");
    }
  }
}
