/** The routes digest is a digest of a set: the same servers in any order agree, and any one difference shows. */
import fc from "fast-check";
import { routesDigest, type EntryTexts, type RoutedEntry, type Routes } from "../../sidecar/apply/routing-digest";

const entry: fc.Arbitrary<RoutedEntry> = fc.record({
  id: fc.option(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { nil: null }),
  address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 12 })),
  port: fc.integer({ min: 0, max: 65_535 }),
  weight: fc.integer({ min: 0, max: 256 }),
  admin: fc.constantFrom("ready" as const, "drain" as const),
});
const servers = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), entry), {
  selector: ([key]) => key,
  maxLength: 30,
});
const routes = (configId: string, list: ReadonlyArray<readonly [string, RoutedEntry]>): Routes => ({
  configId,
  servers: new Map(list),
});

/** One field of one entry changed to another value. */
const changed = (e: RoutedEntry, field: number, other: RoutedEntry): RoutedEntry => {
  const keys = ["id", "address", "port", "weight", "admin"] as const;
  return { ...e, [keys[field]!]: other[keys[field]!] };
};

describe("routesDigest (properties)", () => {
  it("is the same for the same servers in any order", () => {
    fc.assert(
      fc.property(servers, fc.func(fc.integer()), (list, order) => {
        const shuffled = [...list].sort((a, b) => order(a[0]) - order(b[0]) || (a[0] < b[0] ? -1 : 1));
        expect(routesDigest(routes("c", shuffled))).toBe(routesDigest(routes("c", list)));
      }),
    );
  });

  it("changes with any one field of any one server, a server more or less, a server renamed, or the config id", () => {
    fc.assert(
      fc.property(
        servers.filter((l) => l.length > 0),
        fc.nat(),
        fc.integer({ min: 0, max: 4 }),
        entry,
        fc.string({ minLength: 1, maxLength: 20 }),
        (list, pick, field, other, name) => {
          const i = pick % list.length;
          const [key, e] = list[i]!;
          const base = routesDigest(routes("c", list));
          const mutated = changed(e, field, other);
          const same = JSON.stringify(mutated) === JSON.stringify(e);
          const withField = list.map((x, j) => (j === i ? ([key, mutated] as const) : x));
          expect(routesDigest(routes("c", withField)) === base).toBe(same);
          expect(routesDigest(routes("c", list.slice(0, i).concat(list.slice(i + 1))))).not.toBe(base);
          expect(routesDigest(routes("d", list))).not.toBe(base);
          if (!list.some(([k]) => k === name)) {
            const renamed = list.map((x, j) => (j === i ? ([name, e] as const) : x));
            expect(routesDigest(routes("c", renamed))).not.toBe(base);
          }
        },
      ),
    );
  });

  it("is the same with the lines of the digests before it kept (EntryTexts), digest after digest", () => {
    // A step changes one field of one server, or takes other servers under another config id.
    const step = fc.oneof(
      fc.record({ pick: fc.nat(), field: fc.integer({ min: 0, max: 4 }), other: entry }),
      fc.record({ configId: fc.constantFrom("c", "d"), list: servers }),
    );
    fc.assert(
      fc.property(servers, fc.array(step, { maxLength: 12 }), (first, steps) => {
        const texts: EntryTexts = new Map();
        let r = routes("c", first);
        expect(routesDigest(r, texts)).toBe(routesDigest(r));
        for (const s of steps) {
          if ("list" in s) r = routes(s.configId, s.list);
          else if (r.servers.size > 0) {
            const list = [...r.servers];
            const i = s.pick % list.length;
            r = routes(
              r.configId,
              list.map((x, j) => (j === i ? ([x[0], changed(x[1], s.field, s.other)] as const) : x)),
            );
          }
          expect(routesDigest(r, texts)).toBe(routesDigest(r));
          // What it keeps is the last digest's servers, no more.
          expect([...texts.keys()].sort()).toEqual([...r.servers.keys()].sort());
        }
      }),
    );
  });

  it("tells apart what text alone would run together", () => {
    const one = (key: string, address: string): Routes =>
      routes("c", [[key, { id: null, address, port: 1, weight: 1, admin: "ready" }]]);
    expect(routesDigest(one("ab", "c"))).not.toBe(routesDigest(one("a", "bc")));
    const withId = (id: number | null, port: number): Routes =>
      routes("c", [["k", { id, address: "a", port, weight: 1, admin: "ready" }]]);
    expect(routesDigest(withId(null, 12))).not.toBe(routesDigest(withId(12, 12)));
    expect(routesDigest(withId(5, 12))).not.toBe(routesDigest(withId(12, 5)));
    expect(routesDigest(withId(5, Number.NaN))).not.toBe(routesDigest(withId(5, 0)));
  });
});
