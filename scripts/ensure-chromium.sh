#!/usr/bin/env bash
# Debian's Chromium, for the status page's browser test (driven by playwright-core).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "==> installing Debian's chromium (status page test)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q chromium >/dev/null
