import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import pino from "pino";
import type { Applier } from "../../sidecar/apply/applier";
import type { ApplyOutcome } from "../../sidecar/apply/outcome";
import { systemClock, type Clock } from "../../sidecar/lib/clock";
import { serverIdsOf } from "../../sidecar/model/server-ids";
import type { BackendSnapshot, ChangeHint, SerfMember, ServerRef } from "../../sidecar/model/types";
import type { ReadinessProbe } from "../../sidecar/probe/readiness";
import { ReadinessGate } from "../../sidecar/reconcile/readiness-gate";
import { Reconciler } from "../../sidecar/reconcile/reconciler";
import { SerfGate } from "../../sidecar/reconcile/serf-gate";
import type { Rendered } from "../../sidecar/render/render";
import type { ServerLine } from "../../sidecar/render/server-lines";
import { TemplateFile } from "../../sidecar/render/template-file";
import type { BackendSource } from "../../sidecar/source/backend-source";
import { eventually } from "../support/eventually";
import { snap } from "./fixtures";
import { tempDirs } from "../support/temp-dir";

const tempDir = tempDirs("ha-sidecar-");

const TEMPLATE = path.resolve(__dirname, "../../templates/haproxy.cfg.hbs");

const kill = (id: string, signal = "15"): ChangeHint => ({
  kind: signal === "15" || signal === "9" ? "leaving" : "changed",
  id,
  cause: "kill",
});

/**
 * The reconciler around recording fakes. `accepts`: what haproxy -c says of a text (the fake
 * applier rejects a render it refuses, as the real one does).
 */
/** The servers a render routes: its server lines but the `disabled` ones. */
const routedIn = (text: string): string[] =>
  [...text.matchAll(/^\s+server (\S+) .*$/gm)].filter((m) => !/ disabled\b/.test(m[0])).map((m) => m[1]!);

/** A reconciler over recording fakes; each option has the production default when left out. */
function setup({
  templatePath = TEMPLATE,
  serfMembers,
  accepts = () => true,
  drainPanicThreshold = 0,
  maintenance,
  clock = systemClock,
  runtimeApi = true,
}: {
  templatePath?: string;
  serfMembers?: () => SerfMember[];
  /** Whether `haproxy -c` accepts a text. */
  accepts?: (text: string) => boolean;
  drainPanicThreshold?: number;
  maintenance?: () => ReadonlySet<string>;
  clock?: Clock;
  runtimeApi?: boolean;
} = {}) {
  /** Called as each fake does its work (a test's clock moves there). */
  const hooks: { list?: () => void; probe?: () => void; apply?: () => void } = {};
  let listing: BackendSnapshot[] | Error = [];
  let listings = 0;
  const applied: Rendered[] = [];
  const leaving: ServerRef[][] = [];
  const listening = new Map<string, boolean>(); // address → listening; absent = listening
  const logs: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: "debug" },
    {
      write: (line: string) => {
        logs.push(JSON.parse(line));
      },
    },
  );
  const source: BackendSource = {
    list: async () => {
      listings++;
      hooks.list?.();
      if (listing instanceof Error) throw listing;
      return listing;
    },
    watch: () => undefined,
  };
  const applier = {
    apply: async (r: Rendered, l: ServerRef[]): Promise<ApplyOutcome> => {
      hooks.apply?.();
      if (!accepts(r.text)) return { kind: "rejected", message: "[ALERT] refused", repeated: false };
      applied.push(r);
      leaving.push(l);
      return { kind: "unchanged" };
    },
    listReplicas: async () => [],
    // As the real one: the ids of what it was last given to apply.
    runningIds: async () => serverIdsOf(applied.at(-1)?.servers.values() ?? []),
  } as unknown as Applier;
  const probed: string[] = [];
  const probe: ReadinessProbe = {
    isListening: async (address: string) => {
      probed.push(address);
      hooks.probe?.();
      return listening.get(address) ?? true;
    },
  };
  const serf =
    serfMembers === undefined
      ? null
      : new SerfGate(
          {
            graceMs: 60_000,
            memberTag: { key: "role", value: "webapp" },
            panicThreshold: 0,
            source: { members: async () => serfMembers(), stream: async () => undefined },
          },
          systemClock,
          log,
        );
  const readiness = new ReadinessGate(probe, systemClock, { pollMs: 10, patienceMs: 60_000 });
  const ready: string[] = [];
  readiness.onReady((id) => ready.push(id));
  const reconciler = new Reconciler(
    {
      source,
      template: new TemplateFile(templatePath, { runtimeSocket: "/s", serverStateFile: "/f" }),
      applier,
      check: async (text: string) => accepts(text),
      readiness,
      serf,
      clock,
      log,
      ...(maintenance === undefined ? {} : { maintenance }),
    },
    { labelPrefix: "heig.lb", defaultBackend: "webapp", drainPanicThreshold, runtimeApi },
  );
  return {
    reconciler,
    hooks,
    readiness,
    ready,
    probed,
    serf,
    applied,
    leaving,
    listening,
    logs,
    setListing: (l: BackendSnapshot[] | Error) => {
      listing = l;
    },
    listings: () => listings,
  };
}

