import * as http from "node:http";
import type * as net from "node:net";
import * as os from "node:os";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { toError } from "../lib/errors";
import { LineSplitter } from "../lib/json-lines";
import { decide, type Decision, type PolicyOptions, type Route, type Selector } from "./policy";
import {
  errorBody,
  reduceContainerInspect,
  reduceContainerList,
  reduceEvent,
  reduceServices,
  reduceTasks,
  reloadTargetOf,
  stackOf,
  UpstreamShapeError,
  type ReduceOptions,
} from "./reduce";

/** What one client may hold of the proxy. */
export interface ProxyLimits {
  /** Connections open at once; a request on one more is answered 503 and its connection closed. */
  readonly maxConnections: number;
  /** Event streams open at once; one more is answered 503. */
  readonly maxEventStreams: number;
  /** A request (headers and all: bodies are refused) arrives within this, or 408 and closed. */
  readonly requestReceiveMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveMs: number;
  /** A Docker answer buffered to be reduced that is larger than this is a 502. */
  readonly maxUpstreamBodyBytes: number;
  /** An event line longer than this is dropped (the stream goes on). */
  readonly maxEventLineBytes: number;
}

export const DEFAULT_LIMITS: ProxyLimits = Object.freeze({
  maxConnections: 64,
  maxEventStreams: 8,
  requestReceiveMs: 5_000,
  keepAliveMs: 5_000,
  maxUpstreamBodyBytes: 16 << 20,
  maxEventLineBytes: 1 << 20,
});

/** Connections past the limit that still get their 503; past these they are dropped unanswered. */
const OVERFLOW_ANSWERED = 16;

export interface ProxyOptions {
  /** The Docker socket (its directory is mounted, so that a restarted dockerd's new socket is seen). */
  readonly socketPath: string;
  readonly host: string;
  readonly port: number;
  /** Every request but the event stream gets an answer within this, or a 504. */
  readonly requestTimeoutMs: number;
  /** Label `key=value` of the HAProxy container: the only kill (SIGUSR2) target. */
  readonly reloadSelector: Selector;
  /** The sidecar's label prefix (`heig.lb`): listings must ask for it, other labels are stripped. */
  readonly labelPrefix: string;
  readonly limits?: Partial<ProxyLimits>;
  readonly log: Logger;
}

/** Docker could not be asked, or answered late or too much: 502 or 504. */
class UpstreamError extends Error {
  override readonly name = "UpstreamError";
  constructor(
    message: string,
    readonly status: 502 | 504,
  ) {
    super(message);
  }
}

interface Answer {
  readonly status: number;
  readonly statusText: string | undefined;
  readonly body: Buffer;
}

/** Sockets to Docker that have their guard (Node's agent keeps them alive for request after request). */
const guarded = new WeakSet<object>();

/**
 * Docker's end of the socket may fail after Node's client let go of it (an answer complete, then
 * destroyed): without a listener of its own, that error would end the process. Once per socket:
 * a listener per request piled up on a kept-alive socket (a leak, and Node's warning past 10).
 */
function guardSocket(req: http.ClientRequest): void {
  req.on("socket", (socket) => {
    if (guarded.has(socket)) return;
    guarded.add(socket);
    socket.on("error", () => undefined);
  });
}

/** One request to the Docker socket (no body), its whole answer, within the limits. */
function callDocker(
  opts: ProxyOptions,
  maxBytes: number,
  method: "GET" | "POST",
  path: string,
  signal?: AbortSignal,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: opts.socketPath,
        method,
        path,
        headers: { host: "docker" },
        timeout: opts.requestTimeoutMs,
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes <= maxBytes) return void chunks.push(chunk);
          // Rejected here, destroyed without an error: the answer may be complete already.
          reject(new UpstreamError(`docker's answer is larger than ${maxBytes} bytes`, 502));
          req.destroy();
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage, body: Buffer.concat(chunks) }),
        );
        res.on("error", (err) => reject(err instanceof UpstreamError ? err : new UpstreamError(err.message, 502)));
        res.on("close", () => {
          if (!res.complete) reject(new UpstreamError("docker cut its answer short", 502));
        });
      },
    );
    guardSocket(req);
    req.on("timeout", () => {
      reject(new UpstreamError(`docker: no answer within ${opts.requestTimeoutMs} ms`, 504));
      req.destroy();
    });
    req.on("error", (err) => reject(err instanceof UpstreamError ? err : new UpstreamError(err.message, 502)));
    req.end();
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new UpstreamShapeError("docker answered something that is not JSON");
  }
}

/** A JSON answer, whole; a response already under way is cut instead. */
function send(res: http.ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(text);
}

const clip = (url: string | undefined): string | undefined =>
  url !== undefined && url.length > 256 ? `${url.slice(0, 256)}…` : url;

