/** Health as the source reports it; `none` when the backend has no health check of its own. */
export type BackendHealth = "none" | "starting" | "healthy" | "unhealthy";

/**
 * One candidate backend as a source sees it (a container, a task), in neutral terms: the model
 * knows no Docker, Compose or Swarm vocabulary. Mapped at the adapter boundary.
 */
export interface BackendSnapshot {
  /** Stable id (container id, task id). */
  readonly id: string;
  /** Human name, used for the HAProxy server name (`compose_webapp_3`, `heig_webapp.3.<task>`). */
  readonly name: string;
  /** The group it was deployed in (compose service, swarm service): the default backend name. */
  readonly group: string | null;
  readonly running: boolean;
  readonly paused: boolean;
  readonly health: BackendHealth;
  /** Address on the watched network, or null when not attached to it. */
  readonly address: string | null;
  /** The source already knows it is going away (Swarm: desired state shutdown). */
  readonly leaving: boolean;
  /** A one-off run (`docker-compose run`) that inherited the labels: never routed. */
  readonly oneOff: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The name its own agents (Serf) are known by, when the source knows it: the container's
   * hostname. Tells its member from a dead one that had the same address before.
   */
  readonly agentName?: string;
}

/**
 * What a source's change notification says about one backend. Hints only trigger passes and
 * fold into short-lived state (leaving, pending starts); the listing stays the truth.
 */
export type ChangeHint =
  /** It is shutting down but may still be listed as running: route nothing new to it. */
  | { readonly kind: "leaving"; readonly id: string; readonly cause: string }
  /** It started (again): whatever was said about its leaving is over. */
  | { readonly kind: "started"; readonly id: string; readonly cause: string }
  /** It was created, not started yet, with these labels: a burst may be under way. */
  | {
      readonly kind: "created";
      readonly id: string;
      readonly cause: string;
      readonly labels: Readonly<Record<string, string>>;
      /** Its group (compose service), as in {@link BackendSnapshot.group}. */
      readonly group: string | null;
    }
  /** It is gone for good. */
  | { readonly kind: "gone"; readonly id: string; readonly cause: string }
  /** Something that may change routing (health, network, pause…): look again. */
  | { readonly kind: "changed"; readonly id: string; readonly cause: string };

/** One HAProxy server line. */
export interface Backend {
  /** HAProxy server name: the sanitized backend name. */
  readonly name: string;
  /** Id of the snapshot it comes from. */
  readonly sourceId: string;
  readonly address: string;
  readonly port: number;
  /** HAProxy weight 0–256, or null for HAProxy's default. */
  readonly weight: number | null;
  /** `heig.lb.slowstart`: traffic ramps up over this long once it is up; absent: no slow start. */
  readonly slowstartMs?: number;
  /** `heig.lb.drain`: how long it keeps its open connections once it leaves; absent: the default. */
  readonly drainMs?: number;
  /** An operator put it in maintenance (`sidecar maint`): its line stays, `disabled`; absent: routed. */
  readonly maint?: true;
  /**
   * Held: it does not listen yet, and is being watched for the moment it does. Its line is in
   * the config ahead of time, in maintenance (`disabled`), so that the moment it listens is one
   * runtime command to every replica, not a pass. Only in {@link DesiredState.held}.
   */
  readonly held?: true;
}

/** One HAProxy backend: a group of servers sharing the `backend` label. */
export interface Service {
  readonly name: string;
  /** Cookie stickiness: set when any of its members asks for it (`sticky=true`). */
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
  /** What routes. */
  readonly services: readonly Service[];
  /**
   * Servers held until they listen (see {@link Backend.held}), by the backend they will join:
   * rendered, in maintenance, beside the routed ones; routed by nothing. Sorted like `services`.
   */
  readonly held?: readonly Service[];
}

/** Why a backend is not (or no longer) in rotation. */
export type ExclusionReason =
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
  | "serf-missing"
  /** Its backend name is one the template uses for a proxy of its own (`stats`, `http`…). */
  | "reserved-name"
  /** HAProxy rejects the config with its server line in it (found when a render was rejected). */
  | "config-rejected";

export interface Exclusion {
  readonly sourceId: string;
  readonly name: string;
  readonly reason: ExclusionReason;
  /** Human detail, e.g. which label was wrong. */
  readonly detail?: string;
  /** The offending label key, for bad-label. */
  readonly label?: string;
}

/** A Serf cluster member, as the agent reports it. */
export interface SerfMember {
  readonly name: string;
  /** The member's gossip address: the backend's address on the watched network. */
  readonly address: string;
  /** alive, leaving, left, failed. */
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Serf's opinion of one backend. `unknown`: Serf could not be asked. */
export type SerfLiveness = "alive" | "failed" | "missing" | "unknown";
