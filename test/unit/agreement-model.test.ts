/** The pure parts of replica agreement: what a replica routes, its digest and drift, its state, the fleet's outcome. */
import { fleetOutcome } from "../../sidecar/apply/outcome";
import { decideReplicaState, type ReplicaFacts } from "../../sidecar/apply/replica-state";
import { routesDigest, routesDrift, runningRoutes, wantedRoutes } from "../../sidecar/apply/routing-digest";
import type { ReplicaOutcome } from "../../sidecar/apply/target";
import type { RunningServer } from "../../sidecar/haproxy/parse";
import { parseServerLines } from "../../sidecar/render/server-lines";

const lines = parseServerLines(
  [
    "backend webapp",
    "    server a 10.0.0.1:3000 id 11 check",
    "    server b 10.0.0.2:3000 id 22 check weight 5",
    "backend api",
    "    server c 10.0.1.1:8080 check",
    "",
  ].join("\n"),
);
const wanted = { configId: "s1", servers: lines };

/** `backend/name@address:port/weight#id`, then `!maint` or `!drain`. */
function server(spec: string): [string, RunningServer] {
  const m = /^(\w+)\/(\w+)@([\d.]+):(\d+)\/(\d+)#(\d+)(?:!(\w+))?$/.exec(spec)!;
  return [
    `${m[1]}/${m[2]}`,
    {
      backend: m[1]!,
      name: m[2]!,
      address: m[3]!,
      port: Number(m[4]),
      weight: Number(m[5]),
      id: Number(m[6]),
      maint: m[7] === "maint",
      drain: m[7] === "drain",
    },
  ];
}
const IN_STEP = ["webapp/a@10.0.0.1:3000/1#11", "webapp/b@10.0.0.2:3000/5#22", "api/c@10.0.1.1:8080/1#3"];
const read = (configId: string, specs: string[]) => ({ configId, servers: new Map(specs.map(server)) });
const digestOf = (configId: string, specs: string[]): string =>
  routesDigest(runningRoutes(read(configId, specs), lines));

describe("routes and their digest (pure)", () => {
  const desired = routesDigest(wantedRoutes(wanted));

  it.each<[string, string, string[], string[]]>([
    ["in step (a server without id in its line takes any)", "s1", IN_STEP, []],
    ["servers in another order read the same", "s1", [...IN_STEP].reverse(), []],
    [
      "a drained server still waiting for its deletion routes nothing: not a difference",
      "s1",
      [...IN_STEP, "webapp/old@10.0.0.9:3000/1#99!maint"],
      [],
    ],
    [
      "disable server by hand: the server routes nothing",
      "s1",
      [IN_STEP[0]!, "webapp/b@10.0.0.2:3000/5#22!maint", IN_STEP[2]!],
      ["webapp/b not routed (missing or in maintenance)"],
    ],
    [
      "a drain, a weight, an address, an id",
      "s1",
      ["webapp/a@10.0.0.7:3001/1#11!drain", "webapp/b@10.0.0.2:3000/1#23", IN_STEP[2]!],
      ["webapp/a draining, at 10.0.0.7:3001, not 10.0.0.1:3000", "webapp/b weight 1, not 5, id 23, not 22"],
    ],
    [
      "another structure, a server added by hand",
      "s0",
      [...IN_STEP, "webapp/x@10.0.0.8:3000/1#8"],
      ["config s0, not s1", "webapp/x routed, not wanted"],
    ],
  ])("%s", (_case, configId, specs, drift) => {
    const running = runningRoutes(read(configId, specs), lines);
    expect(routesDrift(wantedRoutes(wanted), running)).toEqual(drift);
    expect(routesDigest(running) === desired).toBe(drift.length === 0);
  });

  it("leaves the servers drained early out of what is wanted", () => {
    const drained = wantedRoutes(wanted, new Set(["webapp/b"]));
    expect([...drained.servers.keys()]).toEqual(["webapp/a", "api/c"]);
    const afterDrain = [IN_STEP[0]!, "webapp/b@10.0.0.2:3000/5#22!maint", IN_STEP[2]!];
    expect(routesDigest(drained)).toBe(digestOf("s1", afterDrain));
  });

  it("is 16 hex digits, the same for the same routes", () => {
    expect(desired).toMatch(/^[0-9a-f]{16}$/);
    expect(digestOf("s1", IN_STEP)).toBe(desired);
  });
});

