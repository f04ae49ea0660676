/**
 * Pure: the benchmark's chart, as SVG: per phase, requests answered per second (failed ones in
 * red) and latency p50/p99 per second, over the run, with the scenario's steps shaded and
 * named, the crash marked, and every reload the sidecar's change log recorded as a tick.
 */
import { esc, n, scale, ticks } from "../sidecar/lib/svg";
import type { TimelinePoint } from "./measure";

export interface ChartPhase {
  readonly name: string;
  /** Epoch ms of the timeline's second 0. */
  readonly startedAt: number;
  readonly timeline: readonly TimelinePoint[];
  readonly steps: ReadonlyArray<{ readonly name: string; readonly startMs: number; readonly endMs: number }>;
  readonly crashAtMs: number | null;
  /** Epoch ms of each reload HAProxy confirmed. */
  readonly reloadsAtMs: readonly number[];
}

const W = 1100;
const LEFT = 64;
const RIGHT = 20;
const PLOT = 130;
const GAP = 34;
const TITLE = 26;
const PANEL = TITLE + PLOT + GAP + PLOT + 46;

function panel(p: ChartPhase, top: number): string[] {
  const seconds = Math.max(1, p.timeline.length);
  const x = scale(0, seconds, LEFT, W - RIGHT);
  const xMs = (ms: number): number => x((ms - p.startedAt) / 1000);
  const rpsTop = top + TITLE;
  const latTop = rpsTop + PLOT + GAP;
  const maxRps = Math.max(1, ...p.timeline.map((t) => t.rps));
  const maxLat = Math.max(1, ...p.timeline.map((t) => t.p99 ?? 0));
  const yRps = scale(0, maxRps * 1.1, rpsTop + PLOT, rpsTop);
  const yLat = scale(0, maxLat * 1.1, latTop + PLOT, latTop);
  const out: string[] = [`<text x="${LEFT}" y="${top + 16}" font-weight="600" font-size="14">${esc(p.name)}</text>`];
  // Steps: shaded spans, named above the requests plot.
  p.steps.forEach((s, i) => {
    const x0 = xMs(s.startMs);
    const x1 = Math.max(x0 + 2, xMs(s.endMs));
    for (const [t0, h] of [
      [rpsTop, PLOT],
      [latTop, PLOT],
    ] as const)
      out.push(`<rect x="${n(x0)}" y="${t0}" width="${n(x1 - x0)}" height="${h}" fill="#fde68a" fill-opacity="0.45"/>`);
    out.push(
      `<text x="${n(x0 + 2)}" y="${n(rpsTop + 11 + (i % 3) * 11)}" font-size="10" fill="#92400e">${esc(s.name)}</text>`,
    );
  });
  // Axes: grid and labels.
  for (const [t0, y, max, unit] of [
    [rpsTop, yRps, maxRps * 1.1, "req/s"],
    [latTop, yLat, maxLat * 1.1, "ms"],
  ] as const) {
    out.push(`<rect x="${LEFT}" y="${t0}" width="${W - LEFT - RIGHT}" height="${PLOT}" fill="none" stroke="#cbd5e1"/>`);
    for (const v of ticks(0, max, 4))
      out.push(
        `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="#e2e8f0"/>`,
        `<text x="${LEFT - 6}" y="${n(y(v) + 4)}" text-anchor="end" font-size="10" fill="#555">${v}</text>`,
      );
    out.push(
      `<text x="14" y="${n(t0 + PLOT / 2)}" font-size="11" fill="#555" transform="rotate(-90 14 ${n(t0 + PLOT / 2)})" text-anchor="middle">${unit}</text>`,
    );
  }
  for (const s of ticks(0, seconds, 10))
    out.push(
      `<text x="${n(x(s))}" y="${latTop + PLOT + 14}" text-anchor="middle" font-size="10" fill="#555">${s} s</text>`,
    );
  // Reloads and the crash, across both plots.
  for (const at of p.reloadsAtMs)
    out.push(
      `<line class="reload" x1="${n(xMs(at))}" x2="${n(xMs(at))}" y1="${rpsTop}" y2="${latTop + PLOT}" stroke="#7c3aed" stroke-opacity="0.6"/>`,
    );
  if (p.crashAtMs !== null)
    out.push(
      `<line class="crash" x1="${n(xMs(p.crashAtMs))}" x2="${n(xMs(p.crashAtMs))}" y1="${rpsTop}" y2="${latTop + PLOT}" stroke="#b3261e" stroke-width="2" stroke-dasharray="4 3"/>`,
    );
  const line = (pts: Array<[number, number | null]>, y: (v: number) => number, color: string, cls: string): string => {
    let d = "";
    let pen = false;
    for (const [t, v] of pts) {
      if (v === null) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${n(x(t + 0.5))} ${n(y(v))}`;
      pen = true;
    }
    return `<path class="${cls}" d="${d}" fill="none" stroke="${color}" stroke-width="1.4"/>`;
  };
  out.push(
    line(
      p.timeline.map((t) => [t.t, t.rps]),
      yRps,
      "#2563eb",
      "rps",
    ),
  );
  for (const t of p.timeline.filter((t) => t.failed > 0))
    out.push(
      `<rect class="failed" x="${n(x(t.t))}" y="${n(yRps(t.failed))}" width="${n(Math.max(1.5, x(1) - x(0)))}" height="${n(rpsTop + PLOT - yRps(t.failed))}" fill="#b3261e"/>`,
    );
  out.push(
    line(
      p.timeline.map((t) => [t.t, t.p50]),
      yLat,
      "#1a7f37",
      "p50",
    ),
  );
  out.push(
    line(
      p.timeline.map((t) => [t.t, t.p99]),
      yLat,
      "#d97706",
      "p99",
    ),
  );
  return out;
}

export function benchChart(phases: readonly ChartPhase[], title: string): string {
  const height = 30 + phases.length * PANEL + 24;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="20" font-size="15" font-weight="700">${esc(title)}</text>`,
    ...phases.flatMap((p, i) => panel(p, 30 + i * PANEL)),
  ];
  // Legend.
  const ly = height - 10;
  const items: Array<[string, string]> = [
    ["#2563eb", "requests answered per second"],
    ["#b3261e", "failed requests"],
    ["#1a7f37", "latency p50"],
    ["#d97706", "latency p99"],
    ["#7c3aed", "HAProxy reload"],
    ["#fde68a", "scenario step (until settled)"],
  ];
  let lx = LEFT;
  for (const [color, label] of items) {
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${color}"/>`,
      `<text x="${lx + 16}" y="${ly}">${label}</text>`,
    );
    lx += 30 + label.length * 6.3;
  }
  parts.push(`<text x="${W - RIGHT}" y="${ly}" text-anchor="end" fill="#b3261e">- - crash</text>`, "</svg>");
  return parts.join("\n");
}
