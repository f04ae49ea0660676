import type Docker from "dockerode";
import type { Logger } from "pino";
import type { ContainerSnapshot } from "../model/types";
import { Backoff } from "../reconcile/backoff";
import type { BackendSource, SourceSignal } from "./source";
import { mapContainerSummary, mapDockerEvent, type DockerContainerSummary, type DockerEventMessage } from "./map";

/** Containers on one Docker host, through dockerode. */
export class DockerodeSource implements BackendSource {
  constructor(
    private readonly docker: Docker,
    private readonly network: string,
    private readonly labelPrefix: string,
    private readonly log: Logger,
  ) {}

  async list(): Promise<ContainerSnapshot[]> {
    // Filter on the key only: a container with a malformed enable value must still be seen,
    // so that it can be reported instead of silently ignored.
    const items = (await this.docker.listContainers({
      all: false,
      filters: { label: [`${this.labelPrefix}.enable`] },
    })) as unknown as DockerContainerSummary[];
    return items.map((c) => mapContainerSummary(c, this.network));
  }

  watch(listener: (s: SourceSignal) => void, signal: AbortSignal): void {
    const backoff = new Backoff(250, 10_000);
    let connected: boolean | null = null;

    const retry = (err: Error): void => {
      if (signal.aborted) return;
      if (connected !== false) {
        connected = false;
        listener({ kind: "disconnected", err });
      }
      const delayMs = backoff.next();
      this.log.debug({ err, delayMs, attempt: backoff.failures }, "event stream reconnect scheduled");
      const t = setTimeout(connect, delayMs);
      signal.addEventListener("abort", () => clearTimeout(t), { once: true });
    };

    const connect = (): void => {
      if (signal.aborted) return;
      this.docker
        .getEvents({ filters: { type: ["container", "network"] } })
        .then((stream) => {
          const readable = stream as NodeJS.ReadableStream & { destroy?: () => void };
          let buffered = "";
          let ended = false;
          const onAbort = (): void => readable.destroy?.();
          signal.addEventListener("abort", onAbort, { once: true });
          const finish = (err: Error): void => {
            if (ended) return;
            ended = true;
            signal.removeEventListener("abort", onAbort);
            retry(err);
          };
          backoff.reset();
          connected = true;
          listener({ kind: "connected" });
          readable.on("data", (chunk: Buffer | string) => {
            buffered += chunk.toString();
            let nl: number;
            while ((nl = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (line === "") continue;
              let msg: DockerEventMessage;
              try {
                msg = JSON.parse(line) as DockerEventMessage;
              } catch {
                this.log.warn({ line: line.slice(0, 200) }, "unparsable docker event skipped");
                continue;
              }
              const event = mapDockerEvent(msg, this.network);
              if (event !== null) listener({ kind: "event", event });
            }
          });
          readable.on("error", (err: Error) => finish(err));
          readable.on("end", () => finish(new Error("docker event stream ended")));
          readable.on("close", () => finish(new Error("docker event stream closed")));
        })
        .catch((err: Error) => retry(err));
    };
    connect();
  }
}
