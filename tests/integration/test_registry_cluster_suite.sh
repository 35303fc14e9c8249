#!/usr/bin/env bash
# test_registry_cluster_suite.sh: the registry's integration tests against a 3-master Redis
# Cluster of Debian's redis-server on loopback (issue 14, Done-when): each test below runs
# unchanged with REGISTRY_TEST_CLUSTER=1, which makes registry_lib.sh's start_redis create the
# cluster and give the registries redis+cluster://... (rcli follows redirects, rcli_scan reads
# every master). Together they check, on the cluster: leases, the sweeper and the takeover
# (leases), fencing and de-dup (fencing), claims of authenticated connections and the ACL user
# (auth), credential sync over pub/sub, CRED_USED and ocppctl (creds), transaction-id blocks and
# claims (txid), 10,000 identities connecting and closing with nothing left but the TTL'd epoch
# counters (burst), restarts (restart, restart_pod) and split brain across whole pods (pods).
# Not here, by nature: test_registry_sentinel (Sentinel mode) and test_registry_outage (kills
# the one redis-server and starts it empty on its port); the cluster's own outage, a master
# dying and its replica promoted, and slot migrations are test_registry_cluster.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

export REGISTRY_TEST_CLUSTER=1
for t in leases fencing auth creds txid burst restart restart_pod pods; do
  start=$SECONDS
  if ! timeout --kill-after=5 150 bash "$(dirname "$0")/test_registry_$t.sh" >"$TMP/$t.out" 2>&1; then
    grep -E '^(ok|FAIL):' "$TMP/$t.out" >&2 || true
    tail -n 40 "$TMP/$t.out" >&2
    fail "test_registry_$t.sh failed against the cluster"
  fi
  ok "test_registry_$t.sh against a 3-master cluster: $(grep -c '^ok:' "$TMP/$t.out") checks passed ($((SECONDS - start)) s)"
done
