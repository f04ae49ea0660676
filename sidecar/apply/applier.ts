import type { Logger } from "pino";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import { serverIdsOf, type ServerIds } from "../model/server-ids";
import type { ServerRef } from "../model/types";
import { renderedOfText, type Rendered } from "../render/render";
import type { ConfigStore } from "./config-file";
import { converge, type Converged } from "./converge";
import type { Fleet, Member } from "./fleet";
import type { LiveFile, Rejection } from "./live-file";
import { fleetOutcome, type ApplyOutcome } from "./outcome";
import type { EarlyChanges, ReplicaOutcome } from "./target";

/** What the applier works with: the files on the shared volume and the HAProxy replicas. */
export interface ApplierPorts {
  /** The live haproxy.cfg every replica loads (staged, validated, renamed). */
  readonly live: LiveFile;
  /** The server-state file a replica's next worker loads (`server-state-file`). */
  readonly serverState: ConfigStore;
  readonly fleet: Fleet;
}

export interface ApplierOptions {
  readonly clock: Pick<Clock, "now">;
  /** False: never use the runtime API, reload for every change. */
  readonly runtimeApi?: boolean;
}

/**
 * The one door to HAProxy: applies a render to every replica in the order that loses nothing.
 * A replica that runs the render's structure (same config id) takes membership through the
 * runtime API (no reload), all of them at once, and the file follows in the background,
 * validated off the critical path. Otherwise the text is staged beside the live file,
 * validated, renamed over it (once for the fleet), and the replicas that need it are reloaded
 * one at a time, each only done once it reports the new config id. Every replica's outcome is
 * collected: one that fails never stops the others. A rejected text is not tried again.
 * Applies and repairs never overlap (exclusive).
 */
export class Applier {
  /** Rejections already reported once. */
  private readonly reported = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private wanted: Rendered | null = null;

  constructor(
    private readonly ports: ApplierPorts,
    private readonly log: Logger,
    private readonly opts: ApplierOptions,
  ) {}

  /** What the replicas are to run: the last render applied, or the live file's after a rejection. */
  get desired(): Rendered | null {
    return this.wanted;
  }

  /**
   * The server ids the replicas run, or are being brought to: the desired render's, else (a
   * sidecar that just started) the live file's. A next render keeps them: the runtime API cannot
   * renumber a running server (see assignServerIds).
   */
  async runningIds(): Promise<ServerIds> {
    if (this.wanted !== null) return serverIdsOf(this.wanted.servers.values());
    const { text } = await this.ports.live.current();
    return text === null ? new Map() : serverIdsOf(renderedOfText(text).servers.values());
  }

  /** Runs `work` once no apply or repair is under way: one writer to HAProxy at a time. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * @param leaving servers the new config drops: set to maintenance in every running worker of
   *   each replica before its reload (the runtime path works them out itself).
   */
  apply(
    rendered: Rendered,
    leaving: readonly ServerRef[] = [],
    replicas: Promise<readonly Member[]> = this.listReplicas(),
  ): Promise<ApplyOutcome> {
    return this.exclusive(() => this.applyNow(rendered, leaving, replicas));
  }

  /**
   * Lists the HAProxy replicas again, for an apply: a pass asks for it as it starts, so that this
   * Docker call, and the read of what each replica runs, go on beside its listing and render
   * instead of after them. The last listing serves while Docker does not answer (a reload to a
   * replica gone fails alone).
   */
  listReplicas(): Promise<readonly Member[]> {
    const { fleet } = this.ports;
    // What each replica runs is read beside the listing and render too (see HaproxyTarget.readAhead).
    for (const m of fleet.members) if (m.running) m.target.readAhead?.(this.opts.runtimeApi !== false);
    const listed = fleet.refresh().catch((err: unknown) => {
      if (fleet.members.length === 0) throw err;
      this.log.warn({ err: toError(err) }, "haproxy replicas not listed, using the last listing");
      return fleet.members;
    });
    // Handled by whoever awaits it; a pass that ends before its apply leaves no rejection unhandled.
    listed.catch(() => undefined);
    return listed;
  }

  /**
   * Brings `members` to the desired render again (the agreement check's repair), the way a pass
   * would: runtime where they run its structure, else reloads, one at a time. Call it within
   * exclusive(). Their outcomes; none when nothing is desired yet.
   */
  async repair(members: readonly Member[]): Promise<ReadonlyMap<Member, ReplicaOutcome>> {
    const desired = this.wanted;
    if (desired === null || members.length === 0) return new Map();
    const failed = (error: Error): ReadonlyMap<Member, ReplicaOutcome> =>
      new Map(members.map((m) => [m, { kind: "failed", error }]));
    let done: Converged | Rejection;
    try {
      done = await this.bring(members, desired, []);
    } catch (err) {
      // The file could not be written (a full volume): the pass retries it; the repair backs off.
      return failed(toError(err));
    }
    if ("kind" in done) return failed(new Error(`haproxy -c rejects the desired config: ${done.message}`));
    this.settle(done, desired);
    return done.outcomes;
  }

