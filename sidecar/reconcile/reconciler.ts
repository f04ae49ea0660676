import type { Logger } from "pino";
import type { Applier } from "../apply/applier";
import type { Member } from "../apply/fleet";
import type { ApplyOutcome } from "../apply/outcome";
import type { Clock } from "../lib/clock";
import { TimeoutError, toError } from "../lib/errors";
import { buildDesiredState, drainTimes, removedServers, withHeld, type BuildOptions } from "../model/desired-state";
import {
  hasPendingStarts,
  leavingChange,
  pendingStartChange,
  pruneLeaving,
  prunePendingStarts,
  type PendingStart,
} from "../model/leaving";
import { drainWouldPanic, keepLeavingServers, pendingReplacements } from "../model/leaving-panic";
import { inMaintenance } from "../model/maintenance";
import type { BackendSnapshot, ChangeHint, DesiredState, Exclusion, ServerRef } from "../model/types";
import { TemplateError, type Rendered } from "../render/render";
import type { ServerLine } from "../render/server-lines";
import type { TemplateFile } from "../render/template-file";
import type { BackendSource } from "../source/backend-source";
import { Listing } from "./listing";
import { PassLog } from "./pass-log";
import type { ReadinessGate } from "./readiness-gate";
import { RejectedMembers } from "./rejected-members";
import type { SerfGate } from "./serf-gate";
import type { PassRunner, PassStages, SyncResult } from "./types";

/** A created backend that has not started after this long is not waited for any more. */
const PENDING_START_TTL_MS = 15_000;

export interface ReconcilerParts {
  readonly source: BackendSource;
  readonly template: TemplateFile;
  readonly applier: Applier;
  /** Whether `haproxy -c` accepts a text (to find the members of a rejected render at fault). */
  readonly check: (text: string) => Promise<boolean>;
  readonly readiness: ReadinessGate;
  /** Null to route on the source's view alone. */
  readonly serf: SerfGate | null;
  readonly clock: Clock;
  readonly log: Logger;
  /** Containers an operator put in maintenance (`sidecar maint`): kept, in maintenance. */
  readonly maintenance?: () => ReadonlySet<string>;
}

export interface ReconcilerOptions {
  readonly labelPrefix: string;
  readonly defaultBackend: string;
  /** Without the runtime API every change is a reload, and a whole burst is worth waiting for. */
  readonly runtimeApi?: boolean;
  /**
   * 0–1: leaving servers that still run are drained only while that leaves each backend at least
   * this share of the servers that can serve now (see keepLeavingServers). 0: always drained.
   */
  readonly drainPanicThreshold?: number;
}

type Desired = ReturnType<typeof buildDesiredState> & {
  readonly awaitingReadiness: number;
  /** Backends whose leaving servers are kept routed (draining them would leave too few). */
  readonly drainPanic: readonly string[];
};

/**
 * One level-triggered pass: a full listing, the gates (readiness, Serf), the desired state, its
 * render, its apply. Hints only fold into the draining set and the pending starts. A render that
 * HAProxy rejects is narrowed down to the members at fault, and everyone else is applied.
 */
export class Reconciler implements PassRunner {
  /** Backends shutting down but maybe still listed as running (hints fold in, passes prune). */
  private draining = new Set<string>();
  /** Counts the changes hints make to `draining`: a pass builds again only if one came meanwhile. */
  private drainingChanges = 0;
  /** Labelled backends created and not started yet (hints fold in, passes prune). */
  private pendingStarts = new Map<string, PendingStart>();
  private readonly passLog: PassLog;
  private readonly listing: Listing;
  private readonly rejected: RejectedMembers;
  /** The state HAProxy was last brought to, to know which servers a change removes. */
  private applied: DesiredState | null = null;
  /** Its servers by the backend they come from: what a hint about one backend drains, in O(1). */
  private appliedBySource = new Map<string, ServerRef[]>();
  /** The lines of its held servers (in maintenance until they listen), by the backend they come from. */
  private heldBySource = new Map<string, ServerLine[]>();
  /** Backends that started to listen when nothing applied held them yet. */
  private readonly readyAsked = new Set<string>();
  /** Each backend's replacements on their way at the last pass (for the early drain's guard). */
  private pending: ReadonlyMap<string, number> = new Map();
  /** The pass under way's time, by stage. */
  private stages: PassStages = { list: 0, gates: 0, render: 0, apply: 0 };
  last: SyncResult | null = null;

