#!/usr/bin/env bash
# Prints the path of a promtool, the Prometheus checker that test/server/promtool.test.ts runs on a
# live scrape: $PROMTOOL if set, else one on the PATH, else a copy taken from Debian's
# `prometheus` package into a cache directory, extracted there the first time. Only the one
# binary is taken: the package, with its web assets and their dependencies, installs ~100 MB.
# The test runs this itself when it finds no promtool; .ci/run runs it up front.
set -euo pipefail
if [ -n "${PROMTOOL:-}" ]; then
  echo "$PROMTOOL"
  exit 0
fi
if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/numbers-server/prometheus"
tool="$cache/usr/bin/promtool"
if [ ! -x "$tool" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # The package lists may be missing or stale (a 404): update them once and try again.
  (cd "$tmp" && { apt-get download -q prometheus || { apt-get update -q && apt-get download -q prometheus; }; }) >&2
  mkdir -p "$cache"
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$cache" ./usr/bin/promtool
fi
echo "$tool"
