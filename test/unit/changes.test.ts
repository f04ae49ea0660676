import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pino from "pino";
import { JsonLinesChangeFile } from "../../sidecar/changes/change-file";
import { ChangeLog } from "../../sidecar/changes/change-log";
import {
  routingChanges,
  routingOfLines,
  routingOfState,
  type Cause,
  type ChangeRecord,
  type PassCauses,
  type Routing,
} from "../../sidecar/changes/records";
import { recordText, timelineSvg } from "../../sidecar/changes/timeline";
import type { ApplyOutcome } from "../../sidecar/apply/outcome";
import type { Clock } from "../../sidecar/lib/clock";
import type { DesiredState, Exclusion } from "../../sidecar/model/types";
import type { PassReport, SyncResult } from "../../sidecar/reconcile/types";
import { parseServerLines } from "../../sidecar/render/server-lines";

const T0 = Date.UTC(2026, 10, 25, 14, 0, 0);
const silent = pino({ level: "silent" });

function state(servers: Record<string, Array<[name: string, id: string, weight?: number]>>): DesiredState {
  return {
    defaultService: "webapp",
    services: Object.entries(servers).map(([name, list]) => ({
      name,
      sticky: false,
      servers: list.map(([server, id, weight]) => ({
        name: server,
        sourceId: id,
        address: `10.0.0.${Number(/\d+$/.exec(server)![0]) + 1}`,
        port: 3000,
        weight: weight ?? null,
      })),
    })),
  };
}
const runtime: ApplyOutcome = {
  kind: "runtime",
  written: true,
  result: { added: [], changed: [], removed: [], pendingDeletes: [] },
};
const reloaded: ApplyOutcome = { kind: "reloaded", written: true, signals: 1, fallback: null };
const causes = (over: Partial<PassCauses> = {}): PassCauses => ({
  byId: new Map(),
  reasons: new Map([["resync", T0]]),
  source: "docker",
  passAt: T0,
  ...over,
});
const docker = (event: string, at: number): Cause => ({ source: "docker", event, at });