  constructor(
    private readonly parts: ReconcilerParts,
    private readonly opts: ReconcilerOptions,
  ) {
    this.passLog = new PassLog(parts.log);
    this.listing = new Listing(parts.source, parts.clock);
    this.rejected = new RejectedMembers(parts.log);
  }

  /**
   * Records a hint. Returns the routed servers that this hint starts draining: routing to them
   * must stop now, not after the next pass.
   */
  observe(hint: ChangeHint): ServerRef[] {
    this.listing.invalidate(hint.id);
    // Changes applied in place: one hint costs O(1) whatever the fleet's size (a fleet of
    // thousands created or stopped at once is thousands of hints).
    const pending = pendingStartChange(this.pendingStarts, hint, this.parts.clock.now(), this.buildOptions());
    if (pending !== null) {
      if ("set" in pending) this.pendingStarts.set(pending.set, pending.entry);
      else this.pendingStarts.delete(pending.remove);
    }
    const change = leavingChange(this.draining, hint);
    if (change === null) return [];
    if ("remove" in change) {
      this.draining.delete(change.remove);
      this.drainingChanges++;
      return [];
    }
    this.draining.add(change.add);
    this.drainingChanges++;
    this.parts.readiness.forget(change.add);
    // Not where it would leave the backend too few servers: the pass decides then, knowing
    // which replacements are ready (it may keep this one routed while it still runs).
    return (this.appliedBySource.get(hint.id) ?? []).filter(
      (ref) =>
        !drainWouldPanic(
          this.applied,
          ref.backend,
          this.draining,
          this.opts.drainPanicThreshold ?? 0,
          this.pending.get(ref.backend) ?? 0,
        ),
    );
  }

  /**
   * A backend that did not listen does now: the lines of its servers HAProxy holds in
   * maintenance (as last applied), to take them out of it at once. From then on a hint that it
   * leaves drains them early, as any routed server.
   */
  readied(id: string): ServerLine[] {
    // Stopping: the pass decides.
    if (this.draining.has(id)) return [];
    const lines = this.heldBySource.get(id);
    if (lines === undefined) {
      // Not held yet by what was applied: maybe by the pass under way (see takeLateReadies).
      this.readyAsked.add(id);
      return [];
    }
    this.heldBySource.delete(id);
    // Put in maintenance since: the pass decides. A held server's name is its container's.
    const maintenance = this.parts.maintenance?.();
    if (maintenance?.size && lines.some((l) => inMaintenance(maintenance, { name: l.name, serverName: l.name, id })))
      return [];
    this.appliedBySource.set(id, [
      ...(this.appliedBySource.get(id) ?? []),
      ...lines.map((l) => ({ backend: l.backend, server: l.name })),
    ]);
    return lines;
  }

  /**
   * The held lines of backends that started to listen while the pass that holds them was under
   * way (readied() found nothing to ready then): to ready at once, after that pass. Once.
   */
  takeLateReadies(): ServerLine[] {
    const ids = [...this.readyAsked];
    this.readyAsked.clear();
    return ids.flatMap((id) => this.readied(id));
  }

  /** Takes the whole listing off the pass (a resync; see Listing.prefetch). */
  prefetch(signal?: AbortSignal): Promise<void> {
    return this.listing.prefetch(signal);
  }

  /**
   * True while labelled backends were created, not started yet, and will add a backend: the
   * rest of the burst is worth waiting for, to make one reload of it.
   */
  burstUnderway(): boolean {
    const existing = new Set(this.opts.runtimeApi === false ? [] : (this.applied?.services ?? []).map((s) => s.name));
    return hasPendingStarts(this.pendingStarts, this.parts.clock.now(), PENDING_START_TTL_MS, existing);
  }

  /** The render of the current listing, without applying it (the one-shot `render` mode). */
  async renderCurrent(): Promise<{ rendered: Rendered; excluded: readonly Exclusion[] }> {
    const { state, excluded } = await this.desired();
    return { rendered: await this.render(state), excluded };
  }

  /** Renders a state, its servers keeping the ids HAProxy runs them under. */
  private async render(state: DesiredState): Promise<Rendered> {
    return this.parts.template.render(state, await this.parts.applier.runningIds());
  }

  /** The render of no backends at all: what `ha` serves before the sidecar's first write. */
  async renderEmpty(): Promise<Rendered> {
    const { state } = buildDesiredState([], { ...this.buildOptions(), draining: new Set() });
    return this.parts.template.render(state);
  }

