/** The applier over several HAProxy replicas (recording fakes): every replica, one reload at a time. */
import { fleetOf, rendered, steppingClock } from "./haproxy-replicas-fake";

const S1 = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]);

/** Two replicas already running structure "s1" with servers a and b, from a first apply. */
async function two() {
  const f = fleetOf({ replicas: 2 });
  await f.apply(S1);
  await f.idle();
  f.calls.length = 0;
  return f;
}

describe("Applier over replicas: membership through the runtime API", () => {
  it("applies to every replica, and writes the file once, in the background", async () => {
    const f = await two();
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    await expect(f.apply(next)).resolves.toEqual({
      kind: "runtime",
      written: true,
      result: { added: ["webapp/c"], changed: [], removed: [], pendingDeletes: [] },
    });
    await f.idle();
    for (const k of ["1", "2"])
      expect(f.calls.filter((c) => c.startsWith(`${k}: `))).toEqual([
        `${k}: add server webapp/c 10.0.0.3:3000 inter 1s check`,
        `${k}: enable health webapp/c`,
        `${k}: enable server webapp/c`,
      ]);
    expect(f.calls.filter((c) => !/^\d: /.test(c))).toEqual(["stage", "validate", "commit"]);
    expect(f.fleet.view().map((r) => [r.replica, r.state])).toEqual([
      ["1", "in-sync"],
      ["2", "in-sync"],
    ]);
    expect(f.fleet.view()[0]!.digest).toBe(f.fleet.view()[1]!.digest);
  });

  it("reloads only the replica that refused a command; the other keeps its runtime change", async () => {
    const f = await two();
    f.replica(2).refuse = /^add server/;
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    await expect(f.apply(next)).resolves.toMatchObject({
      kind: "reloaded",
      signals: 1,
      fallback: expect.stringContaining("unknown keyword"),
    });
    expect(f.calls.filter((c) => c.endsWith("signal"))).toEqual(["2: signal"]);
    expect(f.replica(1).servers.has("webapp/c")).toBe(true);
    expect(f.replica(2).servers.has("webapp/c")).toBe(true);
    // A refused add sends nothing more: its enables would reach a server of that name already there.
    expect(f.calls.filter((c) => c.startsWith("2: enable"))).toEqual([]);
  });

  it("collects each replica's outcome: one that fails is left stale, the other is applied", async () => {
    const f = await two();
    f.replica(2).refuse = /^add server/;
    f.replica(2).swallowSignals = 3;
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    await expect(f.apply(next)).resolves.toMatchObject({ kind: "runtime", result: { added: ["webapp/c"] } });
    expect(f.replica(1).servers.has("webapp/c")).toBe(true);
    expect(f.fleet.view()).toMatchObject([
      { replica: "1", state: "in-sync" },
      { replica: "2", state: "stale", reason: expect.stringContaining("did not load config s1") },
    ]);
    // Its signals were all swallowed: it still runs without c, and it is said.
    expect(f.replica(2).servers.has("webapp/c")).toBe(false);
    expect(f.calls.filter((c) => c.endsWith("signal"))).toEqual(["2: signal", "2: signal", "2: signal"]);
    expect(f.fleet.view()).toMatchObject([
      { replica: "1", state: "in-sync" },
      { replica: "2", state: "stale" },
    ]);
  });

  it("fails the pass (to be retried) only when no replica could be brought there", async () => {
    const f = await two();
    for (const k of [1, 2]) f.replica(k).swallowSignals = 3;
    await expect(f.apply(rendered("s2"))).rejects.toThrow(/did not load config s2/);
  });
});

