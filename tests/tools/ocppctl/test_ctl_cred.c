/* test_ctl_cred.c: unit tests of `ocppctl credentials`' pure parts (tools/ocppctl/ctl_cred.c):
 * password rules, generated passwords, the PBKDF2 hash against a reference computed with Python's
 * hashlib, the fingerprint, the record's fields in the canonical order, reading a record back,
 * `show` never printing a secret, and the OCPP commands that install a password. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_cred.h"

START_TEST(test_password_rules)
{
    char why[160];
    ck_assert_int_eq(ctl_cred_check_password("fifteen-chars-x", why, sizeof(why)), -EINVAL);
    ck_assert(strstr(why, "16 to 40") != NULL);
    ck_assert(strstr(why, "fifteen") == NULL); /* never the password */
    ck_assert_int_eq(ctl_cred_check_password("sixteen-chars-xx", why, sizeof(why)), 0);
    ck_assert_int_eq(
        ctl_cred_check_password("0123456789012345678901234567890123456789", why, sizeof(why)), 0);
    ck_assert_int_eq(
        ctl_cred_check_password("01234567890123456789012345678901234567890", why, sizeof(why)),
        -EINVAL);
    ck_assert_int_eq(ctl_cred_check_password("sixteen-chars\txx", why, sizeof(why)), -EINVAL);
    ck_assert_int_eq(ctl_cred_check_password("sixteen-chars-\xc3\xa9", why, sizeof(why)), -EINVAL);
}
END_TEST

