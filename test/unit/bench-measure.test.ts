import { convergence, heldReadies } from "../../bench/measure";
import type { Sample } from "../../bench/load";

const hit = (ip: string, sentMs: number, tookMs = 5): Sample => ({
  sentMs,
  doneMs: sentMs + tookMs,
  ok: true,
  ip,
  kind: "new-connection",
});

describe("the benchmark's convergence numbers", () => {
  it("measures a start to the first answer from its own address, not from a later container that reuses it", () => {
    const starts = [
      // In a backend the load never reaches: never answers. Its address goes to a later webapp.
      { id: "a", name: "structural", step: "s1", startedAtMs: 1_000, ip: "10.0.0.9", listeningAtMs: 1_200 },
      { id: "b", name: "webapp_3", step: "s2", startedAtMs: 9_000, ip: "10.0.0.9", listeningAtMs: 9_300 },
    ];
    const c = convergence([hit("10.0.0.9", 9_400)], starts, []);
    expect(c.unobservedStarts).toEqual(["structural"]);
    expect(c.startToFirstResponseByStepMs).toEqual({ s2: expect.objectContaining({ n: 1, p50: 405 }) });
    expect(c.listeningToFirstResponseMs.p50).toBe(105);
    expect(c.listeningToFirstRoutedMs.p50).toBe(100);
  });

  it("tells the routing apart from a slow first answer", () => {
    const starts = [
      { id: "a", name: "webapp_4", step: "burst", startedAtMs: 1_000, ip: "10.0.0.4", listeningAtMs: 3_000 },
    ];
    // Routed 40 ms after the app listened; the cold app took 400 ms to answer.
    const c = convergence([hit("10.0.0.4", 3_040, 400), hit("10.0.0.4", 3_500)], starts, []);
    expect(c.listeningToFirstResponseMs.p50).toBe(440);
    expect(c.listeningToFirstRoutedByStepMs).toEqual({ burst: expect.objectContaining({ n: 1, p50: 40 }) });
  });

  it("reads the sidecar's held-then-ready lines and matches each to its own start", () => {
    const log = [
      '{"level":30,"time":3050,"servers":["webapp/hs-webapp-4","webapp/hs-webapp-5"],"msg":"held servers ready"}',
      "not json",
      '{"level":30,"time":3100,"msg":"pass"}',
      '{"level":30,"time":9060,"servers":["webapp/hs-webapp-4"],"msg":"held servers ready"}',
    ].join("\n");
    const readies = heldReadies(log);
    expect(readies).toEqual([
      { name: "hs-webapp-4", atMs: 3050 },
      { name: "hs-webapp-5", atMs: 3050 },
      { name: "hs-webapp-4", atMs: 9060 },
    ]);
    const starts = [
      { id: "a", name: "hs-webapp-4", step: "s1", startedAtMs: 1_000, ip: "10.0.0.4", listeningAtMs: 3_000 },
      { id: "b", name: "hs-webapp-6", step: "s1", startedAtMs: 1_000, ip: "10.0.0.6", listeningAtMs: 3_000 },
      { id: "c", name: "hs-webapp-4", step: "s2", startedAtMs: 8_000, ip: "10.0.0.7", listeningAtMs: 9_000 },
    ];
    const hits = [hit("10.0.0.4", 3_060), hit("10.0.0.6", 3_200), hit("10.0.0.7", 9_070)];
    const c = convergence(hits, starts, [], readies);
    // hs-webapp-6 was routed by its pass: not held.
    expect(c.heldThenReady.of).toBe(3);
    expect(c.heldThenReady.listeningToReadyMs).toEqual(expect.objectContaining({ n: 2, p50: 50, max: 60 }));
  });
});
