import {
  hasPendingStarts,
  leavingChange,
  pendingStartChange,
  pruneLeaving,
  prunePendingStarts,
  type PendingStart,
} from "../../sidecar/model/leaving";
import type { ChangeHint } from "../../sidecar/model/types";

const hint = (kind: Exclude<ChangeHint["kind"], "created">, id = "c1"): ChangeHint => ({ kind, id, cause: kind });
const created = (
  id: string,
  enable = "true",
  extra: Record<string, string> = {},
  group: string | null = "webapp",
): ChangeHint => ({
  kind: "created",
  id,
  cause: "create",
  labels: { "heig.lb.enable": enable, ...extra },
  group,
});
const OPTS = { labelPrefix: "heig.lb", defaultService: "webapp" };

/** A hint's change applied to a copy, as the reconciler applies it to its own set. */
function foldLeaving(draining: ReadonlySet<string>, h: ChangeHint): ReadonlySet<string> {
  const change = leavingChange(draining, h);
  if (change === null) return draining;
  const next = new Set(draining);
  if ("add" in change) next.add(change.add);
  else next.delete(change.remove);
  return next;
}
function foldPendingStart(
  pending: ReadonlyMap<string, PendingStart>,
  h: ChangeHint,
  nowMs: number,
  opts: typeof OPTS,
): ReadonlyMap<string, PendingStart> {
  const change = pendingStartChange(pending, h, nowMs, opts);
  if (change === null) return pending;
  const next = new Map(pending);
  if ("set" in change) next.set(change.set, change.entry);
  else next.delete(change.remove);
  return next;
}

describe("leavingChange", () => {
  const empty: ReadonlySet<string> = new Set();
  it.each([
    ["leaving", true],
    ["started", false],
    ["gone", false],
    ["changed", false],
  ] as const)("%s → draining %s", (kind, expected) => {
    expect(foldLeaving(empty, hint(kind)).has("c1")).toBe(expected);
  });

  it("forgets a leaving backend once started again", () => {
    expect(foldLeaving(foldLeaving(empty, hint("leaving")), hint("started")).has("c1")).toBe(false);
  });

  it("keeps a leaving backend that is gone until a listing no longer shows it running (pruneLeaving)", () => {
    expect(foldLeaving(foldLeaving(empty, hint("leaving")), hint("gone")).has("c1")).toBe(true);
  });

  it("is no change when nothing changes", () => {
    const draining = new Set(["c1"]);
    expect(leavingChange(draining, hint("changed", "c2"))).toBeNull();
    expect(leavingChange(draining, hint("leaving", "c1"))).toBeNull();
  });
});

describe("pruneLeaving", () => {
  it("forgets backends that stopped running", () => {
    expect([...pruneLeaving(new Set(["a", "b"]), new Set(["a"]))]).toEqual(["a"]);
  });
});

describe("pending starts", () => {
  const none = new Set<string>();
  it("counts labelled creations until they start, leave or are gone", () => {
    let p = foldPendingStart(new Map(), created("a"), 0, OPTS);
    p = foldPendingStart(p, created("b"), 0, OPTS);
    p = foldPendingStart(p, created("c", "false"), 0, OPTS);
    p = foldPendingStart(p, created("d"), 0, OPTS);
    p = foldPendingStart(p, created("e", "true", { "heig.lb.port": "oops" }), 0, OPTS);
    expect([...p.keys()]).toEqual(["a", "b", "d"]);
    p = foldPendingStart(p, hint("started", "a"), 10, OPTS);
    p = foldPendingStart(p, hint("gone", "b"), 10, OPTS);
    p = foldPendingStart(p, hint("leaving", "d"), 10, OPTS);
    expect(hasPendingStarts(p, 10, 1000, none)).toBe(false);
  });

  it("waits only for creations that would add a backend: members of existing ones go one by one", () => {
    let p = foldPendingStart(new Map(), created("a"), 0, OPTS);
    p = foldPendingStart(p, created("b", "true", {}, "shop"), 0, OPTS);
    p = foldPendingStart(p, created("c", "true", { "heig.lb.backend": "api" }), 0, OPTS);
    expect([...p.values()].map((x) => x.service)).toEqual(["webapp", "shop", "api"]);
    expect(hasPendingStarts(p, 1, 1000, new Set(["webapp", "shop", "api"]))).toBe(false);
    expect(hasPendingStarts(p, 1, 1000, new Set(["webapp", "shop"]))).toBe(true);
  });

  it("stops waiting for a creation that never starts, and forgets it", () => {
    const p = foldPendingStart(new Map(), created("a"), 0, OPTS);
    expect(hasPendingStarts(p, 999, 1000, none)).toBe(true);
    expect(hasPendingStarts(p, 1000, 1000, none)).toBe(false);
    expect(prunePendingStarts(p, 999, 1000)).toBe(p);
    expect(prunePendingStarts(p, 1000, 1000).size).toBe(0);
  });
});
