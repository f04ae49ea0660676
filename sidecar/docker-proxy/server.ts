import * as http from "node:http";
import * as os from "node:os";
import type { Logger } from "pino";
import { toError } from "../lib/errors";
import { decide, mayReload } from "./policy";

export interface ProxyOptions {
  /** The Docker socket (its directory is mounted, so that a restarted dockerd's new socket is seen). */
  readonly socketPath: string;
  readonly host: string;
  readonly port: number;
  /** Every request but the event stream gets an answer within this, or a 504. */
  readonly requestTimeoutMs: number;
  /** Label `key=value` of the HAProxy container: the only kill (SIGUSR2) target. */
  readonly reloadSelector: { readonly key: string; readonly value: string };
  readonly log: Logger;
}

const STACK_LABELS = ["com.docker.compose.project", "com.docker.stack.namespace"];

/** One request to the Docker socket; the answer's status and JSON body. */
function dockerGet(socketPath: string, path: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, headers: { host: "docker" }, timeout: timeoutMs }, (res) => {
      let raw = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (raw += c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: raw === "" ? null : JSON.parse(raw) });
        } catch (err) {
          reject(toError(err));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`docker ${path}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

const labelsOf = (inspect: unknown): Record<string, string> =>
  (inspect as { Config?: { Labels?: Record<string, string> | null } } | null)?.Config?.Labels ?? {};

/**
 * A filtering proxy in front of the Docker socket: the only thing that mounts it. Allowed
 * requests (policy.ts) are relayed as they are, everything else answers 403 and is logged.
 */
export async function startDockerProxy(opts: ProxyOptions): Promise<http.Server> {
  const log = opts.log;
  // The stack this proxy belongs to: kills may only reach the HAProxy of the same one.
  let stack: { key: string; value: string } | null = null;
  try {
    const self = labelsOf(
      (await dockerGet(opts.socketPath, `/containers/${os.hostname()}/json`, opts.requestTimeoutMs)).body,
    );
    const key = STACK_LABELS.find((k) => self[k] !== undefined);
    if (key !== undefined) stack = { key, value: self[key]! };
  } catch (err) {
    log.warn(
      { err: toError(err) },
      "could not inspect the proxy's own container: reloads are allowed to any HAProxy labelled as such",
    );
  }
  log.info({ stack, reloadSelector: opts.reloadSelector }, "docker api proxy: kills limited to this stack's haproxy");

  const deny = (res: http.ServerResponse, req: http.IncomingMessage, reason: string): void => {
    log.warn({ method: req.method, url: req.url, reason }, "docker api request denied");
    res.writeHead(403, { "content-type": "application/json" });
    res.end(`${JSON.stringify({ message: `denied by ha-sidecar's docker api proxy: ${reason}` })}\n`);
  };

  const relay = (req: http.IncomingMessage, res: http.ServerResponse, stream: boolean): void => {
    const upstream = http.request({
      socketPath: opts.socketPath,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: "docker" },
    });
    if (!stream) {
      upstream.setTimeout(opts.requestTimeoutMs, () =>
        upstream.destroy(new Error(`no answer within ${opts.requestTimeoutMs} ms`)),
      );
    }
    upstream.on("response", (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      // Now, not with the first body bytes: a quiet event stream has none for a long time, and
      // its client waits for the headers to know it is connected.
      res.flushHeaders();
      up.pipe(res);
      // A dockerd that goes away cuts its answer short: the client must see it cut too (an event
      // stream left open would look alive and say nothing), not a clean end.
      up.on("close", () => {
        if (!up.complete) res.destroy();
      });
    });
    upstream.on("error", (err) => {
      log.warn({ err, method: req.method, url: req.url }, "docker api request failed");
      if (!res.headersSent) {
        res.writeHead(/no answer within/.test(err.message) ? 504 : 502, { "content-type": "application/json" });
        res.end(`${JSON.stringify({ message: err.message })}\n`);
      } else {
        res.destroy();
      }
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  };

  const server = http.createServer((req, res) => {
    const decision = decide({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (!decision.allow) return deny(res, req, decision.reason);
    if (decision.killTarget === null) return relay(req, res, decision.stream);
    // A kill: only to this stack's HAProxy (SIGUSR2 ends any process that does not handle it).
    dockerGet(opts.socketPath, `/containers/${decision.killTarget}/json`, opts.requestTimeoutMs).then(
      ({ status, body }) => {
        if (status !== 200) return deny(res, req, `kill target ${decision.killTarget} not found`);
        if (!mayReload(labelsOf(body), opts.reloadSelector, stack)) {
          return deny(
            res,
            req,
            `kill target is not this stack's haproxy (${opts.reloadSelector.key}=${opts.reloadSelector.value})`,
          );
        }
        relay(req, res, false);
      },
      (err: unknown) => deny(res, req, `kill target could not be checked: ${toError(err).message}`),
    );
  });
  // Upgrades (attach, exec) and CONNECT never reach the socket.
  const refuse = (req: http.IncomingMessage, socket: NodeJS.ReadWriteStream & { destroy: () => void }): void => {
    log.warn({ method: req.method, url: req.url, reason: "connection upgrade" }, "docker api request denied");
    socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  };
  server.on("upgrade", refuse);
  server.on("connect", refuse);
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host, resolve));
  log.info({ host: opts.host, port: opts.port, socket: opts.socketPath }, "docker api proxy listening");
  return server;
}
