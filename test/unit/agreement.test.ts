/**
 * The agreement check over recording fakes of two replicas: each read back, in-sync / stale /
 * diverged, and brought back at once (a change record says so); on the loop's clock, drift made
 * by hand is found within 2 s and repaired within 5 s.
 */
import pino from "pino";
import { ChangeLog } from "../../sidecar/changes/change-log";
import { parseStoredRecord } from "../../sidecar/changes/stored-record";
import { HAPROXY_LANE, laneOf } from "../../sidecar/changes/timeline";
import { systemClock } from "../../sidecar/lib/clock";
import { ControlLoop } from "../../sidecar/reconcile/control-loop";
import type { PassRunner } from "../../sidecar/reconcile/types";
import { Metrics } from "../../sidecar/status/metrics";
import { fleetOf, rendered } from "./haproxy-replicas-fake";

const S1 = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]);

async function two(opts: Parameters<typeof fleetOf>[0] = {}) {
  const f = fleetOf({ replicas: 2, ...opts });
  await f.apply(S1);
  await f.idle();
  f.calls.length = 0;
  return f;
}

const states = (f: Awaited<ReturnType<typeof two>>): string[] =>
  f.fleet.view().map((r) => `${r.replica} ${r.state}${r.reason ? `: ${r.reason}` : ""}`);

describe("AgreementCheck", () => {
  it("reads every replica back and finds them in sync: nothing to do", async () => {
    const f = await two();
    const report = await f.agreement.check();
    expect(report.repairs).toEqual([]);
    expect(states(f)).toEqual(["1 in-sync", "2 in-sync"]);
    expect(f.calls).toEqual([]);
  });

  it("repairs a `disable server` typed on replica 2's socket at once, through the runtime API, and says so", async () => {
    const f = await two();
    await f.replica(2).runtime.command("disable server webapp/b");
    f.calls.length = 0;
    const report = await f.agreement.check();
    expect(report.repairs).toEqual([
      {
        replica: "2",
        container: "ha_2",
        containerId: "c2",
        was: "diverged",
        detail: "webapp/b not routed (missing or in maintenance)",
        via: "runtime",
        detectedAt: expect.any(Number),
        confirmedAt: expect.any(Number),
      },
    ]);
    expect(f.calls).toEqual(["2: enable server webapp/b"]);
    expect(states(f)).toEqual(["1 in-sync", "2 in-sync"]);
    // The change log keeps a record of it, naming the replica's container.
    const changes = new ChangeLog(null, systemClock, pino({ level: "silent" }), { keep: 10, source: "docker" });
    changes.agreement(report);
    expect(changes.query()).toMatchObject([
      {
        kind: "replica-repaired",
        container: "ha_2",
        containerId: "c2",
        reason: "haproxy replica 2 diverged from the desired state",
        detail: "webapp/b not routed (missing or in maintenance); repaired through the runtime API",
        cause: { source: "haproxy", event: "diverged" },
        via: "runtime",
      },
    ]);
    // Drawn in the timeline's HAProxy lane, and read back from the change file as it was written.
    const [record] = changes.query();
    expect(laneOf(record!)).toBe(HAPROXY_LANE);
    expect(parseStoredRecord(JSON.stringify(record))).toEqual(record);
  });

  it("repairs by a reload what the runtime API cannot (another structure loaded by hand)", async () => {
    const f = await two();
    f.replica(1).running = "hand-made";
    f.calls.length = 0;
    const report = await f.agreement.check();
    expect(report.repairs).toMatchObject([{ replica: "1", was: "diverged", via: "reload" }]);
    expect(f.calls).toEqual(["1: save-state", "1: signal"]);
    expect(states(f)).toEqual(["1 in-sync", "2 in-sync"]);
  });

  it("leaves a paused replica alone (stale), and brings it to the desired state once it answers again", async () => {
    const f = await two();
    f.source.states.set(2, "paused");
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    await f.apply(next);
    await f.idle();
    await f.agreement.check();
    expect(states(f)).toEqual(["1 in-sync", "2 stale: paused"]);
    f.source.states.set(2, "running");
    f.calls.length = 0;
    const report = await f.agreement.check();
    expect(report.repairs).toMatchObject([{ replica: "2", was: "stale", via: "runtime" }]);
    expect(f.calls.filter((c) => c.startsWith("2: add server"))).toEqual([
      "2: add server webapp/c 10.0.0.3:3000 inter 1s check",
    ]);
    expect(states(f)).toEqual(["1 in-sync", "2 in-sync"]);
  });

  it("tells a replica that does not answer (stale) from one that diverged, and repairs it once it answers", async () => {
    const f = await two();
    f.replica(2).unreachable = true;
    expect((await f.agreement.check()).repairs).toEqual([]);
    expect(states(f)).toEqual(["1 in-sync", "2 stale: does not answer"]);
    f.replica(2).unreachable = false;
    expect((await f.agreement.check()).repairs).toEqual([]);
    expect(states(f)).toEqual(["1 in-sync", "2 in-sync"]);
  });

  it("takes a restarted replica that loaded the live file as in sync; one that loaded an older file is brought up", async () => {
    const f = await two();
    f.replica(2).load(); // a restart: a new worker, the live file
    expect((await f.agreement.check()).repairs).toEqual([]);
    expect(states(f)).toEqual(["1 in-sync", "2 in-sync"]);
    f.replica(2).load();
    f.replica(2).servers.delete("webapp/b"); // as if it had loaded an older file
    const report = await f.agreement.check();
    expect(report.repairs).toMatchObject([
      { replica: "2", was: "stale", detail: expect.stringMatching(/^restarted: /) },
    ]);
  });

  it("backs off a repair that fails, and tries again later", async () => {
    const f = await two();
    await f.replica(2).runtime.command("disable server webapp/b");
    f.replica(2).refuse = /^(set|enable) server/;
    f.replica(2).swallowSignals = 1_000;
    const first = await f.agreement.check();
    expect(first.repairs).toEqual([]);
    expect(states(f)[1]).toMatch(/^2 (diverged|stale)/);
    f.calls.length = 0;
    // Within the backoff (1 s), the next check only reads it back.
    await f.agreement.check();
    expect(f.calls).toEqual([]);
    f.replica(2).refuse = null;
    f.clock.setTimeout(() => undefined, 1_000);
    const later = await f.agreement.check();
    expect(later.repairs).toMatchObject([{ replica: "2" }]);
  });

  it("repairs nothing while early drains wait for their pass", async () => {
    const f = await two();
    f.replica(2).unreachable = true;
    await f.fleet.drain([{ backend: "webapp", server: "b" }]); // replica 2 missed it
    f.replica(2).unreachable = false;
    f.calls.length = 0;
    expect((await f.agreement.check()).repairs).toEqual([]);
    expect(f.calls).toEqual([]);
    expect(states(f)).toEqual(["1 in-sync", "2 stale: behind: webapp/b routed, not wanted"]);
  });

  it("shows each replica in /metrics: 1 in sync, 0 otherwise", async () => {
    const f = await two();
    f.replica(2).unreachable = true;
    await f.agreement.check();
    const metrics = new Metrics(() => f.fleet.view());
    const text = await metrics.registry.getSingleMetricAsString("ha_sidecar_haproxy_in_sync");
    expect(text).toContain('ha_sidecar_haproxy_in_sync{replica="1"} 1');
    expect(text).toContain('ha_sidecar_haproxy_in_sync{replica="2"} 0');
  });
});

