#!/usr/bin/env bash
# install-deps.sh: install the Debian 12 packages the gateway builds, runs and tests with.
# Idempotent: it asks dpkg first and calls apt-get only for what is missing (as root, or
# through sudo). Nothing is downloaded from anywhere but Debian's archive and, for the
# end-to-end test clients, the npm registry (tests/e2e/package-lock.json). prometheus brings
# promtool and a Prometheus server for the monitoring tests (test_alerts.sh, test_prometheus.sh,
# test_metrics_lint.sh); the package's own service is not used (tests run private instances).
set -euo pipefail

PACKAGES=(
  build-essential pkg-config python3 git
  libzmq3-dev libczmq-dev libwebsockets-dev libwebsockets-evlib-uv libuv1-dev
  librdkafka-dev libhiredis-dev libmsgpack-dev libyaml-dev libjansson-dev libssl-dev check
  redis-server redis-tools kcat haproxy prometheus
  clang clang-format libfuzzer-14-dev libclang-rt-14-dev
  nodejs npm curl procps iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# A machine whose node came from elsewhere (node on PATH, no Debian package) keeps its own.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The redis-server package starts a system instance; the gateway's scripts run their own.
# Leave the system one alone: tests and `make run` use private ports and directories.

# Node clients for the end-to-end tests (independent WebSocket / OCPP peers).
# Re-run when package-lock.json changed since the last install (npm keeps its own copy).
if [ -f tests/e2e/package.json ] && { [ ! -d tests/e2e/node_modules ] ||
  [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; }; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
exit 0
