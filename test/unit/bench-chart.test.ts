import { benchChart } from "../../bench/chart";

describe("the benchmark chart (pure SVG)", () => {
  const t0 = Date.UTC(2026, 10, 25, 15, 0, 0);
  const timeline = Array.from({ length: 10 }, (_, t) => ({
    t,
    rps: 100 + t,
    failed: t === 4 ? 3 : 0,
    p50: 2,
    p99: t === 6 ? null : 9,
  }));
  const svg = benchChart(
    [
      {
        name: "runtime path <defaults>",
        startedAt: t0,
        timeline,
        steps: [{ name: "scale 2 → 4", startMs: t0 + 2000, endMs: t0 + 3500 }],
        crashAtMs: t0 + 8000,
        reloadsAtMs: [t0 + 3000, t0 + 7000],
      },
    ],
    "bench",
  );

  it("draws requests and latency lines, the failed seconds, the steps, reloads and the crash", () => {
    expect(svg).toMatch(/^<svg /);
    expect(svg.match(/class="reload"/g)).toHaveLength(2);
    expect(svg.match(/class="crash"/g)).toHaveLength(1);
    expect(svg.match(/class="failed"/g)).toHaveLength(1);
    expect(svg).toContain("scale 2 → 4");
    expect(svg).toContain("runtime path &#60;defaults&#62;");
    // A second without answers breaks the p99 line instead of drawing it down to 0.
    const p99 = /class="p99" d="([^"]+)"/.exec(svg)![1]!;
    expect(p99.match(/M/g)).toHaveLength(2);
    const rps = /class="rps" d="([^"]+)"/.exec(svg)![1]!;
    expect(rps.match(/[ML]/g)).toHaveLength(10);
  });
});