  /**
   * One pass. Never throws: the result says whether to retry.
   * @param fresh true: take the whole listing again (at start, on a reconnection, a resync, a
   *   retry); false: only the backends hints named since the last pass are looked at again (see
   *   Listing).
   * @param signal aborts the pass (its deadline): a retryable failure.
   */
  async sync(fresh = true, signal?: AbortSignal): Promise<SyncResult> {
    if (fresh) this.listing.invalidate();
    const at = this.parts.clock.now();
    this.stages = { list: 0, gates: 0, render: 0, apply: 0 };
    // The HAProxy replicas are listed beside the backends, not after the render.
    const replicas = this.parts.applier.listReplicas();
    let desired: Desired;
    try {
      desired = await this.desired(signal);
      abortIf(signal);
    } catch (err) {
      return this.finish({ ok: false, at, stage: "list", error: toError(err), retry: true });
    }
    this.passLog.exclusions(desired.excluded);
    let outcome: ApplyOutcome;
    let rendered: Rendered;
    try {
      ({ outcome, desired, rendered } = await this.apply(desired, replicas, signal));
    } catch (err) {
      const error = toError(err);
      if (!(error instanceof TemplateError))
        return this.finish({
          ok: false,
          at,
          stage: error instanceof TimeoutError ? "list" : "apply",
          error,
          retry: true,
        });
      // Not worth retrying until the template or the state changes.
      this.passLog.templateError(error, desired.state);
      return this.finish({ ok: false, at, stage: "template", error, retry: false });
    }
    const { state, excluded, awaitingReadiness, drainPanic } = desired;
    if (outcome.kind !== "rejected") this.setApplied(state, rendered);
    const stagesMs = this.stages;
    return this.finish({ ok: true, at, outcome, state, excluded, awaitingReadiness, drainPanic, stagesMs });
  }

  /** Renders and applies; a rejected render is narrowed down to its members at fault, and the rest applied. */
  private async apply(
    desired: Desired,
    replicas: Promise<readonly Member[]>,
    signal?: AbortSignal,
  ): Promise<{ outcome: ApplyOutcome; desired: Desired; rendered: Rendered }> {
    const next = await this.timed("render", () => this.render(desired.state));
    this.passLog.templateOk();
    abortIf(signal);
    // Servers leaving are set to maintenance in every running worker first: an old worker
    // that finishes its connections after the reload must not pick them either.
    const leaving = this.applied === null ? [] : removedServers(this.applied, desired.state);
    // Their drain times (heig.lb.drain) are in the state they leave, not in the next render.
    const leavingDrains = this.applied === null ? new Map<string, number>() : drainTimes(this.applied, leaving);
    const rendered =
      leavingDrains.size === 0 ? next : { ...next, drainMs: new Map([...(next.drainMs ?? []), ...leavingDrains]) };
    const outcome = await this.timed("apply", () => this.parts.applier.apply(rendered, leaving, replicas));
    this.passLog.outcome(outcome, rendered, desired.state);
    if (outcome.kind !== "rejected" || outcome.repeated) return { outcome, desired, rendered };
    const check = async (s: DesiredState): Promise<boolean> => this.parts.check((await this.render(s)).text);
    // Held servers are rendered too: their lines are suspects as much as the routed ones'.
    const applied = this.applied === null ? null : withHeld(this.applied);
    const culprits = await this.rejected.isolate(withHeld(desired.state), applied, outcome.message, check);
    if (culprits.length === 0) return { outcome, desired, rendered };
    abortIf(signal);
    // The members at fault are out: the rest is applied, to the replicas listed again.
    return this.apply(await this.desired(signal), this.parts.applier.listReplicas(), signal);
  }

  /**
   * The listing, minus what the gates take out: the source's own view first (labels, state,
   * network, health, draining, names the template reserves, lines HAProxy rejected), then
   * readiness and Serf, which can only remove.
   */
  private async desired(signal?: AbortSignal): Promise<Desired> {
    const snapshots = await this.timed("list", () => this.listing.get(signal));
    if (this.listing.adoptedMs > 0) this.stages.prefetch = this.listing.adoptedMs;
    return this.timed("gates", () => this.gated(snapshots));
  }

