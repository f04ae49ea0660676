import { drainWouldPanic, keepLeavingServers, pendingReplacements } from "../../sidecar/model/leaving-panic";
import type { Backend, BackendSnapshot, DesiredState, Exclusion } from "../../sidecar/model/types";
import { snap } from "./fixtures";

const server = (s: BackendSnapshot): Backend => ({
  name: s.name,
  sourceId: s.id,
  address: s.address!,
  port: 3000,
  weight: null,
});
const state = (...servers: BackendSnapshot[]): DesiredState => ({
  defaultService: "webapp",
  services: [{ name: "webapp", sticky: false, servers: servers.map(server) }],
});
const draining = (...s: BackendSnapshot[]): Exclusion[] =>
  s.map((c) => ({ sourceId: c.id, name: c.name, reason: "draining" }));
const names = (st: DesiredState): string[] => st.services.flatMap((s) => s.servers.map((b) => b.name));

const [o1, o2, o3, n1, n2] = ["old_1", "old_2", "old_3", "new_4", "new_5"].map((n) => snap(n)) as [
  BackendSnapshot,
  BackendSnapshot,
  BackendSnapshot,
  BackendSnapshot,
  BackendSnapshot,
];
const stopped = (s: BackendSnapshot): BackendSnapshot => ({ ...s, running: false });

describe("keepLeavingServers", () => {
  // Each row: what HAProxy routes now, what the gates built (leaving ones left out as draining),
  // the listing, the replacements on their way → what is routed, and whether the backend is in
  // panic. Threshold 50 %.
  it.each([
    {
      case: "one of three leaves: drained at once",
      applied: [o1, o2, o3],
      built: [o2, o3],
      excluded: draining(o1),
      listed: [o1, o2, o3],
      pending: 1,
      routed: ["old_2", "old_3"],
      panic: [],
    },
    {
      case: "every old task shut down before a new one listens: all kept while they run",
      applied: [o1, o2, o3],
      built: [],
      excluded: draining(o1, o2, o3),
      listed: [o1, o2, o3, n1, n2],
      pending: 2,
      routed: ["old_1", "old_2", "old_3"],
      panic: ["webapp"],
    },
    {
      case: "the last one leaves, its replacement listens: drained",
      applied: [o3],
      built: [n1],
      excluded: draining(o3),
      listed: [o3, n1],
      pending: 0,
      routed: ["new_4"],
      panic: [],
    },
    {
      case: "two of three leave while a replacement does not listen yet: kept (1 < 50 % of 3)",
      applied: [o1, o2, o3],
      built: [o3],
      excluded: draining(o1, o2),
      listed: [o1, o2, o3, n1],
      pending: 1,
      routed: ["old_1", "old_2", "old_3"],
      panic: ["webapp"],
    },
    {
      case: "a scale-down (two of three leave, no replacement on its way): drained at once",
      applied: [o1, o2, o3],
      built: [o3],
      excluded: draining(o1, o2),
      listed: [o1, o2, o3],
      pending: 0,
      routed: ["old_3"],
      panic: [],
    },
    {
      case: "the last one leaves and nothing replaces it (yet): kept while it runs, never an empty backend",
      applied: [o1],
      built: [],
      excluded: draining(o1),
      listed: [o1],
      pending: 0,
      routed: ["old_1"],
      panic: ["webapp"],
    },
    {
      case: "a leaving server whose container stopped is never kept",
      applied: [o1],
      built: [],
      excluded: draining(o1),
      listed: [stopped(o1)],
      pending: 0,
      routed: [],
      panic: [],
    },
    {
      case: "a leaving server HAProxy no longer routes is never added back",
      applied: [o2],
      built: [],
      excluded: draining(o1, o2),
      listed: [o1, o2],
      pending: 0,
      routed: ["old_2"],
      panic: ["webapp"],
    },
    {
      case: "out for another reason (not listening, Serf): not this rule's business",
      applied: [o1, o2],
      built: [],
      excluded: [
        { sourceId: o1.id, name: o1.name, reason: "not-listening" },
        { sourceId: o2.id, name: o2.name, reason: "serf-failed" },
      ] as Exclusion[],
      listed: [o1, o2],
      pending: 1,
      routed: [],
      panic: [],
    },
  ])("$case", ({ applied, built, excluded, listed, pending, routed, panic }) => {
    const out = keepLeavingServers({
      state: state(...built),
      excluded,
      snapshots: listed,
      applied: state(...applied),
      threshold: 0.5,
      pending: new Map([["webapp", pending]]),
    });
    expect(names(out.state)).toEqual(routed);
    expect(out.panic).toEqual(panic);
    // A kept server is routed, so it is no longer reported as excluded.
    for (const name of routed) expect(out.excluded.map((e) => e.name)).not.toContain(name);
  });

  it("re-creates a backend the gates dropped entirely (a structural change avoided)", () => {
    const api = (s: BackendSnapshot): Backend => ({ ...server(s), name: `api_${s.name}` });
    const applied: DesiredState = {
      defaultService: "webapp",
      services: [
        { name: "api", sticky: true, servers: [api(o1)] },
        { name: "webapp", sticky: false, servers: [] },
      ],
    };
    const out = keepLeavingServers({
      state: { defaultService: "webapp", services: [{ name: "webapp", sticky: false, servers: [] }] },
      excluded: draining(o1),
      snapshots: [o1],
      applied,
      threshold: 0.5,
      pending: new Map(),
    });
    expect(out.state).toEqual(applied);
    expect(out.panic).toEqual(["api"]);
  });

  it("does nothing with a threshold of 0 or before the first apply", () => {
    const input = { state: state(), excluded: draining(o1), snapshots: [o1], pending: new Map<string, number>() };
    expect(keepLeavingServers({ ...input, applied: state(o1), threshold: 0 }).state).toEqual(state());
    expect(keepLeavingServers({ ...input, applied: null, threshold: 0.5 }).state).toEqual(state());
  });
});

describe("drainWouldPanic", () => {
  it.each([
    { draining: [o1], pending: 1, expected: false },
    { draining: [o1, o2], pending: 1, expected: true },
    { draining: [o1, o2], pending: 0, expected: false },
    { draining: [o1, o2, o3], pending: 0, expected: true },
    { draining: [], pending: 1, expected: false },
  ])("3 routed, $draining.length draining, $pending on the way → $expected", ({ draining: d, pending, expected }) => {
    const ids = new Set(d.map((s) => s.id));
    expect(drainWouldPanic(state(o1, o2, o3), "webapp", ids, 0.5, pending)).toBe(expected);
  });
});

describe("pendingReplacements", () => {
  it("counts, per backend, the candidates that run and do not answer yet", () => {
    const api = snap("api_7", { extraLabels: { "heig.lb.backend": "api" } });
    const excluded: Exclusion[] = [
      { sourceId: n1.id, name: n1.name, reason: "not-listening" },
      { sourceId: n2.id, name: n2.name, reason: "health-starting" },
      { sourceId: api.id, name: api.name, reason: "not-listening" },
      { sourceId: o1.id, name: o1.name, reason: "draining" },
      { sourceId: o2.id, name: o2.name, reason: "serf-failed" },
    ];
    const out = pendingReplacements(excluded, [n1, n2, api, o1, o2], {
      labelPrefix: "heig.lb",
      defaultService: "webapp",
    });
    expect([...out].sort()).toEqual([
      ["api", 1],
      ["webapp", 2],
    ]);
  });
});
