/**
 * Pure: the status page's timeline, as SVG drawn on the server (no script, no build step): the
 * change records of a window (the last hour), time on x, one lane per backend plus one for
 * HAProxy itself (reloads, runtime applies, rejections). Each mark carries its record in a
 * <title> (the browser's hover) and in data-* attributes (the page's own hover box, tests).
 */
import { esc, hhmm, n, scale, shape } from "../lib/svg";
import type { ChangeKind, ChangeRecord } from "./records";

type Mark = Parameters<typeof shape>[0];
const STYLE: Record<ChangeKind, { mark: Mark; color: string; label: string }> = {
  "server-added": { mark: "up", color: "#1a7f37", label: "server added" },
  "server-drained": { mark: "diamond", color: "#d97706", label: "drained" },
  "server-removed": { mark: "down", color: "#b3261e", label: "server removed" },
  "weight-changed": { mark: "circle", color: "#2563eb", label: "weight / address" },
  "address-changed": { mark: "circle", color: "#2563eb", label: "weight / address" },
  "backend-added": { mark: "square", color: "#1a7f37", label: "backend added" },
  "backend-removed": { mark: "square", color: "#b3261e", label: "backend removed" },
  "label-rejected": { mark: "cross", color: "#b3261e", label: "rejected" },
  "config-rejected": { mark: "cross", color: "#b3261e", label: "rejected" },
  reload: { mark: "circle", color: "#7c3aed", label: "reload" },
  "runtime-apply": { mark: "circle", color: "#64748b", label: "runtime apply" },
  "replica-repaired": { mark: "diamond", color: "#0891b2", label: "replica repaired" },
  "replica-state": { mark: "circle", color: "#0891b2", label: "replica stale / in sync" },
  maintenance: { mark: "diamond", color: "#a16207", label: "maintenance on / off" },
};
export const HAPROXY_LANE = "HAProxy";

const W = 960;
const MINUTE = 60_000;
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360].map((m) => m * MINUTE);
const LEFT = 150;
const RIGHT = 16;
const TOP = 22;
const LANE = 26;

/** When a record took effect (or, unconfirmed, was asked for). */
export const recordTime = (r: ChangeRecord): number => Date.parse(r.confirmedAt ?? r.triggeredAt);

/** One line of words for a record: the hover text. */
export function recordText(r: ChangeRecord): string {
  const what = [r.kind, r.backend && r.server ? `${r.backend}/${r.server}` : (r.backend ?? r.container)]
    .filter(Boolean)
    .join(" ");
  const took = r.tookMs === null ? "not confirmed" : `confirmed after ${r.tookMs} ms${r.via ? ` (${r.via})` : ""}`;
  return `#${r.seq} ${hhmm(recordTime(r))}:${new Date(recordTime(r)).toISOString().slice(17, 19)} ${what}: ${r.reason}; ${took}${r.detail ? ` — ${r.detail}` : ""}`;
}

/** The lane a record is drawn in. */
export const laneOf = (r: ChangeRecord): string =>
  r.backend !== null && r.kind !== "reload" && r.kind !== "runtime-apply" ? r.backend : HAPROXY_LANE;

/** The legend's entries (one per label), wrapped onto as many rows as the width needs. */
function legendLayout(top: number): {
  items: { style: (typeof STYLE)[ChangeKind]; lx: number; ly: number }[];
  bottom: number;
} {
  const items: { style: (typeof STYLE)[ChangeKind]; lx: number; ly: number }[] = [];
  const seen = new Set<string>();
  let lx = LEFT;
  let ly = top;
  for (const style of Object.values(STYLE)) {
    if (seen.has(style.label)) continue;
    seen.add(style.label);
    // 7.2 px a character is wide enough for 12 px sans-serif faces in every browser tried.
    const width = 30 + style.label.length * 7.2;
    if (lx + width > W - RIGHT && lx > LEFT) {
      lx = LEFT;
      ly += 18;
    }
    items.push({ style, lx, ly });
    lx += width;
  }
  return { items, bottom: ly };
}

