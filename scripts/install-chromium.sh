#!/usr/bin/env bash
# Install Debian's Chromium (used by the galata UI tests) unless it is already there.
# Idempotent; needs root (or sudo-less root containers as in CI).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium)"
  exit 0
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-liberation
command -v chromium
