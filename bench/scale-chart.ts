/**
 * Pure: bench-scale's chart, as SVG: one small plot per measure against the fleet's size N (log
 * scale), each point labelled with its value, the target drawn as a dashed line where there is one.
 */
import { esc, n, scale, ticks } from "../sidecar/lib/svg";
import type { ScaleResult } from "./scale-result";

interface Series {
  readonly name: string;
  readonly color: string;
  readonly values: ReadonlyArray<number | null>;
}

interface Plot {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly Series[];
  /** A target, drawn dashed (at N = 1,000 in the issue; drawn across). */
  readonly target?: number;
}

const W = 330;
const H = 190;
const COLS = 3;
const PAD = { left: 54, right: 16, top: 30, bottom: 34 };

function plot(p: Plot, sizes: readonly number[], x0: number, y0: number): string[] {
  const xs = scale(Math.log10(sizes[0]!), Math.log10(sizes[sizes.length - 1]!), x0 + PAD.left, x0 + W - PAD.right);
  const all = p.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = Math.max(1e-9, p.target ?? 0, ...all) * 1.15;
  const ys = scale(0, max, y0 + H - PAD.bottom, y0 + PAD.top);
  const out = [`<text x="${x0 + PAD.left}" y="${y0 + 18}" font-size="12" font-weight="600">${esc(p.title)}</text>`];
  out.push(
    `<rect x="${x0 + PAD.left}" y="${y0 + PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#cbd5e1"/>`,
  );
  for (const v of ticks(0, max, 4)) {
    out.push(
      `<line x1="${x0 + PAD.left}" x2="${x0 + W - PAD.right}" y1="${n(ys(v))}" y2="${n(ys(v))}" stroke="#eef2f7"/>`,
    );
    out.push(
      `<text x="${x0 + PAD.left - 4}" y="${n(ys(v) + 3)}" font-size="9" text-anchor="end">${esc(String(v))}</text>`,
    );
  }
  for (const size of sizes)
    out.push(
      `<text x="${n(xs(Math.log10(size)))}" y="${y0 + H - PAD.bottom + 13}" font-size="9" text-anchor="middle">${size}</text>`,
    );
  out.push(
    `<text x="${x0 + PAD.left - 40}" y="${y0 + H - PAD.bottom + 26}" font-size="9" fill="#64748b">N · ${esc(p.unit)}</text>`,
  );
  if (p.target !== undefined)
    out.push(
      `<line x1="${x0 + PAD.left}" x2="${x0 + W - PAD.right}" y1="${n(ys(p.target))}" y2="${n(ys(p.target))}" stroke="#dc2626" stroke-dasharray="4 3"/>`,
    );
  p.series.forEach((s, k) => {
    const pts = s.values
      .map((v, i) => (v === null ? null : ([xs(Math.log10(sizes[i]!)), ys(v), v] as const)))
      .filter((q): q is readonly [number, number, number] => q !== null);
    if (pts.length > 1)
      out.push(
        `<polyline points="${pts.map(([x, y]) => `${n(x)},${n(y)}`).join(" ")}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`,
      );
    for (const [x, y, v] of pts) {
      out.push(`<circle cx="${n(x)}" cy="${n(y)}" r="2.6" fill="${s.color}"/>`);
      out.push(`<text x="${n(x + 3)}" y="${n(y - 4)}" font-size="8.5" fill="${s.color}">${esc(String(v))}</text>`);
    }
    out.push(
      `<text x="${x0 + W - PAD.right - 4}" y="${y0 + PAD.top + 11 + k * 11}" font-size="9" text-anchor="end" fill="${s.color}">${esc(s.name)}</text>`,
    );
  });
  return out;
}

export function scaleChart(results: readonly ScaleResult[], title: string): string {
  const sizes = results.map((r) => r.n);
  const col = (f: (r: ScaleResult) => number | null): Array<number | null> => results.map(f);
  const plots: Plot[] = [
    {
      title: "event → server UP",
      unit: "ms",
      target: 100,
      series: [
        { name: "single p50", color: "#2563eb", values: col((r) => r.single.p50) },
        { name: "single p95", color: "#1e3a8a", values: col((r) => r.single.p95) },
        { name: "burst 10 % p95", color: "#ea580c", values: col((r) => r.burst.p95) },
      ],
    },
    {
      title: "a resync pass",
      unit: "ms",
      target: 1000,
      series: [
        { name: "p50", color: "#2563eb", values: col((r) => r.resyncPassMs.p50) },
        { name: "max", color: "#1e3a8a", values: col((r) => r.resyncPassMs.max) },
      ],
    },
    {
      title: "per started container",
      unit: "calls",
      series: [
        { name: "Docker API calls", color: "#2563eb", values: col((r) => r.dockerCallsPerStart) },
        { name: "HAProxy commands/change", color: "#16a34a", values: col((r) => r.haproxyCommandsPerChange) },
      ],
    },
    {
      title: "sidecar memory",
      unit: "MiB",
      target: 96,
      series: [
        { name: "RSS at rest", color: "#2563eb", values: col((r) => r.sidecarRssMiB) },
        { name: "peak", color: "#1e3a8a", values: col((r) => r.sidecarPeakRssMiB) },
      ],
    },
    {
      title: "HAProxy worker",
      unit: "MiB",
      series: [{ name: "RSS", color: "#16a34a", values: col((r) => r.haproxyWorkerRssMiB) }],
    },
    {
      title: "time to answer",
      unit: "ms (p95)",
      target: 200,
      series: [
        { name: "/status", color: "#2563eb", values: col((r) => r.statusMs.p95) },
        { name: "/metrics", color: "#16a34a", values: col((r) => r.metricsMs.p95) },
        { name: "status page", color: "#9333ea", values: col((r) => r.pageMs.p95) },
      ],
    },
  ];
  const rows = Math.ceil(plots.length / COLS);
  const width = COLS * W;
  const height = 34 + rows * H;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="600">${esc(title)}</text>`,
    `<text x="${width - 12}" y="20" font-size="10" text-anchor="end" fill="#dc2626">dashed: the target</text>`,
  ];
  plots.forEach((p, i) => out.push(...plot(p, sizes, (i % COLS) * W, 34 + Math.floor(i / COLS) * H)));
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
