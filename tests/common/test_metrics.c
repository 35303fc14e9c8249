/* test_metrics.c: unit tests of common/metrics.c, the registry and its Prometheus exposition. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

/* The lines of one family: from its # HELP line to the next family's, or NULL. Caller frees. */
static char *family_block(const char *text, const char *name)
{
    char head[256];
    snprintf(head, sizeof(head), "# HELP ocppgw_%s ", name);
    const char *start = NULL;
    for (const char *p = strstr(text, head); p; p = strstr(p + 1, head)) {
        if (p == text || p[-1] == '\n') {
            start = p;
            break;
        }
    }
    if (!start) {
        return NULL;
    }
    const char *end = strstr(start + 1, "\n# HELP ");
    return end ? strndup(start, (size_t)(end + 1 - start)) : strdup(start);
}

static size_t count_occurrences(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static char *render_block(const char *name)
{
    char *text = metrics_render();
    ck_assert_ptr_nonnull(text);
    char *block = family_block(text, name);
    free(text);
    ck_assert_msg(block != NULL, "family %s not rendered", name);
    return block;
}

static void teardown(void)
{
    metrics_shutdown();
}

START_TEST(test_counter_value_and_text)
{
    metrics_counter_t *c = metrics_counter("test_requests_total", "Requests served.", NULL);
    ck_assert_uint_eq(metrics_counter_get(c), 0);
    metrics_counter_add(c, 3);
    metrics_counter_add(c, 2);
    ck_assert_uint_eq(metrics_counter_get(c), 5);
    char *block = render_block("test_requests_total");
    ck_assert_str_eq(block, "# HELP ocppgw_test_requests_total Requests served.\n"
                            "# TYPE ocppgw_test_requests_total counter\n"
                            "ocppgw_test_requests_total 5\n");
    free(block);
}
END_TEST

START_TEST(test_counter_labels_one_family_sorted)
{
    metrics_counter_add(metrics_counter("test_closes_total", "Closes.", "code=\"1008\""), 4);
    metrics_counter_add(metrics_counter("test_closes_total", "Closes.", "code=\"1001\""), 1);
    metrics_counter_add(
        metrics_counter("test_closes_total", "Closes.", "code=\"1008\",reason=\"slow\""), 2);
    char *block = render_block("test_closes_total");
    ck_assert_str_eq(block, "# HELP ocppgw_test_closes_total Closes.\n"
                            "# TYPE ocppgw_test_closes_total counter\n"
                            "ocppgw_test_closes_total{code=\"1001\"} 1\n"
                            "ocppgw_test_closes_total{code=\"1008\"} 4\n"
                            "ocppgw_test_closes_total{code=\"1008\",reason=\"slow\"} 2\n");
    free(block);
}
END_TEST

START_TEST(test_get_or_create_identity)
{
    metrics_counter_t *a = metrics_counter("test_ident_total", "First help.", NULL);
    ck_assert_ptr_eq(metrics_counter("test_ident_total", "First help.", ""), a);
    metrics_counter_t *b = metrics_counter("test_ident_total", "First help.", "k=\"v\"");
    ck_assert_ptr_ne(a, b);
    ck_assert_ptr_eq(metrics_counter("test_ident_total", "First help.", "k=\"v\""), b);
    metrics_gauge_t *g = metrics_gauge("test_ident_gauge", "G.", NULL);
    ck_assert_ptr_eq(metrics_gauge("test_ident_gauge", "G.", NULL), g);
    metrics_histogram_t *h = metrics_histogram("test_ident_hist", "H.", NULL, NULL, 0);
    ck_assert_ptr_eq(metrics_histogram("test_ident_hist", "H.", NULL, NULL, 0), h);

    metrics_counter_add(a, 1);
    metrics_counter_add(metrics_counter("test_ident_total", "First help.", NULL), 1);
    ck_assert_uint_eq(metrics_counter_get(a), 2);
    char *text = metrics_render();
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "# HELP ocppgw_test_ident_total First help.\n"));
    ck_assert_uint_eq(count_occurrences(text, "# HELP ocppgw_test_ident_total "), 1);
    ck_assert_uint_eq(count_occurrences(text, "# TYPE ocppgw_test_ident_total "), 1);
    free(text);
}
END_TEST

