import type { Logger } from "pino";
import type { ApplyOutcome } from "../apply/outcome";
import type { DesiredState, Exclusion } from "../model/types";
import { sha256Hex, type Rendered } from "../render/render";

/** What a pass logs, each problem once per cause rather than on every pass. */
export class PassLog {
  private reportedExclusions = new Set<string>();
  private lastTemplateErrorKey: string | null = null;
  private drainPanicked: ReadonlySet<string> = new Set();

  constructor(private readonly log: Logger) {}

  /** Warns about bad labels once per backend and label. */
  exclusions(excluded: readonly Exclusion[]): void {
    const now = new Set<string>();
    for (const e of excluded) {
      if (e.reason !== "bad-label") continue;
      const key = `${e.sourceId}\0${e.label}`;
      now.add(key);
      if (!this.reportedExclusions.has(key)) {
        this.log.warn(
          { container: e.name, containerId: e.sourceId.slice(0, 12), label: e.label, problem: e.detail },
          "container skipped: bad label",
        );
      }
    }
    this.reportedExclusions = now;
  }

  /** Says once when a backend starts keeping its leaving servers routed, and once when it stops. */
  drainPanic(backends: readonly string[]): void {
    for (const backend of backends) {
      if (!this.drainPanicked.has(backend)) {
        this.log.warn(
          { backend },
          "draining the leaving servers would leave this backend too few: they stay routed while they run",
        );
      }
    }
    for (const backend of this.drainPanicked)
      if (!backends.includes(backend))
        this.log.info({ backend }, "drain panic over: leaving servers are drained again");
    this.drainPanicked = new Set(backends);
  }

  templateOk(): void {
    this.lastTemplateErrorKey = null;
  }

  /** Logs a template error once per (error, state). */
  templateError(err: Error, state: DesiredState): void {
    const key = sha256Hex(`${err.message}\0${JSON.stringify(state)}`);
    if (key === this.lastTemplateErrorKey) return;
    this.log.error({ err }, "template error, keeping the last good config");
    this.lastTemplateErrorKey = key;
  }

  outcome(outcome: ApplyOutcome, rendered: Rendered, state: DesiredState): void {
    const servers = state.services.reduce((n, s) => n + s.servers.length, 0);
    const ids = { configId: rendered.configId, servers };
    if (outcome.kind === "rejected") {
      if (!outcome.repeated) {
        this.log.error(
          { haproxy: outcome.message, sha256: rendered.sha256 },
          "haproxy rejected the new config, keeping the last good one",
        );
      }
    } else if (outcome.kind === "reloaded") {
      this.log.info({ ...ids, signals: outcome.signals, written: outcome.written }, "haproxy reloaded");
    } else if (outcome.kind === "runtime") {
      const { added, changed, removed, pendingDeletes } = outcome.result;
      this.log.info({ ...ids, added, changed, removed, pendingDeletes }, "servers changed at runtime, no reload");
    } else if (outcome.kind === "no-haproxy") {
      this.log.warn(ids, "config written, no haproxy of this stack on the watched network to reload");
    } else {
      this.log.debug(ids, "config unchanged");
    }
  }
}
