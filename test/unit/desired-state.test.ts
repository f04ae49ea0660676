import { buildDesiredState, drainTimes, removedServers, sanitizeServerName } from "../../sidecar/model/desired-state";
import type { BackendSnapshot } from "../../sidecar/model/types";
import { snap } from "./fixtures";

const opts = { labelPrefix: "heig.lb", defaultService: "webapp", draining: new Set<string>() };
const serverNames = (snaps: BackendSnapshot[], draining = new Set<string>()): Record<string, string[]> =>
  Object.fromEntries(
    buildDesiredState(snaps, { ...opts, draining }).state.services.map((s) => [s.name, s.servers.map((b) => b.name)]),
  );

describe("buildDesiredState", () => {
  it("has an empty default backend when nothing runs", () => {
    expect(buildDesiredState([], opts)).toEqual({
      state: { defaultService: "webapp", services: [{ name: "webapp", sticky: false, servers: [] }] },
      excluded: [],
    });
  });

  it("builds sorted servers named after their containers, with IP, port and weight", () => {
    const result = buildDesiredState(
      [
        snap("compose_webapp_2"),
        snap("compose_webapp_1", { extraLabels: { "heig.lb.port": "8080", "heig.lb.weight": "10" } }),
      ],
      opts,
    );
    expect(result.state.services).toEqual([
      {
        name: "webapp",
        sticky: false,
        servers: [
          { name: "compose_webapp_1", sourceId: expect.any(String), address: "172.18.0.11", port: 8080, weight: 10 },
          { name: "compose_webapp_2", sourceId: expect.any(String), address: "172.18.0.12", port: 3000, weight: null },
        ],
      },
    ]);
  });

  it("gives the same output whatever the listing order", () => {
    const a = [snap("c_3"), snap("c_1"), snap("c_2", { extraLabels: { "heig.lb.backend": "api" } })];
    expect(buildDesiredState([...a].reverse(), opts)).toEqual(buildDesiredState(a, opts));
  });

  it("groups by backend label, then the source's group (compose service), then the default", () => {
    expect(
      serverNames([
        snap("a_1", { extraLabels: { "heig.lb.backend": "api" } }),
        snap("b_1", { group: "shop" }),
        snap("c_1", { group: null }),
        snap("d_1", { group: "not a backend name!" }),
      ]),
    ).toEqual({ api: ["a_1"], shop: ["b_1"], webapp: ["c_1", "d_1"] });
  });

  it.each<[string, Partial<BackendSnapshot> & { extraLabels?: Record<string, string> }, string]>([
    ["not running", { running: false }, "not-running"],
    ["paused", { paused: true }, "paused"],
    ["not on the network", { address: null }, "not-on-network"],
    ["health starting", { health: "starting" }, "health-starting"],
    ["unhealthy", { health: "unhealthy" }, "unhealthy"],
    ["a one-off run", { oneOff: true }, "one-off"],
    ["that its source says is leaving", { leaving: true }, "draining"],
    ["carrying a bad label", { extraLabels: { "heig.lb.port": "80\nserver x 1.1.1.1:80" } }, "bad-label"],
  ])("leaves out a container %s and keeps the others", (_what, over, reason) => {
    const result = buildDesiredState([snap("good_1"), snap("bad_2", over)], opts);
    expect(result.state.services[0]!.servers.map((s) => s.name)).toEqual(["good_1"]);
    expect(result.excluded).toEqual([expect.objectContaining({ name: "bad_2", reason })]);
  });

  it("routes healthy containers and those without a healthcheck", () => {
    expect(serverNames([snap("a_1", { health: "healthy" }), snap("b_2", { health: "none" })])).toEqual({
      webapp: ["a_1", "b_2"],
    });
  });

  it("leaves out draining containers that are still listed as running", () => {
    const c = snap("leaving_1");
    expect(serverNames([c, snap("staying_2")], new Set([c.id]))).toEqual({ webapp: ["staying_2"] });
  });

  it("ignores containers that did not opt in, without reporting them", () => {
    const result = buildDesiredState([snap("x_1", { labels: { "heig.lb.enable": "false" } })], opts);
    expect(result.state.services[0]!.servers).toEqual([]);
    expect(result.excluded).toEqual([]);
  });

  it("keeps server names unique", () => {
    const names = serverNames([snap("a b", { id: "1".repeat(64) }), snap("a_b", { id: "2".repeat(64) })]).webapp!;
    expect(new Set(names).size).toBe(2);
  });
});

describe("sanitizeServerName", () => {
  it.each([
    ["/compose_webapp_1", "compose_webapp_1"],
    ["with space", "with_space"],
    ["nl\nx#y", "nl_x_y"],
    ["", "unnamed"],
  ])("%j → %j", (input, out) => expect(sanitizeServerName(input)).toBe(out));
});

