#!/usr/bin/env bash
# test_ocppctl_rotate.sh: `ocppctl credentials rotate` through the whole pipeline (issue 13): a
# real pod (scripts/run.sh), kafka-dev, and cp-sim stations of both OCPP versions.
#  - rotate generates a 24-character password, keeps the current hash as prev_*, writes the new
#    one (checked against the printed password with Python's hashlib), and installs it on the
#    station through commands-down: ChangeConfiguration AuthorizationKey for the 1.6 station,
#    SetVariables SecurityCtrlr.BasicAuthPassword for the 2.0.1 one; ocppctl waits for the final
#    result and exits 0 with it accepted;
#  - the password is printed once (--show-password) and appears in no stage's log; without
#    --show-password it is printed nowhere.
# (That the new password works on the next connection while the old one keeps working until then
# is ws-edge's part, tested with its credential cache: tests/integration/test_edge_tls.sh.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
itest_cleanup_on_exit

start_pod itest-rot
export OCPPGW_REDIS_URL="$REDIS_URL" OCPPGW_KAFKA_BROKERS="$KAFKA"
ctl="$BIN/ocppctl"
for v in 0 100; do
  "$BIN/cp-sim" --url "ws://127.0.0.1:$WS_PORT/ocpp" --count 1 --identity_prefix "ROT$v-" \
    --v201_percent "$v" --duration_ms 120s --heartbeat_interval_ms 5s --session_every_ms 0 \
    --progress off >"$TMP/sim$v.txt" 2>&1 &
done
wait_until 20 "both stations registered" sh -c \
  "[ \"\$(redis-cli -u '$REDIS_URL' EXISTS 'conn:ROT0-000001' 'conn:ROT100-000001')\" = 2 ]"
OLD='the-old-password-0123'

for id in ROT0-000001 ROT100-000001; do
  "$ctl" credentials set "$id" --password "$OLD" --profile 1 >/dev/null
  rc=0
  "$ctl" credentials rotate "$id" --show-password --timeout 45s >"$TMP/$id.out" 2>"$TMP/$id.err" || rc=$?
  [ $rc -eq 0 ] || fail "rotate $id: rc $rc $(cat "$TMP/$id.out" "$TMP/$id.err")"
  new="$(sed -n 's/^password //p' "$TMP/$id.out")"
  [ "${#new}" = 24 ] || fail "$id: no 24-character password printed: $(cat "$TMP/$id.out")"
  grep -q '"status":"accepted"' "$TMP/$id.out" || fail "$id: result not accepted: $(cat "$TMP/$id.out")"
  redis-cli -u "$REDIS_URL" HGETALL "cred:$id" >"$TMP/$id.rec"
  python3 - "$TMP/$id.rec" "$new" "$OLD" <<'PY'
import base64, hashlib, sys
vals = open(sys.argv[1]).read().split("\n")
f = dict(zip(vals[0::2], vals[1::2]))
def ok(prefix, pw):
    salt = base64.b64decode(f[prefix + "salt"])
    return base64.b64decode(f[prefix + "hash"]) == hashlib.pbkdf2_hmac(
        "sha256", pw.encode(), salt, int(f[prefix + "iter"]), 32)
assert f["alg"] == "pbkdf2-sha256" and f["prev_alg"] == "pbkdf2-sha256", f
assert ok("", sys.argv[2]), "the current hash is not the new password's"
assert ok("prev_", sys.argv[3]), "the previous hash is not the old password's"
PY
done
grep -q '"action":"ChangeConfiguration"' "$TMP/ROT0-000001.out" ||
  grep -q 'installing it with ChangeConfiguration' "$TMP/ROT0-000001.err" || fail "1.6 action"
grep -q 'installing it with SetVariables' "$TMP/ROT100-000001.err" || fail "2.0.1 action"
ok "rotate: new 24-character password hashed, the old kept as prev_*, installed (ChangeConfiguration on 1.6, SetVariables on 2.0.1), results accepted"

for id in ROT0-000001 ROT100-000001; do
  new="$(sed -n 's/^password //p' "$TMP/$id.out")"
  if grep -rqF -- "$new" "$TMP"/itest-rot/log/ 2>/dev/null; then fail "$id's password in a stage log"; fi
  ! grep -qF -- "$new" "$TMP/$id.err" || fail "$id's password on stderr"
done
"$ctl" credentials rotate ROT0-000001 --timeout 45s >"$TMP/quiet.out" 2>"$TMP/quiet.err" ||
  fail "second rotate: $(cat "$TMP/quiet.err")"
! grep -q '^password ' "$TMP/quiet.out" || fail "password printed without --show-password"
ok "the password is printed once (--show-password), in no stage log, never without the option"
