/** Pure: the numbers of a run, from the samples and the containers' lives. */
import type { EndRecord, StartRecord } from "./lifecycle";
import { percentiles, type Percentiles } from "./lib";
import type { Sample } from "./load";

const TERMINATING = new Set(["15", "9", "SIGTERM", "SIGKILL", "TERM", "KILL"]);

export interface Convergence {
  /** Container StartedAt → its first answer through HAProxy. */
  readonly startToFirstResponseMs: Percentiles;
  readonly startToFirstResponseByStepMs: Record<string, Percentiles>;
  /** The app began to listen → its first answer through HAProxy: the sidecar's share (plus sampling). */
  readonly listeningToFirstResponseMs: Percentiles;
  readonly listeningToFirstResponseByStepMs: Record<string, Percentiles>;
  /**
   * The app began to listen → the first request HAProxy routed to it, by HAProxy's own log (the
   * request's date, `%tr`, of its first line naming the server): the same share without the
   * load's sampling (only the load's new connections tell which container answered, a few per
   * second per server in a burst) nor the cold app's time to answer its first request.
   */
  /**
   * The app began to listen → HAProxy put its server UP, by HAProxy's own message (a held
   * server's "leaving forced maintenance"): from then on it is routable, and its first request
   * waits only for the load to send one that round-robin gives it.
   */
  readonly listeningToUpMs: Percentiles;
  readonly listeningToUpByStepMs: Record<string, Percentiles>;
  readonly listeningToFirstRoutedMs: Percentiles;
  readonly listeningToFirstRoutedByStepMs: Record<string, Percentiles>;
  /**
   * Starts whose server the sidecar held in maintenance (their app did not listen yet at their
   * start's pass) and then made ready the moment its probe connected (its "held servers ready"
   * log line): the app began to listen → that line. The others were routed by a pass. Can be
   * below 0: a busy app logs its own listen late.
   */
  readonly heldThenReady: {
    readonly of: number;
    readonly listeningToReadyMs: Percentiles;
    readonly listeningToReadyByStepMs: Record<string, Percentiles>;
    /** Its "held servers ready" line → the first request HAProxy routed to it: HAProxy's share. */
    readonly readyToFirstRoutedMs: Percentiles;
  };
  /** Each observed start, in ms from its app's listen (null: not seen), for a closer look. */
  readonly starts: readonly StartMoments[];
  /** A terminating kill (or a crash's die) → the last request HAProxy sent to that container. */
  readonly killToLastRoutedMs: Percentiles;
  readonly unobservedStarts: readonly string[];
}

export interface StartMoments {
  readonly name: string;
  readonly step: string;
  /** Container StartedAt → the app's own "webapp listening" line. */
  readonly listeningAfterStartMs: number | null;
  readonly readyMs: number | null;
  /** HAProxy's own "is UP" message for it (held servers). */
  readonly upMs: number | null;
  readonly routedMs: number | null;
  readonly firstResponseMs: number | null;
}

const byStep = (rows: ReadonlyArray<{ step: string; v: number }>): Record<string, Percentiles> => {
  const m = new Map<string, number[]>();
  for (const r of rows) m.set(r.step, [...(m.get(r.step) ?? []), r.v]);
  return Object.fromEntries([...m].map(([k, v]) => [k, percentiles(v)]));
};

/** When something first happened to a server, by container name (its server's name). */
export interface NamedMoment {
  readonly name: string;
  readonly atMs: number;
}

