/**
 * Pure: which Docker Engine API requests the sidecar may make, and the exact request the proxy
 * relays for each. An allowlist of method, anchored path (with or without the `/v1.xx` prefix)
 * and query, made of what the sidecar sends and nothing else: what filtering proxies got wrong
 * elsewhere was matching by prefix (which lets `/containers/{id}/archive` and `/export` through
 * with "read" access), allowing POST (exec, kill, delete) and relaying the query as it came (a
 * parser that reads it differently from Docker's). Here the relayed target is rebuilt from the
 * values checked, listings and events must carry the filters that keep them to this stack, and
 * upgrades (attach, exec's hijacked streams) and request bodies are refused.
 */
import { parseFilters, parseTarget } from "./target";

export interface ProxyRequest {
  readonly method: string;
  /** The raw request target, path and query (`/v1.41/containers/json?all=false`). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A label `key=value`. */
export interface Selector {
  readonly key: string;
  readonly value: string;
}

/** What the policy must know of the stack it serves. */
export interface PolicyOptions {
  /** The sidecar's label prefix (`heig.lb`): a container listing must ask for `<prefix>.enable`… */
  readonly labelPrefix: string;
  /** …or for the HAProxy container's label (the reloader's listing), the only kill target. */
  readonly reloadSelector: Selector;
}

/** The requests the sidecar makes, one each. */
export type Route =
  "ping" | "list-containers" | "inspect-container" | "events" | "list-services" | "list-tasks" | "reload-haproxy";

export type Decision =
  | {
      readonly allow: true;
      readonly route: Route;
      /** The request relayed to Docker, rebuilt from the checked values (path, `?`, query). */
      readonly upstreamPath: string;
      /** The container a kill is for: the proxy checks it is this stack's HAProxy first. */
      readonly killTarget: string | null;
    }
  | {
      readonly allow: false;
      /** 400 malformed, 403 not on the allowlist, 413 a request body. */
      readonly status: 400 | 403 | 413;
      readonly reason: string;
    };

/** An optional API version prefix, then the rest of the path. */
const VERSIONED = /^(\/v1\.\d{1,3})?(\/.*)$/;
/** A container, service or network id or name: never a `/`, `%` or leading `.`. */
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ID = String.raw`([A-Za-z0-9][A-Za-z0-9_.-]{0,127})`;
/** A label filter: `key` or `key=value`. */
const LABEL_FILTER_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,255}(=[\x20-\x7e]{0,256})?$/;
const CONTAINER_STATUSES = new Set(["created", "restarting", "running", "removing", "paused", "exited", "dead"]);
/** The event types the sidecar follows: container and network (docker), service, node and container (swarm). */
export const EVENT_TYPES: ReadonlySet<string> = new Set(["container", "network", "service", "node"]);
/** dockerode sends a kill's options as a JSON body too (`{"signal":"SIGUSR2"}`): read, never relayed. */
export const MAX_KILL_BODY_BYTES = 256;

type Denial = Extract<Decision, { allow: false }>;
/** The canonical query relayed (no `?`), or why not. */
type QueryCheck = string | Denial;

interface Rule {
  readonly route: Route;
  readonly method: "GET" | "POST";
  /** After the optional version prefix; a capture group names the container. */
  readonly path: RegExp;
  /** The query → the canonical query relayed, or why not. */
  readonly query: (q: ReadonlyMap<string, string>, opts: PolicyOptions) => QueryCheck;
  readonly maxBodyBytes: number;
}

const deny = (reason: string): Denial => ({ allow: false, status: 403, reason });
const malformed = (reason: string): Denial => ({ allow: false, status: 400, reason });
const canonicalFilters = (filters: ReadonlyMap<string, readonly string[]>): string =>
  `filters=${encodeURIComponent(JSON.stringify(Object.fromEntries([...filters].sort(([a], [b]) => (a < b ? -1 : 1)))))}`;

/** Only these parameters; `filters` present (when required), valid, with only these keys, each non-empty. */
function checkFilters(
  q: ReadonlyMap<string, string>,
  params: readonly string[],
  keys: Readonly<Record<string, (v: string) => boolean>>,
  required: string,
): ReadonlyMap<string, readonly string[]> | Denial {
  const extra = [...q.keys()].filter((k) => !params.includes(k));
  if (extra.length > 0) return deny(`query parameter ${JSON.stringify(extra[0]!.slice(0, 64))} not allowed`);
  const raw = q.get("filters");
  if (raw === undefined) return deny(`filters required: ${required}`);
  const parsed = parseFilters(raw);
  if (!parsed.ok) return malformed(parsed.reason);
  for (const [key, values] of parsed.value) {
    const valid = keys[key];
    if (!Object.hasOwn(keys, key) || valid === undefined) {
      return deny(`filter ${JSON.stringify(key.slice(0, 64))} not allowed`);
    }
    if (values.length === 0) return deny(`filter ${key} is empty`);
    const wrong = values.find((v) => !valid(v));
    if (wrong !== undefined) return deny(`filter ${key}: ${JSON.stringify(wrong.slice(0, 64))} not allowed`);
  }
  return parsed.value;
}

const noQuery = (q: ReadonlyMap<string, string>): QueryCheck => (q.size === 0 ? "" : deny("takes no query parameters"));

/** A full container id (the sidecar lists the containers hints named by theirs). */
const CONTAINER_ID_RE = /^[0-9a-f]{64}$/;

