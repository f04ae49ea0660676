import type { Logger } from "pino";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import { decideLiveness } from "../model/liveness";
import type { Backend, BackendSnapshot, DesiredState, SerfLiveness, SerfMember } from "../model/types";
import type { SerfSource } from "../serf/serf-rpc";

/** What Serf said on the last pass, for the status page. */
export interface SerfView {
  readonly reachable: boolean;
  /** Serf's opinion per backend id. */
  readonly liveness: Readonly<Record<string, SerfLiveness>>;
  readonly drift: readonly SerfMember[];
  /** HAProxy backends routed on Docker's view alone because Serf would leave too few. */
  readonly panic: readonly string[];
}

export interface SerfGateOptions {
  readonly source: SerfSource;
  /** A routed backend with no live member for this long leaves rotation. */
  readonly graceMs: number;
  /** Tag of members meant to be backends (for drift). */
  readonly memberTag: { readonly key: string; readonly value: string };
  /** 0–1: Serf never leaves fewer than this share of a backend's members routed. */
  readonly panicThreshold: number;
}

/** Serf can take a backend out of rotation (failed, or no member past the grace time), never add one. */
export class SerfGate {
  private missingSince: ReadonlyMap<string, number> = new Map();
  private panic: ReadonlySet<string> = new Set();
  private reachable: boolean | null = null;
  /** Serf's view at the last pass. */
  view: SerfView | null = null;

  constructor(
    private readonly opts: SerfGateOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * @param backends the candidates Serf may take out (Docker-healthy, listening)
   * @param state the state they belong to (which HAProxy backend each one is in, for the panic threshold)
   */
  async check(
    snapshots: readonly BackendSnapshot[],
    backends: readonly Backend[],
    state: DesiredState,
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
      agentNames: new Map(snapshots.flatMap((s) => (s.agentName === undefined ? [] : [[s.id, s.agentName] as const]))),
      listedAddresses: new Set(snapshots.map((s) => s.address).filter((a): a is string => a !== null)),
      members,
      missingSince: this.missingSince,
      nowMs: this.clock.now(),
      graceMs: this.opts.graceMs,
      memberTag: this.opts.memberTag,
      serviceOf: new Map(state.services.flatMap((s) => s.servers.map((b) => [b.sourceId, s.name] as const))),
      panicThreshold: this.opts.panicThreshold,
    });
    this.missingSince = decision.missingSince;
    this.reportPanic(decision.panic);
    this.view = {
      reachable: members !== null,
      liveness: Object.fromEntries(decision.liveness),
      drift: decision.drift,
      panic: decision.panic,
    };
    return new Map(
      [...decision.out].map((id) => [
        id,
        decision.liveness.get(id) === "failed" ? ("serf-failed" as const) : ("serf-missing" as const),
      ]),
    );
  }

  /** Says once when a backend enters panic (Serf ignored for it), and once when it leaves it. */
  private reportPanic(now: readonly string[]): void {
    for (const backend of now) {
      if (!this.panic.has(backend)) {
        this.log.warn(
          { backend, threshold: this.opts.panicThreshold },
          "serf would take out too many of this backend's members: routing it on Docker's view",
        );
      }
    }
    for (const backend of this.panic)
      if (!now.includes(backend)) this.log.info({ backend }, "serf panic over: cross-checking this backend again");
    this.panic = new Set(now);
  }
}
