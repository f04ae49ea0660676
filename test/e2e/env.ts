/**
 * The end-to-end suite's own stack: its own compose project, ports and network, so that a
 * `make up` stack the user runs keeps running through `make test`. Every command the tests run
 * (make, docker-compose) inherits these. The user's HTTP_PORT & co. are overridden on purpose;
 * HS_TEST_* choose other values for the tests.
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { TEST_TEMPLATE } from "./template";

const env = process.env;
env.COMPOSE_PROJECT_NAME = env.HS_TEST_PROJECT ?? "hstest";
env.HTTP_PORT = env.HS_TEST_HTTP_PORT ?? "18080";
env.STATS_PORT = env.HS_TEST_STATS_PORT ?? "18936";
env.SIDECAR_STATUS_PORT = env.HS_TEST_STATUS_PORT ?? "18081";
env.LB_NETWORK = env.HS_TEST_NETWORK ?? "hstest-heig";
env.COMPOSE_FILE = "compose/docker-compose.yml:test/e2e/compose.test.yml";
// The template the test stack's sidecar reads (a test may edit it): a fresh copy per test file.
const root = path.resolve(__dirname, "../..");
mkdirSync(path.dirname(path.join(root, TEST_TEMPLATE)), { recursive: true });
copyFileSync(path.join(root, "templates/haproxy.cfg.hbs"), path.join(root, TEST_TEMPLATE));
// Sorts before the watched network's name (see the compose file's `control` network).
env.LB_CONTROL_NETWORK = env.HS_TEST_CONTROL_NETWORK ?? "ha-hstest-control";
env.STATS_BIND = "127.0.0.1";
// Serf keys of the tests' own, so that `make up`/`make down` leave the user's compose/.env alone.
env.SERF_ENCRYPT_KEY = randomBytes(32).toString("base64");
env.SERF_RPC_AUTH = randomBytes(24).toString("hex");
env.SECRETS_FILE = ".run/hstest-secrets.env";
for (const name of ["LB_STATS_USER", "LB_STATS_PASSWORD", "LB_QUIET_MS", "LB_MAX_WAIT_MS", "LB_LOG_LEVEL"])
  delete env[name];
