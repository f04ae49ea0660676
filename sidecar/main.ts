import pino from "pino";
import { cli, renderOnce, runSidecar, USAGE } from "./commands";
import { ConfigError, parseConfig, type Config } from "./config";

/** Wiring only: settings → logger → one of the modes. */
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
  const exitWith = (work: Promise<number>): void => {
    work.then(
      (code) => process.exit(code),
      (err: unknown) => {
        log.error({ err, mode }, "command failed");
        process.exit(1);
      },
    );
  };
  if (mode === "cli") exitWith(cli(config, argv.slice(1)));
  else if (mode === "render") exitWith(renderOnce(config, log, argv[1] === "--empty"));
  else runSidecar(config, log);
}

main(process.argv.slice(2));
