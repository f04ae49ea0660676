import type { RunningServer } from "../haproxy/parse";
import type { ServerRef } from "../model/types";
import type { ServerLine } from "../render/server-lines";

/** One membership change the runtime API makes without a reload. */
export type RuntimeOp =
  /** A new server: `add server` with the line's options, health checks on, then enabled. */
  | { readonly kind: "add"; readonly line: ServerLine }
  /** A server in maintenance or draining that must route again. */
  | { readonly kind: "ready"; readonly ref: ServerRef }
  | { readonly kind: "set-addr"; readonly ref: ServerRef; readonly address: string; readonly port: number }
  | { readonly kind: "set-weight"; readonly ref: ServerRef; readonly weight: number }
  /** Stop routing to it, in every worker. */
  | { readonly kind: "drain"; readonly ref: ServerRef }
  /** Remove it once it has no connections left (it is in maintenance by then). */
  | { readonly kind: "delete"; readonly ref: ServerRef };

const refOf = (s: { readonly backend: string; readonly name: string }): ServerRef => ({
  backend: s.backend,
  server: s.name,
});

/**
 * Pure: what takes the running servers to the wanted ones. Order matters and is kept: changes of
 * servers that stay (one back from maintenance routes again), then additions, then drains, then
 * deletions. Capacity comes before it goes: a pass that replaces the last servers of a backend
 * (a rolling update) drains the leavers only once their replacements are in, never leaving the
 * backend empty in between; a leaver that still runs serves a few milliseconds more. Backends
 * themselves are never added or removed here: that is a reload.
 */
export function planRuntime(
  wanted: ReadonlyMap<string, ServerLine>,
  running: ReadonlyMap<string, RunningServer>,
): RuntimeOp[] {
  const drains: RuntimeOp[] = [];
  const changes: RuntimeOp[] = [];
  const adds: RuntimeOp[] = [];
  const deletes: RuntimeOp[] = [];
  for (const [key, w] of wanted) {
    const r = running.get(key);
    if (r === undefined) {
      adds.push({ kind: "add", line: w });
      continue;
    }
    if (r.address !== w.address || r.port !== w.port)
      changes.push({ kind: "set-addr", ref: refOf(w), address: w.address, port: w.port });
    if (r.weight !== w.weight) changes.push({ kind: "set-weight", ref: refOf(w), weight: w.weight });
    if (r.maint || r.drain) changes.push({ kind: "ready", ref: refOf(w) });
  }
  for (const [key, r] of running) {
    if (wanted.has(key)) continue;
    if (!r.maint) drains.push({ kind: "drain", ref: refOf(r) });
    deletes.push({ kind: "delete", ref: refOf(r) });
  }
  return [...changes, ...adds, ...drains, ...deletes];
}

/** Whether a running server has another id than its line wants (a line without `id` wants none). */
const otherId = (w: ServerLine, r: RunningServer): boolean => w.id !== null && r.id !== w.id;

/**
 * Pure: the servers that run under another id than their line gives. The runtime API cannot
 * change a server's id (only `add server` sets one): a reload does, from the file.
 */
export function idMismatches(
  wanted: ReadonlyMap<string, ServerLine>,
  running: ReadonlyMap<string, RunningServer>,
): string[] {
  return [...wanted]
    .filter(([key, w]) => {
      const r = running.get(key);
      return r !== undefined && otherId(w, r);
    })
    .map(([key]) => key);
}

/**
 * Pure: whether the running servers are what was wanted (servers still being deleted may
 * linger, in maintenance). The names of those that are not, empty when all are.
 */
export function runtimeDrift(
  wanted: ReadonlyMap<string, ServerLine>,
  running: ReadonlyMap<string, RunningServer>,
): string[] {
  const off: string[] = [];
  for (const [key, w] of wanted) {
    const r = running.get(key);
    if (
      r === undefined ||
      r.address !== w.address ||
      r.port !== w.port ||
      r.weight !== w.weight ||
      otherId(w, r) ||
      r.maint ||
      r.drain
    )
      off.push(key);
  }
  for (const [key, r] of running) if (!wanted.has(key) && !r.maint) off.push(key);
  return off;
}
