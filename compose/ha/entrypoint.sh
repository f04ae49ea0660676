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

mkdir -p "$STATE_DIR/run"
# The volume: written by the sidecar (uid 10001, group 10100), read by HAProxy's master (root).
chgrp "$SHARED_GID" "$STATE_DIR" "$STATE_DIR/run"
chmod 2775 "$STATE_DIR" "$STATE_DIR/run"
if [ ! -s "$CFG" ]; then
  if [ -n "$LB_STATS_USER" ] && [ -n "$LB_STATS_PASSWORD" ]; then
    # The bootstrap config follows the same rule as the sidecar's: credentials when set.
    awk -v auth="    stats auth $LB_STATS_USER:$LB_STATS_PASSWORD" '{ print } /^    stats uri \/$/ { print auth }' \
      /etc/haproxy/bootstrap.cfg > "$CFG.tmp.$$"
  else
    cp /etc/haproxy/bootstrap.cfg "$CFG.tmp.$$"
  fi
  chmod 644 "$CFG.tmp.$$"
  mv "$CFG.tmp.$$" "$CFG"
  echo "ha: no config on the volume yet, serving the bootstrap config" >&2
fi
# -W: master-worker (SIGUSR2 = soft reload); -db: stay in the foreground as PID 1. The master
# stays root (it binds the ports and reloads); workers drop to uid 10002 (`uid`/`gid` in the
# config). The master CLI lives on the shared volume, never on a published port.
exec haproxy -W -db -S "$STATE_DIR/run/master.sock,mode,660,gid,$SHARED_GID" -f "$CFG"
