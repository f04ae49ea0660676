/**
 * Pure: what one pass changed in routing, as change records. The change log (change-log.ts)
 * keeps what HAProxy routes after each pass and the causes it heard of (Docker or Swarm hints,
 * readiness, Serf, resyncs); this module turns (before, after, causes) into records, each with
 * its reason and when it was asked for and confirmed.
 */
import type { ReplicaView } from "../apply/replica-state";
import type { Repair } from "../apply/agreement";
import type { ApplyOutcome } from "../apply/outcome";
import type { DesiredState, Exclusion, ExclusionReason } from "../model/types";
import type { ServerLine } from "../render/server-lines";

export type ChangeKind =
  | "server-added"
  /** Taken out of rotation at once through the runtime API, on the event, before the pass. */
  | "server-drained"
  | "server-removed"
  | "weight-changed"
  | "address-changed"
  /** A backend gets its first server. */
  | "backend-added"
  /** A backend's last server leaves. */
  | "backend-removed"
  /** A container skipped for a label it cannot be routed with. */
  | "label-rejected"
  /** A render HAProxy refused, or a template that does not render: the last good config serves. */
  | "config-rejected"
  /** HAProxy loaded a new config (a reload). */
  | "reload"
  /** Servers changed through the runtime API (no reload). */
  | "runtime-apply"
  /** One HAProxy replica brought back to the desired state: it had diverged (drift by hand) or was stale. */
  | "replica-repaired"
  /** One HAProxy replica fell behind (paused, restarted, not answering) or is in sync again. */
  | "replica-state"
  /** An operator put a container in maintenance (`sidecar maint`) or took it out. */
  | "maintenance";

/** Where a change came from. */
export type CauseSource =
  "docker" | "swarm" | "readiness" | "serf" | "resync" | "haproxy" | "template" | "labels" | "sidecar" | "operator";

/** One thing that asked for a change: an event, a verdict, a resync. */
export interface Cause {
  readonly source: CauseSource;
  /** The event or verdict: `kill`, `start`, `task-shutdown`, `listening`, `member-failed`, `drift`… */
  readonly event: string;
  /** Epoch ms the sidecar heard of it. */
  readonly at: number;
}

export interface ChangeRecord {
  /** Increasing, across restarts. */
  readonly seq: number;
  readonly kind: ChangeKind;
  readonly backend: string | null;
  readonly server: string | null;
  /** The container (or task) name, and its id when known. */
  readonly container: string | null;
  readonly containerId: string | null;
  /** Details: the address, the weights, HAProxy's message, the label… */
  readonly detail: string | null;
  /** Why, in words: `docker event kill`, `readiness probe: listening`, `resync found drift`. */
  readonly reason: string;
  readonly cause: Cause;
  /** ISO time the cause was heard of. */
  readonly triggeredAt: string;
  /** ISO time HAProxy confirmed it (read back, or reported the new config); null: not confirmed (no HAProxy running). */
  readonly confirmedAt: string | null;
  /** confirmedAt − triggeredAt, in ms. */
  readonly tookMs: number | null;
  /** How HAProxy got it: `runtime`, `reload`, `drain` (the early drain), `file` (no HAProxy ran), null for rejections. */
  readonly via: "runtime" | "reload" | "drain" | "file" | null;
}

/** A record before the log numbers it. */
export type NewRecord = Omit<ChangeRecord, "seq">;

/** One routed server, from a desired state or read back from a config file. */
export interface RoutedServer {
  readonly backend: string;
  readonly server: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly sourceId: string | null;
}

/** What HAProxy routes: servers by `backend/server`. */
export type Routing = ReadonlyMap<string, RoutedServer>;

const key = (backend: string, server: string): string => `${backend}/${server}`;

