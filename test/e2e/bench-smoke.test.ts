/**
 * The benchmark's smoke run: a short load on 127.0.0.1 while webapp scales 2 → 3. Scaling must
 * not cost a single request, nor a reload. (`make bench` is the full scenario; numbers in
 * BENCHMARKS.md.)
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ROOT, sh } from "./helpers";

jest.setTimeout(600_000);

afterAll(() => {
  sh("make down", { allowFail: true });
});

it("scales under load without a failed request and without a reload", () => {
  sh("node dist/bench.js --smoke");
  const result = JSON.parse(readFileSync(path.join(ROOT, ".bench/smoke.json"), "utf8"));
  const [phase] = result.phases;
  expect(phase.requests.sent).toBeGreaterThan(500);
  expect(phase.requests.failed).toBe(0);
  expect(phase.requests.newConnection.firstFailures).toEqual([]);
  expect(phase.steps).toEqual([expect.objectContaining({ name: "scale 2 → 3", reloads: 0 })]);
  expect(phase.convergence.unobservedStarts).toEqual([]);
  expect(phase.convergence.startToFirstResponseMs.n).toBe(1);
});