describe("Reconciler", () => {
  it("renders the listing and applies it", async () => {
    const { reconciler, applied, setListing } = setup();
    setListing([snap("compose_webapp_1")]);
    const r = await reconciler.sync();
    expect(r.ok).toBe(true);
    expect(applied).toHaveLength(1);
    expect(applied[0]!.text).toMatch(/^ {4}server compose_webapp_1 172.18.0.11:3000 id \d+ check$/m);
  });

  it("says where the pass spent its time: listing, gates, render, apply", async () => {
    let now = 1_000_000;
    const clock: Clock = { ...systemClock, now: () => now };
    const { reconciler, hooks, setListing } = setup({ clock });
    hooks.list = () => (now += 40);
    hooks.probe = () => (now += 3);
    hooks.apply = () => (now += 7);
    setListing([snap("compose_webapp_1")]);
    const r = await reconciler.sync();
    expect(r.ok && r.stagesMs).toEqual({ list: 40, gates: 3, render: 0, apply: 7 });
    // Each pass counts its own time only.
    hooks.probe = undefined; // known to listen: not probed again
    const again = await reconciler.sync();
    expect(again.ok && again.stagesMs).toEqual({ list: 40, gates: 0, render: 0, apply: 7 });
  });

  it("keeps a running server's id when a newcomer asks for the same one (the runtime API cannot renumber it)", async () => {
    const { reconciler, applied, setListing } = setup();
    // Both names ask for id 145357 (test/unit/server-ids.test.ts); web_1076 sorts first.
    const running = snap("web_1274", { address: "172.18.0.20" });
    setListing([running]);
    await reconciler.sync();
    expect(applied.at(-1)!.text).toMatch(/^ {4}server web_1274 172.18.0.20:3000 id 145357 check$/m);
    setListing([snap("web_1076", { address: "172.18.0.21" }), running]);
    await reconciler.sync();
    expect(applied.at(-1)!.text).toMatch(/^ {4}server web_1274 172.18.0.20:3000 id 145357 check$/m);
    expect(applied.at(-1)!.text).toMatch(/^ {4}server web_1076 172.18.0.21:3000 id 145358 check$/m);
  });

  it("applies nothing when the listing fails, and asks for a retry", async () => {
    const { reconciler, applied, setListing } = setup();
    setListing(new Error("connect ECONNREFUSED /var/run/docker.sock"));
    await expect(reconciler.sync()).resolves.toMatchObject({
      ok: false,
      stage: "list",
      retry: true,
      error: expect.objectContaining({ message: expect.stringContaining("ECONNREFUSED") }),
    });
    expect(applied).toEqual([]);
  });

  it("takes a container out on a terminating kill event, before Docker lists it as stopped", async () => {
    const { reconciler, applied, setListing } = setup();
    const leaving = snap("compose_webapp_2");
    setListing([snap("compose_webapp_1"), leaving]);
    reconciler.observe(kill(leaving.id));
    await reconciler.sync();
    expect(applied[0]!.text).not.toContain("compose_webapp_2");
    expect(applied[0]!.text).toContain("compose_webapp_1");
  });

  it("takes a container out on a kill event that comes while the gates probe a newcomer", async () => {
    const { reconciler, applied, hooks, setListing } = setup();
    const leaving = snap("compose_webapp_2");
    setListing([snap("compose_webapp_1"), leaving]);
    await reconciler.sync();
    expect(applied.at(-1)!.text).toContain("compose_webapp_2");
    setListing([snap("compose_webapp_1"), leaving, snap("compose_webapp_3")]);
    hooks.probe = () => {
      hooks.probe = undefined;
      reconciler.observe(kill(leaving.id));
    };
    const r = await reconciler.sync();
    expect(r.ok && r.state.services[0]!.servers.map((b) => b.name)).toEqual(["compose_webapp_1", "compose_webapp_3"]);
    expect(applied.at(-1)!.text).not.toContain("compose_webapp_2");
  });

  it("keeps a container out that a gate took out, and routes the rest", async () => {
    const { reconciler, applied, listening, setListing } = setup();
    setListing([snap("compose_webapp_1"), snap("compose_webapp_2", { address: "172.18.0.12" })]);
    listening.set("172.18.0.12", false);
    const r = await reconciler.sync();
    expect(r.ok && r.state.services[0]!.servers.map((b) => b.name)).toEqual(["compose_webapp_1"]);
    expect(r.ok && r.excluded.map((e) => [e.name, e.reason])).toEqual([["compose_webapp_2", "not-listening"]]);
    // Held until it listens: its line is there ahead of time, in maintenance, routed nothing.
    expect(routedIn(applied.at(-1)!.text)).toEqual(["compose_webapp_1"]);
    expect(applied.at(-1)!.text).toMatch(/server compose_webapp_2 172\.18\.0\.12:3000 id \d+ check disabled$/m);
  });

  it("keeps a stopped container out when its removal comes while a listing that still shows it is under way", async () => {
    const { reconciler, applied, setListing } = setup();
    const leaving = snap("compose_webapp_2");
    setListing([snap("compose_webapp_1"), leaving]);
    reconciler.observe(kill(leaving.id));
    await reconciler.sync();
    // The next pass lists while the container dies and is removed (compose's scale down).
    const pass = reconciler.sync();
    reconciler.observe({ kind: "leaving", id: leaving.id, cause: "die" });
    reconciler.observe({ kind: "gone", id: leaving.id, cause: "destroy" });
    await pass;
    expect(applied[1]!.text).not.toContain("compose_webapp_2");
    // Once a listing no longer shows it, it is forgotten.
    setListing([snap("compose_webapp_1")]);
    await reconciler.sync();
    expect(applied[2]!.text).not.toContain("compose_webapp_2");
  });

  it("keeps the last good config on a template error, logs it once, and does not retry", async () => {
    const dir = tempDir();
    const tpl = path.join(dir, "t.hbs");
    writeFileSync(tpl, "global\n{{#each services}}\n");
    const { reconciler, applied, logs } = setup({ templatePath: tpl });
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: false, stage: "template", retry: false });
    await reconciler.sync();
    expect(applied).toEqual([]);
    expect(logs.filter((l) => l["msg"] === "template error, keeping the last good config")).toHaveLength(1);
  });

  it("refuses a template without the description line it needs to confirm reloads", async () => {
    const dir = tempDir();
    const tpl = path.join(dir, "t.hbs");
    writeFileSync(tpl, "global\n    maxconn 10\n");
    const { reconciler, applied } = setup({ templatePath: tpl });
    await expect(reconciler.sync()).resolves.toMatchObject({
      ok: false,
      stage: "template",
      error: expect.objectContaining({ message: expect.stringContaining("description ha-sidecar-") }),
    });
    expect(applied).toEqual([]);
  });

  it("warns once per container and label about a bad label, and keeps routing the others", async () => {
    const { reconciler, applied, logs, setListing } = setup();
    setListing([snap("good_1"), snap("evil_2", { extraLabels: { "heig.lb.weight": "1\n  server x 10.0.0.1:80" } })]);
    await reconciler.sync();
    await reconciler.sync();
    const warnings = logs.filter((l) => l["msg"] === "container skipped: bad label");
    expect(warnings).toEqual([expect.objectContaining({ level: 40, container: "evil_2", label: "heig.lb.weight" })]);
    expect(applied[1]!.text).toContain("server good_1 ");
    expect(applied[1]!.text).not.toContain("10.0.0.1");
  });

  it("routes a container without HEALTHCHECK only once its port accepts connections, and asks to look again", async () => {
    const { reconciler, applied, listening, setListing } = setup();
    const fresh = snap("compose_webapp_2");
    setListing([snap("compose_webapp_1"), fresh]);
    listening.set(fresh.address!, false);
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: true, awaitingReadiness: 1 });
    expect(routedIn(applied[0]!.text)).toEqual(["compose_webapp_1"]);
    expect(applied[0]!.held).toEqual(new Set(["webapp/compose_webapp_2"]));
    listening.set(fresh.address!, true);
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: true, awaitingReadiness: 0 });
    expect(routedIn(applied[1]!.text)).toEqual(["compose_webapp_1", "compose_webapp_2"]);
    expect(applied[1]!.held).toBeUndefined();
    // Once ready, HAProxy's own checks take over: no probe decides any more.
    listening.set(fresh.address!, false);
    await reconciler.sync();
    expect(routedIn(applied[2]!.text)).toEqual(["compose_webapp_1", "compose_webapp_2"]);
  });

  it("holds a container that does not listen yet with the id it will route under, and hands its line over the moment it does", async () => {
    const { reconciler, applied, listening, setListing } = setup();
    const fresh = snap("compose_webapp_2");
    setListing([snap("compose_webapp_1"), fresh]);
    listening.set(fresh.address!, false);
    expect(reconciler.readied(fresh.id)).toEqual([]); // nothing applied yet
    await reconciler.sync();
    const held = applied[0]!.servers.get("webapp/compose_webapp_2")!;
    expect(held.options).toContain("disabled");
    // The readiness watch says it listens: its held line, once; a kill from then on drains it early.
    expect(reconciler.readied(fresh.id)).toEqual([held]);
    expect(reconciler.readied(fresh.id)).toEqual([]);
    expect(reconciler.observe(kill(fresh.id))).toEqual([{ backend: "webapp", server: "compose_webapp_2" }]);
    reconciler.observe({ kind: "started", id: fresh.id, cause: "start" });
    listening.set(fresh.address!, true);
    await reconciler.sync();
    const routed = applied[1]!.servers.get("webapp/compose_webapp_2")!;
    expect(routed.id).toBe(held.id);
    expect(routed.options).not.toContain("disabled");
    // The only change between the two renders is that line: no reload.
    expect(applied[1]!.configId).toBe(applied[0]!.configId);
  });

  it("readies after the pass a container that began to listen while that pass put it in HAProxy, held", async () => {
    const { reconciler, applied, listening, setListing, hooks } = setup();
    const fresh = snap("compose_webapp_2");
    setListing([snap("compose_webapp_1"), fresh]);
    listening.set(fresh.address!, false);
    const asked: ServerLine[][] = [];
    // The readiness watch sees it listen while the pass applies.
    hooks.apply = () => asked.push(reconciler.readied(fresh.id));
    await reconciler.sync();
    expect(asked).toEqual([[]]);
    expect(reconciler.takeLateReadies()).toEqual([applied[0]!.servers.get("webapp/compose_webapp_2")]);
    expect(reconciler.takeLateReadies()).toEqual([]);
  });

  it("readies nothing of a held container that is stopping, or that an operator put in maintenance since", async () => {
    const maint = new Set<string>();
    const { reconciler, listening, setListing } = setup({ maintenance: () => maint });
    const [a, b] = [snap("compose_webapp_2"), snap("compose_webapp_3")];
    setListing([snap("compose_webapp_1"), a, b]);
    listening.set(a.address!, false);
    listening.set(b.address!, false);
    await reconciler.sync();
    reconciler.observe(kill(a.id));
    expect(reconciler.readied(a.id)).toEqual([]);
    maint.add("compose_webapp_3");
    expect(reconciler.readied(b.id)).toEqual([]);
  });

  it("does not hold a container an operator put in maintenance, nor anything without the runtime API", async () => {
    const maint = setup({ maintenance: () => new Set(["compose_webapp_2"]) });
    maint.setListing([snap("compose_webapp_1"), snap("compose_webapp_2")]);
    maint.listening.set(snap("compose_webapp_2").address!, false);
    await maint.reconciler.sync();
    expect(maint.applied[0]!.text).not.toContain("compose_webapp_2");
    expect(maint.applied[0]!.held).toBeUndefined();
    const reloads = setup({ runtimeApi: false });
    reloads.setListing([snap("compose_webapp_1"), snap("compose_webapp_2")]);
    reloads.listening.set(snap("compose_webapp_2").address!, false);
    await reloads.reconciler.sync();
    expect(reloads.applied[0]!.text).not.toContain("compose_webapp_2");
  });

  it("leaves readiness of containers with a HEALTHCHECK to Docker", async () => {
    const { reconciler, applied, listening, setListing } = setup();
    const c = snap("compose_webapp_1", { health: "healthy" });
    listening.set(c.address!, false);
    setListing([c]);
    await reconciler.sync();
    expect(applied[0]!.text).toContain("server compose_webapp_1 ");
  });

  it("tells the applier which servers a change removes", async () => {
    const { reconciler, leaving, setListing } = setup();
    setListing([snap("compose_webapp_1"), snap("compose_webapp_2")]);
    await reconciler.sync();
    setListing([snap("compose_webapp_1")]);
    await reconciler.sync();
    expect(leaving).toEqual([[], [{ backend: "webapp", server: "compose_webapp_2" }]]);
  });

  it("watches a backend that does not listen yet, says when it does, and stops watching one that left", async () => {
    const { reconciler, readiness, ready, listening, setListing } = setup();
    const slow = snap("compose_webapp_3");
    const gone = snap("compose_webapp_4");
    setListing([slow, gone]);
    listening.set(slow.address!, false);
    listening.set(gone.address!, false);
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: true, awaitingReadiness: 2 });
    setListing([slow]);
    await reconciler.sync();
    listening.set(gone.address!, true);
    listening.set(slow.address!, true);
    await eventually(() => expect(ready).toEqual([slow.id]), 10_000, 10);
    readiness.stop();
  });

  it("stops watching a backend at its kill hint, before any pass: its address may be another's next", async () => {
    const { reconciler, readiness, ready, probed, listening, setListing } = setup();
    const slow = snap("compose_webapp_3");
    const killed = snap("compose_webapp_4", { address: "172.18.0.14" });
    setListing([slow, killed]);
    listening.set(slow.address!, false);
    listening.set(killed.address!, false);
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: true, awaitingReadiness: 2 });
    await eventually(() => expect(probed.filter((a) => a === killed.address).length).toBeGreaterThan(1), 10_000, 5);
    reconciler.observe(kill(killed.id));
    // A newcomer may take the killed one's address and listen there: not this one's ready.
    listening.set(killed.address!, true);
    const from = probed.length;
    // Three more rounds of the slow one's watch, which polls as the killed one's did.
    await eventually(
      () => expect(probed.slice(from).filter((a) => a === slow.address).length).toBeGreaterThan(2),
      10_000,
      5,
    );
    expect(probed.slice(from)).not.toContain(killed.address);
    listening.set(slow.address!, true);
    await eventually(() => expect(ready).toEqual([slow.id]), 10_000, 10);
    expect(reconciler.readied(killed.id)).toEqual([]);
    readiness.stop();
  });

  it("takes a backend whose Serf member failed out of rotation, and says why", async () => {
    const a = snap("compose_webapp_1");
    const b = snap("compose_webapp_2");
    let members: SerfMember[] = [
      { name: "x", address: a.address!, status: "alive", tags: { role: "webapp" } },
      { name: "y", address: b.address!, status: "failed", tags: { role: "webapp" } },
    ];
    const { reconciler, serf, applied, setListing } = setup({ serfMembers: () => members });
    setListing([a, b]);
    const r = await reconciler.sync();
    expect(applied[0]!.text).not.toContain("compose_webapp_2");
    expect(r.ok && r.excluded).toEqual([expect.objectContaining({ name: "compose_webapp_2", reason: "serf-failed" })]);
    expect(serf!.view).toMatchObject({ reachable: true, liveness: { [a.id]: "alive", [b.id]: "failed" } });
    members = members.map((m) => ({ ...m, status: "alive" }));
    await reconciler.sync();
    expect(applied[1]!.text).toContain("server compose_webapp_2 ");
  });

  it("routes on Docker's view alone when Serf is unreachable, and says so once", async () => {
    const { reconciler, serf, applied, logs, setListing } = setup({
      serfMembers: () => {
        throw new Error("connect ECONNREFUSED serf:7373");
      },
    });
    setListing([snap("compose_webapp_1")]);
    await reconciler.sync();
    await reconciler.sync();
    expect(applied[1]!.text).toContain("server compose_webapp_1 ");
    expect(logs.filter((l) => l["msg"] === "serf unreachable, routing on Docker's view alone")).toHaveLength(1);
    expect(serf!.view).toMatchObject({ reachable: false });
  });

  it("names the routed servers that a kill event starts draining, for the runtime fast path", async () => {
    const { reconciler, setListing } = setup();
    const a = snap("compose_webapp_1");
    const b = snap("compose_webapp_2");
    setListing([a, b]);
    await reconciler.sync();
    expect(reconciler.observe(kill(b.id, "1"))).toEqual([]);
    expect(reconciler.observe(kill(b.id, "15"))).toEqual([{ backend: "webapp", server: "compose_webapp_2" }]);
    expect(reconciler.observe({ kind: "leaving", id: b.id, cause: "stop" })).toEqual([]);
  });

  it("reuses the last listing for a pass only readiness asked for, until a hint or the max age", async () => {
    const { reconciler, listings, setListing } = setup();
    setListing([snap("compose_webapp_1")]);
    await reconciler.sync();
    await reconciler.sync(false);
    expect(listings()).toBe(1);
    reconciler.observe({ kind: "changed", id: "x", cause: "start" });
    await reconciler.sync(false);
    expect(listings()).toBe(2);
    await reconciler.sync(true);
    expect(listings()).toBe(3);
  });

  it("narrows a rejected render down to the member at fault, routes everyone else, and reports it", async () => {
    const dir = tempDir();
    const tpl = path.join(dir, "t.hbs");
    // A template that gives weighted members an option HAProxy refuses.
    writeFileSync(
      tpl,
      readFileSync(TEMPLATE, "utf8").replace(
        "check{{#if weight",
        "check{{#if weight}} slowstart {{weight}}x{{/if}}{{#if weight",
      ),
    );
    const { reconciler, applied, setListing, logs } = setup({
      templatePath: tpl,
      accepts: (text) => !/slowstart/.test(text),
    });
    const poison = snap("poison_9", { extraLabels: { "heig.lb.weight": "5" } });
    setListing([snap("compose_webapp_1"), snap("compose_webapp_2"), poison, snap("compose_webapp_3")]);
    const r = await reconciler.sync();
    expect(r).toMatchObject({ ok: true, outcome: { kind: "unchanged" } });
    expect(r.ok && r.excluded).toEqual([
      expect.objectContaining({ name: "poison_9", reason: "config-rejected", detail: "[ALERT] refused" }),
    ]);
    expect(applied.at(-1)!.text).toContain("server compose_webapp_3 ");
    expect(applied.at(-1)!.text).not.toContain("poison_9");
    expect(
      logs.filter((l) => l["msg"] === "haproxy rejects these containers' server lines: routing everyone else"),
    ).toEqual([expect.objectContaining({ containers: ["poison_9"] })]);
    // It stays out while it stays the same; changed, it is tried again.
    await reconciler.sync();
    expect(applied.at(-1)!.text).not.toContain("poison_9");
    setListing([snap("compose_webapp_1"), snap("poison_9")]);
    await reconciler.sync();
    expect(applied.at(-1)!.text).toContain("server poison_9 ");
  });

  it("skips a container whose backend name the template uses for itself", async () => {
    const { reconciler, applied, setListing } = setup();
    setListing([snap("compose_webapp_1"), snap("bad_2", { extraLabels: { "heig.lb.backend": "stats" } })]);
    const r = await reconciler.sync();
    expect(r.ok && r.excluded).toEqual([expect.objectContaining({ name: "bad_2", reason: "reserved-name" })]);
    expect(applied[0]!.text).not.toContain("bad_2");
  });

  it("never empties a backend when every old container leaves before its replacement listens (a rolling update)", async () => {
    const { reconciler, applied, listening, setListing, logs } = setup({ drainPanicThreshold: 0.5 });
    const old = ["heig_webapp_1", "heig_webapp_2", "heig_webapp_3"].map((n) => snap(n));
    setListing(old);
    await reconciler.sync();
    // Swarm starts the replacements (running, not listening yet) and shuts the old ones down.
    const fresh = ["heig_webapp_4", "heig_webapp_5", "heig_webapp_6"].map((n) => snap(n));
    for (const f of fresh) listening.set(f.address!, false);
    setListing([...old, ...fresh]);
    // The first two leave rotation at once (no pass has seen a replacement yet); the last would
    // leave none: the pass decides, and it sees the replacements on their way.
    expect(reconciler.observe(kill(old[0]!.id))).toEqual([{ backend: "webapp", server: "heig_webapp_1" }]);
    expect(reconciler.observe(kill(old[1]!.id))).toEqual([{ backend: "webapp", server: "heig_webapp_2" }]);
    expect(reconciler.observe(kill(old[2]!.id))).toEqual([]);
    const panicked = await reconciler.sync();
    expect(panicked.ok && panicked.drainPanic).toEqual(["webapp"]);
    const routed = routedIn;
    expect(routed(applied.at(-1)!.text)).toEqual(["heig_webapp_1", "heig_webapp_2", "heig_webapp_3"]);
    expect(
      logs.filter((l) => l["msg"]?.toString().startsWith("draining the leaving servers would leave")),
    ).toHaveLength(1);
    // One replacement listens: 1 of the 4 that can serve is too few, the old ones still run along.
    listening.set(fresh[0]!.address!, true);
    await reconciler.sync();
    expect(routed(applied.at(-1)!.text)).toEqual(["heig_webapp_1", "heig_webapp_2", "heig_webapp_3", "heig_webapp_4"]);
    // Two listen: 2 of the 5 that can serve is still under half; three is half: drained.
    listening.set(fresh[1]!.address!, true);
    await reconciler.sync();
    expect(routed(applied.at(-1)!.text)).toHaveLength(5);
    listening.set(fresh[2]!.address!, true);
    const over = await reconciler.sync();
    expect(routed(applied.at(-1)!.text)).toEqual(["heig_webapp_4", "heig_webapp_5", "heig_webapp_6"]);
    expect(over.ok && over.drainPanic).toEqual([]);
    expect(logs.some((l) => l["msg"] === "drain panic over: leaving servers are drained again")).toBe(true);
  });

  it("drops a leaving server kept in panic once its container stops", async () => {
    const { reconciler, applied, setListing } = setup({ drainPanicThreshold: 0.5 });
    const only = snap("heig_webapp_1");
    setListing([only]);
    await reconciler.sync();
    expect(reconciler.observe(kill(only.id))).toEqual([]);
    await reconciler.sync();
    expect(applied.at(-1)!.text).toContain("server heig_webapp_1 ");
    setListing([{ ...only, running: false }]);
    await reconciler.sync();
    expect(applied.at(-1)!.text).not.toContain("server heig_webapp_1 ");
  });
});

