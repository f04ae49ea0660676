import pino from "pino";
import type { AgreementReport } from "../../sidecar/apply/agreement";
import { systemClock } from "../../sidecar/lib/clock";
import type { ChangeHint, ServerRef } from "../../sidecar/model/types";
import { ControlLoop } from "../../sidecar/reconcile/control-loop";
import type { HaproxyDoor, PassReport, PassRunner, SyncResult } from "../../sidecar/reconcile/types";
import type { ServerLine } from "../../sidecar/render/server-lines";
import type { SerfSource } from "../../sidecar/serf/serf-rpc";
import type { SourceSignal } from "../../sidecar/source/backend-source";

beforeEach(() => jest.useFakeTimers({ now: 0 }));
afterEach(() => jest.useRealTimers());

const OPTS = { quietMs: 100, maxWaitMs: 4000, resyncMs: 30_000, passTimeoutMs: 10_000 };
const ok = (over: Partial<Extract<SyncResult, { ok: true }>> = {}): SyncResult => ({
  ok: true,
  at: 0,
  outcome: { kind: "unchanged" },
  state: { defaultService: "webapp", services: [] },
  drainPanic: [],
  excluded: [],
  awaitingReadiness: 0,
  ...over,
});
const failed = (stage: "list" | "template" | "apply", retry: boolean): SyncResult => ({
  ok: false,
  at: 0,
  stage,
  error: new Error(`${stage} failed`),
  retry,
});
const hint = (kind: "leaving" | "started" | "changed", id: string, cause: string = kind): SignalStep => ({
  kind: "hint",
  hint: { kind, id, cause },
});
const created = (id: string): SignalStep => ({
  kind: "hint",
  hint: { kind: "created", id, cause: "create", labels: { "heig.lb.enable": "true" }, group: "webapp" },
});
type SignalStep = SourceSignal;

/** A server held in maintenance until its backend listens. */
const heldLine = (name: string): ServerLine => ({
  backend: "webapp",
  name,
  address: "10.0.0.9",
  port: 3000,
  options: ["check", "disabled"],
  weight: 1,
  id: 9,
});

/**
 * A loop around recording fakes: the pass returns scripted results and takes `passMs`; a hint
 * for a routed id (`routed-*`) starts draining it; creations hold the burst until a start.
 */