export function routingOfState(state: DesiredState): Routing {
  const out = new Map<string, RoutedServer>();
  for (const s of state.services)
    for (const b of s.servers)
      out.set(key(s.name, b.name), {
        backend: s.name,
        server: b.name,
        address: b.address,
        port: b.port,
        weight: b.weight ?? 1,
        sourceId: b.sourceId,
      });
  return out;
}

/** What a config file routes (after a restart, before the first pass). */
export function routingOfLines(lines: ReadonlyMap<string, ServerLine>): Routing {
  const out = new Map<string, RoutedServer>();
  for (const [k, l] of lines)
    out.set(k, {
      backend: l.backend,
      server: l.name,
      address: l.address,
      port: l.port,
      weight: l.weight,
      sourceId: null,
    });
  return out;
}

/** The causes a pass knows of: per backend id, and per pass reason (`resync`, Serf events…). */
export interface PassCauses {
  /** Causes heard of per backend id (hints, readiness), oldest first, not yet consumed by a record. */
  readonly byId: ReadonlyMap<string, readonly Cause[]>;
  /** Pass reasons and when each was first asked for. */
  readonly reasons: ReadonlyMap<string, number>;
  /** Where hints come from: `docker` or `swarm`. */
  readonly source: "docker" | "swarm";
  /** When the pass started (the fallback for a change nothing explains but drift). */
  readonly passAt: number;
}

const EXCLUSION_CAUSE: Record<ExclusionReason, { source: CauseSource; event: string }> = {
  "bad-label": { source: "labels", event: "bad-label" },
  "not-running": { source: "docker", event: "not-running" },
  paused: { source: "docker", event: "paused" },
  "not-on-network": { source: "docker", event: "not-on-network" },
  unhealthy: { source: "docker", event: "unhealthy" },
  "health-starting": { source: "docker", event: "health-starting" },
  "one-off": { source: "docker", event: "one-off" },
  draining: { source: "docker", event: "stopping" },
  "not-listening": { source: "readiness", event: "not-listening" },
  "serf-failed": { source: "serf", event: "member-failed" },
  "serf-missing": { source: "serf", event: "member-missing" },
  "reserved-name": { source: "template", event: "reserved-name" },
  "config-rejected": { source: "haproxy", event: "config-rejected" },
};

/** Words for a cause. */
export function describe(cause: Pick<Cause, "source" | "event">): string {
  switch (cause.source) {
    case "docker":
    case "swarm":
      return `${cause.source} event ${cause.event}`;
    case "readiness":
      return `readiness probe: ${cause.event === "listening" ? "listening" : "not listening"}`;
    case "serf":
      return `serf: ${cause.event}`;
    case "resync":
      return cause.event === "drift"
        ? "resync found drift"
        : cause.event === "connected"
          ? "listing on connecting to Docker"
          : `resync: ${cause.event}`;
    case "haproxy":
      return cause.event === "config-rejected" ? "haproxy -c rejected the render" : `haproxy: ${cause.event}`;
    case "template":
      return cause.event === "template-error" ? "the template failed to render" : `template: ${cause.event}`;
    case "operator":
      return cause.event === "maintenance"
        ? "an operator changed maintenance (sidecar maint)"
        : `operator: ${cause.event}`;
    default:
      return `${cause.source}: ${cause.event}`;
  }
}

/** A cause, and the words for it (several causes heard of for one backend: all of them). */
export interface Why {
  readonly cause: Cause;
  readonly reason: string;
}

const single = (cause: Cause): Why => ({ cause, reason: describe(cause) });

/**
 * Why one backend changed: the events heard of for it (its first one times the change); else
 * the verdict that took it out (an unhealthy state, Serf…, timed by the pass reason that
 * brought it); else a resync that found drift.
 */
