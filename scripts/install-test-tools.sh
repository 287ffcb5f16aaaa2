#!/bin/sh
# Installs the Debian packages the test suite and the benchmarks drive (the
# list is in scripts/preflight.mjs): only what is missing, and only as root on
# a machine with apt-get. Elsewhere it installs nothing and leaves it to the
# preflight that `npm test` runs first to name what is missing and how to
# install it. `npm run test:all` runs this, then `npm test`.
set -eu
cd "$(dirname "$0")/.."

missing=$(node scripts/preflight.mjs --missing-packages --bench)
[ -n "$missing" ] || exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  exit 0
fi

log=${TMPDIR:-/tmp}/ucgate-apt.log
echo "install-test-tools: apt-get install $missing (log: $log)" >&2
export DEBIAN_FRONTEND=noninteractive
# DPkg::Lock::Timeout: wait for another apt run (unattended upgrades) instead of failing.
if ! { apt-get update -q && apt-get -o DPkg::Lock::Timeout=600 install -y -q $missing; } >"$log" 2>&1; then
  tail -40 "$log" >&2
  echo "install-test-tools: apt-get failed; the whole log is in $log" >&2
  exit 1
fi
echo "install-test-tools: installed" >&2
