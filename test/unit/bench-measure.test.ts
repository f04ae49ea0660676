import { convergence } from "../../bench/measure";
import type { Sample } from "../../bench/load";

const hit = (ip: string, sentMs: number): Sample => ({
  sentMs,
  doneMs: sentMs + 5,
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
  });
});