function harness(
  script: {
    results?: SyncResult[];
    passMs?: number;
    serf?: SerfSource;
    hang?: boolean;
    checkMs?: number;
    checkTakesMs?: number;
    /** The template file's answers to "changed?", one per look (then false). */
    templateEdits?: boolean[];
    /** How long the resync's listing, taken off the pass, takes. */
    prefetchMs?: number;
    /** Backends that began to listen while the first pass held them (takeLateReadies). */
    late?: string[];
    /** The early drain: all replicas drained (0, the default), some missed (n), or none ("fails"). */
    drainMisses?: number | "fails";
  } = {},
) {
  /** Each pass's `fresh`: whether it took the whole listing itself. */
  const freshes: boolean[] = [];
  const prefetchedAt: number[] = [];
  const passes: Array<{ at: number; reasons: readonly string[] }> = [];
  const drains: Array<{ at: number; servers: readonly ServerRef[] }> = [];
  const readies: Array<{ at: number; servers: readonly string[] }> = [];
  const checks: number[] = [];
  const reports: AgreementReport[] = [];
  const results = [...(script.results ?? [])];
  const pending = new Set<string>();
  let listener: (s: SourceSignal) => void = () => undefined;
  let ready: (id: string) => void = () => undefined;
  let last: SyncResult | null = null;
  const runner: PassRunner = {
    observe: (h: ChangeHint) => {
      if (h.kind === "created") pending.add(h.id);
      if (h.kind === "started") pending.delete(h.id);
      return h.kind === "leaving" && h.id.startsWith("routed") ? [{ backend: "webapp", server: h.id }] : [];
    },
    burstUnderway: () => pending.size > 0,
    // A backend `held-*` has a server held in maintenance until it listens.
    readied: (id: string) => (id.startsWith("held") ? [heldLine(id)] : []),
    takeLateReadies: () => (script.late ?? []).splice(0).map(heldLine),
    sync: async (fresh?: boolean, signal?: AbortSignal) => {
      freshes.push(fresh ?? true);
      if (script.hang) {
        // A call that never answers, until the pass's deadline aborts it.
        await new Promise((r) => signal!.addEventListener("abort", r, { once: true }));
        last = failed("list", true);
        return last;
      }
      if (script.passMs) await new Promise((r) => setTimeout(r, script.passMs));
      last = results.shift() ?? ok();
      return last;
    },
    get last() {
      return last;
    },
    prefetch: async () => {
      prefetchedAt.push(Date.now());
      if (script.prefetchMs) await new Promise((r) => setTimeout(r, script.prefetchMs));
    },
  };
  const haproxy: HaproxyDoor = {
    drain: async (servers: readonly ServerRef[]) => {
      drains.push({ at: Date.now(), servers });
      if (script.drainMisses === "fails") throw new Error("connect ECONNREFUSED");
      return script.drainMisses ?? 0;
    },
    ready: async (servers) => {
      readies.push({ at: Date.now(), servers: servers.map((l) => `${l.backend}/${l.name}`) });
    },
    check: async () => {
      checks.push(Date.now());
      if (script.checkTakesMs) await new Promise((r) => setTimeout(r, script.checkTakesMs));
      return { at: Date.now(), replicas: [], repairs: [] };
    },
  };
  const loop = new ControlLoop(
    {
      reconciler: runner,
      source: {
        list: async () => [],
        watch: (l) => {
          listener = l;
        },
      },
      serf: script.serf ? { source: script.serf, view: () => null } : null,
      haproxy,
      clock: systemClock,
      log: pino({ level: "silent" }),
      observer: {
        pass: (r: PassReport) => passes.push({ at: Date.now(), reasons: [...r.reasons.keys()].sort() }),
        hint: () => undefined,
        streamConnected: () => undefined,
        agreement: (report) => reports.push(report),
      },
      readiness: {
        onReady: (l) => {
          ready = l;
        },
        stop: () => undefined,
      },
      templateChanged:
        script.templateEdits === undefined ? undefined : async () => script.templateEdits!.shift() ?? false,
    },
    script.checkMs === undefined ? OPTS : { ...OPTS, agreementCheckMs: script.checkMs },
  );
  loop.start();
  const emit = (s: SourceSignal): void => listener(s);
  return {
    loop,
    passes,
    drains,
    readies,
    checks,
    reports,
    emit,
    ready: (id: string) => ready(id),
    freshes,
    prefetchedAt,
  };
}

/** Runs `steps` (a signal at a time in ms) and lets the clock run to `untilMs`. */
async function play(h: ReturnType<typeof harness>, steps: Array<[number, SignalStep]>, untilMs: number): Promise<void> {
  for (const [at, signal] of steps) {
    await jest.advanceTimersByTimeAsync(at - Date.now());
    h.emit(signal);
  }
  await jest.advanceTimersByTimeAsync(untilMs - Date.now());
}

