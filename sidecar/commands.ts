import { promises as dns } from "node:dns";
import { execFile } from "node:child_process";
import * as http from "node:http";
import type { Logger } from "pino";
import type { Config } from "./config";
import { replicaSockets } from "./haproxy/replicas";
import { SocketRuntimeClient } from "./haproxy/runtime-client";
import { toError } from "./lib/errors";
import { startStatusServer } from "./status/status-server";
import { wire } from "./wiring";
import { FileConfigStore } from "./apply/config-file";
import { renderedOfText } from "./render/render";
import { describeChanges } from "./render/dry-run";
import { MAINT_BY_RE, MAINT_CONTAINER_RE, unknownTarget, type MaintenanceRequest } from "./model/maintenance";

export const USAGE = `usage: sidecar [run]   watch Docker and keep haproxy.cfg in step (default)
       sidecar render  print the haproxy.cfg the current Docker state gives, write nothing
       sidecar render --empty  print the haproxy.cfg of no backends (ha's bootstrap config)
       sidecar diff    print what the next pass would change (added, drained, removed, weights, maintenance, reload or not), change nothing
       sidecar cli [--replica K] [--master] COMMAND  send COMMAND to HAProxy's runtime (or master) socket (replica K's: run/K/)
       sidecar healthcheck  exit 0 when the running sidecar's /healthz says 200 (what the container's healthcheck checks)
       sidecar status [PATH]  print the running sidecar's /status, or PATH (/changes?container=NAME&since=TIME)
       sidecar maint CONTAINER [--off] [--by NAME]  put a container in maintenance on every replica (no new requests), or take it out`;

/** `run`: the loop and the status server until SIGTERM/SIGINT. */
export function runSidecar(config: Config, log: Logger): void {
  const { loop, fleet, metrics, applier, changes, startChanges, clock, maintenance } = wire(config, log);
  // The history first: the first pass is recorded against what HAProxy routed before it. The
  // containers in maintenance too: the first pass must not route one an operator took out.
  void Promise.all([startChanges(), maintenance.load()]).finally(() => loop.start());
  const view = {
    loop: () => loop.view,
    changes,
    replicas: () => fleet.view(),
    replicaStatuses: () => fleet.serverStatuses(),
    metrics,
    staleAfterMs: 2 * config.resyncMs + config.passTimeoutMs,
    clock,
    maintenance: {
      list: () => maintenance.list(),
      // Written first; then recorded, and a pass right away brings every replica to it.
      set: async (req: MaintenanceRequest) => {
        const result = await maintenance.set(req);
        if (result.changed) {
          changes.maintenance(req);
          loop.poke("maintenance", 0);
        }
        return result;
      },
      unknown: (container: string) => {
        const last = loop.view.last;
        if (last === null || !last.ok) return null;
        const servers = last.state.services.flatMap((svc) =>
          svc.servers.map((b) => ({ name: b.name, serverName: b.name, id: b.sourceId })),
        );
        const excluded = last.excluded.map((e) => ({ name: e.name, serverName: e.name, id: e.sourceId }));
        return unknownTarget(container, [...servers, ...excluded]);
      },
    },
    lifecycle: () => fleet.transitions(),
  };
  const servers: Promise<http.Server[]> = statusHosts(config.statusAddress, log).then((hosts) =>
    startStatusServer(config.statusPort, hosts, view, {
      log: log.child({ component: "status" }),
      allowedHosts: config.statusHosts,
    }).then((s) => {
      log.info({ hosts, port: config.statusPort }, "status server listening");
      return s;
    }),
  );
  servers.catch((err: unknown) => log.error({ err: toError(err) }, "status server could not start"));
  log.info({ network: config.network, labelPrefix: config.labelPrefix, output: config.outputPath }, "sidecar started");
  const shutdown = (signal: string): void => {
    log.info({ signal }, "sidecar stopping");
    void servers.then(
      (s) => s.forEach((server) => server.close()),
      () => undefined,
    );
    // The pass in flight and the file write it asked for are finished, never cut: the last good
    // config stays on the volume (whole, no temp file left) and HAProxy keeps serving it.
    void loop
      .stop()
      .then(() => Promise.all([applier.idle(), changes.flushed()]))
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

/**
 * Where the status server listens: 127.0.0.1 (the container's own healthcheck) and the
 * configured address, a name resolved here (compose: the sidecar's alias on the control
 * network, so that nothing on the watched network can reach it). Retried while the name does
 * not resolve yet; after 30 s, loopback alone.
 */
async function statusHosts(address: string, log: Logger): Promise<string[]> {
  if (address === "0.0.0.0" || address === "::") return [address];
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const { address: ip } = await dns.lookup(address, { family: 4 });
      return [...new Set(["127.0.0.1", ip])];
    } catch (err) {
      if (attempt === 0) log.warn({ err: toError(err), address }, "status address does not resolve yet, retrying");
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  log.error({ address }, "status address never resolved: the status server listens on 127.0.0.1 only");
  return ["127.0.0.1"];
}

/** `render [--empty]`: the config the current state (or no backends) gives, on stdout. */
export async function renderOnce(config: Config, log: Logger, empty: boolean): Promise<number> {
  const { reconciler, maintenance } = wire(config, log);
  if (empty) {
    process.stdout.write((await reconciler.renderEmpty()).text);
    return 0;
  }
  await maintenance.load();
  const { rendered, excluded } = await reconciler.renderCurrent();
  for (const e of excluded)
    log.info({ container: e.name, reason: e.reason, label: e.label, problem: e.detail }, "container not routed");
  process.stdout.write(rendered.text);
  return 0;
}

/**
 * `diff`: what the next pass would change against the live config (what HAProxy was last
 * brought to): servers added, drained and removed, weights, maintenance, and whether it takes a
 * reload. Changes nothing.
 */
export async function diffOnce(config: Config, log: Logger): Promise<number> {
  const { reconciler, maintenance } = wire(config, log);
  await maintenance.load();
  const { rendered, excluded } = await reconciler.renderCurrent();
  for (const e of excluded)
    log.info({ container: e.name, reason: e.reason, label: e.label, problem: e.detail }, "container not routed");
  const live = await new FileConfigStore(config.outputPath).read();
  process.stdout.write(`${describeChanges(live === null ? null : renderedOfText(live), rendered).join("\n")}\n`);
  return 0;
}

/** `cli [--replica K] [--master] COMMAND`: one command to a replica's runtime or master socket (the flat ones by default). */
export async function cli(config: Config, args: readonly string[]): Promise<number> {
  const flat = { runtime: config.runtimeSocket, master: config.masterSocket };
  const replica = args[0] === "--replica" ? args[1] : undefined;
  const rest = args[0] === "--replica" ? args.slice(2) : args;
  const master = rest[0] === "--master";
  const command = (master ? rest.slice(1) : rest).join(" ");
  if (command === "" || (replica !== undefined && !/^[1-9][0-9]?$/.test(replica))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const sockets = replica === undefined ? flat : replicaSockets({ index: Number(replica), labelled: true }, flat);
  const client = new SocketRuntimeClient(sockets.runtime, sockets.master);
  process.stdout.write(await (master ? client.masterCommand(command) : client.command(command)));
  return 0;
}

/** `haproxy -v` answers within 10 s, or the reason it does not. */
export function checkHaproxyBin(bin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, ["-v"], { timeout: 10_000 }, (err, stdout) => {
      if (err !== null) reject(new Error(`cannot run "${bin} -v": ${err.message.split("\n")[0]}`));
      else if (!/HAProxy version/.test(stdout)) reject(new Error(`"${bin} -v" does not say it is HAProxy`));
      else resolve();
    });
  });
}