describe("Reconciler: traffic lifecycle", () => {
  it("keeps a container in maintenance in the config, disabled, from the next pass on", async () => {
    let names = new Set<string>();
    const { reconciler, applied, setListing } = setup({ maintenance: () => names });
    setListing([snap("c_1"), snap("c_2")]);
    await reconciler.sync();
    expect(applied[0]!.text).toMatch(/^ {4}server c_1 \S+ id \d+ check$/m);
    names = new Set(["c_1"]);
    await reconciler.sync();
    expect(applied[1]!.text).toMatch(/^ {4}server c_1 \S+ id \d+ check disabled$/m);
    expect(applied[1]!.text).toMatch(/^ {4}server c_2 \S+ id \d+ check$/m);
  });

  it("hands the render the drain time of each server it drops (heig.lb.drain)", async () => {
    const { reconciler, applied, leaving, setListing } = setup();
    setListing([snap("c_1", { extraLabels: { "heig.lb.drain": "2m" } }), snap("c_2")]);
    await reconciler.sync();
    expect(applied[0]!.drainMs).toEqual(new Map([["webapp/c_1", 120_000]]));
    setListing([snap("c_2")]);
    await reconciler.sync();
    expect(leaving[1]).toEqual([{ backend: "webapp", server: "c_1" }]);
    expect(applied[1]!.drainMs).toEqual(new Map([["webapp/c_1", 120_000]]));
  });
});