START_TEST(test_gauge)
{
    metrics_gauge_t *g = metrics_gauge("test_connections", "Open connections.", "pod=\"a\"");
    metrics_gauge_set(g, 10);
    metrics_gauge_add(g, -3);
    ck_assert_int_eq(metrics_gauge_get(g), 7);
    metrics_gauge_t *n = metrics_gauge("test_connections", "Open connections.", "pod=\"b\"");
    metrics_gauge_set(n, -5);
    char *block = render_block("test_connections");
    ck_assert_str_eq(block, "# HELP ocppgw_test_connections Open connections.\n"
                            "# TYPE ocppgw_test_connections gauge\n"
                            "ocppgw_test_connections{pod=\"a\"} 7\n"
                            "ocppgw_test_connections{pod=\"b\"} -5\n");
    free(block);
}
END_TEST

START_TEST(test_null_metric_ignored)
{
    metrics_counter_add(NULL, 1);
    metrics_gauge_set(NULL, 1);
    metrics_gauge_add(NULL, 1);
    metrics_histogram_observe(NULL, 1.0);
    ck_assert_uint_eq(metrics_counter_get(NULL), 0);
    ck_assert_int_eq(metrics_gauge_get(NULL), 0);
}
END_TEST

START_TEST(test_histogram_text)
{
    static const double bounds[] = {0.25, 0.5, 1};
    metrics_histogram_t *h =
        metrics_histogram("test_latency_seconds", "Latency.", "route=\"x\"", bounds, 3);
    /* exactly representable, so the sum is exact; 0.25 sits on a bound and counts in it */
    metrics_histogram_observe(h, 0.125);
    metrics_histogram_observe(h, 0.25);
    metrics_histogram_observe(h, 0.375);
    metrics_histogram_observe(h, 2);
    metrics_histogram_observe(h, 0.75);
    metrics_histogram_t *bare =
        metrics_histogram("test_latency_seconds", "Latency.", NULL, bounds, 3);
    (void)bare;
    char *block = render_block("test_latency_seconds");
    ck_assert_str_eq(block, "# HELP ocppgw_test_latency_seconds Latency.\n"
                            "# TYPE ocppgw_test_latency_seconds histogram\n"
                            "ocppgw_test_latency_seconds_bucket{le=\"0.25\"} 0\n"
                            "ocppgw_test_latency_seconds_bucket{le=\"0.5\"} 0\n"
                            "ocppgw_test_latency_seconds_bucket{le=\"1\"} 0\n"
                            "ocppgw_test_latency_seconds_bucket{le=\"+Inf\"} 0\n"
                            "ocppgw_test_latency_seconds_sum 0\n"
                            "ocppgw_test_latency_seconds_count 0\n"
                            "ocppgw_test_latency_seconds_bucket{route=\"x\",le=\"0.25\"} 2\n"
                            "ocppgw_test_latency_seconds_bucket{route=\"x\",le=\"0.5\"} 3\n"
                            "ocppgw_test_latency_seconds_bucket{route=\"x\",le=\"1\"} 4\n"
                            "ocppgw_test_latency_seconds_bucket{route=\"x\",le=\"+Inf\"} 5\n"
                            "ocppgw_test_latency_seconds_sum{route=\"x\"} 3.5\n"
                            "ocppgw_test_latency_seconds_count{route=\"x\"} 5\n");
    free(block);
}
END_TEST

START_TEST(test_histogram_latency_buckets)
{
    ck_assert_uint_eq(METRICS_LATENCY_SECONDS_N, 14);
    ck_assert(METRICS_LATENCY_SECONDS[0] == 0.0005);
    ck_assert(METRICS_LATENCY_SECONDS[METRICS_LATENCY_SECONDS_N - 1] == 10);
    for (size_t i = 1; i < METRICS_LATENCY_SECONDS_N; i++) {
        ck_assert(METRICS_LATENCY_SECONDS[i - 1] < METRICS_LATENCY_SECONDS[i]);
    }
    metrics_histogram_t *h = metrics_histogram("test_rtt_seconds", "RTT.", NULL,
                                               METRICS_LATENCY_SECONDS, METRICS_LATENCY_SECONDS_N);
    metrics_histogram_observe(h, 0.0001);
    metrics_histogram_observe(h, 0.003);
    metrics_histogram_observe(h, 60);
    char *block = render_block("test_rtt_seconds");
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_bucket{le=\"0.0005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_bucket{le=\"0.0025\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_bucket{le=\"0.005\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_bucket{le=\"2.5\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_bucket{le=\"10\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_bucket{le=\"+Inf\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_sum 60.0031\n"));
    ck_assert_ptr_nonnull(strstr(block, "ocppgw_test_rtt_seconds_count 3\n"));
    /* 14 bounds + Inf, sum, count, HELP, TYPE */
    ck_assert_uint_eq(count_occurrences(block, "\n"), 14 + 1 + 2 + 2);
    free(block);
}
END_TEST