describe("routingChanges (pure)", () => {
  const two = routingOfState(
    state({
      webapp: [
        ["web_1", "c1"],
        ["web_2", "c2"],
      ],
    }),
  );

  it("records a server added on its start, then the runtime apply that carried it, confirmed after the start", () => {
    const after = routingOfState(
      state({
        webapp: [
          ["web_1", "c1"],
          ["web_2", "c2"],
          ["web_3", "c3"],
        ],
      }),
    );
    const records = routingChanges({
      before: two,
      after,
      excluded: [],
      outcome: runtime,
      causes: causes({
        byId: new Map([["c3", [docker("start", T0 + 5), { source: "readiness", event: "listening", at: T0 + 900 }]]]),
        reasons: new Map([["ready", T0 + 900]]),
      }),
      confirmedAt: T0 + 950,
    });
    expect(records.map((r) => [r.kind, r.server, r.reason, r.tookMs, r.via])).toEqual([
      ["server-added", "web_3", "docker event start, then readiness probe: listening", 945, "runtime"],
      ["runtime-apply", null, "docker event start, then readiness probe: listening", 945, "runtime"],
    ]);
    expect(records[0]).toMatchObject({
      backend: "webapp",
      containerId: "c3",
      triggeredAt: new Date(T0 + 5).toISOString(),
      confirmedAt: new Date(T0 + 950).toISOString(),
    });
  });

  it("says why a server left: its event, else the verdict that took it out, else a resync that found drift", () => {
    const after = routingOfState(state({ webapp: [] }));
    const excluded: Exclusion[] = [{ sourceId: "c2", name: "web_2", reason: "serf-failed" }];
    const records = routingChanges({
      before: two,
      after,
      excluded,
      outcome: runtime,
      causes: causes({
        byId: new Map([["c1", [docker("kill", T0 + 1)]]]),
        reasons: new Map([
          ["kill", T0 + 1],
          ["member-failed", T0 + 2],
        ]),
      }),
      confirmedAt: T0 + 40,
    });
    expect(records.map((r) => [r.kind, r.server ?? r.backend, r.reason, r.tookMs])).toEqual([
      ["server-removed", "web_1", "docker event kill", 39],
      ["server-removed", "web_2", "serf: member-failed", 38],
      ["backend-removed", "webapp", "docker event kill", 39],
      ["runtime-apply", null, "docker event kill", 39],
    ]);
    const drift = routingChanges({
      before: two,
      after: routingOfState(state({ webapp: [["web_1", "c1"]] })),
      excluded: [],
      outcome: runtime,
      causes: causes(),
      confirmedAt: T0 + 30,
    });
    expect(drift[0]).toMatchObject({ kind: "server-removed", server: "web_2", reason: "resync found drift" });
  });

  it("records weight changes, new backends with a reload, and nothing at all when routing did not change", () => {
    const after = routingOfState(
      state({
        webapp: [
          ["web_1", "c1", 50],
          ["web_2", "c2"],
        ],
        api: [["api_1", "c9"]],
      }),
    );
    const records = routingChanges({
      before: two,
      after,
      excluded: [],
      outcome: reloaded,
      causes: causes({ byId: new Map([["c9", [docker("start", T0)]]]), reasons: new Map([["start", T0]]) }),
      confirmedAt: T0 + 300,
    });
    expect(records.map((r) => [r.kind, r.detail])).toEqual([
      ["backend-added", null],
      ["server-added", "10.0.0.2:3000 weight 1"],
      ["weight-changed", "1 → 50"],
      ["reload", "1 added, 0 removed"],
    ]);
    expect(
      routingChanges({ before: two, after: two, excluded: [], outcome: runtime, causes: causes(), confirmedAt: T0 }),
    ).toEqual([]);
  });

  it("reads what a config file routes back (after a restart), equal to the state that rendered it", () => {
    const text = [
      "defaults",
      "  default-server check",
      "backend webapp",
      "  server web_1 10.0.0.2:3000",
      "  server web_2 10.0.0.3:3000",
    ].join("\n");
    const fromFile: Routing = routingOfLines(parseServerLines(text));
    const records = routingChanges({
      before: fromFile,
      after: two,
      excluded: [],
      outcome: runtime,
      causes: causes(),
      confirmedAt: T0,
    });
    expect(records).toEqual([]);
  });
});

/** A change log on a manual clock, fed the way the control loop feeds it. */
function harness(store: JsonLinesChangeFile | null, keep = 1000) {
  let now = T0;
  const clock = { now: () => now } as Clock;
  const log = new ChangeLog(store, clock, silent, { keep, source: "docker" });
  const pass = (st: DesiredState, outcome: ApplyOutcome = runtime, excluded: Exclusion[] = []): void => {
    const result: SyncResult = {
      ok: true,
      at: now,
      outcome,
      state: st,
      excluded,
      awaitingReadiness: 0,
      drainPanic: [],
    };
    now += 20;
    const report: PassReport = {
      result,
      durationS: 0.02,
      reasons: new Map([["start", now - 25]]),
      confirmedAt: now,
      serf: null,
    };
    log.pass(report);
  };
  return { log, pass, tick: (ms: number) => (now += ms) };
}

