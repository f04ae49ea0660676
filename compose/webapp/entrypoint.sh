#!/bin/sh
# Runs the webapp and a Serf agent beside it. SIGTERM stops both; if either dies, the container
# exits (and Docker's restart policy decides what comes next).
#   webapp-entrypoint            the webapp + its Serf agent
#   webapp-entrypoint serf-seed  a Serf agent only, the cluster's well-known join address
set -u
# A SIGTERM that comes while this script is still starting is remembered and honoured once the
# children run: PID 1 ignores a signal it has no handler for, and `docker stop` would then wait
# its whole timeout and SIGKILL (a container scaled up and at once down, on a busy host).
STOP_ASKED=""
trap 'STOP_ASKED=1' TERM INT
SERF_JOIN="${SERF_JOIN:-serf}"
NODE_NAME="${SERF_NODE:-$(hostname)}"
# SERF_NETWORK: advertise the address on that network (a swarm task is on docker_gwbridge too).
ADVERTISE=""
advertise() { [ -n "${SERF_NETWORK:-}" ] && ADVERTISE="-advertise=$(node /app/address-on.js "$SERF_NETWORK"):7946"; }

# The app and the Serf agent run as users of their own (never root, no capability): the app
# cannot read the agent's config, which holds the gossip key (and the seed's RPC key); the keys
# are on no command line, and the app's environment is cleared of them. Started as root (the
# image's default), this script only sets that up; started as another user, it runs both as is.
APP_UID=10003
SERF_UID=10004
# The command prefix that runs what follows as `uid` (none when not started as root).
as_user() { [ "$(id -u)" = 0 ] && echo "setpriv --reuid=$1 --regid=$1 --clear-groups --inh-caps=-all --no-new-privs"; }

# The agent's config, written by the agent's user into its own directory (0700): its keys and
# reconnect_interval. Serf tries to reach a failed member again every 30 s by default, and each
# agent only with the odds failed/alive; a member that was frozen (SIGSTOP, a paused VM) and
# thaws learns it was declared dead, and refutes it, only then: back after 1 s or after a
# minute. Every second instead: a thawed member is back within a few seconds.
SERF_DIR=/var/lib/serf-agent
[ "$(id -u)" = 0 ] || SERF_DIR=$(mktemp -d)
SERF_CONFIG="$SERF_DIR/agent.json"
write_config() {
  json='{"reconnect_interval": "1s"'
  [ -n "${SERF_ENCRYPT_KEY:-}" ] && json="$json, \"encrypt_key\": \"$SERF_ENCRYPT_KEY\""
  [ -n "${1:-}" ] && json="$json, \"rpc_auth\": \"$1\""
  # Through stdin: an argument would show on the command line to every process here.
  # shellcheck disable=SC2046 # the prefix is words
  printf '%s}\n' "$json" | $(as_user "$SERF_UID") sh -c "umask 077; cat > $SERF_CONFIG"
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
  [ -n "$STOP_ASKED" ] && exit 0
  # shellcheck disable=SC2046,SC2086 # the prefix is words; empty options must vanish
  exec $(as_user "$SERF_UID") env -u SERF_ENCRYPT_KEY -u SERF_RPC_AUTH \
    serf agent -node="$NODE_NAME" -bind=0.0.0.0:7946 -rpc-addr="$RPC_IP:7373" -config-file="$SERF_CONFIG" $ADVERTISE -log-level=warn
fi

start_serf() {
  # retry-join: the agent keeps trying until the seed answers, so start order does not matter.
  # Its RPC stays on the container's loopback.
  advertise
  write_config ""
  # shellcheck disable=SC2046,SC2086
  $(as_user "$SERF_UID") env -u SERF_ENCRYPT_KEY -u SERF_RPC_AUTH \
    serf agent -node="$NODE_NAME" -bind=0.0.0.0:7946 -rpc-addr=127.0.0.1:7373 -config-file="$SERF_CONFIG" $ADVERTISE -log-level=warn \
    -retry-join="$SERF_JOIN" -retry-interval=2s -tag role=webapp &
  SERF_PID=$!
}
# The app first: it is what a new container is waited for; its Serf agent only cross-checks it.
# shellcheck disable=SC2046
$(as_user "$APP_UID") env -u SERF_ENCRYPT_KEY -u SERF_RPC_AUTH node /app/app.js &
APP_PID=$!
start_serf

# Running, not a zombie this shell has not reaped yet.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

stop() {
  kill -TERM "$APP_PID" 2>/dev/null
  wait "$APP_PID" 2>/dev/null
  # SIGINT makes Serf leave the cluster gracefully (SIGTERM would look like a failure). An agent
  # stopped while it was still starting may not heed it yet (a background job starts with SIGINT
  # ignored until the agent sets its own handler): SIGTERM after 3 s, SIGKILL after 6.
  kill -INT "$SERF_PID" 2>/dev/null
  i=0
  while alive "$SERF_PID"; do
    i=$((i + 1))
    [ "$i" = 15 ] && kill -TERM "$SERF_PID" 2>/dev/null
    [ "$i" = 30 ] && kill -KILL "$SERF_PID" 2>/dev/null
    sleep 0.2
  done
  wait "$SERF_PID" 2>/dev/null
  exit 0
}
trap stop TERM INT
[ -n "$STOP_ASKED" ] && stop

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
