/* edge_config: the configuration table of ws-edge. Every key can be set in the YAML file
 * (sections `common` and `ws-edge`) or by the environment variable OCPPGW_<KEY>. */
#include "edge_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "edge_subprotocol.h"
#include "service.h"

#define F(field) offsetof(edge_config_t, field)

const config_option_t EDGE_CONFIG[] = {
    SERVICE_POD_OPTIONS(edge_config_t, "9101"),
    {"edge_id", CONFIG_STRING, "edge-0", F(edge_id), 0, 0, NULL, NULL,
     "id of this edge process, unique within the pod"},
    {"ws_bind", CONFIG_STRING, "0.0.0.0", F(ws_bind), 0, 0, NULL, NULL,
     "address charge points connect to"},
    {"ws_port", CONFIG_INT, "8080", F(ws_port), 0, 65535, NULL, NULL,
     "WebSocket port (ws://; 0: no plain listener, wss only)"},
    {"path_prefixes", CONFIG_STRING, "/ocpp/,/ws/", F(path_prefixes), 0, 0, NULL, NULL,
     "comma-separated URL prefixes followed by the identity"},
    /* ocpp2.1 on: ocpp-core frames, validates and answers all of it (docs/ocpp-core.md) */
    {"subprotocols", CONFIG_STRING, "ocpp2.1,ocpp2.0.1,ocpp1.6", F(subprotocols), 0, 0, NULL,
     edge_subprotocol_validate_list,
     "enabled OCPP subprotocols (ocpp2.1, ocpp2.0.1, ocpp1.6); the newest one a station offers "
     "is chosen"},
    {"max_connections", CONFIG_INT, "300000", F(max_connections), 1, 10000000, NULL, NULL,
     "connections beyond this are refused with HTTP 503"},
    /* 256 KiB: OCPP 2.1 signed meter data is up to 32,768 characters, so a TransactionEvent
     * with two signed values at their maxLength is 75 KB; this fits seven (docs/ws-edge.md) */
    {"max_message_bytes", CONFIG_INT, "262144", F(max_message_bytes), 128, 16777216, NULL, NULL,
     "largest message accepted (reassembled); beyond: close 1009"},
    {"send_queue_bytes", CONFIG_INT, "1048576", F(send_queue_bytes), 1024, 268435456, NULL, NULL,
     "bytes queued to a slow reader before it is closed with 1008"},
    {"zmq_hwm", CONFIG_INT, "10000", F(zmq_hwm), 1, 10000000, NULL, NULL,
     "ZeroMQ high-water mark of the edge's sockets, in envelopes (set as ceil(n / 64) messages of "
     "up to 64)"},
    {"handshake_timeout_ms", CONFIG_DURATION, "10s", F(handshake_timeout_ms), 100, 600000, NULL,
     NULL, "time allowed from TCP accept to a complete upgrade (whole seconds, rounded up)"},
    {"max_header_bytes", CONFIG_INT, "2048", F(max_header_bytes), 256, 65535, NULL, NULL,
     "room for the upgrade request's URL and headers; a larger request is refused"},
    {"rx_buffer_bytes", CONFIG_INT, "512", F(rx_buffer_bytes), 128, 1048576, NULL, NULL,
     "per-connection receive buffer of libwebsockets; longer messages arrive in pieces"},
    {"ping_interval_ms", CONFIG_DURATION, "30s", F(ping_interval_ms), 1000, 3600000, NULL, NULL,
     "a connection silent this long is pinged (whole seconds)"},
    {"idle_timeout_ms", CONFIG_DURATION, "90s", F(idle_timeout_ms), 1000, 3600000, NULL, NULL,
     "a connection with no frame or pong this long is hung up (whole seconds)"},
    {"message_rate", CONFIG_INT, "20", F(message_rate), 0, 1000000, NULL, NULL,
     "messages per second per connection before reading pauses (0: no limit)"},
    {"message_burst", CONFIG_INT, "100", F(message_burst), 1, 1000000, NULL, NULL,
     "messages a connection may send at once above its rate"},
    {"ip_connect_rate", CONFIG_INT, "200", F(ip_connect_rate), 0, 1000000, NULL, NULL,
     "new connections per second per source address before HTTP 429 (0: no limit)"},
    {"ip_connect_burst", CONFIG_INT, "1000", F(ip_connect_burst), 1, 10000000, NULL, NULL,
     "connections a source address may open at once above its rate"},
    {"drain_window_ms", CONFIG_DURATION, "10s", F(drain_window_ms), 0, 600000, NULL, NULL,
     "on SIGTERM, connections are closed with 1001 in batches spread over this window"},
    {"core_outbox_bytes", CONFIG_INT, "4194304", F(core_outbox_bytes), 4096, 1073741824, NULL, NULL,
     "envelopes queued per core (and for the registry) when its ZeroMQ queue is full; beyond, "
     "connections stop reading (DISCONNECTs may queue 4 times as much)"},
    {"ip_max_connections", CONFIG_INT, "100", F(ip_max_connections), 0, 10000000, NULL, NULL,
     "WebSocket connections one source address (IPv6: one /64) may hold; the next upgrade gets "
     "HTTP 429, and as many sockets in the handshake (0: no limit)"},
    {"rx_budget_bytes", CONFIG_INT, "0", F(rx_budget_bytes), 0, 1099511627776, NULL, NULL,
     "memory for partial (fragmented) messages of all connections; beyond, the oldest stalled "
     "one, else the connection asking for more, is closed with 1009 (0: 1/8 of the container's "
     "memory limit)"},
    {"message_timeout_ms", CONFIG_DURATION, "30s", F(message_timeout_ms), 1000, 3600000, NULL, NULL,
     "a message begun must be complete within this time, else close 1008 (whole seconds)"},
    {"max_handshakes", CONFIG_INT, "10000", F(max_handshakes), 1, 10000000, NULL, NULL,
     "sockets accepted and not upgraded yet; beyond, the oldest (over 1 s) is closed or "
     "accepting pauses for 100 ms"},
    {"proxy_protocol", CONFIG_ENUM, "off", F(proxy_protocol), 0, 0, "off|v2", NULL,
     "v2: every connection starts with a PROXY protocol v2 header (from a load balancer); its "
     "address is the charge point's for limits, logs and CONNECT"},
    {"wss_port", CONFIG_INT, "0", F(wss_port), 0, 65535, NULL, NULL,
     "TLS WebSocket port (wss://, on ws_bind; 0: none); needs tls_cert_file and tls_key_file"},
    {"tls_cert_file", CONFIG_STRING, NULL, F(tls_cert_file), 0, 0, NULL, NULL,
     "PEM certificate of the wss listener, then its chain; reloaded on SIGHUP"},
    {"tls_key_file", CONFIG_STRING, NULL, F(tls_key_file), 0, 0, NULL, NULL,
     "PEM private key of tls_cert_file; reloaded on SIGHUP"},
    {"tls_client_ca_file", CONFIG_STRING, NULL, F(tls_client_ca_file), 0, 0, NULL, NULL,
     "PEM CA certificate(s) that issue charge-point client certificates (security profile 3); "
     "reloaded on SIGHUP"},
    {"security_profile", CONFIG_INT, "1", F(security_profile), 0, 3, NULL, NULL,
     "minimum OCPP security profile of every station: 1 Basic, 2 TLS + Basic, 3 mutual TLS "
     "(0: none, development only)"},
    {"allow_unknown_stations", CONFIG_BOOL, "false", F(allow_unknown_stations), 0, 0, NULL, NULL,
     "accept stations that have no credential record, unauthenticated (development only)"},
    {"auth_hash_budget", CONFIG_INT, "2000000", F(auth_hash_budget), 0, 1000000000, NULL, NULL,
     "PBKDF2 iterations per second the edge may spend checking passwords; beyond, upgrades "
     "get 503 (0: no limit)"},
};
const size_t EDGE_CONFIG_COUNT = sizeof(EDGE_CONFIG) / sizeof(EDGE_CONFIG[0]);

