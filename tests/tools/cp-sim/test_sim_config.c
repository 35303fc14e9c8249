/* test_sim_config.c: unit tests of cp-sim's settings (tools/cp-sim/sim_config.c): URL and
 * source-address parsing, the reject list, --key=value arguments, and that every scenario file
 * shipped under scripts/ and bench/scenarios/ loads; the 2.1 keys and their bounds. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_config.h"

static char why[256];

START_TEST(test_url)
{
    sim_url_t u;
    ck_assert_int_eq(sim_parse_url("ws://127.0.0.1:8080/ocpp/", &u, why, sizeof(why)), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 8080);
    ck_assert_str_eq(u.path, "/ocpp");
    ck_assert_int_eq(sim_parse_url("ws://10.0.0.1", &u, why, sizeof(why)), 0);
    ck_assert_int_eq(u.port, 80);
    ck_assert_str_eq(u.path, "");
    ck_assert_int_eq(sim_parse_url("wss://127.0.0.1/x", &u, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "ws://"));
    ck_assert_int_eq(sim_parse_url("ws://localhost:80/x", &u, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "IPv4"));
    ck_assert_int_eq(sim_parse_url("ws://127.0.0.1:0/x", &u, why, sizeof(why)), -EINVAL);
    ck_assert_int_eq(sim_parse_url("ws://127.0.0.1:80x", &u, why, sizeof(why)), -EINVAL);
}
END_TEST

START_TEST(test_sources)
{
    struct in_addr a[64];
    ck_assert_int_eq(sim_parse_sources("", a, 64, why, sizeof(why)), 0);
    ck_assert_int_eq(sim_parse_sources("127.0.0.2-127.0.0.11", a, 64, why, sizeof(why)), 10);
    ck_assert_str_eq(inet_ntoa(a[9]), "127.0.0.11");
    ck_assert_int_eq(sim_parse_sources("127.0.0.5,127.0.1.254-127.0.2.1", a, 64, why, sizeof(why)),
                     5);
    ck_assert_str_eq(inet_ntoa(a[3]), "127.0.2.0");
    ck_assert_int_eq(sim_parse_sources("127.0.0.9-127.0.0.2", a, 64, why, sizeof(why)), -EINVAL);
    ck_assert_int_eq(sim_parse_sources("127.0.0.x", a, 64, why, sizeof(why)), -EINVAL);
    ck_assert_int_eq(sim_parse_sources("127.0.0.1-127.0.1.1", a, 64, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "more than 64"));
}
END_TEST

START_TEST(test_list)
{
    ck_assert(sim_list_has("Reset, UnlockConnector", "UnlockConnector", 15));
    ck_assert(sim_list_has("Reset,UnlockConnector", "Reset", 5));
    ck_assert(!sim_list_has("Reset,UnlockConnector", "Rese", 4));
    ck_assert(!sim_list_has("", "Reset", 5));
}
END_TEST

START_TEST(test_args_to_env)
{
    char a0[] = "cp-sim", a1[] = "--count=7", a2[] = "--mode", a3[] = "load", a4[] = "--config",
         a5[] = "x.yaml", a6[] = "--nope=1";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, NULL};
    unsetenv("OCPPGW_COUNT");
    unsetenv("OCPPGW_MODE");
    int argc = sim_args_to_env(7, argv);
    ck_assert_int_eq(argc, 4);
    ck_assert_str_eq(argv[1], "--config");
    ck_assert_str_eq(argv[3], "--nope=1");
    ck_assert_ptr_null(argv[4]);
    ck_assert_str_eq(getenv("OCPPGW_COUNT"), "7");
    ck_assert_str_eq(getenv("OCPPGW_MODE"), "load");
    sim_config_t cfg = {0};
    char err[256];
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.count, 7);
    ck_assert_str_eq(cfg.mode, "load");
    ck_assert_str_eq(cfg.log_format, "basic"); /* the log loss checks have always read */
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
    setenv("OCPPGW_LOG_FORMAT", "detailed", 1);
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.log_format, "detailed");
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
    setenv("OCPPGW_LOG_FORMAT", "verbose", 1);
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "log_format"));
    unsetenv("OCPPGW_LOG_FORMAT");
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
    setenv("OCPPGW_COUNT", "250001", 1);
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "count"));
    unsetenv("OCPPGW_COUNT");
    unsetenv("OCPPGW_MODE");
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
}
END_TEST

START_TEST(test_scenarios_load)
{
    glob_t g;
    int found = 0;
    ck_assert_int_eq(glob("scripts/*.yaml", 0, NULL, &g), 0);
    glob("bench/scenarios/*.yaml", GLOB_APPEND, NULL, &g);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        sim_config_t cfg = {0};
        char err[256];
        int rc = config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", g.gl_pathv[i], err,
                             sizeof(err));
        ck_assert_msg(rc == 0, "%s: %s", g.gl_pathv[i], err);
        ck_assert_int_ge(cfg.count, 1);
        config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
        found++;
    }
    globfree(&g);
    ck_assert_int_ge(found, 3);
}
END_TEST

/* the 2.1 settings: defaults, bounds, and a version mix over 100 % refused by sim_new */
START_TEST(test_v21_settings)
{
    sim_config_t cfg = {0};
    char err[256];
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.v21_percent, 0); /* 2.1 only when asked for */
    ck_assert_int_eq(cfg.signed_meter_bytes, 16384);
    ck_assert_int_eq(cfg.stream_interval_ms, 0);
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
    setenv("OCPPGW_SIGNED_METER_BYTES", "40000", 1); /* two must fit in a 64 KiB frame */
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "signed_meter_bytes"));
    unsetenv("OCPPGW_SIGNED_METER_BYTES");
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
    setenv("OCPPGW_V201_PERCENT", "60", 1);
    setenv("OCPPGW_V21_PERCENT", "50", 1);
    setenv("OCPPGW_STREAM_INTERVAL_MS", "2s", 1);
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(cfg.stream_interval_ms, 2000);
    sim_t *sim = sim_new(&cfg, err, sizeof(err));
    ck_assert_ptr_null(sim);
    ck_assert_ptr_nonnull(strstr(err, "v201_percent (60) + v21_percent (50)"));
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
    setenv("OCPPGW_V21_PERCENT", "40", 1);
    ck_assert_int_eq(
        config_load(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", NULL, err, sizeof(err)), 0);
    sim = sim_new(&cfg, err, sizeof(err));
    ck_assert_msg(sim != NULL, "%s", err);
    sim_destroy(&sim);
    unsetenv("OCPPGW_V201_PERCENT");
    unsetenv("OCPPGW_V21_PERCENT");
    unsetenv("OCPPGW_STREAM_INTERVAL_MS");
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cp-sim config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_url);
    tcase_add_test(tc, test_sources);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_args_to_env);
    tcase_add_test(tc, test_scenarios_load);
    tcase_add_test(tc, test_v21_settings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
