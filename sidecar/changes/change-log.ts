import type { Logger } from "pino";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import type { AgreementReport } from "../apply/agreement";
import { inProgress, type ReplicaView } from "../apply/replica-state";
import type { ChangeHint, ServerRef } from "../model/types";
import type { LoopObserver, PassReport } from "../reconcile/types";
import type { ChangeStore, StoredHistory } from "./change-file";
import {
  drainRecords,
  labelRecord,
  maintenanceRecord,
  rejectionRecord,
  repairRecord,
  replicaStateRecord,
  routingChanges,
  routingOfState,
  type Cause,
  type ChangeRecord,
  type NewRecord,
  type Routing,
} from "./records";
import { parseStoredRecord } from "./stored-record";

/** Causes heard of for one backend, kept until a record uses them (or they are this old). */
const CAUSE_TTL_MS = 10 * 60_000;
const MAX_CAUSES_PER_BACKEND = 6;
/** A history with many bad lines is one warning: its first problems, and how many more. */
const MAX_PROBLEMS_LOGGED = 5;
/** How every record line starts (seq first); 15 digits stay a safe integer. */
const CUT_LINE_SEQ = /^\{"seq":(\d{1,15})[,}]/;

export interface ChangeFilter {
  /** A container or server name, or a container id (or its prefix of 12+). */
  readonly container?: string;
  /** Records confirmed (or, unconfirmed, triggered) at or after this epoch ms. */
  readonly since?: number;
}

export interface ChangeLogOptions {
  /** Records kept in memory (and served): the last ones. */
  readonly keep: number;
  /** Where hints come from. */
  readonly source: "docker" | "swarm";
  /** The HAProxy replicas as the fleet sees them now: their changes of state are records too. */
  readonly replicas?: () => readonly ReplicaView[];
}

/**
 * Every routing change the sidecar makes, as records (records.ts): the last `keep` in memory,
 * every one appended to the store (JSON lines on the shared volume, rotated), so that a
 * restart keeps the history. A loop observer: it hears hints, readiness, early drains and
 * passes, and keeps what HAProxy routes to diff the next pass against.
 */
export class ChangeLog implements LoopObserver {
  private readonly records: ChangeRecord[] = [];
  private seq = 0;
  private routing: Routing | null = null;
  private readonly causes = new Map<string, Cause[]>();
  /** Rejections already recorded (bad labels, members at fault, the last refused render). */
  private reportedLabels = new Set<string>();
  private reportedCulprits = new Set<string>();
  private lastRejection: string | null = null;
  /** Each replica's state at the last look (by its number), to record when it changes. */
  private replicaStates = new Map<string, ReplicaView>();
  private writing: Promise<void> = Promise.resolve();
  private storeFailed = false;

  constructor(
    private readonly store: ChangeStore | null,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: ChangeLogOptions,
  ) {}

  /**
   * Reads the history back, and what HAProxy routes now (the live config's servers, or null):
   * the first pass is diffed against it.
   */
  async start(routing: Routing | null): Promise<void> {
    this.routing = routing;
    if (this.store === null) return;
    let history: StoredHistory = { lines: [], notes: [] };
    try {
      history = await this.store.load();
    } catch (err) {
      this.log.warn({ err: toError(err) }, "change log history not read, starting empty");
    }
    // Every line is checked: seq goes on from the highest valid one, the last `keep` are served.
    const problems = [...history.notes];
    let dropped = 0;
    for (const { file, line, text } of history.lines) {
      const r = parseStoredRecord(text);
      if (typeof r === "string") {
        dropped += 1;
        problems.push(`${file} line ${line}: ${r}`);
        // A line cut by a crash still took its number (it may have been served): never reused.
        const cut = CUT_LINE_SEQ.exec(text);
        if (cut !== null) this.seq = Math.max(this.seq, Number(cut[1]));
        continue;
      }
      this.seq = Math.max(this.seq, r.seq);
      this.keep(r);
    }
    if (problems.length > 0)
      this.log.warn(
        {
          dropped,
          problems: problems.slice(0, MAX_PROBLEMS_LOGGED),
          more: Math.max(0, problems.length - MAX_PROBLEMS_LOGGED),
        },
        "change log history read back in part",
      );
  }

  /** The kept records, oldest first, filtered. */
  query(filter: ChangeFilter = {}): ChangeRecord[] {
    const c = filter.container;
    return this.records.filter(
      (r) =>
        (c === undefined ||
          r.container === c ||
          r.server === c ||
          (c.length >= 12 && r.containerId !== null && r.containerId.startsWith(c))) &&
        (filter.since === undefined || Date.parse(r.confirmedAt ?? r.triggeredAt) >= filter.since),
    );
  }

  /** Resolves once every record so far is in the store. */
  flushed(): Promise<void> {
    return this.writing;
  }

  hint(hint: ChangeHint): void {
    // Creation routes nothing (the start does); a network event names the container's move.
    if (hint.kind === "created") return;
    if (hint.kind === "gone" && !this.causes.has(hint.id)) return;
    // A (re)start opens a new story: what was heard of its stop explains nothing after it.
    if (hint.kind === "started") this.causes.delete(hint.id);
    this.note(hint.id, { source: this.opts.source, event: hint.cause, at: this.clock.now() });
  }

  /** A backend that did not listen accepts connections now. */
  ready(id: string): void {
    this.note(id, { source: "readiness", event: "listening", at: this.clock.now() });
  }

