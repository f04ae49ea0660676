import type { Backend, BackendSnapshot, DesiredState, Exclusion, ServerRef, Service } from "./types";
import { BACKEND_NAME_RE, parseLbLabels } from "./labels";
import { inMaintenance } from "./maintenance";

export interface BuildOptions {
  /** Label prefix, e.g. `heig.lb`. */
  readonly labelPrefix: string;
  /** Backend a member joins when it has no `backend` label and no usable group name. */
  readonly defaultService: string;
  /** Backends known (from change hints) to be shutting down: kept out while still listed. */
  readonly draining: ReadonlySet<string>;
  /** Backends whose app does not accept connections yet (readiness probe). */
  readonly notListening?: ReadonlySet<string>;
  /**
   * Of those, the ones to hold: rendered ahead of time in maintenance, in {@link DesiredState.held}
   * (still reported as excluded, not-listening). Not one an operator put in maintenance.
   */
  readonly held?: ReadonlySet<string>;
  /** Backends Serf takes out of rotation, and why. */
  readonly serfOut?: ReadonlyMap<string, "serf-failed" | "serf-missing">;
  /** Names the template gives its own proxies: no backend may take one. */
  readonly reservedNames?: ReadonlySet<string>;
  /** Members whose server line HAProxy rejected, with HAProxy's message. */
  readonly rejected?: ReadonlyMap<string, string>;
  /** Containers an operator put in maintenance (names, server names, ids): kept, in maintenance. */
  readonly maintenance?: ReadonlySet<string>;
}

export interface BuildResult {
  readonly state: DesiredState;
  /** Every labelled backend that was looked at and left out, with why; sorted by name. */
  readonly excluded: readonly Exclusion[];
}

/** Makes a name safe as an HAProxy server name. */
export function sanitizeServerName(name: string): string {
  // Most names are safe already: a test allocates nothing, two replaces two strings.
  if (/^[A-Za-z0-9_.-]+$/.test(name)) return name;
  const cleaned = name.replace(/^\/+/, "").replace(/[^A-Za-z0-9_.-]/g, "_");
  return cleaned.length > 0 ? cleaned : "unnamed";
}

/**
 * Labels parsed, by the labels object they came from (a snapshot's are never changed once made):
 * a pass builds the state several times and the listing keeps snapshots between passes, so each
 * container's labels are parsed once, not a few times per pass. Weak: gone with its snapshot.
 */
const parsedLabels = new WeakMap<
  object,
  { readonly prefix: string; readonly result: ReturnType<typeof parseLbLabels> }
>();

