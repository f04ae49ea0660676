/** Parsed, validated `heig.lb.*` labels of one container. */
export interface LbLabels {
  readonly enabled: boolean;
  readonly port: number;
  readonly backend: string | null;
  readonly weight: number | null;
  /** Cookie stickiness for the container's backend. */
  readonly sticky: boolean;
  /** `slowstart`: its share of traffic ramps up over this long once it is up; null: none. */
  readonly slowstartMs: number | null;
  /** `drain`: how long a leaving server keeps its open connections; null: the default. */
  readonly drainMs: number | null;
}

export type LabelResult =
  | { readonly ok: true; readonly value: LbLabels }
  | { readonly ok: false; readonly label: string; readonly detail: string };

export const DEFAULT_PORT = 3000;

// Strict patterns: anything outside them (spaces, newlines, '#', quotes, unicode) could inject
// HAProxy directives, so it never reaches the template.
const BOOL_RE = /^(true|false)$/;
const PORT_RE = /^[0-9]{1,5}$/;
const WEIGHT_RE = /^[0-9]{1,3}$/;
/** A duration: digits and one unit (`500ms`, `30s`, `2m`, `1h`). */
const DURATION_RE = /^([0-9]{1,7})(ms|s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
/** The longest slow start and drain a label may ask for. */
export const MAX_LIFECYCLE_MS = 3_600_000;

/**
 * Pure: `500ms`, `30s`, `2m`, `1h` → milliseconds, at most `maxMs`; null for anything else
 * (no spaces, no fractions, no bare numbers: a unit is always said).
 */
export function parseDurationMs(raw: string, maxMs: number): number | null {
  const m = DURATION_RE.exec(raw);
  if (m === null) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms <= maxMs ? ms : null;
}
/** HAProxy proxy names: letters, digits, '-', '_', '.'; we also cap the length. */
export const BACKEND_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * Parses the load-balancer labels under `prefix` (e.g. `heig.lb`). Returns the first label whose
 * value does not match its pattern; never throws.
 */
export function parseLbLabels(labels: Readonly<Record<string, string>>, prefix: string): LabelResult {
  const key = (k: string): string => `${prefix}.${k}`;
  const fail = (k: string, detail: string): LabelResult => ({ ok: false, label: key(k), detail });

  const enable = labels[key("enable")];
  if (enable === undefined)
    return {
      ok: true,
      value: {
        enabled: false,
        port: DEFAULT_PORT,
        backend: null,
        weight: null,
        sticky: false,
        slowstartMs: null,
        drainMs: null,
      },
    };
  if (!BOOL_RE.test(enable)) return fail("enable", "must be true or false");

  let port = DEFAULT_PORT;
  const rawPort = labels[key("port")];
  if (rawPort !== undefined) {
    if (!PORT_RE.test(rawPort)) return fail("port", "must be a number from 1 to 65535");
    port = Number(rawPort);
    if (port < 1 || port > 65535) return fail("port", "must be a number from 1 to 65535");
  }

  let backend: string | null = null;
  const rawBackend = labels[key("backend")];
  if (rawBackend !== undefined) {
    if (!BACKEND_NAME_RE.test(rawBackend)) {
      return fail(
        "backend",
        "must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
      );
    }
    backend = rawBackend;
  }

  let weight: number | null = null;
  const rawWeight = labels[key("weight")];
  if (rawWeight !== undefined) {
    if (!WEIGHT_RE.test(rawWeight)) return fail("weight", "must be a number from 0 to 256");
    weight = Number(rawWeight);
    if (weight > 256) return fail("weight", "must be a number from 0 to 256");
  }

  const rawSticky = labels[key("sticky")];
  if (rawSticky !== undefined && !BOOL_RE.test(rawSticky)) return fail("sticky", "must be true or false");

  const durations: Record<"slowstart" | "drain", number | null> = { slowstart: null, drain: null };
  for (const k of ["slowstart", "drain"] as const) {
    const raw = labels[key(k)];
    if (raw === undefined) continue;
    durations[k] = parseDurationMs(raw, MAX_LIFECYCLE_MS);
    if (durations[k] === null) return fail(k, "must be a duration such as 500ms, 30s or 2m, at most 1h");
  }

  return {
    ok: true,
    value: {
      enabled: enable === "true",
      port,
      backend,
      weight,
      sticky: rawSticky === "true",
      // slowstart 0 is no slow start: HAProxy reads it so too.
      slowstartMs: durations.slowstart === 0 ? null : durations.slowstart,
      drainMs: durations.drain,
    },
  };
}
