import * as http from "node:http";
import type * as stream from "node:stream";
import type { Logger } from "pino";
import type { ReplicaStatuses } from "../apply/fleet";
import type { ReplicaView } from "../apply/replica-state";
import type { ChangeFilter } from "../changes/change-log";
import type { ChangeRecord } from "../changes/records";
import { timelineSvg } from "../changes/timeline";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import type { LoopView } from "../reconcile/types";
import { buildCrossReference } from "./cross-reference";
import { health } from "./health";
import type { Metrics } from "./metrics";
import { checkHost, clip, parseRequestTarget } from "./request-target";
import { STATUS_PAGE } from "./status-page";
import type { MaintenanceResult } from "../maintenance/maintenance-store";
import { parseMaintenanceRequest, type MaintenanceEntry, type MaintenanceRequest } from "../model/maintenance";

/** What the status server reads. */
export interface StatusView {
  readonly loop: () => LoopView;
  /** Each HAProxy replica: its state against the desired one, by replica number. */
  readonly replicas: () => readonly ReplicaView[];
  /** Each running replica's server statuses (`backend/server` -> status), null for one that does not answer. */
  readonly replicaStatuses: () => Promise<readonly ReplicaStatuses[]>;
  readonly metrics: Metrics;
  /** The change log. */
  readonly changes: { query(filter?: ChangeFilter): ChangeRecord[] };
  /** A last pass older than this makes /healthz fail (about two resync periods). */
  readonly staleAfterMs: number;
  /** The loop's clock: the age of the last pass and the timeline's window are read on it. */
  readonly clock: Pick<Clock, "now">;
  /** Containers in maintenance (`sidecar maint`); absent: POST /maintenance is not served. */
  readonly maintenance?: MaintenanceControl;
  /** Servers ramping up (slow start) and draining, with when each ends (epoch ms). */
  readonly lifecycle?: () => LifecycleView;
}

/** What /maintenance reads and changes. */
export interface MaintenanceControl {
  list(): readonly MaintenanceEntry[];
  /** Applies a request (written before it counts), then has it applied at once. */
  set(req: MaintenanceRequest): Promise<MaintenanceResult>;
  /**
   * When the name matches no backend the last pass saw: the backends' names (a few), so that a
   * typo is refused instead of taking nothing out; null when it names one, or nobody can tell.
   */
  unknown?(container: string): readonly string[] | null;
}

/** Servers in a traffic transition, by `backend/server`, each with when it ends (epoch ms). */
export interface LifecycleView {
  readonly ramping: ReadonlyMap<string, number>;
  readonly draining: ReadonlyMap<string, number>;
}

/** The body of POST /maintenance is a few names: anything longer is refused unread. */
export const MAX_MAINTENANCE_BODY = 4096;

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * The JSON of /status: the cross-reference table, one entry per HAProxy replica (its state
 * against the desired one, the config id and routes digest it read back, when it last did in
 * sync) and the sidecar's recent history.
 */
export async function statusDocument(view: StatusView): Promise<unknown> {
  const {
    last,
    serf,
    lastReload: reload,
    lastRuntime: runtime,
    lastRejected: rejected,
    lastPassMs,
    eventsConnected,
  } = view.loop();
  const statuses = await view.replicaStatuses();
  return {
    eventsConnected,
    haproxyReachable: statuses.length > 0 && statuses.every((r) => r.statuses !== null),
    replicas: view.replicas().map((r) => ({
      replica: r.replica,
      container: r.container,
      state: r.state,
      reason: r.reason,
      configId: r.configId,
      digest: r.digest,
      confirmedAt: r.confirmedAt === null ? null : iso(r.confirmedAt),
    })),
    serf:
      serf === null
        ? { configured: false }
        : { configured: true, reachable: serf.reachable, drift: serf.drift, panic: serf.panic },
    lastSync:
      last === null
        ? null
        : last.ok
          ? {
              ok: true,
              at: iso(last.at),
              outcome: last.outcome.kind,
              awaitingReadiness: last.awaitingReadiness,
              drainPanic: last.drainPanic,
              durationMs: lastPassMs,
              stagesMs: last.stagesMs ?? null,
            }
          : { ok: false, at: iso(last.at), stage: last.stage, error: last.error.message, durationMs: lastPassMs },
    lastReload: reload === null ? null : { at: iso(reload.at), reason: reload.reason },
    lastRuntimeChange: runtime === null ? null : { at: iso(runtime.at), reason: runtime.reason },
    lastRejected: rejected === null ? null : { at: iso(rejected.at), message: rejected.message },
    backends: buildCrossReference(last, serf, statuses),
    maintenance: maintenanceList(view),
    ...lifecycleLists(view),
  };
}

function maintenanceList(view: StatusView): unknown[] {
  return (view.maintenance?.list() ?? []).map((e) => ({ container: e.container, by: e.by, since: iso(e.since) }));
}

