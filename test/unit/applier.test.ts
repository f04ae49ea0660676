import { ApplyError } from "../../sidecar/apply/outcome";
import type { ValidationResult } from "../../sidecar/apply/haproxy-check";
import type { RuntimeClient } from "../../sidecar/haproxy/runtime-client";
import type { ServerRef } from "../../sidecar/model/types";
import { sha256Hex, type Rendered } from "../../sidecar/render/render";
import { parseServerLines } from "../../sidecar/render/server-lines";
import { fleetOf, rendered, steppingClock } from "./haproxy-replicas-fake";

/**
 * The volume and one running HAProxy (today's single `ha`, unlabelled), recording every call,
 * behind the fleet as production wires it. `w` reads and sets them as these tests always did.
 */
function setup(opts: { runtimeApi?: boolean } = {}) {
  const clock = steppingClock();
  const f = fleetOf({ replicas: 1, clock, ...opts });
  const ha = f.replica(1);
  const w = {
    get calls(): string[] {
      return f.calls;
    },
    set calls(calls: string[]) {
      f.calls.splice(0, f.calls.length, ...calls);
    },
    get live(): string | null {
      return f.volume.live;
    },
    set live(text: string | null) {
      f.volume.live = text;
    },
    set verdict(v: ValidationResult) {
      f.volume.verdict = v;
    },
    set stage(fn: (text: string) => Promise<string>) {
      f.volume.stage = fn;
    },
    get servers() {
      return ha.servers;
    },
    set swallowSignals(n: number) {
      ha.swallowSignals = n;
    },
    /** False: no HAProxy container of this stack. */
    set container(on: boolean) {
      if (!on) f.replicas.delete(1);
    },
    set refuse(re: RegExp | null) {
      ha.refuse = re;
    },
    get runtime(): RuntimeClient {
      return ha.runtime;
    },
    /** What a SIGUSR2 does: load the live file. */
    reload: () => ha.load(),
  };
  return {
    w,
    rejectedInBackground: f.rejectedInBackground,
    idle: f.idle,
    apply: (r: Rendered, leaving: ServerRef[] = []) => f.apply(r, leaving),
    advance: (ms: number) => clock.advance(ms),
    fleet: f.fleet,
    applier: f.applier,
  };
}

/** A world already running structure "s1" with servers a and b, from a first apply. */
async function running() {
  const s = setup();
  await s.apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]));
  await s.idle();
  s.w.calls = [];
  return s;
}

describe("Applier: reloads for structure", () => {
  it("stages, validates, commits, then signals and waits for HAProxy to confirm", async () => {
    const { w, apply } = setup();
    await expect(apply(rendered("a"))).resolves.toEqual({
      kind: "reloaded",
      written: true,
      signals: 1,
      fallback: null,
    });
    expect(w.calls).toEqual(["read", "stage", "validate", "save-state", "commit", "signal"]);
  });

  it("seeds from the file on disk: a restarted sidecar neither rewrites nor reloads", async () => {
    const { w, apply } = setup();
    const r = rendered("s1", ["a 10.0.0.1:3000"]);
    w.live = r.text;
    w.reload();
    w.calls = [];
    await expect(apply(r)).resolves.toEqual({ kind: "unchanged" });
    expect(w.calls).toEqual(["read"]);
  });

  it("keeps the live file and does not reload when haproxy rejects the config, and does not retry it", async () => {
    const { w, apply } = await running();
    const good = w.live;
    w.verdict = { ok: false, message: "[ALERT] parsing [x:3]: unknown keyword 'bogus'" };
    await expect(apply(rendered("s2"))).resolves.toEqual({
      kind: "rejected",
      message: expect.stringContaining("bogus"),
      repeated: false,
    });
    expect(w.calls).toEqual(["stage", "validate", "discard"]);
    expect(w.live).toBe(good);
    w.calls = [];
    await expect(apply(rendered("s2"))).resolves.toMatchObject({ kind: "rejected", repeated: true });
    expect(w.calls).toEqual([]);
    w.verdict = { ok: true };
    await expect(apply(rendered("s3"))).resolves.toMatchObject({ kind: "reloaded" });
  });

  it("drains leaving servers in every worker after validation and before the new structure goes live", async () => {
    const { w, apply } = await running();
    await apply(rendered("s2", ["a 10.0.0.1:3000"]), [{ backend: "webapp", server: "b" }]);
    expect(w.calls).toEqual(["stage", "validate", "drain webapp/b", "save-state", "commit", "signal"]);
  });

  it("signals again when HAProxy swallowed the reload signal, and fails (to be retried) when it never confirms", async () => {
    const { w, apply } = setup();
    w.swallowSignals = 2;
    await expect(apply(rendered("a"))).resolves.toMatchObject({ kind: "reloaded", signals: 3 });
    w.swallowSignals = 3;
    await expect(apply(rendered("b"))).rejects.toBeInstanceOf(ApplyError);
    w.calls = [];
    await expect(apply(rendered("b"))).resolves.toMatchObject({ kind: "reloaded", written: false, signals: 1 });
    // The file is as it was; the state HAProxy runs now is saved for its next worker all the same.
    expect(w.calls).toEqual(["save-state", "signal"]);
  });

  it("writes the file and reports no-haproxy when no HAProxy runs", async () => {
    const { w, apply } = setup();
    w.container = false;
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "no-haproxy", written: true });
  });

  it("surfaces a failed write as an error and leaves the live file", async () => {
    const { w, apply } = await running();
    const good = w.live;
    w.stage = async () => {
      throw new Error("ENOSPC: no space left on device");
    };
    await expect(apply(rendered("s2"))).rejects.toThrow(/ENOSPC/);
    expect(w.live).toBe(good);
  });
});

