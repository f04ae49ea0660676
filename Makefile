# ha-sidecar. `make up` runs the system, `make test` runs every test; both start what they need
# (Docker engine, base image, npm packages) on a fresh machine.
SHELL := /bin/bash
# COMPOSE_FILE may add overrides (colon-separated), as `make bench` does for its first phase.
export COMPOSE_FILE ?= compose/docker-compose.yml
# docker-compose, with the HAProxy replicas override when there is one (scripts/compose.sh).
COMPOSE := scripts/compose.sh
N ?= 2
# HAProxy replicas (replica k on HTTP_PORT+k-1 and STATS_PORT+k-1); 1: the single `ha` as always.
HA_REPLICAS ?= 1
REPLICAS_FILE = .run/$(or $(COMPOSE_PROJECT_NAME),compose)-replicas.yml
export HTTP_PORT ?= 80
export STATS_PORT ?= 1936
export SIDECAR_STATUS_PORT ?= 8080
# Serf's keys: generated once into this file (docker-compose reads compose/.env by itself).
SECRETS_FILE ?= compose/.env
export STATS_BIND ?= 127.0.0.1
# docker-compose 1.29 builds through the Python client: quiet, and no BuildKit needed.
export COMPOSE_DOCKER_CLI_BUILD ?= 0

.PHONY: maint memory test-clock bench-bursts bench-swarm swarm-up swarm-scale swarm-down secrets stats-check soak bench bench-smoke help up down scale logs ps render build images engine base-image bundle bootstrap-cfg deps lint format typecheck test test-unit test-integration test-e2e clean

help:
	@echo "make up            start ha, sidecar, serf and 2 webapps on network 'heig' (HA_REPLICAS=2: two HAProxy)"
	@echo "make scale N=5     set the number of webapp replicas"
	@echo "make down          stop and remove everything (containers, network, volume)"
	@echo "make swarm-up N=2  the same on Docker Swarm (stack heig); make swarm-scale N=6; make swarm-down"
	@echo "make logs          follow the logs"
	@echo "make render        print the haproxy.cfg the sidecar would write now (DIFF=1: what it would change, a dry run)"
	@echo "make maint C=NAME  put container NAME in maintenance on every HAProxy replica (OFF=1: take it out)"
	@echo "make test          lint, typecheck, unit, integration, the same with the clock a year ahead, e2e;"
	@echo "                   ends with one line: N passed, N failed (needs root for the Docker engine);"
	@echo "                   the tests run a stack of their own: a running 'make up' keeps running"
	@echo "make lint          ESLint and Prettier (make format rewrites the layout)"
	@echo "make bench         load + scaling benchmark, results in .bench/ (see BENCHMARKS.md)"
	@echo "make bench-swarm   the same on a single-node swarm: task start → first response, rolling updates"
	@echo "make bench-scale   the stack against a simulated fleet of 10 to 5,000 containers (see BENCHMARKS.md)"
	@echo "make soak          30 min of churn under load: memory and failed requests (see BENCHMARKS.md)"
	@echo "make memory        RSS of the sidecar and proxy bundles on this host, at rest and under churn (no Docker)"

deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	@echo "==> npm ci"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bundle: deps
	@echo "==> bundling the sidecar (esbuild)"
	@node scripts/bundle.mjs

# ha's bootstrap config is the template rendered with no backends; a unit test keeps the
# committed copy equal to it.
bootstrap-cfg: bundle
	@echo "==> rendering compose/ha/bootstrap.cfg from the template"
	@LB_TEMPLATE=$(CURDIR)/templates/haproxy.cfg.hbs node dist/sidecar.js render --empty > compose/ha/bootstrap.cfg.tmp
	@mv compose/ha/bootstrap.cfg.tmp compose/ha/bootstrap.cfg

engine:
	@scripts/ensure-engine.sh

base-image: engine
	@scripts/ensure-base-image.sh

images: engine base-image bootstrap-cfg secrets
	@echo "==> building images (ha, docker-proxy, sidecar, webapp)"
	@$(COMPOSE) build -q

build: images

secrets:
	@scripts/secrets.sh ensure $(SECRETS_FILE)

# The stats page beyond this host only with credentials (ha and the sidecar refuse too).
stats-check:
	@case "$(STATS_BIND)" in 127.*|::1) ;; *) if [ -z "$$LB_STATS_USER" ] || [ -z "$$LB_STATS_PASSWORD" ]; then \
	  echo "make up: STATS_BIND=$(STATS_BIND) would publish HAProxy's stats page beyond this host without credentials;" >&2; \
	  echo "         set LB_STATS_USER and LB_STATS_PASSWORD, or leave STATS_BIND at 127.0.0.1. Not starting." >&2; exit 1; fi ;; esac

up: stats-check images secrets
	@node scripts/replicas.mjs $(HA_REPLICAS) $(REPLICAS_FILE)
	@echo "==> starting ha ($(HA_REPLICAS) replica(s)), docker-proxy, sidecar, serf and $(N) webapps"
	@$(COMPOSE) up -d --remove-orphans --scale webapp=$(N)
	@echo "==> frontend: http://127.0.0.1:$(HTTP_PORT)/   stats: http://127.0.0.1:$(STATS_PORT)/ (CSV: /;csv)"

scale: engine secrets
	@echo "==> scaling webapp to $(N)"
	@$(COMPOSE) up -d --scale webapp=$(N)

