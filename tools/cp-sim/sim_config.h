/* sim_config.h: cp-sim's settings (a scenario): the `cp-sim` section of a YAML file, then
 * OCPPGW_<KEY> environment variables, then --<key>=<value> on the command line. */
#ifndef CPSIM_SIM_CONFIG_H
#define CPSIM_SIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "config.h"

typedef struct sim_config {
    char *url;
    char *identity_prefix;
    int64_t identity_start;
    int64_t count;
    int64_t v201_percent;
    int64_t v21_percent;
    int64_t signed_meter_bytes;
    int64_t stream_interval_ms;
    char *mode;
    int64_t ramp_rate;
    int64_t msg_rate;
    int64_t duration_ms;
    int64_t drain_ms;
    int64_t heartbeat_interval_ms;
    int64_t session_every_ms;
    int64_t session_length_ms;
    int64_t meter_interval_ms;
    int64_t load_meters_per_session;
    int64_t call_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t backoff_min_ms;
    int64_t backoff_range_ms;
    int64_t backoff_repeat_times;
    int64_t offline_queue;
    char *basic_auth_password;
    char *source_addresses;
    char *downlink_reply;
    char *downlink_reject;
    char *log_file;
    char *log_format;
    char *progress;
    int64_t seed;
} sim_config_t;

extern const config_option_t SIM_CONFIG[];
extern const size_t SIM_CONFIG_COUNT;

/* ws://host:port/path split; host must be an IPv4 address literal (loopback load tests). */
typedef struct sim_url {
    char host[64];
    int port;
    char path[192];
    struct in_addr addr;
} sim_url_t;

int sim_parse_url(const char *url, sim_url_t *out, char *why, size_t whylen);

/* "127.0.0.1", "127.0.0.2-127.0.0.11", or a comma list of both: up to max addresses into out.
 * Returns how many, or -EINVAL with why. */
int sim_parse_sources(const char *spec, struct in_addr *out, int max, char *why, size_t whylen);

/* True when action (a comma list member of list) is named in list. */
bool sim_list_has(const char *list, const char *action, size_t len);

/* Moves every --<key>=<value> / --<key> <value> for a key of SIM_CONFIG into the environment as
 * OCPPGW_<KEY> and removes it from argv; returns the new argc. */
int sim_args_to_env(int argc, char **argv);

#endif
