#!/usr/bin/env bash
# test_registry_txid.sh: global OCPP 1.6 transaction ids through real redis-registries and a real
# redis-server (issue 14 item 2, docs/registry.md "Transaction ids"). Two pods' cores ask for
# blocks at the same time: every range is disjoint; two claims of one natural key (two pods, a
# resend) answer the same id, the first one "first"; bad input is refused; a counter at 2^31-1
# answers an error (exhausted, counted); while Redis is away both are answered -EAGAIN at once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
CORES=2 start_registry pod-a
CORES=2 start_registry pod-b

# ---- blocks: 2 pods x 2 cores x 25 requests of 100 ids, interleaved ---------------------------
for i in $(seq 1 25); do
  drv pod-a txid_block "$i" 0 100
  drv pod-b txid_block "$i" 1 100
  drv pod-a txid_block "$((100 + i))" 1 100
  drv pod-b txid_block "$((100 + i))" 0 100
done
wait_until 20 "100 ranges" sh -c "[ \$(cat '$TMP/pod-a.drv' '$TMP/pod-b.drv' | grep -c '^txid_range ') = 100 ]"
cat "$TMP/pod-a.drv" "$TMP/pod-b.drv" | awk '/^txid_range /{print $4, $5, $6}' >"$TMP/ranges"
awk '$3 != 0 || $2 != 100 {bad++} END {exit bad > 0}' "$TMP/ranges" || fail "a block not answered in full: $(awk '$3 != 0 || $2 != 100' "$TMP/ranges" | head -3)"
sort -n "$TMP/ranges" | awk 'NR > 1 && $1 <= last {exit 1} {last = $1 + $2 - 1} END {if (last != 10000) exit 1}' ||
  fail "ranges overlap or leave gaps: $(sort -n "$TMP/ranges" | head -3 | tr '\n' ' ')"
[ "$(rcli GET ocppgw:txid)" = 10000 ] || fail "counter at $(rcli GET ocppgw:txid)"
[ "$(rcli TTL ocppgw:txid)" = -1 ] || fail "the counter must never expire"
ok "100 blocks asked concurrently by 4 cores on 2 pods: disjoint ranges covering 1..10000"

# ---- claims: one natural key from two pods (a resend on the other pod) ---------------------
KEY='CP7|1|2026-12-03T10:00:00Z|TAG7'
drv pod-a txid_claim 1 0 "$KEY" 501 86400000
expect_line 5 pod-a '^txid_claimed 0 1 501 1 0$' >/dev/null
drv pod-b txid_claim 2 1 "$KEY" 9001 86400000
expect_line 5 pod-b '^txid_claimed 1 2 501 0 0$' >/dev/null
drv pod-a txid_claim 3 0 "$KEY" 501 86400000 # the first claim again (its answer lost)
expect_line 5 pod-a '^txid_claimed 0 3 501 1 0$' >/dev/null
ttl="$(rcli PTTL "txid:$KEY")"
[ "$ttl" -gt 86000000 ] && [ "$ttl" -le 86400000 ] || fail "txid:$KEY PTTL $ttl"
drv pod-a txid_claim 4 0 'CP8|1|2026-12-03T10:00:00Z|TAG7' 502 86400000
expect_line 5 pod-a '^txid_claimed 0 4 502 1 0$' >/dev/null
ok "two claims of one key (two pods) answer the same id 501, first once; the key expires with its TTL; another key its own id"

# ---- bad input, exhausted ---------------------------------------------------------------------
drv pod-a txid_claim 5 0 K 0 1000
expect_line 5 pod-a '^txid_claimed 0 5 0 0 -22$' >/dev/null
drv pod-a txid_block 6 0 0
expect_line 5 pod-a '^txid_range 0 6 0 0 -22$' >/dev/null
rcli SET ocppgw:txid 2147483640 >/dev/null
drv pod-a txid_block 7 0 100
expect_line 5 pod-a '^txid_range 0 7 2147483641 7 0$' >/dev/null
drv pod-a txid_block 8 0 100
expect_line 5 pod-a '^txid_range 0 8 0 0 -28$' >/dev/null
[ "$(rcli GET ocppgw:txid)" = 2147483647 ] || fail "the counter passed 2^31-1"
grep -q 'no 1.6 transaction id left' "$TMP/pod-a.log" || fail "exhaustion not logged"
curl -sf "$(admin_url pod-a)/metrics" >"$TMP/a.metrics" # (grep -q in a pipe: SIGPIPE under pipefail)
grep -q '^ocppgw_registry_txid_blocks_total{status="exhausted"} 1$' "$TMP/a.metrics" ||
  fail "exhaustion not counted"
ok "bad input -EINVAL; near 2^31-1 a block is cut short, then -ENOSPC, logged and counted"

# ---- Redis away: -EAGAIN at once ------------------------------------------------------------
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
wait_until 10 "redis_up 0" sh -c "curl -sf '$(admin_url pod-a)/metrics' | grep -q '^ocppgw_registry_redis_up 0$'"
drv pod-a txid_block 9 0 10
drv pod-a txid_claim 10 0 K2 600 1000
expect_line 5 pod-a '^txid_range 0 9 0 0 -11$' >/dev/null
expect_line 5 pod-a '^txid_claimed 0 10 0 0 -11$' >/dev/null
ok "Redis unreachable: TXID_BLOCK and TXID_CLAIM answered -EAGAIN"