describe("ChangeLog", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "changes-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("records scale up, the early drain and removal of a stopped container, a bad label and rejections, once each", async () => {
    const { log, pass, tick } = harness(null);
    await log.start(null);
    pass(state({ webapp: [["web_1", "c1"]] })); // the baseline: no "before", nothing recorded
    log.hint({ kind: "created", id: "c2", cause: "create", labels: {}, group: "webapp" });
    // Compose reconnects a new container to set its aliases: not why it is routed.
    log.hint({ kind: "changed", id: "c2", cause: "network-disconnect" });
    log.hint({ kind: "changed", id: "c2", cause: "network-connect" });
    tick(3);
    log.hint({ kind: "started", id: "c2", cause: "start" });
    tick(400);
    log.ready("c2");
    pass(
      state({
        webapp: [
          ["web_1", "c1"],
          ["web_2", "c2"],
        ],
      }),
    );
    tick(1000);
    log.hint({ kind: "leaving", id: "c1", cause: "kill" });
    tick(2);
    log.drained([{ backend: "webapp", server: "web_1" }], { kind: "leaving", id: "c1", cause: "kill" });
    const badLabel: Exclusion = {
      sourceId: "c7",
      name: "web_7",
      reason: "bad-label",
      label: "heig.lb.port",
      detail: "not a port",
    };
    pass(state({ webapp: [["web_2", "c2"]] }), runtime, [
      { sourceId: "c1", name: "web_1", reason: "draining" },
      badLabel,
    ]);
    pass(state({ webapp: [["web_2", "c2"]] }), runtime, [badLabel]); // again: not recorded twice
    // web_1 restarts: its die is not why it comes back, its start is.
    log.hint({ kind: "leaving", id: "c1", cause: "die" });
    log.hint({ kind: "started", id: "c1", cause: "start" });
    log.ready("c1");
    pass(
      state({
        webapp: [
          ["web_1", "c1"],
          ["web_2", "c2"],
        ],
      }),
      runtime,
      [badLabel],
    );
    pass(state({ webapp: [["web_2", "c2"]] }), runtime, [{ sourceId: "c1", name: "web_1", reason: "serf-failed" }]);
    pass(state({ webapp: [["web_2", "c2"]] }), { kind: "rejected", message: "[ALERT] bad", repeated: false });
    pass(state({ webapp: [["web_2", "c2"]] }), { kind: "rejected", message: "[ALERT] bad", repeated: true });
    const records = log.query();
    expect(records.map((r) => [r.seq, r.kind, r.server ?? r.container, r.reason])).toEqual([
      [1, "server-added", "web_2", "docker event start, then readiness probe: listening"],
      [2, "runtime-apply", null, "docker event start, then readiness probe: listening"],
      [3, "server-drained", "web_1", "docker event kill"],
      [4, "label-rejected", "web_7", "labels: bad-label"],
      [5, "server-removed", "web_1", "docker event kill"],
      [6, "runtime-apply", null, "docker event kill"],
      [7, "server-added", "web_1", "docker event start, then readiness probe: listening"],
      [8, "runtime-apply", null, "docker event start, then readiness probe: listening"],
      [9, "server-removed", "web_1", "serf: member-failed"],
      [10, "runtime-apply", null, "serf: member-failed"],
      [11, "config-rejected", null, "haproxy -c rejected the render"],
    ]);
    for (const r of records) expect(r.confirmedAt).not.toBeNull();
    expect(records[0]!.tookMs).toBe(420); // start → confirmed
    expect(records[2]!.tookMs).toBe(2);
    expect(log.query({ container: "web_1" }).map((r) => r.kind)).toEqual([
      "server-drained",
      "server-removed",
      "server-added",
      "server-removed",
    ]);
    expect(log.query({ since: Date.parse(records[4]!.confirmedAt!) }).map((r) => r.seq)).toEqual([
      4, 5, 6, 7, 8, 9, 10, 11,
    ]);
  });

  it("keeps history across a restart, numbering on, and diffs the first pass against the live config", async () => {
    const file = path.join(dir, "changes.jsonl");
    const first = harness(new JsonLinesChangeFile(file, 1 << 20));
    await first.log.start(new Map());
    first.pass(state({ webapp: [["web_1", "c1"]] }));
    await first.log.flushed();
    appendFileSync(file, '{"seq":99,"kind":"server-ad'); // a line cut by a crash
    const second = harness(new JsonLinesChangeFile(file, 1 << 20));
    await second.log.start(routingOfState(state({ webapp: [["web_1", "c1"]] })));
    expect(second.log.query().map((r) => r.seq)).toEqual([1, 2, 3]);
    second.pass(state({ webapp: [] }));
    expect(second.log.query().map((r) => [r.seq, r.kind])).toEqual([
      [1, "backend-added"],
      [2, "server-added"],
      [3, "runtime-apply"],
      [100, "server-removed"],
      [101, "backend-removed"],
      [102, "runtime-apply"],
    ]);
  });

  it("stays bounded after 5,000 records: in memory, on disk, and when read back", async () => {
    const file = path.join(dir, "changes.jsonl");
    const maxBytes = 256 * 1024;
    const { log, pass, tick } = harness(new JsonLinesChangeFile(file, maxBytes), 1000);
    await log.start(new Map());
    // Each pass swaps one server for another: a removal, an addition and the apply, 3 records.
    for (let i = 0; i < 1667; i++) {
      tick(1000);
      pass(state({ webapp: [[`web_${i % 2}`, `c${i}`]] }));
    }
    await log.flushed();
    const kept = log.query();
    expect(kept).toHaveLength(1000);
    expect(kept[999]!.seq).toBeGreaterThanOrEqual(5000);
    expect(kept[0]!.seq).toBe(kept[999]!.seq - 999);
    expect(statSync(file).size).toBeLessThanOrEqual(maxBytes);
    expect(statSync(`${file}.1`).size).toBeLessThanOrEqual(maxBytes);
    // What a restart reads back is the same last 1,000, at most two files' worth.
    const again = new ChangeLog(new JsonLinesChangeFile(file, maxBytes), { now: () => T0 } as Clock, silent, {
      keep: 1000,
      source: "docker",
    });
    await again.start(null);
    expect(again.query().map((r) => r.seq)).toEqual(kept.map((r) => r.seq));
    // What memory holds: those 1,000 records, a few hundred bytes each, however many went by.
    expect(JSON.stringify(kept).length).toBeLessThan(1000 * 600);
  });

  it("keeps recording in memory when the file cannot be written", async () => {
    writeFileSync(path.join(dir, "blocker"), "");
    const { log, pass } = harness(new JsonLinesChangeFile(path.join(dir, "blocker", "changes.jsonl"), 4096));
    await log.start(new Map());
    pass(state({ webapp: [["web_1", "c1"]] }));
    await log.flushed();
    expect(log.query()).toHaveLength(3);
  });
});