describe("ControlLoop: events in → passes out", () => {
  it.each<[string, Array<[number, SignalStep]>, number, Array<[number, string[]]>]>([
    [
      "the first connection makes a pass after the quiet time",
      [[0, { kind: "connected" }]],
      1000,
      [[100, ["connected"]]],
    ],
    [
      "a burst of changes 20 ms apart is one pass, quiet time after the last",
      [
        [0, hint("changed", "a", "start")],
        [20, hint("changed", "b", "start")],
        [40, hint("changed", "c", "health_status")],
      ],
      1000,
      [[140, ["health_status", "start"]]],
    ],
    [
      "a routed backend leaving, drained early on every replica, makes a pass after the quiet time",
      [[0, hint("leaving", "routed-1", "kill")]],
      1000,
      [[100, ["kill"]]],
    ],
    [
      "a start right after a drained stop is one pass at once: it does not wait behind the stop's",
      [
        [0, hint("leaving", "routed-1", "kill")],
        [60, hint("started", "n3", "start")],
      ],
      1000,
      [[60, ["kill", "start"]]],
    ],
    [
      "a leaving backend nobody routed waits for the quiet time like any change",
      [[0, hint("leaving", "other", "kill")]],
      1000,
      [[100, ["kill"]]],
    ],
    [
      "while created backends have not started, only the maximum wait fires",
      [
        [0, created("n1")],
        [10, hint("changed", "x", "start")],
      ],
      5000,
      [[4000, ["create", "start"]]],
    ],
    [
      "the start that ends a burst makes the pass at once",
      [
        [0, created("n1")],
        [500, hint("started", "n1", "start")],
      ],
      5000,
      [[500, ["create", "start"]]],
    ],
    [
      "a backend that starts makes a pass at once, not after the quiet time (its add is no reload)",
      [[0, hint("started", "n2", "start")]],
      1000,
      [[0, ["start"]]],
    ],
    ["a disconnection alone makes no pass", [[0, { kind: "disconnected", err: new Error("EOF") }]], 5000, []],
    [
      "nothing at all: the resync asks for a pass every resync period",
      [],
      61_000,
      [
        [30_100, ["resync"]],
        [60_100, ["resync"]],
      ],
    ],
  ])("%s", async (_what, steps, untilMs, expected) => {
    const h = harness();
    await play(h, steps, untilMs);
    expect(h.passes.map((p) => [p.at, p.reasons])).toEqual(expected);
    await h.loop.stop();
  });

  it("a resync takes its whole listing before its pass, which does not take it again (after a failed one, the Listing does)", async () => {
    const h = harness({ prefetchMs: 500 });
    await play(h, [[0, { kind: "connected" }]], 61_000);
    expect(h.prefetchedAt).toEqual([30_000, 60_000]);
    expect(h.passes.map((p) => [p.at, p.reasons])).toEqual([
      [100, ["connected"]],
      [30_600, ["resync"]],
      [60_600, ["resync"]],
    ]);
    expect(h.freshes).toEqual([true, false, false]);
    await h.loop.stop();
  });

  it("a hint while the resync's listing is under way is not held behind it", async () => {
    const h = harness({ prefetchMs: 2_000 });
    await play(
      h,
      [
        [0, { kind: "connected" }],
        [30_500, hint("started", "n2", "start")],
      ],
      33_000,
    );
    expect(h.passes.map((p) => [p.at, p.reasons])).toEqual([
      [100, ["connected"]],
      [30_500, ["start"]],
      [32_100, ["resync"]],
    ]);
    expect(h.freshes).toEqual([true, false, false]);
    await h.loop.stop();
  });

  it("drains a leaving routed backend in every worker at once, before the pass", async () => {
    const h = harness();
    await play(h, [[5, hint("leaving", "routed-2", "kill")]], 200);
    expect(h.drains).toEqual([{ at: 5, servers: [{ backend: "webapp", server: "routed-2" }] }]);
    expect(h.passes.map((p) => p.at)).toEqual([105]);
    await h.loop.stop();
  });

  it.each<[string, number | "fails"]>([
    ["a replica missed", 1],
    ["no replica could be drained", "fails"],
  ])(
    "makes the pass 30 ms after the hint when the early drain did not reach every replica (%s)",
    async (_, drainMisses) => {
      const h = harness({ drainMisses });
      await play(h, [[5, hint("leaving", "routed-2", "kill")]], 200);
      expect(h.drains.map((d) => d.at)).toEqual([5]);
      expect(h.passes.map((p) => p.at)).toEqual([35]);
      await h.loop.stop();
    },
  );

  it.each<[string, number, number]>([
    ["after the quiet time when drained on every replica", 0, 110],
    ["30 ms after the hint when its early drain missed a replica", 1, 40],
  ])("a stop's pass ignores a burst's hold: it comes %s", async (_, drainMisses, passAt) => {
    const h = harness({ drainMisses });
    await play(
      h,
      [
        [0, created("n1")],
        [10, hint("leaving", "routed-2", "kill")],
      ],
      300,
    );
    expect(h.passes.map((p) => p.at)).toEqual([passAt]);
    await h.loop.stop();
  });

  it("keeps one pass in flight and queues exactly one more for the hints that came meanwhile", async () => {
    const h = harness({ passMs: 500 });
    await play(
      h,
      [
        [0, hint("changed", "a")],
        [200, hint("changed", "b", "die")],
        [300, hint("changed", "c", "start")],
      ],
      3000,
    );
    // The first pass runs 100–600; the second starts when it ends and reports at 1100.
    expect(h.passes.map((p) => [p.at, p.reasons])).toEqual([
      [600, ["changed"]],
      [1100, ["die", "start"]],
    ]);
    await h.loop.stop();
  });
});

