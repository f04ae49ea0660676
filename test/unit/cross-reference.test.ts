import { buildCrossReference } from "../../sidecar/status/cross-reference";
import type { SyncResult } from "../../sidecar/reconcile/types";

const backend = (name: string, address: string) => ({
  name,
  sourceId: `id-${name}`,
  address,
  port: 3000,
  weight: null,
});

describe("buildCrossReference", () => {
  it("shows a container held until it listens with its server and HAProxy's status, as not listening", () => {
    const last: SyncResult = {
      ok: true,
      at: 0,
      outcome: { kind: "unchanged" },
      state: {
        defaultService: "webapp",
        services: [{ name: "webapp", sticky: false, servers: [backend("w1", "10.0.0.1")] }],
        held: [{ name: "webapp", sticky: false, servers: [{ ...backend("w2", "10.0.0.2"), held: true }] }],
      },
      excluded: [
        { sourceId: "id-w2", name: "w2", reason: "not-listening" },
        { sourceId: "id-w3", name: "w3", reason: "not-listening" },
      ],
      awaitingReadiness: 2,
      drainPanic: [],
    };
    const statuses = new Map([
      ["webapp/w1", "UP"],
      ["webapp/w2", "MAINT"],
    ]);
    const rows = buildCrossReference(last, null, [{ replica: "1", statuses }]);
    expect(rows.map((r) => [r.container, r.docker, r.server, r.haproxy, r.replicas["1"], r.detail])).toEqual([
      ["w1", "routed", "w1", "UP", "UP", null],
      ["w2", "not-listening", "w2", "MAINT", "MAINT", "in HAProxy, in maintenance until it listens"],
      ["w3", "not-listening", null, null, null, null],
    ]);
  });
});
