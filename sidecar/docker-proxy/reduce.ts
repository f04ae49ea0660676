/**
 * Pure: Docker's answers → only what the sidecar reads. Each reducer builds its output field by
 * field from the types the sidecar maps (`DockerContainerSummary`, `DockerEventMessage`,
 * `SwarmService`, `SwarmTask`), copying strings and numbers only, so nothing else can ride along:
 * no Env, Cmd, Mounts, HostConfig, foreign labels, exec command lines. A value of the wrong type
 * is left out, an item without an id is dropped; a listing that is no JSON array is an error.
 */
import {
  COMPOSE_ONEOFF,
  COMPOSE_SERVICE,
  routesOn,
  type DockerContainerSummary,
  type DockerEventMessage,
} from "../docker/map";
import { isOurs, type SwarmService, type SwarmTask } from "../swarm/map";
import { mayReload, type PolicyOptions, type Selector } from "./policy";

export interface ReduceOptions extends PolicyOptions {
  /** The proxy's own compose project or swarm stack: inspect answers for its containers only. */
  readonly stack: Selector | null;
}

/** Docker answered something the reducers cannot read: the proxy answers 502. */
export class UpstreamShapeError extends Error {
  override readonly name = "UpstreamShapeError";
}

/** Labels naming a container's stack, which the sidecar (and the proxy, for kills) match on. */
export const STACK_LABELS = ["com.docker.compose.project", "com.docker.stack.namespace"] as const;
/** A swarm task's container says which task it is: how the sidecar maps its events. */
const TASK_ID = "com.docker.swarm.task.id";
const OTHER_LABELS_READ: ReadonlySet<string> = new Set([...STACK_LABELS, COMPOSE_SERVICE, COMPOSE_ONEOFF]);
/** Service and node events: every one of these is a hint to look at the tasks. */
const SWARM_ACTIONS: ReadonlySet<string> = new Set(["create", "update", "remove"]);

type Json = Readonly<Record<string, unknown>>;
const record = (v: unknown): Json | null =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : null;
const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const count = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const texts = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
/** A label map with its string values only. */
const stringMap = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(record(v) ?? {}).filter((e): e is [string, string] => typeof e[1] === "string"));
const pick = (from: Readonly<Record<string, string>>, keys: readonly string[]): Record<string, string> =>
  Object.fromEntries(keys.flatMap((k) => (Object.hasOwn(from, k) ? [[k, from[k]!]] : [])));

/** The labels the sidecar reads: its prefix's, the HAProxy selector's key, compose's and the stack's. */
export function keptLabels(labels: unknown, opts: PolicyOptions): Record<string, string> {
  return Object.fromEntries(
    Object.entries(stringMap(labels)).filter(
      ([k]) => k.startsWith(`${opts.labelPrefix}.`) || k === opts.reloadSelector.key || OTHER_LABELS_READ.has(k),
    ),
  );
}

function list(body: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(body)) throw new UpstreamShapeError(`${what} is not a JSON array`);
  return body;
}

/** `GET /containers/json` → id, names, state, status, our labels, the address on each network. */
export function reduceContainerList(body: unknown, opts: PolicyOptions): DockerContainerSummary[] {
  return list(body, "container list").flatMap((item) => {
    const c = record(item);
    const id = text(c?.Id);
    if (c === null || id === undefined) return [];
    const networks = record(record(c.NetworkSettings)?.Networks);
    return [
      {
        Id: id,
        Names: texts(c.Names),
        State: text(c.State),
        Status: text(c.Status),
        Labels: keptLabels(c.Labels, opts),
        NetworkSettings: {
          Networks:
            networks === null
              ? null
              : Object.fromEntries(
                  Object.entries(networks).map(([name, n]) => [name, { IPAddress: text(record(n)?.IPAddress) }]),
                ),
        },
      },
    ];
  });
}

/** What an inspect answers through the proxy: the reloader reads the stack labels of its own container. */
export interface ContainerInspectView {
  readonly Id: string;
  readonly Name?: string;
  readonly Config: { readonly Labels: Readonly<Record<string, string>> };
}

/**
 * `GET /containers/{id}/json` → id, name and the labels the sidecar reads; null for a container
 * of another stack than the proxy's (answered as not found) when the proxy knows its own.
 */
export function reduceContainerInspect(body: unknown, opts: ReduceOptions): ContainerInspectView | null {
  const c = record(body);
  const id = text(c?.Id);
  if (c === null || id === undefined) throw new UpstreamShapeError("container inspect has no Id");
  const labels = stringMap(record(c.Config)?.Labels);
  if (opts.stack !== null && labels[opts.stack.key] !== opts.stack.value) return null;
  return { Id: id, Name: text(c.Name), Config: { Labels: keptLabels(labels, opts) } };
}

/** An event as relayed: what the sidecar reads, and when it happened. */
export type ReducedEvent = DockerEventMessage & { readonly time?: number; readonly timeNano?: number };

/**
 * One event of the stream → type, action, actor id and the attributes the sidecar reads, or null
 * when the sidecar would ignore it: container events of containers that are neither backends
 * (`<prefix>.enable`), this stack's HAProxy nor swarm tasks, or whose action routes nothing
 * (`exec_*` and their command lines, attach, resize…); network events other than connect and
 * disconnect; other types.
 */
