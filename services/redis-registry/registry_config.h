/* registry_config: the configuration table of redis-registry. */
#ifndef REGISTRY_CONFIG_H
#define REGISTRY_CONFIG_H

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
    char *redis_url;
    int64_t redis_timeout_ms;
    int64_t lease_ttl_ms;
    int64_t lease_refresh_ms;
    int64_t zmq_hwm;
    char *sentinel_addrs;
    char *sentinel_master;
    int64_t queue_limit;
    int64_t sweep_batch;
    int64_t sweep_grace_ms;
    char *events_topic;
    char *redis_password_file;
    int64_t reconcile_grace_ms;
    int64_t reconcile_interval_ms;
    int64_t orphan_forget_ms;
    int64_t epoch_ttl_ms;
    int64_t cred_rescan_ms;
    int64_t outbox_max_bytes;
} registry_config_t;

extern const config_option_t REGISTRY_CONFIG[];
extern const size_t REGISTRY_CONFIG_COUNT;

/* redis://[[user]:password@]host[:port][/db] or
 * redis+cluster://[[user]:password@]host:port[,host:port...] (a Redis Cluster: db 0 only) -> parts
 * (user: an ACL user, AUTH user password; without it AUTH password, the default user). 0 or -EINVAL
 * (why filled, never with the password). */
typedef struct {
    char host[256];
    int port;
    char user[128];
    char password[256];
    int db;
    bool cluster;     /* redis+cluster://: host:port,... are the seeds of a Redis Cluster */
    char seeds[1024]; /* cluster: the seed list as written (every entry with its port) */
} registry_redis_url_t;
int registry_parse_redis_url(const char *url, registry_redis_url_t *out, char *why, size_t whylen);
int registry_validate_redis_url(const char *value, char *why, size_t whylen);
/* The password from a file (a mounted Secret): its first line, without the line break. 0,
 * -ENOENT / -EACCES (why filled with the path and the reason, never the contents), -E2BIG. */
int registry_read_password_file(const char *path, char *out, size_t outlen, char *why,
                                size_t whylen);

/* "host:port,host:port" (Sentinel addresses; the port defaults to 26379) -> up to max entries.
 * Returns the number of entries (0 for an empty list) or -EINVAL (why filled). */
#define REGISTRY_MAX_SENTINELS 8
typedef struct {
    char host[256];
    int port;
} registry_addr_t;
int registry_parse_addr_list(const char *list, registry_addr_t *out, int max, char *why,
                             size_t whylen);
int registry_validate_addr_list(const char *value, char *why, size_t whylen);

#endif
