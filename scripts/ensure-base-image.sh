#!/usr/bin/env bash
# Makes sure debian:<suite>-slim exists locally (default: trixie, what our images start FROM):
# pulls it where a registry answers, otherwise builds an equivalent with debootstrap (minbase)
# from Debian's mirror and imports it.
set -euo pipefail
SUITE="${1:-trixie}"
IMAGE="debian:${SUITE}-slim"
say() { printf '==> %s\n' "$*"; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "base image $IMAGE present"
  exit 0
fi
say "pulling $IMAGE"
if timeout 30 docker pull -q "$IMAGE" >/dev/null 2>&1; then exit 0; fi

say "no registry: building $IMAGE with debootstrap (about a minute)"
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi
ROOTFS=$(mktemp -d "/tmp/ha-sidecar-rootfs-$SUITE.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
debootstrap --variant=minbase "$SUITE" "$ROOTFS" http://deb.debian.org/debian >/dev/null
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
say "base image $IMAGE imported"
