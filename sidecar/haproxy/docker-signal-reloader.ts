import * as os from "node:os";
import type Docker from "dockerode";
import type { Reloader } from "./reloader";

/** Labels that name the stack a container belongs to: a compose project, or a swarm stack. */
const STACK_LABELS = ["com.docker.compose.project", "com.docker.stack.namespace"];

/**
 * Sends SIGUSR2 to the HAProxy master through the Docker API: to the container that carries
 * the selector label, belongs to the same compose project (or swarm stack) as the sidecar
 * itself, and sits on the watched network. Never another stack's.
 */
export class DockerSignalReloader implements Reloader {
  private stack: { key: string; value: string } | null | undefined; // undefined: not known yet

  constructor(
    private readonly docker: Docker,
    private readonly selector: { readonly key: string; readonly value: string },
    private readonly network: string,
    /** Every Docker call answers within this, or fails (to be retried). */
    private readonly callTimeoutMs = 5_000,
    /** The sidecar's own container (its hostname, by Docker's default). */
    private readonly self: string = os.hostname(),
  ) {}

  async reload(): Promise<"sent" | "no-target"> {
    const stack = await this.ownStack();
    const labels = [
      `${this.selector.key}=${this.selector.value}`,
      ...(stack === null ? [] : [`${stack.key}=${stack.value}`]),
    ];
    const found = (
      await this.docker.listContainers({
        filters: { label: labels, status: ["running"] },
        abortSignal: AbortSignal.timeout(this.callTimeoutMs),
      })
    ).filter((c) => c.NetworkSettings?.Networks?.[this.network] !== undefined);
    if (found.length === 0) return "no-target";
    for (const c of found)
      await this.docker
        .getContainer(c.Id)
        .kill({ signal: "SIGUSR2", abortSignal: AbortSignal.timeout(this.callTimeoutMs) });
    return "sent";
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