/**
 * The sidecar's two listings: `<prefix>.enable` on a network (narrowed to some container ids
 * for the ones hints named), or this stack's HAProxy, running.
 */
function listContainersQuery(q: ReadonlyMap<string, string>, opts: PolicyOptions): QueryCheck {
  const enable = `${opts.labelPrefix}.enable`;
  const selector = `${opts.reloadSelector.key}=${opts.reloadSelector.value}`;
  const required = `label ${enable} or ${selector}`;
  const filters = checkFilters(
    q,
    ["all", "filters"],
    {
      label: (v) => LABEL_FILTER_RE.test(v),
      network: (v) => ID_RE.test(v),
      status: (v) => CONTAINER_STATUSES.has(v),
      id: (v) => CONTAINER_ID_RE.test(v),
    },
    required,
  );
  if ("allow" in filters) return filters;
  const all = q.get("all");
  if (all !== undefined && all !== "false" && all !== "0") return deny("all: only false (running containers)");
  const labels = filters.get("label") ?? [];
  if (!labels.some((l) => l === enable || l.startsWith(`${enable}=`) || l === selector)) {
    return deny(`filters required: ${required}`);
  }
  return [...(all === undefined ? [] : [`all=${all}`]), canonicalFilters(filters)].join("&");
}

function eventsQuery(q: ReadonlyMap<string, string>): QueryCheck {
  const required = `type within ${[...EVENT_TYPES].join(", ")}`;
  const filters = checkFilters(q, ["filters"], { type: (v) => EVENT_TYPES.has(v) }, required);
  if ("allow" in filters) return filters;
  if (!filters.has("type")) return deny(`filters required: ${required}`);
  return canonicalFilters(filters);
}

function listTasksQuery(q: ReadonlyMap<string, string>): QueryCheck {
  const filters = checkFilters(q, ["filters"], { service: (v) => ID_RE.test(v) }, "service");
  if ("allow" in filters) return filters;
  if (!filters.has("service")) return deny("filters required: service");
  return canonicalFilters(filters);
}

function killQuery(q: ReadonlyMap<string, string>): QueryCheck {
  const signal = q.get("signal");
  if (q.size !== 1 || (signal !== "SIGUSR2" && signal !== "USR2")) return deny("kill: only signal=SIGUSR2");
  return `signal=${signal}`;
}

/** Everything the sidecar asks of Docker, and the one write a reload needs. */
export const RULES: readonly Rule[] = [
  { route: "ping", method: "GET", path: /^\/_ping$/, query: noQuery, maxBodyBytes: 0 },
  {
    route: "list-containers",
    method: "GET",
    path: /^\/containers\/json$/,
    query: listContainersQuery,
    maxBodyBytes: 0,
  },
  {
    route: "inspect-container",
    method: "GET",
    path: new RegExp(`^/containers/${ID}/json$`),
    query: noQuery,
    maxBodyBytes: 0,
  },
  { route: "events", method: "GET", path: /^\/events$/, query: eventsQuery, maxBodyBytes: 0 },
  { route: "list-services", method: "GET", path: /^\/services$/, query: noQuery, maxBodyBytes: 0 },
  { route: "list-tasks", method: "GET", path: /^\/tasks$/, query: listTasksQuery, maxBodyBytes: 0 },
  {
    route: "reload-haproxy",
    method: "POST",
    path: new RegExp(`^/containers/${ID}/kill$`),
    query: killQuery,
    maxBodyBytes: MAX_KILL_BODY_BYTES,
  },
];

const header = (headers: ProxyRequest["headers"], name: string): string => {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(",") : (v ?? "")).toLowerCase();
};

/** Whether the request may be relayed, and as what: 400 malformed, 403 not allowed, 413 a body. */
export function decide(req: ProxyRequest, opts: PolicyOptions): Decision {
  const target = parseTarget(req.url);
  if (!target.ok) return malformed(target.reason);
  if (header(req.headers, "upgrade") !== "" || /(^|,)\s*upgrade\s*(,|$)/.test(header(req.headers, "connection"))) {
    return deny("connection upgrades (attach, exec) are never allowed");
  }
  const version = VERSIONED.exec(target.value.path);
  const rest = version?.[2] ?? target.value.path;
  for (const rule of RULES) {
    const m = rule.path.exec(rest);
    if (m === null) continue;
    if (rule.method !== req.method) return deny(`${rule.route}: ${rule.method} only`);
    const length = header(req.headers, "content-length");
    if (header(req.headers, "transfer-encoding") !== "")
      return { allow: false, status: 413, reason: "no request body" };
    if (length !== "" && !/^\d{1,12}$/.test(length)) return malformed("bad content-length");
    if (Number(length) > rule.maxBodyBytes) return { allow: false, status: 413, reason: "no request body" };
    const query = rule.query(target.value.query, opts);
    if (typeof query !== "string") return query;
    return {
      allow: true,
      route: rule.route,
      upstreamPath: `${version?.[1] ?? ""}${rest}${query === "" ? "" : `?${query}`}`,
      killTarget: rule.route === "reload-haproxy" ? m[1]! : null,
    };
  }
  return deny("not on the allowlist");
}

/**
 * Pure: whether a container (its labels) may receive the reload signal: the HAProxy of this
 * stack only (the role label, and the same compose project or swarm stack as the proxy).
 */
export function mayReload(
  labels: Readonly<Record<string, string>>,
  selector: Selector,
  stack: Selector | null,
): boolean {
  if (labels[selector.key] !== selector.value) return false;
  return stack === null || labels[stack.key] === stack.value;
}
