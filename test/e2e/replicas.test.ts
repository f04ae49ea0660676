/**
 * Several HAProxy replicas that provably agree (`HA_REPLICAS=2 make up`): one sidecar drives
 * both, reads each back after every change and shows each `in-sync`, `stale` or `diverged`;
 * servers carry the same names and ids everywhere, so a hash picks the same server on both;
 * a structural reload goes one replica at a time; a paused, diverged or killed replica is
 * brought back to the desired state, and the other loses nothing meanwhile.
 */
import "./replicas-env";
import * as http from "node:http";
import {
  compose,
  containerOf,
  eventually,
  get,
  haproxyCli,
  HTTP_PORT,
  removeTestLeftovers,
  requestLoop,
  serviceContainers,
  sh,
  STATS_PORT,
  STATUS_PORT,
  upServers,
} from "./helpers";
import { editTemplate } from "./template";

jest.setTimeout(600_000);
const PORTS = [HTTP_PORT, HTTP_PORT + 1];
const STATS = [STATS_PORT, STATS_PORT + 1];
const HA = [containerOf("ha"), containerOf("ha2")];

interface ReplicaStatus {
  replica: string;
  container: string;
  state: "in-sync" | "stale" | "diverged";
  reason: string | null;
  digest: string | null;
  confirmedAt: string | null;
}
async function replicas(): Promise<ReplicaStatus[]> {
  return (JSON.parse((await get(STATUS_PORT, "/status")).body) as { replicas: ReplicaStatus[] }).replicas;
}
async function changesSince(fromMs: number): Promise<Array<{ kind: string; reason: string; detail: string | null }>> {
  return (
    JSON.parse((await get(STATUS_PORT, `/changes?since=${fromMs}`)).body) as {
      records: Array<{ kind: string; reason: string; detail: string | null }>;
    }
  ).records;
}
/** Server name → id, as replica k's serving worker runs them. */
function serverIds(k: number): Record<string, string> {
  const dump = haproxyCli("show servers state webapp", false, k);
  const lines = dump.split("\n");
  const header = lines
    .find((l) => l.startsWith("# be_id"))!
    .slice(2)
    .trim()
    .split(/\s+/);
  const [name, id] = [header.indexOf("srv_name"), header.indexOf("srv_id")];
  return Object.fromEntries(
    lines
      .filter((l) => /^\d+ /.test(l))
      .map((l) => l.trim().split(/\s+/))
      .map((c) => [c[name]!, c[id]!])
      .sort(),
  );
}
/** Both replicas route the webapps compose runs, UP, and /status says both are in sync. */
async function bothServe(n: number, timeoutMs = 60_000): Promise<void> {
  await eventually(async () => {
    const want = serviceContainers("webapp");
    expect(want).toHaveLength(n);
    for (const port of STATS) expect(await upServers("webapp", "127.0.0.1", port)).toEqual(want);
    expect((await replicas()).map((r) => r.state)).toEqual(["in-sync", "in-sync"]);
  }, timeoutMs);
}

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("HA_REPLICAS=2 make up");
  await bothServe(2, 120_000);
});

