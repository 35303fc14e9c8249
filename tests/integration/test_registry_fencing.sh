#!/usr/bin/env bash
# test_registry_fencing.sh: the connection map's fencing with a real redis-server and two real
# redis-registry processes (issue 7). Each "pod" is a registry plus the driver standing in
# for its cores and bridge (tests/integration/registry_lib.sh).
#  1. two pods claim the same identity, in both orders: the later claim wins with a higher
#     epoch, the earlier pod is told SUPERSEDED (pub/sub) for the right connection;
#  2. a stale release (old epoch) never deletes the newer owner's mapping;
#  3. a pod paused with SIGSTOP longer than its lease, whose pub/sub connection was cut meanwhile
#     (so it misses the notification), comes back: its re-assertion is a compare-and-set that
#     fails, it tells its core SUPERSEDED and Redis still names the newer owner;
#  4. lookups (live owner) and command de-dup keys (first exactly once across pods).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
CORES=2 start_registry pod-a
CORES=2 start_registry pod-b

# 1. both orders. Core index comes from the identity hash: the driver prints which core got it.
drv pod-a register 1 CP1 11 none
line="$(expect_line 5 pod-a '^registered [0-9] CP1 11 [0-9]+ 0 ')"
e1="$(echo "$line" | cut -d' ' -f5)"
drv pod-b register 0 CP1 12 accepted
line="$(expect_line 5 pod-b '^registered 0 CP1 12 [0-9]+ 0 pod-a ')"
e2="$(echo "$line" | cut -d' ' -f5)"
[ "$e2" -gt "$e1" ] || fail "second claim epoch $e2 not above $e1"
expect_line 5 pod-a "^superseded 1 CP1 11 $e2 pod-b\$" >/dev/null
[ "$(rcli GET 'conn:CP1')" = pod-b ] || fail "conn:CP1 is not pod-b"
ok "A then B: B owns CP1 (epoch $e1 -> $e2), A told SUPERSEDED for conn 11 on core 1"

drv pod-b register 0 CP2 21 none
expect_line 5 pod-b '^registered 0 CP2 21 [0-9]+ 0 - ' >/dev/null
drv pod-a register 0 CP2 22 none
expect_line 5 pod-a '^registered 0 CP2 22 [0-9]+ 0 pod-b ' >/dev/null
expect_line 5 pod-b '^superseded 0 CP2 21 [0-9]+ pod-a$' >/dev/null
[ "$(rcli GET 'conn:CP2')" = pod-a ] || fail "conn:CP2 is not pod-a"
[ "$(rcli SISMEMBER 'pod:{pod-b}:conns' CP2)" = 0 ] || fail "CP2 still in pod-b's set"
ok "B then A: A owns CP2, B told SUPERSEDED for conn 21"

# 2. the loser's late UNREGISTER (old epoch) must not release the winner's mapping
drv pod-a unregister 1 CP1 11 "$e1"
sleep 0.5
[ "$(rcli GET 'conn:CP1')" = pod-b ] || fail "stale release deleted the newer owner"
ok "stale release with epoch $e1 left pod-b's mapping alone"
drv pod-b lookup 1 CP1
expect_line 5 pod-b "^owner 1 CP1 pod-b $e2 1 0\$" >/dev/null
drv pod-b lookup 2 NOPE
expect_line 5 pod-b '^owner 2 NOPE - 0 0 0$' >/dev/null
ok "lookup: CP1 -> pod-b live, unknown identity -> none"

