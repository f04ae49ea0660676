/**
 * Pure: maintenance asked for by an operator (`sidecar maint <container>`), not by a label. A
 * container in maintenance keeps its server line, in maintenance (`disabled`): no new request
 * goes to it on any replica, its connections finish, and it comes back with `--off`.
 */

/** One container in maintenance. */
export interface MaintenanceEntry {
  /** The container name as the operator gave it (a name, a server name, or an id of 12+). */
  readonly container: string;
  /** Who asked (the CLI's `--by`, else its user). */
  readonly by: string;
  /** Epoch ms it was asked for. */
  readonly since: number;
}

/** An operator's request: put `container` in maintenance (`on`) or take it out. */
export interface MaintenanceRequest {
  readonly container: string;
  readonly on: boolean;
  readonly by: string;
}

/** Container names (Docker: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`), server names and ids. */
export const MAINT_CONTAINER_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
/** Who asked: a user name, an email-like handle. */
export const MAINT_BY_RE = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$/;
/** More than this many entries in the file is not a file we wrote. */
export const MAX_MAINTENANCE_ENTRIES = 10_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses a request body (`{"container": "...", "on": true, "by": "..."}`); a message for a 400 otherwise. */
export function parseMaintenanceRequest(body: string): MaintenanceRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return 'body: JSON like {"container": "compose_webapp_1", "on": true, "by": "alice"}';
  }
  if (!isRecord(v)) return "body: a JSON object";
  const unknown = Object.keys(v).filter((k) => !["container", "on", "by"].includes(k));
  if (unknown.length > 0) return `unknown field ${unknown[0]!.slice(0, 32)}: use container, on and by`;
  const { container, on, by } = v;
  if (typeof container !== "string" || !MAINT_CONTAINER_RE.test(container))
    return "container: a container name, server name or id (letters, digits, '_', '.', '-')";
  if (typeof on !== "boolean") return "on: true or false";
  if (typeof by !== "string" || !MAINT_BY_RE.test(by))
    return "by: who asks, 1-64 letters, digits, '_', '.', '@', '+', '-'";
  return { container, on, by };
}

/**
 * Pure: the entries after a request, and whether it changed anything. On: added (an entry
 * already there keeps who asked first and since when); off: removed. Sorted by container.
 */
export function applyMaintenance(
  entries: readonly MaintenanceEntry[],
  req: MaintenanceRequest,
  nowMs: number,
): { entries: MaintenanceEntry[]; changed: boolean } {
  const has = entries.some((e) => e.container === req.container);
  if (req.on === has) return { entries: [...entries], changed: false };
  const next = req.on
    ? [...entries, { container: req.container, by: req.by, since: nowMs }]
    : entries.filter((e) => e.container !== req.container);
  return { entries: next.sort((a, b) => (a.container < b.container ? -1 : 1)), changed: true };
}

/**
 * Parses the maintenance file (a JSON array of entries). Entries that do not check out are left
 * out, each with a note; a file that is no array is empty, with a note.
 */
export function parseMaintenanceFile(text: string): { entries: MaintenanceEntry[]; notes: string[] } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { entries: [], notes: ["not JSON"] };
  }
  if (!Array.isArray(v)) return { entries: [], notes: ["not a JSON array"] };
  const entries: MaintenanceEntry[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  v.slice(0, MAX_MAINTENANCE_ENTRIES).forEach((e: unknown, i) => {
    if (
      isRecord(e) &&
      typeof e.container === "string" &&
      MAINT_CONTAINER_RE.test(e.container) &&
      typeof e.by === "string" &&
      MAINT_BY_RE.test(e.by) &&
      typeof e.since === "number" &&
      Number.isSafeInteger(e.since) &&
      e.since >= 0 &&
      !seen.has(e.container)
    ) {
      seen.add(e.container);
      entries.push({ container: e.container, by: e.by, since: e.since });
    } else notes.push(`entry ${i}: not a maintenance entry, or one given twice`);
  });
  return { entries: entries.sort((a, b) => (a.container < b.container ? -1 : 1)), notes };
}

/**
 * Whether a backend (its container name, its server name, its id) is one of `names`: a name
 * exactly, or an id by a prefix of 12 or more.
 */
export function inMaintenance(
  names: ReadonlySet<string>,
  backend: { readonly name: string; readonly serverName: string; readonly id: string },
): boolean {
  if (names.size === 0) return false;
  const name = backend.name.replace(/^\/+/, "");
  if (names.has(name) || names.has(backend.serverName) || names.has(backend.id)) return true;
  for (const n of names) if (n.length >= 12 && backend.id.startsWith(n)) return true;
  return false;
}

/** A backend as maintenance names it: its container name, its server name, its id. */
export interface MaintenanceTarget {
  readonly name: string;
  readonly serverName: string;
  readonly id: string;
}

/**
 * Pure: the name an operator gave matches no backend (as {@link inMaintenance} matches), so
 * maintenance would take nothing out: the names it could have meant (sorted, at most `max`), or
 * null when it names one.
 */
export function unknownTarget(container: string, targets: Iterable<MaintenanceTarget>, max = 10): string[] | null {
  const names = new Set([container]);
  const known = new Set<string>();
  for (const t of targets) {
    if (inMaintenance(names, t)) return null;
    known.add(t.name.replace(/^\/+/, ""));
  }
  return [...known].sort().slice(0, max);
}
