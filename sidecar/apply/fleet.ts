import type { Logger } from "pino";
import type { HaproxyReplica, ReplicaSource } from "../haproxy/replica-source";
import { Backoff } from "../lib/backoff";
import { toError } from "../lib/errors";
import type { ServerRef } from "../model/types";
import type { Rendered } from "../render/render";
import type { ServerLine } from "../render/server-lines";
import { decideReplicaState, type ReplicaView } from "./replica-state";
import {
  routesDigest,
  routesDrift,
  runningRoutes,
  sameRoutes,
  wantedRoutes,
  type EntryTexts,
  type Routes,
} from "./routing-digest";
import type { EarlyChanges, HaproxyTarget, ReadBack } from "./target";

/** One replica of the fleet: its container, its target, and what the sidecar knows of it. */
export class Member {
  /** What the sidecar last brought it to: the digest it applied, and its worker then. */
  applied: { readonly digest: string; readonly worker: number | null } | null = null;
  /** The last apply's error to it, while it stands. */
  failure: string | null = null;
  /** The agreement check's repairs of it back off while they fail. */
  readonly repairs = new Backoff(1_000, 30_000);
  /** Not repaired again before this (epoch ms). */
  repairAfter = 0;
  view: ReplicaView;

  constructor(
    public replica: HaproxyReplica,
    readonly target: HaproxyTarget,
  ) {
    this.view = {
      replica: this.name,
      container: replica.container,
      containerId: replica.containerId,
      state: "stale",
      reason: replica.state === "running" ? "not read yet" : replica.state,
      configId: null,
      digest: null,
      confirmedAt: null,
    };
  }

  /** Its number, as a string (`1`, `2`...). */
  get name(): string {
    return String(this.replica.index);
  }

  get running(): boolean {
    return this.replica.state === "running";
  }
}

/** One replica's server statuses (`backend/server` -> UP, DOWN, MAINT...), null when it does not answer. */
export interface ReplicaStatuses {
  readonly replica: string;
  readonly statuses: ReadonlyMap<string, string> | null;
}

const refKey = (r: ServerRef): string => `${r.backend}/${r.server}`;

/**
 * The HAProxy replicas, following the replica source's listing (a replica appears, restarts,
 * goes away): one member each, kept while its container stays the same. Knows each one's state
 * against the desired routes (settle), and drains servers on all of them at once.
 */
export class Fleet {
  private list: Member[] = [];
  /** Servers drained early (before the pass that drops them), with the drain's sequence number. */
  private readonly drains = new Map<string, number>();
  private drainSeq = 0;
  /** Held servers made ready early (they listen), until a render no longer holds them. */
  private readonly readies = new Set<string>();
  /** Counts the changes to the early drains and readies: what the desired render routes follows them. */
  private earlyVersion = 0;
  /**
   * What the last desired render routes, with its digest, while neither it nor the early drains
   * and readies change: a pass asks for it at least twice, at a thousand servers 1.5 ms each.
   */
  private wantedMemo: {
    readonly desired: Rendered;
    readonly version: number;
    readonly routes: Routes;
    readonly digest: string;
  } | null = null;
  /** The lines of the last wanted digest, for the next one (see routesDigest). */
  private readonly wantedTexts: EntryTexts = new Map();
  private lastSkipped = "";

  constructor(
    private readonly source: ReplicaSource,
    private readonly connect: (replica: HaproxyReplica) => HaproxyTarget,
    private readonly log: Logger,
  ) {}

  /** The members as the last listing found them, by replica number. */
  get members(): readonly Member[] {
    return this.list;
  }

  /** Lists the replicas again. A new container (a replica recreated) is a new member, with nothing applied. */
  async refresh(signal?: AbortSignal): Promise<readonly Member[]> {
    const { replicas, skipped } = await this.source.list(signal);
    const said = skipped.join("\n");
    if (said !== this.lastSkipped && skipped.length > 0)
      this.log.warn({ skipped }, "haproxy containers left out of the replicas");
    this.lastSkipped = said;
    const known = new Map(this.list.map((m) => [m.replica.containerId, m]));
    const next = replicas.map((r) => {
      const m = known.get(r.containerId);
      if (m !== undefined && m.replica.index === r.index && m.replica.labelled === r.labelled) {
        m.replica = r;
        return m;
      }
      this.log.info({ replica: r.index, container: r.container, state: r.state }, "haproxy replica found");
      return new Member(r, this.connect(r));
    });
    for (const m of this.list)
      if (!next.includes(m)) this.log.info({ replica: m.name, container: m.replica.container }, "haproxy replica gone");
    this.list = next;
    return next;
  }

  /**
   * Sets servers to maintenance on every running replica at once (each in all its workers).
   * A replica that fails is said, the others are drained: resolves with the number that failed;
   * throws when none could be.
   */
  async drain(servers: readonly ServerRef[]): Promise<number> {
    if (servers.length === 0) return 0;
    const seq = ++this.drainSeq;
    this.earlyVersion++;
    for (const s of servers) this.drains.set(refKey(s), seq);
    return this.onEveryReplica("early drain", servers.length, (t) => t.drain(servers));
  }

  /**
   * Takes held servers out of maintenance on every running replica at once: they listen now.
   * A replica that fails is said, the others are readied; throws when none could be. The pass
   * that routes them follows; until it has, the desired routes count them as routed.
   */
  async ready(servers: readonly ServerLine[]): Promise<void> {
    if (servers.length === 0) return;
    this.earlyVersion++;
    for (const s of servers) this.readies.add(`${s.backend}/${s.name}`);
    await this.onEveryReplica("early ready", servers.length, (t) => t.ready(servers));
  }

