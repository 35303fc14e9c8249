/* test_config.c: unit tests of common/config.c, the per-service configuration tables.
 *
 * One sample table covers every type; YAML files are written to temporary files and the
 * environment is set per test (and cleared in the fixture, so tests also pass with CK_FORK=no).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVICE "ocpp-core"

typedef struct {
    char *name;
    int64_t port;
    bool tls;
    int64_t timeout_ms;
    char *mode;
    char *token;
    char *redis_password;
    int64_t offset;
    char *optional;
    char *level;
    int64_t zero;
} sample_config_t;

static int validate_token(const char *value, char *why, size_t whylen)
{
    if (strncmp(value, "tk-", 3) != 0) {
        snprintf(why, whylen, "must start with tk-");
        return -EINVAL;
    }
    return 0;
}

static int validate_long(const char *value, char *why, size_t whylen)
{
    if (strlen(value) < 8) {
        snprintf(why, whylen, "must be at least 8 characters");
        return -EINVAL;
    }
    return 0;
}

static int validate_nonempty(const char *value, char *why, size_t whylen)
{
    if (!*value) {
        snprintf(why, whylen, "must not be empty");
        return -EINVAL;
    }
    return 0;
}

static const config_option_t sample_table[] = {
    {"name", CONFIG_STRING, "gw", offsetof(sample_config_t, name), 0, 0, NULL, NULL,
     "display name"},
    {"port", CONFIG_INT, "8080", offsetof(sample_config_t, port), 1, 65535, NULL, NULL,
     "listen port"},
    {"tls", CONFIG_BOOL, "false", offsetof(sample_config_t, tls), 0, 0, NULL, NULL, "use TLS"},
    {"timeout", CONFIG_DURATION, "30s", offsetof(sample_config_t, timeout_ms), 100, 3600000, NULL,
     NULL, "request timeout"},
    {"mode", CONFIG_ENUM, "safe", offsetof(sample_config_t, mode), 0, 0, "fast|safe", NULL,
     "run mode"},
    {"token", CONFIG_STRING, "tk-default", offsetof(sample_config_t, token), 0, 0, NULL,
     validate_token, "API token"},
    {"redis_password", CONFIG_STRING, NULL, offsetof(sample_config_t, redis_password), 0, 0, NULL,
     validate_long, "Redis password"},
    {"offset", CONFIG_INT, "-5", offsetof(sample_config_t, offset), 0, 0, NULL, NULL,
     "unbounded integer"},
    {"optional", CONFIG_STRING, NULL, offsetof(sample_config_t, optional), 0, 0, NULL,
     validate_nonempty, "checked only when set"},
    {"level", CONFIG_ENUM, NULL, offsetof(sample_config_t, level), 0, 0, "low|high", NULL,
     "enum with no default"},
    {"zero", CONFIG_DURATION, NULL, offsetof(sample_config_t, zero), 0, 0, NULL, NULL,
     "duration with no default"},
};
#define SAMPLE_N (sizeof(sample_table) / sizeof(sample_table[0]))

static const char *const sample_env[] = {
    "OCPPGW_NAME",  "OCPPGW_PORT",     "OCPPGW_TLS",    "OCPPGW_TIMEOUT",
    "OCPPGW_MODE",  "OCPPGW_TOKEN",    "OCPPGW_OFFSET", "OCPPGW_REDIS_PASSWORD",
    "OCPPGW_LEVEL", "OCPPGW_OPTIONAL", "OCPPGW_ZERO",   "OCPPGW_CONFIG",
};

static sample_config_t cfg;
static char err[512];
static char yaml_path[64];

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(sample_env) / sizeof(sample_env[0]); i++)
        unsetenv(sample_env[i]);
}

static void setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
    err[0] = '\0';
    yaml_path[0] = '\0';
    clear_env();
}

static void teardown(void)
{
    config_free(sample_table, SAMPLE_N, &cfg);
    if (yaml_path[0])
        unlink(yaml_path);
    clear_env();
}

/* Write text to a fresh temporary file named in yaml_path. */
static const char *write_yaml(const char *text)
{
    int fd;
    size_t len = strlen(text);

    if (yaml_path[0])
        unlink(yaml_path);
    snprintf(yaml_path, sizeof(yaml_path), "/tmp/test_config_XXXXXX");
    fd = mkstemp(yaml_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return yaml_path;
}

static int load(const char *yaml)
{
    return config_load(sample_table, SAMPLE_N, &cfg, SERVICE, yaml ? write_yaml(yaml) : NULL, err,
                       sizeof(err));
}

/* Load with one environment variable set; the variable is removed again. */
static int load_env(const char *var, const char *value)
{
    int rc;

    setenv(var, value, 1);
    rc = load(NULL);
    unsetenv(var);
    return rc;
}

/* err with the temporary file name replaced by FILE, for exact comparisons. */
static const char *err_with_file(void)
{
    static char out[512];
    const char *at = yaml_path[0] ? strstr(err, yaml_path) : NULL;

    if (!at)
        return err;
    snprintf(out, sizeof(out), "%.*sFILE%s", (int)(at - err), err, at + strlen(yaml_path));
    return out;
}

START_TEST(test_defaults)
{
    ck_assert_int_eq(load(NULL), 0);
    ck_assert_str_eq(err, "");
    ck_assert_str_eq(cfg.name, "gw");
    ck_assert_int_eq(cfg.port, 8080);
    ck_assert(!cfg.tls);
    ck_assert_int_eq(cfg.timeout_ms, 30000);
    ck_assert_str_eq(cfg.mode, "safe");
    ck_assert_str_eq(cfg.token, "tk-default");
    ck_assert_int_eq(cfg.offset, -5);
    /* NULL defaults: empty string / 0, and validate is not run on an unset option */
    ck_assert_str_eq(cfg.redis_password, "");
    ck_assert_str_eq(cfg.optional, "");
    ck_assert_str_eq(cfg.level, "");
    ck_assert_int_eq(cfg.zero, 0);
}
END_TEST

START_TEST(test_file_common_and_own_section)
{
    /* own section first in the file: it still wins over common */
    ck_assert_int_eq(load("ocpp-core:\n"
                          "  port: 2000\n"
                          "  mode: fast\n"
                          "common:\n"
                          "  port: 1000\n"
                          "  name: shared\n"
                          "  tls: yes\n"
                          "  kafka_brokers: k1:9092\n" /* another service's key: ignored */
                          "ws-edge:\n"
                          "  name: edge\n"
                          "  edge_only_key: 1\n" /* another service's section: ignored */
                          "  listen: [a, b]\n"),
                     0);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(cfg.port, 2000);
    ck_assert_str_eq(cfg.mode, "fast");
    ck_assert_str_eq(cfg.name, "shared");
    ck_assert(cfg.tls);
    ck_assert_int_eq(cfg.timeout_ms, 30000); /* untouched: default */
}
END_TEST

START_TEST(test_env_beats_file)
{
    setenv("OCPPGW_PORT", "3000", 1);
    setenv("OCPPGW_NAME", "from env", 1);
    setenv("OCPPGW_OPTIONAL", "set", 1);
    ck_assert_int_eq(load("common:\n  port: 1000\n  name: shared\n"
                          "ocpp-core:\n  port: 2000\n  timeout: 5s\n"),
                     0);
    ck_assert_int_eq(cfg.port, 3000);
    ck_assert_str_eq(cfg.name, "from env");
    ck_assert_str_eq(cfg.optional, "set");
    ck_assert_int_eq(cfg.timeout_ms, 5000);
}
END_TEST

START_TEST(test_int_values)
{
    static const struct {
        const char *text;
        int64_t want;
    } ok[] = {{"1", 1}, {"65535", 65535}, {"+443", 443}, {"08080", 8080}};
    static const char *const bad[] = {"0",  "65536", "abc", "",  " 80", "80 ",
                                      "8o", "1.5",   "+",   "-", "--1", "0x50"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(load_env("OCPPGW_PORT", ok[i].text) == 0, "'%s': %s", ok[i].text, err);
        ck_assert_int_eq(cfg.port, ok[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[256];

        ck_assert_msg(load_env("OCPPGW_PORT", bad[i]) == -EINVAL, "'%s' accepted", bad[i]);
        snprintf(want, sizeof(want),
                 "invalid value '%s' for port (from OCPPGW_PORT): expected an integer between 1 "
                 "and 65535",
                 bad[i]);
        ck_assert_str_eq(err, want);
    }

    /* unbounded: the whole int64 range, nothing beyond */
    ck_assert_int_eq(load_env("OCPPGW_OFFSET", "-9223372036854775808"), 0);
    ck_assert(cfg.offset == INT64_MIN);
    ck_assert_int_eq(load_env("OCPPGW_OFFSET", "9223372036854775807"), 0);
    ck_assert(cfg.offset == INT64_MAX);
    ck_assert_int_eq(load_env("OCPPGW_OFFSET", "9223372036854775808"), -EINVAL);
    ck_assert_str_eq(err, "invalid value '9223372036854775808' for offset (from OCPPGW_OFFSET): "
                          "expected an integer");
    ck_assert_int_eq(load_env("OCPPGW_OFFSET", "-9223372036854775809"), -EINVAL);
}
END_TEST

START_TEST(test_bool_values)
{
    static const char *const yes[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1"};
    static const char *const no[] = {"false", "False", "no", "NO", "off", "Off", "0"};
    static const char *const bad[] = {"maybe", "", "2", "y", "n", "truee", "on "};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        cfg.tls = false;
        ck_assert_int_eq(load_env("OCPPGW_TLS", yes[i]), 0);
        ck_assert_msg(cfg.tls, "'%s' not true", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        cfg.tls = true;
        ck_assert_int_eq(load_env("OCPPGW_TLS", no[i]), 0);
        ck_assert_msg(!cfg.tls, "'%s' not false", no[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[256];

        ck_assert_msg(load_env("OCPPGW_TLS", bad[i]) == -EINVAL, "'%s' accepted", bad[i]);
        snprintf(want, sizeof(want),
                 "invalid value '%s' for tls (from OCPPGW_TLS): expected a boolean (true/false, "
                 "yes/no, on/off, 1/0)",
                 bad[i]);
        ck_assert_str_eq(err, want);
    }
}
END_TEST

START_TEST(test_duration_values)
{
    static const struct {
        const char *text;
        int64_t want_ms;
    } ok[] = {{"250ms", 250},  {"30s", 30000}, {"5m", 300000},  {"1h", 3600000},
              {"1500", 1500},  {"100", 100},   {"1.5s", 1500},  {"0.25s", 250},
              {"0.5m", 30000}, {"100ms", 100}, {"60m", 3600000}};
    static const char *const bad[] = {"-1s",     "5 s", "5d",   "s",   "",     "1e3",
                                      "1.s",     ".5s", "5S",   "99",  "2h",   "61m",
                                      "1.0005s", "+5s", "5sec", "1h1", "0.1ms"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(load_env("OCPPGW_TIMEOUT", ok[i].text) == 0, "'%s': %s", ok[i].text, err);
        ck_assert_int_eq(cfg.timeout_ms, ok[i].want_ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[256];

        ck_assert_msg(load_env("OCPPGW_TIMEOUT", bad[i]) == -EINVAL, "'%s' accepted", bad[i]);
        snprintf(want, sizeof(want),
                 "invalid value '%s' for timeout (from OCPPGW_TIMEOUT): expected a duration "
                 "(e.g. 250ms, 30s, 5m, 1h) between 100ms and 1h",
                 bad[i]);
        ck_assert_str_eq(err, want);
    }

    /* unbounded: 0 is fine, overflow is not */
    ck_assert_int_eq(load_env("OCPPGW_ZERO", "0"), 0);
    ck_assert_int_eq(cfg.zero, 0);
    ck_assert_int_eq(load_env("OCPPGW_ZERO", "2562047788015h"), 0);
    ck_assert_int_eq(cfg.zero, 2562047788015LL * 3600000LL);
    ck_assert_int_eq(load_env("OCPPGW_ZERO", "2562047788016h"), -EINVAL);
    ck_assert_str_eq(err, "invalid value '2562047788016h' for zero (from OCPPGW_ZERO): expected a "
                          "duration (e.g. 250ms, 30s, 5m, 1h)");
    ck_assert_int_eq(load_env("OCPPGW_ZERO", "99999999999999999999"), -EINVAL);
}
END_TEST

START_TEST(test_enum_values)
{
    ck_assert_int_eq(load_env("OCPPGW_MODE", "fast"), 0);
    ck_assert_str_eq(cfg.mode, "fast");
    ck_assert_int_eq(load_env("OCPPGW_MODE", "safe"), 0);
    ck_assert_str_eq(cfg.mode, "safe");
    static const char *const bad[] = {"FAST", "fas", "fastt", "fast|safe", "", "|"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[256];

        ck_assert_msg(load_env("OCPPGW_MODE", bad[i]) == -EINVAL, "'%s' accepted", bad[i]);
        snprintf(want, sizeof(want),
                 "invalid value '%s' for mode (from OCPPGW_MODE): expected one of fast, safe",
                 bad[i]);
        ck_assert_str_eq(err, want);
    }
    ck_assert_int_eq(load_env("OCPPGW_LEVEL", "high"), 0);
    ck_assert_str_eq(cfg.level, "high");
    ck_assert_int_eq(load_env("OCPPGW_LEVEL", "medium"), -EINVAL);
    ck_assert_str_eq(err, "invalid value 'medium' for level (from OCPPGW_LEVEL): expected one of "
                          "low, high");
}
END_TEST

START_TEST(test_validate_callback)
{
    ck_assert_int_eq(load_env("OCPPGW_TOKEN", "tk-123"), 0);
    ck_assert_str_eq(cfg.token, "tk-123");
    ck_assert_int_eq(load_env("OCPPGW_TOKEN", "abc"), -EINVAL);
    ck_assert_str_eq(err, "invalid value 'abc' for token (from OCPPGW_TOKEN): must start with tk-");

    /* once set, even to "", an optional string is checked */
    ck_assert_int_eq(load_env("OCPPGW_OPTIONAL", ""), -EINVAL);
    ck_assert_str_eq(err,
                     "invalid value '' for optional (from OCPPGW_OPTIONAL): must not be empty");

    /* a secret is not repeated in the message */
    ck_assert_int_eq(load_env("OCPPGW_REDIS_PASSWORD", "hunter2"), -EINVAL);
    ck_assert_str_eq(err, "invalid value '***' for redis_password (from OCPPGW_REDIS_PASSWORD): "
                          "must be at least 8 characters");
    ck_assert_ptr_null(strstr(err, "hunter2"));
    ck_assert_int_eq(load_env("OCPPGW_REDIS_PASSWORD", "correct horse"), 0);
    ck_assert_str_eq(cfg.redis_password, "correct horse");
}
END_TEST

START_TEST(test_error_names_file_and_line)
{
    ck_assert_int_eq(load("common:\n"
                          "  name: x\n"
                          "ocpp-core:\n"
                          "  tls: on\n"
                          "  port: 70000\n"),
                     -EINVAL);
    ck_assert_str_eq(err_with_file(), "invalid value '70000' for port (from FILE line 5): expected "
                                      "an integer between 1 and 65535");

    /* a bad value in common is reported the same way */
    ck_assert_int_eq(load("common:\n  timeout: soon\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "invalid value 'soon' for timeout (from FILE line 2): expected a duration "
                     "(e.g. 250ms, 30s, 5m, 1h) between 100ms and 1h");

    /* the environment can repair a bad file value: the winning value is what counts */
    setenv("OCPPGW_PORT", "81", 1);
    ck_assert_int_eq(load("ocpp-core:\n  port: 70000\n"), 0);
    ck_assert_int_eq(cfg.port, 81);
}
END_TEST

START_TEST(test_unknown_keys)
{
    ck_assert_int_eq(load("common:\n  whatever: 1\nocpp-core:\n  port: 1\n  prot: 2\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(), "FILE line 5: unknown key 'prot' in section 'ocpp-core'");

    ck_assert_int_eq(load("common:\n  whatever: 1\n  nested: {a: 1}\n"
                          "kafka-bridge:\n  prot: 2\n  port: [1]\n"
                          "redis-registry:\n"),
                     0);
    ck_assert_int_eq(cfg.port, 8080);

    /* a setting outside any section is a mistake, not another service's section */
    ck_assert_int_eq(load("port: 9000\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(), "FILE line 1: top-level key 'port' is not a section; "
                                      "settings go under 'common:' or 'ocpp-core:'");
}
END_TEST

START_TEST(test_scalars_only)
{
    ck_assert_int_eq(load("ocpp-core:\n  port:\n    - 1\n    - 2\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "FILE line 2: value of 'port' must be a single value, not a list or mapping");
    ck_assert_int_eq(load("common:\n  name: {first: a}\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "FILE line 2: value of 'name' must be a single value, not a list or mapping");
    ck_assert_int_eq(load("ocpp-core: [port, 1]\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(), "FILE line 1: section 'ocpp-core' must be a mapping of keys");
    ck_assert_int_eq(load("- common\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "FILE line 1: expected a mapping of sections ('common:', 'ocpp-core:')");
}
END_TEST

START_TEST(test_yaml_values_are_text)
{
    /* quoted and plain scalars give the same text; an empty value is the empty string */
    ck_assert_int_eq(load("ocpp-core:\n"
                          "  name: \"with: colon # and hash\"\n"
                          "  port: '443'\n"
                          "  tls: \"on\"\n"
                          "  token: tk-x # a comment\n"
                          "  mode: >-\n"
                          "    fast\n"),
                     0);
    ck_assert_str_eq(cfg.name, "with: colon # and hash");
    ck_assert_int_eq(cfg.port, 443);
    ck_assert(cfg.tls);
    ck_assert_str_eq(cfg.token, "tk-x");
    ck_assert_str_eq(cfg.mode, "fast");

    ck_assert_int_eq(load("ocpp-core:\n  name:\n"), 0);
    ck_assert_str_eq(cfg.name, "");
    ck_assert_int_eq(load("ocpp-core:\n  name: ~\n"), 0);
    ck_assert_str_eq(cfg.name, "");
    ck_assert_int_eq(load("ocpp-core:\n  name: '~'\n"), 0);
    ck_assert_str_eq(cfg.name, "~");
    ck_assert_int_eq(load("ocpp-core:\n  port:\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(), "invalid value '' for port (from FILE line 2): expected an "
                                      "integer between 1 and 65535");
    ck_assert_int_eq(load("ocpp-core:\n  name: \"a\\0b\"\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(), "FILE line 2: value of 'name' contains a NUL byte");
}
END_TEST

START_TEST(test_empty_and_odd_files)
{
    ck_assert_int_eq(load(""), 0);
    ck_assert_int_eq(cfg.port, 8080);
    ck_assert_int_eq(load("# only a comment\n"), 0);
    ck_assert_int_eq(load("---\n"), 0);
    ck_assert_int_eq(load("common:\nocpp-core:\n"), 0);
    ck_assert_int_eq(cfg.port, 8080);

    ck_assert_int_eq(load("ocpp-core:\n  port: 1\n  port: 2\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "FILE line 3: key 'port' appears twice in section 'ocpp-core' (first at line "
                     "2)");
    ck_assert_int_eq(load("common:\n  port: 1\n---\ncommon:\n  port: 2\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "FILE line 3: more than one YAML document; put all sections in one");
}
END_TEST

START_TEST(test_missing_file)
{
    ck_assert_int_eq(config_load(sample_table, SAMPLE_N, &cfg, SERVICE,
                                 "/nonexistent/dir/gateway.yaml", err, sizeof(err)),
                     -ENOENT);
    ck_assert_str_eq(err, "cannot read config file /nonexistent/dir/gateway.yaml: No such file or "
                          "directory");
    ck_assert_ptr_null(cfg.name); /* nothing applied */

    ck_assert_int_eq(config_load(sample_table, SAMPLE_N, &cfg, SERVICE, "/tmp", err, sizeof(err)),
                     -EISDIR);
    ck_assert_str_eq(err, "cannot read config file /tmp: Is a directory");
}
END_TEST

START_TEST(test_yaml_syntax_error)
{
    ck_assert_int_eq(load("common:\n  port: 1\n  name: [unclosed\n  tls: on\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "FILE line 4: YAML syntax error: did not find expected ',' or ']' (while "
                     "parsing a flow sequence started on line 3)");

    ck_assert_int_eq(load("common:\n  port: 1\n bad indent: 2\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(), "FILE line 3: YAML syntax error: did not find expected key "
                                      "(while parsing a block mapping started on line 1)");

    ck_assert_int_eq(load("common:\n  name: *nowhere\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(), "FILE line 2: YAML syntax error: found undefined alias");

    /* not text at all: still a file and a line */
    ck_assert_int_eq(load("common:\n  port: 1\n  name: \xff\xfe\n"), -EINVAL);
    ck_assert_str_eq(err_with_file(),
                     "FILE line 3: not valid YAML text: invalid leading UTF-8 octet");
    ck_assert_ptr_null(cfg.name);
}
END_TEST

START_TEST(test_failed_load_keeps_previous_values)
{
    char *name_before;

    ck_assert_int_eq(load("ocpp-core:\n  name: first\n  port: 1234\n"), 0);
    name_before = cfg.name;
    setenv("OCPPGW_TLS", "perhaps", 1);
    ck_assert_int_eq(load("ocpp-core:\n  name: second\n  port: 4321\n"), -EINVAL);
    ck_assert_ptr_eq(cfg.name, name_before);
    ck_assert_str_eq(cfg.name, "first");
    ck_assert_int_eq(cfg.port, 1234);
}
END_TEST

START_TEST(test_reload_and_free)
{
    /* run under ASan: the strings of the first load must be freed by the second */
    ck_assert_int_eq(load("ocpp-core:\n  name: one\n  mode: fast\n"), 0);
    ck_assert_int_eq(load("ocpp-core:\n  name: two\n"), 0);
    ck_assert_str_eq(cfg.name, "two");
    ck_assert_str_eq(cfg.mode, "safe");
    config_free(sample_table, SAMPLE_N, &cfg);
    ck_assert_ptr_null(cfg.name);
    ck_assert_ptr_null(cfg.mode);
    ck_assert_ptr_null(cfg.token);
    config_free(sample_table, SAMPLE_N, &cfg); /* idempotent */
    config_free(NULL, 0, NULL);
}
END_TEST

START_TEST(test_bad_tables)
{
    int64_t value = 0;
    char *str = NULL;
    const config_option_t upper[] = {{"Port", CONFIG_INT, "1", 0, 0, 0, NULL, NULL, NULL}};
    const config_option_t no_allowed[] = {{"mode", CONFIG_ENUM, "a", 0, 0, 0, NULL, NULL, NULL}};
    const config_option_t twice[] = {{"a", CONFIG_INT, "1", 0, 0, 0, NULL, NULL, NULL},
                                     {"a", CONFIG_INT, "1", 0, 0, 0, NULL, NULL, NULL}};
    const config_option_t bad_default[] = {{"port", CONFIG_INT, "many", 0, 1, 9, NULL, NULL, NULL}};

    ck_assert_int_eq(config_load(upper, 1, &value, SERVICE, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "config table: option name 'Port' is not lower_snake");
    ck_assert_int_eq(config_load(no_allowed, 1, &str, SERVICE, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "config table: option 'mode' has a bad type or no allowed list");
    ck_assert_int_eq(config_load(twice, 2, &value, SERVICE, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "config table: option 'a' appears twice");
    ck_assert_int_eq(config_load(bad_default, 1, &value, SERVICE, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err,
                     "invalid value 'many' for port (from default): expected an integer between 1 "
                     "and 9");
    ck_assert_int_eq(config_load(sample_table, SAMPLE_N, NULL, SERVICE, NULL, err, sizeof(err)),
                     -EINVAL);
    /* no err buffer: still fails cleanly */
    ck_assert_int_eq(config_load(bad_default, 1, &value, SERVICE, NULL, NULL, 0), -EINVAL);
}
END_TEST

/* Run f with stdout redirected to a temporary file; returns what it printed (caller frees). */
static char *capture_stdout(int (*f)(void), int *rc)
{
    char path[] = "/tmp/test_config_out_XXXXXX";
    int fd = mkstemp(path), saved;
    char *text;
    off_t size;

    ck_assert_int_ge(fd, 0);
    unlink(path);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    *rc = f();
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    size = lseek(fd, 0, SEEK_END);
    text = calloc(1, (size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(pread(fd, text, (size_t)size, 0), size);
    close(fd);
    return text;
}

static char *argv_store[8];
static int argc_store;

static int run_args(void)
{
    return config_load_args(sample_table, SAMPLE_N, &cfg, SERVICE, argc_store, argv_store, err,
                            sizeof(err));
}

static int set_args(int argc, ...)
{
    va_list ap;

    va_start(ap, argc);
    argv_store[0] = "ocpp-core";
    for (int i = 1; i < argc; i++)
        argv_store[i] = va_arg(ap, char *);
    argv_store[argc] = NULL;
    va_end(ap);
    argc_store = argc;
    return run_args();
}

START_TEST(test_args)
{
    const char *path = write_yaml("ocpp-core:\n  port: 2000\n");
    char *out;
    int rc;

    ck_assert_int_eq(set_args(1), 0);
    ck_assert_int_eq(cfg.port, 8080);
    ck_assert_int_eq(set_args(3, "--config", path), 0);
    ck_assert_int_eq(cfg.port, 2000);

    char eq[128];
    snprintf(eq, sizeof(eq), "--config=%s", path);
    ck_assert_int_eq(load_env("OCPPGW_PORT", "1"), 0);
    ck_assert_int_eq(set_args(2, eq), 0);
    ck_assert_int_eq(cfg.port, 2000);

    /* OCPPGW_CONFIG names the file when --config does not */
    setenv("OCPPGW_CONFIG", path, 1);
    ck_assert_int_eq(set_args(1), 0);
    ck_assert_int_eq(cfg.port, 2000);
    setenv("OCPPGW_CONFIG", "/nonexistent.yaml", 1);
    ck_assert_int_eq(set_args(1), -ENOENT);
    ck_assert_int_eq(set_args(3, "--config", path), 0); /* --config wins */
    unsetenv("OCPPGW_CONFIG");

    ck_assert_int_eq(set_args(2, "--bogus"), -EINVAL);
    ck_assert_str_eq(err, "unknown argument '--bogus' (try ocpp-core --help)");
    ck_assert_int_eq(set_args(2, "--config"), -EINVAL);
    ck_assert_str_eq(err, "--config needs a file name");

    /* --help prints usage and does not load (the broken env value is not even looked at) */
    setenv("OCPPGW_PORT", "broken", 1);
    argv_store[0] = "ocpp-core";
    argv_store[1] = "--help";
    argc_store = 2;
    out = capture_stdout(run_args, &rc);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(out, "Usage: ocpp-core [--config FILE]"));
    ck_assert_ptr_nonnull(strstr(out, "port (OCPPGW_PORT)"));
    ck_assert_ptr_nonnull(strstr(out, "listen port"));
    free(out);
    unsetenv("OCPPGW_PORT");

    /* --print-config loads, prints and asks the program to exit */
    argv_store[1] = "--print-config";
    argv_store[2] = "--config";
    argv_store[3] = (char *)path;
    argc_store = 4;
    out = capture_stdout(run_args, &rc);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(out, "port = 2000\n"));
    free(out);

    /* and reports a load error instead of printing */
    setenv("OCPPGW_PORT", "0", 1);
    out = capture_stdout(run_args, &rc);
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(test_print)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    setenv("OCPPGW_REDIS_PASSWORD", "very secret value", 1);
    ck_assert_int_eq(load("ocpp-core:\n  timeout: 1500ms\n  tls: on\n  token: tk-abc\n"), 0);
    ck_assert_ptr_nonnull(mem);
    config_print(sample_table, SAMPLE_N, &cfg, mem);
    fclose(mem);
    ck_assert_str_eq(text, "name = gw\n"
                           "port = 8080\n"
                           "tls = true\n"
                           "timeout = 1500ms\n"
                           "mode = safe\n"
                           "token = tk-abc\n"
                           "redis_password = ***\n"
                           "offset = -5\n"
                           "optional = \n"
                           "level = \n"
                           "zero = 0s\n");
    free(text);
}
END_TEST

START_TEST(test_print_round_trips)
{
    /* what config_print writes is valid input again (secrets aside) */
    char *text = NULL, *yaml;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    sample_config_t copy = {0};
    const config_option_t *table = sample_table;
    const size_t n = 5; /* name, port, tls, timeout, mode */

    ck_assert_int_eq(load("ocpp-core:\n  timeout: 45m\n  port: 99\n  mode: fast\n"), 0);
    config_print(table, n, &cfg, mem);
    fclose(mem);
    /* "key = value" lines -> "  key: value" */
    yaml = calloc(1, len * 2 + 32);
    ck_assert_ptr_nonnull(yaml);
    memcpy(yaml, "ocpp-core:\n", 11);
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        char *eq = strstr(line, " = ");
        size_t at = strlen(yaml);

        ck_assert_ptr_nonnull(eq);
        snprintf(yaml + at, len * 2 + 32 - at, "  %.*s: %.*s\n", (int)(eq - line), line,
                 (int)(nl - eq - 3), eq + 3);
    }
    ck_assert_int_eq(config_load(table, n, &copy, SERVICE, write_yaml(yaml), err, sizeof(err)), 0);
    ck_assert_str_eq(copy.name, cfg.name);
    ck_assert_int_eq(copy.port, 99);
    ck_assert_int_eq(copy.timeout_ms, 45 * 60 * 1000);
    ck_assert_str_eq(copy.mode, "fast");
    config_free(table, n, &copy);
    free(yaml);
    free(text);
}
END_TEST

START_TEST(test_usage)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(mem);
    config_usage(sample_table, SAMPLE_N, SERVICE, mem);
    fclose(mem);
    ck_assert_ptr_nonnull(strstr(text, "Usage: ocpp-core "));
    ck_assert_ptr_nonnull(strstr(text, "'common:'"));
    ck_assert_ptr_nonnull(
        strstr(text, "  port (OCPPGW_PORT): an integer between 1 and 65535; default '8080'\n"
                     "      listen port\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "  mode (OCPPGW_MODE): one of fast, safe; default 'safe'\n"));
    ck_assert_ptr_nonnull(strstr(text, "redis_password (OCPPGW_REDIS_PASSWORD): string"));
    free(text);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_file_common_and_own_section);
    tcase_add_test(tc, test_env_beats_file);
    tcase_add_test(tc, test_int_values);
    tcase_add_test(tc, test_bool_values);
    tcase_add_test(tc, test_duration_values);
    tcase_add_test(tc, test_enum_values);
    tcase_add_test(tc, test_validate_callback);
    tcase_add_test(tc, test_error_names_file_and_line);
    tcase_add_test(tc, test_unknown_keys);
    tcase_add_test(tc, test_scalars_only);
    tcase_add_test(tc, test_yaml_values_are_text);
    tcase_add_test(tc, test_empty_and_odd_files);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_yaml_syntax_error);
    tcase_add_test(tc, test_failed_load_keeps_previous_values);
    tcase_add_test(tc, test_reload_and_free);
    tcase_add_test(tc, test_bad_tables);
    tcase_add_test(tc, test_args);
    tcase_add_test(tc, test_print);
    tcase_add_test(tc, test_print_round_trips);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
