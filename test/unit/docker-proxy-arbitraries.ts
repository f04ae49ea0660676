/**
 * For the Docker API proxy's property tests: generators of requests (the sidecar's own, mutated
 * ones, and garbage) and an oracle that says, independently of the policy's code, whether a
 * request that reaches Docker is one the sidecar makes.
 */
import fc from "fast-check";

export const POLICY = { labelPrefix: "heig.lb", reloadSelector: { key: "heig.lb.role", value: "haproxy" } };

const EVENT_TYPES = ["container", "network", "service", "node"];
const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The oracle: `method target`, as Docker would receive it, is one of the sidecar's requests.
 * Read with WHATWG's URL parser (not the policy's), and required to be already normal: a target
 * that a parser would rewrite (dot segments, encoded characters) is off the list.
 */
export function onAllowlist(method: string, target: string): boolean {
  let url: URL;
  try {
    url = new URL(target, "http://docker");
  } catch {
    return false;
  }
  if (url.origin !== "http://docker" || `${url.pathname}${url.search}` !== target || url.hash !== "") return false;
  const path = url.pathname.replace(/^\/v1\.\d+(?=\/)/, "");
  const keys = [...url.searchParams.keys()];
  const filters = (): Record<string, unknown> | null => {
    try {
      const f: unknown = JSON.parse(url.searchParams.get("filters") ?? "");
      return typeof f === "object" && f !== null && !Array.isArray(f) ? (f as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  const listOf = (v: unknown, ok: (s: string) => boolean): boolean =>
    Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string" && ok(s));
  const exactly = (f: Record<string, unknown> | null, allowed: string[]): f is Record<string, unknown> =>
    f !== null && Object.keys(f).every((k) => allowed.includes(k));

  if (method === "GET" && (path === "/_ping" || path === "/services")) return keys.length === 0;
  if (method === "GET" && path.startsWith("/containers/") && path.endsWith("/json") && path !== "/containers/json") {
    const id = path.slice("/containers/".length, -"/json".length);
    return NAME.test(id) && keys.length === 0;
  }
  if (method === "GET" && path === "/containers/json") {
    const f = filters();
    if (!keys.every((k) => k === "all" || k === "filters") || !exactly(f, ["label", "network", "status"])) return false;
    const all = url.searchParams.get("all");
    const labels = f.label;
    return (
      (all === null || all === "false" || all === "0") &&
      (f.network === undefined || listOf(f.network, (s) => NAME.test(s))) &&
      (f.status === undefined || listOf(f.status, (s) => STATUSES.includes(s))) &&
      listOf(labels, () => true) &&
      (labels as string[]).some(
        (l) => l === "heig.lb.enable" || l.startsWith("heig.lb.enable=") || l === "heig.lb.role=haproxy",
      )
    );
  }
  if (method === "GET" && path === "/events") {
    const f = filters();
    return keys.length === 1 && exactly(f, ["type"]) && listOf(f.type, (s) => EVENT_TYPES.includes(s));
  }
  if (method === "GET" && path === "/tasks") {
    const f = filters();
    return keys.length === 1 && exactly(f, ["service"]) && listOf(f.service, (s) => NAME.test(s));
  }
  if (method === "POST" && /^\/containers\/[^/]+\/kill$/.test(path)) {
    const id = path.slice("/containers/".length, -"/kill".length);
    const signal = url.searchParams.get("signal");
    return NAME.test(id) && keys.length === 1 && (signal === "SIGUSR2" || signal === "USR2");
  }
  return false;
}

const filterValue = fc.oneof(
  fc.constantFrom(
    "heig.lb.enable",
    "heig.lb.enable=true",
    "heig.lb.role=haproxy",
    "heig.lb.role",
    "heig.lb.enablex",
    "heig",
    "running",
    "sleeping",
    ...EVENT_TYPES,
    "image",
    "abc",
    "com.docker.compose.project=hs",
    "../x",
    "",
  ),
  fc.string({ maxLength: 8 }),
);
const filterKey = fc.constantFrom(
  "label",
  "network",
  "status",
  "type",
  "service",
  "name",
  "container",
  "event",
  "desired-state",
  "__proto__",
);
const filtersJson = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(filterKey, fc.array(filterValue, { maxLength: 3 }), { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const paramValue = fc.oneof(
  filtersJson.map((f) => JSON.stringify(f)),
  fc.constantFrom("false", "true", "0", "1", "SIGUSR2", "USR2", "SIGKILL", "9", ""),
  fc.string({ maxLength: 8 }),
);
const paramName = fc.constantFrom("filters", "all", "signal", "size", "since", "until", "x", "Filters");
/** One parameter, usually encoded as a client would, sometimes raw (bad percent-encoding, `&`, `#`). */
const param = fc
  .tuple(paramName, paramValue, fc.nat(9))
  .map(([k, v, how]) => (how === 0 ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`));

const segment = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "containers",
      "json",
      "kill",
      "events",
      "_ping",
      "version",
      "images",
      "exec",
      "archive",
      "export",
      "logs",
      "attach",
      "create",
      "start",
      "services",
      "tasks",
      "nodes",
      "networks",
      "secrets",
      "info",
      "v1.41",
      "v1.24",
      "..",
      ".",
      "",
      "%2e%2e",
      "%2F",
      "%",
      "%zz",
      "abc123",
      "compose_ha_1",
      ".hidden",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.webSegment() },
);
const path = fc.oneof(
  { weight: 8, arbitrary: fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join("/")}`) },
  { weight: 1, arbitrary: fc.constantFrom("//x/_ping", "http://[/", "http://docker/_ping", "*", "_ping") },
);

/** The requests the sidecar sends, as dockerode writes them. */
export const sidecarRequests: Array<[string, string]> = [
  ["GET", "/_ping"],
  ["GET", `/containers/json?all=false&filters=${enc({ label: ["heig.lb.enable"], network: ["heig"] })}`],
  [
    "GET",
    `/containers/json?filters=${enc({ label: ["heig.lb.role=haproxy", "com.docker.compose.project=hs"], status: ["running"] })}`,
  ],
  ["GET", "/containers/hs_sidecar_1/json"],
  ["GET", `/events?filters=${enc({ type: ["container", "network"] })}`],
  ["GET", `/events?filters=${enc({ type: ["service", "node", "container"] })}`],
  ["GET", "/services"],
  ["GET", `/tasks?filters=${enc({ service: ["svc1", "svc2"] })}`],
  ["POST", "/containers/hs_ha_1/kill?signal=SIGUSR2"],
];

function enc(filters: unknown): string {
  return encodeURIComponent(JSON.stringify(filters));
}

/** A sidecar request with exactly one thing changed: a version prefix, a parameter, a method. */
const mutated = fc
  .tuple(
    fc.constantFrom(...sidecarRequests),
    fc.oneof(
      fc.constantFrom("/v1.41", "/v1.9999", "/v2", "/v1.41/v1.41").map((version) => ({ version })),
      param.map((extra) => ({ extra })),
      fc.constantFrom("GET", "HEAD", "POST", "DELETE", "PUT").map((method) => ({ method })),
    ),
  )
  .map(([[method, url], change]) => ({
    method: "method" in change ? change.method : method,
    url: `${"version" in change ? change.version : ""}${url}${"extra" in change ? `${url.includes("?") ? "&" : "?"}${change.extra}` : ""}`,
  }));

/** A route that takes filters, with random ones (often close to the sidecar's). */
const filtered = fc
  .tuple(
    fc.constantFrom("/containers/json", "/events", "/tasks", "/services", "/containers/abc/json"),
    fc.dictionary(filterKey, fc.array(filterValue, { minLength: 1, maxLength: 3 }), { minKeys: 1, maxKeys: 2 }),
    fc.constantFrom("", "all=false&", "all=true&", "all=0&"),
  )
  .map(([p, filters, all]) => ({
    method: "GET",
    url: `${p}?${p === "/containers/json" ? all : ""}filters=${enc(filters)}`,
  }));

const random = fc
  .tuple(
    fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
    path,
    fc.array(param, { maxLength: 3 }),
  )
  .map(([method, p, ps]) => ({ method, url: ps.length === 0 ? p : `${p}?${ps.join("&")}` }));

/** A request line: the sidecar's own, one change away from it, with random filters, or random. */
export const requestLine = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...sidecarRequests).map(([method, url]) => ({ method, url })) },
  { weight: 2, arbitrary: mutated },
  { weight: 3, arbitrary: filtered },
  { weight: 4, arbitrary: random },
);

/** Headers that matter to the policy (upgrades, bodies), and some that do not. */
export const requestHeaders = fc.dictionary(
  fc.constantFrom("upgrade", "connection", "content-length", "transfer-encoding", "content-type", "x-registry-auth"),
  fc.constantFrom(
    "tcp",
    "Upgrade",
    "keep-alive, upgrade",
    "keep-alive",
    "0",
    "20",
    "300",
    "chunked",
    "application/json",
  ),
  { maxKeys: 2 },
);
