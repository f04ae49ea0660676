import type Docker from "dockerode";
import type { Logger } from "pino";
import { Backoff } from "../lib/backoff";
import { TimeoutError, toError } from "../lib/errors";
import { LineSplitter } from "../lib/json-lines";
import type { SourceSignal } from "../source/backend-source";
import { parseDockerEvent, type DockerEventMessage } from "./map";

/** An event is a few hundred bytes, a few KiB with many labels: a line this long is dropped. */
const MAX_EVENT_LINE_BYTES = 1 << 20;

export interface EventStreamOptions {
  /** The stream's start (its headers) and every ping answer within this. */
  readonly callTimeoutMs: number;
  /** While connected, the daemon is pinged this often: a stream can stall without closing. */
  readonly livenessMs: number;
}

type Readable = NodeJS.ReadableStream & { destroy?: (err?: Error) => void };

/** A signal that aborts after `ms` with a TimeoutError, or with `parent`. */
export function deadline(ms: number, what: string, parent?: AbortSignal): AbortSignal {
  const own = AbortSignal.timeout(ms);
  const timed = new AbortController();
  own.addEventListener("abort", () => timed.abort(new TimeoutError(what, ms)), { once: true });
  return parent === undefined ? timed.signal : AbortSignal.any([timed.signal, parent]);
}

/**
 * Follows Docker's event stream (`filters`) until `signal` aborts, reconnecting with capped
 * backoff forever: `connected` on every (re)connection (resync then), `disconnected` once per
 * loss, and each event to `onEvent`. A stream that stalls without closing is caught by a ping
 * every `livenessMs` that gets no answer.
 */
export function followDockerEvents(
  docker: Docker,
  filters: Record<string, string[]>,
  onEvent: (msg: DockerEventMessage) => void,
  onSignal: (s: Exclude<SourceSignal, { kind: "hint" }>) => void,
  signal: AbortSignal,
  opts: EventStreamOptions,
  log: Logger,
): void {
  const backoff = new Backoff(250, 10_000);
  let connected: boolean | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  signal.addEventListener("abort", () => retryTimer !== null && clearTimeout(retryTimer), { once: true });

  const retry = (err: Error): void => {
    if (signal.aborted) return;
    if (connected !== false) {
      connected = false;
      onSignal({ kind: "disconnected", err });
    }
    const delayMs = backoff.next();
    log.debug({ err, delayMs, attempt: backoff.failures }, "event stream reconnect scheduled");
    retryTimer = setTimeout(connect, delayMs);
  };

  const connect = (): void => {
    retryTimer = null;
    if (signal.aborted) return;
    // The deadline covers the start of the stream only: once its headers came, it is quiet for
    // as long as nothing happens, and the ping watches it instead.
    const starting = new AbortController();
    const timer = setTimeout(
      () => starting.abort(new TimeoutError("docker: event stream", opts.callTimeoutMs)),
      opts.callTimeoutMs,
    );
    docker
      .getEvents({ filters, abortSignal: starting.signal })
      .then((stream) => {
        clearTimeout(timer);
        backoff.reset();
        connected = true;
        follow(stream);
      })
      .catch((err: unknown) => {
        clearTimeout(timer);
        retry(
          starting.signal.aborted && starting.signal.reason instanceof Error ? starting.signal.reason : toError(err),
        );
      });
  };

  /** Reads one stream until it ends or a ping goes unanswered. */
  const follow = (readable: Readable): void => {
    let ended = false;
    const onAbort = (): void => readable.destroy?.();
    signal.addEventListener("abort", onAbort, { once: true });
    const finish = (err: Error): void => {
      if (ended) return;
      ended = true;
      clearInterval(liveness);
      signal.removeEventListener("abort", onAbort);
      if (!signal.aborted) retry(err);
    };
    const liveness = setInterval(() => {
      // dockerode's typings miss ping's options; its code takes an abortSignal like every call.
      const d = docker as unknown as { ping(o: { abortSignal: AbortSignal }): Promise<unknown> };
      d.ping({ abortSignal: deadline(opts.callTimeoutMs, "docker: ping") }).catch((err: unknown) => {
        if (ended) return;
        log.warn({ err: toError(err) }, "docker api not answering, the event stream may have stalled: reconnecting");
        finish(new TimeoutError("docker event stream (ping unanswered)", opts.callTimeoutMs));
        readable.destroy?.();
      });
    }, opts.livenessMs);
    const lines = new LineSplitter(
      MAX_EVENT_LINE_BYTES,
      (bytes) => {
        const line = bytes.toString("utf8").trim();
        if (line === "") return;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          log.warn({ line: line.slice(0, 200) }, "unparsable docker event skipped");
          return;
        }
        const msg = parseDockerEvent(parsed);
        if (typeof msg === "string") {
          log.warn({ problem: msg, line: line.slice(0, 200) }, "malformed docker event skipped");
          return;
        }
        // Last resort: a data handler that throws would end the process.
        try {
          onEvent(msg);
        } catch (err) {
          log.error({ err: toError(err), line: line.slice(0, 200) }, "docker event handler failed");
        }
      },
      (droppedBytes) => log.warn({ droppedBytes }, "oversized docker event line dropped"),
    );
    onSignal({ kind: "connected" });
    readable.on("data", (chunk: Buffer | string) => lines.push(chunk));
    readable.on("error", (err: Error) => finish(err));
    readable.on("end", () => finish(new Error("docker event stream ended")));
    readable.on("close", () => finish(new Error("docker event stream closed")));
  };
  connect();
}
