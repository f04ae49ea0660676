/**
 * Zero-reload scaling: servers come and go through HAProxy's runtime API, reloads are for
 * structural changes only, a reload after runtime changes loses nothing, a refused runtime
 * command falls back to a reload, and a crashed container leaves rotation at once.
 */
import {
  compose,
  configIds,
  containerOf,
  eventually,
  get,
  haproxyReloads,
  removeTestLeftovers,
  requestLoop,
  runLabelled,
  serviceContainers,
  sh,
  sidecarLogs,
  statsRows,
  statsServers,
  STATUS_PORT,
  TEST_LABEL,
  upServers,
} from "./helpers";
import { editTemplate } from "./template";

jest.setTimeout(300_000);

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("make up");
  await eventually(async () => expect(await upServers()).toEqual([containerOf("webapp", 1), containerOf("webapp", 2)]));
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

describe("scaling through the runtime API", () => {
  it("scales 2 → 10 → 2 with the HAProxy master's reload counter unchanged, every container under its name", async () => {
    await eventually(() => expect(configIds().running).toBe(configIds().file));
    const startedAt = Date.now();
    const before = haproxyReloads();
    sh("make scale N=10");
    await eventually(async () => {
      const servers = await statsServers();
      expect(Object.keys(servers)).toEqual(serviceContainers("webapp"));
      expect(new Set(Object.values(servers))).toEqual(new Set(["UP"]));
    }, 60_000);
    sh("make scale N=2");
    await eventually(
      async () => expect(Object.keys(await statsServers())).toEqual(serviceContainers("webapp")),
      60_000,
    );
    expect(serviceContainers("webapp")).toHaveLength(2);
    // No reload; should one happen, the sidecar's own words say why (warnings, and its reloads).
    const why = (): unknown[] =>
      [...sidecarLogs("haproxy reloaded"), ...sidecarLogs("runtime apply failed, reloading instead")]
        .concat(sidecarLogs("replica repaired"), sidecarLogs("replica diverged from the desired state, repairing"))
        .filter((r) => Number(r["time"]) >= startedAt);
    expect({ reloads: haproxyReloads() - before, why: haproxyReloads() === before ? [] : why() }).toEqual({
      reloads: 0,
      why: [],
    });
    expect(configIds().running).toBe(configIds().file);
    // Nothing left over in the file either: it lists exactly what HAProxy runs.
    expect(compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg").match(/^\s*server /gm)).toHaveLength(2);
  });

  it("a sidecar restarted after runtime changes finds nothing to do: no change, no reload", async () => {
    sh("make scale N=3");
    await eventually(async () => expect(await upServers()).toHaveLength(3), 60_000);
    const before = haproxyReloads();
    const starts = sidecarLogs("first reconcile done").length;
    sh(`docker kill --signal SIGKILL ${containerOf("sidecar")} && docker start ${containerOf("sidecar")}`);
    await eventually(() => expect(sidecarLogs("first reconcile done")).toHaveLength(starts + 1), 60_000);
    expect(sidecarLogs("first reconcile done").pop()).toMatchObject({ outcome: "unchanged" });
    expect(haproxyReloads()).toBe(before);
    sh("make scale N=2");
    await eventually(async () => expect(await upServers()).toHaveLength(2), 60_000);
  });
});

describe("reloads, for structural changes only", () => {
  // Whatever a test left (a failed one included), the next starts from 2 webapps and no extra backend.
  afterEach(async () => {
    sh("docker rm -f hs-e2e-structural hs-e2e-template-poke", { allowFail: true });
    sh("make scale N=2");
    await eventually(async () => expect(await upServers()).toHaveLength(2), 60_000);
  });

  it("a new backend is one reload, and the reload keeps every runtime-added server UP: no flap, no failed request", async () => {
    sh("make scale N=4");
    await eventually(async () => expect(await upServers()).toHaveLength(4), 60_000);
    const servers = await upServers();
    const before = haproxyReloads();
    const load = requestLoop();
    const seen: string[] = [];
    // A stats read that gets no answer in 5 s is counted and said, not taken for a flap: the
    // traffic's own failures (the request loop) are what says whether HAProxy stopped serving.
    const unanswered: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const all = await statsRows().catch((err: Error) => {
          unanswered.push(`${new Date().toISOString()} ${err.message}`);
          return null;
        });
        if (all === null) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const rows = all.filter((r) => r.pxname === "webapp" && r.svname !== "BACKEND" && r.svname !== "FRONTEND");
        seen.push(
          rows
            .map((r) => `${r.svname}:${r.status}`)
            .sort()
            .join(" "),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      runLabelled("hs-e2e-structural", "--label heig.lb.backend=structural");
      await eventually(async () => expect(await upServers("structural")).toEqual(["hs-e2e-structural"]), 60_000);
      await eventually(() => expect(configIds().running).toBe(configIds().file));
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      polling = false;
      await poller;
    }
    const { sent, failures } = await load.stop();
    if (unanswered.length > 0)
      console.log(`stats page: ${unanswered.length} read(s) unanswered during the reload: ${unanswered.join("; ")}`);
    // (A failed wait above leaves the loop running until the file's end: jest reports the wait.)
    expect(haproxyReloads()).toBe(before + 1);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    expect(seen.length).toBeGreaterThan(10);
    expect(new Set(seen)).toEqual(new Set([servers.map((s) => `${s}:UP`).join(" ")]));
  });

  it("falls back to a reload when HAProxy refuses a runtime command, and converges", async () => {
    // `init-addr` is fine in the file but refused for a dynamic server: every add fails.
    const restore = editTemplate((t) =>
      t.replace("    default-server inter", "    default-server init-addr last,libc,none inter"),
    );
    try {
      // The template is looked at every second; a container event makes a pass too.
      sh(`docker run -d --name hs-e2e-template-poke --label ${TEST_LABEL} ha-sidecar/webapp:latest`);
      await eventually(
        () => expect(compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg")).toContain("init-addr"),
        60_000,
      );
      await eventually(() => expect(configIds().running).toBe(configIds().file));
      const fallbacks = sidecarLogs("runtime apply failed, reloading instead").length;
      const before = haproxyReloads();
      // Scaling up is what needs an `add server` (a test that left 3 or more would prove nothing).
      expect(serviceContainers("webapp")).toHaveLength(2);
      sh("make scale N=3");
      await eventually(async () => expect(await upServers()).toEqual(serviceContainers("webapp")), 60_000);
      const logged = sidecarLogs("runtime apply failed, reloading instead");
      expect(logged.length).toBeGreaterThan(fallbacks);
      expect(JSON.stringify(logged.pop())).toContain("init-addr");
      expect(haproxyReloads()).toBeGreaterThan(before);
      expect((await get(STATUS_PORT, "/metrics")).body).toMatch(/^ha_sidecar_runtime_fallbacks_total [1-9]\d*$/m);
    } finally {
      restore();
      sh("docker rm -f hs-e2e-template-poke");
    }
    sh("make scale N=2");
    await eventually(async () => expect(await upServers()).toHaveLength(2), 60_000);
    await eventually(
      () => expect(compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg")).not.toContain("init-addr"),
      60_000,
    );
  });
});

describe("a container that does not listen yet: held in maintenance, routed the moment it listens", () => {
  it("is in HAProxy ahead of time, kept in maintenance across a reload, routed by one runtime command: 0 requests to it before", async () => {
    const [late, never, other] = ["hs-e2e-late", "hs-e2e-never", "hs-e2e-other"];
    const reloads = haproxyReloads();
    const load = requestLoop();
    // One app listens 8 s after its start, one not within the test: their start's pass finds
    // them not listening.
    runLabelled(late, "-e LISTEN_DELAY_MS=8000");
    runLabelled(never, "-e LISTEN_DELAY_MS=600000");
    await eventually(async () => {
      const servers = await statsServers();
      expect([servers[late], servers[never]]).toEqual(["MAINT", "MAINT"]);
      const status = JSON.parse((await get(STATUS_PORT, "/status")).body) as {
        backends: Array<{ container: string; docker: string; server: string | null; haproxy: string | null }>;
      };
      expect(status.backends.find((b) => b.container === late)).toMatchObject({
        docker: "not-listening",
        server: late,
        haproxy: "MAINT",
      });
    }, 30_000);
    // A new backend is a reload: the held servers stay in maintenance through it.
    runLabelled(other, "--label heig.lb.backend=hs-e2e-other");
    await eventually(async () => expect(await upServers("hs-e2e-other")).toEqual([other]), 60_000);
    expect(haproxyReloads()).toBe(reloads + 1);
    expect((await statsServers())[never]).toBe("MAINT");
    await eventually(async () => expect(await upServers()).toContain(late), 60_000);
    // Routed by the fast path: the readiness probe's success made it ready on the replica at once.
    await eventually(async () =>
      expect(sidecarLogs("held servers ready").map((l) => l["servers"])).toContainEqual([`webapp/${late}`]),
    );
    const row = async (name: string): Promise<Record<string, string>> =>
      (await statsRows()).find((r) => r.pxname === "webapp" && r.svname === name) as unknown as Record<string, string>;
    await eventually(async () => expect(Number((await row(late))["stot"])).toBeGreaterThan(0));
    const { sent, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    // No request was ever sent to either before it listened: no session, connection error,
    // retry or redispatch; no reload but the new backend's.
    for (const name of [late, never]) {
      const r = await row(name);
      expect([name, r["econ"], r["wretr"], r["wredis"]]).toEqual([name, "0", "0", "0"]);
    }
    expect((await row(never))["stot"]).toBe("0");
    expect((await statsServers())[never]).toBe("MAINT");
    expect(haproxyReloads()).toBe(reloads + 1);
    sh(`docker rm -f ${late} ${never} ${other}`);
  });
});

describe("crashes", () => {
  it("takes a crashed container out at once: no failed request, and it comes back when restarted", async () => {
    sh("make scale N=3");
    await eventually(async () => expect(await upServers()).toHaveLength(3), 60_000);
    const victim = containerOf("webapp", 2);
    const load = requestLoop();
    await new Promise((r) => setTimeout(r, 500));
    // SIGKILL to its PID 1 from the host: the whole container dies at once, as in an OOM kill.
    sh(`kill -9 $(docker inspect -f '{{.State.Pid}}' ${victim})`);
    await eventually(async () => expect(Object.keys(await statsServers())).not.toContain(victim), 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    const { sent, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    // The restart policy brings it back, and the sidecar routes it again.
    await eventually(async () => expect(await upServers()).toContain(victim), 60_000);
  });
});
