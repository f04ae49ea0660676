import type { Logger } from "pino";
import { Backoff } from "../lib/backoff";
import type { Clock, TimerHandle } from "../lib/clock";
import { TimeoutError, toError } from "../lib/errors";
import type { ServerLine } from "../render/server-lines";
import type { SerfSource } from "../serf/serf-rpc";
import type { BackendSource, SourceSignal } from "../source/backend-source";
import type { SerfView } from "./serf-gate";
import { watchSerf } from "./serf-watch";
import { CoalescingTrigger } from "./trigger";
import type { HaproxyDoor, LoopObserver, LoopOptions, LoopView, PassRunner, SyncResult } from "./types";

/**
 * Passes asked for by these take the whole listing again; the others look again only at the
 * backends hints named since the last one (while the watch is connected, every change comes as
 * a hint naming its backend). A resync's whole listing is taken before its pass (prefetch).
 */
const WHOLE_LISTING_REASONS = new Set(["connected", "retry"]);
/** A drained server that still had connections is looked at again this soon. */
const PENDING_DELETE_RECHECK_MS = 500;
/**
 * A backend being stopped that the early drain could not take out of rotation on every replica
 * leaves it with a pass this soon after its hint, not after the quiet time.
 */
const DRAIN_DELAY_MS = 30;
/** A backend that starts to listen is added this soon (it is one runtime command, not a reload). */
const READY_DELAY_MS = 0;
/**
 * A backend that starts is looked at this soon, not after the quiet time: its add is a runtime
 * command (no reload to save), and the readiness watch that finds the moment it listens starts
 * with that pass. Not while a burst that adds a backend is under way: that one is held.
 */
const START_DELAY_MS = 0;

/** How often the template file is looked at (a stat): an edit in place is applied within this. */
export const TEMPLATE_CHECK_MS = 1_000;

export interface LoopParts {
  readonly reconciler: PassRunner;
  readonly source: BackendSource;
  readonly serf: { readonly source: SerfSource; readonly view: () => SerfView | null } | null;
  /** The early drain and the agreement check go through it. */
  readonly haproxy: HaproxyDoor;
  readonly clock: Clock;
  readonly log: Logger;
  readonly observer: LoopObserver;
  /** Tells when a backend that did not listen starts to: its pass follows at once. */
  readonly readiness: { onReady(listener: (id: string) => void): void; stop(): void } | null;
  /** True when the template file changed since the last look (an operator edited it): a pass follows. */
  readonly templateChanged?: () => Promise<boolean>;
}

/**
 * The whole control loop, in one place: source signals and Serf events become pokes; pokes are
 * coalesced into passes (one in flight); failed passes are retried with capped backoff; backends
 * that do not listen yet are looked at again shortly; everything resyncs on a timer; the HAProxy
 * replicas are checked for agreement on another. Every timer runs on the injected clock.
 */
export class ControlLoop {
  private readonly trigger: CoalescingTrigger;
  private readonly retry = new Backoff(250, 30_000);
  private readonly abort = new AbortController();
  /** Reasons for the next pass, and when each was first asked for. */
  private pendingReasons = new Map<string, number>();
  private retryTimer: TimerHandle | null = null;
  private recheckTimer: TimerHandle | null = null;
  private resyncTimer: TimerHandle | null = null;
  private checkTimer: TimerHandle | null = null;
  private templateTimer: TimerHandle | null = null;
  private lookingAtTemplate: Promise<void> | null = null;
  private checking: Promise<void> | null = null;
  private firstPass = true;
  private inFlight: Promise<void> | null = null;
  private passDeadline: AbortController | null = null;
  private state: Omit<LoopView, "last" | "serf"> = {
    eventsConnected: false,
    lastReload: null,
    lastRuntime: null,
    lastRejected: null,
    lastPassMs: null,
  };

  constructor(
    private readonly parts: LoopParts,
    private readonly opts: LoopOptions,
  ) {
    this.trigger = new CoalescingTrigger(
      () => this.pass(),
      {
        quietMs: opts.quietMs,
        maxWaitMs: opts.maxWaitMs,
        hold: () => parts.reconciler.burstUnderway(),
      },
      parts.clock,
    );
  }

  get view(): LoopView {
    return { ...this.state, last: this.parts.reconciler.last, serf: this.parts.serf?.view() ?? null };
  }

