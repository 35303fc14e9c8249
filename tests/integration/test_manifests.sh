#!/usr/bin/env bash
# test_manifests.sh: the deployment files (Dockerfile, docker-compose.yml, k8s/) agree with the
# code and with the Kubernetes / Prometheus Operator schemas. See tests/deploy/check_manifests.js
# for the list of checks; it also breaks the files on purpose and fails if a breakage goes
# unnoticed. Nothing here needs Docker or a cluster (neither exists on the development machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
export BUILD

for b in ws-edge ocpp-core kafka-bridge redis-registry; do
  [ -x "$BUILD/bin/$b" ] || { echo "FAIL: $BUILD/bin/$b missing (run make first)"; exit 1; }
done
for m in kubernetes-models @kubernetes-models/prometheus-operator yaml typescript; do
  [ -d "tests/e2e/node_modules/$m" ] || { echo "FAIL: tests/e2e/node_modules/$m missing (run make deps)"; exit 1; }
done

NODE_PATH="$PWD/tests/e2e/node_modules" timeout 240 node tests/deploy/check_manifests.js

# kustomize renders the whole set (kubectl is optional on a development machine)
if command -v kubectl >/dev/null 2>&1; then
  n=$(kubectl kustomize k8s/ | grep -c '^kind:')
  [ "$n" -ge 10 ] || { echo "FAIL: kubectl kustomize k8s/ rendered $n objects"; exit 1; }
  echo "ok: kubectl kustomize k8s/ renders $n objects"
else
  echo "note: kubectl not installed, kustomize rendering not checked"
fi
