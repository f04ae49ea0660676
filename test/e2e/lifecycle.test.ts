/**
 * The traffic lifecycle by label, on the real stack: a slow start that really ramps (HAProxy's
 * throttle rising, a share that grows, no reload), a drain time that lets a long request finish
 * and cuts a longer one, a 90/10 canary by weight, and maintenance asked for by an operator,
 * kept across a sidecar restart, with nothing lost meanwhile.
 */
import * as http from "node:http";
import {
  compose,
  containerIp,
  eventually,
  get,
  haproxyReloads,
  HTTP_PORT,
  removeTestLeftovers,
  requestLoop,
  runLabelled,
  sh,
  shAsync,
  statsRows,
  statsServers,
  STATUS_PORT,
  upServers,
} from "./helpers";

jest.setTimeout(300_000);

/** One request on a new connection to the frontend, for `vhost` (a backend by name) or the default. */
function ask(
  vhost?: string,
  timeoutMs = 10_000,
  cookie?: string,
): Promise<{ status: number; ip: string; atMs: number; tookMs: number }> {
  const sent = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: "127.0.0.1",
        port: HTTP_PORT,
        path: "/",
        agent: false,
        timeout: timeoutMs,
        headers: { ...(vhost === undefined ? {} : { host: vhost }), ...(cookie === undefined ? {} : { cookie }) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            ip: String(res.headers["x-backend-ip"] ?? ""),
            atMs: sent,
            tookMs: Date.now() - sent,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET for ${vhost ?? "default"} timed out`)));
    req.on("error", reject);
  });
}

/** Tells a webapp container (on the test stack's network) to answer every later GET `ms` late. */
function slowDown(container: string, ms: number): Promise<void> {
  const ip = containerIp(container);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: ip, port: 3000, path: "/delay", method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`/delay answered ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ delay: ms }));
  });
}

interface Change {
  kind: string;
  container: string | null;
  reason: string;
  detail: string | null;
}
async function changesSince(fromMs: number): Promise<Change[]> {
  return (JSON.parse((await get(STATUS_PORT, `/changes?since=${fromMs}`)).body) as { records: Change[] }).records;
}

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("make up");
  await eventually(async () => expect(await upServers()).toHaveLength(2), 120_000);
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