  /** Starts following the source (and Serf) and resyncing; the first `connected` makes the first pass. */
  start(): void {
    this.parts.source.watch((s) => this.onSource(s), this.abort.signal);
    this.parts.readiness?.onReady((id) => {
      this.parts.observer.ready?.(id);
      // Fast path: its server is in HAProxy already, held in maintenance: one runtime command
      // to every replica routes it, without waiting for the pass (which follows at once).
      this.readyEarly(this.parts.reconciler.readied?.(id) ?? []);
      this.poke("ready", READY_DELAY_MS);
    });
    const serf = this.parts.serf;
    if (serf !== null)
      watchSerf(serf.source, (event) => this.poke(event), this.parts.clock, this.parts.log, this.abort.signal);
    this.scheduleResync();
    this.scheduleCheck();
    this.scheduleTemplateLook();
  }

  /** Stops every timer and watcher; resolves once the pass (and the check) in flight is over. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.trigger.stop();
    this.parts.readiness?.stop();
    // The pass in flight stops at its next step (a file write under way is finished, not cut).
    this.passDeadline?.abort(new Error("sidecar stopping"));
    for (const t of [this.retryTimer, this.recheckTimer, this.resyncTimer, this.checkTimer, this.templateTimer])
      if (t !== null) this.parts.clock.clearTimeout(t);
    await Promise.all([this.inFlight, this.checking, this.lookingAtTemplate]);
  }

  /** Asks for a pass; `urgentMs` (a backend is leaving, or ready) replaces the quiet time. */
  poke(reason: string, urgentMs: number | null = null): void {
    if (this.abort.signal.aborted) return;
    if (!this.pendingReasons.has(reason)) this.pendingReasons.set(reason, this.parts.clock.now());
    if (urgentMs !== null) this.trigger.pokeUrgent(urgentMs);
    else this.trigger.poke();
  }

  /** Takes held servers out of maintenance on every replica now (their pass follows). */
  private readyEarly(held: readonly ServerLine[]): void {
    if (held.length === 0) return;
    const servers = held.map((l) => `${l.backend}/${l.name}`);
    this.parts.haproxy.ready(held).then(
      () => this.parts.log.info({ servers }, "held servers ready"),
      (err: unknown) => this.parts.log.info({ err: toError(err), servers }, "early ready failed, its pass follows"),
    );
  }

  private onSource(s: SourceSignal): void {
    const log = this.parts.log;
    if (s.kind === "connected") {
      this.state = { ...this.state, eventsConnected: true };
      this.parts.observer.streamConnected(true);
      log.info("docker event stream connected, resyncing");
      this.poke("connected");
    } else if (s.kind === "disconnected") {
      this.state = { ...this.state, eventsConnected: false };
      this.parts.observer.streamConnected(false);
      log.warn({ err: s.err }, "docker event stream lost, reconnecting");
    } else {
      const hint = s.hint;
      const leaving = this.parts.reconciler.observe(hint);
      this.parts.observer.hint(hint);
      log.debug({ id: hint.id.slice(0, 12), cause: hint.cause, kind: hint.kind }, "change hint");
      if (leaving.length > 0) {
        // Fast path: stop new requests to it in every worker of every replica right away
        // through the runtime API; the pass that follows takes it out of haproxy.cfg. That pass
        // is not urgent once every replica is drained: it comes after the quiet time (a burst's
        // hold aside), and takes in a start that follows the stop (a rolling replacement)
        // instead of making it wait.
        void this.parts.haproxy
          .drain(leaving)
          .then(
            (missed) => {
              this.parts.observer.drained?.(leaving, hint);
              return missed === 0;
            },
            (err: unknown) => {
              log.warn({ err: toError(err), servers: leaving }, "early drain failed, its pass follows");
              return false;
            },
          )
          .then((everywhere) => {
            if (!everywhere) this.poke(hint.cause, DRAIN_DELAY_MS);
          });
      }
      const urgentMs =
        leaving.length > 0
          ? this.opts.quietMs
          : hint.kind === "started" && !this.parts.reconciler.burstUnderway()
            ? START_DELAY_MS
            : null;
      this.poke(hint.cause, urgentMs);
    }
  }

  /**
   * The next resync. Its whole listing is taken first, off the pass, so that a pass for a hint is
   * not held behind it; its pass then uses it (after a failed one, the pass takes it itself).
   */
  private scheduleResync(): void {
    this.resyncTimer = this.parts.clock.setTimeout(() => {
      void this.parts.reconciler.prefetch(this.abort.signal).then(() => this.poke("resync"));
      this.scheduleResync();
    }, this.opts.resyncMs);
  }

  /** The next look at the template file: an edit in place makes a pass (reason `template`). */
  private scheduleTemplateLook(): void {
    const changed = this.parts.templateChanged;
    if (changed === undefined || this.abort.signal.aborted) return;
    this.templateTimer = this.parts.clock.setTimeout(() => {
      this.templateTimer = null;
      this.lookingAtTemplate = changed()
        .then(
          (yes) => {
            if (yes) this.poke("template");
          },
          (err: unknown) => this.parts.log.warn({ err: toError(err) }, "cannot look at the template file"),
        )
        .finally(() => {
          this.lookingAtTemplate = null;
          this.scheduleTemplateLook();
        });
    }, TEMPLATE_CHECK_MS);
  }

