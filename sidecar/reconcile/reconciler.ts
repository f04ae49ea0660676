import { promises as fs } from "node:fs";
import type { Logger } from "pino";
import type { BackendSource } from "../docker/source";
import { buildDesiredState, removedServers } from "../model/desired-state";
import type { ReadinessProbe } from "../docker/readiness";
import { decideLiveness } from "../model/liveness";
import type { SerfSource } from "../serf/serf-rpc";
import { foldDrainEvent, foldPendingStart, hasPendingStarts, pruneDraining, type ContainerEvent, type PendingStarts } from "../model/drain";
import type { Backend, ContainerSnapshot, DesiredState, Exclusion, SerfLiveness, SerfMember, ServerRef } from "../model/types";
import { compileTemplate, renderConfig, sha256Hex, TemplateError, type RenderPaths, type Rendered, type TemplateFn } from "../render/render";
import { DESCRIPTION_PREFIX } from "../apply/haproxy-control";
import type { Applier, ApplyOutcome } from "../apply/applier";

/** A created container that has not started after this long is not waited for any more. */
const PENDING_START_TTL_MS = 15_000;
/** A container that does not listen after this long is only probed again on ordinary passes. */
const READINESS_PATIENCE_MS = 60_000;
/** Within one pass, how long (and how often) to wait for new containers to listen. */
const READINESS_WAIT_MS = 1_500;
const READINESS_POLL_MS = 50;

export interface ReconcilerOptions {
  readonly labelPrefix: string;
  readonly defaultBackend: string;
  readonly templatePath: string;
  readonly paths: RenderPaths;
  /** How long one pass waits for new containers to listen (default 1.5 s). */
  readonly readinessWaitMs?: number;
  /** Serf cross-reference; null to route on Docker's view alone. */
  readonly serf?: { readonly source: SerfSource; readonly graceMs: number } | null;
}

/** What Serf said on the last pass, for the status page. */
export interface SerfView {
  readonly reachable: boolean;
  /** Serf's opinion per container id. */
  readonly liveness: Readonly<Record<string, SerfLiveness>>;
  readonly drift: readonly SerfMember[];
}

/** The result of one pass, kept for the status endpoint. */
export type SyncResult =
  | {
      readonly ok: true; readonly at: number; readonly outcome: ApplyOutcome; readonly state: DesiredState;
      readonly excluded: readonly Exclusion[];
      /** Containers that do not listen yet but soon may: worth another pass shortly. */
      readonly awaitingReadiness: number;
    }
  | { readonly ok: false; readonly at: number; readonly stage: "list" | "template" | "apply"; readonly error: string; readonly retry: boolean };

/**
 * Level-triggered: every pass starts from a full listing, builds the desired state, renders it
 * and applies it. Events only feed the drain set and trigger passes.
 */
export class Reconciler {
  private draining: ReadonlySet<string> = new Set();
  private pendingStarts: PendingStarts = new Map();
  private compiled: { source: string; fn: TemplateFn } | null = null;
  private reportedExclusions = new Set<string>();
  private lastTemplateErrorKey: string | null = null;
  /** Containers that accepted a connection once: from then on HAProxy's checks watch them. */
  private ready = new Set<string>();
  private firstUnreadyAt = new Map<string, number>();
  /** The state HAProxy was last brought to, to know which servers a change removes. */
  private applied: DesiredState | null = null;
  private cutReadinessWait: (() => void) | null = null;
  private missingSince: ReadonlyMap<string, number> = new Map();
  private serfReachable: boolean | null = null;
  /** Serf's view at the last pass; null when Serf is not configured. */
  serfView: SerfView | null = null;
  last: SyncResult | null = null;

  constructor(
    private readonly source: BackendSource,
    private readonly applier: Applier,
    private readonly readiness: ReadinessProbe,
    private readonly log: Logger,
    private readonly opts: ReconcilerOptions,
  ) {}

  /**
   * Records an event. Returns the routed servers of containers that this event starts draining:
   * routing to them must stop now, not after the next pass.
   */
  observe(event: ContainerEvent, nowMs = Date.now()): ServerRef[] {
    const before = this.draining;
    this.draining = foldDrainEvent(this.draining, event);
    const started = new Set([...this.draining].filter((id) => !before.has(id)));
    const drainStarted = started.size === 0 ? [] : (this.applied?.services ?? []).flatMap((s) =>
      s.servers.filter((b) => started.has(b.containerId)).map((b) => ({ backend: s.name, server: b.name })));
    // A container leaving must not wait behind newcomers that are still starting up.
    if (this.draining !== before) this.cutReadinessWait?.();
    this.pendingStarts = foldPendingStart(this.pendingStarts, event, nowMs, this.opts.labelPrefix);
    return drainStarted;
  }