/**
 * `healthcheck`: GET /healthz on the running sidecar's loopback; 0 when it says 200. For people:
 * the container's own healthcheck is compose/sidecar/healthcheck (bash), the same check without
 * loading node.
 */
export function healthcheck(config: Config): Promise<number> {
  return localGet(config, "/healthz", (code, body) => {
    if (code !== 200) process.stderr.write(body);
    return code === 200 ? 0 : 1;
  });
}

/** `status [PATH]`: the running sidecar's /status (or PATH, e.g. /changes), on stdout. */
export function status(config: Config, path = "/status"): Promise<number> {
  if (!path.startsWith("/")) {
    process.stderr.write(`ha-sidecar: status ${path}: a path starts with / (e.g. /changes?container=NAME)\n`);
    return Promise.resolve(2);
  }
  return localGet(config, path, (code, body) => {
    process.stdout.write(body);
    return code === 200 ? 0 : 1;
  });
}

function localGet(config: Config, path: string, done: (code: number, body: string) => number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port: config.statusPort, path, timeout: 5_000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve(done(res.statusCode ?? 0, body)));
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
    req.on("error", (err) => {
      process.stderr.write(`ha-sidecar: ${path}: ${err.message}\n`);
      resolve(1);
    });
  });
}

/**
 * `maint CONTAINER [--off] [--by NAME]`: asks the running sidecar (its status server, on
 * loopback) to put a container in maintenance, or take it out; prints its answer. `--by` says
 * who asks (default: $SUDO_USER, $USER, else `cli`).
 */
export function maint(config: Config, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let container: string | undefined;
  let on = true;
  let by = env.SUDO_USER || env.USER || "cli";
  let unknown = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--off") on = false;
    else if (a === "--by" && args[i + 1] !== undefined) by = args[++i]!;
    else if (container === undefined && !a.startsWith("-")) container = a;
    else unknown = true;
  }
  if (unknown || container === undefined || !MAINT_CONTAINER_RE.test(container) || !MAINT_BY_RE.test(by)) {
    process.stderr.write(`${USAGE}\n`);
    return Promise.resolve(2);
  }
  const body = JSON.stringify({ container, on, by });
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: config.statusPort,
        path: "/maintenance",
        method: "POST",
        timeout: 5_000,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let answer = "";
        res.on("data", (c: Buffer) => (answer += c.toString()));
        res.on("end", () => {
          (res.statusCode === 200 ? process.stdout : process.stderr).write(answer);
          resolve(res.statusCode === 200 ? 0 : 1);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
    req.on("error", (err) => {
      process.stderr.write(`ha-sidecar: maint: ${err.message}\n`);
      resolve(1);
    });
    req.end(body);
  });
}
