import type { AgreementReport } from "../apply/agreement";
import type { ApplyOutcome } from "../apply/outcome";
import type { ChangeHint, DesiredState, Exclusion, ServerRef } from "../model/types";
import type { ServerLine } from "../render/server-lines";
import type { SerfView } from "./serf-gate";

/**
 * Where one pass spent its time, in ms: the listing (Docker), the gates (readiness probes, Serf,
 * the desired state), the render, the apply (HAProxy's runtime API or a reload, read back).
 */
export interface PassStages {
  /** The whole listing this pass used that was taken before it, off the pass (a resync's). */
  prefetch?: number;
  list: number;
  gates: number;
  render: number;
  apply: number;
}

/** The result of one pass. */
export type SyncResult =
  | {
      readonly ok: true;
      readonly at: number;
      readonly outcome: ApplyOutcome;
      readonly state: DesiredState;
      readonly excluded: readonly Exclusion[];
      /** Backends that do not listen yet but soon may: worth another pass shortly. */
      readonly awaitingReadiness: number;
      /** Backends whose leaving servers are kept routed because draining them would leave too few. */
      readonly drainPanic: readonly string[];
      /** Where the pass spent its time, in ms (absent from fakes). */
      readonly stagesMs?: PassStages;
    }
  | {
      readonly ok: false;
      readonly at: number;
      readonly stage: "list" | "template" | "apply";
      readonly error: Error;
      readonly retry: boolean;
    };

export interface LoopOptions {
  readonly quietMs: number;
  readonly maxWaitMs: number;
  readonly resyncMs: number;
  /** A pass that takes longer is aborted (a retryable failure). */
  readonly passTimeoutMs: number;
  /** The replicas are read back and compared with the desired state this often; 0 or absent: never. */
  readonly agreementCheckMs?: number;
}

/** HAProxy as the loop reaches it between passes (apply/'s fleet in production, a recording fake in tests). */
export interface HaproxyDoor {
  /**
   * Sets servers to maintenance on every replica at once: resolves with the number of running
   * replicas it could not drain (0: all of them); rejects when none could be.
   */
  drain(servers: readonly ServerRef[]): Promise<number>;
  /** Takes held servers out of maintenance on every replica at once; rejects when none could be. */
  ready(servers: readonly ServerLine[]): Promise<void>;
  /** Reads every replica back, repairs those that are not in sync. */
  check(): Promise<AgreementReport>;
}

/** One pass, as the loop reports it. */
export interface PassReport {
  readonly result: SyncResult;
  readonly durationS: number;
  /**
   * What asked for it, and when each was first asked for (epoch ms): hint causes (`start`,
   * `kill`…), `connected`, `resync`, `retry`, `readiness`, Serf events.
   */
  readonly reasons: ReadonlyMap<string, number>;
  /** When the pass returned: what it applied was confirmed by then (see ApplyOutcome). */
  readonly confirmedAt: number;
  readonly serf: SerfView | null;
}

/** Who wants to know what the loop does (metrics). */
export interface LoopObserver {
  pass(report: PassReport): void;
  hint(hint: ChangeHint): void;
  streamConnected(connected: boolean): void;
  /** A backend that did not listen accepts connections now. */
  ready?(id: string): void;
  /** Servers drained at once on `hint` (before its pass), HAProxy's answers checked. */
  drained?(servers: readonly ServerRef[], hint: ChangeHint): void;
  /** An agreement check ran (every replica read back; the repairs it made). */
  agreement?(report: AgreementReport): void;
}

/** Several observers as one. */
export function observers(...list: readonly LoopObserver[]): LoopObserver {
  return {
    pass: (report) => list.forEach((o) => o.pass(report)),
    hint: (hint) => list.forEach((o) => o.hint(hint)),
    streamConnected: (connected) => list.forEach((o) => o.streamConnected(connected)),
    ready: (id) => list.forEach((o) => o.ready?.(id)),
    drained: (servers, hint) => list.forEach((o) => o.drained?.(servers, hint)),
    agreement: (report) => list.forEach((o) => o.agreement?.(report)),
  };
}

/** The pass the loop drives: the Reconciler in production, a recording fake in tests. */
export interface PassRunner {
  /** Folds a hint in; returns the routed servers it starts draining (to stop routing to now). */
  observe(hint: ChangeHint): ServerRef[];
  /**
   * A backend that did not listen does now: the lines of its servers HAProxy holds in
   * maintenance, to take them out of it at once (the pass that routes it follows).
   */
  readied?(id: string): ServerLine[];
  /** After a pass: the held lines of backends that began to listen while it was under way. */
  takeLateReadies?(): ServerLine[];
  /** True while more of a burst is known to come. */
  burstUnderway(): boolean;
  /** One pass; never throws. */
  /** `fresh` false: the last listing may be reused (nothing but readiness asked for the pass). */
  sync(fresh?: boolean, signal?: AbortSignal): Promise<SyncResult>;
  /**
   * Takes the whole listing now, off the pass: the next sync uses it. When it fails, the next
   * sync takes the whole listing itself. Never rejects.
   */
  prefetch(signal?: AbortSignal): Promise<void>;
  readonly last: SyncResult | null;
}

/** What the status server reads. */
export interface LoopView {
  readonly eventsConnected: boolean;
  readonly last: SyncResult | null;
  readonly lastReload: { readonly at: number; readonly reason: string } | null;
  /** The last membership change made through the runtime API (no reload). */
  readonly lastRuntime: { readonly at: number; readonly reason: string } | null;
  readonly lastRejected: { readonly at: number; readonly message: string } | null;
  /** How long the last pass took, from its start to HAProxy's confirmation, in ms. */
  readonly lastPassMs: number | null;
  readonly serf: SerfView | null;
}
