import pino from "pino";
import { Applier, ApplyError } from "../../sidecar/apply/applier";
import type { ConfigStore } from "../../sidecar/apply/config-file";
import type { ValidationResult, Validator } from "../../sidecar/apply/haproxy-check";
import type { Reloader } from "../../sidecar/haproxy/reloader";
import type { RuntimeClient } from "../../sidecar/haproxy/runtime-client";
import type { ServerRef } from "../../sidecar/model/types";
import { sha256Hex, type Rendered } from "../../sidecar/render/render";

const log = pino({ level: "silent" });
const rendered = (text: string, configId = `id-${text}`): Rendered => ({ text, sha256: sha256Hex(text), configId });

/** Records every call; HAProxy "loads" the live file's config id when signalled, unless told to swallow signals. */
class World
  implements
    ConfigStore,
    Validator,
    Reloader,
    Pick<RuntimeClient, "runningConfigId" | "serverStateDump" | "drainServers">
{
  calls: string[] = [];
  live: string | null = null;
  staged = new Map<string, string>();
  verdict: ValidationResult = { ok: true };
  running: string | null = null;
  swallowSignals = 0;
  container = true;
  idOf = new Map<string, string>();

  async read() {
    this.calls.push("read");
    return this.live;
  }
  async stage(text: string) {
    const p = `tmp${this.staged.size}`;
    this.staged.set(p, text);
    this.calls.push("stage");
    return p;
  }
  async commit(p: string) {
    this.live = this.staged.get(p)!;
    this.staged.delete(p);
    this.calls.push("commit");
  }
  async discard(p: string) {
    this.staged.delete(p);
    this.calls.push("discard");
  }
  async validate() {
    this.calls.push("validate");
    return this.verdict;
  }
  async runningConfigId() {
    return this.running;
  }
  async serverStateDump() {
    this.calls.push("save-state");
    return "1\n# be_id be_name\n";
  }
  async drainServers(servers: readonly ServerRef[]) {
    this.calls.push(`drain ${servers.map((s) => `${s.backend}/${s.server}`).join(",")}`);
  }
  async reload(): Promise<"sent" | "no-target"> {
    this.calls.push("signal");
    if (!this.container) return "no-target";
    if (this.swallowSignals > 0) {
      this.swallowSignals--;
      return "sent";
    }
    this.running = this.idOf.get(this.live ?? "") ?? null;
    return "sent";
  }
}

/** The server-state file: written quietly, not part of the recorded order. */
const stateFile: ConfigStore = {
  read: async () => null,
  stage: async () => "state.tmp",
  commit: async () => undefined,
  discard: async () => undefined,
};

function setup(w = new World()) {
  let t = 0;
  const applier = new Applier(
    { config: w, serverState: stateFile, validator: w, reloader: w, runtime: w as unknown as RuntimeClient },
    log,
    {
      reloadConfirmMs: 1000,
      pollMs: 100,
      maxSignals: 3,
      sleep: async (ms: number) => {
        t += ms;
      },
      now: () => t,
    },
  );
  const apply = (r: Rendered, leaving: ServerRef[] = []) => {
    w.idOf.set(r.text, r.configId);
    return applier.apply(r, leaving);
  };
  return { w, apply };
}

describe("Applier", () => {
  it("stages, validates, commits, then signals and waits for HAProxy to confirm", async () => {
    const { w, apply } = setup();
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "reloaded", written: true, signals: 1 });
    expect(w.calls).toEqual(["read", "stage", "validate", "save-state", "commit", "signal"]);
    expect(w.live).toBe("a");
  });

  it("does nothing when the bytes and the running config are unchanged", async () => {
    const { w, apply } = setup();
    await apply(rendered("a"));
    w.calls = [];
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "unchanged" });
    expect(w.calls).toEqual([]);
  });

  it("seeds from the file on disk: a restarted sidecar neither rewrites nor reloads", async () => {
    const w = new World();
    w.live = "a";
    w.running = "id-a";
    const { apply } = setup(w);
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "unchanged" });
    expect(w.calls).toEqual(["read"]);
  });

  it("keeps the live file and does not reload when haproxy rejects the config, and does not retry it", async () => {
    const { w, apply } = setup();
    await apply(rendered("good"));
    w.verdict = { ok: false, message: "[ALERT] parsing [x:3]: unknown keyword 'bogus'" };
    w.calls = [];
    await expect(apply(rendered("bad"))).resolves.toEqual({
      kind: "rejected",
      message: expect.stringContaining("bogus"),
      repeated: false,
    });
    expect(w.calls).toEqual(["stage", "validate", "discard"]);
    expect(w.live).toBe("good");
    expect(w.running).toBe("id-good");
    w.calls = [];
    await expect(apply(rendered("bad"))).resolves.toMatchObject({ kind: "rejected", repeated: true });
    expect(w.calls).toEqual([]);
    // Once the input changes, it applies again.
    w.verdict = { ok: true };
    await expect(apply(rendered("fixed"))).resolves.toMatchObject({ kind: "reloaded" });
    expect(w.live).toBe("fixed");
  });

  it("drains leaving servers in HAProxy after validation and before the new config goes live", async () => {
    const { w, apply } = setup();
    await apply(rendered("a"));
    w.calls = [];
    await apply(rendered("b"), [{ backend: "webapp", server: "compose_webapp_3" }]);
    expect(w.calls).toEqual(["stage", "validate", "drain webapp/compose_webapp_3", "save-state", "commit", "signal"]);
  });

  it("drains nothing when the new config is rejected", async () => {
    const { w, apply } = setup();
    await apply(rendered("a"));
    w.verdict = { ok: false, message: "[ALERT] bad" };
    w.calls = [];
    await apply(rendered("b"), [{ backend: "webapp", server: "compose_webapp_3" }]);
    expect(w.calls).toEqual(["stage", "validate", "discard"]);
  });

  it("signals again when HAProxy swallowed the reload signal", async () => {
    const { w, apply } = setup();
    w.swallowSignals = 2;
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "reloaded", written: true, signals: 3 });
    expect(w.calls.filter((c) => c === "signal")).toHaveLength(3);
  });

  it("fails (to be retried) when HAProxy never confirms, and reloads without rewriting next time", async () => {
    const { w, apply } = setup();
    w.swallowSignals = 3;
    await expect(apply(rendered("a"))).rejects.toBeInstanceOf(ApplyError);
    expect(w.live).toBe("a");
    w.calls = [];
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "reloaded", written: false, signals: 1 });
    expect(w.calls).toEqual(["signal"]);
  });

  it("reloads an HAProxy that restarted with an older config", async () => {
    const { w, apply } = setup();
    await apply(rendered("a"));
    w.running = "something-else";
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "reloaded", written: false, signals: 1 });
  });

  it("writes the file and reports no-haproxy when no HAProxy container runs", async () => {
    const { w, apply } = setup();
    w.container = false;
    await expect(apply(rendered("a"))).resolves.toEqual({ kind: "no-haproxy", written: true });
    expect(w.live).toBe("a");
  });

  it("surfaces a failed write as an error and leaves the live file", async () => {
    const w = new World();
    w.live = "old";
    w.stage = async () => {
      throw new Error("ENOSPC: no space left on device");
    };
    const { apply } = setup(w);
    await expect(apply(rendered("new"))).rejects.toThrow(/ENOSPC/);
    expect(w.live).toBe("old");
  });
});
