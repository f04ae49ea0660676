import { createHash } from "node:crypto";

/**
 * The highest server id handed out: 2^20 - 1. HAProxy's consistent hash (`hash-type consistent`,
 * whose default `hash-key id` keys a server's nodes on its id) places node n of a server at
 * full_hash(id * 4096 + n) in 32 bits, so two ids equal modulo 2^20 would share every node.
 */
export const MAX_SERVER_ID = 0xfffff;

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Pure: the id a server name asks for: the first 32 bits of its sha256, in 1..MAX_SERVER_ID. */
export function preferredServerId(name: string): number {
  return (createHash("sha256").update(name).digest().readUInt32BE(0) % MAX_SERVER_ID) + 1;
}

/** Ids by backend, then by server name: what a config gives its servers. */
export type ServerIds = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * Pure: a stable HAProxy server id (`id` on the server line, and in `add server`) for each name
 * of one backend. It comes from the name (itself from the container), never from the order in
 * which servers arrived, so that every replica, and every reload, gives a server the same id and
 * hashing (`balance source`, `hash-type consistent`) picks the same server everywhere.
 *
 * A server that runs keeps its id (`keep`: the ids of the config HAProxy runs): the runtime API
 * cannot change a running server's id, so a newcomer must never take it (at 1,000 servers, names
 * that ask for the same id are likely: a newcomer that sorted first used to push a running
 * server to the next id, and that took a reload). Then each other name, in sorted order, takes
 * the id it asks for, or the next free one (wrapping to 1): without `keep`, the same set of
 * names always gets the same ids.
 */
export function assignServerIds(names: readonly string[], keep?: ReadonlyMap<string, number>): Map<string, number> {
  const unique = [...new Set(names)].sort(compareText);
  if (unique.length > MAX_SERVER_ID) throw new RangeError(`more than ${MAX_SERVER_ID} servers in one backend`);
  const taken = new Set<number>();
  const ids = new Map<string, number>();
  if (keep !== undefined && keep.size > 0)
    for (const name of unique) {
      const id = keep.get(name);
      if (id === undefined || !Number.isInteger(id) || id < 1 || id > MAX_SERVER_ID || taken.has(id)) continue;
      taken.add(id);
      ids.set(name, id);
    }
  for (const name of unique) {
    if (ids.has(name)) continue;
    let id = preferredServerId(name);
    while (taken.has(id)) id = id === MAX_SERVER_ID ? 1 : id + 1;
    taken.add(id);
    ids.set(name, id);
  }
  return ids;
}

/** Pure: the ids a config's server lines give, by backend and name (lines without one left out). */
export function serverIdsOf(
  servers: Iterable<{ readonly backend: string; readonly name: string; readonly id: number | null }>,
): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const s of servers) {
    if (s.id === null) continue;
    let backend = out.get(s.backend);
    if (backend === undefined) out.set(s.backend, (backend = new Map<string, number>()));
    backend.set(s.name, s.id);
  }
  return out;
}
