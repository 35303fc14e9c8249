#!/usr/bin/env bash
# test_registry_creds.sh: station credentials from ocppctl through Redis and redis-registry to a
# ws-edge (issue 13), with a real redis-server and a real redis-registry; `envelope-tool
# registry` plays the edge (HELLO with its socket) and prints every CRED / CRED_SYNC it gets.
#  1. ocppctl credentials set refuses a short password, writes cred:<id> (PBKDF2-HMAC-SHA256 with
#     a random 16-byte salt, 5,000 iterations by default: checked here with Python's hashlib),
#     and publishes it: the edge gets it at once as name=value lines; show prints profile, alg,
#     iterations, fingerprint and no secret; --no-password writes a profile-3 record;
#  2. a new edge instance gets a full sync (CRED_SYNC start, every record, CRED_SYNC done with
#     the count);
#  3. CRED_USED with the current password's fingerprint drops the previous password of a
#     rotation (compare-and-set in Lua) and the change reaches the edge; a stale fingerprint
#     changes nothing;
#  4. a record written without PUBLISH reaches the edge with the next rescan (cred_rescan_ms);
#  5. delete: the edge gets an empty record; show exits 4; rotate of a station that is not
#     connected changes nothing (exit 4).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
start_registry pod-a OCPPGW_CRED_RESCAN_MS=3s
export OCPPGW_REDIS_URL="$REDIS_URL"
ctl="$BIN/ocppctl"

drv pod-a hello edge-0 100
expect_line 5 pod-a '^cred_sync edge-0 1 0 1$' >/dev/null
ok "an edge's first HELLO: a full sync of the empty store (generation 1, 0 records)"

rc=0; "$ctl" credentials set CP-A --password 'too-short' 2>"$TMP/err" || rc=$?
[ $rc -eq 2 ] && grep -q '16 to 40' "$TMP/err" || fail "short password: rc $rc $(cat "$TMP/err")"
! grep -q 'too-short' "$TMP/err" || fail "the refused password was printed"
PW='correct-horse-battery-staple'
"$ctl" credentials set CP-A --password "$PW" --profile 2 >"$TMP/set.txt"
grep -q '^credentials of CP-A set: profile 2, pbkdf2-sha256, fingerprint [0-9a-f]\{16\}$' "$TMP/set.txt" ||
  fail "set: $(cat "$TMP/set.txt")"
line="$(expect_line 5 pod-a '^cred edge-0 CP-A 1 ')"
python3 - "$line" "$PW" <<'PY'
import base64, hashlib, sys
line, pw = sys.argv[1], sys.argv[2]
record = line.split(" ", 4)[4]
lines = record.split("|")
names = [l.split("=", 1)[0] for l in lines]
assert names == ["v", "profile", "alg", "iter", "salt", "hash", "updated_ms"], names
f = dict(l.split("=", 1) for l in lines)
assert f["v"] == "1" and f["profile"] == "2" and f["alg"] == "pbkdf2-sha256", f
assert f["iter"] == "5000", f
salt = base64.b64decode(f["salt"])
assert len(salt) == 16, len(salt)
want = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, int(f["iter"]), 32)
assert base64.b64decode(f["hash"]) == want, "hash is not PBKDF2-HMAC-SHA256 of the password"
PY
ok "set: cred:CP-A is PBKDF2-HMAC-SHA256 (random 16-byte salt, 5000 iterations), at the edge at once as lines"

hash="$(rcli HGET cred:CP-A hash)"
fp="$(printf '%s' "$hash" | sha1sum | cut -c1-16)"
"$ctl" credentials show CP-A >"$TMP/show.txt"
grep -q '^profile      2$' "$TMP/show.txt" && grep -q '^alg          pbkdf2-sha256$' "$TMP/show.txt" &&
  grep -q '^iterations   5000$' "$TMP/show.txt" && grep -q "^fingerprint  $fp\$" "$TMP/show.txt" &&
  grep -q '^previous     none$' "$TMP/show.txt" && grep -q '^updated      20' "$TMP/show.txt" ||
  fail "show: $(cat "$TMP/show.txt")"
! grep -q -e "$hash" -e "$(rcli HGET cred:CP-A salt)" -e "$PW" "$TMP/show.txt" || fail "show printed a secret"
"$ctl" credentials set CP-B --no-password --profile 3 >/dev/null
expect_line 5 pod-a '^cred edge-0 CP-B 1 v=1\|profile=3\|alg=none\|updated_ms=[0-9]+$' >/dev/null
ok "show: profile, alg, iterations, fingerprint $fp (sha1 of the hash text), no secret; --no-password: alg none"