/** Ramping (slow start) and draining servers, each with when it ends and the seconds left. */
function lifecycleLists(view: StatusView): { ramping: unknown[]; draining: unknown[] } {
  const now = view.clock.now();
  const list = (m: ReadonlyMap<string, number>): unknown[] =>
    [...m]
      .filter(([, until]) => until > now)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([server, until]) => ({ server, until: iso(until), secondsLeft: Math.ceil((until - now) / 1000) }));
  const l = view.lifecycle?.();
  return { ramping: l === undefined ? [] : list(l.ramping), draining: l === undefined ? [] : list(l.draining) };
}

/** How the status server serves, besides what it reads. */
export interface StatusServerOptions {
  /** Where a request that fails is reported (once per request). */
  readonly log: Logger;
  /** Names served besides IP literals and `localhost` (LB_STATUS_HOSTS), lowercase. */
  readonly allowedHosts?: readonly string[];
}

const PATHS = ["/", "/status", "/changes", "/timeline.svg", "/healthz", "/metrics", "/maintenance"];

/**
 * `/` the operator's page (refreshes itself), `/status` its JSON, `/changes` the change log
 * (JSON, filtered), `/timeline.svg` its last hour drawn, `/healthz` 200 when the sidecar does its
 * job (see health.ts; 503 with the reasons otherwise), `/metrics` Prometheus text. A malformed
 * target, or a Host that is no IP literal, `localhost` or allowed name, is answered 400 or 421;
 * anything that throws or rejects while answering is a 500 (logged), never the end of the process.
 */
export function statusHandler(view: StatusView, opts: StatusServerOptions): http.RequestListener {
  const allowed = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  return (req, res) => {
    let failed = false;
    const fail = (thrown: unknown): void => {
      if (failed) return;
      failed = true;
      const err = toError(thrown);
      opts.log.error({ err, method: req.method, target: clip(req.url ?? "", 200) }, "status request failed");
      if (res.headersSent) res.destroy();
      else json(res, 500, { error: err.message });
    };
    try {
      answer(view, allowed, req, res).catch(fail);
    } catch (err) {
      fail(err);
    }
  };
}

function send(res: http.ServerResponse, code: number, type: string, text: string): void {
  // Encoded once, outside V8's heap: its length, then the answer (at a thousand servers /status
  // is megabytes, which a string body had copied once for its length and once more to send).
  const body = Buffer.from(text);
  res.writeHead(code, {
    "content-type": type,
    "content-length": body.length,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  send(res, code, "application/json", `${JSON.stringify(body, null, 2)}\n`);
}

async function answer(
  view: StatusView,
  allowed: ReadonlySet<string>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const target = parseRequestTarget(req.url ?? "");
  if (typeof target === "string") return json(res, 400, { error: target });
  const hosts = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === "host");
  if (target.authority === null && hosts.length > 1) return json(res, 400, { error: "more than one Host header" });
  const host = checkHost(target.authority ?? req.headers.host, allowed);
  if (!host.ok) return json(res, host.status, { error: host.error });
  if (target.path === "/maintenance" && req.method === "POST") return maintenancePost(view, req, res);
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return json(res, 405, { error: `method ${clip(req.method ?? "")} not allowed: GET or HEAD` });
  }
  switch (target.path) {
    case "/healthz": {
      const h = health(view.loop(), view.clock.now(), view.staleAfterMs);
      return json(res, h.ok ? 200 : 503, h);
    }
    case "/status":
      return json(res, 200, await statusDocument(view));
    case "/maintenance":
      return json(res, 200, { maintenance: maintenanceList(view) });
    case "/metrics":
      return send(res, 200, view.metrics.registry.contentType, await view.metrics.registry.metrics());
    case "/changes": {
      const filter = changeFilter(target.query);
      if (typeof filter === "string") return json(res, 400, { error: filter });
      const records = view.changes.query(filter);
      return json(res, 200, { count: records.length, records });
    }
    case "/timeline.svg": {
      const minutes = timelineMinutes(target.query);
      if (typeof minutes === "string") return json(res, 400, { error: minutes });
      return send(res, 200, "image/svg+xml", timelineSvg(view.changes.query(), view.clock.now(), minutes * 60_000));
    }
    case "/":
    case "/index.html":
      return send(res, 200, "text/html; charset=utf-8", STATUS_PAGE);
    default:
      return json(res, 404, { error: "not found", paths: PATHS });
  }
}

/**
 * POST /maintenance `{"container", "on", "by"}`: for `sidecar maint` (the server listens on
 * loopback and on the control network only, see statusHosts). Never for a web page: a request
 * with an Origin or a cross-site Sec-Fetch-Site is refused, and only a JSON body is read (a page
 * cannot send one to another origin without a preflight this server never answers). The body
 * is bounded.
 */