/** Pure: the sidecar's "held servers ready" log lines (pino JSON) as one record per server. */
export function heldReadies(logText: string): NamedMoment[] {
  const out: NamedMoment[] = [];
  for (const line of logText.split("\n")) {
    if (!line.includes('"held servers ready"')) continue;
    let rec: { time?: unknown; servers?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (typeof rec.time !== "number" || !Array.isArray(rec.servers)) continue;
    for (const s of rec.servers)
      if (typeof s === "string") out.push({ name: s.slice(s.indexOf("/") + 1), atMs: rec.time });
  }
  return out;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Pure: the backend, server and request date (`%tr`, UTC in the image) of one line of HAProxy's
 * `option httplog`, or null for another line.
 */
export function httpLogRoute(line: string): { backend: string; server: string; atMs: number } | null {
  const m = /\[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})\.(\d{3})\] \S+ ([^/\s]+)\/(\S+) /.exec(line);
  if (m === null) return null;
  const month = MONTHS.indexOf(m[2]!);
  if (month < 0) return null;
  const n = (k: number): number => Number(m[k]);
  return { backend: m[8]!, server: m[9]!, atMs: Date.UTC(n(3), month, n(1), n(4), n(5), n(6), n(7)) };
}

/**
 * Pure: a server HAProxy put UP (routable) from one of its own messages, as `docker logs -t`
 * gives it (Docker's RFC 3339 timestamp first), or null for another line. A held server's says
 * "is UP/READY (leaving forced maintenance)": the moment the sidecar's ready took effect.
 */
export function haproxyUp(line: string, backend = "webapp"): NamedMoment | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z .*\bServer ([^/\s]+)\/(\S+) is UP\b/.exec(line);
  if (m === null || m[3] !== backend) return null;
  const atMs = Date.parse(`${m[1]}Z`) + Number(`0${m[2] ?? ""}`) * 1000;
  return Number.isNaN(atMs) ? null : { name: m[4]!, atMs };
}

/** A start's own moment among `moments`: its name's first after it, before that name starts again. */
function momentOf(st: StartRecord, starts: readonly StartRecord[], moments: readonly NamedMoment[]): number | null {
  const again = starts.find((o) => o.name === st.name && o.startedAtMs > st.startedAtMs);
  const m = moments.find(
    (r) => r.name === st.name && r.atMs >= st.startedAtMs && (again === undefined || r.atMs < again.startedAtMs),
  );
  return m === undefined ? null : m.atMs;
}