describe("Applier: membership through the runtime API, no reload", () => {
  it("adds a server with the template's options, checks on, enabled, then writes the validated file in the background", async () => {
    const { w, apply, idle } = await running();
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000 5"]);
    await expect(apply(next)).resolves.toEqual({
      kind: "runtime",
      written: true,
      result: { added: ["webapp/c"], changed: [], removed: [], pendingDeletes: [] },
    });
    await idle();
    expect(w.calls).toEqual([
      "add server webapp/c 10.0.0.3:3000 inter 1s check weight 5",
      "enable health webapp/c",
      "enable server webapp/c",
      "stage",
      "validate",
      "commit",
    ]);
    expect(w.live).toBe(next.text);
  });

  it("drains a server that leaves, then deletes it; one with connections is deleted later, or shut after the grace", async () => {
    const { w, apply, advance, idle } = await running();
    w.servers.get("webapp/b")!.conns = 2;
    await expect(apply(rendered("s1", ["a 10.0.0.1:3000"]))).resolves.toMatchObject({
      kind: "runtime",
      result: { removed: [], pendingDeletes: ["webapp/b"] },
    });
    expect(w.calls.slice(0, 2)).toEqual(["drain webapp/b", "del server webapp/b"]);
    await idle();
    w.calls = [];
    advance(5000);
    await expect(apply(rendered("s1", ["a 10.0.0.1:3000"]))).resolves.toMatchObject({
      result: { removed: ["webapp/b"] },
    });
    expect(w.calls).toEqual(["shutdown sessions server webapp/b", "del server webapp/b"]);
  });

  it("keeps a leaver's connections for its own drain time (heig.lb.drain) before it shuts them", async () => {
    const { w, apply, advance } = setup();
    await apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]));
    w.servers.get("webapp/b")!.conns = 3;
    // b carried heig.lb.drain=60s: the render that drops it says so (the reconciler adds the
    // leavers' drain times); later passes say nothing more. The default here is 5 s.
    const onlyA = rendered("s1", ["a 10.0.0.1:3000"]);
    await expect(apply({ ...onlyA, drainMs: new Map([["webapp/b", 60_000]]) })).resolves.toMatchObject({
      result: { pendingDeletes: ["webapp/b"] },
    });
    expect(w.servers.get("webapp/b")).toMatchObject({ maint: true, conns: 3 });
    for (const ms of [5_000, 30_000, 24_999]) {
      advance(ms);
      w.calls = [];
      await expect(apply(onlyA)).resolves.toMatchObject({ result: { removed: [], pendingDeletes: ["webapp/b"] } });
      expect(w.calls).not.toContain("shutdown sessions server webapp/b");
    }
    advance(1);
    w.calls = [];
    await expect(apply(onlyA)).resolves.toMatchObject({ result: { removed: ["webapp/b"] } });
    expect(w.calls.filter((c) => /webapp\/b/.test(c))).toEqual([
      "shutdown sessions server webapp/b",
      "del server webapp/b",
    ]);
  });

  it("deletes a leaver whose sessions end before its drain time at once, and one with drain 0 shuts them at once", async () => {
    const { w, apply } = setup();
    await apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]));
    w.servers.get("webapp/c")!.conns = 1;
    w.calls = [];
    const onlyA = rendered("s1", ["a 10.0.0.1:3000"]);
    const drainMs = new Map([
      ["webapp/b", 60_000],
      ["webapp/c", 0],
    ]);
    await expect(apply({ ...onlyA, drainMs })).resolves.toMatchObject({
      result: { removed: ["webapp/b", "webapp/c"], pendingDeletes: [] },
    });
    expect(w.calls).toContain("shutdown sessions server webapp/c");
    expect(w.calls).not.toContain("shutdown sessions server webapp/b");
  });

  it("adds a slow starter so that HAProxy sees it go from down to up", async () => {
    const { w, apply } = await running();
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]);
    const text = `${next.text}    server c 10.0.0.3:3000 check slowstart 30000ms\n`;
    await apply({ ...next, text, servers: parseServerLines(text) });
    expect(w.calls.filter((c) => /webapp\/c/.test(c))).toEqual([
      "add server webapp/c 10.0.0.3:3000 inter 1s check slowstart 30000ms",
      "enable health webapp/c",
      "set server webapp/c health down",
      "set server webapp/c state ready",
      "set server webapp/c health up",
    ]);
    expect(w.servers.get("webapp/c")).toMatchObject({ maint: false });
  });

  it("adds the replacements before it drains the last leavers: the backend is never empty in between", async () => {
    const { w, apply } = await running();
    await apply(rendered("s1", ["c 10.0.0.3:3000", "d 10.0.0.4:3000"]));
    expect(w.calls.filter((c) => /^(add server|drain|del server)/.test(c)).map((c) => c.split(" 10.")[0])).toEqual([
      "add server webapp/c",
      "add server webapp/d",
      "drain webapp/a,webapp/b",
      "del server webapp/a",
      "del server webapp/b",
    ]);
  });

  it("changes weight and address in place, and puts a drained server that is wanted again back", async () => {
    const { w, apply } = await running();
    w.servers.get("webapp/a")!.maint = true;
    await apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.9:3001 3"]));
    expect(w.calls.slice(0, 3)).toEqual([
      "enable server webapp/a",
      "set server webapp/b addr 10.0.0.9 port 3001",
      "set server webapp/b weight 3",
    ]);
    expect(w.servers.get("webapp/b")).toMatchObject({ address: "10.0.0.9", port: 3001, weight: 3 });
  });

  it("takes the runtime additions back once the background check rejects the new file", async () => {
    const { w, apply, idle, rejectedInBackground } = await running();
    const good = w.live;
    w.verdict = { ok: false, message: "[ALERT] bad" };
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    await expect(apply(next)).resolves.toMatchObject({ kind: "runtime", result: { added: ["webapp/c"] } });
    await idle();
    expect(rejectedInBackground).toEqual([next.sha256]);
    expect(w.live).toBe(good);
    // The pass that follows brings HAProxy back to the live file, and reports the rejection once.
    await expect(apply(next)).resolves.toEqual({ kind: "rejected", message: "[ALERT] bad", repeated: false });
    expect(w.servers.has("webapp/c")).toBe(false);
    expect(w.calls.slice(-2)).toEqual(["drain webapp/c", "del server webapp/c"]);
    await expect(apply(next)).resolves.toMatchObject({ kind: "rejected", repeated: true });
  });

  it("falls back to a reload when a runtime command is refused, and converges", async () => {
    const { w, apply } = await running();
    w.refuse = /^add server/;
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    await expect(apply(next)).resolves.toMatchObject({
      kind: "reloaded",
      fallback: expect.stringContaining("unknown keyword"),
    });
    expect(w.servers.has("webapp/c")).toBe(true);
  });

  it("falls back to a reload when HAProxy's servers do not read back as wanted", async () => {
    const { w, apply } = await running();
    const original = w.runtime.command;
    // A command that answers as if it worked, and does nothing.
    (w.runtime as { command: RuntimeClient["command"] }).command = async (cmd, success) =>
      cmd.startsWith("set server webapp/b weight") ? "\n" : original(cmd, success);
    await expect(apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000 9"]))).resolves.toMatchObject({
      kind: "reloaded",
      fallback: expect.stringContaining("webapp/b"),
    });
    expect(w.servers.get("webapp/b")!.weight).toBe(9);
  });

  it("takes a server drained early while the apply ran for leaving, not for drift: no reload", async () => {
    const { w, apply, fleet } = await running();
    const original = w.runtime.command;
    // b's kill event comes while c is being added: the early drain puts b in maintenance.
    (w.runtime as { command: RuntimeClient["command"] }).command = async (cmd, success) => {
      if (cmd.startsWith("add server webapp/c")) await fleet.drain([{ backend: "webapp", server: "b" }]);
      return original(cmd, success);
    };
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    await expect(apply(next)).resolves.toMatchObject({ kind: "runtime" });
    expect(w.servers.get("webapp/b")!.maint).toBe(true);
  });

  it("adds a server under the id its line gives, and reloads when a server runs under another id", async () => {
    const { w, apply } = await running();
    const next = rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000", "c 10.0.0.3:3000"]);
    const withId = {
      ...next,
      text: next.text.replace("server c 10.0.0.3:3000 check", "server c 10.0.0.3:3000 id 70039 check"),
    };
    await expect(apply({ ...withId, servers: parseServerLines(withId.text) })).resolves.toMatchObject({
      kind: "runtime",
    });
    expect(w.calls[0]).toBe("add server webapp/c 10.0.0.3:3000 inter 1s id 70039 check");
    expect(w.servers.get("webapp/c")!.id).toBe(70039);
    // The runtime API cannot renumber a server (one added before ids, numbered by HAProxy).
    w.servers.get("webapp/c")!.id = 3;
    await expect(apply({ ...withId, servers: parseServerLines(withId.text) })).resolves.toMatchObject({
      kind: "reloaded",
      fallback: expect.stringContaining("webapp/c"),
    });
    expect(w.servers.get("webapp/c")!.id).toBe(70039);
  });

  it("does nothing when HAProxy already runs the wanted servers and the file says the same", async () => {
    const { w, apply } = await running();
    await expect(apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]))).resolves.toEqual({ kind: "unchanged" });
    expect(w.calls).toEqual([]);
  });
});

