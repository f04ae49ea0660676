#!/usr/bin/env bash
# ha-sidecar on Docker Swarm, as stack `heig` (compose/stack.yml).
#   swarm.sh up N      build nothing (make does), pick an engine, deploy with N webapps
#   swarm.sh scale N   docker service scale heig_webapp=N
#   swarm.sh down      remove the stack; leave the swarm only if `up` made it
# The engine: this host's when it is a swarm manager already, or when it can become one (then
# `up` initialises a single-node swarm, says so, and `down` leaves it). An engine started with
# --live-restore cannot (as `make up` starts it): then the swarm runs in a Docker engine of its
# own, in a container (compose/node), never touching the host's; HAProxy's ports are published
# on the host's 127.0.0.1, and `.run/swarm.env` holds `DOCKER_HOST=...` for `docker service ...`.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*"; }
STACK=heig
# Overridable, so that the tests run a swarm of their own beside the user's: SWARM_ENGINE=nested
# forces an engine of its own even where this host's could be a manager.
NODE="${SWARM_NODE:-ha-sidecar-swarm-node}"
NODE_NET="${SWARM_NODE_NET:-ha-sidecar-swarm}"
SWARM_ENV="${SWARM_STATE:-.run/swarm}.env"
CREATED="${SWARM_STATE:-.run/swarm}-created"
# The stats page's credentials, generated when none are given: a swarm publishes it on every
# interface of the node that runs ha (host mode has no host address), so it never goes without.
STATS_CREDENTIALS="${SWARM_STATE:-.run/swarm}-stats.env"
SWARM_ENGINE="${SWARM_ENGINE:-auto}"
HTTP_PORT="${HTTP_PORT:-80}"
STATS_PORT="${STATS_PORT:-1936}"
SECRETS_FILE="${SECRETS_FILE:-compose/.env}"
IMAGES=(ha-sidecar/ha:latest ha-sidecar/docker-proxy:latest ha-sidecar/sidecar:latest ha-sidecar/webapp:latest)
mkdir -p "$(dirname "$SWARM_ENV")"

# The stack's engine, once chosen.
use_engine() {
  if [ -f "$SWARM_ENV" ]; then
    # shellcheck disable=SC1090
    set -a; . "$SWARM_ENV"; set +a
  fi
}

# Serf's keys (and stats credentials) from the secrets file, unless the environment has them.
load_secrets() {
  scripts/secrets.sh ensure "$SECRETS_FILE"
  if [ -f "$SECRETS_FILE" ]; then
    # (not `IFS== read k v`: read drops a trailing `=`, the base64 padding of the gossip key)
    while IFS= read -r line; do
      case "$line" in ''|\#*) continue ;; esac
      k=${line%%=*}
      v=${line#*=}
      [ -z "${!k:-}" ] && export "$k=$v"
    done <"$SECRETS_FILE"
  fi
  return 0
}

start_nested() {
  say "this engine cannot be a swarm manager (it runs with --live-restore): the swarm runs in a Docker engine of its own, container $NODE"
  docker build -q -t ha-sidecar/node:latest compose/node >/dev/null
  docker network inspect "$NODE_NET" >/dev/null 2>&1 || docker network create "$NODE_NET" >/dev/null
  docker rm -f "$NODE" >/dev/null 2>&1 || true
  docker run -d --name "$NODE" --hostname swarm-node1 --network "$NODE_NET" --init \
    --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /var/lib/docker:exec \
    -p "127.0.0.1:$HTTP_PORT:$HTTP_PORT" -p "127.0.0.1:$STATS_PORT:$STATS_PORT" \
    ha-sidecar/node:latest --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false \
    "--cgroup-parent=/$NODE" >/dev/null
  local ip
  ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NODE_NET\").IPAddress}}" "$NODE")
  for _ in $(seq 1 100); do docker -H "tcp://$ip:2375" info >/dev/null 2>&1 && break; sleep 0.3; done
  say "loading the images into it"
  for image in "${IMAGES[@]}"; do docker save "$image" | docker -H "tcp://$ip:2375" load -q >/dev/null; done
  docker -H "tcp://$ip:2375" swarm init --advertise-addr "$ip" >/dev/null
  echo "DOCKER_HOST=tcp://$ip:2375" >"$SWARM_ENV"
}

