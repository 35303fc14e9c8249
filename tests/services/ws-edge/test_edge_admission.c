/* Unit tests for services/ws-edge/edge_admission: every refusal reason with its HTTP status, the
 * order of the checks, and what an accepted upgrade yields. */
#include "edge_admission.h"

#include <check.h>
#include <string.h>

/* a request that is accepted; each test breaks one fact */
static edge_upgrade_t good(void)
{
    return (edge_upgrade_t){
        .upgrade = true,
        .upgrade_to = "websocket",
        .open_connections = 5,
        .max_connections = 10,
        .draining = false,
        .peer = "10.0.0.1",
        .peer_key = 0x0a000001,
        .peer_connections = 99,
        .max_peer_connections = 100,
        .path = "/ocpp/CP-1",
        .path_len = strlen("/ocpp/CP-1"),
        .offered = "ocpp1.6, ocpp2.0.1",
        .offered_len = strlen("ocpp1.6, ocpp2.0.1"),
        .path_prefixes = "/ocpp/,/ws/",
        .enabled = "ocpp2.0.1,ocpp1.6",
    };
}

static void expect(const edge_upgrade_t *req, unsigned int status, const char *reason)
{
    edge_admission_t out;
    ck_assert_uint_eq(edge_admission_decide(req, NULL, 0, &out), status);
    ck_assert_uint_eq(out.status, status);
    ck_assert_str_eq(out.reason, reason);
    ck_assert_ptr_nonnull(out.detail);
}

START_TEST(test_accept)
{
    edge_upgrade_t req = good();
    edge_admission_t out;
    ck_assert_uint_eq(edge_admission_decide(&req, NULL, 0, &out), 0);
    ck_assert_str_eq(out.identity, "CP-1");
    ck_assert_str_eq(out.subprotocol, "ocpp2.0.1"); /* the newest enabled one offered */
    req.upgrade_to = "WebSocket";                   /* the header is case-insensitive */
    ck_assert_uint_eq(edge_admission_decide(&req, NULL, 0, &out), 0);
}
END_TEST

START_TEST(test_every_refusal)
{
    edge_upgrade_t req = good();
    req.upgrade = false;
    expect(&req, 404, "not_websocket");
    req = good();
    req.upgrade_to = "h2c";
    expect(&req, 400, "bad_upgrade");
    req.upgrade_to = NULL;
    expect(&req, 400, "bad_upgrade");
    req = good();
    req.open_connections = 10;
    expect(&req, 503, "max_connections");
    req = good();
    req.draining = true;
    expect(&req, 503, "draining");
    req = good();
    req.peer_connections = 100; /* the address holds its cap of connections */
    expect(&req, 429, "ip_connections");
    req.max_peer_connections = 0; /* 0: no cap */
    ck_assert_uint_eq(edge_admission_decide(&req, NULL, 0, &(edge_admission_t){0}), 0);
    req = good();
    req.path = NULL;
    req.path_len = 0;
    expect(&req, 404, "bad_path");
    req = good();
    req.path = "/other/CP-1";
    req.path_len = strlen(req.path);
    expect(&req, 404, "bad_path");
    req = good();
    req.path = "/ocpp/CP:1";
    req.path_len = strlen(req.path);
    expect(&req, 400, "bad_identity");
    req.path = "/ocpp/";
    req.path_len = strlen(req.path);
    expect(&req, 400, "bad_identity");
    req = good();
    req.offered = NULL;
    req.offered_len = 0;
    expect(&req, 400, "no_subprotocol");
    req = good();
    req.offered = "ocpp1.5";
    req.offered_len = strlen(req.offered);
    expect(&req, 400, "unsupported_subprotocol");
    req.offered = "ocpp2.1"; /* known but not enabled */
    req.offered_len = strlen(req.offered);
    expect(&req, 400, "unsupported_subprotocol");
}
END_TEST

START_TEST(test_ip_rate_and_order)
{
    edge_iprate_t *r = edge_iprate_new(64, 1, 2);
    edge_upgrade_t req = good();
    edge_admission_t out;
    ck_assert_uint_eq(edge_admission_decide(&req, r, 0, &out), 0);
    ck_assert_uint_eq(edge_admission_decide(&req, r, 0, &out), 0);
    ck_assert_uint_eq(edge_admission_decide(&req, r, 0, &out), 429);
    ck_assert_str_eq(out.reason, "ip_rate");
    /* another address has its own bucket; a second later the first has a token again */
    req.peer_key = 0x0a000002;
    ck_assert_uint_eq(edge_admission_decide(&req, r, 0, &out), 0);
    req.peer_key = 0x0a000001;
    /* refused before the rate check: costs the address no token */
    req.draining = true;
    ck_assert_uint_eq(edge_admission_decide(&req, r, 1000, &out), 503);
    req.draining = false;
    req.open_connections = 10;
    ck_assert_uint_eq(edge_admission_decide(&req, r, 1000, &out), 503);
    req.open_connections = 0;
    req.peer_connections = 100; /* over the per-address cap: refused before the rate too */
    ck_assert_uint_eq(edge_admission_decide(&req, r, 1000, &out), 429);
    ck_assert_str_eq(out.reason, "ip_connections");
    req.peer_connections = 0;
    ck_assert_uint_eq(edge_admission_decide(&req, r, 1000, &out), 0);
    ck_assert_uint_eq(edge_admission_decide(&req, r, 1000, &out), 429);
    /* a bad path from a flooding address is refused for the rate first */
    req.path = "/nope";
    req.path_len = 5;
    ck_assert_uint_eq(edge_admission_decide(&req, r, 1000, &out), 429);
    edge_iprate_destroy(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_admission");
    TCase *tc = tcase_create("decide");
    tcase_add_test(tc, test_accept);
    tcase_add_test(tc, test_every_refusal);
    tcase_add_test(tc, test_ip_rate_and_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