describe("removedServers", () => {
  it("lists the servers of the old state that the new one drops", () => {
    const prev = buildDesiredState(
      [snap("a_1"), snap("b_2"), snap("c_3", { extraLabels: { "heig.lb.backend": "api" } })],
      opts,
    ).state;
    const next = buildDesiredState([snap("a_1")], opts).state;
    expect(removedServers(prev, next)).toEqual([
      { backend: "api", server: "c_3" },
      { backend: "webapp", server: "b_2" },
    ]);
    expect(removedServers(next, prev)).toEqual([]);
  });
});

describe("buildDesiredState: names the template reserves, members HAProxy rejected", () => {
  it("skips a member whose backend name is one of the template's own proxies, and says why", () => {
    const result = buildDesiredState(
      [snap("a_1"), snap("evil_2", { extraLabels: { "heig.lb.backend": "stats" } }), snap("c_3", { group: "http" })],
      {
        ...opts,
        reservedNames: new Set(["stats", "http", "webapp"]),
      },
    );
    expect(result.state.services.map((s) => [s.name, s.servers.map((b) => b.name)])).toEqual([["webapp", ["a_1"]]]);
    expect(result.excluded).toEqual([
      expect.objectContaining({ name: "c_3", reason: "reserved-name", detail: expect.stringContaining('"http"') }),
      expect.objectContaining({ name: "evil_2", reason: "reserved-name", detail: expect.stringContaining('"stats"') }),
    ]);
  });

  it("skips a member HAProxy rejected, with HAProxy's message", () => {
    const bad = snap("bad_2");
    const result = buildDesiredState([snap("a_1"), bad], {
      ...opts,
      rejected: new Map([[bad.id, "[ALERT] parsing: slowstart"]]),
    });
    expect(result.excluded).toEqual([
      expect.objectContaining({ name: "bad_2", reason: "config-rejected", detail: "[ALERT] parsing: slowstart" }),
    ]);
  });
});

describe("traffic lifecycle labels", () => {
  it("carries slow start and drain time into each server", () => {
    const result = buildDesiredState(
      [
        snap("c_1", { extraLabels: { "heig.lb.slowstart": "30s", "heig.lb.drain": "2m" } }),
        snap("c_2", { extraLabels: { "heig.lb.drain": "0s" } }),
        snap("c_3"),
      ],
      opts,
    );
    const servers = result.state.services[0]!.servers;
    expect(servers.map((b) => [b.name, b.slowstartMs, b.drainMs])).toEqual([
      ["c_1", 30_000, 120_000],
      ["c_2", undefined, 0],
      ["c_3", undefined, undefined],
    ]);
  });

  it.each([
    ["heig.lb.slowstart", "2h"],
    ["heig.lb.drain", "10"],
  ])("skips a container whose %s is %j, naming the label, and keeps the others", (label, value) => {
    const result = buildDesiredState([snap("c_1", { extraLabels: { [label]: value } }), snap("c_2")], opts);
    expect(result.state.services[0]!.servers.map((b) => b.name)).toEqual(["c_2"]);
    expect(result.excluded).toEqual([
      {
        sourceId: expect.any(String),
        name: "c_1",
        reason: "bad-label",
        label,
        detail: expect.stringMatching(/duration/),
      },
    ]);
  });

  it("puts two compose services in one backend with their own weights (a 90/10 canary)", () => {
    const result = buildDesiredState(
      [
        snap("app_stable_1", { group: "stable", extraLabels: { "heig.lb.backend": "shop", "heig.lb.weight": "90" } }),
        snap("app_canary_1", { group: "canary", extraLabels: { "heig.lb.backend": "shop", "heig.lb.weight": "10" } }),
      ],
      opts,
    );
    const shop = result.state.services.find((s) => s.name === "shop")!;
    expect(shop.servers.map((b) => [b.name, b.weight])).toEqual([
      ["app_canary_1", 10],
      ["app_stable_1", 90],
    ]);
  });
});

describe("drainTimes", () => {
  it("gives the drain times of the servers asked for that have one", () => {
    const { state } = buildDesiredState(
      [
        snap("c_1", { extraLabels: { "heig.lb.drain": "2m" } }),
        snap("c_2", { extraLabels: { "heig.lb.drain": "0s" } }),
        snap("c_3"),
      ],
      opts,
    );
    const refs = ["c_1", "c_3", "gone_9"].map((server) => ({ backend: "webapp", server }));
    expect(drainTimes(state, refs)).toEqual(new Map([["webapp/c_1", 120_000]]));
    expect(drainTimes(state, [{ backend: "webapp", server: "c_2" }])).toEqual(new Map([["webapp/c_2", 0]]));
  });
});
