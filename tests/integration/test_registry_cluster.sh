#!/usr/bin/env bash
# test_registry_cluster.sh: redis-registry on a Redis Cluster of Debian's redis-server (issue 14:
# OCPPGW_REDIS_URL=redis+cluster://...), 3 masters with one replica each on loopback, two real
# redis-registry processes (`envelope-tool registry` plays cores and bridge). The rest of the
# registry suite runs against a 3-master cluster in test_registry_cluster_suite.sh.
#  1. 300 stations claimed on pod-a: the keys spread over the three masters, every station's
#     companions ({conn:<id>}:epoch, :meta) on the node of conn:<id> (same slot), the pod set
#     and lease on their pod's node; lookups from pod-b live; ocppctl pods (SCAN of every master)
#     lists both pods;
#  2. a slot in migration: a station's keys moved to another master while the slot is
#     MIGRATING/IMPORTING: pod-b's lookup follows the ASK (counted), then the slot is given to the
#     new master and lookups, a re-assertion and a release follow the MOVED (counted, the slot map
#     read again);
#  3. the master pod-a is subscribed on (ocppgw:superseded:pod-a) is killed (SIGKILL): its
#     replica is promoted, both registries read the new map (node errors counted), resubscribe
#     elsewhere, and a claim from pod-b of a station pod-a holds still reaches pod-a as
#     SUPERSEDED over pub/sub; every station keeps its mapping (the replica had it);
#  4. all stations close: no conn:* mapping, no pod-set member left on any master.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis_cluster 3 1
# leases outlive a failover (node timeout 2 s + election): lookups stay live meanwhile
LEASE_TTL=15s start_registry pod-a OCPPGW_SWEEP_GRACE_MS=60s
LEASE_TTL=15s start_registry pod-b OCPPGW_SWEEP_GRACE_MS=60s
grep -q 'connected to redis cluster: 3 masters' "$TMP/pod-a.log" || fail "pod-a not on the cluster"

