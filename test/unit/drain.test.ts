import { foldDrainEvent, foldPendingStart, hasPendingStarts, pruneDraining } from "../../sidecar/model/drain";

describe("foldDrainEvent", () => {
  const empty: ReadonlySet<string> = new Set();
  it.each([
    ["kill", "15", true],
    ["kill", "SIGTERM", true],
    ["kill", "9", true],
    ["kill", "SIGUSR2", false],
    ["kill", "1", false],
    ["stop", undefined, true],
    ["start", undefined, false],
    ["die", undefined, false],
  ])("%s %s → draining %s", (action, signal, expected) => {
    const next = foldDrainEvent(empty, signal === undefined ? { containerId: "c1", action } : { containerId: "c1", action, signal });
    expect(next.has("c1")).toBe(expected);
  });

  it("puts a container back on start", () => {
    const draining = foldDrainEvent(empty, { containerId: "c1", action: "kill", signal: "15" });
    expect(foldDrainEvent(draining, { containerId: "c1", action: "start" }).has("c1")).toBe(false);
  });

  it("returns the same set for events it does not care about", () => {
    const draining = new Set(["c1"]);
    expect(foldDrainEvent(draining, { containerId: "c2", action: "health_status: healthy" })).toBe(draining);
  });
});

describe("pruneDraining", () => {
  it("forgets containers that stopped running", () => {
    expect([...pruneDraining(new Set(["a", "b"]), new Set(["a"]))]).toEqual(["a"]);
  });
});

describe("pending starts", () => {
  const create = (id: string, enable = "true") => ({ containerId: id, action: "create", attributes: { "heig.lb.enable": enable } });
  it("counts labelled creates until they start, die or are destroyed", () => {
    let p = foldPendingStart(new Map(), create("a"), 0, "heig.lb");
    p = foldPendingStart(p, create("b"), 0, "heig.lb");
    p = foldPendingStart(p, create("c", "false"), 0, "heig.lb");
    expect([...p.keys()]).toEqual(["a", "b"]);
    p = foldPendingStart(p, { containerId: "a", action: "start" }, 10, "heig.lb");
    p = foldPendingStart(p, { containerId: "b", action: "destroy" }, 10, "heig.lb");
    expect(hasPendingStarts(p, 10, 1000)).toBe(false);
  });

  it("stops waiting for a create that never starts", () => {
    const p = foldPendingStart(new Map(), create("a"), 0, "heig.lb");
    expect(hasPendingStarts(p, 999, 1000)).toBe(true);
    expect(hasPendingStarts(p, 1000, 1000)).toBe(false);
  });
});
