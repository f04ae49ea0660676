import Docker from "dockerode";
import pino, { type Logger } from "pino";
import { parseConfig, ConfigError, type Config } from "./config";
import { DockerodeSource } from "./docker/dockerode-source";
import { AlwaysReady, TcpReadinessProbe } from "./docker/readiness";
import { Applier } from "./apply/applier";
import { FileConfigStore } from "./apply/config-file";
import { HaproxyCheckValidator } from "./apply/haproxy-check";
import { DockerHaproxyControl } from "./apply/haproxy-control";
import { Reconciler } from "./reconcile/reconciler";
import { CoalescingTrigger } from "./reconcile/trigger";
import { Backoff } from "./reconcile/backoff";
import { startStatusServer } from "./status/status-server";
import { Metrics } from "./status/metrics";
import { runtimeCommand } from "./apply/runtime-socket";
import { SerfRpcClient, type SerfSource } from "./serf/serf-rpc";

const READINESS_RECHECK_MS = 200;
/** A container being stopped leaves rotation this soon after its kill event (not after the quiet time). */
const DRAIN_DELAY_MS = 30;

const USAGE = `usage: sidecar [run]   watch Docker and keep haproxy.cfg in step (default)
       sidecar render  print the haproxy.cfg the current Docker state gives, write nothing
       sidecar render --empty  print the haproxy.cfg of no backends (ha's bootstrap config)
       sidecar cli [--master] COMMAND  send COMMAND to HAProxy's runtime (or master) socket`;

function wire(config: Config, log: Logger): {
  reconciler: Reconciler; source: DockerodeSource; docker: Docker; serf: SerfSource | null; haproxy: DockerHaproxyControl;
} {
  const docker = new Docker({ socketPath: config.dockerSocket });
  const source = new DockerodeSource(docker, config.network, config.labelPrefix, log.child({ component: "docker" }));
  const haproxy = new DockerHaproxyControl(docker, config.haproxySelector, config.runtimeSocket, config.serverStateFile, config.masterSocket);
  const applier = new Applier(
    new FileConfigStore(config.outputPath),
    new HaproxyCheckValidator(config.haproxyBin),
    haproxy,
    log.child({ component: "apply" }),
    { reloadConfirmMs: config.reloadConfirmMs },
  );
  const readiness = config.readiness === "tcp" ? new TcpReadinessProbe() : new AlwaysReady();
  const serf = config.serfRpc === null ? null : new SerfRpcClient(config.serfRpc.host, config.serfRpc.port);
  const reconciler = new Reconciler(source, applier, readiness, log.child({ component: "reconcile" }), {
    serf: serf === null ? null : { source: serf, graceMs: config.serfGraceMs },
    labelPrefix: config.labelPrefix,
    defaultBackend: config.defaultBackend,
    templatePath: config.templatePath,
    paths: { runtimeSocket: config.runtimeSocket, serverStateFile: config.serverStateFile, statsAuth: config.statsAuth },
  });
  return { reconciler, source, docker, serf, haproxy };
}

/** Follows Serf's membership events (they only trigger passes), reconnecting forever. */
function watchSerf(serf: SerfSource, poke: (reason: string) => void, log: Logger, signal: AbortSignal): void {
  const backoff = new Backoff(500, 10_000);
  const loop = (): void => {
    if (signal.aborted) return;
    serf.stream((event) => { backoff.reset(); poke(event); }, signal).catch((err: Error) => {
      log.debug({ err: err.message }, "serf event stream interrupted");
    }).finally(() => {
      if (signal.aborted) return;
      setTimeout(loop, backoff.next());
    });
  };
  loop();
}

async function renderOnce(config: Config, log: Logger, empty: boolean): Promise<number> {
  const { reconciler } = wire(config, log);
  const { rendered, excluded } = empty ? await reconciler.renderEmpty() : await reconciler.renderCurrent();
  for (const e of excluded) log.info({ container: e.containerName, reason: e.reason, label: e.label, problem: e.detail }, "container not routed");
  process.stdout.write(rendered.text);
  return 0;
}