describe("timelineSvg (pure)", () => {
  const rec = (
    seq: number,
    kind: ChangeRecord["kind"],
    backend: string | null,
    server: string | null,
    at: number,
  ): ChangeRecord => ({
    seq,
    kind,
    backend,
    server,
    container: server,
    containerId: null,
    detail: null,
    reason: "docker event start",
    cause: docker("start", at - 10),
    triggeredAt: new Date(at - 10).toISOString(),
    confirmedAt: new Date(at).toISOString(),
    tookMs: 10,
    via: "runtime",
  });

  it("draws one lane per backend plus HAProxy's, one mark per record of the window, with its text", () => {
    const now = T0 + 3_600_000;
    const svg = timelineSvg(
      [
        rec(1, "server-added", "webapp", "web_1", T0 - 1000), // before the window
        rec(2, "server-added", "webapp", "web_2", T0 + 60_000),
        rec(3, "server-removed", "api", "api_1", T0 + 120_000),
        rec(4, "reload", null, null, T0 + 120_000),
        rec(5, "config-rejected", null, null, T0 + 180_000),
      ],
      now,
    );
    const lanes = [...svg.matchAll(/<text class="lane"[^>]*>([^<]+)</g)].map((m) => m[1]);
    expect(lanes).toEqual(["HAProxy", "api", "webapp"]);
    const marks = [...svg.matchAll(/data-seq="(\d+)" data-kind="([^"]+)" data-lane="([^"]+)"/g)].map((m) => m.slice(1));
    expect(marks).toEqual([
      ["2", "server-added", "webapp"],
      ["3", "server-removed", "api"],
      ["4", "reload", "HAProxy"],
      ["5", "config-rejected", "HAProxy"],
    ]);
    expect(svg).toContain(`<title>${recordText(rec(2, "server-added", "webapp", "web_2", T0 + 60_000))}</title>`);
    expect(recordText(rec(2, "server-added", "webapp", "web_2", T0 + 60_000))).toBe(
      "#2 14:01:00 server-added webapp/web_2: docker event start; confirmed after 10 ms (runtime)",
    );
  });

  it("says so when nothing changed in the window, and escapes what it prints", () => {
    expect(timelineSvg([], T0)).toContain("no routing change in this window");
    const odd = { ...rec(1, "label-rejected", null, null, T0), container: "<b>", detail: 'a "quoted" & <odd>' };
    const svg = timelineSvg([odd], T0 + 1);
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("&#60;b&#62;");
  });
});

