/* bridge_config: the configuration table of kafka-bridge. Every key can be set in the YAML
 * file (sections `common` and `kafka-bridge`) or by OCPPGW_<KEY>. */
#include "bridge_config.h"

#include "service.h"

#define F(field) offsetof(bridge_config_t, field)

const config_option_t BRIDGE_CONFIG[] = {
    SERVICE_POD_OPTIONS(bridge_config_t, "9103"),
    {"kafka_brokers", CONFIG_STRING, "127.0.0.1:9092", F(kafka_brokers), 0, 0, NULL, NULL,
     "Kafka bootstrap servers (host:port,...)"},
    {"kafka_linger_ms", CONFIG_INT, "5", F(kafka_linger_ms), 0, 5000, NULL, NULL,
     "producer batching delay (linger.ms); under load batches fill before it, so it mostly "
     "adds to the latency at low rates (bench/README.md)"},
    {"kafka_compression", CONFIG_ENUM, "lz4", F(kafka_compression), 0, 0,
     "none|gzip|snappy|lz4|zstd", NULL, "producer compression codec"},
    {"kafka_batch_messages", CONFIG_INT, "10000", F(kafka_batch_messages), 1, 1000000, NULL, NULL,
     "batch.num.messages"},
    {"kafka_queue_messages", CONFIG_INT, "100000", F(kafka_queue_messages), 1, 10000000, NULL, NULL,
     "producer queue bound (queue.buffering.max.messages); full = flow control"},
    {"kafka_delivery_timeout_ms", CONFIG_DURATION, "5m", F(kafka_delivery_timeout_ms), 1000,
     3600000, NULL, NULL, "time librdkafka retries a record before reporting it failed"},
    {"results_topic", CONFIG_STRING, "command-results", F(results_topic), 0, 0, NULL, NULL,
     "Kafka topic of command results"},
    {"flush_timeout_ms", CONFIG_DURATION, "10s", F(flush_timeout_ms), 0, 600000, NULL, NULL,
     "how long shutdown waits for queued records to be delivered"},
    {"commands_topic", CONFIG_STRING, "commands-down", F(commands_topic), 0, 0, NULL, NULL,
     "Kafka topic of commands; this pod reads partition (murmur2(pod) & 0x7fffffff) % N"},
    {"dlq_topic", CONFIG_STRING, "commands-dlq", F(dlq_topic), 0, 0, NULL, NULL,
     "Kafka topic that gets a copy of every invalid or expired command"},
    {"commands_enabled", CONFIG_BOOL, "true", F(commands_enabled), 0, 0, NULL, NULL,
     "consume commands-down (false: publish only)"},
    {"command_default_ttl_ms", CONFIG_DURATION, "10m", F(command_default_ttl_ms), 1000, 604800000,
     NULL, NULL,
     "lifetime of a command that has neither expires_at nor ttl_ms (from its record timestamp; "
     "sent to ocpp-core as COMMAND.expires_at_ms)"},
    {"command_max_hops", CONFIG_INT, "3", F(command_max_hops), 0, 100, NULL, NULL,
     "times a command may be re-published to another pod before it expires"},
    {"command_park_backoff_ms", CONFIG_DURATION, "500ms", F(command_park_backoff_ms), 10, 600000,
     NULL, NULL, "first re-check of a parked command (doubles per attempt)"},
    {"command_park_backoff_max_ms", CONFIG_DURATION, "30s", F(command_park_backoff_max_ms), 10,
     3600000, NULL, NULL, "longest pause between re-checks of a parked command"},
    {"command_registry_timeout_ms", CONFIG_DURATION, "3s", F(command_registry_timeout_ms), 100,
     600000, NULL, NULL, "LOOKUP or DEDUP unanswered this long is sent again"},
    {"command_dedup_ttl_ms", CONFIG_DURATION, "24h", F(command_dedup_ttl_ms), 1000, 2592000000,
     NULL, NULL,
     "how long a command_id is remembered cluster-wide after the command's deadline and "
     "command_core_grace_ms (DEDUP ttl_ms = time left + grace + this)"},
    {"command_core_grace_ms", CONFIG_DURATION, "2m", F(command_core_grace_ms), 1000, 86400000, NULL,
     NULL, "a command at a core without RESULT this long after its expiry is finished as timeout"},
    {"command_repartition_grace_ms", CONFIG_DURATION, "5m", F(command_repartition_grace_ms), 0,
     86400000, NULL, NULL,
     "after the partition count of commands-down changed, the pod's old partition is read until "
     "drained and at least this long (backends still routing with the old count; 5m: the Java "
     "client's metadata.max.age.ms)"},
    {"command_partitions_refresh_ms", CONFIG_DURATION, "30s", F(command_partitions_refresh_ms), 0,
     3600000, NULL, NULL,
     "how often the partition count of commands-down is asked (a change moves the pod to its new "
     "partition); 0: never"},
    {"command_max_inflight", CONFIG_INT, "10000", F(command_max_inflight), 1, 10000000, NULL, NULL,
     "commands without a final result before consumption pauses"},
    {"consumer_commit_ms", CONFIG_DURATION, "1s", F(consumer_commit_ms), 100, 600000, NULL, NULL,
     "interval of commits of the stored offsets"},
    {"zmq_hwm", CONFIG_INT, "10000", F(zmq_hwm), 1, 10000000, NULL, NULL,
     "ZeroMQ high-water mark, in envelopes (set as ceil(n / 64) messages of up to 64)"},
    {"outbox_max_bytes", CONFIG_INT, "8388608", F(outbox_max_bytes), 65536, 1073741824, NULL, NULL,
     "bytes of envelopes kept for each full receiver (a core, the registry) before its policy "
     "applies: COMMAND waits, LOOKUP/DEDUP/ANNOUNCE dropped, EVENT_ACK kept up to 4x"},
    {"kafka_security_protocol", CONFIG_ENUM, "plaintext", F(kafka_security_protocol), 0, 0,
     "plaintext|ssl|sasl_plaintext|sasl_ssl", NULL,
     "librdkafka security.protocol for the producer and every consumer (docs/security.md)"},
    {"kafka_sasl_mechanism", CONFIG_ENUM, "PLAIN", F(kafka_sasl_mechanism), 0, 0,
     "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512", NULL,
     "sasl.mechanism with kafka_security_protocol sasl_plaintext or sasl_ssl"},
    {"kafka_sasl_username", CONFIG_STRING, "", F(kafka_sasl_username), 0, 0, NULL, NULL,
     "sasl.username (SASL protocols)"},
    {"kafka_sasl_password", CONFIG_STRING, "", F(kafka_sasl_password), 0, 0, NULL, NULL,
     "sasl.password, best from the environment (never logged; or kafka_sasl_password_file)"},
    {"kafka_sasl_password_file", CONFIG_STRING, "", F(kafka_sasl_password_file), 0, 0, NULL, NULL,
     "file holding sasl.password (e.g. a mounted Secret; one trailing newline ignored)"},
    {"kafka_ssl_ca_location", CONFIG_STRING, "", F(kafka_ssl_ca_location), 0, 0, NULL, NULL,
     "ssl.ca.location: CA certificate(s) to verify the brokers (empty: system default)"},
    {"kafka_ssl_certificate_location", CONFIG_STRING, "", F(kafka_ssl_certificate_location), 0, 0,
     NULL, NULL, "ssl.certificate.location: client certificate for mutual TLS"},
    {"kafka_ssl_key_location", CONFIG_STRING, "", F(kafka_ssl_key_location), 0, 0, NULL, NULL,
     "ssl.key.location: private key of the client certificate"},
    {"kafka_ssl_key_password", CONFIG_STRING, "", F(kafka_ssl_key_password), 0, 0, NULL, NULL,
     "ssl.key.password of an encrypted client key (never logged)"},
    {"kafka_properties", CONFIG_STRING, "", F(kafka_properties), 0, 0, NULL, NULL,
     "more librdkafka properties, name=value;name=value (no secrets, not the ones the bridge "
     "sets: docs/security.md)"},
};
const size_t BRIDGE_CONFIG_COUNT = sizeof(BRIDGE_CONFIG) / sizeof(BRIDGE_CONFIG[0]);
