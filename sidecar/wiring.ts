import Docker from "dockerode";
import type { Logger } from "pino";
import { AgreementCheck } from "./apply/agreement";
import { Applier } from "./apply/applier";
import { FileConfigStore } from "./apply/config-file";
import { Fleet } from "./apply/fleet";
import { LiveFile } from "./apply/live-file";
import { HaproxyCheckValidator } from "./apply/haproxy-check";
import { RuntimeTarget } from "./apply/runtime-target";
import type { Config } from "./config";
import { DockerodeSource } from "./docker/dockerode-source";
import { SwarmSource } from "./swarm/swarm-source";
import { DockerReplicaSource } from "./haproxy/docker-replica-source";
import { replicaSockets } from "./haproxy/replicas";
import { SocketRuntimeClient } from "./haproxy/runtime-client";
import { systemClock } from "./lib/clock";
import { AlwaysReady, TcpReadinessProbe } from "./probe/readiness";
import { ControlLoop } from "./reconcile/control-loop";
import { ReadinessGate } from "./reconcile/readiness-gate";
import { Reconciler } from "./reconcile/reconciler";
import { SerfGate } from "./reconcile/serf-gate";
import { TemplateFile } from "./render/template-file";
import { SerfRpcClient } from "./serf/serf-rpc";
import { Metrics } from "./status/metrics";
import { JsonLinesChangeFile } from "./changes/change-file";
import { ChangeLog } from "./changes/change-log";
import { routingOfLines } from "./changes/records";
import { parseServerLines } from "./render/server-lines";
import { observers } from "./reconcile/types";
import { MaintenanceStore } from "./maintenance/maintenance-store";

/** While connected, Docker is pinged this often: an event stream can stall without closing. */
const LIVENESS_MS = 10_000;
/** Swarm's task list is polled this often while a service converges, and this often otherwise. */
const SWARM_CONVERGING_POLL_MS = 250;
const SWARM_IDLE_POLL_MS = 2_000;
/** A backend that does not listen yet is probed this often, for at most the patience. */
const READINESS_POLL_MS = 20;
const READINESS_PATIENCE_MS = 60_000;

/** Every adapter and the loop, built from the settings. Nothing here decides anything. */
export function wire(config: Config, log: Logger) {
  const clock = systemClock;
  // Built last, but the live file's callback pokes it.
  let loop: ControlLoop | null = null;
  const docker = new Docker(config.docker);
  const streamOptions = { callTimeoutMs: config.dockerTimeoutMs, livenessMs: LIVENESS_MS };
  const source =
    config.source === "swarm"
      ? new SwarmSource(docker, config.network, config.labelPrefix, log.child({ component: "swarm" }), {
          ...streamOptions,
          convergingPollMs: SWARM_CONVERGING_POLL_MS,
          idlePollMs: SWARM_IDLE_POLL_MS,
        })
      : new DockerodeSource(
          docker,
          config.network,
          config.labelPrefix,
          log.child({ component: "docker" }),
          streamOptions,
        );
  const applyLog = log.child({ component: "apply" });
  // Built before the fleet (its clients count their commands); reads the fleet's view lazily.
  const metrics = new Metrics(() => fleet.view());
  // A config the background write finds rejected makes a pass at once (HAProxy is brought back).
  const live = new LiveFile(
    new FileConfigStore(config.outputPath),
    new HaproxyCheckValidator(config.haproxyBin),
    applyLog,
    () => loop?.poke("file-rejected", 0),
  );
  const replicas = new DockerReplicaSource(
    docker,
    config.haproxySelector,
    `${config.labelPrefix}.replica`,
    config.network,
    config.dockerTimeoutMs,
  );
  const flatSockets = { runtime: config.runtimeSocket, master: config.masterSocket };
  const fleet = new Fleet(
    replicas,
    (replica) => {
      const sockets = replicaSockets(replica, flatSockets);
      return new RuntimeTarget(
        new SocketRuntimeClient(sockets.runtime, sockets.master, undefined, (n) => metrics.haproxyCommandsSent(n)),
        () => replicas.signal(replica.containerId),
        applyLog.child({ replica: replica.index }),
        { reloadConfirmMs: config.reloadConfirmMs, clock },
      );
    },
    applyLog,
  );
  const applier = new Applier({ live, serverState: new FileConfigStore(config.serverStateFile), fleet }, applyLog, {
    clock,
    runtimeApi: config.runtimeApi,
  });
  const agreement = new AgreementCheck(applier, fleet, clock, applyLog);
  const serfClient =
    config.serfRpc === null
      ? null
      : new SerfRpcClient(config.serfRpc.host, config.serfRpc.port, { authKey: config.serfRpcAuth });
  const reconcileLog = log.child({ component: "reconcile" });
  const serfGate =
    serfClient === null
      ? null
      : new SerfGate(
          {
            source: serfClient,
            graceMs: config.serfGraceMs,
            memberTag: config.serfMemberTag,
            panicThreshold: config.serfPanicThreshold,
          },
          clock,
          reconcileLog,
        );
  const template = new TemplateFile(config.templatePath, {
    runtimeSocket: config.runtimeSocket,
    serverStateFile: config.serverStateFile,
    statsAuth: config.statsAuth,
  });
  const readiness = new ReadinessGate(config.readiness === "tcp" ? new TcpReadinessProbe() : new AlwaysReady(), clock, {
    pollMs: READINESS_POLL_MS,
    patienceMs: READINESS_PATIENCE_MS,
  });
  const maintenance = new MaintenanceStore(
    config.maintenanceFile === null ? null : new FileConfigStore(config.maintenanceFile),
    clock,
    log.child({ component: "maintenance" }),
  );
  const reconciler = new Reconciler(
    {
      maintenance: () => maintenance.names(),
      source,
      template,
      applier,
      check: (text) => live.check(text),
      readiness,
      serf: serfGate,
      clock,
      log: reconcileLog,
    },
    {
      labelPrefix: config.labelPrefix,
      defaultBackend: config.defaultBackend,
      runtimeApi: config.runtimeApi,
      drainPanicThreshold: config.drainPanicThreshold,
    },
  );
  const changes = new ChangeLog(
    config.changesFile === null ? null : new JsonLinesChangeFile(config.changesFile, config.changesMaxBytes),
    clock,
    log.child({ component: "changes" }),
    { keep: config.changesKeep, source: config.source, replicas: () => fleet.view() },
  );
  /** Reads the change history back, and what the live config routes (the first pass's "before"). */
  const startChanges = async (): Promise<void> => {
    const text = await live.current().then(
      (c) => c.text,
      () => null,
    );
    await changes.start(text === null ? null : routingOfLines(parseServerLines(text)));
  };
  loop = new ControlLoop(
    {
      reconciler,
      source,
      serf: serfClient === null || serfGate === null ? null : { source: serfClient, view: () => serfGate.view },
      haproxy: {
        drain: (servers) => fleet.drain(servers),
        ready: (servers) => fleet.ready(servers),
        check: () => agreement.check(),
      },
      clock,
      log: reconcileLog,
      observer: observers(metrics, changes),
      readiness,
      templateChanged: () => template.changed(),
    },
    {
      quietMs: config.quietMs,
      maxWaitMs: config.maxWaitMs,
      resyncMs: config.resyncMs,
      passTimeoutMs: config.passTimeoutMs,
      agreementCheckMs: config.replicaCheckMs,
    },
  );
  return { loop, reconciler, fleet, metrics, applier, changes, startChanges, clock, maintenance };
}
