import type { Logger } from "pino";
import type { Config } from "./config";
import { SocketRuntimeClient } from "./haproxy/runtime-client";
import { startStatusServer } from "./status/status-server";
import { wire } from "./wiring";

export const USAGE = `usage: sidecar [run]   watch Docker and keep haproxy.cfg in step (default)
       sidecar render  print the haproxy.cfg the current Docker state gives, write nothing
       sidecar render --empty  print the haproxy.cfg of no backends (ha's bootstrap config)
       sidecar cli [--master] COMMAND  send COMMAND to HAProxy's runtime (or master) socket`;

/** `run`: the loop and the status server until SIGTERM/SIGINT. */
export function runSidecar(config: Config, log: Logger): void {
  const { loop, runtime, metrics, applier } = wire(config, log);
  loop.start();
  const status = startStatusServer(config.statusPort, {
    loop: () => loop.view,
    haproxyStatuses: () => runtime.serverStatuses(),
    metrics,
  });
  log.info(
    {
      network: config.network,
      labelPrefix: config.labelPrefix,
      output: config.outputPath,
      statusPort: config.statusPort,
    },
    "sidecar started",
  );
  const shutdown = (signal: string): void => {
    log.info({ signal }, "sidecar stopping");
    status.close();
    // The pass in flight and the file write it asked for are finished, never cut: the last good
    // config stays on the volume (whole, no temp file left) and HAProxy keeps serving it.
    void loop
      .stop()
      .then(() => applier.idle())
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

/** `render [--empty]`: the config the current state (or no backends) gives, on stdout. */
export async function renderOnce(config: Config, log: Logger, empty: boolean): Promise<number> {
  const { reconciler } = wire(config, log);
  if (empty) {
    process.stdout.write((await reconciler.renderEmpty()).text);
    return 0;
  }
  const { rendered, excluded } = await reconciler.renderCurrent();
  for (const e of excluded)
    log.info({ container: e.name, reason: e.reason, label: e.label, problem: e.detail }, "container not routed");
  process.stdout.write(rendered.text);
  return 0;
}

/** `cli [--master] COMMAND`: one command to HAProxy's runtime or master socket. */
export async function cli(config: Config, args: readonly string[]): Promise<number> {
  const master = args[0] === "--master";
  const command = (master ? args.slice(1) : args).join(" ");
  if (command === "") {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const client = new SocketRuntimeClient(config.runtimeSocket, config.masterSocket);
  process.stdout.write(await (master ? client.masterCommand(command) : client.command(command)));
  return 0;
}
