import { decideLiveness } from "../../sidecar/model/liveness";
import type { Backend, SerfMember } from "../../sidecar/model/types";

const backend = (n: number): Backend => ({
  name: `compose_webapp_${n}`,
  sourceId: `c${n}`,
  address: `172.18.0.${n}`,
  port: 3000,
  weight: null,
});
const member = (n: number, status: string, role = "webapp"): SerfMember => ({
  name: `h${n}`,
  address: `172.18.0.${n}`,
  status,
  tags: { role },
});
const base = {
  backends: [backend(1), backend(2)],
  listedAddresses: new Set(["172.18.0.1", "172.18.0.2"]),
  missingSince: new Map<string, number>(),
  nowMs: 1000,
  graceMs: 500,
  memberTag: { key: "role", value: "webapp" },
};

describe("decideLiveness", () => {
  it("keeps everything on Docker's view when Serf cannot be asked", () => {
    const d = decideLiveness({ ...base, members: null });
    expect([...d.out]).toEqual([]);
    expect(Object.fromEntries(d.liveness)).toEqual({ c1: "unknown", c2: "unknown" });
  });

  it("takes a failed member out at once and keeps alive ones", () => {
    const d = decideLiveness({ ...base, members: [member(1, "alive"), member(2, "failed")] });
    expect([...d.out]).toEqual(["c2"]);
    expect(Object.fromEntries(d.liveness)).toEqual({ c1: "alive", c2: "failed" });
  });

  it("gives a container with no member the grace time, then takes it out", () => {
    const first = decideLiveness({ ...base, members: [member(1, "alive")] });
    expect([...first.out]).toEqual([]);
    expect(first.liveness.get("c2")).toBe("missing");
    const later = decideLiveness({
      ...base,
      members: [member(1, "alive")],
      missingSince: first.missingSince,
      nowMs: 1500,
    });
    expect([...later.out]).toEqual(["c2"]);
    // Back in Serf: back in rotation, and the clock is reset.
    const back = decideLiveness({
      ...base,
      members: [member(1, "alive"), member(2, "alive")],
      missingSince: later.missingSince,
      nowMs: 1600,
    });
    expect([...back.out]).toEqual([]);
    expect(back.missingSince.size).toBe(0);
  });

  it("treats a member that left like a missing one", () => {
    const d = decideLiveness({ ...base, graceMs: 0, members: [member(1, "alive"), member(2, "left")] });
    expect([...d.out]).toEqual(["c2"]);
  });

  it("prefers an alive member when an old one shares the address", () => {
    const d = decideLiveness({
      ...base,
      members: [member(1, "failed"), { ...member(1, "alive"), name: "new" }, member(2, "alive")],
    });
    expect([...d.out]).toEqual([]);
  });

  it("knows a backend's own member by its agent's name: a dead predecessor's failed member at the address says nothing", () => {
    const agentNames = new Map([
      ["c1", "h1"],
      ["c2", "new2"],
    ]);
    // c2 reuses the address of a container whose member failed; its own agent has not joined yet.
    const d = decideLiveness({ ...base, agentNames, members: [member(1, "alive"), member(2, "failed")] });
    expect(Object.fromEntries(d.liveness)).toEqual({ c1: "alive", c2: "missing" });
    expect([...d.out]).toEqual([]);
    // Its own member failing takes it out at once, even beside a live one at the same address.
    const own = decideLiveness({
      ...base,
      agentNames,
      members: [member(1, "alive"), { ...member(2, "failed"), name: "new2" }, member(2, "alive")],
    });
    expect([...own.out]).toEqual(["c2"]);
    // Without a known name, the address decides, as before.
    expect([...decideLiveness({ ...base, members: [member(1, "alive"), member(2, "failed")] }).out]).toEqual(["c2"]);
  });

  it("reports live backend members with no container as drift, never as backends", () => {
    const d = decideLiveness({
      ...base,
      members: [
        member(1, "alive"),
        member(2, "alive"),
        member(9, "alive"),
        member(8, "alive", "seed"),
        member(7, "failed"),
      ],
    });
    expect(d.drift.map((m) => m.name)).toEqual(["h9"]);
    expect(d.liveness.size).toBe(2);
  });

  it("counts as drift only the members carrying the configured tag", () => {
    const d = decideLiveness({
      ...base,
      memberTag: { key: "role", value: "api" },
      members: [member(9, "alive"), member(8, "alive", "api")],
    });
    expect(d.drift.map((m) => m.name)).toEqual(["h8"]);
  });
});

describe("decideLiveness: the panic threshold", () => {
  const four = [1, 2, 3, 4].map(backend);
  const serviceOf = new Map(four.map((b) => [b.sourceId, "webapp"]));
  const input = (failed: number[], threshold: number) => ({
    ...base,
    backends: four,
    listedAddresses: new Set(four.map((b) => b.address)),
    members: four.map((b, i) => member(i + 1, failed.includes(i + 1) ? "failed" : "alive")),
    serviceOf,
    panicThreshold: threshold,
  });
  it.each<[string, number[], number, string[], string[]]>([
    ["one of four failed: out, the rest is above 50%", [1], 0.5, ["c1"], []],
    ["two of four failed: 50% stays, still not below", [1, 2], 0.5, ["c1", "c2"], []],
    ["three of four failed: below 50%, panic, none out", [1, 2, 3], 0.5, [], ["webapp"]],
    ["all four failed (a frozen cluster): panic, none out", [1, 2, 3, 4], 0.5, [], ["webapp"]],
    ["all four failed, threshold 0: Serf decides alone", [1, 2, 3, 4], 0, ["c1", "c2", "c3", "c4"], []],
  ])("%s", (_what, failed, threshold, out, panic) => {
    const d = decideLiveness(input(failed, threshold));
    expect([...d.out].sort()).toEqual(out);
    expect(d.panic).toEqual(panic);
  });

  it("counts each backend on its own", () => {
    const d = decideLiveness({
      ...input([1, 2], 0.5),
      serviceOf: new Map([
        ["c1", "api"],
        ["c2", "webapp"],
        ["c3", "webapp"],
        ["c4", "webapp"],
      ]),
    });
    // api's only member failed: panic there; webapp keeps two of three.
    expect(d.panic).toEqual(["api"]);
    expect([...d.out]).toEqual(["c2"]);
  });
});
