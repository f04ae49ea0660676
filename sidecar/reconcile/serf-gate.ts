import type { Logger } from "pino";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import { decideLiveness } from "../model/liveness";
import type { Backend, BackendSnapshot, SerfLiveness, SerfMember } from "../model/types";
import type { SerfSource } from "../serf/serf-rpc";

/** What Serf said on the last pass, for the status page. */
export interface SerfView {
  readonly reachable: boolean;
  /** Serf's opinion per backend id. */
  readonly liveness: Readonly<Record<string, SerfLiveness>>;
  readonly drift: readonly SerfMember[];
}

export interface SerfGateOptions {
  readonly source: SerfSource;
  /** A routed backend with no live member for this long leaves rotation. */
  readonly graceMs: number;
  /** Tag of members meant to be backends (for drift). */
  readonly memberTag: { readonly key: string; readonly value: string };
}

/** Serf can take a backend out of rotation (failed, or no member past the grace time), never add one. */
export class SerfGate {
  private missingSince: ReadonlyMap<string, number> = new Map();
  private reachable: boolean | null = null;
  /** Serf's view at the last pass. */
  view: SerfView | null = null;

  constructor(
    private readonly opts: SerfGateOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async check(
    snapshots: readonly BackendSnapshot[],
    backends: readonly Backend[],
  ): Promise<ReadonlyMap<string, "serf-failed" | "serf-missing">> {
    let members: SerfMember[] | null;
    try {
      members = await this.opts.source.members();
      if (this.reachable === false) this.log.info("serf reachable again, cross-checking backends");
      this.reachable = true;
    } catch (err) {
      if (this.reachable !== false)
        this.log.warn({ err: toError(err) }, "serf unreachable, routing on Docker's view alone");
      this.reachable = false;
      members = null;
    }
    const decision = decideLiveness({
      backends,
      listedAddresses: new Set(snapshots.map((s) => s.address).filter((a): a is string => a !== null)),
      members,
      missingSince: this.missingSince,
      nowMs: this.clock.now(),
      graceMs: this.opts.graceMs,
      memberTag: this.opts.memberTag,
    });
    this.missingSince = decision.missingSince;
    this.view = { reachable: members !== null, liveness: Object.fromEntries(decision.liveness), drift: decision.drift };
    return new Map(
      [...decision.out].map((id) => [
        id,
        decision.liveness.get(id) === "failed" ? ("serf-failed" as const) : ("serf-missing" as const),
      ]),
    );
  }
}
