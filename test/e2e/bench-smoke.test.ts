/**
 * The benchmark's smoke run: a short load on 127.0.0.1 while webapp scales 2 → 3. Scaling must
 * not cost a single request. (`make bench` is the full scenario; numbers in BENCHMARKS.md.)
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { ROOT, sh } from "./helpers";

jest.setTimeout(600_000);

afterAll(() => {
  sh("make down", { allowFail: true });
});

it("scales under load without a failed request", () => {
  sh("node dist/bench.js --smoke");
  const result = JSON.parse(readFileSync(path.join(ROOT, ".bench/smoke.json"), "utf8"));
  expect(result.requests.sent).toBeGreaterThan(500);
  expect(result.requests.failed).toBe(0);
  expect(result.requests.newConnection.firstFailures).toEqual([]);
  expect(result.steps).toEqual([expect.objectContaining({ name: "scale 2 → 3", reloads: expect.any(Number) })]);
  expect(result.steps[0].reloads).toBeGreaterThanOrEqual(1);
  expect(result.convergence.unobservedStarts).toEqual([]);
});
