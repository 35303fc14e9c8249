/* kafka_settings: the librdkafka properties kafka-bridge takes from its configuration for Kafka
 * security (TLS, SASL) and the generic pass-through kafka_properties, as name/value pairs for
 * the producer and every consumer, with no I/O (docs/security.md "Kafka", docs/commands.md).
 *
 * Dedicated keys carry what every secured cluster needs (security.protocol, sasl.mechanism,
 * sasl.username, sasl.password, ssl.ca.location, ssl.certificate.location, ssl.key.location,
 * ssl.key.password): typed, documented, and the secrets among them masked wherever the
 * configuration is shown. kafka_properties ("name=value;name=value") passes anything else
 * (e.g. ssl.endpoint.identification.algorithm, sasl.oauthbearer.*, socket.keepalive.enable)
 * straight to librdkafka, which checks names and values itself; it may not carry secrets (the
 * configuration shows it as it is) nor the properties the bridge owns (acks, enable.idempotence,
 * group.id, offsets...: changing them would break persist-before-acknowledge or the offset
 * rules), nor the ones a dedicated key sets. */
#ifndef KAFKA_SETTINGS_H
#define KAFKA_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge_config.h"

/* Called for each property; a non-zero return stops the walk and is returned. */
typedef int(kafka_setting_fn)(void *arg, const char *name, const char *value);

/* Calls fn for every property the configuration sets, in order: security.protocol; for
 * sasl_plaintext / sasl_ssl sasl.mechanism, sasl.username, sasl.password (password: the SASL
 * password, from kafka_sasl_password or read from kafka_sasl_password_file by the caller);
 * ssl.ca.location, ssl.certificate.location, ssl.key.location, ssl.key.password when set; then
 * each pair of kafka_properties. Returns 0, fn's first non-zero return, or -EINVAL with a reason
 * in why that never contains a value (a malformed or forbidden kafka_properties pair, SASL
 * without a username or password). */
int kafka_settings_each(const bridge_config_t *cfg, const char *password, kafka_setting_fn *fn,
                        void *arg, char *why, size_t whylen);

/* True for a property whose value is a secret (never logged, never in kafka_properties). */
bool kafka_setting_is_secret(const char *name);

#endif
