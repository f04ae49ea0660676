import type Docker from "dockerode";
import type { Logger } from "pino";
import { Backoff } from "../lib/backoff";
import { TimeoutError, toError } from "../lib/errors";
import { LineSplitter } from "../lib/json-lines";
import type { BackendSnapshot } from "../model/types";
import type { BackendSource, SourceSignal } from "../source/backend-source";
import { mapContainerSummary, mapDockerEvent, type DockerContainerSummary, type DockerEventMessage } from "./map";

export interface DockerSourceOptions {
  /** Every call (the listing, the ping, the event stream's start) answers within this. */
  readonly callTimeoutMs: number;
  /** While connected, the daemon is pinged this often: a stream can stall without closing. */
  readonly livenessMs: number;
}

type EventStream = NodeJS.ReadableStream & { destroy?: (err?: Error) => void };

/** A signal that aborts after `ms`, or with `parent`. */
function deadline(ms: number, what: string, parent?: AbortSignal): AbortSignal {
  const own = AbortSignal.timeout(ms);
  const timed = new AbortController();
  own.addEventListener("abort", () => timed.abort(new TimeoutError(what, ms)), { once: true });
  return parent === undefined ? timed.signal : AbortSignal.any([timed.signal, parent]);
}

/** Containers on one Docker host, through dockerode. */
export class DockerodeSource implements BackendSource {
  constructor(
    private readonly docker: Docker,
    private readonly network: string,
    private readonly labelPrefix: string,
    private readonly log: Logger,
    private readonly opts: DockerSourceOptions = { callTimeoutMs: 5_000, livenessMs: 10_000 },
  ) {}

  async list(signal?: AbortSignal): Promise<BackendSnapshot[]> {
    // Filter on the key only: a container with a malformed enable value must still be seen,
    // so that it can be reported instead of silently ignored. Only the watched network's: the
    // labelled containers of other stacks on the same host are none of this sidecar's business.
    const abortSignal = deadline(this.opts.callTimeoutMs, "docker: list containers", signal);
    const items = (await this.docker
      .listContainers({
        all: false,
        filters: { label: [`${this.labelPrefix}.enable`], network: [this.network] },
        abortSignal,
      })
      .catch((err: unknown) => {
        throw abortSignal.aborted && abortSignal.reason instanceof Error ? abortSignal.reason : toError(err);
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
      // The deadline covers the start of the stream only: once its headers came, it is quiet for
      // as long as nothing happens, and the ping watches it instead.
      const starting = new AbortController();
      const timer = setTimeout(
        () => starting.abort(new TimeoutError("docker: event stream", this.opts.callTimeoutMs)),
        this.opts.callTimeoutMs,
      );
      this.docker
        .getEvents({ filters: { type: ["container", "network"] }, abortSignal: starting.signal })
        .then((stream) => {
          clearTimeout(timer);
          backoff.reset();
          connected = true;
          this.follow(stream, listener, signal, retry);
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          retry(
            starting.signal.aborted && starting.signal.reason instanceof Error ? starting.signal.reason : toError(err),
          );
        });
    };
    connect();
  }

  /** Reads one event stream until it ends or a ping goes unanswered; `onEnd` is called once, unless `signal` aborted. */
  private follow(
    readable: EventStream,
    listener: (s: SourceSignal) => void,
    signal: AbortSignal,
    onEnd: (err: Error) => void,
  ): void {
    let ended = false;
    const onAbort = (): void => readable.destroy?.();
    signal.addEventListener("abort", onAbort, { once: true });
    const liveness = setInterval(() => {
      // dockerode's typings miss ping's options; its code takes an abortSignal like every call.
      const docker = this.docker as unknown as { ping(opts: { abortSignal: AbortSignal }): Promise<unknown> };
      docker.ping({ abortSignal: deadline(this.opts.callTimeoutMs, "docker: ping") }).catch((err: unknown) => {
        if (ended) return;
        this.log.warn(
          { err: toError(err) },
          "docker api not answering, the event stream may have stalled: reconnecting",
        );
        finish(new TimeoutError("docker event stream (ping unanswered)", this.opts.callTimeoutMs));
        readable.destroy?.();
      });
    }, this.opts.livenessMs);
    const finish = (err: Error): void => {
      if (ended) return;
      ended = true;
      clearInterval(liveness);
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