export function timelineSvg(records: readonly ChangeRecord[], nowMs: number, windowMs = 3_600_000): string {
  const from = nowMs - windowMs;
  // Records are checked when read back (stored-record.ts); one of a kind this code cannot draw
  // is left out all the same, never a throw.
  const shown = records.filter((r) => Object.hasOwn(STYLE, r.kind) && recordTime(r) >= from && recordTime(r) <= nowMs);
  const lanes = [HAPROXY_LANE, ...[...new Set(shown.map(laneOf).filter((l) => l !== HAPROXY_LANE))].sort()];
  const legend = legendLayout(TOP + lanes.length * LANE + 22);
  const height = legend.bottom + 12;
  const x = scale(from, nowMs, LEFT, W - RIGHT);
  const laneY = (lane: string): number => TOP + lanes.indexOf(lane) * LANE + LANE / 2;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" data-window-ms="${windowMs}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
  ];
  // Lanes, then the time axis.
  lanes.forEach((lane, i) => {
    const y = TOP + i * LANE;
    parts.push(
      `<rect x="${LEFT}" y="${y}" width="${W - LEFT - RIGHT}" height="${LANE}" fill="${i % 2 ? "#fafafa" : "#f1f5f9"}"/>`,
      `<text class="lane" x="${LEFT - 8}" y="${n(y + LANE / 2 + 4)}" text-anchor="end">${esc(lane)}</text>`,
    );
  });
  // Whole minutes (so that labels never repeat), about six of them, none under the "now" label.
  const step = TICK_STEPS.find((s) => s >= windowMs / 7) ?? TICK_STEPS[TICK_STEPS.length - 1]!;
  for (let t = Math.ceil(from / step) * step; x(t) <= W - RIGHT - 100; t += step) {
    parts.push(
      `<line x1="${n(x(t))}" x2="${n(x(t))}" y1="${TOP}" y2="${TOP + lanes.length * LANE}" stroke="#cbd5e1" stroke-dasharray="2 3"/>`,
      `<text x="${n(x(t))}" y="${TOP - 6}" text-anchor="middle" fill="#555">${hhmm(t)}</text>`,
    );
  }
  parts.push(`<text x="${W - RIGHT}" y="${TOP - 6}" text-anchor="end" fill="#555">now (UTC)</text>`);
  // Reloads are drawn across every lane: every backend went through them.
  for (const r of shown.filter((r) => r.kind === "reload"))
    parts.push(
      `<line x1="${n(x(recordTime(r)))}" x2="${n(x(recordTime(r)))}" y1="${TOP}" y2="${TOP + lanes.length * LANE}" stroke="${STYLE.reload.color}" stroke-opacity="0.45"/>`,
    );
  for (const r of shown) {
    const style = STYLE[r.kind];
    const attrs = [
      `class="mark"`,
      `data-seq="${r.seq}"`,
      `data-kind="${esc(r.kind)}"`,
      `data-lane="${esc(laneOf(r))}"`,
      `data-record="${esc(recordText(r))}"`,
    ].join(" ");
    parts.push(
      `<g ${attrs}><title>${esc(recordText(r))}</title>${shape(style.mark, x(recordTime(r)), laneY(laneOf(r)), 6, style.color)}</g>`,
    );
  }
  if (shown.length === 0)
    parts.push(
      `<text x="${(LEFT + W) / 2}" y="${n(TOP + LANE / 2 + 4)}" text-anchor="middle" fill="#555">no routing change in this window</text>`,
    );
  for (const { style, lx, ly } of legend.items)
    parts.push(
      shape(style.mark, lx + 6, ly - 4, 5, style.color),
      `<text x="${lx + 16}" y="${ly}">${style.label}</text>`,
    );
  parts.push("</svg>");
  return parts.join("\n");
}
