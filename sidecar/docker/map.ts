import type { ContainerSnapshot, DockerHealth } from "../model/types";
import type { ContainerEvent } from "../model/drain";

/** The fields of Docker's `GET /containers/json` items that we read. */
export interface DockerContainerSummary {
  readonly Id: string;
  readonly Names?: readonly string[];
  readonly State?: string;
  readonly Status?: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly NetworkSettings?: { readonly Networks?: Readonly<Record<string, { readonly IPAddress?: string }>> | null } | null;
}

/** The fields of a Docker event message that we read. */
export interface DockerEventMessage {
  readonly Type?: string;
  readonly Action?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Readonly<Record<string, string>> };
}

/**
 * The list endpoint has no health field; its Status text carries it ("Up 3 s (healthy)",
 * "(health: starting)", "(unhealthy)"), written by the daemon from State.Health.
 */
function healthFromStatus(status: string): DockerHealth {
  if (status.includes("(health: starting)")) return "starting";
  if (status.includes("(unhealthy)")) return "unhealthy";
  if (status.includes("(healthy)")) return "healthy";
  return "none";
}

/** Docker's PascalCase summary → our snapshot, IP taken from the watched network only. */
export function mapContainerSummary(c: DockerContainerSummary, network: string): ContainerSnapshot {
  const ip = c.NetworkSettings?.Networks?.[network]?.IPAddress;
  const state = c.State ?? "";
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ""),
    running: state === "running" || state === "paused",
    paused: state === "paused",
    health: healthFromStatus(c.Status ?? ""),
    ip: ip !== undefined && ip !== "" ? ip : null,
    labels: { ...(c.Labels ?? {}) },
  };
}

/**
 * Container actions that can change routing. Others (exec_* from `docker exec` and every
 * HEALTHCHECK run, attach, resize, top, copy…) would only cost a pass.
 */
const ROUTING_ACTIONS = new Set(["create", "start", "restart", "stop", "die", "kill", "pause", "unpause", "destroy", "rename", "update", "oom"]);

/**
 * A Docker event → a container event, or null when it does not concern us (other networks,
 * other types, actions that cannot change routing). Network events name the container in
 * their attributes.
 */
export function mapDockerEvent(m: DockerEventMessage, network: string): ContainerEvent | null {
  const action = m.Action ?? "";
  const attrs = m.Actor?.Attributes ?? {};
  if (m.Type === "container") {
    if (!m.Actor?.ID) return null;
    if (!ROUTING_ACTIONS.has(action) && !action.startsWith("health_status")) return null;
    const signal = attrs["signal"];
    const base = { containerId: m.Actor.ID, action, attributes: { ...attrs } };
    return signal !== undefined ? { ...base, signal } : base;
  }
  if (m.Type === "network" && (action === "connect" || action === "disconnect")) {
    if (attrs["name"] !== network || !attrs["container"]) return null;
    return { containerId: attrs["container"], action: `network-${action}` };
  }
  return null;
}
