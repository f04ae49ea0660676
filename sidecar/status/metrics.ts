import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AgreementReport } from "../apply/agreement";
import type { ReplicaView } from "../apply/replica-state";
import type { ChangeHint } from "../model/types";
import type { LoopObserver, PassReport } from "../reconcile/types";

/** Prometheus metrics of the sidecar (prom-client), served at /metrics. */
export class Metrics implements LoopObserver {
  readonly registry = new Registry();
  private readonly reloads = new Counter({
    name: "ha_sidecar_reloads_total",
    help: "HAProxy reloads confirmed by the sidecar",
    registers: [this.registry],
  });
  private readonly runtimeChanges = new Counter({
    name: "ha_sidecar_runtime_changes_total",
    help: "Servers added, changed or removed through HAProxy's runtime API (no reload)",
    labelNames: ["change"],
    registers: [this.registry],
  });
  private readonly fallbacks = new Counter({
    name: "ha_sidecar_runtime_fallbacks_total",
    help: "Runtime applies that failed or did not read back as wanted, and were replaced by a reload",
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: "ha_sidecar_rejected_configs_total",
    help: "Rendered configs that haproxy -c refused",
    registers: [this.registry],
  });
  private readonly passes = new Histogram({
    name: "ha_sidecar_reconcile_duration_seconds",
    help: "Duration of one reconcile pass",
    labelNames: ["result"],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  private readonly stages = new Histogram({
    name: "ha_sidecar_reconcile_stage_seconds",
    help: "Time one reconcile pass spent in each stage: list (Docker), gates, render, apply (HAProxy); prefetch: a resync's whole listing, taken before its pass",
    labelNames: ["stage"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [this.registry],
  });
  private readonly backends = new Gauge({
    name: "ha_sidecar_backends",
    help: "Containers by state after the last pass (routed, or why not)",
    labelNames: ["state"],
    registers: [this.registry],
  });
  private readonly events = new Counter({
    name: "ha_sidecar_docker_events_total",
    help: "Docker events received",
    labelNames: ["action"],
    registers: [this.registry],
  });
  private readonly eventStreamUp = new Gauge({
    name: "ha_sidecar_event_stream_connected",
    help: "1 while the Docker event stream is connected",
    registers: [this.registry],
  });
  private readonly serfPanic = new Gauge({
    name: "ha_sidecar_serf_panic",
    help: "1 for a backend routed on Docker's view alone: Serf would have left too few of its members",
    labelNames: ["backend"],
    registers: [this.registry],
  });
  private readonly drainPanic = new Gauge({
    name: "ha_sidecar_drain_panic",
    help: "1 for a backend whose leaving servers stay routed: draining them would have left too few",
    labelNames: ["backend"],
    registers: [this.registry],
  });
  private readonly haproxyCommands = new Counter({
    name: "ha_sidecar_haproxy_commands_total",
    help: "Commands sent to HAProxy's runtime and master CLIs (reads included)",
    registers: [this.registry],
  });
  private readonly serfReachable = new Gauge({
    name: "ha_sidecar_serf_reachable",
    help: "1 when Serf answered on the last pass",
    registers: [this.registry],
  });

  private readonly repairs = new Counter({
    name: "ha_sidecar_replica_repairs_total",
    help: "HAProxy replicas brought back to the desired state by the agreement check (was: diverged or stale)",
    labelNames: ["replica", "was"],
    registers: [this.registry],
  });

  private readonly inSync: Gauge;

  /** @param replicas each HAProxy replica's state, read at every scrape. */
  constructor(replicas: () => readonly ReplicaView[] = () => []) {
    this.inSync = new Gauge({
      name: "ha_sidecar_haproxy_in_sync",
      help: "1 while an HAProxy replica routes exactly the desired state (read back), 0 while it is stale or diverged",
      labelNames: ["replica"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of replicas()) this.set({ replica: r.replica }, r.state === "in-sync" ? 1 : 0);
      },
    });
    // A coarse event-loop monitor: the default 10 ms precision wakes an idle sidecar 100 times a second.
    collectDefaultMetrics({ register: this.registry, prefix: "ha_sidecar_", eventLoopMonitoringPrecision: 500 });
  }

  /** `count` more commands sent to HAProxy's CLIs. */
  haproxyCommandsSent(count: number): void {
    this.haproxyCommands.inc(count);
  }

  hint(hint: ChangeHint): void {
    this.events.inc({ action: hint.cause });
  }

  agreement(report: AgreementReport): void {
    for (const r of report.repairs) this.repairs.inc({ replica: r.replica, was: r.was });
  }

  streamConnected(connected: boolean): void {
    this.eventStreamUp.set(connected ? 1 : 0);
  }

  pass({ result, durationS, serf }: PassReport): void {
    this.serfReachable.set(serf?.reachable ? 1 : 0);
    this.serfPanic.reset();
    for (const backend of serf?.panic ?? []) this.serfPanic.set({ backend }, 1);
    this.passes.observe({ result: result.ok ? "ok" : result.stage }, durationS);
    if (!result.ok) return;
    for (const [stage, ms] of Object.entries(result.stagesMs ?? {})) this.stages.observe({ stage }, ms / 1000);
    this.drainPanic.reset();
    for (const backend of result.drainPanic) this.drainPanic.set({ backend }, 1);
    const outcome = result.outcome;
    if (outcome.kind === "reloaded" && outcome.signals > 0) this.reloads.inc();
    if (outcome.kind === "reloaded" && outcome.fallback !== null) this.fallbacks.inc();
    if (outcome.kind === "runtime") {
      this.runtimeChanges.inc({ change: "added" }, outcome.result.added.length);
      this.runtimeChanges.inc({ change: "changed" }, outcome.result.changed.length);
      this.runtimeChanges.inc({ change: "removed" }, outcome.result.removed.length);
    }
    if (outcome.kind === "rejected" && !outcome.repeated) this.rejections.inc();
    const counts = new Map<string, number>([
      ["routed", result.state.services.reduce((n, s) => n + s.servers.length, 0)],
    ]);
    for (const e of result.excluded) counts.set(e.reason, (counts.get(e.reason) ?? 0) + 1);
    this.backends.reset();
    for (const [state, n] of counts) this.backends.set({ state }, n);
  }
}
