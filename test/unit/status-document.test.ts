/** /status with several HAProxy replicas: one entry each, and each one's status of every server. */
import type { ReplicaView } from "../../sidecar/apply/replica-state";
import { statusDocument } from "../../sidecar/status/status-server";
import { Metrics } from "../../sidecar/status/metrics";
import { NOW, healthyLoop } from "./status-fixture";

const routedLoop = {
  ...healthyLoop,
  last: {
    ...healthyLoop.last!,
    ok: true as const,
    outcome: { kind: "unchanged" as const },
    state: {
      defaultService: "webapp",
      services: [
        {
          name: "webapp",
          sticky: false,
          servers: [{ name: "web_1", sourceId: "c1", address: "10.0.0.2", port: 3000, weight: null }],
        },
      ],
    },
    excluded: [{ sourceId: "c2", name: "web_2", reason: "not-listening" as const }],
    awaitingReadiness: 0,
    drainPanic: [],
  },
};

const replicas: ReplicaView[] = [
  {
    replica: "1",
    container: "hs_ha_1",
    containerId: "h1",
    state: "in-sync",
    reason: null,
    configId: "cfg",
    digest: "0123456789abcdef",
    confirmedAt: NOW - 500,
  },
  {
    replica: "2",
    container: "hs_ha_2",
    containerId: "h2",
    state: "diverged",
    reason: "webapp/web_1 not routed (missing or in maintenance)",
    configId: "cfg",
    digest: "fedcba9876543210",
    confirmedAt: null,
  },
];

const view = (statuses: Array<{ replica: string; statuses: ReadonlyMap<string, string> | null }>) => ({
  loop: () => routedLoop,
  replicas: () => replicas,
  replicaStatuses: async () => statuses,
  metrics: new Metrics(),
  changes: { query: () => [] },
  staleAfterMs: 60_000,
  clock: { now: () => NOW },
});

describe("statusDocument with replicas", () => {
  it("has one entry per replica: its state, why, config id, digest and last confirmation", async () => {
    const doc = (await statusDocument(
      view([
        { replica: "1", statuses: new Map([["webapp/web_1", "UP"]]) },
        { replica: "2", statuses: new Map([["webapp/web_1", "MAINT"]]) },
      ]),
    )) as Record<string, unknown>;
    expect(doc["haproxyReachable"]).toBe(true);
    expect(doc["replicas"]).toEqual([
      {
        replica: "1",
        container: "hs_ha_1",
        state: "in-sync",
        reason: null,
        configId: "cfg",
        digest: "0123456789abcdef",
        confirmedAt: new Date(NOW - 500).toISOString(),
      },
      {
        replica: "2",
        container: "hs_ha_2",
        state: "diverged",
        reason: "webapp/web_1 not routed (missing or in maintenance)",
        configId: "cfg",
        digest: "fedcba9876543210",
        confirmedAt: null,
      },
    ]);
    expect(doc["backends"]).toMatchObject([
      { container: "web_1", haproxy: "UP", replicas: { "1": "UP", "2": "MAINT" } },
      { container: "web_2", haproxy: null, replicas: { "1": null, "2": null } },
    ]);
  });

  it("is unreachable while one replica does not answer, and takes the status from one that does", async () => {
    const doc = (await statusDocument(
      view([
        { replica: "1", statuses: null },
        { replica: "2", statuses: new Map([["webapp/web_1", "UP"]]) },
      ]),
    )) as Record<string, unknown>;
    expect(doc["haproxyReachable"]).toBe(false);
    expect(doc["backends"]).toMatchObject([
      { container: "web_1", haproxy: "UP", replicas: { "1": null, "2": "UP" } },
      { container: "web_2" },
    ]);
  });
});