export function reduceEvent(raw: unknown, opts: PolicyOptions): ReducedEvent | null {
  const e = record(raw);
  const type = text(e?.Type);
  const action = text(e?.Action);
  const actor = record(e?.Actor);
  const id = text(actor?.ID);
  if (e === null || type === undefined || action === undefined || id === undefined || id === "") return null;
  const attributes = stringMap(actor?.Attributes);
  let kept: Record<string, string>;
  switch (type) {
    case "container": {
      const concerned =
        attributes[`${opts.labelPrefix}.enable`] !== undefined ||
        attributes[opts.reloadSelector.key] === opts.reloadSelector.value ||
        attributes[TASK_ID] !== undefined;
      if (!routesOn(action) || !concerned) return null;
      kept = { ...pick(attributes, ["name", "signal", TASK_ID]), ...keptLabels(attributes, opts) };
      break;
    }
    case "network":
      if (action !== "connect" && action !== "disconnect") return null;
      kept = pick(attributes, ["name", "container"]);
      break;
    case "service":
    case "node":
      if (!SWARM_ACTIONS.has(action)) return null;
      kept = pick(attributes, ["name"]);
      break;
    default:
      return null;
  }
  return {
    Type: type,
    Action: action,
    Actor: { ID: id, Attributes: kept },
    time: count(e.time),
    timeNano: count(e.timeNano),
  };
}

/**
 * `GET /services` → ours only (the opt-in label on the service or its containers, as the sidecar
 * decides), each with its name, our labels and its update state; no image, env, mounts or secrets.
 */
export function reduceServices(body: unknown, opts: PolicyOptions): SwarmService[] {
  return list(body, "service list").flatMap((item) => {
    const s = record(item);
    const id = text(s?.ID);
    if (s === null || id === undefined) return [];
    const spec = record(s.Spec);
    const labels = stringMap(spec?.Labels);
    const containerLabels = stringMap(record(record(spec?.TaskTemplate)?.ContainerSpec)?.Labels);
    const candidate: SwarmService = {
      ID: id,
      Spec: { Labels: labels, TaskTemplate: { ContainerSpec: { Labels: containerLabels } } },
    };
    if (!isOurs(candidate, opts.labelPrefix)) return [];
    const update = record(s.UpdateStatus);
    return [
      {
        ID: id,
        Spec: {
          Name: text(spec?.Name),
          Labels: keptLabels(labels, opts),
          TaskTemplate: { ContainerSpec: { Labels: keptLabels(containerLabels, opts) } },
        },
        UpdateStatus: update === null ? null : { State: text(update.State) },
      },
    ];
  });
}

/** `GET /tasks` → state, placement, container id, hostname, our labels, addresses per network. */
export function reduceTasks(body: unknown, opts: PolicyOptions): SwarmTask[] {
  return list(body, "task list").flatMap((item) => {
    const t = record(item);
    const id = text(t?.ID);
    if (t === null || id === undefined) return [];
    const status = record(t.Status);
    const containerStatus = record(status?.ContainerStatus);
    const containerSpec = record(record(t.Spec)?.ContainerSpec);
    return [
      {
        ID: id,
        ServiceID: text(t.ServiceID),
        Slot: count(t.Slot),
        NodeID: text(t.NodeID),
        DesiredState: text(t.DesiredState),
        Status:
          status === null
            ? null
            : {
                State: text(status.State),
                ContainerStatus:
                  containerStatus === null ? undefined : { ContainerID: text(containerStatus.ContainerID) },
              },
        Spec: {
          ContainerSpec: { Labels: keptLabels(containerSpec?.Labels, opts), Hostname: text(containerSpec?.Hostname) },
        },
        NetworksAttachments: Array.isArray(t.NetworksAttachments)
          ? t.NetworksAttachments.map((a: unknown) => ({
              Network: { Spec: { Name: text(record(record(record(a)?.Network)?.Spec)?.Name) } },
              Addresses: texts(record(a)?.Addresses) ?? null,
            }))
          : null,
      },
    ];
  });
}

/** Any answer but a success: its status, and a message of the proxy's own (Docker's may quote anything). */
export function errorBody(status: number, statusText: string | undefined): { readonly message: string } {
  return { message: `docker answered ${status}${statusText === undefined ? "" : ` ${statusText}`}` };
}

/** A container's inspect → the stack it belongs to (its compose project, else its swarm stack), if any. */
export function stackOf(inspect: unknown): Selector | null {
  const labels = stringMap(record(record(inspect)?.Config)?.Labels);
  const key = STACK_LABELS.find((k) => labels[k] !== undefined);
  return key === undefined ? null : { key, value: labels[key]! };
}

/**
 * A kill target's inspect → its full id, to signal exactly the container checked (a name could
 * be taken by another one in between), or why it may not be signalled.
 */
export function reloadTargetOf(
  inspect: unknown,
  selector: Selector,
  stack: Selector | null,
): { readonly id: string } | { readonly reason: string } {
  const id = text(record(inspect)?.Id);
  if (id === undefined || !/^[0-9a-f]{64}$/.test(id)) return { reason: "kill target has no container id" };
  const labels = stringMap(record(record(inspect)?.Config)?.Labels);
  if (!mayReload(labels, selector, stack)) {
    return { reason: `kill target is not this stack's haproxy (${selector.key}=${selector.value})` };
  }
  return { id };
}
