import { convergence, haproxyUp, heldReadies, httpLogRoute } from "../../bench/measure";
import type { Sample } from "../../bench/load";

const hit = (ip: string, sentMs: number, tookMs = 5): Sample => ({
  sentMs,
  doneMs: sentMs + tookMs,
  ok: true,
  ip,
  kind: "new-connection",
});

describe("the benchmark's convergence numbers", () => {
  it("measures a start to the first answer from its own address, not from a later container that reuses it", () => {
    const starts = [
      // In a backend the load never reaches: never answers. Its address goes to a later webapp.
      { id: "a", name: "structural", step: "s1", startedAtMs: 1_000, ip: "10.0.0.9", listeningAtMs: 1_200 },
      { id: "b", name: "webapp_3", step: "s2", startedAtMs: 9_000, ip: "10.0.0.9", listeningAtMs: 9_300 },
    ];
    const c = convergence([hit("10.0.0.9", 9_400)], starts, []);
    expect(c.unobservedStarts).toEqual(["structural"]);
    expect(c.startToFirstResponseByStepMs).toEqual({ s2: expect.objectContaining({ n: 1, p50: 405 }) });
    expect(c.listeningToFirstResponseMs.p50).toBe(105);
  });

  it("reads the request date, backend and server of HAProxy's httplog lines", () => {
    const line =
      '172.18.0.1:41234 [02/Dec/2026:15:20:44.731] http webapp/hs-webapp-3 0/0/1/2/3 200 180 - - ---- 9/9/0/0/0 0/0 "GET / HTTP/1.1"';
    expect(httpLogRoute(line)).toEqual({
      backend: "webapp",
      server: "hs-webapp-3",
      atMs: Date.UTC(2026, 11, 2, 15, 20, 44, 731),
    });
    expect(httpLogRoute("[NOTICE]   (1) : haproxy version is 3.0.11")).toBeNull();
    expect(httpLogRoute(line.replace("Dec", "Xyz"))).toBeNull();
  });

  it("reads when HAProxy put a server UP from its own messages, with Docker's timestamp", () => {
    const up =
      "2026-12-02T18:16:22.076339917Z [WARNING]  (21) : Server webapp/hsbench_webapp_3 is UP/READY (leaving forced maintenance).";
    expect(haproxyUp(up)).toEqual({ name: "hsbench_webapp_3", atMs: Date.UTC(2026, 11, 2, 18, 16, 22) + 76.339917 });
    expect(haproxyUp(up.replace("webapp/", "other/"))).toBeNull();
    expect(
      haproxyUp(
        "2026-12-02T18:16:39.328621324Z [WARNING]  (21) : Server webapp/hsbench_webapp_7 is going DOWN for maintenance.",
      ),
    ).toBeNull();
    expect(haproxyUp("Server webapp/x is UP")).toBeNull(); // no timestamp
  });

  it("tells HAProxy's routing apart from the load's sampling and a slow first answer", () => {
    const starts = [
      { id: "a", name: "webapp_4", step: "burst", startedAtMs: 1_000, ip: "10.0.0.4", listeningAtMs: 3_000 },
    ];
    // HAProxy routed a keep-alive request there 40 ms after the app listened; the first request
    // that tells (a new connection) was sent at 3,100 and the cold app took 400 ms to answer it.
    const c = convergence([hit("10.0.0.4", 3_100, 400)], starts, [], [], [{ name: "webapp_4", atMs: 3_040 }]);
    expect(c.listeningToFirstResponseMs.p50).toBe(500);
    expect(c.listeningToFirstRoutedByStepMs).toEqual({ burst: expect.objectContaining({ n: 1, p50: 40 }) });
  });

  it("says how long HAProxy took from the sidecar's ready to its first request, start by start", () => {
    const starts = [
      { id: "a", name: "webapp_4", step: "burst", startedAtMs: 1_000, ip: "10.0.0.4", listeningAtMs: 3_000 },
      { id: "b", name: "webapp_5", step: "burst", startedAtMs: 1_000, ip: "10.0.0.5", listeningAtMs: 3_500 },
    ];
    const readies = [
      { name: "webapp_4", atMs: 2_990 }, // a busy app logs its listen after the probe found it
      { name: "webapp_5", atMs: 3_520 },
    ];
    const routes = [
      { name: "webapp_4", atMs: 3_130 },
      { name: "webapp_5", atMs: 3_530 },
    ];
    const ups = [{ name: "webapp_4", atMs: 2_992 }];
    const c = convergence([hit("10.0.0.4", 3_200, 50), hit("10.0.0.5", 3_600, 50)], starts, [], readies, routes, ups);
    expect(c.listeningToUpMs).toEqual(expect.objectContaining({ n: 1, p50: -8 }));
    expect(c.heldThenReady.readyToFirstRoutedMs).toEqual(expect.objectContaining({ n: 2, max: 140 }));
    expect(c.starts).toEqual([
      {
        name: "webapp_4",
        step: "burst",
        listeningAfterStartMs: 2_000,
        readyMs: -10,
        upMs: -8,
        routedMs: 130,
        firstResponseMs: 250,
      },
      {
        name: "webapp_5",
        step: "burst",
        listeningAfterStartMs: 2_500,
        readyMs: 20,
        upMs: null,
        routedMs: 30,
        firstResponseMs: 150,
      },
    ]);
  });

  it("reads the sidecar's held-then-ready lines and matches each to its own start", () => {
    const log = [
      '{"level":30,"time":3050,"servers":["webapp/hs-webapp-4","webapp/hs-webapp-5"],"msg":"held servers ready"}',
      "not json",
      '{"level":30,"time":3100,"msg":"pass"}',
      '{"level":30,"time":9060,"servers":["webapp/hs-webapp-4"],"msg":"held servers ready"}',
    ].join("\n");
    const readies = heldReadies(log);
    expect(readies).toEqual([
      { name: "hs-webapp-4", atMs: 3050 },
      { name: "hs-webapp-5", atMs: 3050 },
      { name: "hs-webapp-4", atMs: 9060 },
    ]);
    const starts = [
      { id: "a", name: "hs-webapp-4", step: "s1", startedAtMs: 1_000, ip: "10.0.0.4", listeningAtMs: 3_000 },
      { id: "b", name: "hs-webapp-6", step: "s1", startedAtMs: 1_000, ip: "10.0.0.6", listeningAtMs: 3_000 },
      { id: "c", name: "hs-webapp-4", step: "s2", startedAtMs: 8_000, ip: "10.0.0.7", listeningAtMs: 9_000 },
    ];
    const hits = [hit("10.0.0.4", 3_060), hit("10.0.0.6", 3_200), hit("10.0.0.7", 9_070)];
    const c = convergence(hits, starts, [], readies);
    // hs-webapp-6 was routed by its pass: not held.
    expect(c.heldThenReady.of).toBe(3);
    expect(c.heldThenReady.listeningToReadyMs).toEqual(expect.objectContaining({ n: 2, p50: 50, max: 60 }));
    expect(Object.keys(c.heldThenReady.listeningToReadyByStepMs)).toEqual(["s1", "s2"]);
  });
});
