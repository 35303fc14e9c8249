/* edge_config: the configuration table of ws-edge (keys, defaults, validators). */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    char *pod_id;
    char *edge_id;
    char *ipc_dir;
    int64_t core_count;
    char *log_level;
    char *admin_bind;
    int64_t admin_port;
    char *ws_bind;
    int64_t ws_port;
    char *path_prefixes;
    char *subprotocols;
    int64_t max_connections;
    int64_t max_message_bytes;
    int64_t send_queue_bytes;
    int64_t zmq_hwm;
    int64_t handshake_timeout_ms;
    int64_t max_header_bytes;
    int64_t rx_buffer_bytes;
    int64_t ping_interval_ms;
    int64_t idle_timeout_ms;
    int64_t message_rate;
    int64_t message_burst;
    int64_t ip_connect_rate;
    int64_t ip_connect_burst;
    int64_t drain_window_ms;
    int64_t core_outbox_bytes;
    int64_t ip_max_connections;
    int64_t rx_budget_bytes; /* 0 in the file: resolved at start (edge_config_resolve) */
    int64_t message_timeout_ms;
    int64_t max_handshakes;
    char *proxy_protocol;
    /* issue 13: TLS and authentication (docs/security.md) */
    int64_t wss_port;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_client_ca_file;
    int64_t security_profile;
    bool allow_unknown_stations;
    int64_t auth_hash_budget;
} edge_config_t;

extern const config_option_t EDGE_CONFIG[];
extern const size_t EDGE_CONFIG_COUNT;

/* Defaults that depend on the machine: rx_budget_bytes 0 becomes 1/8 of memory_limit (the
 * container's memory limit, or the machine's memory; 0: unknown, then 256 MiB). */
void edge_config_resolve(edge_config_t *cfg, uint64_t memory_limit);

/* The memory this process may use: the cgroup's limit (v2 memory.max, v1
 * memory.limit_in_bytes), else the machine's memory; 0 if neither can be read. */
uint64_t edge_config_memory_limit(void);

/* Checks what one key alone cannot (a listener at all, TLS files for wss, TLS for a minimum
 * profile of 2 or 3, a client CA for 3): 0, or -EINVAL with a message naming the keys. */
int edge_config_check(const edge_config_t *cfg, char *why, size_t len);
/* edge_config_check() for main(), then edge_config_resolve() with edge_config_memory_limit():
 * SERVICE_RUN, or (the message printed on stderr, cfg freed) 2, the exit status of an invalid
 * setting (service_setup's convention). */
int edge_config_validate(edge_config_t *cfg);

#endif