function lbLabelsOf(labels: BackendSnapshot["labels"], prefix: string): ReturnType<typeof parseLbLabels> {
  const known = parsedLabels.get(labels);
  if (known !== undefined && known.prefix === prefix) return known.result;
  const result = parseLbLabels(labels, prefix);
  parsedLabels.set(labels, { prefix, result });
  return result;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byName = <T extends { readonly name: string }>(a: T, b: T): number => compareText(a.name, b.name);

/**
 * Pure: the source's snapshot → the servers HAProxy must route to. One bad backend is excluded
 * with a reason and never affects the others. Output is sorted: equal input, equal output.
 */
export function buildDesiredState(snapshots: readonly BackendSnapshot[], opts: BuildOptions): BuildResult {
  const excluded: Exclusion[] = [];
  const groups = new Map<string, Backend[]>();
  const heldGroups = new Map<string, Backend[]>();
  const sticky = new Set<string>();
  const usedNames = new Set<string>();

  const sorted = [...snapshots].sort((a, b) => byName(a, b) || compareText(a.id, b.id));
  let c: BackendSnapshot;
  // One function for every container, not one made for each of a thousand a pass.
  const skip = (reason: Exclusion["reason"], extra?: Partial<Exclusion>): void => {
    excluded.push({ sourceId: c.id, name: c.name, reason, ...extra });
  };
  for (c of sorted) {
    const parsed = lbLabelsOf(c.labels, opts.labelPrefix);
    if (!parsed.ok) {
      skip("bad-label", { label: parsed.label, detail: parsed.detail });
      continue;
    }
    const lb = parsed.value;
    if (!lb.enabled) continue; // not ours: not worth reporting
    const reason = exclusionOf(c, opts);
    const hold = reason === "not-listening" && opts.held?.has(c.id) === true;
    if (reason !== null && !hold) {
      skip(reason);
      continue;
    }

    const service = serviceOf(lb.backend, c.group, opts.defaultService);
    if (service !== opts.defaultService && opts.reservedNames?.has(service)) {
      skip("reserved-name", { detail: `backend name "${service}" is one of the template's own proxies` });
      continue;
    }
    const rejectedBy = opts.rejected?.get(c.id);
    if (rejectedBy !== undefined) {
      skip("config-rejected", { detail: rejectedBy });
      continue;
    }
    let name = sanitizeServerName(c.name);
    if (usedNames.has(name)) name = sanitizeServerName(`${name}-${c.id.slice(0, 12)}`);
    usedNames.add(name);

    const maint =
      opts.maintenance !== undefined && inMaintenance(opts.maintenance, { name: c.name, serverName: name, id: c.id });
    // A held server is still reported as not listening. One an operator put in maintenance is
    // not held: it is rendered (disabled) once it listens, as ever.
    if (hold) skip("not-listening");
    if (hold && maint) continue;
    const into = hold ? heldGroups : groups;
    const servers = into.get(service) ?? [];
    // Optional fields set only where they apply (no object spread: four objects a server, a pass).
    const server: Mutable<Backend> = { name, sourceId: c.id, address: c.address!, port: lb.port, weight: lb.weight };
    if (lb.slowstartMs !== null) server.slowstartMs = lb.slowstartMs;
    if (lb.drainMs !== null) server.drainMs = lb.drainMs;
    if (maint) server.maint = true;
    if (hold) server.held = true;
    servers.push(server);
    // A held server changes no backend's structure (see below).
    if (lb.sticky && !hold) sticky.add(service);
    into.set(service, servers);
  }

  // The default backend always exists, so the frontend has somewhere to send traffic (503 when empty).
  if (!groups.has(opts.defaultService)) groups.set(opts.defaultService, []);
  const services: Service[] = [...groups.entries()]
    .map(([name, servers]) => ({ name, sticky: sticky.has(name), servers: [...servers].sort(byName) }))
    .sort(byName);

  // Held only in a backend that routes already: one made for held servers alone would be a
  // reload ahead of time, and another if they never listen (a container that crash-loops).
  const held: Service[] = [...heldGroups.entries()]
    .filter(([name]) => groups.has(name))
    .map(([name, servers]) => ({ name, sticky: sticky.has(name), servers: [...servers].sort(byName) }))
    .sort(byName);

  return {
    state: { defaultService: opts.defaultService, services, ...(held.length > 0 ? { held } : {}) },
    excluded: excluded.sort((a, b) => compareText(a.name, b.name)),
  };
}

/**
 * Pure: the state as it is rendered: its held servers (in maintenance until they listen) among
 * the routed ones of their backend (held only where one exists), each backend's servers sorted
 * by name. Its own result has nothing held apart: applying it twice changes nothing.
 */
export function withHeld(state: DesiredState): DesiredState {
  if (state.held === undefined || state.held.length === 0) return state;
  const held = new Map(state.held.map((h) => [h.name, h.servers]));
  const services = state.services.map((s) => {
    const h = held.get(s.name);
    return h === undefined ? s : { ...s, servers: [...s.servers, ...h].sort(byName) };
  });
  return { defaultService: state.defaultService, services };
}

/** The HAProxy backend a member joins: its `backend` label, else its group (if a valid name), else the default. */
export function serviceOf(backendLabel: string | null, group: string | null, defaultService: string): string {
  return backendLabel ?? (group !== null && BACKEND_NAME_RE.test(group) ? group : defaultService);
}

/** Why a labelled, opted-in backend is not routed; null when it is. Checked in this order. */
function exclusionOf(c: BackendSnapshot, opts: BuildOptions): Exclusion["reason"] | null {
  if (c.oneOff) return "one-off";
  if (!c.running) return "not-running";
  if (c.paused) return "paused";
  if (c.leaving || opts.draining.has(c.id)) return "draining";
  if (c.address === null) return "not-on-network";
  if (c.health === "starting") return "health-starting";
  if (c.health === "unhealthy") return "unhealthy";
  if (opts.notListening?.has(c.id)) return "not-listening";
  return opts.serfOut?.get(c.id) ?? null;
}

/** Every server of a state, as `backend/server` references. */
export function serverRefs(state: DesiredState): ServerRef[] {
  return state.services.flatMap((s) => s.servers.map((b) => ({ backend: s.name, server: b.name })));
}

/** Servers routed in `prev` and gone from `next`: the ones to drain before the reload. */
export function removedServers(prev: DesiredState, next: DesiredState): ServerRef[] {
  const kept = new Set(serverRefs(next).map((r) => `${r.backend}/${r.server}`));
  return serverRefs(prev).filter((r) => !kept.has(`${r.backend}/${r.server}`));
}

/** The drain times (heig.lb.drain) `state` gives these servers, by `backend/server`; those without one are left out. */
export function drainTimes(state: DesiredState, refs: readonly ServerRef[]): Map<string, number> {
  const wanted = new Set(refs.map((r) => `${r.backend}/${r.server}`));
  const out = new Map<string, number>();
  for (const s of state.services)
    for (const b of s.servers) {
      const key = `${s.name}/${b.name}`;
      if (b.drainMs !== undefined && wanted.has(key)) out.set(key, b.drainMs);
    }
  return out;
}