  /** The next agreement check, one period after the last one ended (never two at once). */
  private scheduleCheck(): void {
    const periodMs = this.opts.agreementCheckMs ?? 0;
    if (periodMs <= 0 || this.abort.signal.aborted) return;
    this.checkTimer = this.parts.clock.setTimeout(() => {
      this.checkTimer = null;
      this.checking = this.parts.haproxy
        .check()
        .then(
          (report) => this.parts.observer.agreement?.(report),
          (err: unknown) => this.parts.log.warn({ err: toError(err) }, "agreement check failed"),
        )
        .finally(() => {
          this.checking = null;
          this.scheduleCheck();
        });
    }, periodMs);
  }

  private pass(): Promise<void> {
    this.inFlight = this.runPass().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async runPass(): Promise<void> {
    const clock = this.parts.clock;
    const startedAt = clock.now();
    const reasonsAt = this.pendingReasons.size > 0 ? this.pendingReasons : new Map([["resync", startedAt]]);
    const reasons = [...reasonsAt.keys()].sort();
    this.pendingReasons = new Map();
    // With the watch connected every change comes as a hint naming its backend: only those are
    // listed again. A reconnection and a retry take the whole listing (a resync took it before).
    const fresh = !this.state.eventsConnected || reasons.some((r) => WHOLE_LISTING_REASONS.has(r));
    // Every call of a pass has a deadline of its own; the pass as a whole has one too.
    const deadline = new AbortController();
    this.passDeadline = deadline;
    const timer = clock.setTimeout(
      () => deadline.abort(new TimeoutError("reconcile pass", this.opts.passTimeoutMs)),
      this.opts.passTimeoutMs,
    );
    let result: SyncResult;
    try {
      result = await this.parts.reconciler.sync(fresh, deadline.signal);
    } finally {
      clock.clearTimeout(timer);
    }
    // Those that began to listen while this pass put them in HAProxy, held: ready now, not
    // after the next pass.
    this.readyEarly(this.parts.reconciler.takeLateReadies?.() ?? []);
    const confirmedAt = clock.now();
    this.parts.observer.pass({
      result,
      durationS: (confirmedAt - startedAt) / 1000,
      reasons: reasonsAt,
      confirmedAt,
      serf: this.parts.serf?.view() ?? null,
    });
    this.state = { ...this.state, lastPassMs: confirmedAt - startedAt };
    this.afterPass(result, reasons.join(","));
  }

  private afterPass(result: SyncResult, reasons: string): void {
    const log = this.parts.log;
    if (result.ok && result.outcome.kind === "rejected" && !result.outcome.repeated) {
      this.state = { ...this.state, lastRejected: { at: result.at, message: result.outcome.message } };
    }
    if (!result.ok && result.stage === "template")
      this.state = { ...this.state, lastRejected: { at: result.at, message: result.error.message } };
    if (this.firstPass) {
      this.firstPass = false;
      log.info(
        result.ok ? { outcome: result.outcome.kind } : { stage: result.stage, err: result.error },
        "first reconcile done",
      );
    }
    if (result.ok) {
      if (this.retry.failures > 0) log.info({ after: this.retry.failures }, "reconcile recovered");
      this.retry.reset();
      const outcome = result.outcome;
      if (outcome.kind === "reloaded") this.state = { ...this.state, lastReload: { at: result.at, reason: reasons } };
      if (outcome.kind === "runtime") this.state = { ...this.state, lastRuntime: { at: result.at, reason: reasons } };
      if (outcome.kind === "runtime" && outcome.result.pendingDeletes.length > 0) {
        this.recheckTimer = this.replace(
          this.recheckTimer,
          () => this.poke("pending-delete"),
          PENDING_DELETE_RECHECK_MS,
        );
      }
    } else if (result.retry) {
      const delayMs = this.retry.next();
      // Logged at every failure, with the attempt count, so that a stuck loop is visible.
      log.warn(
        { stage: result.stage, err: result.error, delayMs, attempt: this.retry.failures },
        "reconcile failed, will retry",
      );
      this.retryTimer = this.replace(this.retryTimer, () => this.poke("retry"), delayMs);
    }
  }

  private replace(timer: TimerHandle | null, fn: () => void, ms: number): TimerHandle | null {
    if (timer !== null) this.parts.clock.clearTimeout(timer);
    return this.abort.signal.aborted ? null : this.parts.clock.setTimeout(fn, ms);
  }
}