/**
 * A filtering proxy in front of the Docker socket: the only thing that mounts it. Allowed
 * requests (policy.ts) are relayed as the policy rebuilt them and their answers reduced to what
 * the sidecar reads (reduce.ts); everything else is answered 400, 403 or 413 and logged. No
 * request, malformed or not, and no answer from Docker can end the process.
 */
export async function startDockerProxy(opts: ProxyOptions): Promise<http.Server> {
  const log = opts.log;
  const limits: ProxyLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const policy: PolicyOptions = { labelPrefix: opts.labelPrefix, reloadSelector: opts.reloadSelector };
  const call = (method: "GET" | "POST", path: string, signal?: AbortSignal): Promise<Answer> =>
    callDocker(opts, limits.maxUpstreamBodyBytes, method, path, signal);

  // The stack this proxy belongs to: kills only reach its HAProxy, inspects only its containers.
  let stack: Selector | null = null;
  try {
    const self = await call("GET", `/containers/${os.hostname()}/json`);
    if (self.status === 200) stack = stackOf(parseJson(self.body));
  } catch (err) {
    log.warn(
      { err: toError(err) },
      "could not inspect the proxy's own container: reloads are allowed to any HAProxy labelled as such",
    );
  }
  const reduceOptions: ReduceOptions = { ...policy, stack };
  log.info({ stack, reloadSelector: opts.reloadSelector }, "docker api proxy: kills limited to this stack's haproxy");

  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, status: number, reason: string): void => {
    log.warn({ method: req.method, url: clip(req.url), status, reason }, "docker api request denied");
    // A refused request may still be sending a body (never read: the connection goes with it);
    // a malformed one or one past a limit ends its connection too.
    const body = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    send(res, status, { message: `denied by ha-sidecar's docker api proxy: ${reason}` }, status !== 403 || body);
  };

  const reduce = (route: Route, body: unknown): unknown => {
    switch (route) {
      case "list-containers":
        return reduceContainerList(body, policy);
      case "inspect-container":
        return reduceContainerInspect(body, reduceOptions);
      case "list-services":
        return reduceServices(body, policy);
      case "list-tasks":
        return reduceTasks(body, policy);
      default:
        throw new Error(`no reducer for ${route}`);
    }
  };

  /** A request answered whole: Docker's answer, reduced. */
  const relay = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    decision: Extract<Decision, { allow: true }>,
    signal: AbortSignal,
  ): Promise<void> => {
    const answer = await call("GET", decision.upstreamPath, signal);
    if (answer.status !== 200) return send(res, answer.status, errorBody(answer.status, answer.statusText));
    if (decision.route === "ping") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": 2 });
      res.end("OK");
      return;
    }
    const reduced = reduce(decision.route, parseJson(answer.body));
    if (reduced === null) return refuse(req, res, 404, "container of another stack");
    send(res, 200, reduced);
  };

  /** A kill: only SIGUSR2, only to this stack's HAProxy (SIGUSR2 ends any process that does not handle it). */
  const reload = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: string,
    signal: AbortSignal,
  ): Promise<void> => {
    const check = await call("GET", `/containers/${target}/json`, signal);
    if (check.status === 404) return refuse(req, res, 403, `kill target ${target} not found`);
    if (check.status !== 200)
      return refuse(req, res, 403, `kill target could not be checked (docker: ${check.status})`);
    const verdict = reloadTargetOf(parseJson(check.body), opts.reloadSelector, stack);
    if ("reason" in verdict) return refuse(req, res, 403, verdict.reason);
    const answer = await call("POST", `/containers/${verdict.id}/kill?signal=SIGUSR2`, signal);
    if (answer.status >= 200 && answer.status < 300) {
      res.writeHead(answer.status === 200 ? 200 : 204);
      res.end();
      return;
    }
    send(res, answer.status, errorBody(answer.status, answer.statusText));
  };

  let eventStreams = 0;
  /** The event stream: read line by line, each event reduced or dropped, for as long as it lasts. */
  const streamEvents = (req: http.IncomingMessage, res: http.ServerResponse, path: string): void => {
    if (eventStreams >= limits.maxEventStreams) return refuse(req, res, 503, "too many event streams");
    eventStreams++;
    res.once("close", () => eventStreams--);
    const upstream = http.request({ socketPath: opts.socketPath, method: "GET", path, headers: { host: "docker" } });
    guardSocket(upstream);
    let failed = false;
    const fail = (err: Error): void => {
      // Once, and not for a client that left (its going destroys the request).
      if (failed || res.destroyed) return;
      failed = true;
      log.warn({ err, method: req.method, url: clip(req.url) }, "docker api request failed");
      if (res.headersSent) res.destroy();
      else send(res, err instanceof UpstreamError ? err.status : 502, { message: err.message });
    };
    // Until its headers come only: then it is quiet for as long as nothing happens.
    upstream.setTimeout(opts.requestTimeoutMs, () => {
      fail(new UpstreamError(`docker: no answer within ${opts.requestTimeoutMs} ms`, 504));
      upstream.destroy();
    });
    upstream.on("response", (up) => {
      upstream.setTimeout(0);
      if (up.statusCode !== 200) {
        up.resume();
        return send(res, up.statusCode ?? 502, errorBody(up.statusCode ?? 502, up.statusMessage));
      }
      res.writeHead(200, { "content-type": "application/json" });
      // Now, not with the first event: a quiet stream has none for a long time, and its client
      // waits for the headers to know it is connected.
      res.flushHeaders();
      let waiting = false;
      const lines = new LineSplitter(
        limits.maxEventLineBytes,
        (line) => {
          let event: unknown;
          try {
            event = JSON.parse(line.toString("utf8"));
          } catch {
            log.debug({ bytes: line.length }, "unparsable docker event dropped");
            return;
          }
          const reduced = reduceEvent(event, policy);
          if (reduced === null || res.write(`${JSON.stringify(reduced)}\n`) || waiting) return;
          waiting = true;
          up.pause();
          res.once("drain", () => {
            waiting = false;
            up.resume();
          });
        },
        (bytes) => log.warn({ bytes }, "oversized docker event dropped"),
      );
      up.on("data", (chunk: Buffer) => {
        try {
          lines.push(chunk);
        } catch (err) {
          log.error({ err: toError(err) }, "docker event stream could not be relayed");
          res.destroy();
        }
      });
      up.on("end", () => res.end());
      up.on("error", () => res.destroy());
      // A dockerd that goes away cuts its answer short: the client must see it cut too (an event
      // stream left open would look alive and say nothing), not a clean end.
      up.on("close", () => {
        if (!up.complete) res.destroy();
      });
    });
    upstream.on("error", fail);
    res.on("close", () => upstream.destroy());
    upstream.end();
  };

  const overflowing = new WeakSet<Duplex>();
  const open = new Set<Duplex>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (overflowing.has(req.socket)) return refuse(req, res, 503, "too many connections");
    const decision = decide({ method: req.method ?? "", url: req.url ?? "", headers: req.headers }, policy);
    if (!decision.allow) return refuse(req, res, decision.status, decision.reason);
    // The kill's JSON body (dockerode sends its options): read and dropped. Others have none.
    req.resume();
    const gone = new AbortController();
    res.once("close", () => gone.abort());
    try {
      if (decision.route === "events") return streamEvents(req, res, decision.upstreamPath);
      if (decision.killTarget !== null) return await reload(req, res, decision.killTarget, gone.signal);
      return await relay(req, res, decision, gone.signal);
    } catch (err) {
      if (!(err instanceof UpstreamError || err instanceof UpstreamShapeError)) throw err;
      if (gone.signal.aborted) return;
      log.warn({ err, method: req.method, url: clip(req.url) }, "docker api request failed");
      send(res, err instanceof UpstreamError ? err.status : 502, { message: err.message });
    }
  };

  const server = http.createServer({
    headersTimeout: limits.requestReceiveMs,
    requestTimeout: limits.requestReceiveMs,
    // How often those two are checked (Node's default, 30 s, would let them run that long).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.requestReceiveMs / 4))),
    maxHeaderSize: 16 * 1024,
  });
  server.keepAliveTimeout = limits.keepAliveMs;
  server.maxConnections = limits.maxConnections + OVERFLOW_ANSWERED;
  server.on("connection", (socket: net.Socket) => {
    if (open.size >= limits.maxConnections) {
      overflowing.add(socket);
      return;
    }
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    // The last resort: whatever a bug throws ends this request, never the process.
    handle(req, res).catch((err: unknown) => {
      try {
        log.error({ err: toError(err), method: req.method, url: clip(req.url) }, "docker api proxy failed a request");
        send(res, 500, { message: "ha-sidecar's docker api proxy failed on this request" }, true);
      } catch {
        res.destroy();
      }
    });
  });
  // What Node's parser refuses (bad request line, header overflow, a request too slow to arrive).
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (err.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    const reason = status === 408 ? "request not received in time" : `malformed request (${err.code ?? "unreadable"})`;
    log.warn({ status, reason }, "docker api request denied");
    const body = `${JSON.stringify({ message: `denied by ha-sidecar's docker api proxy: ${reason}` })}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
  // Upgrades (attach, exec) and CONNECT never reach the socket.
  const refuseUpgrade = (req: http.IncomingMessage, socket: Duplex): void => {
    socket.on("error", () => undefined);
    log.warn({ method: req.method, url: clip(req.url), reason: "connection upgrade" }, "docker api request denied");
    socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", () => socket.destroy());
  };
  server.on("upgrade", refuseUpgrade);
  server.on("connect", refuseUpgrade);
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host, resolve));
  log.info({ host: opts.host, port: opts.port, socket: opts.socketPath, limits }, "docker api proxy listening");
  return server;
}
