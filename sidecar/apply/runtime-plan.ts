import type { RunningServer } from "../haproxy/parse";
import type { RuntimeCommand } from "../haproxy/runtime-client";
import type { ServerRef } from "../model/types";
import type { ServerLine } from "../render/server-lines";

/** One membership change the runtime API makes without a reload. */
export type RuntimeOp =
  /** A new server: `add server` with the line's options, health checks on, then enabled. */
  | { readonly kind: "add"; readonly line: ServerLine }
  /**
   * A server in maintenance or draining that must route again. `line`: it leaves maintenance
   * (see readyCommands: a slow starter ramps up); absent: it only stops draining.
   */
  | { readonly kind: "ready"; readonly ref: ServerRef; readonly line?: ServerLine }
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
  // Servers an operator put in maintenance stay, in maintenance: drained (in every worker), never deleted.
  const maints: RuntimeOp[] = [];
  const changes: RuntimeOp[] = [];
  const adds: RuntimeOp[] = [];
  const deletes: RuntimeOp[] = [];
  // forEach: a for…of over a Map allocates an iterator result and a [key, value] pair a step,
  // and this node runs without the optimising compiler that would do away with them. At a
  // thousand servers, a pass's loops like these made a sixth of its garbage.
  wanted.forEach((w, key) => {
    const r = running.get(key);
    if (r === undefined) {
      adds.push({ kind: "add", line: w });
      return;
    }
    if (r.address !== w.address || r.port !== w.port)
      changes.push({ kind: "set-addr", ref: refOf(w), address: w.address, port: w.port });
    if (r.weight !== w.weight) changes.push({ kind: "set-weight", ref: refOf(w), weight: w.weight });
    if (wantsMaint(w)) {
      if (!r.maint) maints.push({ kind: "drain", ref: refOf(w) });
    } else if (r.maint) changes.push({ kind: "ready", ref: refOf(w), line: w });
    else if (r.drain) changes.push({ kind: "ready", ref: refOf(w) });
  });
  running.forEach((r, key) => {
    if (wanted.has(key)) return;
    if (!r.maint) drains.push({ kind: "drain", ref: refOf(r) });
    deletes.push({ kind: "delete", ref: refOf(r) });
  });
  return [...changes, ...adds, ...maints, ...drains, ...deletes];
}

/** One runtime API command and what its good answer looks like (see RuntimeClient.command). */
export type { RuntimeCommand };

/** Whether a line is `disabled`: in maintenance (`sidecar maint`), routed nothing new. */
export function wantsMaint(line: ServerLine): boolean {
  return line.options.includes("disabled");
}

/** Whether a line asks for a slow start (`slowstart <time>` other than 0). */
export function hasSlowstart(line: ServerLine): boolean {
  return slowstartMsOf(line) > 0;
}

/** A line's slow start in ms (`slowstart 30000ms`, `30s`…), 0 when it has none. */
export function slowstartMsOf(line: ServerLine): number {
  const i = line.options.lastIndexOf("slowstart");
  const m = i < 0 ? null : /^([0-9]+)(ms|s|m|h|d)?$/.exec(line.options[i + 1] ?? "");
  if (m === null) return 0;
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return Number(m[1]) * unit[m[2] ?? "ms"]!;
}

/**
 * Pure: the commands that add one server at runtime, in order. A dynamic server starts in
 * maintenance with its checks off: they are turned on, and it is taken out of maintenance (see
 * readyCommands) unless its line is `disabled`.
 */
export function addServerCommands(line: ServerLine): RuntimeCommand[] {
  const ref = `${line.backend}/${line.name}`;
  const checked = line.options.includes("check");
  const add = {
    command: `add server ${ref} ${line.address}:${line.port} ${line.options.join(" ")}`.trim(),
    success: /^New server registered\.$/,
  };
  // In maintenance it stays as `add server` leaves it, its checks on: `--off` takes it out.
  const health = checked ? [empty(`enable health ${ref}`)] : [];
  return [add, ...health, ...(wantsMaint(line) ? [] : readyCommands(line))];
}

