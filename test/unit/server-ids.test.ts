import { assignServerIds, MAX_SERVER_ID, preferredServerId } from "../../sidecar/model/server-ids";

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
