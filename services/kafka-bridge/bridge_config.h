/* bridge_config: the configuration table of kafka-bridge. */
#ifndef BRIDGE_CONFIG_H
#define BRIDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    char *pod_id;
    int64_t core_count;
    char *ipc_dir;
    char *log_level;
    char *admin_bind;
    int64_t admin_port;
    char *kafka_brokers;
    int64_t kafka_linger_ms;
    char *kafka_compression;
    int64_t kafka_batch_messages;
    int64_t kafka_queue_messages;
    int64_t kafka_delivery_timeout_ms;
    char *results_topic;
    int64_t flush_timeout_ms;
    int64_t zmq_hwm;
    char *commands_topic;
    char *dlq_topic;
    bool commands_enabled;
    int64_t command_default_ttl_ms;
    int64_t command_max_hops;
    int64_t command_park_backoff_ms;
    int64_t command_park_backoff_max_ms;
    int64_t command_registry_timeout_ms;
    int64_t command_dedup_ttl_ms;
    int64_t command_max_inflight;
    int64_t command_core_grace_ms;
    int64_t command_repartition_grace_ms;
    int64_t command_partitions_refresh_ms;
    int64_t consumer_commit_ms;
    int64_t outbox_max_bytes;
    char *kafka_security_protocol;
    char *kafka_sasl_mechanism;
    char *kafka_sasl_username;
    char *kafka_sasl_password;
    char *kafka_sasl_password_file;
    char *kafka_ssl_ca_location;
    char *kafka_ssl_certificate_location;
    char *kafka_ssl_key_location;
    char *kafka_ssl_key_password;
    char *kafka_properties;
} bridge_config_t;

extern const config_option_t BRIDGE_CONFIG[];
extern const size_t BRIDGE_CONFIG_COUNT;

#endif
