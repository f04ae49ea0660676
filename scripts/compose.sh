#!/usr/bin/env bash
# docker-compose with this project's HAProxy replicas override, when `HA_REPLICAS=N make up`
# wrote one (.run/<project>-replicas.yml): scale, logs, ps and down then see every replica.
set -euo pipefail
cd "$(dirname "$0")/.."
project="${COMPOSE_PROJECT_NAME:-compose}"
replicas=".run/${project}-replicas.yml"
if [ -f "$replicas" ]; then export COMPOSE_FILE="${COMPOSE_FILE:-compose/docker-compose.yml}:$replicas"; fi
exec docker-compose "$@"
