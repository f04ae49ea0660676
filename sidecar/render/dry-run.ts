/**
 * Pure: what applying a render would change, in words, without doing it (`sidecar diff`,
 * `make render DIFF=1`). Compares what HAProxy runs (the live config, as its render gave it)
 * with the next render: servers added, drained and removed, weights and addresses changed,
 * maintenance on and off, and whether it takes a reload or the runtime API alone.
 */
import type { ServerLine } from "./server-lines";

/** A config as the dry run compares it: its structure id and its server lines. */
export interface ConfigView {
  readonly configId: string;
  readonly servers: ReadonlyMap<string, ServerLine>;
  /** The servers it holds in maintenance until they listen (see Rendered.held). */
  readonly held?: ReadonlySet<string>;
}

const disabled = (l: ServerLine): boolean => l.options.includes("disabled");
const slowstart = (l: ServerLine): string | null => {
  const i = l.options.lastIndexOf("slowstart");
  return i < 0 ? null : (l.options[i + 1] ?? null);
};
const sorted = (keys: Iterable<string>): string[] => [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * One line per change, sorted by server, then the verdict: `reload: ...` or `runtime API only`,
 * or `no change`. `current` null: nothing runs yet (the first config is a reload).
 */
export function describeChanges(current: ConfigView | null, next: ConfigView): string[] {
  const out: string[] = [];
  const before = current?.servers ?? new Map<string, ServerLine>();
  for (const key of sorted(new Set([...before.keys(), ...next.servers.keys()]))) {
    const b = before.get(key);
    const n = next.servers.get(key);
    if (b === undefined && n !== undefined) {
      const extra = [
        `weight ${n.weight}`,
        ...(slowstart(n) !== null ? [`slowstart ${slowstart(n)}`] : []),
        ...(next.held?.has(key) === true ? ["in maintenance until it listens"] : disabled(n) ? ["in maintenance"] : []),
      ];
      out.push(`+ add ${key} ${n.address}:${n.port} ${extra.join(", ")}`);
    } else if (b !== undefined && n === undefined) {
      out.push(`- drain then remove ${key} ${b.address}:${b.port}`);
    } else if (b !== undefined && n !== undefined) {
      if (b.address !== n.address || b.port !== n.port)
        out.push(`~ address ${key} ${b.address}:${b.port} -> ${n.address}:${n.port}`);
      if (b.weight !== n.weight) out.push(`~ weight ${key} ${b.weight} -> ${n.weight}`);
      if (disabled(b) !== disabled(n))
        out.push(
          !disabled(n)
            ? `! maintenance off ${key} (routed again)`
            : next.held?.has(key) === true
              ? `! maintenance on ${key} (drained: does not listen)`
              : `! maintenance on ${key} (drained)`,
        );
      if (b.id !== n.id) out.push(`~ id ${key} ${b.id ?? "-"} -> ${n.id ?? "-"} (takes a reload)`);
    }
  }
  const renumbered = [...next.servers].some(([k, n]) => {
    const b = before.get(k);
    return b !== undefined && b.id !== n.id;
  });
  if (current === null) out.push("reload: yes (no config runs yet)");
  else if (current.configId !== next.configId)
    out.push(
      `reload: yes (structure changed: config ${current.configId.slice(0, 12) || "(none)"} -> ${next.configId.slice(0, 12)})`,
    );
  else if (renumbered) out.push("reload: yes (a server's id changes; the runtime API cannot change one)");
  else if (out.length > 0) out.push("reload: no (runtime API only)");
  else out.push("no change");
  return out;
}
