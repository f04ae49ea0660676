/**
 * Pure: what a replica routes, reduced to a digest that two replicas share exactly when they
 * route alike: the structure (config id: backends, frontends, options) and every server that
 * takes requests, with its id, address, port, weight and admin state. Health is left out (each
 * replica checks its servers on its own); so is a server in maintenance (it routes nothing, as a
 * drained server waiting for its deletion).
 */
import type { RunningServer } from "../haproxy/parse";
import { sha256Hex } from "../render/render";
import type { ServerLine } from "../render/server-lines";
import { wantsMaint, withReadied } from "./runtime-plan";

/** One server that takes requests. */
export interface RoutedEntry {
  /** Null where the config lets HAProxy pick (a line without `id`). */
  readonly id: number | null;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /** `drain`: sticky requests only. */
  readonly admin: "ready" | "drain";
}

/** What a replica routes, or is meant to: its structure and its servers by `backend/server`. */
export interface Routes {
  readonly configId: string;
  readonly servers: ReadonlyMap<string, RoutedEntry>;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What a render routes once applied: every server ready, but those drained early (`drained`,
 * by `backend/server`): a kill or a swarm shutdown took them out before the pass that drops them;
 * and those in maintenance (`disabled`): an operator's, or held until they listen, but for
 * those made ready early (`readied`): they listen, and the pass that routes them follows.
 */
export function wantedRoutes(
  rendered: {
    readonly configId: string;
    readonly servers: ReadonlyMap<string, ServerLine>;
    readonly held?: ReadonlySet<string>;
  },
  drained: ReadonlySet<string> = new Set(),
  readied: ReadonlySet<string> = new Set(),
): Routes {
  const servers = new Map<string, RoutedEntry>();
  withReadied(rendered, readied).forEach((l, key) => {
    if (!drained.has(key) && !wantsMaint(l))
      servers.set(key, { id: l.id, address: l.address, port: l.port, weight: l.weight, admin: "ready" });
  });
  return { configId: rendered.configId, servers };
}

/**
 * What a replica routes, from what it read back. A server whose line has no `id` is compared
 * without one (HAProxy numbered it); every other id counts.
 */
export function runningRoutes(
  read: { readonly configId: string; readonly servers: ReadonlyMap<string, RunningServer> },
  lines: ReadonlyMap<string, ServerLine>,
): Routes {
  const servers = new Map<string, RoutedEntry>();
  read.servers.forEach((r, key) => {
    if (r.maint) return;
    servers.set(key, {
      id: lines.get(key)?.id === null ? null : r.id,
      address: r.address,
      port: r.port,
      weight: r.weight,
      admin: r.drain ? "drain" : "ready",
    });
  });
  return { configId: read.configId, servers };
}

const entryText = (key: string, e: RoutedEntry): string =>
  `${key} ${e.id ?? "-"} ${e.address}:${e.port} ${e.weight} ${e.admin}`;

const sameEntry = (x: RoutedEntry, y: RoutedEntry): boolean =>
  x.id === y.id && x.address === y.address && x.port === y.port && x.weight === y.weight && x.admin === y.admin;

/**
 * Each server's line in the last digest of a series (what one fleet wants, pass after pass),
 * kept for the next: it differs by a few servers, and a thousand lines made again were the
 * largest part of a digest's garbage.
 */
export type EntryTexts = Map<string, { readonly entry: RoutedEntry; readonly text: string }>;

/**
 * The digest of `routes`: 16 hex digits of a sha256 over them, in sorted order. `texts`: the
 * lines of the series' last digest, taken where a server is unchanged and brought up to date.
 */
export function routesDigest(routes: Routes, texts?: EntryTexts): string {
  const lines: string[] = [];
  routes.servers.forEach((e, key) => {
    const kept = texts?.get(key);
    if (kept !== undefined && sameEntry(kept.entry, e)) return void lines.push(kept.text);
    const text = entryText(key, e);
    texts?.set(key, { entry: e, text });
    lines.push(text);
  });
  if (texts !== undefined && texts.size > routes.servers.size)
    texts.forEach((_, key) => routes.servers.has(key) || texts.delete(key));
  // sort()'s own order is compareText's (UTF-16 code units), without a call per comparison.
  lines.sort();
  lines.unshift(`config ${routes.configId}`);
  return sha256Hex(lines.join("\n")).slice(0, 16);
}

/**
 * Whether two routes are the same (and so have the same digest), compared server by server:
 * no text made, nothing sorted. What a replica reads back is mostly what was wanted, whose
 * digest is known already; at a thousand servers, digesting every read back again was a tenth
 * of a pass's garbage.
 */
export function sameRoutes(a: Routes, b: Routes): boolean {
  if (a.configId !== b.configId || a.servers.size !== b.servers.size) return false;
  let same = true;
  // forEach: see planRuntime (runtime-plan.ts).
  a.servers.forEach((x, key) => {
    const y = same ? b.servers.get(key) : undefined;
    same = y !== undefined && sameEntry(x, y);
  });
  return same;
}

/** What differs between what is wanted and what runs, in words, one item a server (sorted). */
export function routesDrift(wanted: Routes, running: Routes): string[] {
  const out: string[] = [];
  if (running.configId !== wanted.configId)
    out.push(`config ${running.configId.slice(0, 12) || "(none)"}, not ${wanted.configId.slice(0, 12)}`);
  const keys = [...new Set([...wanted.servers.keys(), ...running.servers.keys()])].sort(compareText);
  for (const key of keys) {
    const w = wanted.servers.get(key);
    const r = running.servers.get(key);
    if (w === undefined) out.push(`${key} routed, not wanted`);
    else if (r === undefined) out.push(`${key} not routed (missing or in maintenance)`);
    else {
      const diff: string[] = [];
      if (r.admin !== w.admin) diff.push(r.admin === "drain" ? "draining" : "ready");
      if (r.address !== w.address || r.port !== w.port)
        diff.push(`at ${r.address}:${r.port}, not ${w.address}:${w.port}`);
      if (r.weight !== w.weight) diff.push(`weight ${r.weight}, not ${w.weight}`);
      if (r.id !== w.id) diff.push(`id ${r.id ?? "-"}, not ${w.id ?? "-"}`);
      if (diff.length > 0) out.push(`${key} ${diff.join(", ")}`);
    }
  }
  return out;
}
