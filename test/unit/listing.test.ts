import type { Clock } from "../../sidecar/lib/clock";
import type { BackendSnapshot } from "../../sidecar/model/types";
import { Listing } from "../../sidecar/reconcile/listing";
import type { BackendSource } from "../../sidecar/source/backend-source";
import { snap } from "./fixtures";

/** A source over a mutable fleet, recording each call (whole, or the ids it was narrowed to). */
function source(listById: boolean) {
  const fleet = new Map<string, BackendSnapshot>();
  const calls: Array<"whole" | string[]> = [];
  let failNext = false;
  const s: BackendSource = {
    listById,
    list: async (_signal?: AbortSignal, ids?: readonly string[]) => {
      calls.push(ids === undefined ? "whole" : [...ids]);
      if (failNext) {
        failNext = false;
        throw new Error("docker: no answer");
      }
      const all = [...fleet.values()];
      return ids === undefined ? all : all.filter((x) => ids.includes(x.id));
    },
    watch: () => undefined,
  };
  return { s, fleet, calls, failOnce: () => (failNext = true) };
}
let now = 0;
const clock = { now: () => now } as Clock;
const ids = (l: BackendSnapshot[]): string[] => l.map((x) => x.id.slice(0, 5)).sort();

beforeEach(() => (now = 0));

describe("Listing", () => {
  it("lists whole first, then only the backends hints named: a change costs the same whatever the fleet's size", async () => {
    const { s, fleet, calls } = source(true);
    const [a, b, c] = ["webA_1", "webB_2", "webC_3"].map((n) => snap(n));
    fleet.set(a!.id, a!).set(b!.id, b!);
    const listing = new Listing(s, clock);
    expect(ids(await listing.get())).toEqual(["webA1", "webB2"]);
    // c starts, b stops: two hints.
    fleet.set(c!.id, c!).delete(b!.id);
    listing.invalidate(c!.id);
    listing.invalidate(b!.id);
    expect(ids(await listing.get())).toEqual(["webA1", "webC3"]);
    // Nothing named since: the same listing, no call.
    expect(ids(await listing.get())).toEqual(["webA1", "webC3"]);
    expect(calls).toEqual(["whole", [c!.id, b!.id]]);
  });

  it("takes the whole listing again when asked, once it is older than 10 s (beside the pass), and for more than 64 changed", async () => {
    const { s, fleet, calls } = source(true);
    const many = Array.from({ length: 65 }, (_, i) => snap(`web_${i}`, { id: `${i}`.padStart(64, "0") }));
    const listing = new Listing(s, clock);
    await listing.get();
    listing.invalidate();
    await listing.get();
    now = 10_000;
    // Too old: the pass lists what the hint named, and the whole listing is taken beside it...
    const a = snap("webA_1");
    fleet.set(a.id, a);
    listing.invalidate("x".repeat(64));
    expect(ids(await listing.get())).toEqual([]);
    expect(calls).toEqual(["whole", "whole", "whole", ["x".repeat(64)]]);
    // ...for the next pass, which uses it (a, never named by a hint, is there).
    await new Promise((r) => setImmediate(r));
    expect(ids(await listing.get())).toEqual(["webA1"]);
    for (const m of many) fleet.set(m.id, m);
    for (const m of many) listing.invalidate(m.id);
    expect(await listing.get()).toHaveLength(66);
    expect(calls).toEqual(["whole", "whole", "whole", ["x".repeat(64)], "whole"]);
  });

  it("lists whole for every change when the source cannot narrow (swarm), and reuses it when nothing changed", async () => {
    const { s, calls } = source(false);
    const listing = new Listing(s, clock);
    await listing.get();
    await listing.get();
    listing.invalidate("a");
    await listing.get();
    expect(calls).toEqual(["whole", "whole"]);
  });

  it("uses a whole listing taken before the pass (a resync's), and looks again by id at what hints named meanwhile", async () => {
    const { s, fleet, calls } = source(true);
    const [a, b, c] = ["webA_1", "webB_2", "webC_3"].map((n) => snap(n));
    fleet.set(a!.id, a!);
    const listing = new Listing(s, clock);
    await listing.get();
    now = 5_000;
    const taken = listing.prefetch();
    now = 5_040; // it takes 40 ms
    // While it is under way: b starts (listed by id by a pass), then c starts (not listed yet).
    fleet.set(b!.id, b!);
    listing.invalidate(b!.id);
    expect(ids(await listing.get())).toEqual(["webA1", "webB2"]);
    await taken;
    fleet.set(c!.id, c!);
    listing.invalidate(c!.id);
    // The prefetched listing may say either of b and c: both are looked at again by id.
    expect(ids(await listing.get())).toEqual(["webA1", "webB2", "webC3"]);
    expect(listing.adoptedMs).toBe(40);
    expect(calls.slice(0, 3)).toEqual(["whole", "whole", [b!.id]]);
    expect([...calls[3]!].sort()).toEqual([b!.id, c!.id].sort());
    // The next pass uses the listing it has.
    await listing.get();
    expect(listing.adoptedMs).toBe(0);
    expect(calls).toHaveLength(4);
  });

  it("drops a prefetched listing when a newer whole one is asked for (a reconnection) meanwhile", async () => {
    const { s, fleet, calls } = source(true);
    const listing = new Listing(s, clock);
    await listing.get();
    const taken = listing.prefetch();
    now = 1;
    listing.invalidate();
    await taken;
    const a = snap("webA_1");
    fleet.set(a.id, a);
    expect(ids(await listing.get())).toEqual(["webA1"]);
    expect(calls).toEqual(["whole", "whole", "whole"]);
  });

  it("after a failed prefetch the next pass takes the whole listing itself, as a resync did before", async () => {
    const { s, fleet, calls, failOnce } = source(true);
    const listing = new Listing(s, clock);
    await listing.get();
    failOnce();
    await expect(listing.prefetch()).resolves.toBeUndefined();
    const a = snap("webA_1");
    fleet.set(a.id, a); // never named by a hint: only a whole listing finds it
    expect(ids(await listing.get())).toEqual(["webA1"]);
    expect(calls).toEqual(["whole", "whole", "whole"]);
  });

  it("keeps what a failed listing was to look at, for the next one", async () => {
    const { s, fleet, calls, failOnce } = source(true);
    const listing = new Listing(s, clock);
    await listing.get();
    const a = snap("webA_1");
    fleet.set(a.id, a);
    listing.invalidate(a.id);
    failOnce();
    await expect(listing.get()).rejects.toThrow("no answer");
    expect(ids(await listing.get())).toEqual(["webA1"]);
    expect(calls).toEqual(["whole", [a.id], [a.id]]);
  });
});
