import type { Logger } from "pino";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import type { Applier } from "./applier";
import type { Fleet, Member } from "./fleet";
import type { ReplicaView } from "./replica-state";
import type { ReadBack } from "./target";

/** A replica brought back to the desired state by the agreement check. */
export interface Repair {
  readonly replica: string;
  readonly container: string;
  readonly containerId: string;
  /** `diverged`: it moved from where the sidecar left it; `stale`: it was behind (restarted, paused...). */
  readonly was: "diverged" | "stale";
  /** What differed, in words. */
  readonly detail: string;
  readonly via: "runtime" | "reload";
  /** When the check found it (epoch ms), and when it read back in sync. */
  readonly detectedAt: number;
  readonly confirmedAt: number;
}

/** One agreement check: every replica's state after it, and the repairs it made. */
export interface AgreementReport {
  readonly at: number;
  readonly replicas: readonly ReplicaView[];
  readonly repairs: readonly Repair[];
}

/**
 * Reads every replica back and tells whether it routes the desired state (in-sync, stale,
 * diverged); a replica that answers and is not in sync is brought there at once (runtime API,
 * else a reload), a failed repair backing off. Run it on a timer: drift made by hand on one
 * replica's socket, or a replica that answers again after a pause or a restart, is found and
 * repaired within a period or two. Never while an apply is under way (the applier's exclusive),
 * and no repair while early drains wait for their pass (it follows within the quiet time).
 */
export class AgreementCheck {
  constructor(
    private readonly applier: Applier,
    private readonly fleet: Fleet,
    private readonly clock: Pick<Clock, "now">,
    private readonly log: Logger,
  ) {}

  check(): Promise<AgreementReport> {
    return this.applier.exclusive(() => this.run());
  }

  private async run(): Promise<AgreementReport> {
    const at = this.clock.now();
    await this.fleet.refresh().catch((err: unknown) => {
      // The last listing serves; the next check lists again.
      this.log.debug({ err: toError(err) }, "haproxy replicas not listed for the agreement check");
    });
    const desired = this.applier.desired;
    const answered = new Set<Member>();
    await Promise.all(
      this.fleet.members.map(async (m) => {
        const read: ReadBack | null = m.running ? await m.target.readBack() : null;
        if (read !== null) answered.add(m);
        this.fleet.settle(m, read, desired, at);
      }),
    );
    const due =
      desired === null || this.fleet.drainedEarly().size > 0
        ? []
        : this.fleet.members.filter((m) => answered.has(m) && m.view.state !== "in-sync" && at >= m.repairAfter);
    if (due.length === 0) return { at, replicas: this.fleet.view(), repairs: [] };
    const found = new Map(due.map((m) => [m, m.view]));
    for (const [m, view] of found)
      if (view.state === "diverged")
        this.log.warn(
          { replica: m.name, container: m.replica.container, drift: view.reason },
          "replica diverged from the desired state, repairing",
        );
    const outcomes = await this.applier.repair(due);
    const repairs: Repair[] = [];
    for (const [m, view] of found) {
      const o = outcomes.get(m);
      const via = o?.kind === "reloaded" && o.signals > 0 ? "reload" : o?.kind === "runtime" ? "runtime" : null;
      if (m.view.state === "in-sync") {
        m.repairs.reset();
        m.repairAfter = 0;
        if (via === null) continue;
        const repair: Repair = {
          replica: m.name,
          container: m.replica.container,
          containerId: m.replica.containerId,
          was: view.state === "diverged" ? "diverged" : "stale",
          detail: view.reason ?? "",
          via,
          detectedAt: at,
          confirmedAt: m.view.confirmedAt ?? this.clock.now(),
        };
        repairs.push(repair);
        this.log.info({ replica: m.name, was: repair.was, via, detail: repair.detail }, "replica repaired");
      } else {
        const delayMs = m.repairs.next();
        m.repairAfter = this.clock.now() + delayMs;
        this.log.warn(
          { replica: m.name, state: m.view.state, reason: m.view.reason, retryInMs: delayMs },
          "replica not repaired, will retry",
        );
      }
    }
    return { at, replicas: this.fleet.view(), repairs };
  }
}
