#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io and docker-compose when they
# are missing, and starts dockerd (with --live-restore, logs in .run/dockerd.log) when none runs.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '==> %s\n' "$*"; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
  say "installing Debian's docker.io and docker-compose"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io docker-compose >/dev/null
fi

if docker info >/dev/null 2>&1; then
  say "docker engine answers"
  exit 0
fi

mkdir -p .run
say "starting dockerd --live-restore --userland-proxy=false (log: .run/dockerd.log)"
# setsid: dockerd must outlive this make invocation. --live-restore: containers survive a
# dockerd restart; --userland-proxy=false: published ports are plain NAT rules, so 127.0.0.1:80
# keeps answering while dockerd restarts (docker-proxy processes die with dockerd).
setsid dockerd --live-restore --userland-proxy=false >>.run/dockerd.log 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then say "docker engine is up"; exit 0; fi
  sleep 0.5
done
echo "dockerd did not answer within 60 s; last lines of .run/dockerd.log:" >&2
tail -n 30 .run/dockerd.log >&2
exit 1
