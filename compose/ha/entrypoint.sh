#!/bin/sh
# Start HAProxy even before the sidecar has written anything: seed the shared volume with the
# empty-state render of the template (503 on :80, stats on :1936). After a restart of this
# container the volume already holds the sidecar's current config, which is what gets served.
set -eu
STATE_DIR="${LB_STATE_DIR:-/var/lib/ha-sidecar}"
CFG="$STATE_DIR/haproxy.cfg"
mkdir -p "$STATE_DIR/run"
if [ ! -s "$CFG" ]; then
  cp /etc/haproxy/bootstrap.cfg "$CFG.tmp.$$"
  mv "$CFG.tmp.$$" "$CFG"
  echo "ha: no config on the volume yet, serving the bootstrap config" >&2
fi
# -W: master-worker (SIGUSR2 = soft reload); -db: stay in the foreground as PID 1.
# The master CLI lives on the shared volume, never on a published port.
exec haproxy -W -db -S "$STATE_DIR/run/master.sock,mode,600" -f "$CFG"
