/** Pure: which containers are which HAProxy replica, and where each one's sockets are. */
import * as path from "node:path";
import type { HaproxyReplica, ReplicaContainerState, ReplicaListing } from "./replica-source";

/** A replica number: 1 to 99 (a label of digits, no leading zero). */
const REPLICA_RE = /^[1-9][0-9]?$/;

/** A container that carries the role label, before its replica label is read. */
export interface ReplicaCandidate {
  readonly containerId: string;
  readonly container: string;
  readonly state: ReplicaContainerState;
  readonly labels: Readonly<Record<string, string>>;
}

/** A runtime socket and a master socket. */
export interface ReplicaSockets {
  readonly runtime: string;
  readonly master: string;
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Pure: the replicas among `candidates`, by their replica label `key` (`heig.lb.replica`). A
 * container without the label is replica 1 (today's single `ha`). A label that is not a number
 * from 1 to 99 leaves that one container out, said in `skipped`; so does a second container
 * claiming a number already taken (a running one wins over one that is not, then the name that
 * sorts first): two HAProxy processes must never share a socket.
 */
export function pickReplicas(candidates: readonly ReplicaCandidate[], key: string): ReplicaListing {
  const skipped: string[] = [];
  const byIndex = new Map<number, HaproxyReplica[]>();
  for (const c of candidates) {
    const label = c.labels[key];
    if (label !== undefined && !REPLICA_RE.test(label)) {
      skipped.push(`${c.container}: label ${key}=${JSON.stringify(label.slice(0, 32))} is not a number from 1 to 99`);
      continue;
    }
    const index = label === undefined ? 1 : Number(label);
    const replica = {
      index,
      labelled: label !== undefined,
      containerId: c.containerId,
      container: c.container,
      state: c.state,
    };
    byIndex.set(index, [...(byIndex.get(index) ?? []), replica]);
  }
  const replicas: HaproxyReplica[] = [];
  for (const index of [...byIndex.keys()].sort((a, b) => a - b)) {
    const [first, ...others] = byIndex
      .get(index)!
      .sort(
        (a, b) =>
          Number(b.state === "running") - Number(a.state === "running") ||
          compareText(a.container, b.container) ||
          compareText(a.containerId, b.containerId),
      );
    replicas.push(first!);
    for (const o of others) skipped.push(`${o.container}: replica ${index} is already ${first!.container}`);
  }
  return { replicas, skipped };
}

/**
 * Pure: a replica's sockets on the shared volume. A labelled replica k has a directory of its
 * own beside the flat sockets, `<run dir>/<k>/admin.sock` and `<run dir>/<k>/master.sock`; an
 * unlabelled one (today's single `ha`) uses the flat paths themselves.
 */
export function replicaSockets(
  replica: Pick<HaproxyReplica, "index" | "labelled">,
  flat: ReplicaSockets,
): ReplicaSockets {
  if (!replica.labelled) return flat;
  const inDir = (file: string): string => path.join(path.dirname(file), String(replica.index), path.basename(file));
  return { runtime: inDir(flat.runtime), master: inDir(flat.master) };
}
