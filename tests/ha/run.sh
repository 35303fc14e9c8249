#!/usr/bin/env bash
# run.sh: runs the HA scenarios (docs/ha.md): `tests/ha/run.sh --reduced [scenario...]`,
# `tests/ha/run.sh --full` (what `make ha` runs), `tests/ha/run.sh --list`;
# `tests/ha/run.sh --self-test` runs the harness's own unit tests (no gateway needed).
#
# The harness (python3, standard library only) runs in its own session so that, however this
# script ends (Ctrl-C, SIGTERM, an error), the trap stops it and it stops every process it
# started, and nothing else.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export BUILD="${BUILD:-build}"
cd "$here/../.."
if [ "${1:-}" = "--self-test" ]; then
  exec python3 "$here/test_ha.py"
fi

setsid python3 "$here/scenarios.py" "$@" &
pid=$!
stop() {
  trap - INT TERM
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # the harness did not finish its cleanup within 60 s: end its whole session
  kill -KILL -- "-$pid" 2>/dev/null || true
}
trap 'stop; exit 130' INT TERM
rc=0
wait "$pid" || rc=$?
exit $rc