  /** True while labelled containers were created and not started yet: a burst is under way. */
  burstUnderway(nowMs = Date.now()): boolean {
    return hasPendingStarts(this.pendingStarts, nowMs, PENDING_START_TTL_MS);
  }

  /** Renders the current Docker state without applying it (the one-shot `render` mode). */
  async renderCurrent(): Promise<{ rendered: Rendered; excluded: readonly Exclusion[] }> {
    const { state, excluded } = await this.desired();
    return { rendered: this.render(await this.loadTemplate(), state), excluded };
  }

  /** Renders the config of no backends at all: what `ha` serves before the sidecar's first write. */
  async renderEmpty(): Promise<{ rendered: Rendered; excluded: readonly Exclusion[] }> {
    const { state } = buildDesiredState([], { labelPrefix: this.opts.labelPrefix, defaultService: this.opts.defaultBackend, draining: new Set() });
    return { rendered: this.render(await this.loadTemplate(), state), excluded: [] };
  }

  /** One pass. Never throws: the result says whether to retry. */
  async sync(): Promise<SyncResult> {
    const at = Date.now();
    let desired: Awaited<ReturnType<Reconciler["desired"]>>;
    try {
      desired = await this.desired();
    } catch (err) {
      return this.finish({ ok: false, at, stage: "list", error: (err as Error).message, retry: true });
    }
    const { state, excluded, awaitingReadiness } = desired;
    this.reportExclusions(excluded);

    let rendered: Rendered;
    try {
      rendered = this.render(await this.loadTemplate(), state);
      this.lastTemplateErrorKey = null;
    } catch (err) {
      const message = (err as Error).message;
      // Logged once per (template, state): it is not worth retrying until one of them changes.
      const key = sha256Hex(`${message}\0${JSON.stringify(state)}`);
      if (key !== this.lastTemplateErrorKey) {
        this.log.error({ err: message, template: this.opts.templatePath }, "template error, keeping the last good config");
        this.lastTemplateErrorKey = key;
      }
      return this.finish({ ok: false, at, stage: "template", error: message, retry: false });
    }

    let outcome: ApplyOutcome;
    try {
      // Servers leaving are set to maintenance in every running worker first: an old worker
      // that finishes its connections after the reload must not pick them either.
      outcome = await this.applier.apply(rendered, this.applied === null ? [] : removedServers(this.applied, state));
    } catch (err) {
      return this.finish({ ok: false, at, stage: "apply", error: (err as Error).message, retry: true });
    }
    const servers = state.services.reduce((n, s) => n + s.servers.length, 0);
    if (outcome.kind === "rejected") {
      if (!outcome.repeated) {
        this.log.error({ haproxy: outcome.message, sha256: rendered.sha256 }, "haproxy rejected the new config, keeping the last good one");
      }
    } else if (outcome.kind === "reloaded") {
      this.log.info({ configId: rendered.configId, servers, signals: outcome.signals, written: outcome.written }, "haproxy reloaded");
    } else if (outcome.kind === "no-haproxy") {
      this.log.warn({ configId: rendered.configId, servers }, "config written, no haproxy container running to reload");
    } else {
      this.log.debug({ configId: rendered.configId, servers }, "config unchanged");
    }
    if (outcome.kind !== "rejected") this.applied = state;
    return this.finish({ ok: true, at, outcome, state, excluded, awaitingReadiness });
  }

  /**
   * The listing, minus what the gates take out: Docker's own view first (labels, state,
   * network, health, draining), then the readiness probe and Serf, which can only remove.
   */
  private async desired(): Promise<ReturnType<typeof buildDesiredState> & { awaitingReadiness: number }> {
    const snapshots = await this.source.list();
    const running = new Set(snapshots.filter((s) => s.running).map((s) => s.id));
    this.draining = pruneDraining(this.draining, running);
    for (const id of this.ready) if (!running.has(id)) this.ready.delete(id);
    for (const id of this.firstUnreadyAt.keys()) if (!running.has(id)) this.firstUnreadyAt.delete(id);
    const opts = { labelPrefix: this.opts.labelPrefix, defaultService: this.opts.defaultBackend };
    const candidates = buildDesiredState(snapshots, { ...opts, draining: this.draining }).state.services.flatMap((s) => s.servers);

    const { notListening, awaitingReadiness } = await this.readinessGate(snapshots, candidates);
    const serfOut = await this.serfGate(snapshots, candidates.filter((b) => !notListening.has(b.containerId)));
    // this.draining is read again: a drain event may have come in while we waited.
    return { ...buildDesiredState(snapshots, { ...opts, draining: this.draining, notListening, serfOut }), awaitingReadiness };
  }

