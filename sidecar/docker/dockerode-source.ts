import type Docker from "dockerode";
import type { Logger } from "pino";
import { toError } from "../lib/errors";
import type { BackendSnapshot } from "../model/types";
import type { BackendSource, SourceSignal } from "../source/backend-source";
import { deadline, followDockerEvents, type EventStreamOptions } from "./event-stream";
import { mapContainerSummary, mapDockerEvent, parseContainerSummary, type DockerContainerSummary } from "./map";

/** Containers on one Docker host, through dockerode. */
export class DockerodeSource implements BackendSource {
  constructor(
    private readonly docker: Docker,
    private readonly network: string,
    private readonly labelPrefix: string,
    private readonly log: Logger,
    private readonly opts: EventStreamOptions = { callTimeoutMs: 5_000, livenessMs: 10_000 },
  ) {}

  readonly listById = true;

  async list(signal?: AbortSignal, ids?: readonly string[]): Promise<BackendSnapshot[]> {
    // Filter on the key only: a container with a malformed enable value must still be seen,
    // so that it can be reported instead of silently ignored. Only the watched network's: the
    // labelled containers of other stacks on the same host are none of this sidecar's business.
    const abortSignal = deadline(this.opts.callTimeoutMs, "docker: list containers", signal);
    const items = (await this.docker
      .listContainers({
        all: false,
        filters: {
          label: [`${this.labelPrefix}.enable`],
          network: [this.network],
          ...(ids === undefined ? {} : { id: [...ids] }),
        },
        abortSignal,
      })
      .catch((err: unknown) => {
        throw abortSignal.aborted && abortSignal.reason instanceof Error ? abortSignal.reason : toError(err);
      })) as unknown;
    // Not a list at all: the pass fails (and is retried), the last good config stays.
    if (!Array.isArray(items)) throw new Error("docker: the container listing is not a list");
    const summaries: DockerContainerSummary[] = [];
    const problems: string[] = [];
    for (const item of items as unknown[]) {
      const c = parseContainerSummary(item);
      if (typeof c === "string") problems.push(c);
      else summaries.push(c);
    }
    // One bad item is skipped and said; it never fails the listing of the others.
    if (problems.length > 0)
      this.log.warn({ skipped: problems.length, problems: problems.slice(0, 3) }, "docker listing entries skipped");
    return summaries.map((c) => mapContainerSummary(c, this.network));
  }

  watch(listener: (s: SourceSignal) => void, signal: AbortSignal): void {
    followDockerEvents(
      this.docker,
      { type: ["container", "network"] },
      (msg) => {
        const hint = mapDockerEvent(msg, this.network);
        if (hint !== null) listener({ kind: "hint", hint });
      },
      listener,
      signal,
      this.opts,
      this.log,
    );
  }
}
