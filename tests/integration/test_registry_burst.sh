#!/usr/bin/env bash
# test_registry_burst.sh: 10,000 connection claims in one burst through a real redis-registry and
# a real redis-server complete, every one of them lands in Redis, and the registry pipelines
# them (far fewer Redis round trips than claims). The time is reported, not asserted beyond a
# generous bound (shared machine): the figures live in bench/README.md (bench/bench_registry_burst.sh).
# Then all 10,000 connections close (UNREGISTER): no key is left behind but the epoch counters
# {conn:<id>}:epoch, each with a TTL (epoch_ttl_ms), and the pod's own few keys (DESIGN §6:
# nothing grows with identities that come and go).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
CORES=2 start_registry pod-a
drv pod-a burst 10000 B
line="$(expect_line 130 pod-a '^burst(-timeout)? B 10000 ')"
case "$line" in burst-timeout*) fail "$line" ;; esac
[ "$(rcli SCARD 'pod:{pod-a}:conns')" = 10000 ] || fail "pod-a's set holds $(rcli SCARD 'pod:{pod-a}:conns')"
[ "$(rcli GET 'conn:B9999')" = pod-a ] || fail "conn:B9999 missing"
trips="$(curl -sf "$(admin_url pod-a)/metrics" | awk '/^ocppgw_registry_redis_batch_seconds_count /{print $2}')"
[ "$trips" -lt 1000 ] || fail "$trips round trips for 10000 claims: not pipelined"
ok "10000 claims in ${line##* } ms, all in Redis, $trips pipelined round trips"

[ "$(rcli GET 'conn:B42')" = pod-a ] && [ "$(rcli TTL '{conn:B42}:epoch')" = -1 ] ||
  fail "a live mapping's epoch must not expire"
drv pod-a unburst 10000 B
expect_line 30 pod-a '^unburst B 10000$' >/dev/null
wait_until 60 "every mapping released" key_is 'pod:{pod-a}:conns' SCARD 0
rcli_scan >"$TMP/keys"
grep -v -E '^\{conn:B[0-9]+\}:epoch$|^pod:\{pod-a\}$|^ocppgw:(pods|sweeper)$' "$TMP/keys" >"$TMP/left" || true
[ ! -s "$TMP/left" ] || fail "keys left after 10000 connections closed: $(head -5 "$TMP/left" | tr '\n' ' ')"
epochs="$(grep -c '^{conn:B' "$TMP/keys" || true)"
[ "$epochs" = 10000 ] || fail "$epochs epoch counters, expected 10000"
grep '^{conn:B' "$TMP/keys" | sed 's/^/TTL /' | rcli | grep -E '^-?[0-9]+$' >"$TMP/ttls" || true
[ "$(wc -l <"$TMP/ttls")" = 10000 ] || fail "$(wc -l <"$TMP/ttls") TTLs read, expected 10000"
bad="$(awk '$1 < 604790 || $1 > 604800' "$TMP/ttls" | wc -l)"
[ "$bad" = 0 ] || fail "$bad epoch counters without the 7-day TTL (e.g. $(awk '$1 < 604790' "$TMP/ttls" | head -1))"
[ "$(rcli PTTL 'pod:{pod-a}')" -gt 0 ] || fail "the lease has no TTL"
ok "10000 connections closed: only the 10000 epoch counters are left, each with its 7-day TTL (and the pod's lease and set of pods)"
