/**
 * A pass reads what each replica runs as it starts (RuntimeTarget.readAhead), beside its listing
 * and render: the apply takes that read, unless anything was written to the replica since.
 */
import { READ_AHEAD_MAX_MS, RuntimeTarget } from "../../sidecar/apply/runtime-target";
import type { RuntimeClient } from "../../sidecar/haproxy/runtime-client";
import { FakeReplica, fleetOf, rendered, silent, steppingClock, Volume } from "./haproxy-replicas-fake";

const S1 = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]);
const REF_A = { backend: "webapp", server: "a" };

/** One replica running S1, its target, and how often its servers and config id were read. */
function target() {
  const volume = new Volume();
  volume.live = S1.text;
  const replica = new FakeReplica(volume);
  replica.load();
  const reads = { servers: 0, info: 0 };
  let hold: Promise<void> | null = null;
  const runtime: RuntimeClient = {
    ...replica.runtime,
    servers: () => {
      reads.servers++;
      return replica.runtime.servers();
    },
    runningInfo: () => {
      reads.info++;
      return replica.runtime.runningInfo();
    },
    // A drain that waits for `hold` (a write under way).
    drainServers: async (refs) => {
      if (hold !== null) await hold;
      return replica.runtime.drainServers(refs);
    },
  };
  const clock = steppingClock();
  const t = new RuntimeTarget(runtime, async () => replica.signal(), silent, { reloadConfirmMs: 1000, clock });
  const holdWrites = (): (() => void) => {
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    return () => {
      hold = null;
      release();
    };
  };
  return { t, replica, reads, clock, holdWrites };
}

describe("RuntimeTarget.readAhead", () => {
  it("serves the next read of servers and config id, once each", async () => {
    const { t, reads } = target();
    t.readAhead(true);
    expect(reads).toEqual({ servers: 1, info: 1 });
    expect((await t.servers()).get("webapp/a")?.maint).toBe(false);
    expect(await t.info()).toEqual({ configId: "s1", worker: 101 });
    expect(reads).toEqual({ servers: 1, info: 1 });
    // Taken: the next ones read again.
    await t.servers();
    await t.info();
    expect(reads).toEqual({ servers: 2, info: 2 });
  });

  it("reads only the config id when the servers are not asked for (the reload path)", async () => {
    const { t, reads } = target();
    t.readAhead(false);
    expect(reads).toEqual({ servers: 0, info: 1 });
    await t.servers();
    await t.info();
    expect(reads).toEqual({ servers: 1, info: 1 });
  });

  it("does not serve once a write was made since: a drain, a ready, a runtime apply or a reload", async () => {
    const writes: Array<[string, (t: RuntimeTarget) => Promise<unknown>]> = [
      ["drain", (t) => t.drain([REF_A])],
      ["ready", (t) => t.ready([S1.servers.get("webapp/a")!])],
      ["runtime apply", (t) => t.applyAtRuntime(rendered("s1", ["a 10.0.0.1:3000"]))],
      ["reload", (t) => t.reload("s1")],
    ];
    for (const [what, write] of writes) {
      const { t, reads } = target();
      t.readAhead(true);
      await write(t);
      const before = { ...reads };
      await t.servers();
      await t.info();
      expect([what, reads]).toEqual([what, { servers: before.servers + 1, info: before.info + 1 }]);
    }
  });

  it("what a drain since the read changed is what the apply sees", async () => {
    const { t } = target();
    t.readAhead(true);
    await t.drain([REF_A]);
    expect((await t.servers()).get("webapp/a")?.maint).toBe(true);
  });

  it("is not taken while a write is under way, nor asked for while one is", async () => {
    const { t, reads, holdWrites } = target();
    const release = holdWrites();
    t.readAhead(true);
    const draining = t.drain([REF_A]);
    // Begun after the read was asked for: the read may or may not show it.
    await t.servers();
    expect(reads.servers).toBe(2);
    // Asked for while the drain is under way: not read ahead at all.
    t.readAhead(true);
    expect(reads.servers).toBe(2);
    release();
    await draining;
    expect((await t.servers()).get("webapp/a")?.maint).toBe(true);
    expect(reads.servers).toBe(3);
  });

  it("does not serve a read older than READ_AHEAD_MAX_MS", async () => {
    const { t, reads, clock } = target();
    t.readAhead(true);
    clock.advance(READ_AHEAD_MAX_MS + 1);
    await t.servers();
    expect(reads.servers).toBe(2);
  });

  it("a pass reads each replica's servers as it starts, and its apply takes that read", async () => {
    const f = fleetOf({ replicas: 2 });
    await f.apply(S1);
    await f.idle();
    const counted = [1, 2].map((k) => {
      const r = f.replica(k);
      const read = r.runtime.servers;
      const n = { reads: 0 };
      r.runtime.servers = () => {
        n.reads++;
        return read();
      };
      return n;
    });
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    // As a pass starts: its replicas listed, and each one's servers read.
    const replicas = f.applier.listReplicas();
    expect(counted.map((n) => n.reads)).toEqual([1, 1]);
    await expect(f.applier.apply(next, [], replicas)).resolves.toMatchObject({ kind: "runtime" });
    // The apply took that read: only the check after its commands read again.
    expect(counted.map((n) => n.reads)).toEqual([2, 2]);
    expect(f.fleet.view().map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
  });

  it("reads ahead only the config id on the reload path (LB_RUNTIME_API=off)", async () => {
    const f = fleetOf({ replicas: 1, runtimeApi: false });
    await f.apply(S1);
    await f.idle();
    const r = f.replica(1);
    const read = r.runtime.servers;
    let reads = 0;
    r.runtime.servers = () => {
      reads++;
      return read();
    };
    void f.applier.listReplicas();
    expect(reads).toBe(0);
  });

  it("a read left by a pass that never applied does not hide from the agreement check a change made by hand", async () => {
    const f = fleetOf({ replicas: 2 });
    await f.apply(S1);
    await f.idle();
    // A pass starts (its listing then fails: nothing applied), then an operator types a command.
    void f.applier.listReplicas();
    await f.replica(2).runtime.command("disable server webapp/b");
    f.calls.length = 0;
    const report = await f.agreement.check();
    expect(report.repairs.map((x) => [x.replica, x.was])).toEqual([["2", "diverged"]]);
    expect(f.calls).toEqual(["2: enable server webapp/b"]);
    expect(f.replica(2).servers.get("webapp/b")?.maint).toBe(false);
  });
});
