#!/usr/bin/env bash
# The test command: installs the system packages the tests drive for real
# (redis-server; chromium for the status page's browser test; haproxy in
# front of the proxy for the PROXY protocol tests), then runs
# `cargo test` with any arguments given.
#
#   scripts/test.sh                  # the whole suite
#   scripts/test.sh --test redis     # any `cargo test` arguments
#
# On Debian/Ubuntu it installs what is missing with apt-get (as root, or through
# sudo); elsewhere it names what to install and stops. Nothing is installed when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# command on PATH -> Debian package that provides it
packages=(
  "redis-server:redis-server"
  "chromium:chromium"
  "haproxy:haproxy"
)

missing=()
for entry in "${packages[@]}"; do
  cmd="${entry%%:*}" pkg="${entry#*:}"
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$cmd" >/dev/null 2>&1 \
    || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: the tests need: ${missing[*]} (not found on PATH); install them and run again" >&2
    exit 2
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "test.sh: the tests need: ${missing[*]}; run as root or install sudo" >&2
      exit 2
    }
    sudo=(sudo)
  fi
  echo "== installing test dependencies: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

exec cargo test "$@"
