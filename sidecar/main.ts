import pino from "pino";
import { checkHaproxyBin, cli, diffOnce, healthcheck, maint, renderOnce, runSidecar, status, USAGE } from "./commands";
import { ConfigError, parseConfig, unknownSettings, type Config } from "./config";

const MODES = ["run", "render", "cli", "healthcheck", "status", "maint", "diff"];

/** Wiring only: settings → logger → one of the modes. */
function main(argv: readonly string[]): void {
  const mode = argv[0] ?? "run";
  if (!MODES.includes(mode)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  let config: Config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ha-sidecar: ${err.message}\n`);
    process.exit(2);
  }
  // In the one-shot modes stdout is the answer: logs go to stderr.
  const log = pino(
    { level: config.logLevel, base: { service: "ha-sidecar" } },
    pino.destination(mode === "run" ? 1 : 2),
  );
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));
  for (const { name, closest } of unknownSettings(process.env)) log.warn({ name, closest }, "unknown setting ignored");
  // Once stdout is written out: on a pipe that the reader made non-blocking (`docker exec`), a
  // write past 64 KiB is queued, and exiting at once cut `status /changes` there.
  const exitAfterOutput = (code: number): void => void process.stdout.write("", () => process.exit(code));
  const exitWith = (work: Promise<number>): void => {
    work.then(
      (code) => exitAfterOutput(code),
      (err: unknown) => {
        log.error({ err, mode }, "command failed");
        process.exit(1);
      },
    );
  };
  if (mode === "cli") exitWith(cli(config, argv.slice(1)));
  else if (mode === "render") exitWith(renderOnce(config, log, argv[1] === "--empty"));
  else if (mode === "healthcheck") exitWith(healthcheck(config));
  else if (mode === "status") exitWith(status(config, argv[1]));
  else if (mode === "diff") exitWith(diffOnce(config, log));
  else if (mode === "maint") exitWith(maint(config, argv.slice(1)));
  else {
    // A checker that cannot run would only show up as endless retries: say so now, and stop.
    checkHaproxyBin(config.haproxyBin).then(
      () => runSidecar(config, log),
      (err: Error) => {
        process.stderr.write(
          `ha-sidecar: invalid settings:\n  - LB_HAPROXY_BIN=${JSON.stringify(config.haproxyBin)}: ${err.message}\n`,
        );
        process.exit(2);
      },
    );
  }
}

main(process.argv.slice(2));
