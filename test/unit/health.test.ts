import { health } from "../../sidecar/status/health";
import type { LoopView, SyncResult } from "../../sidecar/reconcile/types";

const NOW = 1_000_000;
const pass = (over: Partial<Extract<SyncResult, { ok: true }>> = {}): SyncResult => ({
  ok: true,
  at: NOW - 1000,
  outcome: { kind: "unchanged" },
  state: { defaultService: "webapp", services: [] },
  excluded: [],
  awaitingReadiness: 0,
  drainPanic: [],
  ...over,
});
const view = (over: Partial<LoopView> = {}): LoopView => ({
  eventsConnected: true,
  last: pass(),
  lastReload: null,
  lastRuntime: null,
  lastRejected: null,
  lastPassMs: null,
  serf: null,
  ...over,
});

describe("health", () => {
  it.each<[string, LoopView, string[]]>([
    ["all well", view(), []],
    ["the event stream is down", view({ eventsConnected: false }), ["docker event stream disconnected"]],
    ["no pass yet", view({ last: null }), ["no reconcile pass yet"]],
    [
      "the last pass is too old",
      view({ last: pass({ at: NOW - 61_000 }) }),
      ["last reconcile pass 61 s ago (more than 60 s)"],
    ],
    [
      "the last pass failed",
      view({
        last: {
          ok: false,
          at: NOW,
          stage: "list",
          error: new Error("docker: list containers: no answer within 5000 ms"),
          retry: true,
        },
      }),
      ["last reconcile pass failed (list): docker: list containers: no answer within 5000 ms"],
    ],
    [
      "the template does not render",
      view({ last: { ok: false, at: NOW, stage: "template", error: new Error("bad {{"), retry: false } }),
      ["template error: bad {{"],
    ],
    [
      "haproxy rejected the config",
      view({ last: pass({ outcome: { kind: "rejected", message: "[ALERT] x", repeated: true } }) }),
      ["haproxy rejected the config, the last good one is still served: [ALERT] x"],
    ],
    [
      "no haproxy runs",
      view({ last: pass({ outcome: { kind: "no-haproxy", written: true } }) }),
      ["no haproxy of this stack runs: the config is written, nothing serves it"],
    ],
  ])("%s", (_what, v, reasons) => {
    expect(health(v, NOW, 60_000)).toEqual({ ok: reasons.length === 0, reasons });
  });
});
