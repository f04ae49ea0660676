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

/** A line's first word, comments aside ("" for none): what most lines are known by, cheaply. */
const headOf = (line: string): string => /^\s*([^\s#]*)/.exec(line)![1]!;

const isBlank = (code: number): boolean => code === 32 || (code >= 9 && code <= 13);

/**
 * Whether a line's first word is `server` (headOf's, with nothing allocated: a render reads a
 * thousand server lines twice, and a regular expression's match is an array and a string).
 */
function isServerLine(line: string): boolean {
  let i = 0;
  while (i < line.length && isBlank(line.charCodeAt(i))) i++;
  if (!line.startsWith("server", i)) return false;
  const next = line.charCodeAt(i + 6);
  return Number.isNaN(next) || isBlank(next) || next === 35; // the end, a blank or a "#"
}

/**
 * Server lines already read, by their text: a render differs from the last one by a few servers,
 * and at a thousand servers reading every line again was most of a render (its garbage, above
 * all: V8 runs with small young generations here). Bounded: see remember().
 */
let known = new Map<string, Known>();

/** A server line as read, and what it was read under; `raw` is the copy it is known by. */
interface Known {
  readonly raw: string;
  readonly proxy: string;
  readonly defaults: string;
  readonly line: ServerLine;
}

/** Keeps what a large text's servers read as (≥ 64 servers), dropping lines no longer seen. */
function remember(seen: Map<string, Known>): void {
  if (seen.size >= 64 && known.size > 2 * seen.size + 1024) known = seen;
  else if (known.size > 16_384) known = seen;
  // forEach: see planRuntime (apply/runtime-plan.ts).
  else seen.forEach((entry, raw) => known.set(raw, entry));
}

/** Servers by `backend/server`, in file order. */
export function parseServerLines(text: string): Map<string, ServerLine> {
  const out = new Map<string, ServerLine>();
  const seen = new Map<string, Known>();
  let defaultsOptions: string[] = [];
  let section = "";
  let proxy: string | null = null;
  let proxyOptions: string[] = [];
  let defaults = "";
  const lines = text.split("\n");
  // By index: a for…of steps an iterator, an object a line (see planRuntime, apply/runtime-plan.ts).
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const server = isServerLine(raw);
    if (!server) {
      const first = headOf(raw);
      if (first !== "default-server" && !SECTIONS.has(first)) continue;
    }
    if (server && proxy !== null) {
      const hit = known.get(raw);
      if (hit !== undefined && hit.proxy === proxy && hit.defaults === defaults) {
        out.set(`${proxy}/${hit.line.name}`, hit.line);
        seen.set(hit.raw, hit);
        continue;
      }
    }
    // Every line read further is a copy: a line cut out of the text by split() is a slice that
    // holds on to the whole text, and what `known` keeps of it (a server's words, its backend's
    // name, its default-server options) would keep the text of every render in memory.
    const own = Buffer.from(raw).toString();
    const t = tokens(own);
    const head = t[0];
    if (head === undefined) continue;
    if (SECTIONS.has(head)) {
      section = head;
      proxy = PROXIES.has(head) ? (t[1] ?? null) : null;
      if (head === "defaults") defaultsOptions = [];
      proxyOptions = [...defaultsOptions];
      defaults = proxyOptions.join(" ");
      continue;
    }
    if (head === "default-server") {
      if (section === "defaults") defaultsOptions.push(...t.slice(1));
      else proxyOptions.push(...t.slice(1));
      defaults = proxyOptions.join(" ");
      continue;
    }
    if (head !== "server" || proxy === null || t.length < 3) continue;
    const [, name, endpoint] = t as [string, string, string];
    const colon = endpoint.lastIndexOf(":");
    const options = [...proxyOptions, ...t.slice(3)];
    const line: ServerLine = {
      backend: proxy,
      name,
      address: colon < 0 ? endpoint : endpoint.slice(0, colon),
      port: colon < 0 ? 0 : Number(endpoint.slice(colon + 1)),
      options,
      weight: Number(optionValue(options, "weight") ?? 1),
      id: idOf(optionValue(options, "id")),
    };
    out.set(`${proxy}/${name}`, line);
    seen.set(own, { raw: own, proxy, defaults, line });
  }
  remember(seen);
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
    .filter((l) => !isServerLine(l))
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