# node_of KEY: the port of the master serving KEY's slot.
node_of() {
  local slot; slot="$(rcli CLUSTER KEYSLOT "$1")"
  redis-cli -p "$REDIS_PORT" CLUSTER SLOTS | python3 -c '
import sys
slot = int(sys.argv[1]); lines = [l.strip() for l in sys.stdin]
# redis-cli prints the nested array flat: start, end, host, port, id, [replica host, port, id]...
i = 0
while i < len(lines):
    if lines[i].isdigit() and i + 3 < len(lines) and lines[i + 1].isdigit():
        a, b = int(lines[i]), int(lines[i + 1])
        if a <= slot <= b:
            print(lines[i + 3]); break
        i += 2
    else:
        i += 1' "$slot"
}
node_id() { redis-cli -p "$1" CLUSTER MYID; }
masters() { for p in "${CLUSTER_PORTS[@]}"; do redis-cli -p "$p" ROLE 2>/dev/null | head -1 | grep -qx master && echo "$p"; done; true; }
metric() { curl -sf "$(admin_url "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

# ---- 1. keys where they belong ------------------------------------------------------------
for i in $(seq 0 299); do drv pod-a register 0 "C$i" "$((1000 + i))" accepted 0 1; done
registered_all() { [ "$(grep -cE '^registered 0 C[0-9]+ ' "$TMP/pod-a.drv")" -ge 300 ]; }
wait_until 20 "300 registrations" registered_all
[ "$(rcli SCARD 'pod:{pod-a}:conns')" = 300 ] || fail "pod-a's set holds $(rcli SCARD 'pod:{pod-a}:conns')"
declare -A per_node=()
for i in $(seq 0 7 299); do
  n="$(node_of "conn:C$i")"
  [ "$n" = "$(node_of "{conn:C$i}:epoch")" ] && [ "$n" = "$(node_of "{conn:C$i}:meta")" ] ||
    fail "C$i's keys on different nodes"
  [ "$(redis-cli -p "$n" GET "conn:C$i")" = pod-a ] || fail "conn:C$i not on its slot's master :$n"
  per_node[$n]=1
done
[ "${#per_node[@]}" = 3 ] || fail "the stations' keys are on ${#per_node[@]} masters, expected 3"
[ "$(node_of 'pod:{pod-a}')" = "$(node_of 'pod:{pod-a}:conns')" ] || fail "pod-a's keys split"
drv pod-b lookup 1 C7
expect_line 5 pod-b '^owner 1 C7 pod-a [0-9]+ 1 0$' >/dev/null
OCPPGW_REDIS_URL="$REDIS_URL" "$BIN/ocppctl" pods >"$TMP/pods.txt"
grep -q '^pod-a ' "$TMP/pods.txt" && grep -q '^pod-b ' "$TMP/pods.txt" || fail "ocppctl pods: $(cat "$TMP/pods.txt")"
ok "300 stations over 3 masters, each station's keys in one slot, pod keys together; lookup live; ocppctl pods sees both pods"

# ---- 2. ASK during a migration, then MOVED ------------------------------------------------
slot="$(rcli CLUSTER KEYSLOT conn:C42)"
src="$(node_of conn:C42)"
dst=""
for p in $(masters); do [ "$p" != "$src" ] && { dst="$p"; break; }; done
redis-cli -p "$dst" CLUSTER SETSLOT "$slot" IMPORTING "$(node_id "$src")" >/dev/null
redis-cli -p "$src" CLUSTER SETSLOT "$slot" MIGRATING "$(node_id "$dst")" >/dev/null
mapfile -t keys < <(redis-cli -p "$src" CLUSTER GETKEYSINSLOT "$slot" 100)
[ "${#keys[@]}" -ge 3 ] || fail "slot $slot holds ${#keys[@]} keys"
redis-cli -p "$src" MIGRATE 127.0.0.1 "$dst" "" 0 5000 KEYS "${keys[@]}" >/dev/null
drv pod-b lookup 2 C42
expect_line 5 pod-b '^owner 2 C42 pod-a [0-9]+ 1 0$' >/dev/null
asks="$(metric pod-b 'ocppgw_registry_cluster_redirects_total{kind="ask"}')"
[ "${asks:-0}" -ge 1 ] || fail "no ASK counted by pod-b"
for p in $(masters); do redis-cli -p "$p" CLUSTER SETSLOT "$slot" NODE "$(node_id "$dst")" >/dev/null; done
drv pod-b lookup 3 C42
expect_line 5 pod-b '^owner 3 C42 pod-a [0-9]+ 1 0$' >/dev/null
moved="$(metric pod-b 'ocppgw_registry_cluster_redirects_total{kind="moved"}')"
[ "${moved:-0}" -ge 1 ] || fail "no MOVED counted by pod-b"
line="$(grep -E '^registered 0 C42 ' "$TMP/pod-a.drv" | tail -1)"
read -r _ _ _ _ e42 _ <<<"$line"
drv pod-a unregister 0 C42 1042 "$e42"
wait_until 5 "C42 released on the new master" key_is conn:C42 EXISTS 0
[ "$(redis-cli -p "$dst" EXISTS conn:C42)" = 0 ] && [ "$(redis-cli -p "$dst" TTL '{conn:C42}:epoch')" -gt 0 ] ||
  fail "C42's release did not reach the new master"
[ "$(rcli SISMEMBER 'pod:{pod-a}:conns' C42)" = 0 ] || fail "C42 still in pod-a's set"
refreshes="$(metric pod-a 'ocppgw_registry_cluster_map_refreshes_total{result="ok"}')"
[ "${refreshes:-0}" -ge 2 ] || fail "pod-a read the slot map $refreshes times"
ok "slot $slot migrated :$src -> :$dst under load: ASK followed ($asks), then MOVED ($moved) with the map read again; release on the new master"

# ---- 3. a master dies, its replica takes over, pub/sub moves ------------------------------
sub="$(grep -o 'ocppgw:cred on 127.0.0.1:[0-9]*' "$TMP/pod-a.log" | tail -1 | sed 's/.*://')"
[ -n "$sub" ] || fail "pod-a's subscriber node unknown"
victim_pid=""
for i in "${!CLUSTER_PORTS[@]}"; do [ "${CLUSTER_PORTS[$i]}" = "$sub" ] && victim_pid="${CLUSTER_PIDS[$i]}"; done
# a station whose slot the victim serves, and one pod-a holds (for the SUPERSEDED below)
victim_id=""
for i in $(seq 0 299); do
  [ "$i" = 42 ] && continue
  if [ "$(node_of "conn:C$i")" = "$sub" ]; then victim_id="C$i"; break; fi
done
[ -n "$victim_id" ] || fail "no station on :$sub"
# let the replica catch up (asynchronous replication): everything the master had when we looked
# acknowledged by it (it acks every second), not a fixed sleep that a loaded machine outlasts
repl_offset() { redis-cli -p "$sub" INFO replication | tr -d '\r' | sed -n "$1"; }
m_off="$(repl_offset 's/^master_repl_offset://p')"
replica_has() { [ "$(repl_offset 's/^slave0:.*,offset=\([0-9]*\),.*/\1/p')" -ge "$m_off" ] 2>/dev/null; }
wait_until 15 "the replica of :$sub to acknowledge offset $m_off" replica_has
kill -KILL "$victim_pid"; wait "$victim_pid" 2>/dev/null || true
for p in "${CLUSTER_PORTS[@]}"; do [ "$p" != "$sub" ] && { REDIS_PORT="$p"; break; }; done # rcli
# promoted: the victim's slots served by another node (its replica), and the cluster ok
promoted() { local n; n="$(node_of "conn:$victim_id")"; [ -n "$n" ] && [ "$n" != "$sub" ] && cluster_ok "$n"; }
wait_until 30 "a replica promoted" promoted
redis_up() { [ "$(metric "$1" ocppgw_registry_redis_up)" = 1 ]; }
wait_until 20 "pod-a back on the cluster" redis_up pod-a
wait_until 20 "pod-b back on the cluster" redis_up pod-b
drv pod-b lookup 4 "$victim_id"
line="$(expect_line 20 pod-b "^owner 4 ")"
[[ "$line" =~ ^owner\ 4\ $victim_id\ pod-a\ [0-9]+\ 1\ 0$ ]] || fail "lookup after the failover: $line"
wait_until 20 "pod-a resubscribed" sh -c "[ \$(grep -c 'subscribed to ocppgw:superseded:pod-a' '$TMP/pod-a.log') -ge 2 ]"
drv pod-b register 0 "$victim_id" 7 accepted 0 1
expect_line 10 pod-b "^registered 0 $victim_id 7 [0-9]+ 0 pod-a" >/dev/null
expect_line 10 pod-a "^superseded 0 $victim_id [0-9]+ [0-9]+ pod-b\$" >/dev/null
errs="$(curl -sf "$(admin_url pod-a)/metrics" | grep -c "^ocppgw_registry_cluster_node_errors_total{node=\"127.0.0.1:$sub\"}" || true)"
[ "$errs" -ge 1 ] || fail "no node error counted for :$sub"
lost=0
for i in $(seq 0 299); do
  case "$i" in 42) continue ;; esac
  [ "C$i" = "$victim_id" ] && continue
  [ "$(rcli GET "conn:C$i")" = pod-a ] || lost=$((lost + 1))
