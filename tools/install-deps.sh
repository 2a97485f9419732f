#!/bin/sh
# Installs the Debian 12 packages pharmdesk needs, and nothing when all are present.
# Usage: tools/install-deps.sh [build|test|bench]  (each includes the ones before it)
set -eu

want="${1:-build}"
pkgs="gcc make cmake pkg-config libmicrohttpd-dev libsqlite3-dev libsodium-dev libcjson-dev"
case "$want" in
  test)  pkgs="$pkgs python3 clang libclang-rt-14-dev chromium fonts-dejavu-core slowhttptest" ;;
  bench) pkgs="$pkgs python3 clang libclang-rt-14-dev slowhttptest wrk" ;;
  build) ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

# the browser tests need Node.js 20+ with npm (the machine's own, or Debian's as a fallback)
if [ "$want" != build ] && ! command -v npm >/dev/null 2>&1; then
  pkgs="$pkgs nodejs npm"
fi

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO="sudo"
    else
      echo "missing packages:$missing; run as root: apt-get install$missing" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# playwright-core (pinned in tests/browser/package-lock.json) into tests/browser/node_modules;
# it drives Debian's /usr/bin/chromium and never downloads a browser of its own
if [ "$want" != build ]; then
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
  if [ ! -f "$dir/node_modules/playwright-core/package.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "installing the browser-test packages (npm ci in tests/browser)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
fi
