import type { Backend, DesiredState, Service } from "../model/types";

/** Whether HAProxy accepts the config a state renders to (`haproxy -c`). */
export type StateCheck = (state: DesiredState) => Promise<boolean>;

/** What identifies a member's server line: its backend, name, address, port and weight. */
export const lineOf = (service: string, b: Backend): string =>
  JSON.stringify([service, b.name, b.address, b.port, b.weight]);

/**
 * Pure: `state` with only the given members of `keep` (by source id), and without the backends
 * that are new since `applied` and would be left empty (the default one always stays).
 */
export function withMembers(
  state: DesiredState,
  keep: ReadonlySet<string>,
  applied: DesiredState | null,
): DesiredState {
  const known = new Set((applied?.services ?? []).map((s) => s.name));
  const services: Service[] = state.services
    .map((s) => ({ ...s, servers: s.servers.filter((b) => keep.has(b.sourceId)) }))
    .filter((s) => s.servers.length > 0 || known.has(s.name) || s.name === state.defaultService);
  return { ...state, services };
}

/**
 * When `haproxy -c` rejects a render, finds the members whose lines cause it, so that everyone
 * else is still routed: only members that are new or changed since the last accepted state are
 * suspects; the others form a base that must pass on its own (if it does not, the fault is the
 * template's, not a member's: nothing is isolated). Then group testing: a half that passes with
 * the base joins it, a half that fails is split again. O(k log n) checks for k culprits among
 * n suspects. Returns the culprits' source ids, or null when the base itself is rejected.
 */
export async function isolateRejected(
  state: DesiredState,
  applied: DesiredState | null,
  check: StateCheck,
): Promise<string[] | null> {
  const accepted = new Set((applied?.services ?? []).flatMap((s) => s.servers.map((b) => lineOf(s.name, b))));
  const members = state.services.flatMap((s) => s.servers.map((b) => ({ id: b.sourceId, line: lineOf(s.name, b) })));
  const suspects = members.filter((m) => !accepted.has(m.line)).map((m) => m.id);
  const base = new Set(members.filter((m) => accepted.has(m.line)).map((m) => m.id));
  if (!(await check(withMembers(state, base, applied)))) return null;
  const culprits: string[] = [];
  const search = async (group: readonly string[]): Promise<void> => {
    if (group.length === 0) return;
    if (await check(withMembers(state, new Set([...base, ...group]), applied))) {
      for (const id of group) base.add(id);
      return;
    }
    if (group.length === 1) {
      culprits.push(group[0]!);
      return;
    }
    const half = Math.ceil(group.length / 2);
    await search(group.slice(0, half));
    await search(group.slice(half));
  };
  await search(suspects);
  return culprits.sort();
}
