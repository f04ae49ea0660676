#!/bin/sh
# Runs the webapp and a Serf agent beside it. SIGTERM stops both; if either dies, the container
# exits (and Docker's restart policy decides what comes next).
#   webapp-entrypoint            the webapp + its Serf agent
#   webapp-entrypoint serf-seed  a Serf agent only, the cluster's well-known join address
set -u
SERF_JOIN="${SERF_JOIN:-serf}"
NODE_NAME="${SERF_NODE:-$(hostname)}"
# Gossip is encrypted when a key is given (every agent of the cluster needs the same one).
ENCRYPT=""
[ -n "${SERF_ENCRYPT_KEY:-}" ] && ENCRYPT="-encrypt=$SERF_ENCRYPT_KEY"
# SERF_NETWORK: advertise the address on that network (a swarm task is on docker_gwbridge too).
ADVERTISE=""
advertise() { [ -n "${SERF_NETWORK:-}" ] && ADVERTISE="-advertise=$(node /app/address-on.js "$SERF_NETWORK"):7946"; }

# Every agent's own config file (the RPC auth key has no flag, only this file's rpc_auth).
# reconnect_interval: Serf tries to reach a failed member again every 30 s by default, and each
# agent only with the odds failed/alive; a member that was frozen (SIGSTOP, a paused VM) and
# thaws learns it was declared dead, and refutes it, only then: back after 1 s or after a
# minute. Every second instead: a thawed member is back within a few seconds.
SERF_CONFIG=/tmp/serf-agent.json
write_config() {
  # A subshell: the umask is the file's alone.
  (
    umask 077
    if [ -n "${1:-}" ]; then
      printf '{"reconnect_interval": "1s", "rpc_auth": "%s"}\n' "$1" >"$SERF_CONFIG"
    else
      printf '{"reconnect_interval": "1s"}\n' >"$SERF_CONFIG"
    fi
  )
}

if [ "${1:-}" = "serf-seed" ]; then
  # The seed's RPC listens on one address only: the one SERF_RPC_HOST (an alias on a network the
  # webapps are not on) resolves to; 127.0.0.1 when none is given. It requires SERF_RPC_AUTH.
  RPC_IP=127.0.0.1
  if [ -n "${SERF_RPC_HOST:-}" ]; then
    for _ in $(seq 1 50); do
      ip=$(getent hosts "$SERF_RPC_HOST" | awk '{ print $1; exit }')
      [ -n "$ip" ] && { RPC_IP=$ip; break; }
      sleep 0.2
    done
  fi
  advertise
  write_config "${SERF_RPC_AUTH:-}"
  # shellcheck disable=SC2086 # empty options must vanish
  exec serf agent -node="$NODE_NAME" -bind=0.0.0.0:7946 -rpc-addr="$RPC_IP:7373" -config-file="$SERF_CONFIG" $ENCRYPT $ADVERTISE -log-level=warn
fi

start_serf() {
  # retry-join: the agent keeps trying until the seed answers, so start order does not matter.
  # Its RPC stays on the container's loopback.
  advertise
  write_config ""
  # shellcheck disable=SC2086
  serf agent -node="$NODE_NAME" -bind=0.0.0.0:7946 -rpc-addr=127.0.0.1:7373 -config-file="$SERF_CONFIG" $ENCRYPT $ADVERTISE -log-level=warn \
    -retry-join="$SERF_JOIN" -retry-interval=2s -tag role=webapp &
  SERF_PID=$!
}
# The app first: it is what a new container is waited for; its Serf agent only cross-checks it.
node /app/app.js &
APP_PID=$!
start_serf

stop() {
  kill -TERM "$APP_PID" 2>/dev/null
  wait "$APP_PID" 2>/dev/null
  # SIGINT makes Serf leave the cluster gracefully (SIGTERM would look like a failure).
  kill -INT "$SERF_PID" 2>/dev/null
  wait "$SERF_PID" 2>/dev/null
  exit 0
}
trap stop TERM INT

# Supervise: the app dying ends the container; the Serf agent dying is restarted.
while :; do
  sleep 1 & wait $!
  if ! kill -0 "$APP_PID" 2>/dev/null; then
    echo "webapp-entrypoint: the webapp exited, stopping the container" >&2
    kill -INT "$SERF_PID" 2>/dev/null
    exit 1
  fi
  if ! kill -0 "$SERF_PID" 2>/dev/null; then
    echo "webapp-entrypoint: serf agent exited, restarting it" >&2
    start_serf
  fi
done
