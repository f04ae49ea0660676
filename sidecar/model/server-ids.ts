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

/**
 * Pure: a stable HAProxy server id (`id` on the server line, and in `add server`) for each name
 * of one backend. It comes from the name (itself from the container), never from the order in
 * which servers arrived, so that every replica, and every reload, gives a server the same id and
 * hashing (`balance source`, `hash-type consistent`) picks the same server everywhere. Two names
 * that ask for the same id: the one that sorts first keeps it, the other takes the next free id
 * (wrapping to 1), names taken in sorted order: the same set of names always gets the same ids.
 */
export function assignServerIds(names: readonly string[]): Map<string, number> {
  const unique = [...new Set(names)].sort(compareText);
  if (unique.length > MAX_SERVER_ID) throw new RangeError(`more than ${MAX_SERVER_ID} servers in one backend`);
  const taken = new Set<number>();
  const ids = new Map<string, number>();
  for (const name of unique) {
    let id = preferredServerId(name);
    while (taken.has(id)) id = id === MAX_SERVER_ID ? 1 : id + 1;
    taken.add(id);
    ids.set(name, id);
  }
  return ids;
}