START_TEST(test_label_escape)
{
    char out[64];
    const char *in = "a\\b\"c\nd";
    size_t n = metrics_label_escape(in, out, sizeof(out));
    ck_assert_str_eq(out, "a\\\\b\\\"c\\nd");
    ck_assert_uint_eq(n, strlen("a\\\\b\\\"c\\nd"));
    ck_assert_uint_eq(metrics_label_escape(in, NULL, 0), n);
    /* truncation never cuts an escape: "a\\" needs 3 bytes, with 4 only "a" and the pair fit */
    char small[4];
    ck_assert_uint_eq(metrics_label_escape(in, small, sizeof(small)), n);
    ck_assert_str_eq(small, "a\\\\");
    char tiny[3];
    metrics_label_escape(in, tiny, sizeof(tiny));
    ck_assert_str_eq(tiny, "a");
    ck_assert_uint_eq(metrics_label_escape(NULL, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(metrics_label_escape("plain", out, sizeof(out)), 5);
    ck_assert_str_eq(out, "plain");
}
END_TEST

START_TEST(test_count_convenience_and_help_escape)
{
    metrics_count("test_errors_total", "Errors by code.\nSecond \\ line.", "code",
                  "FormatViolation");
    metrics_count("test_errors_total", NULL, "code", "FormatViolation");
    metrics_count("test_errors_total", NULL, "code", "say \"hi\"\n");
    metrics_count("test_plain_total", "Plain.", NULL, NULL);
    char *block = render_block("test_errors_total");
    ck_assert_str_eq(block, "# HELP ocppgw_test_errors_total Errors by code.\\nSecond \\\\ line.\n"
                            "# TYPE ocppgw_test_errors_total counter\n"
                            "ocppgw_test_errors_total{code=\"FormatViolation\"} 2\n"
                            "ocppgw_test_errors_total{code=\"say \\\"hi\\\"\\n\"} 1\n");
    free(block);
    block = render_block("test_plain_total");
    ck_assert_ptr_nonnull(strstr(block, "\nocppgw_test_plain_total 1\n"));
    free(block);
}
END_TEST

START_TEST(test_families_sorted_and_process_metrics)
{
    metrics_counter_add(metrics_counter("zz_last_total", "Z.", NULL), 1);
    metrics_gauge_set(metrics_gauge("aa_first", "A.", NULL), 1);
    metrics_histogram("mm_middle_seconds", "M.", NULL, METRICS_LATENCY_SECONDS, 2);
    char *text = metrics_render();
    ck_assert_ptr_nonnull(text);
    const char *a = strstr(text, "# HELP ocppgw_aa_first ");
    const char *m = strstr(text, "# HELP ocppgw_mm_middle_seconds ");
    const char *z = strstr(text, "# HELP ocppgw_zz_last_total ");
    ck_assert(a && m && z);
    ck_assert(a == text);
    ck_assert(a < m && m < z);
    /* the standard process metrics, without the prefix (Prometheus conventions) */
    ck_assert_ptr_nonnull(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE process_resident_memory_bytes gauge\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE process_virtual_memory_bytes gauge\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE process_open_fds gauge\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE process_max_fds gauge\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE process_start_time_seconds gauge\n"));
    ck_assert_ptr_null(strstr(text, "ocppgw_process_"));

    /* values are real: some memory, at least stdin/stdout/stderr, started after 2020 */
    const char *rss = strstr(text, "\nprocess_resident_memory_bytes ");
    const char *fds = strstr(text, "\nprocess_open_fds ");
    const char *start = strstr(text, "\nprocess_start_time_seconds ");
    ck_assert(rss && fds && start);
    ck_assert(strtod(rss + strlen("\nprocess_resident_memory_bytes "), NULL) > 1e5);
    ck_assert(strtod(fds + strlen("\nprocess_open_fds "), NULL) >= 3);
    ck_assert(strtod(start + strlen("\nprocess_start_time_seconds "), NULL) > 1.5e9);

    /* every line is a comment or "name[{labels}] value" */
    size_t lines = 0;
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        ck_assert_ptr_nonnull(strchr(line, '\n'));
        ck_assert(strncmp(line, "# HELP ocppgw_", 14) == 0 ||
                  strncmp(line, "# TYPE ocppgw_", 14) == 0 || strncmp(line, "ocppgw_", 7) == 0 ||
                  strncmp(line, "# HELP process_", 15) == 0 ||
                  strncmp(line, "# TYPE process_", 15) == 0 || strncmp(line, "process_", 8) == 0);
        lines++;
    }
    ck_assert_uint_eq(count_occurrences(text, "# HELP "), 9);
    ck_assert_uint_eq(count_occurrences(text, "# TYPE "), 9);
    ck_assert_uint_eq(lines, 9 * 2 + 1 + 1 + (2 + 1 + 2) + 6);
    free(text);

    /* rendering twice does not register the process metrics twice */
    text = metrics_render();
    ck_assert_uint_eq(count_occurrences(text, "# HELP process_open_fds "), 1);
    free(text);
}
END_TEST

START_TEST(test_empty_help)
{
    metrics_counter_add(metrics_counter("test_nohelp_total", NULL, NULL), 1);
    char *text = metrics_render();
    ck_assert_ptr_nonnull(strstr(text, "# HELP ocppgw_test_nohelp_total\n"
                                       "# TYPE ocppgw_test_nohelp_total counter\n"
                                       "ocppgw_test_nohelp_total 1\n"));
    free(text);
}
END_TEST

START_TEST(test_shutdown_then_reuse)
{
    metrics_counter_t *c = metrics_counter("test_reuse_total", "R.", NULL);
    metrics_counter_add(c, 9);
    char *text = metrics_render();
    free(text);
    metrics_shutdown();
    metrics_shutdown();
    text = metrics_render();
    ck_assert_ptr_null(strstr(text, "test_reuse_total"));
    ck_assert_ptr_nonnull(strstr(text, "# HELP process_open_fds "));
    free(text);
    c = metrics_counter("test_reuse_total", "R.", NULL);
    ck_assert_uint_eq(metrics_counter_get(c), 0);
}
END_TEST

START_TEST(test_type_mismatch_aborts)
{
    log_set_fd(-1);
    metrics_counter("test_mixed", "M.", NULL);
    metrics_gauge("test_mixed", "M.", NULL);
}
END_TEST

#define THREADS    4
#define ITERATIONS 100000

typedef struct {
    int index;
    bool create_series; /* also create series under the lock while others render */
} worker_arg_t;

static void *update_worker(void *arg)
{
    const worker_arg_t *w = arg;
    metrics_counter_t *c = metrics_counter("test_concurrent_total", "C.", NULL);
    metrics_gauge_t *g = metrics_gauge("test_concurrent_gauge", "G.", NULL);
    metrics_histogram_t *h = metrics_histogram("test_concurrent_seconds", "H.", NULL,
                                               METRICS_LATENCY_SECONDS, METRICS_LATENCY_SECONDS_N);
    for (int i = 0; i < ITERATIONS; i++) {
        metrics_counter_add(c, 1);
        metrics_gauge_add(g, (i & 1) ? -1 : 2);
        metrics_histogram_observe(h, (i & 1) ? 0.5 : 0.25);
        if (w->create_series && i % 1000 == 0) {
            char value[32];
            snprintf(value, sizeof(value), "v%d", (i / 1000 + w->index) % 50);
            metrics_count("test_dynamic_total", "D.", "k", value);
        }
    }
    return NULL;
}

static void run_workers(bool create_series, bool render_meanwhile)
{
    pthread_t threads[THREADS];
    worker_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){.index = i, .create_series = create_series};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, update_worker, &args[i]), 0);
    }
    int renders = 0;
    while (render_meanwhile && renders < 200) {
        char *text = metrics_render();
        ck_assert_ptr_nonnull(text);
        ck_assert(strncmp(text, "# HELP ", 7) == 0);
        free(text);
        renders++;
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    ck_assert_uint_eq(metrics_counter_get(metrics_counter("test_concurrent_total", NULL, NULL)),
                      (uint64_t)THREADS * ITERATIONS);
    ck_assert_int_eq(metrics_gauge_get(metrics_gauge("test_concurrent_gauge", NULL, NULL)),
                     (int64_t)THREADS * (ITERATIONS / 2));
    char *block = render_block("test_concurrent_seconds");
    char want[128];
    snprintf(want, sizeof(want), "ocppgw_test_concurrent_seconds_count %d\n", THREADS * ITERATIONS);
    ck_assert_ptr_nonnull(strstr(block, want));
    snprintf(want, sizeof(want), "ocppgw_test_concurrent_seconds_sum %d\n",
             THREADS * (ITERATIONS / 2) * 3 / 4);
    ck_assert_ptr_nonnull(strstr(block, want));
    snprintf(want, sizeof(want), "ocppgw_test_concurrent_seconds_bucket{le=\"0.25\"} %d\n",
             THREADS * ITERATIONS / 2);
    ck_assert_ptr_nonnull(strstr(block, want));
    free(block);
}