START_TEST(test_generate)
{
    char a[CTL_GENERATED_LEN + 1], b[CTL_GENERATED_LEN + 1];
    int seen[256] = {0};
    for (int k = 0; k < 2000; k++) {
        ck_assert_int_eq(ctl_cred_generate(a), 0);
        ck_assert_uint_eq(strlen(a), CTL_GENERATED_LEN);
        for (int i = 0; i < CTL_GENERATED_LEN; i++) {
            unsigned char c = (unsigned char)a[i];
            ck_assert((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
            seen[c]++;
        }
    }
    int kinds = 0;
    for (int c = 0; c < 256; c++)
        kinds += seen[c] > 0;
    ck_assert_int_eq(kinds, 62);
    /* 48,000 characters: each of the 62 about 774 times; far outside 500..1100 means bias */
    for (int c = 0; c < 256; c++)
        ck_assert(seen[c] == 0 || (seen[c] > 500 && seen[c] < 1100));
    ctl_cred_generate(b);
    ck_assert_str_ne(a, b);
    char why[160];
    ck_assert_int_eq(ctl_cred_check_password(a, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_hash_and_fingerprint)
{
    uint8_t salt[CTL_SALT_LEN];
    for (int i = 0; i < CTL_SALT_LEN; i++)
        salt[i] = (uint8_t)i;
    ctl_cred_hash_t h;
    ck_assert_int_eq(ctl_cred_hash("correct-horse-battery", 5000, salt, &h), 0);
    /* reference: hashlib.pbkdf2_hmac('sha256', b'correct-horse-battery', bytes(range(16)), 5000) */
    ck_assert_str_eq(h.iter, "5000");
    ck_assert_str_eq(h.salt, "AAECAwQFBgcICQoLDA0ODw==");
    ck_assert_str_eq(h.hash, "a6Rzmk/98NC+4ILkfAyDYayISrs+C29OPPkzHjOcD3c=");
    char fp[CTL_FINGERPRINT_LEN + 1];
    ctl_cred_fingerprint(h.hash, fp);
    ck_assert_str_eq(fp, "0885779d0cfe060b"); /* sha1(hash text)[:16] */
    ctl_cred_fingerprint("abc", fp);
    ck_assert_str_eq(fp, "a9993e364706816a");
    ctl_cred_hash_t r1, r2;
    ck_assert_int_eq(ctl_cred_hash("correct-horse-battery", 1000, NULL, &r1), 0);
    ck_assert_int_eq(ctl_cred_hash("correct-horse-battery", 1000, NULL, &r2), 0);
    ck_assert_str_ne(r1.salt, r2.salt); /* a random salt each time */
    ck_assert_str_ne(r1.hash, r2.hash);
    ck_assert_int_eq(ctl_cred_hash("x", 0, NULL, &r1), -EINVAL);
    ck_assert_int_eq(ctl_cred_hash("x", CTL_ITERATIONS_MAX + 1, NULL, &r1), -EINVAL);
}
END_TEST

START_TEST(test_fields)
{
    ctl_cred_hash_t cur = {"5000", "c2FsdA==", "aGFzaA=="}, prev = {"1000", "cHM=", "cGg="};
    ctl_field_t f[CTL_CRED_FIELDS_MAX];
    size_t n = ctl_cred_fields(2, &cur, NULL, 1733235000000u, f);
    const char *want[] = {"v=1",           "profile=2",     "alg=pbkdf2-sha256",       "iter=5000",
                          "salt=c2FsdA==", "hash=aGFzaA==", "updated_ms=1733235000000"};
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < n; i++) {
        char line[100];
        snprintf(line, sizeof(line), "%s=%s", f[i].name, f[i].value);
        ck_assert_str_eq(line, want[i]);
    }
    n = ctl_cred_fields(1, &cur, &prev, 5, f);
    ck_assert_uint_eq(n, 11);
    ck_assert_str_eq(f[6].name, "prev_alg");
    ck_assert_str_eq(f[7].value, "1000");
    ck_assert_str_eq(f[9].name, "prev_hash");
    ck_assert_str_eq(f[10].name, "updated_ms");
    n = ctl_cred_fields(3, NULL, &prev, 5, f); /* no password: no previous one either */
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(f[2].value, "none");
    ck_assert_str_eq(f[3].name, "updated_ms");
}
END_TEST

START_TEST(test_current_and_show)
{
    const char *names[] = {"v",    "profile", "alg",       "iter",
                           "salt", "hash",    "prev_hash", "updated_ms"};
    const char *values[] = {"1",        "2",        "pbkdf2-sha256", "5000",
                            "c2FsdA==", "aGFzaA==", "cGg=",          "1733235000123"};
    ctl_cred_hash_t h;
    ck_assert_int_eq(ctl_cred_current(names, values, 8, &h), 0);
    ck_assert_str_eq(h.hash, "aGFzaA==");
    ck_assert_int_eq(ctl_cred_current(names, values, 2, &h), -ENOENT);
    const char *none[] = {"1", "3", "none"};
    ck_assert_int_eq(ctl_cred_current(names, none, 3, &h), -ENOENT);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ctl_cred_show("CP-1", names, values, 8, out);
    fclose(out);
    ck_assert(strstr(text, "profile      2\n") != NULL);
    ck_assert(strstr(text, "iterations   5000\n") != NULL);
    char fp[CTL_FINGERPRINT_LEN + 1], line[64];
    ctl_cred_fingerprint("aGFzaA==", fp);
    snprintf(line, sizeof(line), "fingerprint  %s\n", fp);
    ck_assert(strstr(text, line) != NULL);
    ck_assert(strstr(text, "previous     pending") != NULL);
    ck_assert(strstr(text, "updated      2024-12-03T14:10:00.123Z") != NULL);
    ck_assert(strstr(text, "aGFzaA==") == NULL); /* never the hash, salt or previous hash */
    ck_assert(strstr(text, "c2FsdA==") == NULL);
    ck_assert(strstr(text, "cGg=") == NULL);
    free(text);
}
END_TEST

START_TEST(test_install_command)
{
    const char *action;
    char *payload;
    ck_assert_int_eq(ctl_cred_install_command("1.6", "pw\"with-quote-123", &action, &payload), 0);
    ck_assert_str_eq(action, "ChangeConfiguration");
    json_t *j = json_loads(payload, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "key")), "AuthorizationKey");
    ck_assert_str_eq(json_string_value(json_object_get(j, "value")), "pw\"with-quote-123");
    json_decref(j);
    free(payload);
    ck_assert_int_eq(ctl_cred_install_command("ocpp2.0.1", "p4ssw0rd-p4ssw0rd", &action, &payload),
                     0);
    ck_assert_str_eq(action, "SetVariables");
    ck_assert_str_eq(payload, "{\"setVariableData\":[{\"component\":{\"name\":\"SecurityCtrlr\"},"
                              "\"variable\":{\"name\":\"BasicAuthPassword\"},"
                              "\"attributeValue\":\"p4ssw0rd-p4ssw0rd\"}]}");
    free(payload);
    ck_assert_int_eq(ctl_cred_install_command("2.1", "p4ssw0rd-p4ssw0rd", &action, &payload), 0);
    free(payload);
    ck_assert_int_eq(ctl_cred_install_command("1.5", "p4ssw0rd-p4ssw0rd", &action, &payload),
                     -ENOTSUP);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl_cred");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_password_rules);
    tcase_add_test(tc, test_generate);
    tcase_add_test(tc, test_hash_and_fingerprint);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_current_and_show);
    tcase_add_test(tc, test_install_command);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