async function maintenancePost(view: StatusView, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const control = view.maintenance;
  if (control === undefined) return json(res, 404, { error: "maintenance is not served here" });
  const site = req.headers["sec-fetch-site"];
  if (req.headers.origin !== undefined || (site !== undefined && site !== "none"))
    return json(res, 403, { error: "maintenance is changed with `sidecar maint`, not from a web page" });
  if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? ""))
    return json(res, 415, { error: "content-type: application/json" });
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > MAX_MAINTENANCE_BODY) return tooLarge(res, req);
  const body = await readBody(req, MAX_MAINTENANCE_BODY);
  if (body === null) return tooLarge(res, req);
  const parsed = parseMaintenanceRequest(body);
  if (typeof parsed === "string") return json(res, 400, { error: parsed });
  const known = parsed.on ? (control.unknown?.(parsed.container) ?? null) : null;
  if (known !== null)
    return json(res, 404, {
      error: `no backend is named ${parsed.container}: give a container name, a server name or an id of 12 or more`,
      backends: known,
    });
  const result = await control.set(parsed);
  return json(res, 200, {
    container: parsed.container,
    maintenance: result.entry === null ? "off" : "on",
    by: result.entry?.by ?? parsed.by,
    since: result.entry === null ? null : iso(result.entry.since),
    changed: result.changed,
  });
}

function tooLarge(res: http.ServerResponse, req: http.IncomingMessage): void {
  res.setHeader("connection", "close");
  json(res, 413, { error: `body longer than ${MAX_MAINTENANCE_BODY} bytes` });
  req.resume();
}

/** The body as text, or null once it passes `max` bytes (the rest is not kept). */
function readBody(req: http.IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      else chunks.push(c);
    });
    req.on("end", () => resolve(over ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Null when each of `params`' keys is one of `known`, given at most once; else what is wrong. */
function singleKeys(params: URLSearchParams, known: readonly string[], noun: string): string | null {
  const keys = [...params.keys()];
  const unknown = [...new Set(keys.filter((k) => !known.includes(k)))];
  if (unknown.length > 0)
    return `unknown ${noun} ${unknown.map((k) => clip(k)).join(", ")}: use ${known.join(" and ")}`;
  const twice = known.filter((k) => keys.filter((x) => x === k).length > 1);
  if (twice.length > 0) return `${twice.join(", ")}: given more than once`;
  return null;
}

/** Container names, server names and ids are far shorter than this. */
const MAX_CONTAINER_LENGTH = 256;
/** The range of a JavaScript date, in epoch ms either side of 1970. */
const MAX_EPOCH_MS = 8.64e15;

/**
 * /changes filters: `container` (name, server name or id prefix), `since` (ISO time or epoch
 * ms), each at most once. A message naming what is wrong, for a 400.
 */
export function changeFilter(params: URLSearchParams): ChangeFilter | string {
  const keys = singleKeys(params, ["container", "since"], "filter");
  if (keys !== null) return keys;
  const container = params.get("container") ?? undefined;
  if (container !== undefined && (container.length === 0 || container.length > MAX_CONTAINER_LENGTH))
    return `container: 1 to ${MAX_CONTAINER_LENGTH} characters`;
  const sinceRaw = params.get("since");
  if (sinceRaw === null) return container === undefined ? {} : { container };
  const since = /^\d{1,16}$/.test(sinceRaw) ? Number(sinceRaw) : Date.parse(sinceRaw);
  if (!Number.isFinite(since) || Math.abs(since) > MAX_EPOCH_MS)
    return `since=${clip(sinceRaw)}: an ISO time (2026-11-25T14:02:00Z) or epoch milliseconds`;
  return container === undefined ? { since } : { container, since };
}

/** /timeline.svg's window: `minutes`, a whole number from 1 to 1440 (60 when absent). */
export function timelineMinutes(params: URLSearchParams): number | string {
  const keys = singleKeys(params, ["minutes"], "parameter");
  if (keys !== null) return keys;
  const raw = params.get("minutes") ?? "60";
  const minutes = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(minutes >= 1 && minutes <= 1440)) return `minutes=${clip(raw)}: a whole number from 1 to 1440`;
  return minutes;
}

/** A request cut or unparsable before it reached the handler: answered here, never a crash. */
function onClientError(log: Logger): (err: NodeJS.ErrnoException, socket: stream.Duplex) => void {
  return (err, socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    log.debug({ err }, "status request unparsable");
    const [code, text] =
      err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large"]
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "Request Timeout"]
          : [400, "Bad Request"];
    const body = `${JSON.stringify({ error: `${text.toLowerCase()}: ${err.code ?? "unparsable request"}` })}\n`;
    socket.end(
      `HTTP/1.1 ${code} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
}

/** A request's head and body come within this, or the connection is closed (408). */
const REQUEST_TIMEOUT_MS = 10_000;

/** The status server on `port` of each of `hosts` (0 for any free port); resolves once they listen. */
export async function startStatusServer(
  port: number,
  hosts: readonly string[],
  view: StatusView,
  opts: StatusServerOptions,
): Promise<http.Server[]> {
  const handler = statusHandler(view, opts);
  return Promise.all(
    hosts.map(
      (host) =>
        new Promise<http.Server>((resolve, reject) => {
          const server = http.createServer(
            { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS },
            handler,
          );
          server.on("clientError", onClientError(opts.log));
          server.once("error", reject);
          server.listen(port, host, () => resolve(server));
        }),
    ),
  );
}