START_TEST(test_concurrent_updates_exact)
{
    run_workers(false, false);
}
END_TEST

START_TEST(test_render_while_updating)
{
    run_workers(true, true);
    char *block = render_block("test_dynamic_total");
    /* 100 events per thread, spread over 50 label values */
    uint64_t total = 0;
    for (int v = 0; v < 50; v++) {
        char labels[32];
        snprintf(labels, sizeof(labels), "k=\"v%d\"", v);
        total += metrics_counter_get(metrics_counter("test_dynamic_total", NULL, labels));
    }
    ck_assert_uint_eq(total, THREADS * (ITERATIONS / 1000));
    ck_assert_uint_eq(count_occurrences(block, "\nocppgw_test_dynamic_total{k=\"v"), 50);
    free(block);
}
END_TEST

/* one name, one meaning: a second help text for a name is a programmer error */
START_TEST(test_help_mismatch_aborts)
{
    metrics_counter("test_help_total", "One meaning.", NULL);
    metrics_counter("test_help_total", "Another meaning.", NULL);
}
END_TEST

/* a stage's table: every family is exported from the start, one without labels at 0 */
START_TEST(test_table_defines_families)
{
    static const metrics_def_t defs[] = {
        {"test_tbl_calls_total", METRICS_COUNTER, "Calls.", NULL},
        {"test_tbl_errors_total", METRICS_COUNTER, "Errors by code.", "code"},
        {"test_tbl_open", METRICS_GAUGE, "Open things.", NULL},
        {"test_tbl_seconds", METRICS_HISTOGRAM, "Latency.", NULL},
    };
    metrics_define(defs, sizeof(defs) / sizeof(defs[0]));
    metrics_define(defs, sizeof(defs) / sizeof(defs[0])); /* idempotent */
    char *text = metrics_render();
    ck_assert_ptr_nonnull(strstr(text, "ocppgw_test_tbl_calls_total 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE ocppgw_test_tbl_errors_total counter\n"));
    ck_assert_ptr_nonnull(strstr(text, "ocppgw_test_tbl_open 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "ocppgw_test_tbl_seconds_count 0\n"));
    free(text);
    metrics_def_count(&defs[1], "FormatViolation");
    metrics_def_count(&defs[1], "FormatViolation");
    metrics_counter_add(metrics_def_counter(&defs[0], NULL), 3);
    ck_assert_uint_eq(
        metrics_counter_get(metrics_def_counter(&defs[1], "code=\"FormatViolation\"")), 2);
    ck_assert_uint_eq(metrics_counter_get(metrics_def_counter(&defs[0], NULL)), 3);
}
END_TEST

START_TEST(test_table_kind_mismatch_aborts)
{
    static const metrics_def_t def = {"test_tbl_kind_total", METRICS_COUNTER, "K.", NULL};
    metrics_def_gauge(&def, NULL);
}
END_TEST

static Suite *metrics_suite(bool forking)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_counter_value_and_text);
    tcase_add_test(tc, test_counter_labels_one_family_sorted);
    tcase_add_test(tc, test_get_or_create_identity);
    tcase_add_test(tc, test_gauge);
    tcase_add_test(tc, test_null_metric_ignored);
    tcase_add_test(tc, test_histogram_text);
    tcase_add_test(tc, test_histogram_latency_buckets);
    tcase_add_test(tc, test_label_escape);
    tcase_add_test(tc, test_count_convenience_and_help_escape);
    tcase_add_test(tc, test_families_sorted_and_process_metrics);
    tcase_add_test(tc, test_empty_help);
    tcase_add_test(tc, test_shutdown_then_reuse);
    tcase_add_test(tc, test_concurrent_updates_exact);
    tcase_add_test(tc, test_render_while_updating);
    tcase_add_test(tc, test_table_defines_families);
    /* an abort can only be observed from a forked child */
    if (forking) {
        tcase_add_test_raise_signal(tc, test_type_mismatch_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_help_mismatch_aborts, SIGABRT);
        tcase_add_test_raise_signal(tc, test_table_kind_mismatch_aborts, SIGABRT);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *fork_env = getenv("CK_FORK");
    bool forking = !(fork_env && strcmp(fork_env, "no") == 0);
    SRunner *sr = srunner_create(metrics_suite(forking));
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
