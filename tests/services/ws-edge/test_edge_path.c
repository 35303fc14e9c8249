/* Unit tests for services/ws-edge/edge_path and edge_subprotocol: URL -> identity, and the
 * subprotocol choice, without sockets. */
#include "edge_path.h"
#include "edge_subprotocol.h"

#include <check.h>
#include <string.h>

static edge_path_result_t parse(const char *path, bool decode, char *id)
{
    return edge_path_parse(path, strlen(path), "/ocpp/,/ws/", decode, id);
}

START_TEST(test_valid_identities)
{
    char id[IDENTITY_MAX + 1];
    ck_assert_int_eq(parse("/ocpp/CP1", true, id), EDGE_PATH_OK);
    ck_assert_str_eq(id, "CP1");
    ck_assert_int_eq(parse("/ws/a*b-c_d=e+f|g@h.i", true, id), EDGE_PATH_OK);
    ck_assert_str_eq(id, "a*b-c_d=e+f|g@h.i");
    ck_assert_int_eq(parse("/ocpp/CP%2D7?x=1", true, id), EDGE_PATH_OK);
    ck_assert_str_eq(id, "CP-7");
    /* 48 characters is the limit */
    char path[128] = "/ocpp/";
    memset(path + 6, 'A', 48);
    path[54] = '\0';
    ck_assert_int_eq(parse(path, true, id), EDGE_PATH_OK);
    ck_assert_uint_eq(strlen(id), 48);
    path[54] = 'A';
    path[55] = '\0';
    ck_assert_int_eq(parse(path, true, id), EDGE_PATH_BAD_IDENTITY);
}
END_TEST

START_TEST(test_refusals)
{
    char id[IDENTITY_MAX + 1];
    ck_assert_int_eq(parse("/other/CP1", true, id), EDGE_PATH_BAD_PREFIX);
    ck_assert_int_eq(parse("/ocpp", true, id), EDGE_PATH_BAD_PREFIX);
    ck_assert_int_eq(parse("/ocpp/", true, id), EDGE_PATH_BAD_IDENTITY);
    ck_assert_int_eq(parse("/ocpp/CP:1", true, id), EDGE_PATH_BAD_IDENTITY);
    ck_assert_int_eq(parse("/ocpp/CP/1", true, id), EDGE_PATH_BAD_IDENTITY);
    ck_assert_int_eq(parse("/ocpp/CP%3A1", true, id), EDGE_PATH_BAD_IDENTITY); /* ':' */
    ck_assert_int_eq(parse("/ocpp/CP%2", true, id), EDGE_PATH_BAD_ENCODING);
    ck_assert_int_eq(parse("/ocpp/CP%zz", true, id), EDGE_PATH_BAD_ENCODING);
    ck_assert_int_eq(parse("/ocpp/CP%00", true, id), EDGE_PATH_BAD_IDENTITY);
    ck_assert_int_eq(parse("/ocpp/caf\xc3\xa9", true, id), EDGE_PATH_BAD_IDENTITY);
    /* already decoded by the HTTP layer: a literal '%' is refused, never decoded twice */
    ck_assert_int_eq(parse("/ocpp/%41", false, id), EDGE_PATH_BAD_IDENTITY);
    ck_assert_str_eq(edge_path_result_name(EDGE_PATH_BAD_IDENTITY), "bad_identity");
}
END_TEST

START_TEST(test_subprotocol_choice)
{
    const char *both = "ocpp2.0.1,ocpp1.6";
    char why_buf[128];
    const char *o = "ocpp1.6, ocpp2.0.1";
    ck_assert_str_eq(edge_subprotocol_choose(o, strlen(o), both), "ocpp2.0.1");
    o = "ocpp1.6";
    ck_assert_str_eq(edge_subprotocol_choose(o, strlen(o), both), "ocpp1.6");
    o = "ocpp2.1, ocpp1.6";
    ck_assert_str_eq(edge_subprotocol_choose(o, strlen(o), both), "ocpp1.6");
    ck_assert_str_eq(edge_subprotocol_choose(o, strlen(o), "ocpp2.1,ocpp1.6"), "ocpp2.1");
    o = "ocpp1.5,ocpp2.0";
    ck_assert_ptr_null(edge_subprotocol_choose(o, strlen(o), both));
    o = "xocpp1.6";
    ck_assert_ptr_null(edge_subprotocol_choose(o, strlen(o), both));
    ck_assert_ptr_null(edge_subprotocol_choose("", 0, both));
    /* the default list: the newest version offered wins, whatever the order offered */
    const char *all = "ocpp2.1,ocpp2.0.1,ocpp1.6";
    o = "ocpp1.6,ocpp2.0.1,ocpp2.1";
    ck_assert_str_eq(edge_subprotocol_choose(o, strlen(o), all), "ocpp2.1");
    o = "ocpp2.0.1, ocpp1.6";
    ck_assert_str_eq(edge_subprotocol_choose(o, strlen(o), all), "ocpp2.0.1");
    ck_assert_int_eq(edge_subprotocol_validate_list(all, why_buf, sizeof(why_buf)), 0);
}
END_TEST

START_TEST(test_subprotocol_validate)
{
    char why[128];
    ck_assert_int_eq(edge_subprotocol_validate_list("ocpp2.0.1,ocpp1.6", why, sizeof(why)), 0);
    ck_assert_int_lt(edge_subprotocol_validate_list("ocpp1.6,ocpp3", why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "ocpp3"));
    ck_assert_int_lt(edge_subprotocol_validate_list("", why, sizeof(why)), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_path");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid_identities);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_subprotocol_choice);
    tcase_add_test(tc, test_subprotocol_validate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