# 3. the partitioned pod
drv pod-a register 0 CP3 31 accepted
line="$(expect_line 5 pod-a '^registered 0 CP3 31 [0-9]+ 0 ')"
e31="$(echo "$line" | cut -d' ' -f5)"
kill -STOP "$(reg_pid pod-a)"
rcli CLIENT KILL TYPE pubsub >/dev/null # pod-a misses what is published meanwhile
drv pod-b register 0 CP3 32 none
line="$(expect_line 5 pod-b '^registered 0 CP3 32 [0-9]+ 0 pod-a ')"
e32="$(echo "$line" | cut -d' ' -f5)"
wait_until 10 "pod-a's lease to expire" key_is 'pod:{pod-a}' EXISTS 0
sleep 0.5
kill -CONT "$(reg_pid pod-a)"
expect_line 10 pod-a "^superseded 0 CP3 31 $e32 pod-b\$" >/dev/null
grep -q '"identity":"CP3".*via reassert' "$TMP/pod-a.log" || fail "pod-a did not learn it by re-assertion"
[ "$(rcli GET 'conn:CP3')" = pod-b ] || fail "paused pod overwrote the newer owner"
[ "$(rcli HGET '{conn:CP3}:meta' epoch)" = "$e32" ] || fail "epoch of CP3 changed"
[ "$(count_lines pod-a '^registered 0 CP3 31 ')" = 1 ] || fail "pod-a re-registered CP3"
ok "paused pod (epoch $e31) came back, re-assertion failed the CAS, told SUPERSEDED; pod-b keeps CP3 (epoch $e32)"
wait_until 5 "pod-a's lease back" key_is 'pod:{pod-a}' EXISTS 1
drv pod-a unregister 0 CP3 31 "$e31"
sleep 0.5
[ "$(rcli GET 'conn:CP3')" = pod-b ] || fail "paused pod's release deleted the newer owner"
ok "its later release did not touch pod-b's mapping"

# 4. de-dup: the first delivery wins once, cluster-wide; a replay on either pod is refused
drv pod-a dedup 1 cmd-1 60000
expect_line 5 pod-a '^dedup_result 1 cmd-1 1 0$' >/dev/null
drv pod-b dedup 2 cmd-1 60000
drv pod-a dedup 3 cmd-1 60000
expect_line 5 pod-b '^dedup_result 2 cmd-1 0 0$' >/dev/null
expect_line 5 pod-a '^dedup_result 3 cmd-1 0 0$' >/dev/null
# racing: the same new command on both pods at once, exactly one is first
drv pod-a dedup 4 cmd-2 60000
drv pod-b dedup 5 cmd-2 60000
expect_line 5 pod-a '^dedup_result 4 cmd-2 ' >/dev/null
expect_line 5 pod-b '^dedup_result 5 cmd-2 ' >/dev/null
firsts="$(cat "$TMP/pod-a.drv" "$TMP/pod-b.drv" | grep -c '^dedup_result [45] cmd-2 1 0$' || true)"
[ "$firsts" = 1 ] || fail "cmd-2 first $firsts times"
ttl="$(rcli PTTL 'dedup:{cmd-1}')"
[ "$ttl" -gt 0 ] && [ "$ttl" -le 60000 ] || fail "dedup key TTL $ttl"
ok "dedup: cmd-1 first once (pod-a), replays refused on both pods, key expires; a race on cmd-2 has one winner"

m="$(curl -sf "$(admin_url pod-a)/metrics")"
echo "$m" | grep -q '^ocppgw_registry_superseded_total{via="pubsub"} 1' || fail "superseded metric: $(echo "$m" | grep superseded)"
echo "$m" | grep -q '^ocppgw_registry_superseded_total{via="reassert"} 1' || fail "superseded metric (reassert)"
echo "$m" | grep -q '^ocppgw_registry_redis_batch_seconds_count [1-9]' || fail "round-trip histogram empty"
ok "metrics count superseded by pub/sub and by re-assertion, and the Redis round trips"

# SIGTERM: the registry stops cleanly and deletes its lease at once (no waiting for the TTL)
pid="$(reg_pid pod-b)"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "registry exited with $rc on SIGTERM"
[ "$(rcli EXISTS 'pod:{pod-b}')" = 0 ] || fail "pod-b's lease still there after SIGTERM"
ok "SIGTERM: pod-b's registry exited 0 and deleted its lease"