describe("ControlLoop: results in → retries out", () => {
  // Retries and rechecks are pokes like any other: the pass follows after the quiet time.
  const connected: Array<[number, SignalStep]> = [[0, { kind: "connected" }]];
  it.each<[string, SyncResult[], Array<[number, SignalStep]>, number, number[]]>([
    [
      "a failed listing is retried with capped exponential backoff",
      [failed("list", true), failed("list", true), failed("list", true), ok()],
      connected,
      3000,
      [100, 450, 1050, 2150],
    ],
    ["a failed apply is retried too", [failed("apply", true), ok()], connected, 3000, [100, 450]],
    [
      "a template error is not retried: the input must change first",
      [failed("template", false)],
      connected,
      10_000,
      [100],
    ],
    [
      "a drained server that still has connections is looked at again 500 ms later",
      [
        ok({
          outcome: {
            kind: "runtime",
            written: true,
            result: { added: [], changed: [], removed: [], pendingDeletes: ["webapp/x"] },
          },
        }),
        ok(),
      ],
      connected,
      3000,
      [100, 700],
    ],
    [
      "success after failures resets the backoff",
      [failed("list", true), ok(), failed("list", true), ok()],
      [
        [0, { kind: "connected" }],
        [1000, hint("changed", "x")],
      ],
      3000,
      [100, 450, 1100, 1450],
    ],
  ])("%s", async (_what, results, steps, untilMs, expectedAt) => {
    const h = harness({ results });
    await play(h, steps, untilMs);
    expect(h.passes.map((p) => p.at)).toEqual(expectedAt);
    await h.loop.stop();
  });

  it("makes a pass when the template file was edited in place, within a second, and not otherwise", async () => {
    // Looks at 1 s, 2 s, 3 s: the file changed before the second look.
    const h = harness({ templateEdits: [false, true, false] });
    await play(h, [[0, { kind: "connected" }]], 3500);
    expect(h.passes.map((p) => p.reasons)).toEqual([["connected"], ["template"]]);
    expect(h.passes[1]!.at).toBeGreaterThanOrEqual(2000);
    expect(h.passes[1]!.at).toBeLessThan(3000);
    await h.loop.stop();
  });

  it("says why each retry happened", async () => {
    const pending = {
      kind: "runtime",
      written: false,
      result: { added: [], changed: [], removed: [], pendingDeletes: ["webapp/x"] },
    } as const;
    const h = harness({ results: [failed("list", true), ok({ outcome: pending }), ok()] });
    await play(h, [[0, { kind: "connected" }]], 2000);
    expect(h.passes.map((p) => p.reasons)).toEqual([["connected"], ["retry"], ["pending-delete"]]);
    await h.loop.stop();
  });

  it("makes a pass at once when a backend that did not listen starts to, not after the quiet time", async () => {
    const h = harness();
    await play(h, [[0, { kind: "connected" }]], 500);
    h.ready("c9");
    await jest.advanceTimersByTimeAsync(0);
    expect(h.passes.map((p) => [p.at, p.reasons])).toEqual([
      [100, ["connected"]],
      [500, ["ready"]],
    ]);
    expect(h.readies).toEqual([]);
    await h.loop.stop();
  });

  it("readies right after a pass the held servers whose backends began to listen while it held them", async () => {
    const h = harness({ passMs: 50, late: ["held-2"] });
    await play(h, [[0, { kind: "connected" }]], 500);
    expect(h.readies).toEqual([{ at: 150, servers: ["webapp/held-2"] }]);
    await h.loop.stop();
  });

  it("takes a held server out of maintenance the moment its backend listens, before its pass", async () => {
    const h = harness({ passMs: 50 });
    await play(h, [[0, { kind: "connected" }]], 500);
    h.ready("held-1");
    expect(h.readies).toEqual([{ at: 500, servers: ["webapp/held-1"] }]);
    await jest.advanceTimersByTimeAsync(100);
    expect(h.passes.map((p) => [p.at, p.reasons])).toEqual([
      [150, ["connected"]],
      [550, ["ready"]],
    ]);
    await h.loop.stop();
  });
});

