#!/usr/bin/env bash
# test_alerts.sh: the alert rules of k8s/prometheusrule.yaml pass `promtool check rules`, and the
# unit tests tests/alerts/*_test.yaml (`promtool test rules`) show each alert firing on a series
# that should fire it and silent on one that should not; breaking any alert either way must fail
# them (tests/deploy/check_alerts.js). promtool comes with Debian's prometheus package.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v promtool >/dev/null || { echo "FAIL: promtool missing (Debian package prometheus: make deps)"; exit 1; }
[ -d tests/e2e/node_modules/yaml ] || { echo "FAIL: tests/e2e/node_modules missing (make deps)"; exit 1; }
NODE_PATH="$PWD/tests/e2e/node_modules" timeout 240 node tests/deploy/check_alerts.js