done
[ "$lost" = 0 ] || fail "$lost mappings lost in the failover"
ok "master :$sub (pod-a's subscriber) killed: replica promoted, both registries followed, pub/sub SUPERSEDED still reached pod-a, no mapping lost"

# ---- 4. everything closes: nothing left but what expires ---------------------------------
grep -E '^registered 0 C[0-9]+ ' "$TMP/pod-a.drv" | awk '{print $3, $4, $5}' | sort -u -k1,1 >"$TMP/held"
while read -r id conn epoch; do
  [ "$id" = C42 ] || [ "$id" = "$victim_id" ] && continue
  drv pod-a unregister 0 "$id" "$conn" "$epoch"
done <"$TMP/held"
line="$(grep -E "^registered 0 $victim_id 7 " "$TMP/pod-b.drv" | tail -1)"
read -r _ _ _ _ ev _ <<<"$line"
drv pod-b unregister 0 "$victim_id" 7 "$ev"
wait_until 20 "pod-a's set empty" key_is 'pod:{pod-a}:conns' SCARD 0
wait_until 10 "pod-b's set empty" key_is 'pod:{pod-b}:conns' SCARD 0
rcli_scan >"$TMP/keys"
grep -E '^conn:' "$TMP/keys" >"$TMP/left" || true
[ ! -s "$TMP/left" ] || fail "mappings left: $(head -5 "$TMP/left" | tr '\n' ' ')"
grep -v -E '^\{conn:C[0-9]+\}:(epoch|meta)$|^pod:\{pod-[ab]\}$|^ocppgw:(pods|sweeper)$' "$TMP/keys" >"$TMP/left" || true
[ ! -s "$TMP/left" ] || fail "unexpected keys left: $(head -5 "$TMP/left" | tr '\n' ' ')"
ttl="$(rcli PTTL '{conn:C7}:epoch')"
[ "$ttl" -gt 0 ] || fail "a released station's epoch counter has no TTL ($ttl)"
ok "every station closed: no mapping or pod-set member left on any master, only TTL'd epoch counters and boot states"
