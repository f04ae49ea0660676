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
  const out = new Map<string, string>();
  const text = csv.trimEnd();
  const headerAt = text.search(/\S/);
  if (headerAt < 0) return out;
  const header = text.slice(headerAt, lineEnd(text, headerAt)).replace(/^# /, "").split(",");
  // Only the columns read, cut out of the line: a line has about a hundred (the status is the
  // 18th), and at a thousand servers every /status asks for one.
  const slotOf = slotsOf(header, ["pxname", "svname", "status"]);
  const c: Array<string | undefined> = [undefined, undefined, undefined];
  forEachLine(text, lineEnd(text, headerAt) + 1, (line) => {
    c.fill(undefined);
    cutColumns(line, slotOf, c, ",");
    const server = c[1];
    if (server && server !== "FRONTEND" && server !== "BACKEND") out.set(`${c[0]}/${server}`, c[2] ?? "");
  });
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
  // Its first line alone: a `show servers state` of a thousand servers is a thousand lines.
  const text = reply.trimStart();
  const end = text.indexOf("\n");
  const first = end < 0 ? text : text.slice(0, end);
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

/** `show servers state` → servers by `backend/server`. */
export function parseServersState(dump: string): Map<string, RunningServer> {
  const out = new Map<string, RunningServer>();
  const afterNewline = dump.indexOf("\n# be_id");
  const headerAt = dump.startsWith("# be_id") ? 0 : afterNewline < 0 ? -1 : afterNewline + 1;
  if (headerAt < 0) return out;
  const header = dump
    .slice(headerAt + 2, lineEnd(dump, headerAt))
    .trim()
    .split(/\s+/);
  const names = ["be_name", "srv_name", "srv_addr", "srv_admin_state", "srv_uweight", "srv_port", "srv_id"];
  // Only those columns are cut out of a line. At a thousand servers and two dumps a pass, the
  // line and its other columns were most of a pass's garbage.
  const slotOf = slotsOf(header, names);
  const c: Array<string | undefined> = new Array<string | undefined>(names.length);
  forEachLine(dump, 0, (line) => {
    if (!/^\d+ /.test(line)) return;
    c.fill(undefined);
    // The scanning is left to builtins (a regular expression, indexOf): this node interprets
    // JavaScript (no optimising compiler), and a loop over a line's characters costs more time
    // than the garbage it saves. A line whose columns are not one space apart is made so first.
    cutColumns(/^\s|\s\s|\t|\s$/.test(line) ? line.trim().replace(/\s+/g, " ") : line, slotOf, c, " ");
    // By index, not destructured: destructuring an array steps an iterator, an object a step.
    const id = c[6];
    const adminState = Number(c[3]);
    const server: RunningServer = {
      backend: c[0] ?? "",
      name: c[1] ?? "",
      id: id !== undefined && /^[1-9][0-9]{0,9}$/.test(id) ? Number(id) : null,
      address: c[2] ?? "",
      port: Number(c[5]),
      weight: Number(c[4]),
      maint: (adminState & ADMIN_MAINT) !== 0,
      drain: (adminState & ADMIN_DRAIN) !== 0,
    };
    out.set(`${server.backend}/${server.name}`, server);
  });
  return out;
}

/**
 * For each column of `header` up to the last of `names`, which of `names` it is (its index
 * there), or -1: a line is cut no further than the last column read.
 */
function slotsOf(header: readonly string[], names: readonly string[]): Int8Array {
  const columns = names.map((name) => header.indexOf(name));
  const slotOf = new Int8Array(Math.max(-1, ...columns) + 1).fill(-1);
  columns.forEach((column, slot) => {
    if (column >= 0) slotOf[column] = slot;
  });
  return slotOf;
}

/**
 * Calls `visit` with each line of `text` from `from` on, one at a time, with no array of every
 * line beside them (split): the one way both parsers walk an answer of a thousand lines.
 */
function forEachLine(text: string, from: number, visit: (line: string) => void): void {
  while (from < text.length) {
    const to = lineEnd(text, from);
    visit(text.slice(from, to));
    from = to + 1;
  }
}

/** Where the line that starts at `from` ends (its "\n", or the end of the text). */
function lineEnd(text: string, from: number): number {
  const end = text.indexOf("\n", from);
  return end < 0 ? text.length : end;
}

/**
 * The columns of `line` (one `separator` apart: two in a row are an empty column) that `slotOf`
 * gives a slot, into `into[slot]`; a column past the line's end is left as it was.
 */
function cutColumns(line: string, slotOf: Int8Array, into: Array<string | undefined>, separator: string): void {
  let start = 0;
  for (let column = 0; column < slotOf.length && start <= line.length; column++) {
    const next = line.indexOf(separator, start);
    const end = next < 0 ? line.length : next;
    const slot = slotOf[column]!;
    if (slot >= 0) into[slot] = line.slice(start, end);
    start = end + 1;
  }
}
