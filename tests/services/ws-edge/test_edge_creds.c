/* Unit tests for services/ws-edge/edge_creds: the record parser (every field's rule, unknown
 * fields, order, duplicates, the final newline), the fingerprint the registry recomputes in Lua,
 * PBKDF2 checks, and the cache's sync rules (a full sync replaces the set, an end without its
 * start is ignored, deletions, malformed records, remembered checks kept across an identical
 * resync and dropped when the hash changes). */
#include "edge_creds.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cred_records.h"

static int parse(const char *text, edge_cred_record_t *r, const char **why)
{
    return edge_cred_parse((const uint8_t *)text, strlen(text), r, why);
}

#define GOOD_SALT "c2FsdHNhbHRzYWx0c2FsdA==" /* "saltsaltsaltsalt" */
#define GOOD_HASH "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void refused(const char *text, const char *field)
{
    edge_cred_record_t r;
    const char *why = NULL;
    ck_assert_msg(parse(text, &r, &why) == -EINVAL, "accepted: %s", text);
    ck_assert_str_eq(why, field);
}

START_TEST(test_parse_fields)
{
    edge_cred_record_t r;
    const char *why;
    const char *rec = "v=1\nprofile=2\nalg=pbkdf2-sha256\niter=1000\nsalt=" GOOD_SALT
                      "\nhash=" GOOD_HASH "\nupdated_ms=1700000000000\nfuture_field=x y z\n";
    ck_assert_int_eq(parse(rec, &r, &why), 0);
    ck_assert_uint_eq(r.profile, 2);
    ck_assert(r.has_password);
    ck_assert(!r.has_prev);
    ck_assert_uint_eq(r.cur.iter, 1000);
    ck_assert_uint_eq(r.cur.salt_len, 16);
    ck_assert_int_eq(memcmp(r.cur.salt, "saltsaltsaltsalt", 16), 0);
    ck_assert_uint_eq(r.cur.hash[31], 31);
    ck_assert_uint_eq(r.updated_ms, 1700000000000ull);
    /* SHA-1 of the hash field's text, first 16 hex digits (python: hashlib.sha1(...)) */
    ck_assert_str_eq(r.fingerprint, "86a1932a93c72239");
    /* any order */
    ck_assert_int_eq(parse("hash=" GOOD_HASH "\nsalt=" GOOD_SALT
                           "\niter=7\nalg=pbkdf2-sha256\nprofile=1\nv=1",
                           &r, &why),
                     0);
    /* a profile-3 station without a password */
    ck_assert_int_eq(parse("v=1\nprofile=3\nalg=none", &r, &why), 0);
    ck_assert(!r.has_password);
    ck_assert_str_eq(r.fingerprint, "");
}
END_TEST

