import { assignServerIds, MAX_SERVER_ID, preferredServerId, serverIdsOf } from "../../sidecar/model/server-ids";

// Names whose sha256 asks for the same id (found by search; see preferredServerId).
const COLLIDING = ["web_1076", "web_1274"] as const; // both ask for 145357
const TOP = ["s2539349", "s4033344"] as const; // both ask for MAX_SERVER_ID
const ASKS_FOR_ONE = "s182159";

describe("preferredServerId (pure)", () => {
  it.each<[string, number]>([
    ["compose_webapp_1", 70039],
    ["compose_webapp_2", 734192],
    ["heig_webapp.3.x7kq2", preferredServerId("heig_webapp.3.x7kq2")],
    [COLLIDING[0], 145357],
    [COLLIDING[1], 145357],
    [TOP[0], MAX_SERVER_ID],
    [ASKS_FOR_ONE, 1],
  ])("%s asks for %i, always within 1..2^20-1", (name, id) => {
    expect(preferredServerId(name)).toBe(id);
    expect(id).toBeGreaterThanOrEqual(1);
    expect(id).toBeLessThanOrEqual(MAX_SERVER_ID);
  });
});

describe("assignServerIds (pure)", () => {
  it.each<[string, string[], Record<string, number>]>([
    ["no servers", [], {}],
    ["one server: the id its name asks for", ["compose_webapp_1"], { compose_webapp_1: 70039 }],
    [
      "names that do not collide keep their own",
      ["compose_webapp_2", "compose_webapp_1"],
      { compose_webapp_1: 70039, compose_webapp_2: 734192 },
    ],
    [
      "a collision: the name that sorts first keeps the id, the other takes the next",
      [COLLIDING[1], COLLIDING[0]],
      { [COLLIDING[0]]: 145357, [COLLIDING[1]]: 145358 },
    ],
    [
      "past the highest id, the next free one wraps to 1 (taken here, so 2)",
      [TOP[1], ASKS_FOR_ONE, TOP[0]],
      { [ASKS_FOR_ONE]: 1, [TOP[0]]: MAX_SERVER_ID, [TOP[1]]: 2 },
    ],
    ["a name given twice is one server", ["a_1", "a_1"], { a_1: preferredServerId("a_1") }],
  ])("%s", (_case, names, expected) => {
    expect(Object.fromEntries(assignServerIds(names))).toEqual(expected);
  });

  it("gives the same ids whatever the order the servers arrived in", () => {
    const names = Array.from({ length: 300 }, (_, i) => `compose_webapp_${i}`).concat(COLLIDING, TOP);
    const ids = assignServerIds(names);
    const shuffled = [...names].reverse();
    expect(assignServerIds(shuffled)).toEqual(ids);
    expect(new Set(ids.values()).size).toBe(names.length);
  });

  it("keeps a server's id when servers that do not collide with it come and go", () => {
    const before = assignServerIds(["a_1", "a_2", "a_3"]);
    const after = assignServerIds(["a_2", "a_4"]);
    expect(after.get("a_2")).toBe(before.get("a_2"));
  });
});

describe("assignServerIds with the ids HAProxy runs (pure)", () => {
  it("a running server keeps its id when a newcomer that sorts first asks for the same one", () => {
    // Alone, the later name runs under the id both ask for.
    const running = assignServerIds([COLLIDING[1]]);
    expect(running.get(COLLIDING[1])).toBe(145357);
    // Without what runs, the newcomer would take it and push the running one to the next id
    // (a reload: the runtime API cannot renumber a server)...
    expect(assignServerIds([COLLIDING[0], COLLIDING[1]]).get(COLLIDING[1])).toBe(145358);
    // ...with it, the running server keeps its id and the newcomer takes the next.
    const both = assignServerIds([COLLIDING[0], COLLIDING[1]], running);
    expect(Object.fromEntries(both)).toEqual({ [COLLIDING[1]]: 145357, [COLLIDING[0]]: 145358 });
    // The newcomer keeps its own once the other has gone and it runs.
    expect(assignServerIds([COLLIDING[0]], both).get(COLLIDING[0])).toBe(145358);
  });

  it.each<[string, Record<string, number>]>([
    ["zero", { a_1: 0 }],
    ["past the highest id", { a_1: MAX_SERVER_ID + 1 }],
    ["not an integer", { a_1: 1.5 }],
  ])("ignores a kept id that is %s: the name takes the one it asks for", (_case, keep) => {
    expect(assignServerIds(["a_1"], new Map(Object.entries(keep))).get("a_1")).toBe(preferredServerId("a_1"));
  });

  it("two names kept under one id (a hand-edited config): the first in sorted order keeps it", () => {
    const ids = assignServerIds(
      ["b_1", "a_1"],
      new Map([
        ["a_1", 7],
        ["b_1", 7],
      ]),
    );
    expect(ids.get("a_1")).toBe(7);
    expect(ids.get("b_1")).toBe(preferredServerId("b_1"));
  });

  it("at 1,100 servers, every one that ran keeps its id while 100 come and go", () => {
    const names = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `hsscale_webapp_${from + i}`);
    const before = assignServerIds(names(1, 1000));
    const during = assignServerIds(names(1, 1100), before);
    const after = assignServerIds(names(1, 1000), during);
    for (const [name, id] of before) {
      expect(during.get(name)).toBe(id);
      expect(after.get(name)).toBe(id);
    }
    expect(new Set(during.values()).size).toBe(1100);
  });
});

describe("serverIdsOf (pure)", () => {
  it("groups the ids of server lines by backend, leaving out lines without one", () => {
    const ids = serverIdsOf([
      { backend: "webapp", name: "a_1", id: 3 },
      { backend: "webapp", name: "a_2", id: null },
      { backend: "api", name: "b_1", id: 9 },
    ]);
    expect([...ids].map(([b, m]) => [b, Object.fromEntries(m)])).toEqual([
      ["webapp", { a_1: 3 }],
      ["api", { b_1: 9 }],
    ]);
  });
});
