import pino from "pino";
import { startDockerProxy } from "./server";

/**
 * `docker-proxy`: the Docker API, filtered, for the sidecar. Settings (environment):
 * PROXY_SOCKET (default /host-run/docker.sock), PROXY_PORT (2375), PROXY_TIMEOUT_MS (30000),
 * PROXY_RELOAD_SELECTOR (heig.lb.role=haproxy), PROXY_LABEL_PREFIX (heig.lb, the sidecar's
 * LB_LABEL_PREFIX), PROXY_LOG_LEVEL (info).
 */
function main(): void {
  const env = process.env;
  const log = pino({ level: env.PROXY_LOG_LEVEL ?? "info", base: { service: "ha-sidecar-docker-proxy" } });
  const selector = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=([^\s=]+)$/.exec(env.PROXY_RELOAD_SELECTOR ?? "heig.lb.role=haproxy");
  const port = Number(env.PROXY_PORT ?? 2375);
  const timeoutMs = Number(env.PROXY_TIMEOUT_MS ?? 30_000);
  const labelPrefix = env.PROXY_LABEL_PREFIX ?? "heig.lb";
  if (
    selector === null ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535 ||
    !(timeoutMs > 0) ||
    !/^[a-z0-9]+([.-][a-z0-9]+)*$/.test(labelPrefix)
  ) {
    process.stderr.write(
      "docker-proxy: PROXY_RELOAD_SELECTOR must be key=value, PROXY_PORT 1-65535, PROXY_TIMEOUT_MS > 0, " +
        "PROXY_LABEL_PREFIX lowercase and dotted (like heig.lb)\n",
    );
    process.exit(2);
  }
  startDockerProxy({
    socketPath: env.PROXY_SOCKET ?? "/host-run/docker.sock",
    host: "0.0.0.0",
    port,
    requestTimeoutMs: timeoutMs,
    reloadSelector: { key: selector[1]!, value: selector[2]! },
    labelPrefix,
    log,
  }).then(
    (server) => {
      const stop = (): void => void server.close(() => process.exit(0));
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    },
    (err: unknown) => {
      log.fatal({ err }, "docker api proxy could not start");
      process.exit(1);
    },
  );
}

main();
