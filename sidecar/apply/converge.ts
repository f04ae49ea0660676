import type { Logger } from "pino";
import { toError } from "../lib/errors";
import type { ServerRef } from "../model/types";
import type { Rendered } from "../render/render";
import type { ConfigStore } from "./config-file";
import type { Member } from "./fleet";
import type { LiveFile, Rejection } from "./live-file";
import { runtimeDrift, withReadied } from "./runtime-plan";
import { keepServerState } from "./server-state";
import type { EarlyChanges, ReadBack, ReplicaOutcome } from "./target";

/** What bringing replicas to a render works with: the files on the shared volume. */
export interface ConvergePorts {
  /** The live haproxy.cfg every replica loads. */
  readonly live: LiveFile;
  /** The server-state file a replica's next worker loads. */
  readonly serverState: ConfigStore;
  readonly log: Logger;
  /** False: never the runtime API, a reload for every change. */
  readonly runtimeApi: boolean;
  /** What the fast paths did that no pass has taken in yet (see EarlyChanges). */
  readonly early?: () => EarlyChanges;
}

/** What bringing replicas to a render did: each one's outcome and read back, and the file. */
export interface Converged {
  readonly outcomes: ReadonlyMap<Member, ReplicaOutcome>;
  readonly reads: ReadonlyMap<Member, ReadBack | null>;
  readonly written: boolean;
  /** The file follows in the background: no replica needed a reload. */
  readonly background: boolean;
}

/**
 * Pure: whether a replica already runs `rendered`: its structure (config id) and its servers (the
 * id alone says nothing about them). With the runtime API on, drained servers waiting for their
 * deletion may linger; without it, nothing deletes them but a reload: the servers must match exactly.
 */
export function runsAlready(read: ReadBack, rendered: Rendered, exact: boolean): boolean {
  if (read.configId !== rendered.configId) return false;
  if (exact && [...read.servers.keys()].some((key) => !rendered.servers.has(key))) return false;
  return runtimeDrift(rendered.servers, read.servers).length === 0;
}

/**
 * Brings `members` (running replicas) to `rendered`, collecting each one's outcome: the runtime
 * API where a replica runs the render's structure, all of them at once (the file then follows in
 * the background); if any needs a reload, the file is written once (staged, `haproxy -c`, the
 * leavers drained on those replicas and the first one's state saved, renamed), then they are
 * reloaded one at a time, the next signalled once the previous one confirmed (or gave up).
 * A render `haproxy -c` refuses is returned as such, nothing reloaded.
 */
export async function converge(
  ports: ConvergePorts,
  members: readonly Member[],
  rendered: Rendered,
  leaving: readonly ServerRef[],
): Promise<Converged | Rejection> {
  const { live, log } = ports;
  const outcomes = new Map<Member, ReplicaOutcome>();
  const reads = new Map<Member, ReadBack | null>();
  const toReload: Array<{ m: Member; fallback: string | null; sameStructure: boolean }> = [];
  await Promise.all(
    members.map(async (m) => {
      // On the runtime path its servers are read beside its config id, not after it.
      const [info, servers] = await Promise.all([
        m.target.info(),
        ports.runtimeApi ? m.target.servers().catch(() => undefined) : undefined,
      ]);
      const sameStructure = info?.configId === rendered.configId;
      let fallback: string | null = null;
      if (ports.runtimeApi && info !== null && sameStructure) {
        try {
          const done = await m.target.applyAtRuntime(rendered, ports.early, servers);
          outcomes.set(m, done.changed ? { kind: "runtime", result: done.result } : { kind: "unchanged" });
          reads.set(m, { ...info, servers: done.servers });
          return;
        } catch (err) {
          // Anything off (a refused command, servers that do not read back as wanted): a reload
          // of the validated file converges whatever state HAProxy is in.
          fallback = toError(err).message;
          log.warn({ err: toError(err), replica: m.name }, "runtime apply failed, reloading instead");
        }
      }
      toReload.push({ m, fallback, sameStructure });
    }),
  );
  if (toReload.length === 0) {
    const written = (await live.current()).sha !== rendered.sha256;
    if (written) live.writeInBackground(rendered);
    return { outcomes, reads, written, background: true };
  }
  toReload.sort((a, b) => a.m.replica.index - b.m.replica.index);
  const saved = new Set<Member>();
  await live.idle();
  const write = await live.write(rendered, async () => {
    if (leaving.length > 0) await Promise.all(toReload.map(({ m }) => drain(log, m, leaving)));
    const first = toReload[0]!.m;
    await saveServerState(ports, first, rendered);
    saved.add(first);
  });
  if (typeof write !== "string") return write;
  const written = write === "written";
  for (const { m, fallback, sameStructure } of toReload) {
    try {
      // After a failed runtime apply, only a reload is sure to converge.
      const read = fallback === null && sameStructure ? await m.target.readBack() : null;
      if (read !== null && runsAlready(read, rendered, !ports.runtimeApi)) {
        outcomes.set(m, written ? { kind: "reloaded", signals: 0, fallback } : { kind: "unchanged" });
        reads.set(m, read);
        continue;
      }
      if (!saved.has(m)) await saveServerState(ports, m, rendered);
      const signals = await m.target.reload(rendered.configId);
      if (signals === "gone") {
        outcomes.set(m, { kind: "skipped", reason: "container gone" });
        reads.set(m, null);
        continue;
      }
      outcomes.set(m, { kind: "reloaded", signals, fallback });
      reads.set(m, await m.target.readBack());
    } catch (err) {
      outcomes.set(m, { kind: "failed", error: toError(err) });
      reads.set(m, null);
    }
  }
  return { outcomes, reads, written, background: false };
}

async function drain(log: Logger, m: Member, leaving: readonly ServerRef[]): Promise<void> {
  try {
    await m.target.drain(leaving);
  } catch (err) {
    // HAProxy not reachable: the reload still takes the servers out of the new worker, but
    // old workers may send them requests until they finish.
    log.warn({ err: toError(err), replica: m.name, servers: leaving.length }, "servers not drained before reload");
  }
}

/** The state `m` runs now, for its next worker: `show servers state`, kept to what `rendered` keeps. */
async function saveServerState(ports: ConvergePorts, m: Member, rendered: Rendered): Promise<void> {
  try {
    // A held server readied early is wanted routed: its maintenance is not kept.
    const dump = keepServerState(
      await m.target.serverStateDump(),
      withReadied(rendered, ports.early?.().readied ?? new Set()),
    );
    await ports.serverState.commit(await ports.serverState.stage(dump));
  } catch (err) {
    // Without a saved state the new worker starts its servers fresh: worth a warning, not a stop.
    ports.log.warn({ err: toError(err), replica: m.name }, "server state not saved before reload");
  }
}
