/* Unit tests for services/kafka-bridge/kafka_settings: which librdkafka properties the Kafka
 * security keys and kafka_properties set, in order; what is refused (and that no refusal ever
 * repeats a value); which names are secrets. */
#include "kafka_settings.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char got[2048];

static int collect(void *arg, const char *name, const char *value)
{
    (void)arg;
    size_t n = strlen(got);
    snprintf(got + n, sizeof(got) - n, "%s%s=%s", n ? ";" : "", name, value);
    return 0;
}

static bridge_config_t base(void)
{
    return (bridge_config_t){.kafka_security_protocol = "plaintext",
                             .kafka_sasl_mechanism = "PLAIN",
                             .kafka_sasl_username = "",
                             .kafka_ssl_ca_location = "",
                             .kafka_ssl_certificate_location = "",
                             .kafka_ssl_key_location = "",
                             .kafka_ssl_key_password = "",
                             .kafka_properties = ""};
}

static int run(const bridge_config_t *c, const char *password, char *why, size_t whylen)
{
    got[0] = '\0';
    why[0] = '\0';
    return kafka_settings_each(c, password, collect, NULL, why, whylen);
}

START_TEST(test_plaintext)
{
    bridge_config_t c = base();
    char why[256];
    ck_assert_int_eq(run(&c, "", why, sizeof(why)), 0);
    ck_assert_str_eq(got, "security.protocol=plaintext");
}
END_TEST

START_TEST(test_sasl_ssl)
{
    bridge_config_t c = base();
    c.kafka_security_protocol = "sasl_ssl";
    c.kafka_sasl_mechanism = "SCRAM-SHA-512";
    c.kafka_sasl_username = "gw";
    c.kafka_ssl_ca_location = "/etc/ca.pem";
    c.kafka_ssl_certificate_location = "/etc/c.pem";
    c.kafka_ssl_key_location = "/etc/k.pem";
    c.kafka_ssl_key_password = "kp";
    c.kafka_properties = " ssl.endpoint.identification.algorithm = https ;; debug=broker,security;"
                         "sasl.oauthbearer.scope=a=b ";
    char why[256];
    ck_assert_int_eq(run(&c, "s3cret", why, sizeof(why)), 0);
    ck_assert_str_eq(got, "security.protocol=sasl_ssl;sasl.mechanism=SCRAM-SHA-512;"
                          "sasl.username=gw;sasl.password=s3cret;ssl.ca.location=/etc/ca.pem;"
                          "ssl.certificate.location=/etc/c.pem;ssl.key.location=/etc/k.pem;"
                          "ssl.key.password=kp;ssl.endpoint.identification.algorithm=https;"
                          "debug=broker,security;sasl.oauthbearer.scope=a=b");
}
END_TEST

START_TEST(test_sasl_needs_credentials)
{
    bridge_config_t c = base();
    c.kafka_security_protocol = "sasl_plaintext";
    char why[256];
    ck_assert_int_eq(run(&c, "pw", why, sizeof(why)), -EINVAL); /* no username */
    ck_assert_ptr_nonnull(strstr(why, "kafka_sasl_username"));
    c.kafka_sasl_username = "gw";
    ck_assert_int_eq(run(&c, "", why, sizeof(why)), -EINVAL); /* no password */
    ck_assert_int_eq(run(&c, NULL, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "kafka_sasl_password_file"));
}
END_TEST

/* refused in kafka_properties, with a reason that never repeats the value */
START_TEST(test_properties_refused)
{
    static const struct {
        const char *props, *reason;
    } cases[] = {
        {"acks=1", "acks cannot be set there"},
        {"enable.idempotence=false", "persist before acknowledging"},
        {"group.id=x", "group.id cannot be set there"},
        {"bootstrap.servers=h:1", "use kafka_brokers"},
        {"security.protocol=ssl", "use kafka_security_protocol"},
        {"sasl.password=TOPSECRET", "sasl.password is a secret"},
        {"sasl.oauthbearer.client.secret=TOPSECRET", "is a secret"},
        {"ssl.key.pem=TOPSECRET", "is a secret"},
        {"a=b;TOPSECRET", "pair 2 is not name=value"},
        {"=TOPSECRET", "pair 1 has no valid property name"},
        {"Socket.Timeout.ms=TOPSECRET", "pair 1 has no valid property name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bridge_config_t c = base();
        c.kafka_properties = (char *)cases[i].props;
        char why[256];
        ck_assert_int_eq(run(&c, "", why, sizeof(why)), -EINVAL);
        ck_assert_msg(strstr(why, cases[i].reason), "%s: %s", cases[i].props, why);
        ck_assert_msg(!strstr(why, "TOPSECRET"), "a value in the reason: %s", why);
    }
}
END_TEST

/* fn's refusal (librdkafka's) stops the walk and is returned */
static int refuse_debug(void *arg, const char *name, const char *value)
{
    (void)arg;
    (void)value;
    return strcmp(name, "debug") == 0 ? -7 : 0;
}

START_TEST(test_fn_refuses)
{
    bridge_config_t c = base();
    c.kafka_properties = "debug=all;linger=1";
    char why[64] = "";
    ck_assert_int_eq(kafka_settings_each(&c, "", refuse_debug, NULL, why, sizeof(why)), -7);
}
END_TEST

START_TEST(test_secret_names)
{
    ck_assert(kafka_setting_is_secret("sasl.password"));
    ck_assert(kafka_setting_is_secret("ssl.key.password"));
    ck_assert(kafka_setting_is_secret("ssl.keystore.password"));
    ck_assert(kafka_setting_is_secret("sasl.oauthbearer.client.secret"));
    ck_assert(kafka_setting_is_secret("ssl.key.pem"));
    ck_assert(!kafka_setting_is_secret("sasl.username"));
    ck_assert(!kafka_setting_is_secret("ssl.ca.location"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_settings");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_plaintext);
    tcase_add_test(tc, test_sasl_ssl);
    tcase_add_test(tc, test_sasl_needs_credentials);
    tcase_add_test(tc, test_properties_refused);
    tcase_add_test(tc, test_fn_refuses);
    tcase_add_test(tc, test_secret_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
