/**
 * Pure: the `server` lines of a rendered haproxy.cfg, read back as data. The runtime API adds
 * servers with exactly the options the template gives them; dynamic servers inherit nothing
 * from `default-server`, so those options are folded in here, in the order HAProxy applies them.
 */

/** One server as the config declares it. */
export interface ServerLine {
  readonly backend: string;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** `default-server` options (defaults section, then the backend's), then the line's own. */
  readonly options: readonly string[];
  /** The weight those options give (HAProxy's default: 1). */
  readonly weight: number;
  /** Its `id` option (see assignServerIds), null when the line sets none (HAProxy picks one). */
  readonly id: number | null;
}

const SECTIONS = new Set([
  "global",
  "defaults",
  "frontend",
  "backend",
  "listen",
  "peers",
  "resolvers",
  "userlist",
  "mailers",
  "program",
  "http-errors",
  "ring",
  "cache",
  "log-forward",
  "crt-store",
  "traces",
]);
const PROXIES = new Set(["backend", "listen"]);

const tokens = (line: string): string[] => line.replace(/#.*$/, "").trim().split(/\s+/).filter(Boolean);

/** Servers by `backend/server`, in file order. */
export function parseServerLines(text: string): Map<string, ServerLine> {
  const out = new Map<string, ServerLine>();
  let defaultsOptions: string[] = [];
  let section = "";
  let proxy: string | null = null;
  let proxyOptions: string[] = [];
  for (const raw of text.split("\n")) {
    const t = tokens(raw);
    const head = t[0];
    if (head === undefined) continue;
    if (SECTIONS.has(head)) {
      section = head;
      proxy = PROXIES.has(head) ? (t[1] ?? null) : null;
      if (head === "defaults") defaultsOptions = [];
      proxyOptions = [...defaultsOptions];
      continue;
    }
    if (head === "default-server") {
      if (section === "defaults") defaultsOptions.push(...t.slice(1));
      else proxyOptions.push(...t.slice(1));
      continue;
    }
    if (head !== "server" || proxy === null || t.length < 3) continue;
    const [, name, endpoint] = t as [string, string, string];
    const colon = endpoint.lastIndexOf(":");
    const options = [...proxyOptions, ...t.slice(3)];
    out.set(`${proxy}/${name}`, {
      backend: proxy,
      name,
      address: colon < 0 ? endpoint : endpoint.slice(0, colon),
      port: colon < 0 ? 0 : Number(endpoint.slice(colon + 1)),
      options,
      weight: Number(optionValue(options, "weight") ?? 1),
      id: idOf(optionValue(options, "id")),
    });
  }
  return out;
}

/** The value of the last `keyword value` pair in `options`, or null. */
function optionValue(options: readonly string[], keyword: string): string | null {
  let value: string | null = null;
  for (let i = 0; i < options.length - 1; i++) if (options[i] === keyword) value = options[i + 1]!;
  return value;
}

const idOf = (value: string | null): number | null =>
  value !== null && /^[1-9][0-9]{0,9}$/.test(value) ? Number(value) : null;

/** The text without its `server` lines: what a reload would change besides membership. */
export function stripServerLines(text: string): string {
  return text
    .split("\n")
    .filter((l) => tokens(l)[0] !== "server")
    .join("\n");
}

/**
 * What every server of a backend shares: its options without its weight and id, its own name as
 * a placeholder. Two configs whose servers differ only in names, ids, addresses and weights have
 * the same signatures, and the runtime API can take one to the other (`add server` takes `id`).
 */
export function serverSignature(line: ServerLine): string {
  const kept: string[] = [];
  for (let i = 0; i < line.options.length; i++) {
    if (line.options[i] === "weight" || line.options[i] === "id") {
      i++;
      continue;
    }
    kept.push(line.options[i] === line.name ? "<name>" : line.options[i]!);
  }
  return `${line.backend} ${kept.join(" ")}`;
}

/** The names of the proxies (frontend, backend, listen, defaults, peers…) a config declares. */
export function proxyNames(text: string): string[] {
  const names: string[] = [];
  for (const raw of text.split("\n")) {
    const t = tokens(raw);
    if (t.length >= 2 && SECTIONS.has(t[0]!) && t[0] !== "global") names.push(t[1]!);
  }
  return names;
}
