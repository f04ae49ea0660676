import type { BackendHealth, BackendSnapshot, ChangeHint } from "../model/types";

/** The fields of Docker's `GET /containers/json` items that we read. */
export interface DockerContainerSummary {
  readonly Id: string;
  readonly Names?: readonly string[];
  readonly State?: string;
  readonly Status?: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly NetworkSettings?: {
    readonly Networks?: Readonly<Record<string, { readonly IPAddress?: string }>> | null;
  } | null;
}

/** The fields of a Docker event message that we read. */
export interface DockerEventMessage {
  readonly Type?: string;
  readonly Action?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Readonly<Record<string, string>> };
}

/** Compose's labels: the service a container belongs to, and whether it is a `run` one-off. */
export const COMPOSE_SERVICE = "com.docker.compose.service";
export const COMPOSE_ONEOFF = "com.docker.compose.oneoff";

/**
 * The list endpoint has no health field; its Status text carries it ("Up 3 s (healthy)",
 * "(health: starting)", "(unhealthy)"), written by the daemon from State.Health.
 */
function healthFromStatus(status: string): BackendHealth {
  if (status.includes("(health: starting)")) return "starting";
  if (status.includes("(unhealthy)")) return "unhealthy";
  if (status.includes("(healthy)")) return "healthy";
  return "none";
}

/** Docker's PascalCase summary → a neutral snapshot, address taken from the watched network only. */
export function mapContainerSummary(c: DockerContainerSummary, network: string): BackendSnapshot {
  const ip = c.NetworkSettings?.Networks?.[network]?.IPAddress;
  const state = c.State ?? "";
  const labels = { ...(c.Labels ?? {}) };
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ""),
    group: labels[COMPOSE_SERVICE] ?? null,
    running: state === "running" || state === "paused",
    paused: state === "paused",
    health: healthFromStatus(c.Status ?? ""),
    address: ip !== undefined && ip !== "" ? ip : null,
    // A container's stop is announced by events (kill), not by the listing.
    leaving: false,
    oneOff: labels[COMPOSE_ONEOFF] === "True",
    labels,
    // Docker's default hostname (the listing does not say when a container sets its own).
    agentName: c.Id.slice(0, 12),
  };
}

// Signals that end a container. `docker stop` sends the image's stop signal (TERM by default),
// then KILL; compose and `docker kill` default to KILL.
const TERMINATING = new Set([
  "15",
  "9",
  "2",
  "3",
  "SIGTERM",
  "SIGKILL",
  "SIGINT",
  "SIGQUIT",
  "TERM",
  "KILL",
  "INT",
  "QUIT",
]);

/**
 * Container actions that can change routing. Others (exec_* from `docker exec` and every
 * HEALTHCHECK run, attach, resize, top, copy…) would only cost a pass.
 */
const ROUTING_ACTIONS: ReadonlySet<string> = new Set([
  "create",
  "start",
  "restart",
  "stop",
  "die",
  "kill",
  "pause",
  "unpause",
  "destroy",
  "rename",
  "update",
  "oom",
]);

/**
 * Whether a container event's action can change routing (`health_status: healthy` included).
 * The Docker API proxy drops the others from the event stream, so both read this one list.
 */
export function routesOn(action: string): boolean {
  return ROUTING_ACTIONS.has(action) || action.startsWith("health_status");
}

/**
 * A Docker event → a change hint, or null when it does not concern us (other networks, other
 * types, actions that cannot change routing). Docker emits `kill` (with the signal) before
 * `die` and `stop`: a terminating kill is the earliest sign that a container is leaving.
 * Network events name the container in their attributes.
 */
export function mapDockerEvent(m: DockerEventMessage, network: string): ChangeHint | null {
  const action = m.Action ?? "";
  const attrs = m.Actor?.Attributes ?? {};
  if (m.Type === "container") {
    const id = m.Actor?.ID;
    if (!id) return null;
    if (!routesOn(action)) return null;
    const cause = action.split(":")[0]!;
    switch (action) {
      case "kill": {
        const signal = attrs["signal"];
        const terminating = signal === undefined || TERMINATING.has(signal.toUpperCase());
        return { kind: terminating ? "leaving" : "changed", id, cause };
      }
      // A crash (SIGKILL from outside, OOM) comes as `die` alone: gone now, routing must stop.
      case "stop":
      case "die":
      case "oom":
        return { kind: "leaving", id, cause };
      case "start":
      case "restart":
        return { kind: "started", id, cause };
      case "destroy":
        return { kind: "gone", id, cause };
      case "create":
        return { kind: "created", id, cause, labels: { ...attrs }, group: attrs[COMPOSE_SERVICE] ?? null };
      default:
        return { kind: "changed", id, cause };
    }
  }
  if (m.Type === "network" && (action === "connect" || action === "disconnect")) {
    const container = attrs["container"];
    if (attrs["name"] !== network || !container) return null;
    return { kind: "changed", id: container, cause: `network-${action}` };
  }
  return null;
}