  /**
   * Containers with a HEALTHCHECK are gated by Docker's health; the others by a connect to their
   * port, once, until they answer. Newcomers of a burst become ready within a moment of each
   * other: waiting a little here gives one reload for all of them instead of one per straggler.
   */
  private async readinessGate(
    snapshots: readonly ContainerSnapshot[],
    candidates: readonly Backend[],
  ): Promise<{ notListening: ReadonlySet<string>; awaitingReadiness: number }> {
    const health = new Map(snapshots.map((s) => [s.id, s.health]));
    const toProbe = candidates.filter((b) => health.get(b.containerId) === "none" && !this.ready.has(b.containerId));
    if (toProbe.length === 0) return { notListening: new Set(), awaitingReadiness: 0 };
    const notListening = await this.waitUntilListening(toProbe);
    const now = Date.now();
    let awaitingReadiness = 0;
    for (const id of notListening) {
      const since = this.firstUnreadyAt.get(id) ?? now;
      this.firstUnreadyAt.set(id, since);
      if (now - since < READINESS_PATIENCE_MS) awaitingReadiness++;
    }
    return { notListening, awaitingReadiness };
  }

  /** Serf can take a container out of rotation (failed, or no member past the grace time), never add one. */
  private async serfGate(
    snapshots: readonly ContainerSnapshot[],
    backends: readonly Backend[],
  ): Promise<ReadonlyMap<string, "serf-failed" | "serf-missing">> {
    const serf = this.opts.serf;
    if (!serf) return new Map();
    let members: SerfMember[] | null;
    try {
      members = await serf.source.members();
      if (this.serfReachable === false) this.log.info("serf reachable again, cross-checking backends");
      this.serfReachable = true;
    } catch (err) {
      if (this.serfReachable !== false) {
        this.log.warn({ err: (err as Error).message }, "serf unreachable, routing on Docker's view alone");
      }
      this.serfReachable = false;
      members = null;
    }
    const decision = decideLiveness({
      backends,
      containerAddresses: new Set(snapshots.map((s) => s.ip).filter((ip): ip is string => ip !== null)),
      members,
      missingSince: this.missingSince,
      nowMs: Date.now(),
      graceMs: serf.graceMs,
    });
    this.missingSince = decision.missingSince;
    this.serfView = { reachable: members !== null, liveness: Object.fromEntries(decision.liveness), drift: decision.drift };
    return new Map([...decision.out].map((id) => [id, decision.liveness.get(id) === "failed" ? "serf-failed" as const : "serf-missing" as const]));
  }

  /** Probes until every backend listens, the wait is over, or a drain event cuts it short. */
  private async waitUntilListening(backends: readonly Backend[]): Promise<Set<string>> {
    const waiting = new Map(backends.map((b) => [b.containerId, b]));
    const deadline = Date.now() + (this.opts.readinessWaitMs ?? READINESS_WAIT_MS);
    let cut = false;
    this.cutReadinessWait = () => { cut = true; };
    try {
      for (;;) {
        await Promise.all([...waiting.values()].map(async (b) => {
          if (await this.readiness.isListening(b.address, b.port)) {
            this.ready.add(b.containerId);
            this.firstUnreadyAt.delete(b.containerId);
            waiting.delete(b.containerId);
          }
        }));
        if (waiting.size === 0 || cut || Date.now() + READINESS_POLL_MS > deadline) break;
        await new Promise((r) => setTimeout(r, READINESS_POLL_MS));
      }
    } finally {
      this.cutReadinessWait = null;
    }
    return new Set(waiting.keys());
  }

  private async loadTemplate(): Promise<{ source: string; fn: TemplateFn }> {
    let source: string;
    try {
      source = await fs.readFile(this.opts.templatePath, "utf8");
    } catch (err) {
      throw new TemplateError(`cannot read template ${this.opts.templatePath}: ${(err as Error).message}`);
    }
    if (this.compiled?.source !== source) this.compiled = { source, fn: compileTemplate(source) };
    return this.compiled;
  }

  private render(t: { source: string; fn: TemplateFn }, state: DesiredState): Rendered {
    const rendered = renderConfig(t.fn, t.source, state, this.opts.paths);
    if (!rendered.text.includes(`description ${DESCRIPTION_PREFIX}${rendered.configId}`)) {
      throw new TemplateError(
        `template must keep "description ${DESCRIPTION_PREFIX}{{configId}}" in its global section: the sidecar reads it back to confirm reloads`,
      );
    }
    return rendered;
  }

  private reportExclusions(excluded: readonly Exclusion[]): void {
    // Warn about bad labels once per container and label, not on every pass.
    const now = new Set<string>();
    for (const e of excluded) {
      if (e.reason !== "bad-label") continue;
      const key = `${e.containerId}\0${e.label}`;
      now.add(key);
      if (!this.reportedExclusions.has(key)) {
        this.log.warn({ container: e.containerName, containerId: e.containerId.slice(0, 12), label: e.label, problem: e.detail }, "container skipped: bad label");
      }
    }
    this.reportedExclusions = now;
  }

  private finish(r: SyncResult): SyncResult {
    this.last = r;
    return r;
  }
}
