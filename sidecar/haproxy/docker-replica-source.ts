import * as os from "node:os";
import type Docker from "dockerode";
import { parseContainerSummary } from "../docker/map";
import { deadline } from "../docker/event-stream";
import { toError } from "../lib/errors";
import type { ReplicaContainerState, ReplicaListing, ReplicaSource } from "./replica-source";
import { pickReplicas, type ReplicaCandidate } from "./replicas";

/** Labels that name the stack a container belongs to: a compose project, or a swarm stack. */
const STACK_LABELS = ["com.docker.compose.project", "com.docker.stack.namespace"];
/** Listed with a status filter (Docker then lists stopped containers too): a paused or restarting replica is one. */
const STATES: readonly ReplicaContainerState[] = ["running", "paused", "restarting", "exited", "created"];

/**
 * The HAProxy replicas through the Docker API: the containers that carry the role label
 * (`heig.lb.role=haproxy`), belong to the same compose project (or swarm stack) as the sidecar
 * itself and sit on the watched network, never another stack's; each one's replica number from
 * `replicaLabel`. A reload is SIGUSR2 to one replica's container.
 */
export class DockerReplicaSource implements ReplicaSource {
  private stack: { key: string; value: string } | null | undefined; // undefined: not known yet

  constructor(
    private readonly docker: Docker,
    private readonly selector: { readonly key: string; readonly value: string },
    /** The replica label's key (`heig.lb.replica`). */
    private readonly replicaLabel: string,
    private readonly network: string,
    /** Every Docker call answers within this, or fails (to be retried). */
    private readonly callTimeoutMs = 5_000,
    /** The sidecar's own container (its hostname, by Docker's default). */
    private readonly self: string = os.hostname(),
  ) {}

  async list(signal?: AbortSignal): Promise<ReplicaListing> {
    const stack = await this.ownStack();
    const labels = [
      `${this.selector.key}=${this.selector.value}`,
      ...(stack === null ? [] : [`${stack.key}=${stack.value}`]),
    ];
    const abortSignal = deadline(this.callTimeoutMs, "docker: list haproxy replicas", signal);
    const items = (await this.docker
      .listContainers({ filters: { label: labels, status: [...STATES] }, abortSignal })
      .catch((err: unknown) => {
        throw abortSignal.aborted && abortSignal.reason instanceof Error ? abortSignal.reason : toError(err);
      })) as unknown;
    if (!Array.isArray(items)) throw new Error("docker: the haproxy listing is not a list");
    const candidates: ReplicaCandidate[] = [];
    const skipped: string[] = [];
    for (const item of items as unknown[]) {
      const c = parseContainerSummary(item);
      if (typeof c === "string") {
        skipped.push(c);
        continue;
      }
      if (c.NetworkSettings?.Networks?.[this.network] === undefined) continue;
      const state = STATES.find((s) => s === c.State);
      if (state === undefined) continue;
      candidates.push({
        containerId: c.Id,
        container: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\/+/, ""),
        state,
        labels: c.Labels ?? {},
      });
    }
    const picked = pickReplicas(candidates, this.replicaLabel);
    return { replicas: picked.replicas, skipped: [...skipped, ...picked.skipped] };
  }

  async signal(containerId: string): Promise<"sent" | "gone"> {
    try {
      await this.docker
        .getContainer(containerId)
        .kill({ signal: "SIGUSR2", abortSignal: AbortSignal.timeout(this.callTimeoutMs) });
      return "sent";
    } catch (err) {
      // Removed since it was listed (a replica scaled away): not a failure of the others.
      if ((err as { statusCode?: number }).statusCode === 404) return "gone";
      throw err;
    }
  }

  /** The stack the sidecar runs in; null when it runs in none (then the label and network decide). */
  private async ownStack(): Promise<{ key: string; value: string } | null> {
    if (this.stack !== undefined) return this.stack;
    let labels: Record<string, string>;
    try {
      labels =
        (await this.docker.getContainer(this.self).inspect({ abortSignal: AbortSignal.timeout(this.callTimeoutMs) }))
          .Config.Labels ?? {};
    } catch (err) {
      // Not a container (or not found): no stack to match. A Docker that is down is retried.
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      labels = {};
    }
    const key = STACK_LABELS.find((k) => labels[k] !== undefined);
    this.stack = key === undefined ? null : { key, value: labels[key]! };
    return this.stack;
  }
}
