/**
 * Serf as a health cross-reference, and the operator's view: the status page in headless
 * Chromium, /status, /healthz, /metrics, sticky sessions, the one-shot render.
 */
import { mkdirSync } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { chromium } from "playwright-core";
import {
  compose,
  eventually,
  get,
  HTTP_PORT,
  liveConfig,
  removeTestLeftovers,
  ROOT,
  runLabelled,
  serviceContainers,
  sh,
  sidecarLogs,
  signalSerf,
  spread,
  STATS_PORT,
  statsServers,
  STATUS_PORT,
} from "./helpers";

jest.setTimeout(300_000);

interface Row {
  container: string;
  docker: string;
  serf: string | null;
  haproxy: string | null;
}
const status = async (): Promise<{ serf: { reachable: boolean }; backends: Row[] }> => {
  const r = await get(STATUS_PORT, "/status");
  if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
  return JSON.parse(r.body);
};
const row = async (container: string): Promise<Row | undefined> =>
  (await status()).backends.find((b) => b.container === container);

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("make up N=3");
  await eventually(async () => {
    const rows = (await status()).backends;
    expect(rows.map((r) => [r.container, r.docker, r.serf, r.haproxy])).toEqual(
      serviceContainers("webapp").map((n) => [n, "routed", "alive", "UP"]),
    );
    expect(rows).toHaveLength(3);
  }, 90_000);
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

describe("Serf cross-reference", () => {
  it("takes a backend whose Serf agent stopped out of rotation, the others keep serving, and it returns", async () => {
    const [, victim] = serviceContainers("webapp");
    signalSerf(victim!, "STOP");
    try {
      await eventually(
        async () => expect(await row(victim!)).toMatchObject({ docker: "serf-failed", serf: "failed", haproxy: null }),
        60_000,
      );
      expect(Object.keys(await statsServers())).not.toContain(victim);
      const { ips, failures } = await spread(12);
      expect(failures).toEqual([]);
      expect(ips.size).toBe(2);
    } finally {
      signalSerf(victim!, "CONT");
    }
    // Thawed, it refutes its death as soon as a peer reaches it again: every agent retries its
    // failed members every second (reconnect_interval), not every 30 s with odds failed/alive.
    const thawedAt = Date.now();
    await eventually(
      async () => expect(await row(victim!)).toMatchObject({ docker: "routed", serf: "alive", haproxy: "UP" }),
      20_000,
    );
    console.log(`serf agent thawed: back in rotation ${Date.now() - thawedAt} ms later`);
  });
});

describe("Serf supervision", () => {
  it("restarts a webapp's Serf agent that dies, and the member comes back alive", async () => {
    const [target] = serviceContainers("webapp");
    const serfPid = (): string => sh(`docker top ${target} -eo pid,comm | awk '$2 == "serf" { print $1 }'`).trim();
    const before = serfPid();
    expect(before).toMatch(/^\d+$/);
    sh(`kill -KILL ${before}`);
    await eventually(() => expect(serfPid()).toMatch(/^\d+$/), 30_000);
    expect(serfPid()).not.toBe(before);
    await eventually(
      async () => expect(await row(target!)).toMatchObject({ docker: "routed", serf: "alive", haproxy: "UP" }),
      60_000,
    );
  });
});

