/**
 * Pure: which Docker Engine API requests the sidecar may make. An exact allowlist of method and
 * anchored path (with or without the `/v1.xx` prefix), and nothing else: what filtering proxies
 * got wrong elsewhere was matching by prefix (which lets `/containers/{id}/archive` and
 * `/export` through with "read" access) and allowing POST (which lets exec, kill and delete
 * through). Upgrades (attach, exec's hijacked streams) are never allowed.
 */

export interface ProxyRequest {
  readonly method: string;
  /** The raw request target, path and query (`/v1.41/containers/json?all=1`). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type Decision =
  | {
      readonly allow: true;
      readonly rule: string;
      /** A long-lived stream (the event stream): no request timeout. */
      readonly stream: boolean;
      /** The container a kill is for: the proxy checks it is this stack's HAProxy first. */
      readonly killTarget: string | null;
    }
  | { readonly allow: false; readonly reason: string };

const VERSION = String.raw`(?:/v1\.\d{1,3})?`;
/** A container, network, service, task or node id or name: never a `/`, `%` or leading `.`. */
const ID = String.raw`[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`;

interface Rule {
  readonly name: string;
  readonly methods: readonly string[];
  readonly path: RegExp;
  readonly stream?: boolean;
  /** Allowed query: every parameter must be listed, with a value matching its pattern. */
  readonly query?: Readonly<Record<string, RegExp>>;
  readonly kill?: boolean;
}

const READ = ["GET", "HEAD"];
const anchored = (p: string): RegExp => new RegExp(`^${VERSION}${p}$`);

/** Everything the sidecar reads, and the one write a reload needs. */
export const RULES: readonly Rule[] = [
  { name: "ping", methods: READ, path: anchored("/_ping") },
  { name: "version", methods: READ, path: anchored("/version") },
  { name: "list containers", methods: READ, path: anchored("/containers/json") },
  { name: "inspect a container", methods: READ, path: anchored(`/containers/${ID}/json`) },
  { name: "events", methods: ["GET"], path: anchored("/events"), stream: true },
  { name: "list networks", methods: READ, path: anchored("/networks") },
  { name: "inspect a network", methods: READ, path: anchored(`/networks/${ID}`) },
  { name: "list services", methods: READ, path: anchored("/services") },
  { name: "inspect a service", methods: READ, path: anchored(`/services/${ID}`) },
  { name: "list tasks", methods: READ, path: anchored("/tasks") },
  { name: "inspect a task", methods: READ, path: anchored(`/tasks/${ID}`) },
  { name: "list nodes", methods: READ, path: anchored("/nodes") },
  { name: "inspect a node", methods: READ, path: anchored(`/nodes/${ID}`) },
  {
    name: "reload haproxy (SIGUSR2)",
    methods: ["POST"],
    path: anchored(`/containers/(${ID})/kill`),
    query: { signal: /^(SIGUSR2|USR2)$/ },
    kill: true,
  },
];

const header = (headers: ProxyRequest["headers"], name: string): string => {
  const v = headers[name];
  return (Array.isArray(v) ? v.join(",") : (v ?? "")).toLowerCase();
};

export function decide(req: ProxyRequest): Decision {
  if (header(req.headers, "upgrade") !== "" || /(^|,)\s*upgrade\s*(,|$)/.test(header(req.headers, "connection"))) {
    return { allow: false, reason: "connection upgrades (attach, exec) are never allowed" };
  }
  const q = req.url.indexOf("?");
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : req.url.slice(q + 1));
  for (const rule of RULES) {
    const m = rule.path.exec(path);
    if (m === null || !rule.methods.includes(req.method)) continue;
    if (rule.query !== undefined) {
      const allowed = rule.query;
      const keys = [...query.keys()];
      const ok =
        keys.length === Object.keys(allowed).length && keys.every((k) => allowed[k]?.test(query.get(k) ?? "") === true);
      if (!ok)
        return { allow: false, reason: `${rule.name}: only ${Object.keys(allowed).join(", ")} with the allowed value` };
    }
    return {
      allow: true,
      rule: rule.name,
      stream: rule.stream === true,
      killTarget: rule.kill === true ? m[1]! : null,
    };
  }
  return { allow: false, reason: "not on the allowlist" };
}

/**
 * Pure: whether a container (its labels) may receive the reload signal: the HAProxy of this
 * stack only (the role label, and the same compose project or swarm stack as the proxy).
 */
export function mayReload(
  labels: Readonly<Record<string, string>>,
  selector: { readonly key: string; readonly value: string },
  stack: { readonly key: string; readonly value: string } | null,
): boolean {
  if (labels[selector.key] !== selector.value) return false;
  return stack === null || labels[stack.key] === stack.value;
}