describe("traffic lifecycle by label", () => {
  it("heig.lb.slowstart=10s: a new container's share ramps from near 0 to its fair share, throttle rising, no reload", async () => {
    const reloads = haproxyReloads();
    const name = "hs-e2e-slowstart";
    runLabelled(name, "--label heig.lb.slowstart=10s");
    const ip = containerIp(name);
    // Requests from 4 sequential loops and the stats page's throttle, until 16 s after it first answered.
    const samples: Array<{ atMs: number; ip: string; ok: boolean }> = [];
    const throttles: number[] = [];
    let firstMs: number | null = null;
    const until = (): boolean => firstMs === null || Date.now() < firstMs + 16_000;
    const startedAt = Date.now();
    const loops = Array.from({ length: 4 }, async () => {
      while (until() && Date.now() < startedAt + 90_000) {
        const r = await ask().catch(() => ({ status: 0, ip: "", atMs: Date.now(), tookMs: 0 }));
        samples.push({ atMs: r.atMs, ip: r.ip, ok: r.status === 200 });
        if (r.ip === ip && firstMs === null) firstMs = r.atMs;
      }
    });
    const watch = (async () => {
      while (until() && Date.now() < startedAt + 90_000) {
        const row = (await statsRows()).find((r) => r.svname === name) as unknown as Record<string, string> | undefined;
        const t = Number(row?.["throttle"] ?? "");
        if (row !== undefined && row["throttle"] !== "" && Number.isFinite(t)) throttles.push(t);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await Promise.all([...loops, watch]);
    expect(firstMs).not.toBeNull();
    const share = (fromS: number, toS: number): number => {
      const w = samples.filter((s) => s.atMs >= firstMs! + fromS * 1000 && s.atMs < firstMs! + toS * 1000);
      return w.filter((s) => s.ip === ip).length / w.length;
    };
    const fair = 1 / 3;
    console.log(
      `slow start: share 0-2 s ${(share(0, 2) * 100).toFixed(1)} %, 12-16 s ${(share(12, 16) * 100).toFixed(1)} % ` +
        `(fair ${(fair * 100).toFixed(1)} %); throttle seen ${throttles.join(",")}`,
    );
    expect(samples.filter((s) => !s.ok)).toEqual([]);
    expect(share(0, 2)).toBeLessThanOrEqual(0.25 * fair);
    expect(Math.abs(share(12, 16) - fair)).toBeLessThanOrEqual(0.1 * fair);
    // HAProxy's throttle column: below 100 % and rising while it ramps.
    expect(throttles.length).toBeGreaterThanOrEqual(2);
    expect(throttles.every((t, i) => i === 0 || t >= throttles[i - 1]!)).toBe(true);
    expect(throttles[throttles.length - 1]!).toBeGreaterThan(throttles[0]!);
    expect(haproxyReloads()).toBe(reloads);
    sh(`docker rm -f ${name}`);
  });

  it("heig.lb.drain=20s: a 15 s request in flight finishes, a 25 s one is cut at 20 s, no new request reaches them", async () => {
    // One sticky backend (reached by Host): two leavers, each answering late, and one that stays.
    // The stickiness cookie (SERVERID=<server>) sends a request to the leaver it names.
    const backend = "--label heig.lb.backend=drainer --label heig.lb.sticky=true";
    for (const name of ["hs-e2e-drain-15", "hs-e2e-drain-25"])
      runLabelled(name, `${backend} --label heig.lb.drain=20s --stop-timeout 40 -e SHUTDOWN_GRACE_MS=60000`);
    runLabelled("hs-e2e-drain-stays", backend);
    await eventually(
      async () =>
        expect(await upServers("drainer")).toEqual(["hs-e2e-drain-15", "hs-e2e-drain-25", "hs-e2e-drain-stays"]),
      90_000,
    );
    await slowDown("hs-e2e-drain-15", 15_000);
    await slowDown("hs-e2e-drain-25", 25_000);
    const fifteen = ask("drainer", 60_000, "SERVERID=hs-e2e-drain-15");
    const twentyFive = ask("drainer", 60_000, "SERVERID=hs-e2e-drain-25").then(
      (r) => ({ ...r, error: null as string | null }),
      (err: Error) => ({ status: 0, ip: "", atMs: 0, tookMs: 0, error: err.message }),
    );
    const sentAt = Date.now();
    await new Promise((r) => setTimeout(r, 1_000));
    const stopping = shAsync("docker stop hs-e2e-drain-15 hs-e2e-drain-25");
    // Out of rotation at once: new requests, even those whose cookie names a leaver, go to the one that stays.
    await eventually(async () => expect(await upServers("drainer")).toEqual(["hs-e2e-drain-stays"]), 10_000, 50);
    const staysIp = containerIp("hs-e2e-drain-stays");
    for (const cookie of [undefined, "SERVERID=hs-e2e-drain-15", "SERVERID=hs-e2e-drain-25"]) {
      const r = await ask("drainer", 5_000, cookie);
      expect([r.status, r.ip]).toEqual([200, staysIp]);
    }
    const done15 = await fifteen;
    const done25 = await twentyFive;
    const cutAt = Date.now() - sentAt;
    await stopping;
    console.log(
      `drain: 15 s request ${done15.status} after ${done15.tookMs} ms; 25 s request ${done25.error ?? done25.status} at ${cutAt} ms`,
    );
    expect(done15.status).toBe(200);
    expect(done25.status).not.toBe(200);
    // Cut when the drain time ran out (20 s after the stop, 21 s after it was sent), not at 25 s.
    expect(cutAt).toBeGreaterThanOrEqual(19_000);
    expect(cutAt).toBeLessThan(24_500);
    sh("docker rm -f hs-e2e-drain-stays");
  });

  it("two services in one backend weighted 90/10: over 10,000 requests the split is 90/10 within 2 points", async () => {
    const from = Date.now();
    runLabelled("hs-e2e-stable", "--label heig.lb.backend=canary --label heig.lb.weight=90");
    runLabelled("hs-e2e-canary", "--label heig.lb.backend=canary --label heig.lb.weight=10");
    await eventually(async () => expect(await upServers("canary")).toEqual(["hs-e2e-canary", "hs-e2e-stable"]), 90_000);
    const canaryIp = containerIp("hs-e2e-canary");
    let canary = 0;
    let total = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (total < 10_000) {
          total++;
          const r = await ask("canary");
          expect(r.status).toBe(200);
          if (r.ip === canaryIp) canary++;
        }
      }),
    );
    const pct = (100 * canary) / total;
    // What HAProxy saw of each server meanwhile: how often it went DOWN and why, connect errors.
    const seen = (await statsRows())
      .filter((r) => r.pxname === "canary" && r.svname.startsWith("hs-e2e-"))
      .map((r) => {
        const row = r as unknown as Record<string, string>;
        return `${r.svname}: weight ${row.weight}, ${row.chkdown} down, last check ${row.check_status}, econ ${row.econ}, wretr ${row.wretr}, wredis ${row.wredis}`;
      });
    // And what the sidecar did to them (a server taken out and back would show here).
    const changed = (await changesSince(from))
      .filter((r) => r.container === "hs-e2e-stable" || r.container === "hs-e2e-canary")
      .map((r) => `${r.kind} ${r.container} (${r.reason}${r.detail === null ? "" : `: ${r.detail}`})`);
    console.log(
      `canary: ${canary} of ${total} requests (${pct.toFixed(2)} %); ${seen.join("; ")}; changes: ${changed.join("; ")}`,
    );
    expect(Math.abs(pct - 10)).toBeLessThanOrEqual(2);
    sh("docker rm -f hs-e2e-stable hs-e2e-canary");
  });

  it("maintenance by command: drained within a second, kept across a sidecar restart, recorded with who asked, 0 failed", async () => {
    const [victim, other] = (await upServers()).sort();
    const from = Date.now();
    const load = requestLoop();
    sh(`make maint C=${victim}`);
    const asked = Date.now();
    await eventually(async () => expect((await statsServers())[victim!]).toBe("MAINT"), 10_000, 50);
    const tookMs = Date.now() - asked;
    // The operator's word is kept on the volume: a restarted sidecar keeps it in maintenance.
    sh(`docker restart ${compose("ps -q sidecar").trim()}`);
    await eventually(async () => expect((await get(STATUS_PORT, "/healthz")).status).toBe(200), 60_000);
    await eventually(async () => {
      const status = JSON.parse((await get(STATUS_PORT, "/status")).body) as {
        maintenance: Array<{ container: string; by: string }>;
      };
      expect(status.maintenance.map((m) => m.container)).toEqual([victim]);
      expect((await statsServers())[victim!]).toBe("MAINT");
      expect((await statsServers())[other!]).toBe("UP");
    }, 30_000);
    sh(`make maint C=${victim} OFF=1`);
    await eventually(async () => expect((await statsServers())[victim!]).toBe("UP"), 10_000);
    const { sent, failures } = await load.stop();
    console.log(`maintenance: MAINT ${tookMs} ms after make maint returned; ${sent} requests meanwhile`);
    expect(failures).toEqual([]);
    const records = (await changesSince(from)).filter((r) => r.kind === "maintenance" && r.container === victim);
    expect(records).toHaveLength(2);
    expect(records.map((r) => r.detail)).toEqual([
      expect.stringMatching(/^on, asked by /),
      expect.stringMatching(/^off, asked by /),
    ]);
  });

  it("dry run: on a scale step, `sidecar diff` names exactly the servers the next pass then adds and removes", async () => {
    runLabelled("hs-e2e-dry-old");
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-dry-old"), 90_000);
    // With the sidecar stopped, one container goes and another comes: the next pass is pending.
    const sidecar = compose("ps -q sidecar").trim();
    sh(`docker stop ${sidecar}`);
    sh("docker rm -f hs-e2e-dry-old");
    runLabelled("hs-e2e-dry-new");
    const ip = containerIp("hs-e2e-dry-new");
    await eventually(async () => expect((await get(3000, "/", 2_000, ip)).status).toBe(200), 30_000);
    // The same command `make render DIFF=1` runs in the sidecar, in a one-off of its service.
    const diff = compose("run --rm --no-deps -T sidecar diff").trim().split("\n");
    const from = Date.now();
    sh(`docker start ${sidecar}`);
    await eventually(async () => {
      const up = await upServers();
      expect(up).toContain("hs-e2e-dry-new");
      expect(up).not.toContain("hs-e2e-dry-old");
    }, 90_000);
    const done = (await changesSince(from))
      .filter((r) => r.kind === "server-added" || r.kind === "server-removed")
      .map((r) => `${r.kind === "server-added" ? "add" : "remove"} ${r.container}`)
      .sort();
    const said = diff
      .filter((l) => /^[+-] /.test(l))
      .map(
        (l) =>
          `${l.startsWith("+") ? "add" : "remove"} ${
            l
              .split(" ")
              .find((w) => w.includes("/"))!
              .split("/")[1]
          }`,
      )
      .sort();
    console.log(`dry run said:\n${diff.join("\n")}`);
    expect(done).toEqual(["add hs-e2e-dry-new", "remove hs-e2e-dry-old"]);
    expect(said).toEqual(done);
    expect(diff).toContain("reload: no (runtime API only)");
    sh("docker rm -f hs-e2e-dry-new");
  });
});