  /** The gates and the desired state, from a listing. */
  private async gated(snapshots: BackendSnapshot[]): Promise<Desired> {
    const running = new Set(snapshots.filter((s) => s.running).map((s) => s.id));
    // Pruned once a pass (O(n)), never per hint.
    this.draining = new Set(pruneLeaving(this.draining, running));
    this.pendingStarts = new Map(prunePendingStarts(this.pendingStarts, this.parts.clock.now(), PENDING_START_TTL_MS));
    this.parts.readiness.prune(running);
    // A template that does not render reserves nothing: its error comes with the render.
    const reservedNames = await this.parts.template
      .reservedNames(this.opts.defaultBackend)
      .catch(() => new Set<string>());
    const maintenance = this.parts.maintenance?.();
    const sourceOptions: BuildOptions = {
      ...this.buildOptions(),
      draining: this.draining,
      reservedNames,
      ...(maintenance !== undefined && maintenance.size > 0 ? { maintenance } : {}),
    };
    // The desired state is built once, and again only where a gate took something out (each
    // build is O(n): at 1,000 backends, three builds a pass were a tenth of it).
    const drainingAt = this.drainingChanges;
    const first = buildDesiredState(snapshots, sourceOptions);
    const rejected = this.rejected.current(first.state, running);
    const screened = rejected.size === 0 ? first : buildDesiredState(snapshots, { ...sourceOptions, rejected });
    const candidates = screened.state.services.flatMap((s) => s.servers);
    const { notListening, awaiting } = await this.parts.readiness.check(snapshots, candidates);
    // Those that may listen soon are rendered ahead of time, in maintenance: the moment they
    // listen is then one runtime command (see readied()). Not without the runtime API, where it
    // would be a reload more.
    const held = this.opts.runtimeApi === false || awaiting.size === 0 ? undefined : awaiting;
    const listening = candidates.filter((b) => !notListening.has(b.sourceId));
    const serfOut =
      this.parts.serf === null ? undefined : await this.parts.serf.check(snapshots, listening, first.state);
    // this.draining is read again: a hint may have come in while we waited.
    const unchanged = notListening.size === 0 && (serfOut?.size ?? 0) === 0 && this.drainingChanges === drainingAt;
    const built = unchanged
      ? screened
      : buildDesiredState(snapshots, {
          ...sourceOptions,
          draining: this.draining,
          rejected,
          notListening,
          ...(held ? { held } : {}),
          ...(serfOut ? { serfOut } : {}),
        });
    this.pending = pendingReplacements(built.excluded, snapshots, this.buildOptions());
    const kept = keepLeavingServers({
      ...built,
      snapshots,
      applied: this.applied,
      threshold: this.opts.drainPanicThreshold ?? 0,
      pending: this.pending,
    });
    this.passLog.drainPanic(kept.panic);
    return { state: kept.state, excluded: kept.excluded, awaitingReadiness: awaiting.size, drainPanic: kept.panic };
  }

  /** Runs one stage of the pass, adding its time to the pass's. */
  private async timed<T>(stage: keyof PassStages, work: () => Promise<T>): Promise<T> {
    const start = this.parts.clock.now();
    try {
      return await work();
    } finally {
      this.stages[stage] += this.parts.clock.now() - start;
    }
  }

  private setApplied(state: DesiredState, rendered: Rendered): void {
    this.applied = state;
    this.appliedBySource = new Map();
    for (const s of state.services)
      for (const b of s.servers) {
        const refs = this.appliedBySource.get(b.sourceId) ?? [];
        refs.push({ backend: s.name, server: b.name });
        this.appliedBySource.set(b.sourceId, refs);
      }
    this.heldBySource = new Map();
    for (const s of state.held ?? [])
      for (const b of s.servers) {
        const line = rendered.servers.get(`${s.name}/${b.name}`);
        if (line === undefined) continue; // a template that leaves it out
        const lines = this.heldBySource.get(b.sourceId) ?? [];
        lines.push(line);
        this.heldBySource.set(b.sourceId, lines);
      }
    // Asked for and not held by this state either: routed by it, or gone. The others are
    // readied after this pass (takeLateReadies).
    for (const id of this.readyAsked) if (!this.heldBySource.has(id)) this.readyAsked.delete(id);
  }

  private buildOptions(): { labelPrefix: string; defaultService: string } {
    return { labelPrefix: this.opts.labelPrefix, defaultService: this.opts.defaultBackend };
  }

  private finish(r: SyncResult): SyncResult {
    this.last = r;
    return r;
  }
}

function abortIf(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new TimeoutError("reconcile pass", 0);
}