down: engine
	@echo "==> removing the stack"
	@$(COMPOSE) down -v --remove-orphans
	@rm -f $(REPLICAS_FILE)
	@scripts/secrets.sh remove $(SECRETS_FILE)

logs: engine
	@$(COMPOSE) logs -f --tail=100

ps: engine
	@$(COMPOSE) ps

# DIFF=1: what the next pass would change (added, drained, removed, weights, maintenance, reload or not) instead.
render: engine
	@$(COMPOSE) exec -T sidecar node /app/sidecar.js $(if $(DIFF),diff,render)

# Maintenance without a label: the sidecar keeps it in a file on its volume, across restarts.
maint: engine
	@if [ -z "$(C)" ]; then echo "usage: make maint C=<container> [OFF=1]" >&2; exit 2; fi
	@$(COMPOSE) exec -T sidecar node /app/sidecar.js maint '$(C)' $(if $(OFF),--off) --by "$${SUDO_USER:-$${USER:-make}}"

typecheck: deps
	@echo "==> typecheck"
	@npx tsc --noEmit -p .

lint: deps
	@echo "==> lint (eslint, prettier)"
	@npx eslint --max-warnings 0 .
	@npx prettier --check --log-level warn .

format: deps
	@npx prettier --write --log-level warn .

test-unit: deps
	@echo "==> unit tests"
	@npx jest --selectProjects unit

test-integration: images
	@echo "==> integration tests (each adapter against a real dockerd, HAProxy, HTTP)"
	@npx jest --selectProjects integration --runInBand

test-e2e: images
	@scripts/ensure-chromium.sh
	@echo "==> end-to-end tests (real dockerd, real HAProxy, real Serf, headless Chromium)"
	@npx jest --selectProjects e2e --runInBand

# Every tier to its end (unit, integration, the same two with the clock a year ahead, e2e), then
# one line per tier and a last one over all of them: `N passed, N failed` (scripts/test-all.sh).
test: lint typecheck images
	@scripts/test-all.sh

# Unit and integration with the clock of the whole process tree a year ahead (libfaketime).
test-clock: images
	@TIERS=clock scripts/test-all.sh

# Benchmarks are not tests: numbers go to .bench/ (see BENCHMARKS.md). The smoke run is part of
# the e2e suite. The benchmark runs a stack of its own (project hsbench, ports 28080/28936).
bench: images
	@echo "==> benchmark: the reload path, then the runtime path, under load on 127.0.0.1:28080 (about 7 min)"
	@env -u HTTP_PORT -u STATS_PORT -u SIDECAR_STATUS_PORT -u COMPOSE_PROJECT_NAME -u LB_NETWORK -u COMPOSE_FILE node dist/bench.js

# The runtime path alone through BENCH_BURSTS (3) bursts of 2 → 10 → 2 (about 5 min);
# BENCH_OVERRIDES=a.yml,b.yml runs the stack with a setting to compare. .bench/bursts.txt
bench-bursts: images
	@echo "==> benchmark: $${BENCH_BURSTS:-3} bursts of 2 → 10 → 2 under load on 127.0.0.1:28080"
	@env -u HTTP_PORT -u STATS_PORT -u SIDECAR_STATUS_PORT -u COMPOSE_PROJECT_NAME -u LB_NETWORK -u COMPOSE_FILE node dist/bench.js --bursts

# Docker Swarm: stack `heig` from compose/stack.yml (see README.md, "Swarm").
swarm-up: images
	@scripts/swarm.sh up $(N)

swarm-scale: engine
	@scripts/swarm.sh scale $(N)

swarm-down: engine
	@scripts/swarm.sh down

# The real sidecar, docker-proxy and HAProxy against a simulated fleet of 10 to 5,000 containers
# (bench/scale.ts, bench/fleet.ts); BENCH_SCALE_N=10,100 for fewer sizes.
bench-scale: images
	@echo "==> bench-scale: the stack against a simulated fleet of N containers, N = $${BENCH_SCALE_N:-10,100,1000,5000} (about 15 min)"
	@env -u HTTP_PORT -u STATS_PORT -u SIDECAR_STATUS_PORT -u COMPOSE_PROJECT_NAME -u LB_NETWORK -u COMPOSE_FILE node dist/scale.js

# 30 minutes of churn under load, to see memory that only grows (SOAK_MINUTES to change it).
bench-swarm: images
	@echo "==> swarm benchmark: a single-node swarm of its own, under load on 127.0.0.1:28080 (about 5 min)"
	@env -u HTTP_PORT -u STATS_PORT -u DOCKER_HOST node dist/swarm-bench.js

# Memory of the sidecar and the proxy bundles, as host processes in front of a fake Docker (no
# engine needed; about 1 min). `node dist/memory.js stack` measures a compose stack of its own.
memory: bundle
	@echo "==> memory: the bundles as host processes, at rest and through 600 container starts and stops"
	@node dist/memory.js

soak: images
	@echo "==> soak: $${SOAK_MINUTES:-30} min of containers started and stopped under load on 127.0.0.1:29080"
	@env -u HTTP_PORT -u STATS_PORT -u SIDECAR_STATUS_PORT -u COMPOSE_PROJECT_NAME -u LB_NETWORK -u COMPOSE_FILE node dist/soak.js

clean:
	rm -rf dist coverage .run