  /** Resolves once the file has caught up with the last runtime apply. */
  idle(): Promise<void> {
    return this.ports.live.idle();
  }

  private async applyNow(
    rendered: Rendered,
    leaving: readonly ServerRef[],
    replicas: Promise<readonly Member[]>,
  ): Promise<ApplyOutcome> {
    const { fleet, live } = this.ports;
    const members = await replicas;
    const mark = fleet.drainMark();
    const refused = live.rejection(rendered.sha256);
    if (refused !== null) return this.rejected(members, rendered.sha256, refused);
    this.wanted = rendered;
    fleet.applying(rendered);
    const running = members.filter((m) => m.running);
    const now = this.opts.clock.now();
    for (const m of members) if (!m.running) fleet.settle(m, null, rendered, now);
    if (running.length === 0) {
      // No HAProxy runs: the file alone, read by HAProxy when it starts.
      await live.idle();
      const write = await live.write(rendered);
      if (typeof write !== "string") return this.rejected(members, write.sha, write.message);
      return { kind: "no-haproxy", written: write === "written" };
    }
    const done = await this.bring(running, rendered, leaving);
    if ("kind" in done) return this.rejected(members, done.sha, done.message);
    fleet.forgetDrains(mark);
    fleet.forgetReadies(rendered);
    this.settle(done, rendered);
    const outcome = fleetOutcome([...done.outcomes.values()], done.written, done.background);
    if (outcome instanceof Error) throw outcome;
    for (const [m, o] of done.outcomes)
      if (o.kind === "failed")
        this.log.warn(
          { err: o.error, replica: m.name, container: m.replica.container },
          "replica not brought to the new config, left stale",
        );
    return outcome;
  }

  private bring(
    members: readonly Member[],
    rendered: Rendered,
    leaving: readonly ServerRef[],
  ): Promise<Converged | Rejection> {
    const { live, serverState } = this.ports;
    return converge(
      {
        live,
        serverState,
        log: this.log,
        runtimeApi: this.opts.runtimeApi !== false,
        early: () => this.ports.fleet.early(),
      },
      members,
      rendered,
      leaving,
    );
  }

  /** Records what each replica was brought to and read back. */
  private settle(done: Converged, rendered: Rendered): void {
    const fleet = this.ports.fleet;
    const now = this.opts.clock.now();
    const digest = fleet.desiredDigest(rendered);
    for (const [m, o] of done.outcomes) {
      const read = done.reads.get(m) ?? null;
      if (o.kind === "failed") m.failure = o.error.message;
      else if (o.kind !== "skipped") {
        m.failure = null;
        m.applied = { digest, worker: read?.worker ?? null };
      }
      fleet.settle(m, read, rendered, now);
    }
  }

  /**
   * A render `haproxy -c` refused. The runtime path may already have given the replicas its
   * servers (the file is checked after): they are brought back to the live file's.
   */
  private async rejected(members: readonly Member[], sha: string, message: string): Promise<ApplyOutcome> {
    const repeated = this.reported.has(sha);
    if (!repeated) {
      if (this.reported.size >= 16) this.reported.delete(this.reported.values().next().value!);
      this.reported.add(sha);
    }
    const live = await this.ports.live.current();
    if (live.text === null) return { kind: "rejected", message, repeated };
    const text = renderedOfText(live.text);
    // Held servers readied early are still `disabled` in the file: they listen, and stay routed.
    const early = (): EarlyChanges => this.ports.fleet.early();
    const readied = [...early().readied].filter((key) => text.servers.get(key)?.options.includes("disabled"));
    const good: Rendered = readied.length === 0 ? text : { ...text, held: new Set(readied) };
    this.wanted = good;
    const now = this.opts.clock.now();
    await Promise.all(
      members
        .filter((m) => m.running)
        .map(async (m) => {
          const info = await m.target.info();
          if (info?.configId !== good.configId) return;
          try {
            const done = await m.target.applyAtRuntime(good, early);
            this.ports.fleet.settle(m, { ...info, servers: done.servers }, good, now);
          } catch (err) {
            this.log.warn(
              { err: toError(err), replica: m.name },
              "could not bring haproxy back to the last good config's servers",
            );
          }
        }),
    );
    return { kind: "rejected", message, repeated };
  }
}
