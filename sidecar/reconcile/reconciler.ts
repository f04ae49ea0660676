import type { Logger } from "pino";
import type { Applier, ApplyOutcome } from "../apply/applier";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import { buildDesiredState, removedServers } from "../model/desired-state";
import {
  foldLeaving,
  foldPendingStart,
  hasPendingStarts,
  pruneLeaving,
  prunePendingStarts,
  type PendingStarts,
} from "../model/leaving";
import type { BackendSnapshot, ChangeHint, DesiredState, Exclusion, ServerRef } from "../model/types";
import { TemplateError, type Rendered } from "../render/render";
import type { TemplateFile } from "../render/template-file";
import type { BackendSource } from "../source/backend-source";
import { PassLog } from "./pass-log";
import type { ReadinessGate } from "./readiness-gate";
import type { SerfGate } from "./serf-gate";
import type { PassRunner, SyncResult } from "./types";

/** A listing reused by passes that only readiness asked for is never older than this. */
const LISTING_MAX_AGE_MS = 10_000;
/** A created backend that has not started after this long is not waited for any more. */
const PENDING_START_TTL_MS = 15_000;

export interface ReconcilerParts {
  readonly source: BackendSource;
  readonly template: TemplateFile;
  readonly applier: Applier;
  readonly readiness: ReadinessGate;
  /** Null to route on the source's view alone. */
  readonly serf: SerfGate | null;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface ReconcilerOptions {
  readonly labelPrefix: string;
  readonly defaultBackend: string;
  /** Without the runtime API every change is a reload, and a whole burst is worth waiting for. */
  readonly runtimeApi?: boolean;
}

/**
 * One level-triggered pass: a full listing, the gates (readiness, Serf), the desired state, its
 * render, its apply. Hints only fold into the draining set and the pending starts.
 */
export class Reconciler implements PassRunner {
  private draining: ReadonlySet<string> = new Set();
  private pendingStarts: PendingStarts = new Map();
  private readonly passLog: PassLog;
  /** The state HAProxy was last brought to, to know which servers a change removes. */
  private applied: DesiredState | null = null;
  last: SyncResult | null = null;
  private listing: { readonly snapshots: BackendSnapshot[]; readonly at: number } | null = null;
  private listingStale = true;

  constructor(
    private readonly parts: ReconcilerParts,
    private readonly opts: ReconcilerOptions,
  ) {
    this.passLog = new PassLog(parts.log);
  }

  /**
   * Records a hint. Returns the routed servers that this hint starts draining: routing to them
   * must stop now, not after the next pass.
   */
  observe(hint: ChangeHint): ServerRef[] {
    this.listingStale = true;
    const before = this.draining;
    this.draining = foldLeaving(this.draining, hint);
    const now = this.parts.clock.now();
    this.pendingStarts = prunePendingStarts(
      foldPendingStart(this.pendingStarts, hint, now, this.buildOptions()),
      now,
      PENDING_START_TTL_MS,
    );
    if (this.draining === before || !this.draining.has(hint.id)) return [];
    return (this.applied?.services ?? []).flatMap((s) =>
      s.servers.filter((b) => b.sourceId === hint.id).map((b) => ({ backend: s.name, server: b.name })),
    );
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
    return { rendered: await this.parts.template.render(state), excluded };
  }

  /** The render of no backends at all: what `ha` serves before the sidecar's first write. */
  async renderEmpty(): Promise<Rendered> {
    const { state } = buildDesiredState([], { ...this.buildOptions(), draining: new Set() });
    return this.parts.template.render(state);
  }

  /** One pass. Never throws: the result says whether to retry. */
  /**
   * @param fresh false when nothing but readiness asked for this pass and the source's watch is
   *   connected: the last listing is still the truth (every change since would have come as a
   *   hint), so it is reused instead of listed again. It is never older than the max age.
   */
  async sync(fresh = true): Promise<SyncResult> {
    if (fresh) this.listingStale = true;
    const at = this.parts.clock.now();
    let desired: Awaited<ReturnType<Reconciler["desired"]>>;
    try {
      desired = await this.desired();
    } catch (err) {
      return this.finish({ ok: false, at, stage: "list", error: toError(err), retry: true });
    }
    const { state, excluded, awaitingReadiness } = desired;
    this.passLog.exclusions(excluded);

    let rendered: Rendered;
    try {
      rendered = await this.parts.template.render(state);
      this.passLog.templateOk();
    } catch (err) {
      const error = toError(err);
      if (!(error instanceof TemplateError))
        return this.finish({ ok: false, at, stage: "template", error, retry: true });
      // Not worth retrying until the template or the state changes.
      this.passLog.templateError(error, state);
      return this.finish({ ok: false, at, stage: "template", error, retry: false });
    }

    let outcome: ApplyOutcome;
    try {
      // Servers leaving are set to maintenance in every running worker first: an old worker
      // that finishes its connections after the reload must not pick them either.
      outcome = await this.parts.applier.apply(
        rendered,
        this.applied === null ? [] : removedServers(this.applied, state),
      );
    } catch (err) {
      return this.finish({ ok: false, at, stage: "apply", error: toError(err), retry: true });
    }
    this.passLog.outcome(outcome, rendered, state);
    if (outcome.kind !== "rejected") this.applied = state;
    return this.finish({ ok: true, at, outcome, state, excluded, awaitingReadiness });
  }

  /**
   * The listing, minus what the gates take out: the source's own view first (labels, state,
   * network, health, draining), then readiness and Serf, which can only remove.
   */
  private async desired(): Promise<ReturnType<typeof buildDesiredState> & { awaitingReadiness: number }> {
    const snapshots = await this.list();
    const running = new Set(snapshots.filter((s) => s.running).map((s) => s.id));
    this.draining = pruneLeaving(this.draining, running);
    this.parts.readiness.prune(running);
    const candidates = this.candidates(snapshots);
    const { notListening, awaitingReadiness } = await this.parts.readiness.check(snapshots, candidates);
    const serfOut =
      this.parts.serf === null
        ? undefined
        : await this.parts.serf.check(
            snapshots,
            candidates.filter((b) => !notListening.has(b.sourceId)),
          );
    // this.draining is read again: a hint may have come in while we waited.
    const built = buildDesiredState(snapshots, {
      ...this.buildOptions(),
      draining: this.draining,
      notListening,
      ...(serfOut ? { serfOut } : {}),
    });
    return { ...built, awaitingReadiness };
  }

  private candidates(snapshots: readonly BackendSnapshot[]) {
    return buildDesiredState(snapshots, { ...this.buildOptions(), draining: this.draining }).state.services.flatMap(
      (s) => s.servers,
    );
  }

  /** The source's listing, or the last one while it cannot have changed. */
  private async list(): Promise<BackendSnapshot[]> {
    const now = this.parts.clock.now();
    if (!this.listingStale && this.listing !== null && now - this.listing.at < LISTING_MAX_AGE_MS)
      return this.listing.snapshots;
    // Stale again if a hint arrives while the listing is under way.
    this.listingStale = false;
    try {
      const snapshots = await this.parts.source.list();
      this.listing = { snapshots, at: now };
      return snapshots;
    } catch (err) {
      this.listingStale = true;
      throw err;
    }
  }

  private buildOptions(): { labelPrefix: string; defaultService: string } {
    return { labelPrefix: this.opts.labelPrefix, defaultService: this.opts.defaultBackend };
  }

  private finish(r: SyncResult): SyncResult {
    this.last = r;
    return r;
  }
}
