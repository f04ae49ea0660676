/** Pure parsers of HAProxy's CLI answers. */
import { DESCRIPTION_PREFIX } from "../render/render";

/** Extracts `description` from the output of `show info`, or null when it is absent. */
export function parseDescription(showInfo: string): string | null {
  const m = /^description: (.*)$/m.exec(showInfo);
  return m ? m[1]!.trim() : null;
}

/** The serving worker's pid from `show info`, or null: it changes with every reload and restart. */
export function parseWorkerPid(showInfo: string): number | null {
  const m = /^Pid: (\d{1,10})\s*$/m.exec(showInfo);
  return m ? Number(m[1]) : null;
}

/** The config id carried by `description`, "" when the worker runs a config that has none. */
export function configIdOf(showInfo: string): string {
  const description = parseDescription(showInfo);
  return description?.startsWith(DESCRIPTION_PREFIX) ? description.slice(DESCRIPTION_PREFIX.length) : "";
}

/** `show stat` CSV → `backend/server` → status, servers only. */
export function parseShowStat(csv: string): Map<string, string> {
  const lines = csv.trim().split("\n");
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const px = header.indexOf("pxname");
  const sv = header.indexOf("svname");
  const st = header.indexOf("status");
  const out = new Map<string, string>();
  // Only the columns read, cut out of the line: a line has about a hundred (the status is the
  // 18th), and at a thousand servers every /status asks for one.
  const last = Math.max(px, sv, st);
  for (let i = 1; i < lines.length; i++) {
    const c = columns(lines[i]!, last, ",");
    const server = c[sv];
    if (!server || server === "FRONTEND" || server === "BACKEND") continue;
    out.set(`${c[px]}/${server}`, c[st] ?? "");
  }
  return out;
}

/** Worker pids from the master CLI's `show proc` (current and old workers). */
export function parseWorkerPids(showProc: string): number[] {
  const workers = showProc.split("# workers")[1]?.split("# programs")[0] ?? "";
  return workers
    .split("\n")
    .map((l) => /^(\d+)\s+worker\b/.exec(l.trim())?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
}

/** The master's reload counter from `show proc`, or null when the master line is missing. */
export function parseReloadCount(showProc: string): number | null {
  const line = showProc.split("\n").find((l) => /^\d+\s+master\s/.test(l.trim()));
  const n = line?.trim().split(/\s+/)[2];
  return n !== undefined && /^\d+$/.test(n) ? Number(n) : null;
}

// Answers HAProxy gives to a command it refused. Commands that succeed answer nothing, a known
// success sentence, or data that never starts like these.
const ERROR_REPLY =
  /^(Unknown command|Permission denied|No such|Require|Can't|Cannot|Invalid|Missing|Unable|Error|'[^']*' only supports|[A-Za-z ]*: unknown|Already exists|Not found)/i;

/** The refusal in a CLI answer, or null when the answer is not one. */
export function replyError(reply: string): string | null {
  const first = reply.trimStart().split("\n")[0] ?? "";
  return ERROR_REPLY.test(first) ? reply.trim() : null;
}

/** One server as the serving worker runs it (`show servers state`). */
export interface RunningServer {
  readonly backend: string;
  readonly name: string;
  /** Its numeric id (`srv_id`), null when the answer has none. */
  readonly id: number | null;
  readonly address: string;
  readonly port: number;
  /** User weight (what `weight` / `set server … weight` set). */
  readonly weight: number;
  /** In maintenance (forced, inherited or resolution): routes nothing new. */
  readonly maint: boolean;
  /** Draining: routes only sticky sessions. */
  readonly drain: boolean;
}

// SRV_ADMF_* in HAProxy's server-t.h: MAINT is FMAINT|IMAINT|RMAINT, DRAIN is FDRAIN|IDRAIN.
const ADMIN_MAINT = 0x23;
const ADMIN_DRAIN = 0x18;

/** The first `last + 1` columns of a line whose columns are one `separator` apart. */
function columns(line: string, last: number, separator = " "): string[] {
  const out: string[] = [];
  let start = 0;
  while (out.length <= last) {
    const end = line.indexOf(separator, start);
    if (end < 0) {
      out.push(line.slice(start));
      break;
    }
    out.push(line.slice(start, end));
    start = end + 1;
  }
  return out;
}

/** `show servers state` → servers by `backend/server`. */
export function parseServersState(dump: string): Map<string, RunningServer> {
  const lines = dump.split("\n");
  const headerLine = lines.find((l) => l.startsWith("# be_id"));
  const out = new Map<string, RunningServer>();
  if (headerLine === undefined) return out;
  const header = headerLine.slice(2).trim().split(/\s+/);
  const col = (name: string): number => header.indexOf(name);
  const [be, sv, addr, admin, weight, port, id] = [
    "be_name",
    "srv_name",
    "srv_addr",
    "srv_admin_state",
    "srv_uweight",
    "srv_port",
    "srv_id",
  ].map(col);
  // Only the columns read, cut out of the line: at a thousand servers, two dumps a pass, every
  // other column was garbage (25 strings a line).
  const last = Math.max(be!, sv!, addr!, admin!, weight!, port!, id!);
  for (const line of lines) {
    if (line.startsWith("#") || !/^\d+ /.test(line)) continue;
    const c = /^\s|\s\s|\t|\s$/.test(line) ? line.trim().split(/\s+/) : columns(line, last);
    const adminState = Number(c[admin!]);
    const server: RunningServer = {
      backend: c[be!] ?? "",
      name: c[sv!] ?? "",
      id: /^[1-9][0-9]{0,9}$/.test(c[id!] ?? "") ? Number(c[id!]) : null,
      address: c[addr!] ?? "",
      port: Number(c[port!]),
      weight: Number(c[weight!]),
      maint: (adminState & ADMIN_MAINT) !== 0,
      drain: (adminState & ADMIN_DRAIN) !== 0,
    };
    out.set(`${server.backend}/${server.name}`, server);
  }
  return out;
}