drv pod-a hello edge-0 200
expect_line 5 pod-a '^cred_sync edge-0 2 2 1$' >/dev/null
[ "$(grep -c '^cred edge-0 CP-[AB] 2 ' "$TMP/pod-a.drv")" = 2 ] || fail "full sync records"
ok "a new instance of the edge: full sync, generation 2, both records, count 2"

# a rotation as ocppctl leaves it (the previous hash kept), then the station uses the new one
rcli HSET cred:CP-A prev_alg pbkdf2-sha256 prev_iter 5000 prev_salt c2FsdHNhbHRzYWx0c2FsdA== \
  prev_hash aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g= >/dev/null
rcli PUBLISH ocppgw:cred CP-A >/dev/null
expect_line 5 pod-a '^cred edge-0 CP-A 2 .*\|prev_hash=' >/dev/null
drv pod-a cred_used CP-A 0123456789abcdef # stale fingerprint: nothing
sleep 0.5
[ "$(rcli HEXISTS cred:CP-A prev_hash)" = 1 ] || fail "a stale fingerprint removed prev_*"
before="$(grep -c '^cred edge-0 CP-A ' "$TMP/pod-a.drv")"
drv pod-a cred_used CP-A "$fp"
wait_until 5 "prev_* removed" sh -c "[ \"\$(redis-cli ${RCLI_CLUSTER[*]} -p $REDIS_PORT HEXISTS cred:CP-A prev_hash)\" = 0 ]"
wait_until 5 "the change at the edge" sh -c "[ \$(grep -c '^cred edge-0 CP-A ' '$TMP/pod-a.drv') -gt $before ]"
last="$(grep '^cred edge-0 CP-A ' "$TMP/pod-a.drv" | tail -1)"
! echo "$last" | grep -q prev_ || fail "prev_* still sent: $last"
[ "$(rcli HGET cred:CP-A hash)" = "$hash" ] || fail "the current hash changed"
ok "CRED_USED: a stale fingerprint changes nothing; the current one drops prev_* (Lua CAS) and the edge gets the change"

rcli HSET cred:CP-C v 1 profile 1 alg pbkdf2-sha256 iter 1000 salt c2FsdHNhbHRzYWx0c2FsdA== \
  hash aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g= >/dev/null # no PUBLISH
expect_line 10 pod-a '^cred edge-0 CP-C [0-9]+ v=1' >/dev/null
expect_line 5 pod-a '^cred_sync edge-0 [0-9]+ 3 1$' >/dev/null
ok "a record written without PUBLISH reached the edge with the periodic rescan"

"$ctl" credentials delete CP-A >/dev/null
expect_line 5 pod-a '^cred edge-0 CP-A [0-9]+ -$' >/dev/null
rc=0; "$ctl" credentials show CP-A 2>"$TMP/err" || rc=$?
[ $rc -eq 4 ] && grep -q 'no credentials for CP-A' "$TMP/err" || fail "show after delete: rc $rc"
rc=0; "$ctl" credentials delete CP-A 2>/dev/null || rc=$?
[ $rc -eq 4 ] || fail "delete of nothing: rc $rc"
"$ctl" credentials set CP-D --password "$PW" >/dev/null
before="$(rcli HGET cred:CP-D hash)"
rc=0; "$ctl" credentials rotate CP-D 2>"$TMP/err" || rc=$?
[ $rc -eq 4 ] && grep -q 'not connected' "$TMP/err" || fail "rotate of a station not connected: rc $rc $(cat "$TMP/err")"
[ "$(rcli HGET cred:CP-D hash)" = "$before" ] && [ "$(rcli HEXISTS cred:CP-D prev_hash)" = 0 ] ||
  fail "rotate changed a record it could not install"
m="$(curl -sf "$(admin_url pod-a)/metrics")"
echo "$m" | grep -q '^ocppgw_registry_cred_used_total{result="removed"} 1$' || fail "cred_used metric"
echo "$m" | grep -qE '^ocppgw_registry_cred_syncs_total [3-9]' || fail "syncs metric"
ok "delete: an empty record at the edge, show exits 4; rotate of a station not connected: exit 4, nothing written"
