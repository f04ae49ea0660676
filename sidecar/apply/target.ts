import type { RunningServer } from "../haproxy/parse";
import type { RunningInfo } from "../haproxy/runtime-client";
import type { ServerRef } from "../model/types";
import type { Rendered } from "../render/render";
import type { ServerLine } from "../render/server-lines";
import type { RuntimeResult } from "./runtime-apply";

/**
 * What the fast paths did ahead of the passes, by `backend/server`: servers drained early (a
 * kill: leaving, the pass that drops them follows) and servers held until they listen and made
 * ready early (they listen: the pass that routes them follows), none of them drained since.
 */
export interface EarlyChanges {
  readonly drained: ReadonlySet<string>;
  readonly readied: ReadonlySet<string>;
}

/** What a replica runs, read back (`show info`, `show servers state`). */
export interface ReadBack extends RunningInfo {
  /** Its servers, by `backend/server`. */
  readonly servers: ReadonlyMap<string, RunningServer>;
}

/** A runtime apply, done and read back as wanted. */
export interface RuntimeApplied {
  readonly result: RuntimeResult;
  /** Whether any command was needed. */
  readonly changed: boolean;
  /** The servers as read back after it. */
  readonly servers: ReadonlyMap<string, RunningServer>;
}

/**
 * One HAProxy replica as the applier drives it (the target port): its runtime API, its master
 * CLI and its reload. The config file every replica loads is not its business: the applier
 * writes it once for all of them.
 */
export interface HaproxyTarget {
  /**
   * Starts reading which config it runs and (`servers`) its servers now, ahead of an apply: a
   * pass asks for it as it starts, so that the read goes on beside its listing and render. The
   * next info() and servers() take that read, unless anything was written to the replica since
   * it was asked for (or it is too old): then they read again. Optional: a target that reads
   * when asked.
   */
  readAhead?(servers: boolean): void;
  /** Which config it runs; null when it does not answer. */
  info(): Promise<RunningInfo | null>;
  /** What it routes; null when it does not answer. */
  readBack(): Promise<ReadBack | null>;
  /** Its servers (`show servers state`), by `backend/server`; throws when it does not answer. */
  servers(): Promise<ReadonlyMap<string, RunningServer>>;
  /**
   * Takes its servers to `rendered`'s through the runtime API (its structure must be the
   * render's) and reads them back; throws when a command is refused or they read back otherwise
   * (but for what the fast paths did meanwhile, `early`: its pass follows). A held server made
   * ready early is applied ready. `read`: its servers as just read back, if they were (else it
   * reads them first).
   */
  applyAtRuntime(
    rendered: Rendered,
    early?: () => EarlyChanges,
    read?: ReadonlyMap<string, RunningServer>,
  ): Promise<RuntimeApplied>;
  /**
   * Signals a reload until its serving worker reports `configId`: the signals it took, or
   * `gone` when its container no longer exists. Throws ApplyError when it never confirms.
   */
  reload(configId: string): Promise<number | "gone">;
  /** Sets servers to maintenance in every worker it runs, old ones included. */
  drain(servers: readonly ServerRef[]): Promise<void>;
  /** Takes held servers (in maintenance until they listen) out of maintenance in its serving worker. */
  ready(servers: readonly ServerLine[]): Promise<void>;
  /** `show servers state`: what its next worker loads. */
  serverStateDump(): Promise<string>;
  /** Server statuses (`backend/server` -> UP, DOWN, MAINT...); null when it does not answer. */
  serverStatuses(): Promise<Map<string, string> | null>;
  /**
   * Servers it added with a slow start (ramping until), and leavers draining (deleted at the
   * latest at), by `backend/server`, in epoch ms. Optional: a target that keeps no such record.
   */
  transitions?(): { ramping: ReadonlyMap<string, number>; draining: ReadonlyMap<string, number> };
}

/** What applying a render did to one replica. */
export type ReplicaOutcome =
  /** It already ran it (its servers read back as wanted). */
  | { readonly kind: "unchanged" }
  /** Its servers were changed through the runtime API and read back as wanted; no reload. */
  | { readonly kind: "runtime"; readonly result: RuntimeResult }
  /** Signalled (`signals` times) until it reported the new config id. */
  | { readonly kind: "reloaded"; readonly signals: number; readonly fallback: string | null }
  /** Not running (paused, restarting, stopped, gone): left as it is, stale. */
  | { readonly kind: "skipped"; readonly reason: string }
  /** Refused, unreachable or unconfirmed: stale until a pass or the agreement check brings it. */
  | { readonly kind: "failed"; readonly error: Error };