function run(config: Config, log: Logger): void {
  const { reconciler, source, serf, haproxy } = wire(config, log);
  const metrics = new Metrics();
  let lastRejected: { at: number; message: string } | null = null;
  const abort = new AbortController();
  const retry = new Backoff(250, 30_000);
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let readinessTimer: ReturnType<typeof setTimeout> | null = null;
  let eventsConnected = false;
  let lastReload: { at: number; reason: string } | null = null;
  let pendingReasons = new Set<string>();
  let firstPass = true;

  const trigger = new CoalescingTrigger(async () => {
    const reasons = [...pendingReasons].sort().join(",") || "resync";
    pendingReasons = new Set();
    const startedAt = process.hrtime.bigint();
    const result = await reconciler.sync();
    metrics.observeSync(result, Number(process.hrtime.bigint() - startedAt) / 1e9);
    metrics.serfReachable.set(reconciler.serfView?.reachable ? 1 : 0);
    if (result.ok && result.outcome.kind === "rejected" && !result.outcome.repeated) lastRejected = { at: result.at, message: result.outcome.message };
    if (!result.ok && result.stage === "template") lastRejected = { at: result.at, message: result.error };
    if (firstPass) {
      firstPass = false;
      log.info(result.ok ? { outcome: result.outcome.kind } : { stage: result.stage, err: result.error }, "first reconcile done");
    }
    if (result.ok) {
      if (retry.failures > 0) log.info({ after: retry.failures }, "reconcile recovered");
      retry.reset();
      if (result.outcome.kind === "reloaded") lastReload = { at: result.at, reason: reasons };
      // A container that does not listen yet is looked at again shortly, not at the next resync.
      if (result.awaitingReadiness > 0) {
        if (readinessTimer !== null) clearTimeout(readinessTimer);
        readinessTimer = setTimeout(() => poke("readiness"), READINESS_RECHECK_MS);
      }
    } else if (result.retry) {
      const delayMs = retry.next();
      // Logged at every failure, with the attempt count, so that a stuck loop is visible.
      log.warn({ stage: result.stage, err: result.error, delayMs, attempt: retry.failures }, "reconcile failed, will retry");
      if (retryTimer !== null) clearTimeout(retryTimer);
      retryTimer = setTimeout(() => poke("retry"), delayMs);
    }
  }, { quietMs: config.quietMs, maxWaitMs: config.maxWaitMs, hold: () => reconciler.burstUnderway() });

  /** Asks for a pass; `urgent` (a container is leaving) skips the quiet time. */
  const poke = (reason: string, urgent = false): void => {
    pendingReasons.add(reason);
    if (urgent) trigger.pokeUrgent(DRAIN_DELAY_MS);
    else trigger.poke();
  };

  source.watch((s) => {
    if (s.kind === "connected") {
      eventsConnected = true;
      metrics.eventStreamUp.set(1);
      log.info("docker event stream connected, resyncing");
      poke("connected");
    } else if (s.kind === "disconnected") {
      eventsConnected = false;
      metrics.eventStreamUp.set(0);
      log.warn({ err: s.err.message }, "docker event stream lost, reconnecting");
    } else {
      const leaving = reconciler.observe(s.event);
      metrics.observeEvent(s.event.action);
      log.debug({ containerId: s.event.containerId.slice(0, 12), action: s.event.action }, "docker event");
      if (leaving.length > 0) {
        // Fast path: stop new requests to it in every worker right away through the runtime
        // API; the pass that follows takes it out of haproxy.cfg.
        haproxy.drainServers(leaving).catch((err: Error) => log.debug({ err: err.message }, "early drain failed"));
      }
      poke(s.event.action.split(":")[0]!, leaving.length > 0);
    }
  }, abort.signal);

  if (serf !== null) watchSerf(serf, poke, log.child({ component: "serf" }), abort.signal);
  const resync = setInterval(() => poke("resync"), config.resyncMs);
  const status = startStatusServer(config.statusPort, {
    eventsConnected: () => eventsConnected,
    lastSync: () => reconciler.last,
    lastReload: () => lastReload,
    lastRejected: () => lastRejected,
    serf: () => reconciler.serfView,
    haproxyStatuses: () => haproxy.serverStatuses(),
    metrics,
  });
  log.info({ network: config.network, labelPrefix: config.labelPrefix, output: config.outputPath, statusPort: config.statusPort }, "sidecar started");

  const shutdown = (signal: string): void => {
    log.info({ signal }, "sidecar stopping");
    abort.abort();
    trigger.stop();
    clearInterval(resync);
    if (retryTimer !== null) clearTimeout(retryTimer);
    if (readinessTimer !== null) clearTimeout(readinessTimer);
    status.close();
    // The last good config stays on the volume and HAProxy keeps serving it.
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

async function cli(config: Config, args: readonly string[]): Promise<number> {
  const master = args[0] === "--master";
  const command = (master ? args.slice(1) : args).join(" ");
  if (command === "") {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  process.stdout.write(await runtimeCommand(master ? config.masterSocket : config.runtimeSocket, command));
  return 0;
}

function main(argv: readonly string[]): void {
  const mode = argv[0] ?? "run";
  if (mode !== "run" && mode !== "render" && mode !== "cli") {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  let config: Config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ha-sidecar: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // In render mode stdout is the config: logs go to stderr.
  const log = pino({ level: config.logLevel, base: { service: "ha-sidecar" } }, pino.destination(mode === "render" ? 2 : 1));
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));
  if (mode === "cli") {
    cli(config, argv.slice(1)).then((code) => process.exit(code), (err: Error) => {
      process.stderr.write(`ha-sidecar: ${err.message}\n`);
      process.exit(1);
    });
    return;
  }
  if (mode === "render") {
    renderOnce(config, log, argv[1] === "--empty").then((code) => process.exit(code), (err: Error) => {
      log.error({ err: err.message }, "render failed");
      process.exit(1);
    });
    return;
  }
  run(config, log);
}

main(process.argv.slice(2));
