import type Docker from "dockerode";
import type { Logger } from "pino";
import { Backoff } from "../lib/backoff";
import { toError } from "../lib/errors";
import { LineSplitter } from "../lib/json-lines";
import type { BackendSnapshot } from "../model/types";
import type { BackendSource, SourceSignal } from "../source/backend-source";
import { mapContainerSummary, mapDockerEvent, type DockerContainerSummary, type DockerEventMessage } from "./map";

/** Containers on one Docker host, through dockerode. */
export class DockerodeSource implements BackendSource {
  constructor(
    private readonly docker: Docker,
    private readonly network: string,
    private readonly labelPrefix: string,
    private readonly log: Logger,
  ) {}

  async list(signal?: AbortSignal): Promise<BackendSnapshot[]> {
    // Filter on the key only: a container with a malformed enable value must still be seen,
    // so that it can be reported instead of silently ignored. Only the watched network's: the
    // labelled containers of other stacks on the same host are none of this sidecar's business.
    const items = (await this.docker.listContainers({
      all: false,
      filters: { label: [`${this.labelPrefix}.enable`], network: [this.network] },
      ...(signal ? { abortSignal: signal } : {}),
    })) as unknown as DockerContainerSummary[];
    return items.map((c) => mapContainerSummary(c, this.network));
  }

  watch(listener: (s: SourceSignal) => void, signal: AbortSignal): void {
    const backoff = new Backoff(250, 10_000);
    let connected: boolean | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    signal.addEventListener(
      "abort",
      () => {
        if (retryTimer !== null) clearTimeout(retryTimer);
      },
      { once: true },
    );

    const retry = (err: Error): void => {
      if (signal.aborted) return;
      if (connected !== false) {
        connected = false;
        listener({ kind: "disconnected", err });
      }
      const delayMs = backoff.next();
      this.log.debug({ err, delayMs, attempt: backoff.failures }, "event stream reconnect scheduled");
      retryTimer = setTimeout(connect, delayMs);
    };

    const connect = (): void => {
      retryTimer = null;
      if (signal.aborted) return;
      this.docker
        .getEvents({ filters: { type: ["container", "network"] } })
        .then((stream) => {
          backoff.reset();
          connected = true;
          this.follow(stream, listener, signal, retry);
        })
        .catch((err: unknown) => retry(toError(err)));
    };
    connect();
  }

  /** Reads one event stream until it ends; `onEnd` is called once, unless `signal` aborted. */
  private follow(
    readable: NodeJS.ReadableStream & { destroy?: () => void },
    listener: (s: SourceSignal) => void,
    signal: AbortSignal,
    onEnd: (err: Error) => void,
  ): void {
    let ended = false;
    const onAbort = (): void => readable.destroy?.();
    signal.addEventListener("abort", onAbort, { once: true });
    const finish = (err: Error): void => {
      if (ended) return;
      ended = true;
      signal.removeEventListener("abort", onAbort);
      if (!signal.aborted) onEnd(err);
    };
    const lines = new LineSplitter(
      (line) => {
        let msg: DockerEventMessage;
        try {
          msg = JSON.parse(line) as DockerEventMessage;
        } catch {
          this.log.warn({ line: line.slice(0, 200) }, "unparsable docker event skipped");
          return;
        }
        const hint = mapDockerEvent(msg, this.network);
        if (hint !== null) listener({ kind: "hint", hint });
      },
      1 << 20,
      (droppedBytes) => this.log.warn({ droppedBytes }, "oversized docker event line dropped"),
    );
    listener({ kind: "connected" });
    readable.on("data", (chunk: Buffer | string) => lines.push(chunk));
    readable.on("error", (err: Error) => finish(err));
    readable.on("end", () => finish(new Error("docker event stream ended")));
    readable.on("close", () => finish(new Error("docker event stream closed")));
  }
}
