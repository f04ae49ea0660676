#!/bin/sh
# Start HAProxy even before the sidecar has written anything: seed the shared volume with the
# empty-state render of the template (503 on :80, stats on :1936). After a restart of this
# container the volume already holds the sidecar's current config, which is what gets served.
set -eu
STATE_DIR="${LB_STATE_DIR:-/var/lib/ha-sidecar}"
CFG="$STATE_DIR/haproxy.cfg"
# The group HAProxy's workers and the sidecar share (the template's `gid`).
SHARED_GID=10100
STATS_BIND="${STATS_BIND:-127.0.0.1}"
LB_STATS_USER="${LB_STATS_USER:-}"
LB_STATS_PASSWORD="${LB_STATS_PASSWORD:-}"

case "$STATS_BIND" in
  127.*|::1) ;;
  *)
    if [ -z "$LB_STATS_USER" ] || [ -z "$LB_STATS_PASSWORD" ]; then
      echo "ha: STATS_BIND=$STATS_BIND would publish the stats page beyond this host without credentials:" \
        "set LB_STATS_USER and LB_STATS_PASSWORD, or STATS_BIND=127.0.0.1. Not starting." >&2
      exit 1
    fi
    ;;
esac

# The stats page listens on ha's address on the control network only (HA_STATS_HOST: its alias
# there), so that nothing on the webapps' network reaches it; the published port lands there.
# Without one (swarm: ha is on the overlay alone) it listens everywhere, and only with credentials.
HA_STATS_ADDR=""
if [ -n "${HA_STATS_HOST:-}" ]; then
  for _ in $(seq 1 50); do
    HA_STATS_ADDR=$(getent hosts "$HA_STATS_HOST" | awk '{ print $1; exit }')
    [ -n "$HA_STATS_ADDR" ] && break
    sleep 0.2
  done
  if [ -z "$HA_STATS_ADDR" ]; then
    echo "ha: HA_STATS_HOST=$HA_STATS_HOST does not resolve (is ha on the control network with that alias?). Not starting." >&2
    exit 1
  fi
elif [ -z "$LB_STATS_USER" ] || [ -z "$LB_STATS_PASSWORD" ]; then
  echo "ha: with no HA_STATS_HOST the stats page listens on every address of this container (the webapps' network" \
    "included): set LB_STATS_USER and LB_STATS_PASSWORD. Not starting." >&2
  exit 1
fi
export HA_STATS_ADDR

# Replica k of several (HA_REPLICA, with its label heig.lb.replica): its runtime and master
# sockets in run/<k>/, where the sidecar finds them; all replicas load the same haproxy.cfg.
# One replica alone (no HA_REPLICA): run/ itself, as always.
RUN_DIR="$STATE_DIR/run"
if [ -n "${HA_REPLICA:-}" ]; then
  case "$HA_REPLICA" in
    [1-9] | [1-9][0-9]) ;;
    *) echo "ha: HA_REPLICA=$HA_REPLICA: a number from 1 to 99. Not starting." >&2; exit 1 ;;
  esac
  RUN_DIR="$STATE_DIR/run/$HA_REPLICA"
  export HA_RUNTIME_SOCKET="$RUN_DIR/admin.sock"
fi
mkdir -p "$RUN_DIR"
# The volume: written by the sidecar (uid 10001, group 10100), read by HAProxy's master (root,
# as owner: it runs without DAC_OVERRIDE). HAProxy's workers (group 10102, chrooted) never see it.
chgrp "$SHARED_GID" "$STATE_DIR" "$STATE_DIR/run" "$RUN_DIR"
chmod 0775 "$STATE_DIR" "$STATE_DIR/run" "$RUN_DIR"
if [ ! -s "$CFG" ]; then
  if [ -n "$LB_STATS_USER" ] && [ -n "$LB_STATS_PASSWORD" ]; then
    # The bootstrap config follows the same rule as the sidecar's: credentials when set.
    awk -v auth="    stats auth $LB_STATS_USER:$LB_STATS_PASSWORD" '{ print } /^    stats uri \/$/ { print auth }' \
      /etc/haproxy/bootstrap.cfg > "$CFG.tmp.$(hostname)"
  else
    cp /etc/haproxy/bootstrap.cfg "$CFG.tmp.$(hostname)"
  fi
  chmod 644 "$CFG.tmp.$(hostname)"
  mv "$CFG.tmp.$(hostname)" "$CFG"
  echo "ha: no config on the volume yet, serving the bootstrap config" >&2
fi
# -W: master-worker (SIGUSR2 = soft reload); -db: stay in the foreground as PID 1. The master
# stays root (it binds the ports and reloads), with only the capabilities compose gives it;
# workers drop to uid 10002, group 10102, chrooted (`uid`/`gid`/`chroot` in the config). The
# master CLI lives on the shared volume (group 10100: the sidecar's), never on a published port.
exec haproxy -W -db -S "$RUN_DIR/master.sock,mode,660,gid,$SHARED_GID" -f "$CFG"