describe("the operator's view", () => {
  it("serves /healthz and Prometheus /metrics", async () => {
    const health = await get(STATUS_PORT, "/healthz");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ ok: true, reasons: [] });
    const metrics = (await get(STATUS_PORT, "/metrics")).body;
    expect(metrics).toMatch(/^ha_sidecar_reloads_total \d+$/m);
    expect(metrics).toMatch(/^ha_sidecar_runtime_changes_total\{change="added"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ha_sidecar_backends\{state="routed"\} 3$/m);
    expect(metrics).toMatch(/^ha_sidecar_event_stream_connected 1$/m);
  });

  it("counts Docker events in /metrics", async () => {
    runLabelled("hs-e2e-metrics");
    await eventually(async () =>
      expect((await get(STATUS_PORT, "/metrics")).body).toMatch(
        /^ha_sidecar_docker_events_total\{action="start"\} [1-9]\d*$/m,
      ),
    );
    sh("docker rm -f hs-e2e-metrics");
  });

  it("shows the cross-reference table in a browser page that refreshes itself", async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 420 } });
      await page.goto(`http://127.0.0.1:${STATUS_PORT}/`);
      await page.waitForFunction("document.querySelectorAll('#rows tr').length === 3");
      const cells = await page.$$eval("#rows tr", (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
      );
      expect(cells.map((c) => [c[0], c[3], c[4], c[5]])).toEqual(
        serviceContainers("webapp").map((n) => [n, "routed", "alive", "UP"]),
      );
      expect(await page.textContent("#meta")).toContain("Docker events: connected");
      // It refreshes by itself: a new container shows up without a reload of the page.
      runLabelled("hs-e2e-page");
      await page.waitForFunction(
        "[...document.querySelectorAll('#rows td')].some((td) => td.textContent === 'hs-e2e-page')",
        undefined,
        { timeout: 60_000 },
      );
      mkdirSync(path.join(ROOT, "test-output"), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, "test-output/status-page.png") });
    } finally {
      await browser.close();
      sh("docker rm -f hs-e2e-page");
    }
  });

  it("keeps a client on its server with heig.lb.sticky=true, so sessionViews keeps counting", async () => {
    for (const n of [1, 2, 3])
      runLabelled(`hs-e2e-sticky-${n}`, "--label heig.lb.backend=sticky --label heig.lb.sticky=true");
    await eventually(
      async () => expect(Object.values(await statsServers("sticky"))).toEqual(["UP", "UP", "UP"]),
      60_000,
    );
    expect(liveConfig()).toContain("cookie SERVERID insert indirect nocache");
    let cookie = "";
    const views: number[] = [];
    const ips = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await new Promise<{ body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
        http
          .get(
            { host: "127.0.0.1", port: HTTP_PORT, path: "/", agent: false, headers: { host: "sticky", cookie } },
            (res) => {
              let body = "";
              res.on("data", (c) => (body += c));
              res.on("end", () => resolve({ body, headers: res.headers }));
            },
          )
          .on("error", reject);
      });
      const set = (r.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]);
      if (set.length > 0)
        cookie = [
          ...new Map([...cookie.split("; ").filter(Boolean), ...set].map((c) => [c!.split("=")[0], c!])).values(),
        ].join("; ");
      views.push(JSON.parse(r.body).sessionViews);
      ips.add(String(r.headers["x-backend-ip"]));
    }
    expect(views).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ips.size).toBe(1);
    sh("docker rm -f hs-e2e-sticky-1 hs-e2e-sticky-2 hs-e2e-sticky-3");
  });

  it("prints the config it would write in one-shot mode, writing nothing", () => {
    const before = liveConfig();
    const printed = compose("exec -T sidecar node /app/sidecar.js render");
    for (const n of serviceContainers("webapp")) expect(printed).toContain(`server ${n} `);
    expect(liveConfig()).toBe(before);
  });
});

describe("stats page credentials", () => {
  it("protects the stats page when LB_STATS_USER and LB_STATS_PASSWORD are set", async () => {
    sh("LB_STATS_USER=ops LB_STATS_PASSWORD=s3cret docker-compose up -d sidecar");
    try {
      await eventually(async () => expect((await get(STATS_PORT, "/;csv")).status).toBe(401), 60_000);
      const authed = await new Promise<number>((resolve, reject) => {
        http
          .get(
            {
              host: "127.0.0.1",
              port: STATS_PORT,
              path: "/;csv",
              agent: false,
              auth: "ops:s3cret",
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on("error", reject);
      });
      expect(authed).toBe(200);
    } finally {
      sh("docker-compose up -d sidecar");
    }
    await eventually(async () => expect((await get(STATS_PORT, "/;csv")).status).toBe(200), 60_000);
  });
});

describe("without Serf", () => {
  it("keeps routing on Docker's view when the whole Serf cluster is gone, and says so once", async () => {
    // Frozen, not stopped: `make scale` (docker-compose up) would start a stopped seed again.
    const frozen = [...serviceContainers("serf"), ...serviceContainers("webapp")];
    for (const c of frozen) signalSerf(c, "STOP");
    try {
      sh("make scale N=4");
      await eventually(async () => {
        const s = await status();
        expect(s.serf.reachable).toBe(false);
        expect(s.backends.filter((b) => b.docker === "routed")).toHaveLength(4);
      }, 90_000);
      await eventually(
        async () => expect(Object.values(await statsServers())).toEqual(["UP", "UP", "UP", "UP"]),
        60_000,
      );
      expect((await spread(8)).failures).toEqual([]);
      expect(sidecarLogs("serf unreachable, routing on Docker's view alone")).toHaveLength(1);
    } finally {
      for (const c of frozen) signalSerf(c, "CONT");
    }
  });
});
