import type { Backend, ContainerSnapshot, DesiredState, Exclusion, ServerRef, Service } from "./types";
import { BACKEND_NAME_RE, parseLbLabels } from "./labels";

export interface BuildOptions {
  /** Label prefix, e.g. `heig.lb`. */
  readonly labelPrefix: string;
  /** Backend a container joins when it has no `backend` label and no usable compose service. */
  readonly defaultService: string;
  /** Containers known (from events) to be stopping: kept out of rotation while still listed. */
  readonly draining: ReadonlySet<string>;
  /** Containers whose app does not accept connections yet (readiness probe). */
  readonly notListening?: ReadonlySet<string>;
  /** Containers Serf takes out of rotation, and why. */
  readonly serfOut?: ReadonlyMap<string, "serf-failed" | "serf-missing">;
}

export interface BuildResult {
  readonly state: DesiredState;
  /** Every container that was looked at and left out, with why; sorted by name. */
  readonly excluded: readonly Exclusion[];
}

const COMPOSE_SERVICE = "com.docker.compose.service";
const COMPOSE_ONEOFF = "com.docker.compose.oneoff";

/** Makes a container name safe as an HAProxy server name. */
export function sanitizeServerName(name: string): string {
  const cleaned = name.replace(/^\/+/, "").replace(/[^A-Za-z0-9_.-]/g, "_");
  return cleaned.length > 0 ? cleaned : "unnamed";
}

const byName = <T extends { readonly name: string }>(a: T, b: T): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * Pure: Docker's snapshot → the servers HAProxy must route to. One bad container is excluded
 * with a reason and never affects the others. Output is sorted, so equal input gives equal output.
 */
export function buildDesiredState(snapshots: readonly ContainerSnapshot[], opts: BuildOptions): BuildResult {
  const excluded: Exclusion[] = [];
  const groups = new Map<string, Backend[]>();
  const sticky = new Set<string>();
  const usedNames = new Set<string>();

  const sorted = [...snapshots].sort((a, b) => byName(a, b) || (a.id < b.id ? -1 : 1));
  for (const c of sorted) {
    const skip = (reason: Exclusion["reason"], extra: Partial<Exclusion> = {}): void => {
      excluded.push({ containerId: c.id, containerName: c.name, reason, ...extra });
    };
    const parsed = parseLbLabels(c.labels, opts.labelPrefix);
    if (!parsed.ok) {
      skip("bad-label", { label: parsed.label, detail: parsed.detail });
      continue;
    }
    const lb = parsed.value;
    if (!lb.enabled) continue; // not ours: not worth reporting
    if (c.labels[COMPOSE_ONEOFF] === "True") { skip("one-off"); continue; }
    if (!c.running) { skip("not-running"); continue; }
    if (c.paused) { skip("paused"); continue; }
    if (opts.draining.has(c.id)) { skip("draining"); continue; }
    if (c.ip === null) { skip("not-on-network"); continue; }
    if (c.health === "starting") { skip("health-starting"); continue; }
    if (c.health === "unhealthy") { skip("unhealthy"); continue; }
    if (opts.notListening?.has(c.id)) { skip("not-listening"); continue; }
    const serfReason = opts.serfOut?.get(c.id);
    if (serfReason !== undefined) { skip(serfReason); continue; }

    const composeService = c.labels[COMPOSE_SERVICE];
    const service = lb.backend
      ?? (composeService !== undefined && BACKEND_NAME_RE.test(composeService) ? composeService : opts.defaultService);

    let name = sanitizeServerName(c.name);
    if (usedNames.has(name)) name = `${name}-${c.id.slice(0, 12)}`;
    usedNames.add(name);

    const servers = groups.get(service) ?? [];
    servers.push({ name, containerId: c.id, address: c.ip, port: lb.port, weight: lb.weight });
    if (lb.sticky) sticky.add(service);
    groups.set(service, servers);
  }

  // The default backend always exists, so the frontend has somewhere to send traffic (503 when empty).
  if (!groups.has(opts.defaultService)) groups.set(opts.defaultService, []);
  const services: Service[] = [...groups.entries()]
    .map(([name, servers]) => ({ name, sticky: sticky.has(name), servers: [...servers].sort(byName) }))
    .sort(byName);

  return {
    state: { defaultService: opts.defaultService, services },
    excluded: excluded.sort((a, b) => (a.containerName < b.containerName ? -1 : a.containerName > b.containerName ? 1 : 0)),
  };
}

/** Servers routed in `prev` and gone from `next`: the ones to drain before the reload. */
export function removedServers(prev: DesiredState, next: DesiredState): ServerRef[] {
  const kept = new Set(next.services.flatMap((s) => s.servers.map((b) => `${s.name}/${b.name}`)));
  return prev.services
    .flatMap((s) => s.servers.map((b) => ({ backend: s.name, server: b.name })))
    .filter((r) => !kept.has(`${r.backend}/${r.server}`));
}