up() {
  local replicas="$1"
  if [ ! -f "$SWARM_ENV" ]; then
    local state manager live_restore
    state=$(docker info -f '{{.Swarm.LocalNodeState}}')
    manager=$(docker info -f '{{.Swarm.ControlAvailable}}')
    live_restore=$(docker info -f '{{.LiveRestoreEnabled}}')
    if [ "$SWARM_ENGINE" = "nested" ]; then
      start_nested
    elif [ "$state" = "active" ] && [ "$manager" = "true" ]; then
      say "this engine is a swarm manager already: deploying there"
    elif [ "$state" = "inactive" ] && [ "$live_restore" != "true" ]; then
      say "this engine is in no swarm: initialising a single-node swarm (make swarm-down leaves it)"
      docker swarm init >/dev/null
      touch "$CREATED"
    else
      start_nested
    fi
  fi
  use_engine
  load_secrets
  # Host-mode ports land on every interface of the node that runs ha: the stats page is behind
  # credentials there, yours (LB_STATS_USER/LB_STATS_PASSWORD) or generated once.
  export STATS_BIND=0.0.0.0
  if [ -z "${LB_STATS_USER:-}" ] || [ -z "${LB_STATS_PASSWORD:-}" ]; then
    if [ ! -s "$STATS_CREDENTIALS" ]; then
      (
        umask 077
        printf 'LB_STATS_USER=admin\nLB_STATS_PASSWORD=%s\n' "$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$STATS_CREDENTIALS"
      )
      say "generated the stats page's credentials in $STATS_CREDENTIALS (mode 600)"
    fi
    set -a
    # shellcheck disable=SC1090
    . "$STATS_CREDENTIALS"
    set +a
  fi
  if [ -n "${REGISTRY:-}" ]; then
    say "pushing the images to $REGISTRY (every node pulls them from there)"
    for image in "${IMAGES[@]}"; do docker tag "$image" "$REGISTRY$image" && docker push -q "$REGISTRY$image" >/dev/null; done
  fi
  # compose/stack.yml is format 3.12: the webapps' health check polls every 250 ms while they
  # start (start_interval), which older clients refuse.
  local client
  client=$(docker version -f '{{.Client.Version}}' 2>/dev/null || echo 0)
  if [ "${client%%.*}" -lt 25 ] 2>/dev/null; then
    echo "make swarm-up: docker stack deploy needs a Docker client of version 25 or later (this one is $client): compose/stack.yml uses healthcheck start_interval." >&2
    exit 1
  fi
  say "deploying stack $STACK with $replicas webapp(s)"
  WEBAPP_REPLICAS="$replicas" HTTP_PORT="$HTTP_PORT" STATS_PORT="$STATS_PORT" \
    docker stack deploy ${REGISTRY:+--with-registry-auth} -c compose/stack.yml "$STACK" >/dev/null
  say "frontend: http://127.0.0.1:$HTTP_PORT/   stats: http://127.0.0.1:$STATS_PORT/ (CSV: /;csv; user $LB_STATS_USER)"
  if [ -f "$SWARM_ENV" ]; then say "for docker service ...: export $(cat "$SWARM_ENV")"; fi
}

scale() {
  use_engine
  say "scaling ${STACK}_webapp to $1"
  docker service scale "${STACK}_webapp=$1" >/dev/null
}

down() {
  use_engine
  if docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$STACK"; then
    say "removing stack $STACK"
    # A service added by hand on its network makes stack rm fail to remove the network: go on.
    docker stack rm "$STACK" >/dev/null || say "stack $STACK: some resources were not removed (see above)"
    for _ in $(seq 1 60); do
      [ -z "$(docker ps -q --filter "label=com.docker.stack.namespace=$STACK")" ] && break
      sleep 0.5
    done
    # Its networks go a moment after its containers.
    for _ in $(seq 1 20); do docker network inspect heig >/dev/null 2>&1 || break; sleep 0.5; done
  fi
  if [ -f "$SWARM_ENV" ]; then
    say "removing the swarm's own engine ($NODE)"
    docker -H "${DOCKER_HOST}" volume prune -f >/dev/null 2>&1 || true
    unset DOCKER_HOST
    docker rm -f "$NODE" >/dev/null 2>&1 || true
    docker network rm "$NODE_NET" >/dev/null 2>&1 || true
    for d in /sys/fs/cgroup/*/"$NODE"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    rm -f "$SWARM_ENV"
  fi
  rm -f "$STATS_CREDENTIALS"
  if [ -f "$CREATED" ]; then
    say "leaving the swarm make swarm-up created"
    docker swarm leave --force >/dev/null
    rm -f "$CREATED"
  fi
  return 0
}

case "${1:-}" in
  up) up "${2:-2}" ;;
  scale) scale "${2:?usage: swarm.sh scale N}" ;;
  down) down ;;
  *) echo "usage: swarm.sh up N | scale N | down" >&2; exit 2 ;;
esac
