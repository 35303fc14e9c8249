/* sim_config.c: see sim_config.h. */
#include "sim_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(field) offsetof(sim_config_t, field)

static int validate_url(const char *v, char *why, size_t whylen)
{
    sim_url_t u;
    return sim_parse_url(v, &u, why, whylen);
}

static int validate_sources(const char *v, char *why, size_t whylen)
{
    struct in_addr a[64];
    int n = sim_parse_sources(v, a, 64, why, whylen);
    return n < 0 ? n : 0;
}

const config_option_t SIM_CONFIG[] = {
    {"url", CONFIG_STRING, "ws://127.0.0.1:8080/ocpp", F(url), 0, 0, NULL, validate_url,
     "gateway base URL; the identity is appended (ws://IPv4:port/path)"},
    {"identity_prefix", CONFIG_STRING, "SIM", F(identity_prefix), 0, 0, NULL, NULL,
     "identities are <prefix><6-digit number>"},
    {"identity_start", CONFIG_INT, "1", F(identity_start), 0, 100000000, NULL, NULL,
     "number of the first identity"},
    {"count", CONFIG_INT, "10", F(count), 1, 250000, NULL, NULL, "charge points to simulate"},
    {"v201_percent", CONFIG_INT, "50", F(v201_percent), 0, 100, NULL, NULL,
     "share of OCPP 2.0.1 stations (the rest speak 1.6, or 2.1: v21_percent)"},
    {"v21_percent", CONFIG_INT, "0", F(v21_percent), 0, 100, NULL, NULL,
     "share of OCPP 2.1 stations (v201_percent + v21_percent at most 100)"},
    {"signed_meter_bytes", CONFIG_INT, "16384", F(signed_meter_bytes), 0, 30000, NULL, NULL,
     "2.1 stations: length of the signed meter data of the transaction's begin and end "
     "registers (an Ended event carries both; 0: unsigned)"},
    {"stream_interval_ms", CONFIG_DURATION, "0", F(stream_interval_ms), 0, 86400000, NULL, NULL,
     "2.1 stations, life mode: open a periodic event stream after the boot and send a "
     "NotifyPeriodicEventStream SEND this often (0: no stream)"},
    {"mode", CONFIG_ENUM, "life", F(mode), 0, 0, "life|load", NULL,
     "life: realistic timers; load: paced session cycles at msg_rate"},
    {"ramp_rate", CONFIG_INT, "1000", F(ramp_rate), 1, 1000000, NULL, NULL,
     "new connections per second at start"},
    {"msg_rate", CONFIG_INT, "0", F(msg_rate), 0, 10000000, NULL, NULL,
     "load mode: total CALLs per second (0: each station sends again as soon as answered)"},
    {"duration_ms", CONFIG_DURATION, "0", F(duration_ms), 0, 0, NULL, NULL,
     "run time (0: until SIGINT/SIGTERM)"},
    {"drain_ms", CONFIG_DURATION, "3s", F(drain_ms), 0, 600000, NULL, NULL,
     "at the end, wait this long for answers and queued messages"},
    {"heartbeat_interval_ms", CONFIG_DURATION, "0", F(heartbeat_interval_ms), 0, 0, NULL, NULL,
     "life mode: heartbeat period (0: the interval the gateway returned)"},
    {"session_every_ms", CONFIG_DURATION, "60s", F(session_every_ms), 0, 0, NULL, NULL,
     "life mode: mean idle time between sessions (0: no sessions)"},
    {"session_length_ms", CONFIG_DURATION, "120s", F(session_length_ms), 1, 86400000, NULL, NULL,
     "life mode: session length"},
    {"meter_interval_ms", CONFIG_DURATION, "30s", F(meter_interval_ms), 1, 86400000, NULL, NULL,
     "life mode: meter values period during a session"},
    {"load_meters_per_session", CONFIG_INT, "8", F(load_meters_per_session), 0, 100000, NULL, NULL,
     "load mode: meter values per session cycle"},
    {"call_timeout_ms", CONFIG_DURATION, "30s", F(call_timeout_ms), 100, 86400000, NULL, NULL,
     "a CALL unanswered this long counts as a timeout and the station reconnects"},
    {"connect_timeout_ms", CONFIG_DURATION, "10s", F(connect_timeout_ms), 100, 86400000, NULL, NULL,
     "TCP connect + WebSocket upgrade deadline"},
    {"backoff_min_ms", CONFIG_DURATION, "1s", F(backoff_min_ms), 0, 0, NULL, NULL,
     "RetryBackOffWaitMinimum"},
    {"backoff_range_ms", CONFIG_DURATION, "2s", F(backoff_range_ms), 0, 0, NULL, NULL,
     "RetryBackOffRandomRange"},
    {"backoff_repeat_times", CONFIG_INT, "3", F(backoff_repeat_times), 0, 20, NULL, NULL,
     "RetryBackOffRepeatTimes"},
    {"offline_queue", CONFIG_INT, "1000", F(offline_queue), 0, 1000000, NULL, NULL,
     "transaction messages a station keeps while offline"},
    {"basic_auth_password", CONFIG_STRING, "", F(basic_auth_password), 0, 0, NULL, NULL,
     "if set, Authorization: Basic <identity>:<password>"},
    {"source_addresses", CONFIG_STRING, "", F(source_addresses), 0, 0, NULL, validate_sources,
     "local addresses to connect from, e.g. 127.0.0.2-127.0.0.11 (empty: kernel's choice)"},
    {"downlink_reply", CONFIG_ENUM, "accept", F(downlink_reply), 0, 0, "accept|reject", NULL,
     "answer CSMS commands positively or negatively"},
    {"downlink_reject", CONFIG_STRING, "", F(downlink_reject), 0, 0, NULL, NULL,
     "comma list of actions answered negatively even when downlink_reply is accept"},
    {"log_file", CONFIG_STRING, "", F(log_file), 0, 0, NULL, NULL,
     "log of every CALL sent (S), queued offline (Q) and answered (A), for loss checks"},
    {"log_format", CONFIG_ENUM, "basic", F(log_format), 0, 0, "basic|detailed", NULL,
     "log_file lines: basic, or detailed (times, connections, CSMS calls with message id and "
     "command reference)"},
    {"progress", CONFIG_ENUM, "auto", F(progress), 0, 0, "auto|on|off", NULL,
     "one-line progress on stderr (auto: when stderr is a terminal)"},
    {"seed", CONFIG_INT, "1", F(seed), 0, 0, NULL, NULL, "random seed"},
};
const size_t SIM_CONFIG_COUNT = sizeof(SIM_CONFIG) / sizeof(SIM_CONFIG[0]);

