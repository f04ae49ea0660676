import { isIP } from "node:net";
import type { BackendSnapshot, ChangeHint } from "../model/types";
import { mapDockerEvent, type DockerEventMessage } from "../docker/map";

/** The fields of `GET /services` items that we read. */
export interface SwarmService {
  readonly ID: string;
  readonly Spec?: {
    readonly Name?: string;
    readonly Labels?: Readonly<Record<string, string>> | null;
    readonly TaskTemplate?: { readonly ContainerSpec?: { readonly Labels?: Readonly<Record<string, string>> | null } };
  };
  readonly UpdateStatus?: { readonly State?: string } | null;
}

/** The fields of `GET /tasks` items that we read. */
export interface SwarmTask {
  readonly ID: string;
  readonly ServiceID?: string;
  readonly Slot?: number;
  readonly NodeID?: string;
  readonly DesiredState?: string;
  readonly Status?: { readonly State?: string; readonly ContainerStatus?: { readonly ContainerID?: string } } | null;
  readonly Spec?: {
    readonly ContainerSpec?: {
      readonly Labels?: Readonly<Record<string, string>> | null;
      readonly Hostname?: string;
    };
  };
  readonly NetworksAttachments?: ReadonlyArray<{
    readonly Network?: { readonly Spec?: { readonly Name?: string } };
    readonly Addresses?: readonly string[] | null;
  }> | null;
}

const STACK_NAMESPACE = "com.docker.stack.namespace";
/** Task states before and while it runs; the others (complete, shutdown, failed…) are history. */
const LIVE_STATES = new Set(["new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"]);
const UPDATING = new Set(["updating", "rollback_started", "paused", "rollback_paused"]);

/** A service's labels: its own (`deploy.labels`), then its containers' (`labels:` in a stack file). */
export function serviceLabels(s: SwarmService): Record<string, string> {
  return { ...(s.Spec?.Labels ?? {}), ...(s.Spec?.TaskTemplate?.ContainerSpec?.Labels ?? {}) };
}

/** Whether a service carries our opt-in label at all (a bad value is reported, not ignored). */
export function isOurs(s: SwarmService, labelPrefix: string): boolean {
  return serviceLabels(s)[`${labelPrefix}.enable`] !== undefined;
}

/**
 * A task → a neutral snapshot, or null for a task that is history (complete, shutdown, failed):
 * its address may already be another task's. Named like its container
 * (`<service>.<slot>.<task id>`); its group is the service's name within its stack (`webapp`
 * for `heig_webapp`), so that backends are named as in compose mode. Not routed before it runs
 * (`starting` is not ready), and leaving as soon as swarm wants it gone (desired state shutdown or
 * remove, seconds before its container is stopped).
 */
export function mapTask(t: SwarmTask, service: SwarmService, network: string): BackendSnapshot | null {
  const state = t.Status?.State ?? "";
  if (!LIVE_STATES.has(state)) return null;
  const serviceName = service.Spec?.Name ?? t.ServiceID ?? "";
  const labels = { ...serviceLabels(service), ...(t.Spec?.ContainerSpec?.Labels ?? {}) };
  const namespace = labels[STACK_NAMESPACE];
  const group =
    namespace !== undefined && serviceName.startsWith(`${namespace}_`)
      ? serviceName.slice(namespace.length + 1)
      : serviceName;
  const attachment = (t.NetworksAttachments ?? []).find((a) => a.Network?.Spec?.Name === network);
  const address = attachment?.Addresses?.[0]?.split("/")[0] ?? null;
  return {
    id: t.ID,
    name: `${serviceName}.${t.Slot ?? t.NodeID ?? "0"}.${t.ID}`,
    group,
    running: state === "running",
    paused: false,
    health: state === "running" ? "none" : "starting",
    // Printed into haproxy.cfg: anything but an IP address is no address.
    address: address !== null && isIP(address) !== 0 ? address : null,
    leaving: t.DesiredState !== "running",
    oneOff: false,
    labels,
    ...agentName(t),
  };
}

/** The task container's hostname, its Serf agent's name: the spec's (unless a template), else Docker's default. */
function agentName(t: SwarmTask): { agentName?: string } {
  const set = t.Spec?.ContainerSpec?.Hostname;
  if (set !== undefined && set !== "" && !set.includes("{{")) return { agentName: set };
  const id = t.Status?.ContainerStatus?.ContainerID;
  return id !== undefined && id !== "" ? { agentName: id.slice(0, 12) } : {};
}

const TASK_ID = "com.docker.swarm.task.id";

/**
 * A container event of a swarm task (on the engine the sidecar asks: the manager's) → a hint
 * about that task (by task id), as Docker's own source reads container events: a terminating
 * kill, a crash (`die`, `oom`) or a stop is leaving; a start is started; a creation says nothing
 * (the task list does). Null for containers that are no task, and for actions that route nothing.
 */
export function taskContainerHint(m: DockerEventMessage, network: string): ChangeHint | null {
  const task = m.Actor?.Attributes?.[TASK_ID];
  if (m.Type !== "container" || task === undefined || task === "") return null;
  const hint = mapDockerEvent(m, network);
  if (hint === null || hint.kind === "created") return null;
  return { ...hint, id: task };
}

/**
 * Whether a service is on the move: an update under way, or tasks not where swarm wants them
 * (starting, or still running while they should stop). Then the task list is polled often.
 */
export function converging(services: readonly SwarmService[], tasks: readonly SwarmTask[]): boolean {
  if (services.some((s) => UPDATING.has(s.UpdateStatus?.State ?? ""))) return true;
  return tasks.some((t) => {
    const state = t.Status?.State ?? "";
    if (!LIVE_STATES.has(state)) return false;
    return state !== "running" || t.DesiredState !== "running";
  });
}

/** What the sidecar remembers of a task between two listings. */
export interface TaskView {
  readonly state: string;
  readonly desired: string;
  readonly address: string | null;
}

export function viewOf(t: SwarmTask, network: string): TaskView {
  const attachment = (t.NetworksAttachments ?? []).find((a) => a.Network?.Spec?.Name === network);
  return { state: t.Status?.State ?? "", desired: t.DesiredState ?? "", address: attachment?.Addresses?.[0] ?? null };
}

/**
 * Pure: two listings → the hints that tell what happened in between. Swarm sends no task events
 * (and a worker's container events never reach the manager): this is how task changes are seen.
 */
export function diffTasks(prev: ReadonlyMap<string, TaskView>, next: ReadonlyMap<string, TaskView>): ChangeHint[] {
  const hints: ChangeHint[] = [];
  for (const [id, n] of next) {
    const p = prev.get(id);
    if (p === undefined) hints.push({ kind: "changed", id, cause: "task-new" });
    else if (p.desired === "running" && n.desired !== "running")
      hints.push({ kind: "leaving", id, cause: "task-shutdown" });
    else if (p.state !== n.state || p.address !== n.address) {
      hints.push(
        n.state === "running" && p.state !== "running"
          ? { kind: "started", id, cause: "task-running" }
          : { kind: "changed", id, cause: `task-${n.state}` },
      );
    }
  }
  for (const id of prev.keys()) if (!next.has(id)) hints.push({ kind: "gone", id, cause: "task-gone" });
  return hints;
}
