/* kafka_settings: librdkafka security properties and kafka_properties. See kafka_settings.h. */
#include "kafka_settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by the bridge itself, or by a dedicated key: never through kafka_properties. */
static const struct {
    const char *name;
    const char *why;
} OWNED[] = {
    {"bootstrap.servers", "use kafka_brokers"},
    {"metadata.broker.list", "use kafka_brokers"},
    {"client.id", "set by kafka-bridge (ocppgw-<pod>)"},
    {"group.id", "set by kafka-bridge (ocppgw-<pod> per partition read)"},
    {"enable.idempotence", "set by kafka-bridge (persist before acknowledging)"},
    {"acks", "set by kafka-bridge to all (persist before acknowledging)"},
    {"request.required.acks", "set by kafka-bridge to all (persist before acknowledging)"},
    {"enable.auto.offset.store", "set by kafka-bridge (offsets stored only when final)"},
    {"enable.auto.commit", "set by kafka-bridge (offsets stored only when final)"},
    {"auto.commit.interval.ms", "use consumer_commit_ms"},
    {"auto.offset.reset", "set by kafka-bridge (earliest)"},
    {"enable.partition.eof", "set by kafka-bridge"},
    {"isolation.level", "set by kafka-bridge (read_committed)"},
    {"linger.ms", "use kafka_linger_ms"},
    {"queue.buffering.max.ms", "use kafka_linger_ms"},
    {"compression.codec", "use kafka_compression"},
    {"compression.type", "use kafka_compression"},
    {"batch.num.messages", "use kafka_batch_messages"},
    {"queue.buffering.max.messages", "use kafka_queue_messages"},
    {"message.timeout.ms", "use kafka_delivery_timeout_ms"},
    {"delivery.timeout.ms", "use kafka_delivery_timeout_ms"},
    {"security.protocol", "use kafka_security_protocol"},
    {"sasl.mechanism", "use kafka_sasl_mechanism"},
    {"sasl.mechanisms", "use kafka_sasl_mechanism"},
    {"sasl.username", "use kafka_sasl_username"},
    {"ssl.ca.location", "use kafka_ssl_ca_location"},
    {"ssl.certificate.location", "use kafka_ssl_certificate_location"},
    {"ssl.key.location", "use kafka_ssl_key_location"},
};

bool kafka_setting_is_secret(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret") || strcmp(name, "ssl.key.pem") == 0 ||
           strcmp(name, "sasl.oauthbearer.config") == 0;
}

static bool set(const char *s)
{
    return s && s[0];
}

/* Pair number `nth` of kafka_properties (trimmed): checked, then handed to fn. Messages name
 * the property or the pair's position, never a value. */
static int property(char *pair, int nth, kafka_setting_fn *fn, void *arg, char *why, size_t whylen)
{
    char *eq = strchr(pair, '=');
    if (!eq) {
        snprintf(why, whylen, "kafka_properties: pair %d is not name=value", nth);
        return -EINVAL;
    }
    *eq = '\0';
    char *name = pair, *value = eq + 1;
    size_t n = strlen(name);
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        name[--n] = '\0';
    while (*value == ' ' || *value == '\t')
        value++;
    if (!n || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
        snprintf(why, whylen, "kafka_properties: pair %d has no valid property name", nth);
        return -EINVAL;
    }
    if (kafka_setting_is_secret(name)) {
        snprintf(why, whylen,
                 "kafka_properties: %s is a secret; set it with kafka_sasl_password, "
                 "kafka_sasl_password_file or kafka_ssl_key_password (kafka_properties is shown "
                 "as it is)",
                 name);
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(OWNED) / sizeof(OWNED[0]); i++)
        if (strcmp(name, OWNED[i].name) == 0) {
            snprintf(why, whylen, "kafka_properties: %s cannot be set there: %s", name,
                     OWNED[i].why);
            return -EINVAL;
        }
    return fn(arg, name, value);
}

static int properties(const char *text, kafka_setting_fn *fn, void *arg, char *why, size_t whylen)
{
    if (!set(text))
        return 0;
    char *copy = strdup(text);
    if (!copy) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    int rc = 0, nth = 0;
    char *p = copy;
    while (rc == 0 && p) {
        char *end = strchr(p, ';');
        if (end)
            *end = '\0';
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        size_t n = strlen(p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n'))
            p[--n] = '\0';
        if (n)
            rc = property(p, ++nth, fn, arg, why, whylen);
        p = end ? end + 1 : NULL;
    }
    free(copy);
    return rc;
}

int kafka_settings_each(const bridge_config_t *cfg, const char *password, kafka_setting_fn *fn,
                        void *arg, char *why, size_t whylen)
{
    const char *proto =
        set(cfg->kafka_security_protocol) ? cfg->kafka_security_protocol : "plaintext";
    int rc = fn(arg, "security.protocol", proto);
    if (rc)
        return rc;
    if (strncmp(proto, "sasl_", 5) == 0) {
        if (!set(cfg->kafka_sasl_username) || !set(password)) {
            snprintf(why, whylen,
                     "kafka_security_protocol %s needs kafka_sasl_username and a password "
                     "(kafka_sasl_password or kafka_sasl_password_file)",
                     proto);
            return -EINVAL;
        }
        if ((rc = fn(arg, "sasl.mechanism",
                     set(cfg->kafka_sasl_mechanism) ? cfg->kafka_sasl_mechanism : "PLAIN")) ||
            (rc = fn(arg, "sasl.username", cfg->kafka_sasl_username)) ||
            (rc = fn(arg, "sasl.password", password)))
            return rc;
    }
    static const struct {
        const char *name;
        size_t offset;
    } SSL[] = {
        {"ssl.ca.location", offsetof(bridge_config_t, kafka_ssl_ca_location)},
        {"ssl.certificate.location", offsetof(bridge_config_t, kafka_ssl_certificate_location)},
        {"ssl.key.location", offsetof(bridge_config_t, kafka_ssl_key_location)},
        {"ssl.key.password", offsetof(bridge_config_t, kafka_ssl_key_password)},
    };
    for (size_t i = 0; i < sizeof(SSL) / sizeof(SSL[0]); i++) {
        const char *v = *(char *const *)((const char *)cfg + SSL[i].offset);
        if (set(v) && (rc = fn(arg, SSL[i].name, v)))
            return rc;
    }
    return properties(cfg->kafka_properties, fn, arg, why, whylen);
}
