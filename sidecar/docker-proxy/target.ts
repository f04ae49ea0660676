/**
 * Pure: a request target and a `filters` parameter, parsed strictly. Whatever this cannot read
 * unambiguously is malformed (a 400), never guessed at: the proxy rebuilds every request it
 * relays from what it read here, so a parser that disagrees with Docker's can change nothing.
 */

/** Longer request targets are malformed (the sidecar's longest, a task listing, stays far below). */
export const MAX_TARGET_LENGTH = 8192;
/** At most this many values under one filter key, each at most this long. */
export const MAX_FILTER_VALUES = 256;
export const MAX_FILTER_VALUE_LENGTH = 512;

/** A request target in origin form: its path as sent (never decoded) and its decoded query. */
export interface Target {
  /** As sent: a route matches only unreserved characters, so nothing encoded ever matches. */
  readonly path: string;
  readonly query: ReadonlyMap<string, string>;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** Percent-decoding that says when the input is not valid (a lone `%`, an invalid UTF-8 sequence). */
function decode(s: string, plusIsSpace: boolean): string | null {
  try {
    return decodeURIComponent(plusIsSpace ? s.replace(/\+/g, " ") : s);
  } catch {
    return null;
  }
}

/**
 * `/v1.41/containers/json?all=false&filters=…` → its path and query. Malformed: anything but
 * origin form (`http://…`, `//host`, `*`), longer than MAX_TARGET_LENGTH, characters outside
 * printable ASCII, a fragment, bad percent-encoding, an empty or repeated parameter name.
 */
export function parseTarget(raw: string): Parsed<Target> {
  if (raw.length > MAX_TARGET_LENGTH) return bad(`request target longer than ${MAX_TARGET_LENGTH} characters`);
  if (!raw.startsWith("/") || raw.startsWith("//")) return bad("request target is not a path (origin form)");
  if (!/^[\x21-\x7e]*$/.test(raw)) return bad("request target has characters outside printable ASCII");
  if (raw.includes("#")) return bad("request target has a fragment");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  if (decode(path, false) === null) return bad("bad percent-encoding in the path");
  const query = new Map<string, string>();
  const text = q < 0 ? "" : raw.slice(q + 1);
  for (const piece of text === "" ? [] : text.split("&")) {
    const eq = piece.indexOf("=");
    const key = decode(eq < 0 ? piece : piece.slice(0, eq), true);
    const value = decode(eq < 0 ? "" : piece.slice(eq + 1), true);
    if (key === null || value === null) return bad("bad percent-encoding in the query");
    if (key === "") return bad("empty query parameter name");
    if (query.has(key)) return bad(`query parameter ${JSON.stringify(key.slice(0, 64))} given twice`);
    query.set(key, value);
  }
  return ok({ path, query });
}

/**
 * Docker's `filters` parameter → key → values. Only the list form (`{"label":["a=b"]}`) is read;
 * anything else (not JSON, not an object, Docker's older `{"label":{"a=b":true}}` form, values
 * that are not strings, too many or too long) is malformed.
 */
export function parseFilters(raw: string): Parsed<ReadonlyMap<string, readonly string[]>> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return bad("filters is not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return bad("filters is not a JSON object");
  const filters = new Map<string, readonly string[]>();
  for (const [key, values] of Object.entries(json)) {
    if (!Array.isArray(values) || !values.every((v): v is string => typeof v === "string")) {
      return bad(`filters ${JSON.stringify(key.slice(0, 64))}: not a list of strings`);
    }
    if (values.length > MAX_FILTER_VALUES) return bad(`filters ${JSON.stringify(key.slice(0, 64))}: too many values`);
    if (values.some((v) => v.length > MAX_FILTER_VALUE_LENGTH)) {
      return bad(`filters ${JSON.stringify(key.slice(0, 64))}: a value is too long`);
    }
    filters.set(key, values);
  }
  return ok(filters);
}
