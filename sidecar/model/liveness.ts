import type { Backend, SerfLiveness, SerfMember } from "./types";

export interface LivenessInput {
  /** Candidate backends (Docker's view, already filtered). */
  readonly backends: readonly Backend[];
  /** Addresses of every container Docker lists, routed or not (for drift). */
  readonly containerAddresses: ReadonlySet<string>;
  /** Serf's members, or null when Serf cannot be reached. */
  readonly members: readonly SerfMember[] | null;
  /** When each container was first seen without a live member (carried between passes). */
  readonly missingSince: ReadonlyMap<string, number>;
  readonly nowMs: number;
  /** How long a container may have no Serf member before it leaves rotation. */
  readonly graceMs: number;
}

export interface LivenessDecision {
  /** Serf's opinion per container id. */
  readonly liveness: ReadonlyMap<string, SerfLiveness>;
  /** Containers Serf takes out of rotation. */
  readonly out: ReadonlySet<string>;
  readonly missingSince: ReadonlyMap<string, number>;
  /** Live webapp members that match no container: reported, never routed. */
  readonly drift: readonly SerfMember[];
}

/**
 * Pure: Docker decides membership; Serf can only take a container out. A `failed` member is out
 * at once; a container with no live member is out after `graceMs` (Serf's retry-join needs a
 * moment after start). With Serf unreachable, everything stays on Docker's view.
 */
export function decideLiveness(input: LivenessInput): LivenessDecision {
  const liveness = new Map<string, SerfLiveness>();
  const out = new Set<string>();
  const missingSince = new Map<string, number>();
  if (input.members === null) {
    for (const b of input.backends) liveness.set(b.containerId, "unknown");
    return { liveness, out, missingSince, drift: [] };
  }
  const byAddress = new Map<string, SerfMember>();
  for (const m of input.members) {
    // Several members can share an address over time (a container replaced): alive wins.
    const seen = byAddress.get(m.address);
    if (!seen || m.status === "alive") byAddress.set(m.address, m);
  }
  for (const b of input.backends) {
    const m = byAddress.get(b.address);
    if (m?.status === "alive") {
      liveness.set(b.containerId, "alive");
    } else if (m?.status === "failed") {
      liveness.set(b.containerId, "failed");
      out.add(b.containerId);
    } else {
      liveness.set(b.containerId, "missing");
      const since = input.missingSince.get(b.containerId) ?? input.nowMs;
      missingSince.set(b.containerId, since);
      if (input.nowMs - since >= input.graceMs) out.add(b.containerId);
    }
  }
  const drift = input.members
    .filter((m) => m.status === "alive" && m.tags["role"] === "webapp" && !input.containerAddresses.has(m.address))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return { liveness, out, missingSince, drift };
}