START_TEST(test_parse_refusals)
{
    const char *tail = "\nalg=pbkdf2-sha256\niter=1000\nsalt=" GOOD_SALT "\nhash=" GOOD_HASH;
    char rec[512];
    refused("", "length");
    refused("v=1\nprofile=1\n\n", "line"); /* an empty line */
    refused("v=1\nprofile=1\nnonsense", "line");
    refused("v=1\nPROFILE=1", "name");
    refused("v=1\nprofile=1\nalg=pbkdf2-sha256\tx", "value");
    snprintf(rec, sizeof(rec), "v=2\nprofile=1%s", tail);
    refused(rec, "v");
    snprintf(rec, sizeof(rec), "profile=1%s", tail);
    refused(rec, "v");
    snprintf(rec, sizeof(rec), "v=1\nprofile=4%s", tail);
    refused(rec, "profile");
    snprintf(rec, sizeof(rec), "v=1\nprofile=0%s", tail);
    refused(rec, "profile");
    snprintf(rec, sizeof(rec), "v=1\nprofile=01%s", tail); /* no leading zeros */
    refused(rec, "profile");
    snprintf(rec, sizeof(rec), "v=1\nv=1\nprofile=1%s", tail);
    refused(rec, "duplicate");
    refused("v=1\nprofile=1\nalg=none", "alg"); /* no password below profile 3 */
    refused("v=1\nprofile=2\nalg=scrypt", "alg");
    refused("v=1\nprofile=2", "alg");
    refused("v=1\nprofile=2\nalg=pbkdf2-sha256\niter=0\nsalt=" GOOD_SALT "\nhash=" GOOD_HASH,
            "iter");
    refused("v=1\nprofile=2\nalg=pbkdf2-sha256\niter=1000001\nsalt=" GOOD_SALT "\nhash=" GOOD_HASH,
            "iter");
    refused("v=1\nprofile=2\nalg=pbkdf2-sha256\niter=-5\nsalt=" GOOD_SALT "\nhash=" GOOD_HASH,
            "iter");
    refused("v=1\nprofile=2\nalg=pbkdf2-sha256\niter=5\nsalt=c2FsdA==\nhash=" GOOD_HASH, "salt");
    refused("v=1\nprofile=2\nalg=pbkdf2-sha256\niter=5\nsalt=" GOOD_SALT "\nhash=" GOOD_SALT,
            "hash");
    refused("v=1\nprofile=2\nalg=pbkdf2-sha256\niter=5\nsalt=" GOOD_SALT, "hash");
    snprintf(rec, sizeof(rec), "v=1\nprofile=1\nupdated_ms=x%s", tail);
    refused(rec, "updated_ms");
    /* a previous password needs all four fields, with a current one */
    snprintf(rec, sizeof(rec), "v=1\nprofile=1%s\nprev_alg=pbkdf2-sha256\nprev_iter=5", tail);
    refused(rec, "prev_salt");
    snprintf(rec, sizeof(rec), "v=1\nprofile=1%s\nprev_iter=5", tail);
    refused(rec, "prev_alg");
    refused("v=1\nprofile=3\nalg=none\nprev_alg=pbkdf2-sha256\nprev_iter=1\nprev_salt=" GOOD_SALT
            "\nprev_hash=" GOOD_HASH,
            "prev_alg");
    char big[EDGE_CRED_RECORD_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    refused(big, "length");
}
END_TEST

START_TEST(test_hash_matches)
{
    char rec[1024];
    test_record(rec, sizeof(rec), 2, "the-password-1234", 50, "the-old-password");
    edge_cred_record_t r;
    const char *why;
    ck_assert_int_eq(parse(rec, &r, &why), 0);
    ck_assert(r.has_prev);
    ck_assert(edge_cred_hash_matches(&r.cur, "the-password-1234", 17));
    ck_assert(!edge_cred_hash_matches(&r.cur, "the-password-1235", 17));
    ck_assert(!edge_cred_hash_matches(&r.cur, "the-password-123", 16));
    ck_assert(edge_cred_hash_matches(&r.prev, "the-old-password", 16));
    ck_assert(!edge_cred_hash_matches(&r.prev, "the-password-1234", 17));
}
END_TEST

/* ---- the cache ------------------------------------------------------------------------------ */

static void sync_msg(edge_creds_t *c, uint64_t gen, uint64_t count, bool done)
{
    envelope_t env = {.type = ENV_CRED_SYNC};
    env.u.cred_sync = (env_cred_sync_t){.generation = gen, .count = count, .done = done};
    ck_assert_int_eq(edge_creds_from_registry(c, &env), 0);
}

static void cred_msg(edge_creds_t *c, const char *identity, const char *record, uint64_t gen)
{
    envelope_t env = {.type = ENV_CRED};
    env.u.cred.identity = env_str(identity);
    env.u.cred.record = (env_bin_t){(const uint8_t *)record, strlen(record)};
    env.u.cred.generation = gen;
    ck_assert_int_eq(edge_creds_from_registry(c, &env), 0);
}

START_TEST(test_sync_replaces_the_set)
{
    edge_creds_t *c = edge_creds_new();
    ck_assert_ptr_nonnull(c);
    char a[1024], b[1024];
    test_record(a, sizeof(a), 1, "password-of-A-123", 2, NULL);
    test_record(b, sizeof(b), 2, "password-of-B-123", 2, NULL);
    ck_assert(!edge_creds_synced(c));
    /* the end of a sync whose start was not seen is ignored (the edge started meanwhile) */
    cred_msg(c, "A", a, 7);
    sync_msg(c, 7, 1, true);
    ck_assert(!edge_creds_synced(c));
    ck_assert_ptr_nonnull(edge_creds_get(c, "A")); /* but the record itself is data */
    sync_msg(c, 8, 0, false);
    cred_msg(c, "A", a, 8);
    cred_msg(c, "B", b, 8);
    ck_assert(!edge_creds_synced(c));
    sync_msg(c, 8, 2, true);
    ck_assert(edge_creds_synced(c));
    ck_assert_uint_eq(edge_creds_count(c), 2);
    ck_assert_uint_eq(edge_creds_get(c, "B")->profile, 2);
    ck_assert_ptr_null(edge_creds_get(c, "C"));
    /* a restarted registry starts again at generation 1: A is not repeated, so it is gone */
    sync_msg(c, 1, 0, false);
    cred_msg(c, "B", b, 1);
    sync_msg(c, 1, 1, true);
    ck_assert_ptr_null(edge_creds_get(c, "A"));
    ck_assert_ptr_nonnull(edge_creds_get(c, "B"));
    /* changes between syncs: new, deleted, malformed (the station becomes unknown) */
    cred_msg(c, "A", a, 1);
    ck_assert_ptr_nonnull(edge_creds_get(c, "A"));
    cred_msg(c, "A", "", 1);
    ck_assert_ptr_null(edge_creds_get(c, "A"));
    cred_msg(c, "B", "v=1\nprofile=7", 1);
    ck_assert_ptr_null(edge_creds_get(c, "B"));
    cred_msg(c, "bad identity", a, 1); /* refused, nothing stored */
    ck_assert_uint_eq(edge_creds_count(c), 0);
    ck_assert(edge_creds_synced(c)); /* stays synced */
    envelope_t other = {.type = ENV_SEND};
    ck_assert_int_eq(edge_creds_from_registry(c, &other), -EINVAL);
    edge_creds_destroy(&c);
    edge_creds_destroy(&c);
}
END_TEST

START_TEST(test_remembered_checks)
{
    edge_creds_t *c = edge_creds_new();
    char a[1024], a2[1024];
    test_record(a, sizeof(a), 1, "password-of-A-123", 2, "previous-of-A-12");
    sync_msg(c, 1, 0, false);
    cred_msg(c, "A", a, 1);
    sync_msg(c, 1, 1, true);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "password-of-A-123", 17), EDGE_PW_NO_MATCH);
    edge_creds_remember(c, "A", "password-of-A-123", 17, EDGE_PW_CURRENT);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "password-of-A-123", 17), EDGE_PW_CURRENT);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "password-of-A-124", 17), EDGE_PW_NO_MATCH);
    ck_assert_int_eq(edge_creds_remembered(c, "B", "password-of-A-123", 17), EDGE_PW_NO_MATCH);
    /* an identical record (a full resync) keeps it */
    sync_msg(c, 2, 0, false);
    cred_msg(c, "A", a, 2);
    sync_msg(c, 2, 1, true);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "password-of-A-123", 17), EDGE_PW_CURRENT);
    /* the registry dropped prev (CRED_USED): the current password is unchanged, still kept */
    test_record(a2, sizeof(a2), 1, "password-of-A-123", 2, NULL);
    memcpy(a2, a, strstr(a, "\nprev_alg") - a); /* the same salt and hash as before */
    a2[strstr(a, "\nprev_alg") - a] = '\0';
    cred_msg(c, "A", a2, 2);
    ck_assert(!edge_creds_get(c, "A")->has_prev);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "password-of-A-123", 17), EDGE_PW_CURRENT);
    /* a new password (a new hash): forgotten */
    test_record(a2, sizeof(a2), 1, "password-of-A-123", 2, NULL); /* a new salt */
    cred_msg(c, "A", a2, 2);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "password-of-A-123", 17), EDGE_PW_NO_MATCH);
    /* a remembered previous password goes when prev goes */
    cred_msg(c, "A", a, 2);
    edge_creds_remember(c, "A", "previous-of-A-12", 16, EDGE_PW_PREVIOUS);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "previous-of-A-12", 16), EDGE_PW_PREVIOUS);
    memcpy(a2, a, strstr(a, "\nprev_alg") - a);
    a2[strstr(a, "\nprev_alg") - a] = '\0';
    cred_msg(c, "A", a2, 2);
    ck_assert_int_eq(edge_creds_remembered(c, "A", "previous-of-A-12", 16), EDGE_PW_NO_MATCH);
    edge_creds_destroy(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_creds");
    TCase *tc = tcase_create("creds");
    tcase_add_test(tc, test_parse_fields);
    tcase_add_test(tc, test_parse_refusals);
    tcase_add_test(tc, test_hash_matches);
    tcase_add_test(tc, test_sync_replaces_the_set);
    tcase_add_test(tc, test_remembered_checks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
