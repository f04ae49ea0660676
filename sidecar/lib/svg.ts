/** Small helpers for the SVG charts the sidecar (timeline) and the benchmark draw, no library. */

/** Text or an attribute value, escaped for XML. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A number for an SVG coordinate: short, no exponent. */
export const n = (v: number): string => (Math.round(v * 10) / 10).toString();

/** A linear scale from [d0, d1] to [r0, r1]. */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** Round tick values covering [lo, hi], about `count` of them (1, 2, 5 × 10^k steps). */
export function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** HH:MM (UTC) of an epoch ms. */
export const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

/** The marks the charts share: a shape centred on (x, y), of size r. */
export function shape(
  kind: "up" | "down" | "diamond" | "circle" | "square" | "cross",
  x: number,
  y: number,
  r: number,
  fill: string,
): string {
  switch (kind) {
    case "up":
      return `<path d="M${n(x)} ${n(y - r)}L${n(x + r)} ${n(y + r)}L${n(x - r)} ${n(y + r)}Z" fill="${fill}"/>`;
    case "down":
      return `<path d="M${n(x - r)} ${n(y - r)}L${n(x + r)} ${n(y - r)}L${n(x)} ${n(y + r)}Z" fill="${fill}"/>`;
    case "diamond":
      return `<path d="M${n(x)} ${n(y - r)}L${n(x + r)} ${n(y)}L${n(x)} ${n(y + r)}L${n(x - r)} ${n(y)}Z" fill="${fill}"/>`;
    case "circle":
      return `<circle cx="${n(x)}" cy="${n(y)}" r="${n(r * 0.8)}" fill="${fill}"/>`;
    case "square":
      return `<rect x="${n(x - r * 0.8)}" y="${n(y - r * 0.8)}" width="${n(r * 1.6)}" height="${n(r * 1.6)}" fill="${fill}"/>`;
    case "cross":
      return `<path d="M${n(x - r)} ${n(y - r)}L${n(x + r)} ${n(y + r)}M${n(x + r)} ${n(y - r)}L${n(x - r)} ${n(y + r)}" stroke="${fill}" stroke-width="2.5"/>`;
  }
}