  /** Runs `change` on every running replica at once; says those that fail (their number), throws when all do. */
  private async onEveryReplica(
    what: string,
    servers: number,
    change: (target: HaproxyTarget) => Promise<void>,
  ): Promise<number> {
    const running = this.list.filter((m) => m.running);
    if (running.length === 0) throw new Error("no haproxy replica runs");
    const results = await Promise.allSettled(running.map((m) => change(m.target)));
    const failed = results.flatMap((r, i) =>
      r.status === "rejected" ? [{ m: running[i]!, err: toError(r.reason) }] : [],
    );
    if (failed.length === running.length) throw failed[0]!.err;
    for (const { m, err } of failed) this.log.warn({ err, replica: m.name, servers }, `${what} failed on a replica`);
    return failed.length;
  }

  /** The servers drained early that no pass has dropped yet, by `backend/server`. */
  drainedEarly(): ReadonlySet<string> {
    return new Set(this.drains.keys());
  }

  /** What the fast paths did that no pass has taken in yet: a server drained since its ready is drained. */
  early(): EarlyChanges {
    const drained = this.drainedEarly();
    return { drained, readied: new Set([...this.readies].filter((key) => !drained.has(key))) };
  }

  /** Forgets the servers readied early that `rendered` no longer holds: it routes them, or they are gone. */
  forgetReadies(rendered: Rendered): void {
    for (const key of this.readies)
      if (rendered.held?.has(key) !== true) {
        this.readies.delete(key);
        this.earlyVersion++;
      }
  }

  /** Where the drains stand now: a pass that started here has seen every drain before it. */
  drainMark(): number {
    return this.drainSeq;
  }

  /** Forgets the drains up to `mark`: the pass that started there has taken them out. */
  forgetDrains(mark: number): void {
    for (const [key, seq] of this.drains)
      if (seq <= mark) {
        this.drains.delete(key);
        this.earlyVersion++;
      }
  }

  /**
   * Records what `m` read back (null: it did not answer) against `desired` (null: nothing
   * applied yet), and its state from that; returns its view.
   */
  settle(m: Member, read: ReadBack | null, desired: Rendered | null, now: number): ReplicaView {
    const want = desired === null ? null : this.wanted(desired);
    const running = read === null ? null : runningRoutes(read, desired?.servers ?? new Map());
    // Read back as wanted (the usual case): the wanted digest, known already.
    const digest =
      running === null ? null : want !== null && sameRoutes(want.routes, running) ? want.digest : routesDigest(running);
    const { state, reason } = decideReplicaState({
      container: m.replica.state,
      desired: want?.digest ?? null,
      read: digest === null ? null : { digest, worker: read!.worker },
      applied: m.applied,
      // In words, only where it differs (the same digest: the same routes).
      drift: want !== null && running !== null && digest !== want.digest ? routesDrift(want.routes, running) : [],
      failure: m.failure,
    });
    if (state !== m.view.state || reason !== m.view.reason)
      this.log.debug({ replica: m.name, state, reason }, "replica state");
    m.view = {
      replica: m.name,
      container: m.replica.container,
      containerId: m.replica.containerId,
      state,
      reason,
      configId: read?.configId ?? (m.running ? m.view.configId : null),
      digest: digest ?? (m.running ? m.view.digest : null),
      confirmedAt: state === "in-sync" ? now : m.view.confirmedAt,
    };
    return m.view;
  }

  /** Marks the running replicas that do not route `desired` yet as stale, being applied (for /status meanwhile). */
  applying(desired: Rendered): void {
    const digest = this.desiredDigest(desired);
    for (const m of this.list)
      if (m.running && m.view.digest !== digest) m.view = { ...m.view, state: "stale", reason: "being applied" };
  }

  /** The digest of what `desired` routes now (early drains left out). */
  desiredDigest(desired: Rendered): string {
    return this.wanted(desired).digest;
  }

  private wanted(desired: Rendered): { readonly routes: Routes; readonly digest: string } {
    const memo = this.wantedMemo;
    if (memo !== null && memo.desired === desired && memo.version === this.earlyVersion) return memo;
    const { drained, readied } = this.early();
    const routes = wantedRoutes(desired, drained, readied);
    this.wantedMemo = { desired, version: this.earlyVersion, routes, digest: routesDigest(routes, this.wantedTexts) };
    return this.wantedMemo;
  }

  /** Every replica, by number. */
  view(): ReplicaView[] {
    return this.list.map((m) => m.view);
  }

  /**
   * Servers ramping up (slow start) and draining on any running replica, each with when that
   * ends (the latest over the replicas), by `backend/server`.
   */
  transitions(): { ramping: Map<string, number>; draining: Map<string, number> } {
    const ramping = new Map<string, number>();
    const draining = new Map<string, number>();
    const merge = (into: Map<string, number>, from: ReadonlyMap<string, number>): void => {
      for (const [key, until] of from) into.set(key, Math.max(until, into.get(key) ?? 0));
    };
    for (const m of this.list) {
      const t = m.running ? m.target.transitions?.() : undefined;
      if (t === undefined) continue;
      merge(ramping, t.ramping);
      merge(draining, t.draining);
    }
    return { ramping, draining };
  }

  /** Each running replica's server statuses, asked at once. */
  serverStatuses(): Promise<ReplicaStatuses[]> {
    return Promise.all(
      this.list
        .filter((m) => m.running)
        .map(async (m) => ({ replica: m.name, statuses: await m.target.serverStatuses().catch(() => null) })),
    );
  }
}
