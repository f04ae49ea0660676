/**
 * Pure: what a request to the status server names (its target and its Host), read without
 * `new URL`, which throws on targets Node's HTTP parser lets through (`http://[/`,
 * `http://a:99999/`, `//[/status`…). Each check answers a value or a message naming what is
 * wrong, for a 400; none throws, whatever the input.
 */
import { isIPv4, isIPv6 } from "node:net";

/** A request target, split. */
export interface RequestTarget {
  /** The path as sent, never decoded: routes are compared literally. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The authority of an absolute-form target (`http://host:port/path`), which stands for Host; null otherwise. */
  readonly authority: string | null;
}

/** A host and its port, from a Host header or an absolute-form target. */
export interface HostPort {
  /** Lowercase; an IPv6 literal keeps its brackets. */
  readonly host: string;
  readonly port: number | null;
  readonly ipLiteral: boolean;
}

/** Node caps the whole head at 16 KiB; a target this long is never one of ours. */
export const MAX_TARGET_LENGTH = 8192;

// RFC 3986: a path is segments of pchar (unreserved, sub-delims, ':', '@', %HH) and '/'.
const PATH_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]$/;
const PERCENT = /%(?![0-9A-Fa-f]{2})/;
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)(.*)$/;
/** A DNS name, lowercase; Docker's aliases allow '_', which browsers accept in names too. */
export const DNS_NAME_RE = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** Shows a piece of the input in a message: bounded, so that an error never echoes a whole target. */
export const clip = (text: string, max = 64): string => (text.length > max ? `${text.slice(0, max)}…` : text);

const charName = (c: string): string =>
  /^[\x21-\x7e]$/.test(c) ? `'${c}'` : `0x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/** The target of a request line: origin-form (`/path?query`) or absolute-form (`http://host/path`). */
export function parseRequestTarget(raw: string): RequestTarget | string {
  if (raw.length === 0) return "empty request target";
  if (raw.length > MAX_TARGET_LENGTH) return `request target longer than ${MAX_TARGET_LENGTH} characters`;
  for (const c of raw) if (!/^[\x21-\x7e]$/.test(c)) return `request target: character ${charName(c)} not allowed`;
  if (raw.includes("#")) return "request target: '#' not allowed (a fragment is never sent)";
  if (raw === "*") return "asterisk-form (*) is not served: ask for a path, like /status";
  if (raw.startsWith("/")) return originForm(raw, null);
  const abs = ABSOLUTE.exec(raw);
  if (abs === null) return `request target ${clip(raw)}: must be a path (/status) or an absolute http URL`;
  const [, scheme, authority, rest] = abs as unknown as [string, string, string, string];
  if (!/^https?$/i.test(scheme)) return `scheme ${clip(scheme)}: only http is served`;
  const hp = parseHostPort(authority);
  if (typeof hp === "string") return `request target: ${hp}`;
  if (rest === "" || rest.startsWith("?")) return originForm(`/${rest}`, authority);
  return originForm(rest, authority);
}

function originForm(target: string, authority: string | null): RequestTarget | string {
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  for (const c of path) if (!PATH_CHAR.test(c)) return `path ${clip(path)}: character ${charName(c)} not allowed`;
  if (PERCENT.test(path)) return `path ${clip(path)}: '%' must start a %XX escape`;
  if (PERCENT.test(query)) return `query ${clip(query)}: '%' must start a %XX escape`;
  // URLSearchParams never throws: a %XX that is not UTF-8 becomes U+FFFD.
  return { path, query: new URLSearchParams(query), authority };
}

/**
 * `host[:port]` (a Host header, or an absolute URL's authority): a DNS name, an IPv4 literal
 * or a bracketed IPv6 literal, then an optional port up to 65535. No user info, no escapes.
 */
export function parseHostPort(text: string): HostPort | string {
  if (text === "") return "empty host";
  if (text.includes("@")) return `host ${clip(text)}: user info (user@) not allowed`;
  let host: string;
  let rest: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return `host ${clip(text)}: '[' without ']'`;
    host = text.slice(0, close + 1);
    rest = text.slice(close + 1);
    if (!isIPv6(host.slice(1, -1))) return `host ${clip(host)}: not an IPv6 address`;
  } else {
    const colon = text.indexOf(":");
    host = colon < 0 ? text : text.slice(0, colon);
    rest = colon < 0 ? "" : text.slice(colon);
  }
  let port: number | null = null;
  if (rest !== "") {
    if (!/^:[0-9]{0,5}$/.test(rest)) return `host ${clip(text)}: a port is 1 to 5 digits after one ':'`;
    if (rest.length > 1) {
      port = Number(rest.slice(1));
      if (port > 65535) return `port ${port}: out of range (0-65535)`;
    }
  }
  if (host.startsWith("[")) return { host: host.toLowerCase(), port, ipLiteral: true };
  if (host === "") return `host ${clip(text)}: empty name`;
  const lower = host.toLowerCase();
  for (const c of lower)
    if (!/^[a-z0-9._-]$/.test(c)) return `host ${clip(host)}: character ${charName(c)} not allowed in a name`;
  if (isIPv4(lower)) return { host: lower, port, ipLiteral: true };
  if (lower.length > 253 || !DNS_NAME_RE.test(lower)) return `host ${clip(host)}: not a DNS name`;
  return { host: lower, port, ipLiteral: false };
}

/** What the Host check says: served, or the status and message of a refusal. */
export type HostVerdict =
  { readonly ok: true } | { readonly ok: false; readonly status: 400 | 421; readonly error: string };

/**
 * Against DNS rebinding (a web page whose name is made to resolve to this host, reading the
 * status page through the visitor's browser): only a Host that is an IP literal (any port),
 * `localhost`, or a name in `allowed` (lowercase) is served. `host` is the absolute-form
 * target's authority when there is one (it stands for the header), else the Host header.
 */
export function checkHost(host: string | undefined, allowed: ReadonlySet<string>): HostVerdict {
  if (host === undefined) return { ok: false, status: 400, error: "a Host header is required" };
  const hp = parseHostPort(host);
  if (typeof hp === "string") return { ok: false, status: 400, error: `Host: ${hp}` };
  if (hp.ipLiteral || hp.host === "localhost" || allowed.has(hp.host)) return { ok: true };
  return {
    ok: false,
    status: 421,
    error: `Host ${clip(hp.host)} is not served here: use an IP address or localhost, or add the name to LB_STATUS_HOSTS`,
  };
}