describe("Applier with the runtime API off", () => {
  it("reloads for a membership change, and does nothing once HAProxy runs it", async () => {
    const { w, apply } = setup({ runtimeApi: false });
    await apply(rendered("s1", ["a 10.0.0.1:3000"]));
    await expect(apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]))).resolves.toMatchObject({
      kind: "reloaded",
      signals: 1,
    });
    expect(w.calls.filter((c) => c.startsWith("add server"))).toEqual([]);
    await expect(apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]))).resolves.toEqual({
      kind: "unchanged",
    });
  });
});

describe("Applier with the runtime API off, servers leaving", () => {
  it("reloads to remove servers even when they were drained already", async () => {
    const { w, apply } = setup({ runtimeApi: false });
    await apply(rendered("s1", ["a 10.0.0.1:3000", "b 10.0.0.2:3000"]));
    await w.runtime.drainServers([{ backend: "webapp", server: "b" }]);
    await expect(
      apply(rendered("s1", ["a 10.0.0.1:3000"]), [{ backend: "webapp", server: "b" }]),
    ).resolves.toMatchObject({
      kind: "reloaded",
      signals: 1,
    });
    expect([...w.servers.keys()]).toEqual(["webapp/a"]);
  });
});

describe("Applier.runningIds", () => {
  /** A render whose server lines carry ids, as the template gives them. */
  const withIds = (id: string, servers: Record<string, number>): Rendered => {
    const text = rendered(
      id,
      Object.keys(servers).map((name, i) => `${name} 10.0.0.${i + 1}:3000`),
    ).text.replace(/^( {4}server (\S+) \S+)/gm, (_line, head: string, name: string) => `${head} id ${servers[name]}`);
    return { text, sha256: sha256Hex(text), configId: id, servers: parseServerLines(text) };
  };

  it("gives the live file's ids to a sidecar that just started, then those of the render it applies", async () => {
    const { w, apply, idle, applier } = setup();
    w.live = withIds("s1", { a: 7, b: 9 }).text;
    w.reload();
    expect(await applier.runningIds()).toEqual(
      new Map([
        [
          "webapp",
          new Map([
            ["a", 7],
            ["b", 9],
          ]),
        ],
      ]),
    );
    await apply(withIds("s1", { a: 7, c: 11 }));
    await idle();
    expect(await applier.runningIds()).toEqual(
      new Map([
        [
          "webapp",
          new Map([
            ["a", 7],
            ["c", 11],
          ]),
        ],
      ]),
    );
  });

  it("gives none when there is no config yet", async () => {
    expect(await setup().applier.runningIds()).toEqual(new Map());
  });
});
