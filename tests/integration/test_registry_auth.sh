#!/usr/bin/env bash
# test_registry_auth.sh: issue 13 on the registry side, with real redis-servers and real
# redis-registry processes (`envelope-tool registry` plays the cores and the bridge).
#  1. newest wins only among authenticated connections (the claim script, in Lua): an
#     unauthenticated REGISTER for a station whose authenticated mapping is live on another pod
#     is answered SUPERSEDED and changes nothing in Redis; an authenticated one takes it over; an
#     unauthenticated one takes over an unauthenticated mapping, and an authenticated mapping
#     whose pod has no lease any more;
#  2. id-token lookups (TAG_LOOKUP): the backend's idtag:<token> hash answered as TAG_INFO, an
#     unknown token as not found;
#  3. Redis AUTH with an ACL user (the ACL of docs/security.md, nothing more): one registry with
#     redis://user:password@..., one with the password in redis_password_file; registrations,
#     lookups, de-dup checks, id tokens, the sweeper and a credential sync all work and Redis'
#     ACL LOG records no denial; a wrong password keeps the pod ready with
#     ocppgw_registry_redis_up 0, and no password appears in any log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
itest_cleanup_on_exit

start_redis
start_registry pod-a OCPPGW_SWEEP_GRACE_MS=60s
start_registry pod-b OCPPGW_SWEEP_GRACE_MS=60s
start_registry pod-c OCPPGW_SWEEP_GRACE_MS=60s

drv pod-a register 0 CP1 1 accepted 0 1
e1="$(expect_line 5 pod-a '^registered 0 CP1 1 [0-9]+ 0 ' | cut -d' ' -f5)"
[ "$(rcli HGET '{conn:CP1}:meta' auth)" = 1 ] || fail "auth not stored with the mapping"
drv pod-b register 0 CP1 2 none 0 0
expect_line 5 pod-b "^superseded 0 CP1 2 $e1 pod-a$" >/dev/null
[ "$(rcli GET 'conn:CP1')" = pod-a ] || fail "the unauthenticated claim overwrote the mapping"
[ "$(rcli GET '{conn:CP1}:epoch')" = "$e1" ] || fail "the refused claim took an epoch"
! grep -q '^superseded 0 CP1 1 ' "$TMP/pod-a.drv" || fail "the authenticated connection was superseded"
ok "an unauthenticated claim over a live authenticated mapping is refused: SUPERSEDED to its core, Redis unchanged"

drv pod-b register 0 CP1 3 none 0 1
e2="$(expect_line 5 pod-b '^registered 0 CP1 3 [0-9]+ 0 pod-a' | cut -d' ' -f5)"
expect_line 5 pod-a "^superseded 0 CP1 1 $e2 pod-b$" >/dev/null
ok "an authenticated claim takes it over (epoch $e1 -> $e2), the older pod is told"

drv pod-a register 0 CP2 4 none 0 0
expect_line 5 pod-a '^registered 0 CP2 4 [0-9]+ 0 ' >/dev/null
drv pod-b register 0 CP2 5 none 0 0
expect_line 5 pod-b '^registered 0 CP2 5 [0-9]+ 0 pod-a' >/dev/null
ok "an unauthenticated claim takes over an unauthenticated mapping (newest wins)"

drv pod-c register 0 CP3 6 none 0 1
expect_line 5 pod-c '^registered 0 CP3 6 [0-9]+ 0 ' >/dev/null
kill_registry pod-c
wait_until 10 "pod-c's lease to expire" key_is 'pod:{pod-c}' EXISTS 0
[ "$(rcli GET 'conn:CP3')" = pod-c ] || fail "CP3 swept already"
drv pod-b register 0 CP3 7 none 0 0
expect_line 5 pod-b '^registered 0 CP3 7 [0-9]+ 0 pod-c' >/dev/null
ok "an unauthenticated claim takes over an authenticated mapping whose pod has no lease"

rcli HSET idtag:TAG-1 status Accepted expires_at_ms 1893456000000 >/dev/null
rcli HSET idtag:TAG-2 status Blocked >/dev/null
drv pod-a tag 1 0 TAG-1
drv pod-a tag 2 0 TAG-2
drv pod-a tag 3 0 NO-SUCH-TAG
expect_line 5 pod-a '^tag_info 0 1 TAG-1 1 Accepted 1893456000000 0$' >/dev/null
expect_line 5 pod-a '^tag_info 0 2 TAG-2 1 Blocked 0 0$' >/dev/null
expect_line 5 pod-a '^tag_info 0 3 NO-SUCH-TAG 0 - 0 0$' >/dev/null
ok "TAG_LOOKUP answered from idtag:<token> (found, status, expiry; unknown: not found)"

