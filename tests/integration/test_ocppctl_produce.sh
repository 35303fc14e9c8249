#!/usr/bin/env bash
# test_ocppctl_produce.sh: `ocppctl produce`, the long-running producer of the HA harness's
# command generator (tests/ha/gen.py), against kafka-dev.
#
# Every stdin line is produced as soon as it is read and its delivery reported on stdout
# ("ok <line> <partition> <offset>"), in a partition given by number or by key ("-": the
# default murmur2 partition, the same one kcat's murmur2_random partitioner picks); a bad line
# gets "error <line> <why>" without stopping the others; while the broker is down the records
# wait and are delivered once it is back (ocppctl does not exit, as kcat does when every broker
# is down); at EOF it waits for the last reports and exits 3 because one line failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

OCPPGW_BOOTSTRAP_FILE="$TMP/bootstrap" OCPPGW_CONTROL_PATH="$TMP/control" \
  "$BIN/kafka-dev" </dev/null >"$TMP/kd.out" 2>"$TMP/kd.log" &
wait_until 20 "kafka-dev" test -s "$TMP/bootstrap"
B="$(cat "$TMP/bootstrap")"
control() { # command: applied once kafka-dev logs it
  local n; n="$(grep -c "control fifo" "$TMP/kd.log" || true)"
  echo "$1" >"$TMP/control"
  applied() { [ "$(grep -c "control fifo" "$TMP/kd.log" || true)" -gt "$n" ]; }
  wait_until 10 "kafka-dev applying '$1'" applied
}

mkfifo "$TMP/in"
"$BIN/ocppctl" --kafka "$B" produce commands-down --timeout 60s <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
prod=$!
exec 3>"$TMP/in"
printf '2\tpod-a\t{"n":1}\n-\tocppgw-7\t{"n":2}\n' >&3
oks() { [ "$(grep -c '^ok ' "$TMP/out" || true)" -ge "$1" ]; }
wait_until 10 "two deliveries reported" oks 2
grep -qx 'ok 1 2 0' "$TMP/out" || fail "line 1: $(cat "$TMP/out")"
printf 'k\n' | kcat -b "$B" -P -t commands-down -k ocppgw-7 -X topic.partitioner=murmur2_random
want="$(kcat -b "$B" -C -t commands-down -o beginning -e -q -f '%k %p\n' | awk '$1=="ocppgw-7"{print $2; exit}')"
grep -qE "^ok 2 $want [0-9]+$" "$TMP/out" || fail "line 2 not in murmur2 partition $want: $(cat "$TMP/out")"
ok "records produced at once and reported; '-' is the key's murmur2 partition ($want)"

control "broker-down all"
printf '1\tpod-b\t{"n":3}\nnot a record\n3\tpod-c\tvalue\twith\ttabs\n' >&3
sleep 3
kill -0 "$prod" || fail "ocppctl produce exited while the broker was down"
# (a wait, not a look: on a loaded machine ocppctl may not have reached line 4 within the 3 s)
wait_until 15 "line 4 refused" grep -q '^error 4 expected <partition>TAB<key>TAB<value>$' "$TMP/out"
! grep -qE '^ok (3|5) ' "$TMP/out" || fail "delivered while the broker was down?"
control "broker-up all"
wait_until 30 "deliveries after broker-up" oks 4
exec 3>&-
rc=0; wait "$prod" || rc=$?
[ $rc -eq 3 ] || fail "exit status $rc, expected 3 (one bad line)"
kcat -b "$B" -C -t commands-down -p 3 -o beginning -e -q -f '%k %s\n' | grep -qx 'pod-c value	with	tabs' ||
  fail "the value with tabs is not on partition 3"
ok "a bad line is refused alone; records written while the broker was down are delivered after broker-up; exit 3"