export function convergence(
  samples: readonly Sample[],
  starts: readonly StartRecord[],
  ends: readonly EndRecord[],
  readies: readonly NamedMoment[] = [],
  firstRoutes: readonly NamedMoment[] = [],
  ups: readonly NamedMoment[] = [],
): Convergence {
  const hits = samples.filter((s) => s.kind === "new-connection" && s.ok && s.ip !== "");
  const firsts: Array<{ step: string; v: number }> = [];
  const shares: Array<{ step: string; v: number }> = [];
  const routed: Array<{ step: string; v: number }> = [];
  const toReady: Array<{ step: string; v: number }> = [];
  const readyToRouted: number[] = [];
  const toUp: Array<{ step: string; v: number }> = [];
  const moments: StartMoments[] = [];
  const unobserved: string[] = [];
  for (const st of starts) {
    if (st.ip === "") continue;
    // Until the address goes to a later container (a removed one's address is reused).
    const next = starts.find((o) => o.ip === st.ip && o.startedAtMs > st.startedAtMs);
    const first = hits.find(
      (h) => h.ip === st.ip && h.sentMs >= st.startedAtMs && (next === undefined || h.sentMs < next.startedAtMs),
    );
    if (first === undefined) {
      unobserved.push(st.name);
      continue;
    }
    firsts.push({ step: st.step, v: first.doneMs - st.startedAtMs });
    if (st.listeningAtMs !== null) {
      const listening = st.listeningAtMs;
      shares.push({ step: st.step, v: first.doneMs - listening });
      const ready = momentOf(st, starts, readies);
      if (ready !== null) toReady.push({ step: st.step, v: ready - listening });
      const route = momentOf(st, starts, firstRoutes);
      if (route !== null) routed.push({ step: st.step, v: route - listening });
      if (ready !== null && route !== null) readyToRouted.push(route - ready);
      const up = momentOf(st, starts, ups);
      if (up !== null) toUp.push({ step: st.step, v: up - listening });
      const rel = (at: number | null): number | null => (at === null ? null : Math.round(at - listening));
      moments.push({
        name: st.name,
        step: st.step,
        listeningAfterStartMs: Math.round(listening - st.startedAtMs),
        readyMs: rel(ready),
        upMs: rel(up),
        routedMs: rel(route),
        firstResponseMs: rel(first.doneMs),
      });
    }
  }
  const drains: number[] = [];
  for (const e of ends) {
    if (e.ip === "") continue;
    const crash =
      e.action === "die" &&
      !ends.some((k) => k.id === e.id && k.action === "kill" && k.atMs <= e.atMs && e.atMs - k.atMs < 15_000);
    if (!(e.action === "kill" && TERMINATING.has(e.signal ?? "")) && !crash) continue;
    const again = starts.find((s) => s.ip === e.ip && s.startedAtMs > e.atMs);
    const routed = hits.filter(
      (h) => h.ip === e.ip && h.sentMs >= e.atMs && (again === undefined || h.sentMs < again.startedAtMs),
    );
    drains.push(routed.length === 0 ? 0 : Math.max(...routed.map((h) => h.sentMs)) - e.atMs);
  }
  return {
    startToFirstResponseMs: percentiles(firsts.map((f) => f.v)),
    startToFirstResponseByStepMs: byStep(firsts),
    listeningToFirstResponseMs: percentiles(shares.map((f) => f.v)),
    listeningToFirstResponseByStepMs: byStep(shares),
    listeningToUpMs: percentiles(toUp.map((f) => f.v)),
    listeningToUpByStepMs: byStep(toUp),
    listeningToFirstRoutedMs: percentiles(routed.map((f) => f.v)),
    listeningToFirstRoutedByStepMs: byStep(routed),
    heldThenReady: {
      of: firsts.length,
      listeningToReadyMs: percentiles(toReady.map((r) => r.v)),
      listeningToReadyByStepMs: byStep(toReady),
      readyToFirstRoutedMs: percentiles(readyToRouted),
    },
    starts: moments,
    killToLastRoutedMs: percentiles(drains),
    unobservedStarts: unobserved,
  };
}

/** Requests sent within [fromMs, toMs]: how many, how many failed, their latency. */
export function window(
  samples: readonly Sample[],
  fromMs: number,
  toMs: number,
): { sent: number; failed: number; latencyMs: Percentiles } {
  const inside = samples.filter((s) => s.sentMs >= fromMs && s.sentMs <= toMs);
  return {
    sent: inside.length,
    failed: inside.filter((s) => !s.ok).length,
    latencyMs: percentiles(inside.map((s) => s.doneMs - s.sentMs)),
  };
}

/** One point per second of the run: requests answered, failed, latency p50/p99. */
export interface TimelinePoint {
  readonly t: number;
  readonly rps: number;
  readonly failed: number;
  readonly p50: number | null;
  readonly p99: number | null;
}

export function timeline(samples: readonly Sample[], startMs: number, endMs: number): TimelinePoint[] {
  // Whole seconds only: a last partial second would read as a drop in traffic.
  const seconds = Math.max(0, Math.floor((endMs - startMs) / 1000));
  const buckets = Array.from({ length: seconds }, () => ({ n: 0, failed: 0, lat: [] as number[] }));
  for (const s of samples) {
    const i = Math.floor((s.doneMs - startMs) / 1000);
    const b = buckets[i];
    if (b === undefined) continue;
    b.n++;
    if (!s.ok) b.failed++;
    b.lat.push(s.doneMs - s.sentMs);
  }
  return buckets.map((b, t) => {
    const p = percentiles(b.lat);
    return { t, rps: b.n, failed: b.failed, p50: p.p50, p99: p.p99 };
  });
}
