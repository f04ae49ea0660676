import type { Backend, SerfLiveness, SerfMember } from "./types";

export interface LivenessInput {
  /** Candidate backends (the source's view, already filtered). */
  readonly backends: readonly Backend[];
  /** The name each candidate's own agent uses (by id), where the source knows it. */
  readonly agentNames?: ReadonlyMap<string, string>;
  /** Addresses of every backend the source lists, routed or not (for drift). */
  readonly listedAddresses: ReadonlySet<string>;
  /** Serf's members, or null when Serf cannot be reached. */
  readonly members: readonly SerfMember[] | null;
  /** When each container was first seen without a live member (carried between passes). */
  readonly missingSince: ReadonlyMap<string, number>;
  readonly nowMs: number;
  /** How long a backend may have no Serf member before it leaves rotation. */
  readonly graceMs: number;
  /** The tag that marks members meant to be backends (`role=webapp`): only those count as drift. */
  readonly memberTag: { readonly key: string; readonly value: string };
  /** The HAProxy backend of each candidate (by id), for the panic threshold. */
  readonly serviceOf?: ReadonlyMap<string, string>;
  /**
   * 0–1: Serf never takes out so many candidates of a backend that fewer than this share stays
   * routed. Past it, the backend is in panic: Serf's view is ignored for it (Envoy's rule).
   */
  readonly panicThreshold?: number;
}

export interface LivenessDecision {
  /** Serf's opinion per backend id. */
  readonly liveness: ReadonlyMap<string, SerfLiveness>;
  /** Backends Serf takes out of rotation. */
  readonly out: ReadonlySet<string>;
  readonly missingSince: ReadonlyMap<string, number>;
  /** Live backend members that match no listed backend: reported, never routed. */
  readonly drift: readonly SerfMember[];
  /** Backends (HAProxy's) in panic: Serf would leave too few of their members, so it is ignored for them. */
  readonly panic: readonly string[];
}

/**
 * Pure: the source decides membership; Serf can only take a backend out. A `failed` member is
 * out at once; a backend with no live member is out after `graceMs` (Serf's retry-join needs a
 * moment after start). With Serf unreachable, everything stays on the source's view.
 */
export function decideLiveness(input: LivenessInput): LivenessDecision {
  const liveness = new Map<string, SerfLiveness>();
  const out = new Set<string>();
  const missingSince = new Map<string, number>();
  if (input.members === null) {
    for (const b of input.backends) liveness.set(b.sourceId, "unknown");
    return { liveness, out, missingSince, drift: [], panic: [] };
  }
  const byAddress = new Map<string, SerfMember[]>();
  for (const m of input.members) byAddress.set(m.address, [...(byAddress.get(m.address) ?? []), m]);
  for (const b of input.backends) {
    const m = memberOf(byAddress.get(b.address) ?? [], input.agentNames?.get(b.sourceId));
    if (m?.status === "alive") {
      liveness.set(b.sourceId, "alive");
    } else if (m?.status === "failed") {
      liveness.set(b.sourceId, "failed");
      out.add(b.sourceId);
    } else {
      liveness.set(b.sourceId, "missing");
      const since = input.missingSince.get(b.sourceId) ?? input.nowMs;
      missingSince.set(b.sourceId, since);
      if (input.nowMs - since >= input.graceMs) out.add(b.sourceId);
    }
  }
  const drift = input.members
    .filter(
      (m) =>
        m.status === "alive" &&
        m.tags[input.memberTag.key] === input.memberTag.value &&
        !input.listedAddresses.has(m.address),
    )
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const panic = panicked(input, out);
  for (const b of input.backends) if (panic.includes(input.serviceOf?.get(b.sourceId) ?? "")) out.delete(b.sourceId);
  return { liveness, out, missingSince, drift, panic };
}

/**
 * A backend's member among those at its address. Several can share an address over time (a
 * container replaced, its address reused): its own (by name) first, else a live one; a failed
 * member under another name is a dead predecessor's and says nothing about this backend. With
 * no name known, alive wins over failed.
 */
function memberOf(atAddress: readonly SerfMember[], agentName: string | undefined): SerfMember | undefined {
  const own = agentName === undefined ? undefined : atAddress.find((m) => m.name === agentName);
  if (own !== undefined) return own;
  const alive = atAddress.find((m) => m.status === "alive");
  if (alive !== undefined || agentName !== undefined) return alive;
  return atAddress[atAddress.length - 1];
}

/** The backends where Serf would leave fewer than the threshold's share of candidates routed. */
function panicked(input: LivenessInput, out: ReadonlySet<string>): string[] {
  const threshold = input.panicThreshold ?? 0;
  if (threshold <= 0 || input.serviceOf === undefined) return [];
  const counts = new Map<string, { all: number; out: number }>();
  for (const b of input.backends) {
    const service = input.serviceOf.get(b.sourceId);
    if (service === undefined) continue;
    const c = counts.get(service) ?? { all: 0, out: 0 };
    c.all++;
    if (out.has(b.sourceId)) c.out++;
    counts.set(service, c);
  }
  return [...counts]
    .filter(([, c]) => c.out > 0 && c.all - c.out < threshold * c.all)
    .map(([service]) => service)
    .sort();
}