int sim_parse_url(const char *url, sim_url_t *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(url, "ws://", 5) != 0) {
        snprintf(why, whylen, "must start with ws:// (TLS is not supported by cp-sim)");
        return -EINVAL;
    }
    const char *h = url + 5;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof(out->host)) {
        snprintf(why, whylen, "missing or oversized host");
        return -EINVAL;
    }
    memcpy(out->host, h, hl);
    if (inet_pton(AF_INET, out->host, &out->addr) != 1) {
        snprintf(why, whylen, "host must be an IPv4 address");
        return -EINVAL;
    }
    const char *p = h + hl;
    out->port = 80;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(why, whylen, "port must be 1..65535");
            return -EINVAL;
        }
        out->port = (int)port;
        p = end;
    }
    if (*p && *p != '/') {
        snprintf(why, whylen, "unexpected '%c' after the port", *p);
        return -EINVAL;
    }
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    if (pl >= sizeof(out->path)) {
        snprintf(why, whylen, "path too long");
        return -EINVAL;
    }
    memcpy(out->path, p, pl);
    return 0;
}

static int parse_addr(const char *s, size_t l, struct in_addr *a)
{
    char buf[32];
    if (l == 0 || l >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, l);
    buf[l] = '\0';
    return inet_pton(AF_INET, buf, a) == 1 ? 0 : -EINVAL;
}

int sim_parse_sources(const char *spec, struct in_addr *out, int max, char *why, size_t whylen)
{
    int n = 0;
    const char *p = spec;
    while (*p) {
        size_t l = strcspn(p, ",");
        const char *dash = memchr(p, '-', l);
        struct in_addr a, b;
        if (dash) {
            if (parse_addr(p, (size_t)(dash - p), &a) ||
                parse_addr(dash + 1, l - (size_t)(dash - p) - 1, &b) ||
                ntohl(b.s_addr) < ntohl(a.s_addr)) {
                snprintf(why, whylen, "bad address range '%.*s'", (int)l, p);
                return -EINVAL;
            }
        } else if (parse_addr(p, l, &a)) {
            snprintf(why, whylen, "bad address '%.*s'", (int)l, p);
            return -EINVAL;
        } else {
            b = a;
        }
        for (uint32_t x = ntohl(a.s_addr); x <= ntohl(b.s_addr); x++) {
            if (n >= max) {
                snprintf(why, whylen, "more than %d source addresses", max);
                return -EINVAL;
            }
            out[n++].s_addr = htonl(x);
        }
        p += l;
        if (*p == ',')
            p++;
    }
    return n;
}

bool sim_list_has(const char *list, const char *action, size_t len)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t l = strcspn(p, ", ");
        if (l == len && l > 0 && memcmp(p, action, l) == 0)
            return true;
        p += l;
    }
    return false;
}

static const config_option_t *find_key(const char *k, size_t l)
{
    for (size_t i = 0; i < SIM_CONFIG_COUNT; i++)
        if (strlen(SIM_CONFIG[i].name) == l && memcmp(SIM_CONFIG[i].name, k, l) == 0)
            return &SIM_CONFIG[i];
    return NULL;
}

int sim_args_to_env(int argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0) {
            const char *k = a + 2;
            const char *eq = strchr(k, '=');
            size_t kl = eq ? (size_t)(eq - k) : strlen(k);
            const config_option_t *o = find_key(k, kl);
            if (o && (eq || i + 1 < argc)) {
                char env[96] = "OCPPGW_";
                for (size_t j = 0; j < kl && j + 8 < sizeof(env); j++)
                    env[7 + j] = (char)toupper((unsigned char)k[j]);
                setenv(env, eq ? eq + 1 : argv[++i], 1);
                continue;
            }
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}
