import type { ReplicaContainerState } from "../haproxy/replica-source";

/**
 * How one replica stands against what the sidecar wants:
 * - `in-sync`: it routes exactly the desired state (read back);
 * - `stale`: it is behind, being applied, not running (paused, restarting), not answering, or
 *   just (re)started: it has not been brought to the desired state yet;
 * - `diverged`: the sidecar brought it to the desired state and it now routes something else
 *   (a command typed by hand on its socket): repaired at once.
 */
export type ReplicaState = "in-sync" | "stale" | "diverged";

/** One replica as /status, /metrics and the status page show it. */
export interface ReplicaView {
  /** Its number, as a string: `1`, `2`... (the metrics' `replica` label). */
  readonly replica: string;
  readonly container: string;
  readonly containerId: string;
  readonly state: ReplicaState;
  /** Why it is not in sync (a container state, an error, what differs); null when it is. */
  readonly reason: string | null;
  /** The config id and the routes digest it read back last; null before it answered. */
  readonly configId: string | null;
  readonly digest: string | null;
  /** Epoch ms it last read back in sync; null: never. */
  readonly confirmedAt: number | null;
}

/** What is known of a replica at one moment, to tell its state. */
export interface ReplicaFacts {
  readonly container: ReplicaContainerState;
  /** The digest of what the sidecar wants; null while nothing was applied yet. */
  readonly desired: string | null;
  /** What it read back (digest and serving worker); null when it did not answer. */
  readonly read: { readonly digest: string; readonly worker: number | null } | null;
  /** What the sidecar last brought it to (the digest it applied, the worker then); null: nothing yet. */
  readonly applied: { readonly digest: string; readonly worker: number | null } | null;
  /** What differs from the desired state, in words (routesDrift). */
  readonly drift: readonly string[];
  /** The last apply's error to it, if that failed. */
  readonly failure: string | null;
}

/**
 * Pure: a replica's state and the reason, from what is known of it. A replica that reads back
 * otherwise than the sidecar left it is `diverged` only while it still runs the worker the
 * sidecar confirmed: a new worker that nobody reloaded for it is a restart (`stale`).
 */
export function decideReplicaState(f: ReplicaFacts): { state: ReplicaState; reason: string | null } {
  const stale = (reason: string): { state: ReplicaState; reason: string } => ({ state: "stale", reason });
  if (f.container !== "running") return stale(f.container);
  if (f.desired === null) return stale("no config applied yet");
  if (f.read === null) return stale(f.failure ?? "does not answer");
  if (f.read.digest === f.desired) return { state: "in-sync", reason: null };
  const what = f.drift.join("; ") || "routes differ";
  if (f.applied?.digest !== f.desired) return stale(f.failure ?? `behind: ${what}`);
  const worker = f.applied.worker;
  if (worker !== null && f.read.worker !== null && worker !== f.read.worker) return stale(`restarted: ${what}`);
  return { state: "diverged", reason: what };
}

/**
 * A replica that is stale only because the sidecar is bringing it there (an apply under way, or
 * one that has not reached it yet): its own progress, not a replica falling behind.
 */
export function inProgress(v: Pick<ReplicaView, "state" | "reason">): boolean {
  if (v.state !== "stale" || v.reason === null) return false;
  return v.reason === "being applied" || v.reason === "no config applied yet" || v.reason.startsWith("behind");
}
