import { isIP } from "node:net";
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

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const kindOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`);

/** Docker's ids: 64 hex digits for containers, 25 characters for swarm tasks; never spaces or quotes. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A string field, absent allowed; what is wrong otherwise. */
function optionalText(o: Fields, key: string, where: string): string | undefined | Error {
  const v = o[key];
  if (v === undefined || typeof v === "string") return v;
  return new Error(`${where}${key} is ${kindOf(v)}, not a string`);
}

/** A map of strings (labels, attributes), absent or null allowed. */
function stringMap(v: unknown, where: string): Record<string, string> | undefined | Error {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return new Error(`${where} is ${kindOf(v)}, not a map`);
  // for…in, not Object.entries: no [key, value] pair for each label of each container listed.
  for (const k in v) {
    const x = v[k];
    if (Object.hasOwn(v, k) && typeof x !== "string") return new Error(`${where}.${k} is ${kindOf(x)}, not a string`);
  }
  return v as Record<string, string>;
}

/**
 * Pure: one line of Docker's event stream, parsed → the fields the mappers read, each of the
 * type they expect (a fresh object of those fields only), or what is wrong with it.
 */
export function parseDockerEvent(v: unknown): DockerEventMessage | string {
  if (!isObject(v)) return `event is ${kindOf(v)}, not an object`;
  const type = optionalText(v, "Type", "");
  const action = optionalText(v, "Action", "");
  if (type instanceof Error) return type.message;
  if (action instanceof Error) return action.message;
  const actor = v["Actor"];
  if (actor === undefined || actor === null) return { Type: type, Action: action };
  if (!isObject(actor)) return `Actor is ${kindOf(actor)}, not an object`;
  const id = optionalText(actor, "ID", "Actor.");
  if (id instanceof Error) return id.message;
  const attributes = stringMap(actor["Attributes"], "Actor.Attributes");
  if (attributes instanceof Error) return attributes.message;
  return { Type: type, Action: action, Actor: { ID: id, Attributes: attributes } };
}

/**
 * Pure: one item of `GET /containers/json` → the fields mapContainerSummary reads, each of the
 * type it expects, or what is wrong with it (that container is skipped; the others are not).
 */
export function parseContainerSummary(v: unknown): DockerContainerSummary | string {
  if (!isObject(v)) return `container is ${kindOf(v)}, not an object`;
  const id = v["Id"];
  if (typeof id !== "string" || !ID_RE.test(id)) return `Id ${JSON.stringify(id)?.slice(0, 80)} is not a container id`;
  const where = `container ${id.slice(0, 12)}: `;
  const names = v["Names"];
  if (names !== undefined && names !== null && (!Array.isArray(names) || !names.every((n) => typeof n === "string")))
    return `${where}Names is not a list of strings`;
  const state = optionalText(v, "State", where);
  const status = optionalText(v, "Status", where);
  if (state instanceof Error) return state.message;
  if (status instanceof Error) return status.message;
  const labels = stringMap(v["Labels"], `${where}Labels`);
  if (labels instanceof Error) return labels.message;
  const settings = v["NetworkSettings"];
  const networks = isObject(settings) ? settings["Networks"] : undefined;
  const checked: Record<string, { IPAddress?: string }> = {};
  if (networks !== undefined && networks !== null) {
    if (!isObject(networks)) return `${where}NetworkSettings.Networks is ${kindOf(networks)}, not a map`;
    for (const [name, n] of Object.entries(networks)) {
      if (!isObject(n)) return `${where}network ${name} is ${kindOf(n)}, not an object`;
      const ip = optionalText(n, "IPAddress", `${where}network ${name}: `);
      if (ip instanceof Error) return ip.message;
      checked[name] = ip === undefined ? {} : { IPAddress: ip };
    }
  }
  return {
    Id: id,
    Names: names ?? undefined,
    State: state,
    Status: status,
    Labels: labels ?? null,
    NetworkSettings: { Networks: checked },
  };
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
    // Printed into haproxy.cfg: anything but an IP address is no address.
    address: ip !== undefined && isIP(ip) !== 0 ? ip : null,
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
