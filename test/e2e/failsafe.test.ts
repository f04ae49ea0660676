/**
 * No single fault stops routing, empties it, or hides: a Docker API that hangs, a Serf cluster
 * that says every webapp failed, a container that takes a backend name the template uses, a
 * container whose server line HAProxy rejects. Real dockerd, HAProxy and Serf.
 */
import {
  containerOf,
  eventually,
  get,
  removeTestLeftovers,
  requestLoop,
  runLabelled,
  serviceContainers,
  sh,
  sidecarLogs,
  signalSerf,
  spread,
  STATUS_PORT,
  upServers,
} from "./helpers";
import { editTemplate } from "./template";

jest.setTimeout(300_000);

interface Row {
  container: string;
  docker: string;
  serf: string | null;
}
const status = async (): Promise<{ serf: { panic?: string[] }; backends: Array<Row & { detail?: string }> }> =>
  JSON.parse((await get(STATUS_PORT, "/status")).body);
const healthz = async (): Promise<{ status: number; reasons: string[] }> => {
  const r = await get(STATUS_PORT, "/healthz");
  return { status: r.status, reasons: (JSON.parse(r.body) as { reasons: string[] }).reasons };
};

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("make up");
  await eventually(async () => expect(await upServers()).toHaveLength(2), 90_000);
  await eventually(async () => expect((await healthz()).status).toBe(200), 60_000);
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

describe("a Docker API that accepts connections and never answers", () => {
  it("turns /healthz to 503 with the reason, while HAProxy keeps serving, and recovers by itself", async () => {
    const proxy = containerOf("docker-proxy");
    // Paused: its socket still completes the TCP handshake (the kernel does), nothing answers.
    sh(`docker pause ${proxy}`);
    let sawAt: number | undefined;
    const pausedAt = Date.now();
    try {
      // A pass times out first (its listing gets no answer), then the ping finds the stream stalled.
      await eventually(async () => {
        const h = await healthz();
        expect(h.status).toBe(503);
        expect(h.reasons).toContain("docker event stream disconnected");
        expect(h.reasons.join("; ")).toMatch(/no answer within/);
      }, 60_000);
      sawAt = Date.now();
      expect((await spread(6)).failures).toEqual([]);
      // A change the sidecar cannot see yet.
      sh("make scale N=3");
    } finally {
      sh(`docker unpause ${proxy}`);
    }
    console.log(`hung docker api: /healthz said why ${(sawAt ?? pausedAt) - pausedAt} ms after the proxy froze`);
    await eventually(async () => expect((await healthz()).status).toBe(200), 60_000);
    await eventually(async () => expect(await upServers()).toEqual(serviceContainers("webapp")), 60_000);
    expect(await upServers()).toHaveLength(3);
    expect(
      sidecarLogs("docker api not answering, the event stream may have stalled: reconnecting").length,
    ).toBeGreaterThanOrEqual(1);
  });
});

describe("Serf's panic threshold", () => {
  it("keeps every webapp routed when Serf says they all failed, with no failed request, and says so once", async () => {
    const webapps = serviceContainers("webapp");
    const load = requestLoop();
    for (const c of webapps) signalSerf(c, "STOP");
    try {
      await eventually(async () => expect((await status()).serf.panic).toEqual(["webapp"]), 90_000);
      // Longer than the grace time (15 s): still routed.
      await new Promise((r) => setTimeout(r, 16_000));
      expect(await upServers()).toEqual(webapps);
      expect((await status()).backends.filter((b) => b.docker === "routed").map((b) => b.container)).toEqual(webapps);
      expect((await get(STATUS_PORT, "/metrics")).body).toMatch(/^ha_sidecar_serf_panic\{backend="webapp"\} 1$/m);
      expect(
        sidecarLogs("serf would take out too many of this backend's members: routing it on Docker's view"),
      ).toHaveLength(1);
    } finally {
      for (const c of webapps) signalSerf(c, "CONT");
    }
    await eventually(async () => {
      const s = await status();
      expect(s.serf.panic).toEqual([]);
      expect(s.backends.map((b) => [b.docker, b.serf])).toEqual(webapps.map(() => ["routed", "alive"]));
    }, 90_000);
    const { sent, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(50);
  });
});

describe("one container never blocks the others", () => {
  it("skips a container that takes the template's own name (stats), and the others still scale", async () => {
    runLabelled("hs-e2e-named-stats", "--label heig.lb.backend=stats");
    sh("make scale N=2");
    sh("make scale N=4");
    await eventually(async () => expect(await upServers()).toEqual(serviceContainers("webapp")), 60_000);
    expect(await upServers()).toHaveLength(4);
    const row = (await status()).backends.find((b) => b.container === "hs-e2e-named-stats");
    expect(row).toMatchObject({ docker: "reserved-name" });
    sh("docker rm -f hs-e2e-named-stats");
  });

  it("isolates a container whose server line HAProxy rejects, reports it, and the others still scale", async () => {
    // A fault injected in the test's template: weighted members get an option HAProxy refuses.
    const restore = editTemplate((t) =>
      t.replace("check{{#if weight", "check{{#if weight}} slowstart {{weight}}x{{/if}}{{#if weight"),
    );
    try {
      sh("make scale N=2");
      await eventually(async () => expect(await upServers()).toHaveLength(2), 60_000);
      runLabelled("hs-e2e-poison", "--label heig.lb.weight=5");
      sh("make scale N=4");
      await eventually(async () => expect(await upServers()).toEqual(serviceContainers("webapp")), 90_000);
      expect(await upServers()).toHaveLength(4);
      await eventually(async () => {
        const row = (await status()).backends.find((b) => b.container === "hs-e2e-poison");
        expect(row).toMatchObject({ docker: "config-rejected" });
      }, 60_000);
      expect(sidecarLogs("haproxy rejects these containers' server lines: routing everyone else").pop()).toMatchObject({
        containers: ["hs-e2e-poison"],
      });
      expect((await spread(8)).failures).toEqual([]);
    } finally {
      restore();
      sh("docker rm -f hs-e2e-poison", { allowFail: true });
    }
  });
});