function whyOf(sourceId: string | null, excluded: Exclusion | undefined, causes: PassCauses): Why {
  const heard = (sourceId === null ? undefined : causes.byId.get(sourceId)) ?? [];
  const hinted = heard.filter((c) => c.source === causes.source);
  if (heard.length > 0 && (excluded === undefined || hinted.length > 0)) {
    const words = [...new Set([heard[0]!, heard[heard.length - 1]!].map(describe))];
    return { cause: heard[0]!, reason: words.join(", then ") };
  }
  if (excluded !== undefined) {
    const c = EXCLUSION_CAUSE[excluded.reason];
    const serfAt = [...causes.reasons].filter(([r]) => r.startsWith("member-")).map(([, at]) => at);
    const at = c.source === "serf" && serfAt.length > 0 ? Math.min(...serfAt) : (heard[0]?.at ?? causes.passAt);
    return single({ source: c.source === "docker" ? causes.source : c.source, event: c.event, at });
  }
  const [reason, at] = [...causes.reasons].sort((a, b) => a[1] - b[1])[0] ?? ["resync", causes.passAt];
  if (reason === "connected") return single({ source: "resync", event: "connected", at });
  if (reason === "resync" || reason === "retry") return single({ source: "resync", event: "drift", at });
  if (reason === "ready") return single({ source: "readiness", event: "listening", at });
  if (reason.startsWith("member-")) return single({ source: "serf", event: reason, at });
  if (reason === "maintenance") return single({ source: "operator", event: "maintenance", at });
  if (reason === "pending-delete" || reason === "file-rejected")
    return single({ source: "sidecar", event: reason, at });
  return single({ source: causes.source, event: reason, at });
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** How an outcome reached HAProxy, and when it was confirmed (null: not confirmed). */
export function confirmation(
  outcome: ApplyOutcome,
  confirmedAt: number,
): { via: ChangeRecord["via"]; at: number | null } {
  switch (outcome.kind) {
    case "runtime":
    case "unchanged":
      return { via: "runtime", at: confirmedAt };
    case "reloaded":
      return { via: "reload", at: confirmedAt };
    case "no-haproxy":
      return { via: "file", at: null };
    case "rejected":
      return { via: null, at: confirmedAt };
  }
}

function record(
  base: Pick<NewRecord, "kind" | "backend" | "server" | "container" | "containerId" | "detail">,
  { cause, reason }: Why,
  confirmed: { via: ChangeRecord["via"]; at: number | null },
): NewRecord {
  return {
    ...base,
    reason,
    cause,
    triggeredAt: iso(cause.at),
    confirmedAt: confirmed.at === null ? null : iso(confirmed.at),
    tookMs: confirmed.at === null ? null : Math.max(0, confirmed.at - cause.at),
    via: confirmed.via,
  };
}

export interface PassChange {
  readonly before: Routing;
  readonly after: Routing;
  readonly excluded: readonly Exclusion[];
  readonly outcome: ApplyOutcome;
  readonly causes: PassCauses;
  /** When the apply returned, confirmed (see ApplyOutcome). */
  readonly confirmedAt: number;
  /** The config id HAProxy runs after the apply, for the reload or runtime record. */
  readonly configId?: string;
}

/**
 * The records of one applied pass: backends and servers added, servers changed and removed,
 * then the reload or runtime apply that carried them. Empty when routing did not change.
 */
export function routingChanges(p: PassChange): NewRecord[] {
  const { before, after, causes } = p;
  const confirmed = confirmation(p.outcome, p.confirmedAt);
  const excludedById = new Map(p.excluded.map((e) => [e.sourceId, e]));
  const out: NewRecord[] = [];
  const backendsOf = (r: Routing): Set<string> => new Set([...r.values()].map((s) => s.backend));
  const beforeBackends = backendsOf(before);
  const afterBackends = backendsOf(after);
  const sorted = (servers: RoutedServer[]): RoutedServer[] =>
    servers.sort((a, b) => (key(a.backend, a.server) < key(b.backend, b.server) ? -1 : 1));
  // Only what changed is sorted and explained: a pass costs its change, not the fleet's size.
  const differs = (s: RoutedServer, was: RoutedServer | undefined): boolean =>
    was === undefined || was.address !== s.address || was.port !== s.port || was.weight !== s.weight;
  const changed = sorted([...after.values()].filter((s) => differs(s, before.get(key(s.backend, s.server)))));
  const removed = sorted([...before.values()].filter((s) => !after.has(key(s.backend, s.server))));
  const server = (s: RoutedServer): Pick<NewRecord, "backend" | "server" | "container" | "containerId"> => ({
    backend: s.backend,
    server: s.server,
    container: s.server,
    containerId: s.sourceId,
  });

  for (const b of [...afterBackends].filter((b) => !beforeBackends.has(b)).sort()) {
    // A new backend's servers are all new: its first is among those that changed.
    const first = changed.find((s) => s.backend === b)!;
    out.push(
      record(
        { kind: "backend-added", backend: b, server: null, container: null, containerId: null, detail: null },
        whyOf(first.sourceId, undefined, causes),
        confirmed,
      ),
    );
  }
  for (const s of changed) {
    const was = before.get(key(s.backend, s.server));
    const cause = whyOf(s.sourceId, undefined, causes);
    if (was === undefined) {
      out.push(
        record(
          { kind: "server-added", ...server(s), detail: `${s.address}:${s.port} weight ${s.weight}` },
          cause,
          confirmed,
        ),
      );
      continue;
    }
    if (was.address !== s.address || was.port !== s.port)
      out.push(
        record(
          { kind: "address-changed", ...server(s), detail: `${was.address}:${was.port} → ${s.address}:${s.port}` },
          cause,
          confirmed,
        ),
      );
    if (was.weight !== s.weight)
      out.push(
        record({ kind: "weight-changed", ...server(s), detail: `${was.weight} → ${s.weight}` }, cause, confirmed),
      );
  }
  for (const s of removed) {
    const excluded = s.sourceId === null ? undefined : excludedById.get(s.sourceId);
    const gone = excluded === undefined ? "no longer listed" : excluded.reason;
    out.push(
      record(
        { kind: "server-removed", ...server(s), detail: excluded?.detail ? `${gone}: ${excluded.detail}` : gone },
        whyOf(s.sourceId, excluded, causes),
        confirmed,
      ),
    );
  }
  for (const b of [...beforeBackends].filter((b) => !afterBackends.has(b)).sort()) {
    const last = removed.find((s) => s.backend === b)!;
    out.push(
      record(
        { kind: "backend-removed", backend: b, server: null, container: null, containerId: null, detail: null },
        whyOf(last.sourceId, last.sourceId === null ? undefined : excludedById.get(last.sourceId), causes),
        confirmed,
      ),
    );
  }
  const reloaded = p.outcome.kind === "reloaded" && p.outcome.signals > 0;
  if (out.length > 0 || reloaded) {
    const first = [...out].sort((a, b) => a.cause.at - b.cause.at)[0];
    const why = first === undefined ? whyOf(null, undefined, causes) : { cause: first.cause, reason: first.reason };
    const counts = `${out.filter((r) => r.kind === "server-added").length} added, ${out.filter((r) => r.kind === "server-removed").length} removed`;
    if (reloaded || p.outcome.kind === "runtime" || p.outcome.kind === "no-haproxy") {
      const kind: ChangeKind = p.outcome.kind === "runtime" ? "runtime-apply" : "reload";
      const detail =
        p.outcome.kind === "reloaded" && p.outcome.fallback !== null
          ? `${counts}; after a failed runtime apply: ${p.outcome.fallback}`
          : p.outcome.kind === "no-haproxy"
            ? `${counts}; written, no HAProxy running to load it`
            : `${counts}${p.configId ? `; config ${p.configId.slice(0, 12)}` : ""}`;
      out.push(
        record({ kind, backend: null, server: null, container: null, containerId: null, detail }, why, confirmed),
      );
    }
  }
  return out;
}

/** The early drain of servers on an event (kill, task shutdown), confirmed by HAProxy's answers. */
export function drainRecords(servers: readonly RoutedServer[], why: Why, confirmedAt: number): NewRecord[] {
  return servers.map((s) =>
    record(
      {
        kind: "server-drained",
        backend: s.backend,
        server: s.server,
        container: s.server,
        containerId: s.sourceId,
        detail: "no new requests; connections in progress finish",
      },
      why,
      { via: "drain", at: confirmedAt },
    ),
  );
}

/** A render refused (HAProxy's message), or a template that does not render. */
export function rejectionRecord(
  source: "haproxy" | "template",
  message: string,
  at: number,
  culprit: Exclusion | null = null,
): NewRecord {
  const cause: Cause = { source, event: source === "haproxy" ? "config-rejected" : "template-error", at };
  return record(
    {
      kind: "config-rejected",
      backend: null,
      server: null,
      container: culprit?.name ?? null,
      containerId: culprit?.sourceId ?? null,
      detail: message.trim().split("\n").slice(0, 6).join("\n"),
    },
    single(cause),
    { via: null, at },
  );
}

/** An HAProxy replica the agreement check brought back to the desired state; the record names its container. */
export function repairRecord(r: Repair): NewRecord {
  const how = r.via === "reload" ? "by a reload" : "through the runtime API";
  return record(
    {
      kind: "replica-repaired",
      backend: null,
      server: null,
      container: r.container,
      containerId: r.containerId,
      detail: `${r.detail}; repaired ${how}`.slice(0, 1000),
    },
    {
      cause: { source: "haproxy", event: r.was, at: r.detectedAt },
      reason:
        r.was === "diverged"
          ? `haproxy replica ${r.replica} diverged from the desired state`
          : `haproxy replica ${r.replica} was stale`,
    },
    { via: r.via, at: r.confirmedAt },
  );
}

/** One HAProxy replica went stale, or is in sync again after it was (a pass brought it back). */
export function replicaStateRecord(before: ReplicaView, now: ReplicaView, at: number): NewRecord {
  const stale = now.state === "stale";
  return record(
    {
      kind: "replica-state",
      backend: null,
      server: null,
      container: now.container,
      containerId: now.containerId,
      detail: stale ? `stale: ${now.reason ?? "behind"}` : `in sync again (it was stale: ${before.reason ?? "behind"})`,
    },
    {
      cause: { source: "haproxy", event: stale ? "stale" : "in-sync", at },
      reason: stale
        ? `haproxy replica ${now.replica} fell behind: ${now.reason ?? "behind"}`
        : `haproxy replica ${now.replica} brought to the desired state after it was stale`,
    },
    { via: null, at: stale ? null : (now.confirmedAt ?? at) },
  );
}

/** A container skipped for a bad label. */
export function labelRecord(e: Exclusion, at: number): NewRecord {
  return record(
    {
      kind: "label-rejected",
      backend: null,
      server: null,
      container: e.name,
      containerId: e.sourceId,
      detail: e.label ? `${e.label}: ${e.detail ?? "invalid"}` : (e.detail ?? null),
    },
    single({ source: "labels", event: "bad-label", at }),
    { via: null, at },
  );
}

/**
 * An operator put a container in maintenance or took it out (`sidecar maint`): who and when.
 * HAProxy gets it at the pass that follows at once (its runtime-apply record confirms it).
 */
export function maintenanceRecord(req: { container: string; on: boolean; by: string }, at: number): NewRecord {
  return record(
    {
      kind: "maintenance",
      backend: null,
      server: null,
      container: req.container,
      containerId: null,
      detail: `${req.on ? "on" : "off"}, asked by ${req.by}`,
    },
    {
      cause: { source: "operator", event: "maintenance", at },
      reason: `maintenance ${req.on ? "on" : "off"} asked by ${req.by}`,
    },
    { via: null, at: null },
  );
}