describe("AgreementCheck on the loop's timer", () => {
  afterEach(() => jest.useRealTimers());

  it("repairs a `disable server` made by hand within 2 s of it (the issue asks: found within 2 s, repaired within 5 s)", async () => {
    const f = await two({ clock: systemClock });
    jest.useFakeTimers({ now: 0 });
    const runner: PassRunner = {
      observe: () => [],
      burstUnderway: () => false,
      sync: () => Promise.reject(new Error("no pass in this test")),
      prefetch: async () => undefined,
      last: null,
    };
    const repairedAt: number[] = [];
    const loop = new ControlLoop(
      {
        reconciler: runner,
        source: { list: async () => [], watch: () => undefined },
        serf: null,
        haproxy: { drain: (s) => f.fleet.drain(s), ready: (s) => f.fleet.ready(s), check: () => f.agreement.check() },
        clock: systemClock,
        log: pino({ level: "silent" }),
        observer: {
          pass: () => undefined,
          hint: () => undefined,
          streamConnected: () => undefined,
          agreement: (r) => r.repairs.forEach(() => repairedAt.push(Date.now())),
        },
        readiness: null,
      },
      { quietMs: 100, maxWaitMs: 4000, resyncMs: 30_000, passTimeoutMs: 10_000, agreementCheckMs: 1000 },
    );
    loop.start();
    await jest.advanceTimersByTimeAsync(2_500);
    const madeAt = Date.now();
    await f.replica(2).runtime.command("disable server webapp/b");
    await jest.advanceTimersByTimeAsync(5_000);
    expect(repairedAt).toHaveLength(1);
    expect(repairedAt[0]! - madeAt).toBeLessThanOrEqual(2_000);
    expect(f.replica(2).servers.get("webapp/b")!.maint).toBe(false);
    await loop.stop();
  });
});
