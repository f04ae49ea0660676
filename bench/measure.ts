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
   * The app began to listen → the sending of the first request HAProxy routed to it: the same
   * share without the new app's own time to answer its first request (a cold Node process, on a
   * busy CPU in a burst). HAProxy picks the server a moment after the send, so this can come out
   * a little early, never late.
   */
  readonly listeningToFirstRoutedMs: Percentiles;
  readonly listeningToFirstRoutedByStepMs: Record<string, Percentiles>;
  /**
   * Starts whose server the sidecar held in maintenance (their app did not listen yet at their
   * start's pass) and then made ready the moment its probe connected (its "held servers ready"
   * log line): the app began to listen → that line. The others were routed by a pass. Can be
   * below 0: a busy app logs its own listen late.
   */
  readonly heldThenReady: { readonly of: number; readonly listeningToReadyMs: Percentiles };
  /** A terminating kill (or a crash's die) → the last request HAProxy sent to that container. */
  readonly killToLastRoutedMs: Percentiles;
  readonly unobservedStarts: readonly string[];
}

const byStep = (rows: ReadonlyArray<{ step: string; v: number }>): Record<string, Percentiles> => {
  const m = new Map<string, number[]>();
  for (const r of rows) m.set(r.step, [...(m.get(r.step) ?? []), r.v]);
  return Object.fromEntries([...m].map(([k, v]) => [k, percentiles(v)]));
};

/** When the sidecar made a held server ready, by container name (its server's name). */
export interface HeldReady {
  readonly name: string;
  readonly atMs: number;
}

/** Pure: the sidecar's "held servers ready" log lines (pino JSON) as one record per server. */
export function heldReadies(logText: string): HeldReady[] {
  const out: HeldReady[] = [];
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

export function convergence(
  samples: readonly Sample[],
  starts: readonly StartRecord[],
  ends: readonly EndRecord[],
  readies: readonly HeldReady[] = [],
): Convergence {
  const hits = samples.filter((s) => s.kind === "new-connection" && s.ok && s.ip !== "");
  const firsts: Array<{ step: string; v: number }> = [];
  const shares: Array<{ step: string; v: number }> = [];
  const routed: Array<{ step: string; v: number }> = [];
  const toReady: number[] = [];
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
    // This start's ready: its name's first after it, before that name starts again.
    const again = starts.find((o) => o.name === st.name && o.startedAtMs > st.startedAtMs);
    const ready = readies.find(
      (r) => r.name === st.name && r.atMs >= st.startedAtMs && (again === undefined || r.atMs < again.startedAtMs),
    );
    if (ready !== undefined && st.listeningAtMs !== null) toReady.push(ready.atMs - st.listeningAtMs);
    if (st.listeningAtMs !== null) {
      shares.push({ step: st.step, v: first.doneMs - st.listeningAtMs });
      routed.push({ step: st.step, v: first.sentMs - st.listeningAtMs });
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
    listeningToFirstRoutedMs: percentiles(routed.map((f) => f.v)),
    listeningToFirstRoutedByStepMs: byStep(routed),
    heldThenReady: { of: firsts.length, listeningToReadyMs: percentiles(toReady) },
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