describe("ControlLoop: the agreement check", () => {
  it("checks the replicas every period, and tells the observer", async () => {
    const h = harness({ checkMs: 1000 });
    await jest.advanceTimersByTimeAsync(3500);
    expect(h.checks).toEqual([1000, 2000, 3000]);
    expect(h.reports).toHaveLength(3);
    await h.loop.stop();
  });

  it("starts the next check one period after the last one ended: never two at once", async () => {
    const h = harness({ checkMs: 1000, checkTakesMs: 1500 });
    await jest.advanceTimersByTimeAsync(6500);
    expect(h.checks).toEqual([1000, 3500, 6000]);
    const stopping = h.loop.stop();
    await jest.advanceTimersByTimeAsync(1500);
    await stopping;
  });

  it("never checks without a period", async () => {
    const h = harness();
    await jest.advanceTimersByTimeAsync(5000);
    expect(h.checks).toEqual([]);
    await h.loop.stop();
  });

  it("stops checking on stop, once the check in flight is over", async () => {
    const h = harness({ checkMs: 1000, checkTakesMs: 500 });
    await jest.advanceTimersByTimeAsync(1200);
    let stopped = false;
    const stopping = h.loop.stop().then(() => {
      stopped = true;
    });
    await jest.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    await jest.advanceTimersByTimeAsync(300);
    await stopping;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(h.checks).toEqual([1000]);
  });
});

describe("ControlLoop: deadlines", () => {
  it("aborts a pass that hangs at its deadline, and retries it", async () => {
    const h = harness({ hang: true });
    await play(h, [[0, { kind: "connected" }]], 21_000);
    // Started at 100, aborted at its 10 s deadline; retried 250 ms + the quiet time later, and
    // that one hangs and is aborted too.
    expect(h.passes.map((p) => [p.at, p.reasons])).toEqual([
      [10_100, ["connected"]],
      [20_450, ["retry"]],
    ]);
    await h.loop.stop();
  });
});

describe("ControlLoop: lifecycle", () => {
  it("stops every timer: no pass after stop, and stop waits for the pass in flight", async () => {
    const h = harness({ passMs: 500 });
    await play(h, [[0, { kind: "connected" }]], 200);
    let stopped = false;
    const stopping = h.loop.stop().then(() => {
      stopped = true;
    });
    await jest.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    await jest.advanceTimersByTimeAsync(400);
    await stopping;
    expect(h.passes.map((p) => p.at)).toEqual([600]);
    h.emit(hint("changed", "late"));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(h.passes).toHaveLength(1);
  });

  it("turns Serf membership events into passes and reconnects its stream with backoff", async () => {
    let streams = 0;
    const serf: SerfSource = {
      members: async () => [],
      stream: async (onEvent) => {
        streams++;
        onEvent("member-join");
        throw new Error("serf stream closed");
      },
    };
    const h = harness({ serf });
    await jest.advanceTimersByTimeAsync(2000);
    // Connected at 0 → pass at 100; reconnects at 500 (backoff reset by the event) and 1000, 1500…
    expect(streams).toBeGreaterThanOrEqual(3);
    expect(h.passes[0]).toEqual({ at: 100, reasons: ["member-join"] });
    await h.loop.stop();
  });

  it("tells the view whether the event stream is connected, and the last reload", async () => {
    const h = harness({
      results: [ok({ outcome: { kind: "reloaded", written: true, signals: 1, fallback: null }, at: 100 })],
    });
    await play(h, [[0, { kind: "connected" }]], 500);
    expect(h.loop.view).toMatchObject({ eventsConnected: true, lastReload: { at: 100, reason: "connected" } });
    h.emit({ kind: "disconnected", err: new Error("EOF") });
    expect(h.loop.view.eventsConnected).toBe(false);
    await h.loop.stop();
  });
});
