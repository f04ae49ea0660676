/** Where a container stands, as far as a replica goes: only a `running` one is driven. */
export type ReplicaContainerState = "running" | "paused" | "restarting" | "exited" | "created";

/** One HAProxy replica as discovery finds it: a container of this stack with the role label. */
export interface HaproxyReplica {
  /** 1..N: its replica label (`heig.lb.replica=<k>`); a container without one is replica 1. */
  readonly index: number;
  /** Whether it carries the replica label: its sockets are then `<run dir>/<k>/`, else the flat paths. */
  readonly labelled: boolean;
  readonly containerId: string;
  readonly container: string;
  readonly state: ReplicaContainerState;
}

/** A listing: the replicas by index, and the containers left out with why (one sentence each). */
export interface ReplicaListing {
  /** Sorted by index, one per index. */
  readonly replicas: readonly HaproxyReplica[];
  readonly skipped: readonly string[];
}

/**
 * Where the HAProxy replicas of this stack are, and how one is asked for a soft reload. The
 * Docker implementation lists containers by label and signals one container; tests use fakes.
 */
export interface ReplicaSource {
  /** The replicas of this stack, running or not (a paused or restarting one is still one). */
  list(signal?: AbortSignal): Promise<ReplicaListing>;
  /** SIGUSR2 to one replica's master; `gone` when its container no longer exists. */
  signal(containerId: string): Promise<"sent" | "gone">;
}
