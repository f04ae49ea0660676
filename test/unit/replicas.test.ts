import type { ReplicaContainerState } from "../../sidecar/haproxy/replica-source";
import { pickReplicas, replicaSockets, type ReplicaCandidate } from "../../sidecar/haproxy/replicas";

const KEY = "heig.lb.replica";
const ha = (name: string, replica?: string, state: ReplicaContainerState = "running"): ReplicaCandidate => ({
  containerId: `id-${name}`,
  container: name,
  state,
  labels: { "heig.lb.role": "haproxy", ...(replica === undefined ? {} : { [KEY]: replica }) },
});
/** `index container [labelled] [state]` per replica, to compare listings at a glance. */
const short = (l: ReturnType<typeof pickReplicas>): string[] =>
  l.replicas.map(
    (r) => `${r.index} ${r.container}${r.labelled ? " labelled" : ""}${r.state === "running" ? "" : ` ${r.state}`}`,
  );

describe("pickReplicas (pure)", () => {
  it.each<[string, ReplicaCandidate[], string[], string[]]>([
    ["no HAProxy container", [], [], []],
    ["today's single ha, unlabelled: replica 1", [ha("hs_ha_1")], ["1 hs_ha_1"], []],
    [
      "labelled replicas, by number whatever the listing's order",
      [ha("hs_ha_3", "3"), ha("hs_ha_1", "1"), ha("hs_ha_2", "2", "paused")],
      ["1 hs_ha_1 labelled", "2 hs_ha_2 labelled paused", "3 hs_ha_3 labelled"],
      [],
    ],
    [
      "a label that is no replica number leaves that one container out, and says why",
      [ha("hs_ha_1", "1"), ha("hs_ha_x", "two"), ha("hs_ha_0", "0"), ha("hs_ha_big", "100")],
      ["1 hs_ha_1 labelled"],
      [
        'hs_ha_x: label heig.lb.replica="two" is not a number from 1 to 99',
        'hs_ha_0: label heig.lb.replica="0" is not a number from 1 to 99',
        'hs_ha_big: label heig.lb.replica="100" is not a number from 1 to 99',
      ],
    ],
    [
      "two claiming one number: a running one wins, then the name that sorts first; never two on one socket",
      [ha("b_ha", "2"), ha("a_ha", "2", "exited"), ha("c_ha", "2")],
      ["2 b_ha labelled"],
      ["c_ha: replica 2 is already b_ha", "a_ha: replica 2 is already b_ha"],
    ],
    [
      "an unlabelled container and one labelled 1 are the same replica",
      [ha("hs_ha_1"), ha("hs_ha_1b", "1")],
      ["1 hs_ha_1"],
      ["hs_ha_1b: replica 1 is already hs_ha_1"],
    ],
  ])("%s", (_case, candidates, replicas, skipped) => {
    const listing = pickReplicas(candidates, KEY);
    expect(short(listing)).toEqual(replicas);
    expect(listing.skipped).toEqual(skipped);
  });
});

describe("replicaSockets (pure)", () => {
  const flat = { runtime: "/var/lib/ha-sidecar/run/admin.sock", master: "/var/lib/ha-sidecar/run/master.sock" };
  it.each<[string, { index: number; labelled: boolean }, { runtime: string; master: string }]>([
    ["an unlabelled replica keeps today's flat paths", { index: 1, labelled: false }, flat],
    [
      "replica 1, labelled: a directory of its own",
      { index: 1, labelled: true },
      { runtime: "/var/lib/ha-sidecar/run/1/admin.sock", master: "/var/lib/ha-sidecar/run/1/master.sock" },
    ],
    [
      "replica 12",
      { index: 12, labelled: true },
      { runtime: "/var/lib/ha-sidecar/run/12/admin.sock", master: "/var/lib/ha-sidecar/run/12/master.sock" },
    ],
  ])("%s", (_case, replica, sockets) => {
    expect(replicaSockets(replica, flat)).toEqual(sockets);
  });
});