# ---- a Redis with ACL users: the registry's user gets exactly what docs/security.md lists --
kill_registry pod-a
kill_registry pod-b
stop_redis
REDIS_PORT="$(free_port)"
start_redis
REG_PW='reg-Pw-0123456789-abcdef'
ADMIN_PW='admin-Pw-9876543210'
acl_line="$(sed -n 's/^ *ACL SETUSER ocppgw-registry on >PASSWORD \(.*\)$/\1/p' "$ROOT/docs/security.md")"
[ -n "$acl_line" ] || fail "no ACL SETUSER line for ocppgw-registry in docs/security.md"
# shellcheck disable=SC2086
rcli_all ACL SETUSER ocppgw-registry on ">$REG_PW" $acl_line >/dev/null
rcli_all ACL SETUSER admin on ">$ADMIN_PW" '~*' '&*' +@all >/dev/null
rcli_all ACL SETUSER default off >/dev/null
RCLI_AUTH=(--user admin --pass "$ADMIN_PW" --no-auth-warning)
rcli_all ACL LOG RESET >/dev/null
echo "$REG_PW" >"$TMP/redis-password"
chmod 600 "$TMP/redis-password"
start_registry pod-x OCPPGW_REDIS_URL="$(redis_url_with "ocppgw-registry:$REG_PW")" \
  OCPPGW_SWEEP_GRACE_MS=1s
start_registry pod-y OCPPGW_REDIS_URL="$(redis_url_with "ocppgw-registry:")" \
  OCPPGW_REDIS_PASSWORD_FILE="$TMP/redis-password" OCPPGW_SWEEP_GRACE_MS=1s
ok "two registries authenticated as ACL user ocppgw-registry (URL; password file)"

drv pod-x register 0 A1 1 accepted 0 1
expect_line 5 pod-x '^registered 0 A1 1 [0-9]+ 0 ' >/dev/null
drv pod-y register 0 A2 2 accepted 0 1
expect_line 5 pod-y '^registered 0 A2 2 [0-9]+ 0 ' >/dev/null
drv pod-y lookup 1 A1
expect_line 5 pod-y '^owner 1 A1 pod-x [0-9]+ 1 0$' >/dev/null
drv pod-x dedup 2 cmd-acl 60000
expect_line 5 pod-x '^dedup_result 2 cmd-acl 1 0$' >/dev/null
rcli HSET idtag:T1 status Accepted >/dev/null
drv pod-x tag 3 0 T1
expect_line 5 pod-x '^tag_info 0 3 T1 1 Accepted 0 0$' >/dev/null
rcli HSET cred:A1 v 1 profile 1 alg pbkdf2-sha256 iter 1000 salt c2FsdHNhbHRzYWx0c2FsdA== \
  hash aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g= >/dev/null
drv pod-x hello edge-0 5
expect_line 5 pod-x '^cred_sync edge-0 [0-9]+ 1 1$' >/dev/null
grep -q '^cred edge-0 A1 [0-9]* v=1|profile=1|alg=pbkdf2-sha256|iter=1000|' "$TMP/pod-x.drv" || fail "credential record"
drv pod-x txid_block 4 0 10
expect_line 5 pod-x '^txid_range 0 4 1 10 0$' >/dev/null
drv pod-x txid_claim 5 0 A1-1-2026-01-01T00:00:00Z-T1 3 60000
expect_line 5 pod-x '^txid_claimed 0 5 3 1 0$' >/dev/null
drv pod-x register 0 A3 3 accepted 0 1
line="$(expect_line 5 pod-x '^registered 0 A3 3 [0-9]+ 0 ')"
read -r _ _ _ _ a3_epoch _ <<<"$line"
drv pod-x unregister 0 A3 3 "$a3_epoch"
wait_until 5 "A3 released" key_is 'conn:A3' EXISTS 0
kill_registry pod-y # swept by pod-x: the sweeper and the takeover scripts under the ACL too
wait_until 15 "A2 swept" key_is 'conn:A2' EXISTS 0
expect_line 10 pod-x '^takeover pod-y [0-9]+ 1$' >/dev/null
denied="$(rcli_all ACL LOG | head -20)"
[ -z "$denied" ] || fail "ACL denials: $denied"
ok "claims, releases, lookups, de-dup, id tokens, transaction ids, a credential sync, the sweep and the takeover work under the ACL (ACL LOG empty)"

NO_LEASE_WAIT=1 start_registry pod-z \
  OCPPGW_REDIS_URL="$(redis_url_with "ocppgw-registry:wrong-password")"
wait_until 10 "pod-z's admin port" grep -q 'listening on 127.0.0.1:' "$TMP/pod-z.log"
wait_until 10 "pod-z ready" curl -sf "$(admin_url pod-z)/readyz" -o /dev/null
# (ready does not wait for Redis: the refused AUTH comes after its first connection, which a
# loaded machine may delay past a fixed sleep)
wait_until 15 "pod-z to log 'AUTH refused'" grep -q 'AUTH refused' "$TMP/pod-z.log"
curl -sf "$(admin_url pod-z)/metrics" >"$TMP/z.metrics" # (grep -q in a pipe: SIGPIPE under pipefail)
grep -q '^ocppgw_registry_redis_up 0$' "$TMP/z.metrics" || fail "redis_up not 0 with a wrong password"
curl -sf "$(admin_url pod-z)/readyz" >/dev/null || fail "a wrong Redis password made the pod unready"
grep -q 'AUTH refused' "$TMP/pod-z.log" || fail "no AUTH refused in pod-z's log"
for f in "$TMP"/pod-*.log; do
  ! grep -q -e "$REG_PW" -e 'wrong-password' "$f" || fail "a password in $f"
done
ok "a wrong password: ready, ocppgw_registry_redis_up 0, 'AUTH refused' logged; no password in any log"