const empty = (command: string): RuntimeCommand => ({ command, success: "empty" });

/**
 * Pure: the commands that take a server added in maintenance (its checks on, not run while it
 * is in maintenance) out of it: a server held until it listens, the moment it does, or one just
 * added. Without a slow start it is UP at once (the sidecar routes only servers that accept
 * connections). HAProxy ramps a server's weight (`slowstart`) only on a transition to UP from
 * DOWN: one enabled straight from maintenance could get its full share at once. So a slow
 * starter is set DOWN while still in maintenance, leaves maintenance, and is set UP: HAProxy
 * then sees DOWN → UP and starts the ramp. Whichever of the last two takes it UP first starts
 * the ramp; the other finds it starting and leaves it.
 */
export function readyCommands(line: ServerLine): RuntimeCommand[] {
  const ref = `${line.backend}/${line.name}`;
  if (!hasSlowstart(line) || !line.options.includes("check")) return [empty(`enable server ${ref}`)];
  return [
    empty(`set server ${ref} health down`),
    empty(`set server ${ref} state ready`),
    empty(`set server ${ref} health up`),
  ];
}

/**
 * Pure: the lines to apply, once the servers made ready early (`readied`, by `backend/server`:
 * they were held until they listened, and they do now) are taken as ready. Only a line held in
 * `rendered` changes: one in an operator's maintenance stays so.
 */
export function withReadied(
  rendered: { readonly servers: ReadonlyMap<string, ServerLine>; readonly held?: ReadonlySet<string> },
  readied: ReadonlySet<string>,
): ReadonlyMap<string, ServerLine> {
  const held = rendered.held;
  if (held === undefined || readied.size === 0) return rendered.servers;
  let out: Map<string, ServerLine> | null = null;
  for (const key of readied) {
    const line = held.has(key) ? rendered.servers.get(key) : undefined;
    if (line === undefined) continue;
    out ??= new Map(rendered.servers);
    out.set(key, { ...line, options: line.options.filter((o) => o !== "disabled") });
  }
  return out ?? rendered.servers;
}

/**
 * Pure: the commands that delete a server planned for deletion. `force`: it has been draining
 * for its whole drain time (heig.lb.drain, else the default), so the sessions it still has are
 * shut first; otherwise `del server` is refused while it has connections and it waits.
 */
export function deleteServerCommands(ref: ServerRef, force: boolean): RuntimeCommand[] {
  const name = `${ref.backend}/${ref.server}`;
  return [
    ...(force ? [{ command: `shutdown sessions server ${name}`, success: "empty" as const }] : []),
    { command: `del server ${name}`, success: /^Server deleted\.$/ },
  ];
}

/**
 * Pure: the servers whose drain is over at `nowMs`: planned for deletion at `since` (by
 * `backend/server`), each with its own drain time (`drainMs`) or `defaultMs`.
 */
export function drainsOver(
  since: ReadonlyMap<string, number>,
  drainMs: ReadonlyMap<string, number>,
  defaultMs: number,
  nowMs: number,
): Set<string> {
  return new Set([...since].filter(([key, at]) => nowMs - at >= (drainMs.get(key) ?? defaultMs)).map(([key]) => key));
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
  const out: string[] = [];
  wanted.forEach((w, key) => {
    const r = running.get(key);
    if (r !== undefined && otherId(w, r)) out.push(key);
  });
  return out;
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
  // forEach: see planRuntime.
  wanted.forEach((w, key) => {
    const r = running.get(key);
    if (
      r === undefined ||
      r.address !== w.address ||
      r.port !== w.port ||
      r.weight !== w.weight ||
      otherId(w, r) ||
      r.maint !== wantsMaint(w) ||
      r.drain
    )
      off.push(key);
  });
  running.forEach((r, key) => {
    if (!wanted.has(key) && !r.maint) off.push(key);
  });
  return off;
}