describe("decideReplicaState (pure)", () => {
  const base: ReplicaFacts = {
    container: "running",
    desired: "D",
    read: { digest: "D", worker: 7 },
    applied: { digest: "D", worker: 7 },
    drift: [],
    failure: null,
  };
  it.each<[string, Partial<ReplicaFacts>, string, string | null]>([
    ["it routes what is wanted", {}, "in-sync", null],
    ["in sync even if the sidecar never touched it (it loaded the live file)", { applied: null }, "in-sync", null],
    ["paused", { container: "paused", read: null }, "stale", "paused"],
    ["restarting", { container: "restarting", read: null }, "stale", "restarting"],
    ["nothing applied yet", { desired: null }, "stale", "no config applied yet"],
    ["it does not answer", { read: null }, "stale", "does not answer"],
    [
      "it does not answer, after a failed apply: the failure says why",
      { read: null, failure: "connect ECONNREFUSED" },
      "stale",
      "connect ECONNREFUSED",
    ],
    [
      "behind: the sidecar has not brought it there yet",
      { read: { digest: "C", worker: 7 }, applied: { digest: "C", worker: 7 }, drift: ["webapp/x routed, not wanted"] },
      "stale",
      "behind: webapp/x routed, not wanted",
    ],
    [
      "moved by hand from where the sidecar left it",
      { read: { digest: "X", worker: 7 }, drift: ["webapp/b not routed (missing or in maintenance)"] },
      "diverged",
      "webapp/b not routed (missing or in maintenance)",
    ],
    [
      "another worker that nobody reloaded: a restart, not a divergence",
      { read: { digest: "X", worker: 9 }, drift: ["webapp/b not routed (missing or in maintenance)"] },
      "stale",
      "restarted: webapp/b not routed (missing or in maintenance)",
    ],
  ])("%s", (_case, facts, state, reason) => {
    expect(decideReplicaState({ ...base, ...facts })).toEqual({ state, reason });
  });
});

describe("fleetOutcome (pure)", () => {
  const result = (added: string[]) => ({ added, changed: [], removed: [], pendingDeletes: [] });
  const failed: ReplicaOutcome = { kind: "failed", error: new Error("refused") };
  it.each<[string, ReplicaOutcome[], boolean, boolean, unknown]>([
    ["nothing anywhere", [{ kind: "unchanged" }, { kind: "unchanged" }], false, true, { kind: "unchanged" }],
    [
      "the file alone changed, in the background",
      [{ kind: "unchanged" }],
      true,
      true,
      { kind: "runtime", written: true, result: result([]) },
    ],
    [
      "what changed anywhere at runtime",
      [
        { kind: "runtime", result: result(["webapp/c"]) },
        { kind: "runtime", result: result(["webapp/c", "webapp/d"]) },
      ],
      true,
      true,
      { kind: "runtime", written: true, result: result(["webapp/c", "webapp/d"]) },
    ],
    [
      "a reload anywhere: the most signals, the first fallback",
      [
        { kind: "reloaded", signals: 1, fallback: null },
        { kind: "reloaded", signals: 2, fallback: "unknown keyword 'x'" },
        { kind: "runtime", result: result(["webapp/c"]) },
      ],
      true,
      false,
      { kind: "reloaded", written: true, signals: 2, fallback: "unknown keyword 'x'" },
    ],
    [
      "one failed, the other applied: the fleet's outcome is the other's",
      [failed, { kind: "reloaded", signals: 1, fallback: null }],
      true,
      false,
      { kind: "reloaded", written: true, signals: 1, fallback: null },
    ],
    [
      "none running: the file alone",
      [{ kind: "skipped", reason: "paused" }],
      true,
      false,
      { kind: "no-haproxy", written: true },
    ],
  ])("%s", (_case, outcomes, written, background, expected) => {
    expect(fleetOutcome(outcomes, written, background)).toEqual(expected);
  });

  it("is the first failure (to be retried) when no replica was brought there", () => {
    expect(fleetOutcome([failed, { kind: "skipped", reason: "paused" }], true, false)).toBe(failed.error);
  });
});