describe("the change file", () => {
  it("rotates past its size into <file>.1 and reads both generations back in order", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "changes-"));
    try {
      const file = new JsonLinesChangeFile(path.join(dir, "c.jsonl"), 4096);
      for (let i = 0; i < 100; i++) await file.append([JSON.stringify({ seq: i, pad: "x".repeat(80) })]);
      const { lines: stored, notes } = await file.load();
      expect(notes).toEqual([]);
      const lines = stored.map((l) => l.text);
      expect(lines.length).toBeGreaterThan(30);
      expect(lines.length).toBeLessThan(100);
      expect(JSON.parse(lines[lines.length - 1]!).seq).toBe(99);
      const seqs = lines.map((l) => JSON.parse(l).seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(readFileSync(path.join(dir, "c.jsonl"), "utf8").length).toBeLessThanOrEqual(4096);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ChangeLog: HAProxy replicas falling behind and catching up", () => {
  it("records a replica going stale, and in sync again after it, with the reason", async () => {
    let now = T0;
    const clock = { now: () => now } as Clock;
    const view = (state: "in-sync" | "stale", reason: string | null) => ({
      replica: "2",
      container: "hs_ha2_1",
      containerId: "c2",
      state,
      reason,
      configId: "abc",
      digest: "d",
      confirmedAt: state === "in-sync" ? now : null,
    });
    let replicas = [view("in-sync", null)];
    const log = new ChangeLog(null, clock, silent, { keep: 100, source: "docker", replicas: () => replicas });
    await log.start(new Map());
    const pass = (): void =>
      log.pass({
        result: {
          ok: true,
          at: now,
          outcome: { kind: "unchanged" },
          state: state({}),
          excluded: [],
          awaitingReadiness: 0,
          drainPanic: [],
        },
        durationS: 0.01,
        reasons: new Map([["resync", now]]),
        confirmedAt: (now += 10),
        serf: null,
      });
    pass();
    // An apply under way is the sidecar's own progress: no record.
    replicas = [view("stale", "being applied")];
    pass();
    replicas = [view("stale", "behind: webapp/x routed, not wanted")];
    pass();
    replicas = [view("in-sync", null)];
    pass();
    expect(log.query()).toEqual([]);
    replicas = [view("stale", "paused")];
    pass();
    pass();
    // Unpaused: behind while the pass brings it back, then in sync: one record for each real change.
    replicas = [view("stale", "behind: webapp/x not routed (missing or in maintenance)")];
    pass();
    replicas = [view("in-sync", null)];
    pass();
    expect(log.query().map((r) => [r.kind, r.container, r.reason, r.detail])).toEqual([
      ["replica-state", "hs_ha2_1", "haproxy replica 2 fell behind: paused", "stale: paused"],
      [
        "replica-state",
        "hs_ha2_1",
        "haproxy replica 2 brought to the desired state after it was stale",
        "in sync again (it was stale: paused)",
      ],
    ]);
  });
});