/* 1/8 of the memory: at the 2 GiB limit of k8s/statefulset.yaml, 256 MiB, room for 4,096
 * partial messages of 64 KiB at once while 200,000 idle connections (about 2.2 KiB each) and
 * their send queues keep the rest. A legitimate station's message is partial only while it
 * arrives, so the budget is nearly empty unless someone holds messages open on purpose. */
void edge_config_resolve(edge_config_t *cfg, uint64_t memory_limit)
{
    if (cfg->rx_budget_bytes == 0)
        cfg->rx_budget_bytes = memory_limit ? (int64_t)(memory_limit / 8) : 256 << 20;
}

/* The first number in a file (cgroup limits are one line; "max" reads as none). */
static uint64_t read_limit(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu", &v) != 1)
        v = 0;
    fclose(f);
    return (uint64_t)v;
}

uint64_t edge_config_memory_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t machine = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    uint64_t limit = read_limit("/sys/fs/cgroup/memory.max");
    if (!limit)
        limit = read_limit("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    /* cgroup v1 says "no limit" with a huge number */
    return limit && (!machine || limit < machine) ? limit : machine;
}

static bool set(const char *s)
{
    return s && s[0];
}

int edge_config_check(const edge_config_t *cfg, char *why, size_t len)
{
    const char *msg = NULL;
    if (cfg->ws_port == 0 && cfg->wss_port == 0)
        msg = "ws_port and wss_port are both 0: the edge would not listen at all";
    else if (cfg->ws_port == cfg->wss_port)
        msg = "ws_port and wss_port must differ";
    else if (cfg->wss_port && (!set(cfg->tls_cert_file) || !set(cfg->tls_key_file)))
        msg = "wss_port needs tls_cert_file and tls_key_file";
    else if (cfg->security_profile >= 2 && cfg->wss_port == 0)
        msg = "security_profile 2 and 3 need TLS: set wss_port, tls_cert_file and tls_key_file";
    else if (cfg->security_profile == 3 && !set(cfg->tls_client_ca_file))
        msg = "security_profile 3 needs tls_client_ca_file (the CA of the stations' certificates)";
    else if (set(cfg->tls_client_ca_file) && cfg->wss_port == 0)
        msg = "tls_client_ca_file needs the wss listener (wss_port)";
    if (!msg)
        return 0;
    snprintf(why, len, "%s", msg);
    return -EINVAL;
}

int edge_config_validate(edge_config_t *cfg)
{
    char why[160];
    if (edge_config_check(cfg, why, sizeof(why)) == 0) {
        edge_config_resolve(cfg, edge_config_memory_limit());
        return SERVICE_RUN;
    }
    fprintf(stderr, "ws-edge: invalid configuration: %s\n", why);
    config_free(EDGE_CONFIG, EDGE_CONFIG_COUNT, cfg);
    return 2;
}
