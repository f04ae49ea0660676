import type { ServerLine } from "../render/server-lines";

// SRV_ADMF_FMAINT | SRV_ADMF_FDRAIN: the maintenance and drain the sidecar itself sets.
const FORCED_ADMIN = 0x09;
// SRV_ADMF_FDRAIN alone: what is cleared from a server the new config keeps in maintenance.
const FORCED_DRAIN = 0x08;

/**
 * Pure: what of `show servers state` the next worker may load. HAProxy matches state-file lines
 * by backend and server name only, and applies their admin state, health and port even to a
 * server whose address changed: a name reused by a new container would inherit the old one's
 * DOWN or maintenance. So only lines of servers the new config keeps at the same address (and
 * under the same id) stay, and a drain or maintenance the sidecar set is cleared where the new
 * config wants them routed. A server whose line is `disabled` (an operator's maintenance, or held
 * until it listens) keeps its maintenance: cleared, HAProxy would take it out of maintenance, UP.
 */
export function keepServerState(dump: string, wanted: ReadonlyMap<string, ServerLine>): string {
  const lines = dump.split("\n");
  const headerLine = lines.find((l) => l.startsWith("# be_id"));
  if (headerLine === undefined) return dump;
  const header = headerLine.slice(2).trim().split(/\s+/);
  const [be, sv, addr, admin, id] = ["be_name", "srv_name", "srv_addr", "srv_admin_state", "srv_id"].map((n) =>
    header.indexOf(n),
  );
  const kept = lines.filter((line) => {
    if (!/^\d+ /.test(line)) return true;
    const c = line.trim().split(/\s+/);
    const w = wanted.get(`${c[be!]}/${c[sv!]}`);
    return w !== undefined && w.address === c[addr!] && (w.id === null || String(w.id) === c[id!]);
  });
  return kept
    .map((line) => {
      if (!/^\d+ /.test(line)) return line;
      const c = line.trim().split(" ");
      const maint = wanted.get(`${c[be!]}/${c[sv!]}`)?.options.includes("disabled") === true;
      c[admin!] = String(Number(c[admin!]) & ~(maint ? FORCED_DRAIN : FORCED_ADMIN));
      return c.join(" ");
    })
    .join("\n");
}
