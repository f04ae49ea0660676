import { promises as fs } from "node:fs";
import type { Logger } from "pino";
import type { BackendSource } from "../docker/source";
import { buildDesiredState } from "../model/desired-state";
import { foldDrainEvent, foldPendingStart, hasPendingStarts, pruneDraining, type ContainerEvent, type PendingStarts } from "../model/drain";
import type { DesiredState, Exclusion } from "../model/types";
import { compileTemplate, renderConfig, sha256Hex, TemplateError, type RenderPaths, type Rendered, type TemplateFn } from "../render/render";
import { DESCRIPTION_PREFIX } from "../apply/haproxy-control";
import type { Applier, ApplyOutcome } from "../apply/applier";

/** A created container that has not started after this long is not waited for any more. */
const PENDING_START_TTL_MS = 15_000;

export interface ReconcilerOptions {
  readonly labelPrefix: string;
  readonly defaultBackend: string;
  readonly templatePath: string;
  readonly paths: RenderPaths;
}

/** The result of one pass, kept for the status endpoint. */
export type SyncResult =
  | { readonly ok: true; readonly at: number; readonly outcome: ApplyOutcome; readonly state: DesiredState; readonly excluded: readonly Exclusion[] }
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
  last: SyncResult | null = null;

  constructor(
    private readonly source: BackendSource,
    private readonly applier: Applier,
    private readonly log: Logger,
    private readonly opts: ReconcilerOptions,
  ) {}

  /** Records what an event says about a container shutting down (before the listing shows it). */
  observe(event: ContainerEvent, nowMs = Date.now()): void {
    this.draining = foldDrainEvent(this.draining, event);
    this.pendingStarts = foldPendingStart(this.pendingStarts, event, nowMs, this.opts.labelPrefix);
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
    const { state, excluded } = desired;
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
      outcome = await this.applier.apply(rendered);
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
    return this.finish({ ok: true, at, outcome, state, excluded });
  }

  private async desired(): Promise<ReturnType<typeof buildDesiredState>> {
    const snapshots = await this.source.list();
    this.draining = pruneDraining(this.draining, new Set(snapshots.filter((s) => s.running).map((s) => s.id)));
    return buildDesiredState(snapshots, {
      labelPrefix: this.opts.labelPrefix,
      defaultService: this.opts.defaultBackend,
      draining: this.draining,
    });
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