afterAll(() => {
  // What each HAProxy and the sidecar logged, for whoever reads a failure (test-output/).
  for (const c of [...HA, containerOf("sidecar")])
    sh(`docker logs --timestamps ${c} > test-output/replicas-${c}.log 2>&1`, { allowFail: true });
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

/** Every replica's serving worker runs the structure of the file on the volume. */
function bothRunTheFile(): void {
  const file = /^\s*description ha-sidecar-(\S+)$/m.exec(
    compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg"),
  )?.[1];
  for (const k of [1, 2])
    expect(/^description: ha-sidecar-(\S+)$/m.exec(haproxyCli("show info", false, k))?.[1]).toBe(file);
}

describe("two HAProxy replicas", () => {
  it("scales 2 → 6 → 2 under load on both: 0 failed on either, the same servers with the same ids, both in sync", async () => {
    const loads = PORTS.map((port) => requestLoop(port));
    for (const n of [6, 2]) {
      sh(`make scale N=${n}`);
      const changedAt = Date.now();
      await bothServe(n);
      console.log(`scale to ${n}: both replicas in sync ${Date.now() - changedAt} ms after make scale returned`);
      expect(serverIds(2)).toEqual(serverIds(1));
    }
    for (const load of loads) {
      const { sent, failures } = await load.stop();
      expect(failures).toEqual([]);
      expect(sent).toBeGreaterThan(100);
    }
  });

  it("routes every key to the same server on both replicas (a hashed header, consistent hashing)", async () => {
    sh("make scale N=4");
    await bothServe(4);
    const restore = editTemplate((t) =>
      t.replace("    balance roundrobin", "    balance hdr(x-key)\n    hash-type consistent"),
    );
    try {
      await eventually(() => expect(haproxyCli("show backend", false, 1)).toContain("webapp"));
      // The structural change (the balance algorithm) reaches both, one after the other.
      await eventually(
        // The directive itself: the template's comments speak of hash-type too.
        () =>
          expect(compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg")).toMatch(/^\s*hash-type consistent$/m),
        60_000,
      );
      await eventually(bothRunTheFile, 60_000);
      await bothServe(4);
      const pick = (port: number, key: number): Promise<string> =>
        new Promise((resolve, reject) => {
          const req = http.get(
            { host: "127.0.0.1", port, path: "/", agent: false, headers: { "x-key": `key-${key}` } },
            (res) => {
              res.resume();
              res.on("end", () => resolve(String(res.headers["x-backend-ip"])));
            },
          );
          req.on("error", reject);
        });
      const keys = Array.from({ length: 10_000 }, (_, i) => i);
      const differ: number[] = [];
      const used = new Set<string>();
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(
          keys.slice(i, i + 50).map(async (k) => {
            const [a, b] = [await pick(PORTS[0]!, k), await pick(PORTS[1]!, k)];
            used.add(a);
            if (a !== b) differ.push(k);
          }),
        );
      }
      expect(differ).toEqual([]);
      expect(used.size).toBe(4);
    } finally {
      restore();
    }
    await eventually(
      () => expect(compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg")).toMatch(/^\s*balance roundrobin$/m),
      60_000,
    );
    sh("make scale N=2");
    await bothServe(2);
  });

  it("reports a paused replica stale, and brings it in sync with 4 servers once unpaused", async () => {
    const from = Date.now();
    sh(`docker pause ${HA[1]}`);
    try {
      sh("make scale N=4");
      await eventually(async () => expect(await upServers("webapp", "127.0.0.1", STATS[0])).toHaveLength(4), 60_000);
      await eventually(async () => {
        const [one, two] = await replicas();
        expect(one!.state).toBe("in-sync");
        expect(two!.state).toBe("stale");
      }, 30_000);
    } finally {
      sh(`docker unpause ${HA[1]}`);
    }
    const unpausedAt = Date.now();
    await bothServe(4, 30_000);
    const tookMs = Date.now() - unpausedAt;
    console.log(`replica 2 unpaused: in sync with 4 servers ${tookMs} ms later`);
    expect(tookMs).toBeLessThan(30_000);
    // Change records say why: it fell behind (paused), and was brought in sync again.
    const records = (await changesSince(from)).filter((r) => /^haproxy replica 2 /.test(r.reason));
    expect(records.some((r) => /fell behind/.test(r.reason))).toBe(true);
    expect(records.some((r) => /brought to the desired state|was stale/.test(r.reason))).toBe(true);
    sh("make scale N=2");
    await bothServe(2);
  });

  it("detects a replica changed by hand through its socket, repairs it and records it", async () => {
    const [victim] = serviceContainers("webapp");
    const from = Date.now();
    haproxyCli(`disable server webapp/${victim}`, false, 2);
    await eventually(
      async () => {
        const records = await changesSince(from);
        expect(records.some((r) => r.kind === "replica-repaired")).toBe(true);
      },
      10_000,
      100,
    );
    const detectedMs = Date.now() - from;
    await bothServe(2, 10_000);
    console.log(`hand-made divergence on replica 2: repaired and recorded within ${detectedMs} ms`);
  });

  it("loses nothing on replica 2 while replica 1 crashes, and brings replica 1 back in sync once it answers", async () => {
    const load = requestLoop(PORTS[1]);
    // A crash, not an operator's `docker kill` (which Docker takes as a stop: no restart): the
    // master dies of SIGKILL from outside, the restart policy (unless-stopped) brings it back,
    // and once it answers it is brought in sync.
    sh(`kill -9 $(docker inspect -f '{{.State.Pid}}' ${HA[0]})`);
    await eventually(async () => expect((await get(STATS[0]!, "/;csv")).status).toBe(200), 60_000, 50);
    const answeringAt = Date.now();
    await bothServe(2, 30_000);
    console.log(`replica 1 restarted: in sync ${Date.now() - answeringAt} ms after it answered`);
    const { sent, failures } = await load.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(50);
  });

  it("reloads one replica at a time for a structural change under load: the reloads never overlap, 0 failed", async () => {
    const since = new Date().toISOString();
    const loads = PORTS.map((port) => requestLoop(port));
    const restore = editTemplate((t) => t.replace("    timeout queue 5s", "    timeout queue 4s"));
    try {
      await eventually(
        () => expect(compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg")).toContain("timeout queue 4s"),
        60_000,
      );
      await eventually(bothRunTheFile, 60_000);
      await bothServe(2);
    } finally {
      restore();
    }
    await eventually(
      () => expect(compose("exec -T sidecar cat /var/lib/ha-sidecar/haproxy.cfg")).toContain("timeout queue 5s"),
      60_000,
    );
    await eventually(bothRunTheFile, 60_000);
    await bothServe(2);
    for (const load of loads) {
      const { failures } = await load.stop();
      expect(failures).toEqual([]);
    }
    // Each master's log: when it began a reload and when the new worker was up.
    const windows = HA.map((c) =>
      sh(`docker logs --timestamps --since ${since} ${c} 2>&1`)
        .split("\n")
        .filter((l) => /Reloading HAProxy|Loading success/.test(l))
        .map((l) => ({ at: Date.parse(l.split(" ")[0]!), start: /Reloading/.test(l) })),
    );
    const spans = windows.map((events) => {
      const out: Array<[number, number]> = [];
      for (let i = 0; i < events.length; i++)
        if (events[i]!.start) {
          const end = events.slice(i + 1).find((e) => !e.start);
          if (end !== undefined) out.push([events[i]!.at, end.at]);
        }
      return out;
    });
    expect(spans[0]!.length).toBeGreaterThanOrEqual(2);
    expect(spans[1]!.length).toBeGreaterThanOrEqual(2);
    for (const [a0, a1] of spans[0]!) for (const [b0, b1] of spans[1]!) expect(a1 < b0 || b1 < a0).toBe(true);
  });
});