describe("Applier over replicas: structural changes", () => {
  it("writes the file once, then reloads replica 1, waits for its confirmation, and only then replica 2", async () => {
    const f = await two();
    f.replica(1).swallowSignals = 1;
    const next = rendered("s2", ["a 10.0.0.1:3000"]);
    const seenBy2: Array<string | null> = [];
    const signal2 = f.replica(2).signal.bind(f.replica(2));
    f.replica(2).signal = () => {
      seenBy2.push(f.replica(1).running);
      return signal2();
    };
    await expect(f.apply(next, [{ backend: "webapp", server: "b" }])).resolves.toEqual({
      kind: "reloaded",
      written: true,
      signals: 2,
      fallback: null,
    });
    expect(f.calls).toEqual([
      "stage",
      "validate",
      // Before the new file goes live: the leavers drained on every replica, replica 1's state saved.
      "1: drain webapp/b",
      "2: drain webapp/b",
      "1: save-state",
      "commit",
      "1: signal",
      "1: signal",
      "2: save-state",
      "2: signal",
    ]);
    // Replica 2 was signalled once replica 1 ran the new config: never two reloading at once.
    expect(seenBy2).toEqual(["s2"]);
    expect([f.replica(1).running, f.replica(2).running]).toEqual(["s2", "s2"]);
    expect(f.fleet.view().map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
  });

  it("goes on to the next replica when one never confirms, and reports that one stale", async () => {
    const f = await two();
    f.replica(1).swallowSignals = 3;
    await expect(f.apply(rendered("s2"))).resolves.toMatchObject({ kind: "reloaded", signals: 1 });
    expect(f.calls.filter((c) => c.endsWith("signal"))).toEqual(["1: signal", "1: signal", "1: signal", "2: signal"]);
    expect(f.fleet.view().map((r) => r.state)).toEqual(["stale", "in-sync"]);
  });

  it("leaves a paused replica alone (stale), applies to the others, and writes the file", async () => {
    const f = await two();
    f.source.states.set(2, "paused");
    await expect(f.apply(rendered("s2"))).resolves.toMatchObject({ kind: "reloaded", signals: 1 });
    expect(f.calls.filter((c) => c.startsWith("2: "))).toEqual([]);
    expect(f.fleet.view()).toMatchObject([
      { replica: "1", state: "in-sync" },
      { replica: "2", state: "stale", reason: "paused" },
    ]);
  });

  it("writes the file alone when no replica runs: HAProxy reads it when it starts", async () => {
    const f = await two();
    f.source.states.set(1, "restarting");
    f.source.states.set(2, "exited");
    await expect(f.apply(rendered("s2"))).resolves.toEqual({ kind: "no-haproxy", written: true });
  });

  it("follows the listing: a new replica is brought to the config at the next pass", async () => {
    const f = await two();
    const { FakeReplica } = await import("./haproxy-replicas-fake");
    f.replicas.set(3, new FakeReplica(f.volume, "3: "));
    f.replica(3).load(); // it started with the live file
    f.replica(3).servers.get("webapp/b")!.weight = 7; // and was changed by hand before the sidecar saw it
    await expect(f.apply(S1)).resolves.toMatchObject({ kind: "runtime" });
    expect(f.calls).toEqual(["3: set server webapp/b weight 1"]);
    expect(f.fleet.view().map((r) => [r.replica, r.state])).toEqual([
      ["1", "in-sync"],
      ["2", "in-sync"],
      ["3", "in-sync"],
    ]);
  });

  it("uses the last listing while Docker does not answer", async () => {
    const f = await two();
    f.source.failListing = true;
    await expect(f.apply(rendered("s2"))).resolves.toMatchObject({ kind: "reloaded" });
    expect([f.replica(1).running, f.replica(2).running]).toEqual(["s2", "s2"]);
  });
});

describe("Fleet: the early drain", () => {
  it("drains on every running replica at once", async () => {
    const f = await two();
    await expect(f.fleet.drain([{ backend: "webapp", server: "b" }])).resolves.toBe(0);
    expect(f.calls.sort()).toEqual(["1: drain webapp/b", "2: drain webapp/b"]);
    expect([...f.fleet.drainedEarly()]).toEqual(["webapp/b"]);
  });

  it("drains the others when one replica fails, and fails only when none could be drained", async () => {
    const f = await two();
    f.replica(1).unreachable = true;
    // It says how many it missed: the control loop then makes the pass at once.
    await expect(f.fleet.drain([{ backend: "webapp", server: "b" }])).resolves.toBe(1);
    expect(f.replica(2).servers.get("webapp/b")!.maint).toBe(true);
    f.replica(2).unreachable = true;
    await expect(f.fleet.drain([{ backend: "webapp", server: "a" }])).rejects.toThrow(/ECONNREFUSED/);
  });

  it("forgets a drain once the pass that started after it is applied", async () => {
    const f = await two();
    await f.fleet.drain([{ backend: "webapp", server: "b" }]);
    await f.apply(rendered("s1", ["a 10.0.0.1:3000"]));
    expect(f.fleet.drainedEarly().size).toBe(0);
    expect(f.fleet.view().map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
  });
});

describe("Fleet: a server held until it listens, made ready early", () => {
  const ABC = ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"];
  const HELD = rendered("s1", ABC, ["c"]);
  const C = HELD.servers.get("webapp/c")!;

  it("adds it in maintenance, readies it on every replica at once, and its pass then has nothing to do", async () => {
    const f = await two();
    await expect(f.apply(HELD)).resolves.toMatchObject({ kind: "runtime", result: { added: ["webapp/c"] } });
    await f.idle();
    expect(f.calls.filter((c) => c.startsWith("1: "))).toEqual([
      "1: add server webapp/c 10.0.0.3:3000 inter 1s check disabled",
      "1: enable health webapp/c",
    ]);
    expect([f.replica(1).servers.get("webapp/c")!.maint, f.replica(2).servers.get("webapp/c")!.maint]).toEqual([
      true,
      true,
    ]);
    const held = f.fleet.desiredDigest(HELD);
    f.calls.length = 0;
    await f.fleet.ready([C]);
    expect(f.calls.sort()).toEqual(["1: enable server webapp/c", "2: enable server webapp/c"]);
    // Until its pass, the desired routes count it: the agreement check finds nothing to repair.
    expect(f.fleet.desiredDigest(HELD)).not.toBe(held);
    expect([...f.fleet.early().readied]).toEqual(["webapp/c"]);
    f.calls.length = 0;
    // A pass that still holds it (it began before the ready) leaves it routed.
    await expect(f.apply(HELD)).resolves.toMatchObject({ kind: "unchanged" });
    expect(f.calls.filter((c) => /^\d: /.test(c))).toEqual([]);
    expect(f.replica(1).servers.get("webapp/c")!.maint).toBe(false);
    // The pass that routes it changes nothing, and forgets the early ready.
    await f.apply(rendered("s1", ABC));
    expect(f.calls.filter((c) => /^\d: (add|enable|set|disable)/.test(c))).toEqual([]);
    expect(f.fleet.early().readied.size).toBe(0);
    expect(f.fleet.view().map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
  });

  it("a ready that comes before its server is added: the add routes it at once", async () => {
    const f = await two();
    await expect(f.fleet.ready([C])).rejects.toThrow();
    f.calls.length = 0;
    await expect(f.apply(HELD)).resolves.toMatchObject({ kind: "runtime", result: { added: ["webapp/c"] } });
    expect(f.calls.filter((c) => c.startsWith("1: "))).toEqual([
      "1: add server webapp/c 10.0.0.3:3000 inter 1s check",
      "1: enable health webapp/c",
      "1: enable server webapp/c",
    ]);
    expect(f.fleet.view().map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
  });

  it("keeps a readied server routed when the next render is rejected and the live file's servers come back", async () => {
    const f = await two();
    await f.apply(HELD);
    await f.idle();
    await f.fleet.ready([C]);
    f.volume.verdict = { ok: false, message: "[ALERT] refused" };
    const next = rendered("s1", [...ABC, "d 10.0.0.4:3000"], ["c"]);
    await f.apply(next);
    await f.idle();
    // The pass that follows brings HAProxy back to the live file's servers: c stays routed.
    await expect(f.apply(next)).resolves.toMatchObject({ kind: "rejected" });
    expect([f.replica(1).servers.get("webapp/c")!.maint, f.replica(2).servers.get("webapp/c")!.maint]).toEqual([
      false,
      false,
    ]);
    expect(f.replica(1).servers.has("webapp/d")).toBe(false);
  });

  it("never lifts an operator's maintenance: only a held line is readied", async () => {
    const f = await two();
    const maint = { ...rendered("s1", ABC, ["c"]), held: new Set<string>() };
    await f.apply(maint);
    await f.fleet.ready([C]);
    f.calls.length = 0;
    await f.apply(maint);
    expect(f.calls.filter((c) => /^\d: drain/.test(c)).sort()).toEqual(["1: drain webapp/c", "2: drain webapp/c"]);
    expect(f.replica(1).servers.get("webapp/c")!.maint).toBe(true);
  });
});

describe("Fleet: what the desired render routes", () => {
  it("follows the early drains of the same render: one more, and forgotten again", async () => {
    const f = await two();
    const routed = f.fleet.desiredDigest(S1);
    await f.fleet.drain([{ backend: "webapp", server: "b" }]);
    const withoutB = f.fleet.desiredDigest(S1);
    expect(withoutB).not.toBe(routed);
    await f.fleet.drain([{ backend: "webapp", server: "a" }]);
    expect(f.fleet.desiredDigest(S1)).not.toBe(withoutB);
    f.fleet.forgetDrains(f.fleet.drainMark());
    expect(f.fleet.desiredDigest(S1)).toBe(routed);
    // Another render of the same text routes the same.
    expect(f.fleet.desiredDigest(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]))).toBe(routed);
  });
});

describe("Fleet: the replicas listed for a pass", () => {
  it("applies to the replicas listed as the pass started, without listing them again", async () => {
    const f = await two();
    const before = f.source.listings;
    const replicas = f.applier.listReplicas();
    await expect(f.applier.apply(rendered("s2"), [], replicas)).resolves.toMatchObject({ kind: "reloaded" });
    expect(f.source.listings - before).toBe(1);
    expect([f.replica(1).running, f.replica(2).running]).toEqual(["s2", "s2"]);
  });

  it("a listing that fails with no pass to await it is no unhandled rejection; the next apply uses the last listing", async () => {
    const f = await two();
    f.source.failListing = true;
    void f.applier.listReplicas(); // a pass whose own listing failed never applies
    await new Promise((resolve) => setImmediate(resolve));
    await expect(f.apply(rendered("s2"))).resolves.toMatchObject({ kind: "reloaded" });
  });

  it("with no listing ever made, a failed one fails the apply (retried by the pass)", async () => {
    const f = fleetOf({ replicas: 1, clock: steppingClock() });
    f.source.failListing = true;
    await expect(f.apply(rendered("s1"))).rejects.toThrow(/ECONNREFUSED/);
  });
});
