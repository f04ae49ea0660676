/**
 * The end-to-end suite's own stack: its own compose project, ports and network, so that a
 * `make up` stack the user runs keeps running through `make test`. Every command the tests run
 * (make, docker-compose) inherits these. The user's HTTP_PORT & co. are overridden on purpose;
 * HS_TEST_* choose other values for the tests.
 */
const env = process.env;
env.COMPOSE_PROJECT_NAME = env.HS_TEST_PROJECT ?? "hstest";
env.HTTP_PORT = env.HS_TEST_HTTP_PORT ?? "18080";
env.STATS_PORT = env.HS_TEST_STATS_PORT ?? "18936";
env.SIDECAR_STATUS_PORT = env.HS_TEST_STATUS_PORT ?? "18081";
env.LB_NETWORK = env.HS_TEST_NETWORK ?? "hstest-heig";
env.COMPOSE_FILE = "compose/docker-compose.yml";
for (const name of ["LB_STATS_USER", "LB_STATS_PASSWORD", "LB_QUIET_MS", "LB_MAX_WAIT_MS", "LB_LOG_LEVEL"])
  delete env[name];