  /** Servers drained at once on `hint`, HAProxy's answers checked. */
  drained(servers: readonly ServerRef[], hint: ChangeHint): void {
    const now = this.clock.now();
    const routed = servers
      .map((s) => this.routing?.get(`${s.backend}/${s.server}`))
      .filter((s): s is NonNullable<typeof s> => s !== undefined);
    const heard = this.causes.get(hint.id) ?? [];
    const cause = heard.find((c) => c.event === hint.cause) ?? {
      source: this.opts.source,
      event: hint.cause,
      at: now,
    };
    this.add(drainRecords(routed, { cause, reason: `${this.opts.source} event ${hint.cause}` }, now));
  }

  streamConnected(): void {
    /* not a routing change */
  }

  /** Each HAProxy replica the agreement check repaired: one record, naming the replica's container. */
  /** An operator put a container in maintenance or took it out: who asked, when. */
  maintenance(req: { container: string; on: boolean; by: string }): void {
    this.add([maintenanceRecord(req, this.clock.now())]);
  }

  agreement(report: AgreementReport): void {
    this.add(report.repairs.map(repairRecord));
    this.noteReplicas(new Set(report.repairs.map((r) => r.replica)), report.at);
  }

  /**
   * A replica that fell behind (paused, restarted, not answering) and one that is in sync again
   * otherwise than by a repair the agreement check recorded: one record each, saying why.
   */
  private noteReplicas(repaired: ReadonlySet<string>, at: number): void {
    const now = this.opts.replicas?.() ?? [];
    const out: NewRecord[] = [];
    const next = new Map<string, ReplicaView>();
    for (const v of now) {
      const before = this.replicaStates.get(v.replica);
      // An apply under way is the sidecar's own progress: the replica keeps the state it had.
      if (inProgress(v)) {
        if (before !== undefined) next.set(v.replica, before);
        continue;
      }
      next.set(v.replica, v);
      if (before !== undefined && before.state !== v.state && !repaired.has(v.replica)) {
        if (v.state === "stale" || (v.state === "in-sync" && before.state === "stale"))
          out.push(replicaStateRecord(before, v, at));
      }
    }
    this.replicaStates = next;
    this.add(out);
  }

  pass(report: PassReport): void {
    this.noteReplicas(new Set(), report.confirmedAt);
    const { result } = report;
    const at = report.confirmedAt;
    if (!result.ok) {
      if (result.stage === "template" && result.error.message !== this.lastRejection) {
        this.lastRejection = result.error.message;
        this.add([rejectionRecord("template", result.error.message, at)]);
      }
      return;
    }
    const out: NewRecord[] = [];
    // Bad labels and members HAProxy refuses: once per container and problem.
    const labels = new Set<string>();
    const culprits = new Set<string>();
    for (const e of result.excluded) {
      if (e.reason === "bad-label") {
        const k = `${e.sourceId}\0${e.label ?? ""}\0${e.detail ?? ""}`;
        labels.add(k);
        if (!this.reportedLabels.has(k)) out.push(labelRecord(e, at));
      } else if (e.reason === "config-rejected") {
        culprits.add(e.sourceId);
        if (!this.reportedCulprits.has(e.sourceId))
          out.push(rejectionRecord("haproxy", e.detail ?? "server line rejected", at, e));
      }
    }
    this.reportedLabels = labels;
    this.reportedCulprits = culprits;
    const outcome = result.outcome;
    if (outcome.kind === "rejected") {
      if (outcome.message !== this.lastRejection) {
        this.lastRejection = outcome.message;
        out.push(rejectionRecord("haproxy", outcome.message, at));
      }
      this.add(out);
      return;
    }
    this.lastRejection = null;
    const after = routingOfState(result.state);
    if (this.routing !== null) {
      const changes = routingChanges({
        before: this.routing,
        after,
        excluded: result.excluded,
        outcome,
        causes: {
          byId: this.causes,
          reasons: report.reasons,
          source: this.opts.source,
          passAt: result.at,
        },
        confirmedAt: at,
      });
      out.push(...changes);
      for (const r of changes) if (r.containerId !== null) this.causes.delete(r.containerId);
    }
    this.routing = after;
    for (const [id, list] of this.causes) if (list[list.length - 1]!.at < at - CAUSE_TTL_MS) this.causes.delete(id);
    this.add(out);
  }

  /**
   * Network events explain a change only when nothing else does (`docker network connect` on a
   * running container): compose disconnects and reconnects every new container to set its
   * aliases before starting it, and the start is what routes it.
   */
  private note(id: string, cause: Cause): void {
    const weak = (c: Cause): boolean => c.event.startsWith("network-");
    let list = this.causes.get(id) ?? [];
    if (list.some((c) => c.source === cause.source && c.event === cause.event)) return;
    if (weak(cause) && list.some((c) => !weak(c))) return;
    if (!weak(cause)) list = list.filter((c) => !weak(c));
    this.causes.set(id, [...list, cause].slice(-MAX_CAUSES_PER_BACKEND));
  }

  private add(records: readonly NewRecord[]): void {
    if (records.length === 0) return;
    const numbered = records.map((r) => ({ seq: ++this.seq, ...r }));
    for (const r of numbered) this.keep(r);
    const store = this.store;
    if (store === null) return;
    const lines = numbered.map((r) => JSON.stringify(r));
    this.writing = this.writing
      .then(() => store.append(lines))
      .then(
        () => {
          if (this.storeFailed) this.log.info("change log file written again");
          this.storeFailed = false;
        },
        (err: unknown) => {
          if (!this.storeFailed) this.log.warn({ err: toError(err) }, "change log file not written (kept in memory)");
          this.storeFailed = true;
        },
      );
  }

  private keep(r: ChangeRecord): void {
    this.records.push(r);
    if (this.records.length > this.opts.keep) this.records.splice(0, this.records.length - this.opts.keep);
  }
}
