/** Health as Docker reports it; `none` when the image has no HEALTHCHECK. */
export type DockerHealth = "none" | "starting" | "healthy" | "unhealthy";

/** Docker's view of one container, mapped from the Engine API at the adapter boundary. */
export interface ContainerSnapshot {
  readonly id: string;
  /** Container name without Docker's leading slash. */
  readonly name: string;
  readonly running: boolean;
  readonly paused: boolean;
  readonly health: DockerHealth;
  /** Address on the watched network, or null when the container is not attached to it. */
  readonly ip: string | null;
  readonly labels: Readonly<Record<string, string>>;
}

/** One HAProxy server line. */
export interface Backend {
  /** HAProxy server name: the sanitized container name. */
  readonly name: string;
  readonly containerId: string;
  readonly address: string;
  readonly port: number;
  /** HAProxy weight 0–256, or null for HAProxy's default. */
  readonly weight: number | null;
}

/** One HAProxy backend: a group of servers sharing the `backend` label. */
export interface Service {
  readonly name: string;
  /** Cookie stickiness: set when any of its containers asks for it (`sticky=true`). */
  readonly sticky: boolean;
  /** Sorted by name. */
  readonly servers: readonly Backend[];
}

/** A server of a backend, as HAProxy names it (`backend/server`). */
export interface ServerRef {
  readonly backend: string;
  readonly server: string;
}

/** What haproxy.cfg must route to. Services sorted by name. */
export interface DesiredState {
  readonly defaultService: string;
  readonly services: readonly Service[];
}

/** Why a container is not (or no longer) in rotation. */
export type ExclusionReason =
  | "not-opted-in"
  | "bad-label"
  | "not-running"
  | "paused"
  | "not-on-network"
  | "unhealthy"
  | "health-starting"
  | "one-off"
  | "draining"
  | "not-listening"
  | "serf-failed"
  | "serf-missing";

export interface Exclusion {
  readonly containerId: string;
  readonly containerName: string;
  readonly reason: ExclusionReason;
  /** Human detail, e.g. which label was wrong. */
  readonly detail?: string;
  /** The offending label key, for bad-label. */
  readonly label?: string;
}

/** A Serf cluster member, as the agent reports it. */
export interface SerfMember {
  readonly name: string;
  /** The member's gossip address: the container's IP on the watched network. */
  readonly address: string;
  /** alive, leaving, left, failed. */
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Serf's opinion of one backend. `unknown`: Serf could not be asked. */
export type SerfLiveness = "alive" | "failed" | "missing" | "unknown";
