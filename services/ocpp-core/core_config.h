/* core_config: the configuration table of ocpp-core. */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    char *pod_id;
    int64_t core_index;
    int64_t core_count;
    char *ipc_dir;
    char *log_level;
    char *admin_bind;
    int64_t admin_port;
    int64_t heartbeat_interval_s;
    char *events_topic;
    int64_t zmq_hwm;
    int64_t outbox_max_bytes;
    int64_t unrouted_queue_max;
    int64_t unrouted_queue_ms;
    bool event_heartbeat;
    char *auth_policy;
    char *auth_list;
    int64_t tag_cache_ms;
    int64_t tag_negative_cache_ms;
    int64_t tag_cache_max;
    int64_t tag_timeout_ms;
    char *tag_fallback;
    int64_t command_timeout_ms;
    int64_t command_queue_max;
    int64_t persist_timeout_ms;
    bool event_raw_payload;
    int64_t txid_block_size;
    int64_t txid_low_water;
    int64_t txid_ttl_ms;
    int64_t txid_claim_timeout_ms;
    int64_t txid_claim_budget_ms;
} core_config_t;

extern const config_option_t CORE_CONFIG[];
extern const size_t CORE_CONFIG_COUNT;

#endif
