#!/usr/bin/env bash
# test_manifests.sh: the deployment files (Dockerfile, docker-compose.yml and compose/, k8s/) agree
# with the code and with the Kubernetes / Prometheus Operator / compose specification schemas. See
# tests/deploy/check_manifests.js for the list of checks; it also breaks the files on purpose and
# fails if a breakage goes unnoticed. Then the configuration files of compose's own services are
# checked by their programs: haproxy -c (Debian's HAProxy 2.6), promtool check config (Prometheus
# 2.42), sh -n on the topics script. Nothing here needs Docker or a cluster (neither exists on the
# development machine; the docker CLI there has no compose plugin, so `docker compose config`
# cannot run: the compose schema check stands in for it).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${BUILD:-build}"
export BUILD

for b in ws-edge ocpp-core kafka-bridge redis-registry; do
  [ -x "$BUILD/bin/$b" ] || { echo "FAIL: $BUILD/bin/$b missing (run make first)"; exit 1; }
done
for m in kubernetes-models @kubernetes-models/prometheus-operator yaml typescript ajv dclint; do
  [ -d "tests/e2e/node_modules/$m" ] || { echo "FAIL: tests/e2e/node_modules/$m missing (run make deps)"; exit 1; }
done

NODE_PATH="$PWD/tests/e2e/node_modules" timeout 240 node tests/deploy/check_manifests.js

# compose's HAProxy: valid; the only warnings allowed are the edges' names, which resolve only
# inside compose's network (init-addr none keeps HAProxy starting without them)
out="$(haproxy -c -f compose/haproxy/haproxy.cfg 2>&1)" || { echo "FAIL: haproxy -c: $out"; exit 1; }
if grep '\[WARNING\]' <<<"$out" | grep -v "could not resolve address 'pod-[ab]-ws-edge'" | grep -q .; then
  echo "FAIL: haproxy -c warns: $out"; exit 1
fi
echo "ok: haproxy -c accepts compose/haproxy/haproxy.cfg ($(haproxy -v | head -1 | awk '{print $3}'))"
out="$(promtool check config compose/prometheus/prometheus.yml 2>&1)" || { echo "FAIL: promtool check config: $out"; exit 1; }
echo "ok: promtool check config accepts compose/prometheus/prometheus.yml and its rules"
sh -n k8s/topics/create-topics.sh || { echo "FAIL: sh -n k8s/topics/create-topics.sh"; exit 1; }
echo "ok: k8s/topics/create-topics.sh parses (sh -n); tests/integration/test_topics.sh runs it"

# kustomize renders the whole set (kubectl is optional on a development machine)
if command -v kubectl >/dev/null 2>&1; then
  n=$(kubectl kustomize k8s/ | grep -c '^kind:')
  [ "$n" -ge 10 ] || { echo "FAIL: kubectl kustomize k8s/ rendered $n objects"; exit 1; }
  echo "ok: kubectl kustomize k8s/ renders $n objects"
else
  echo "note: kubectl not installed, kustomize rendering not checked"
fi
