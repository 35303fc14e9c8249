/* core_config: the configuration table of ocpp-core. Every key can be set in the YAML file
 * (sections `common` and `ocpp-core`) or by the environment variable OCPPGW_<KEY>. */
#include "core_config.h"

#include "service.h"

#define F(field) offsetof(core_config_t, field)

const config_option_t CORE_CONFIG[] = {
    SERVICE_POD_OPTIONS(core_config_t, "9102"),
    {"core_index", CONFIG_INT, "0", F(core_index), 0, 63, NULL, NULL,
     "index of this core process within the pod (0 .. core_count-1)"},
    {"heartbeat_interval_s", CONFIG_INT, "300", F(heartbeat_interval_s), 1, 86400, NULL, NULL,
     "heartbeat interval returned in BootNotification responses (seconds)"},
    {"events_topic", CONFIG_STRING, "ocpp-events-up", F(events_topic), 0, 0, NULL, NULL,
     "Kafka topic of unified events"},
    {"zmq_hwm", CONFIG_INT, "10000", F(zmq_hwm), 1, 10000000, NULL, NULL,
     "ZeroMQ high-water mark of the core's sockets, in envelopes (set as ceil(n / 64) messages of "
     "up to 64)"},
    {"outbox_max_bytes", CONFIG_INT, "8388608", F(outbox_max_bytes), 65536, 1073741824, NULL, NULL,
     "bytes queued per receiver (each edge, kafka-bridge, redis-registry) once its ZeroMQ pipe is "
     "full; the core never waits on a peer: past this, events of CALLs are refused (the CALL is "
     "answered InternalError \"gateway busy, retry\"), answers to stations are dropped, and "
     "results and registrations may use 4 times as much (docs/ocpp-core.md)"},
    {"unrouted_queue_max", CONFIG_INT, "1000", F(unrouted_queue_max), 0, 1000000, NULL, NULL,
     "envelopes of an edge that has sent no HELLO since this core started, held until it does "
     "(the oldest is dropped beyond, counted)"},
    {"unrouted_queue_ms", CONFIG_DURATION, "5s", F(unrouted_queue_ms), 1, 60000, NULL, NULL,
     "how long such an envelope is held before it is dropped (counted); more than the edges' "
     "HELLO period, since a HELLO may be dropped when the core is busy"},
    {"event_heartbeat", CONFIG_BOOL, "false", F(event_heartbeat), 0, 0, NULL, NULL,
     "publish a `heartbeat` event for each Heartbeat (off: Heartbeats are answered without "
     "Kafka, even while kafka-bridge is full)"},
    {"auth_policy", CONFIG_ENUM, "accept-all", F(auth_policy), 0, 0,
     "accept-all|allow-list|deny-list|redis", NULL,
     "answer to Authorize/StartTransaction/StopTransaction/TransactionEvent id tags: accept all "
     "(development), accept only auth_list (others Invalid), block auth_list (others Accepted), "
     "or the status the backend keeps in Redis as idtag:<token> (docs/security.md)"},
    {"auth_list", CONFIG_STRING, "", F(auth_list), 0, 0, NULL, NULL,
     "comma-separated id tags of the allow or deny list"},
    {"tag_cache_ms", CONFIG_DURATION, "1m", F(tag_cache_ms), 0, 86400000, NULL, NULL,
     "auth_policy redis: how long an Accepted id token is answered from the core's cache (0: "
     "ask every time); a token blocked in Redis may be accepted for this long"},
    {"tag_negative_cache_ms", CONFIG_DURATION, "10s", F(tag_negative_cache_ms), 0, 86400000, NULL,
     NULL,
     "auth_policy redis: how long any other answer (unknown, Blocked, Expired, Invalid) is "
     "cached, so a token the backend adds or unblocks works soon"},
    {"tag_cache_max", CONFIG_INT, "100000", F(tag_cache_max), 0, 100000000, NULL, NULL,
     "auth_policy redis: id tokens cached at most per core (least recently used go first)"},
    {"tag_timeout_ms", CONFIG_DURATION, "2s", F(tag_timeout_ms), 1, 60000, NULL, NULL,
     "auth_policy redis: how long a CALL waits for its id token's status before tag_fallback "
     "answers it"},
    {"tag_fallback", CONFIG_ENUM, "reject", F(tag_fallback), 0, 0, "reject|accept", NULL,
     "auth_policy redis: the answer when Redis cannot tell in time (reject: Invalid; accept: "
     "Accepted, a station keeps charging while Redis is down)"},
    {"command_timeout_ms", CONFIG_DURATION, "30s", F(command_timeout_ms), 1, 3600000, NULL, NULL,
     "how long a downlink CALL waits for the charge point's response (result timeout)"},
    {"command_queue_max", CONFIG_INT, "16", F(command_queue_max), 1, 10000, NULL, NULL,
     "commands queued per charge point behind the one in flight (more: result rejected)"},
    {"persist_timeout_ms", CONFIG_DURATION, "0", F(persist_timeout_ms), 0, 3600000, NULL, NULL,
     "answer a transaction message or critical security event with InternalError when Kafka has "
     "not confirmed its event within this time (0: wait for the confirmation; never answer "
     "before it)"},
    {"event_raw_payload", CONFIG_BOOL, "false", F(event_raw_payload), 0, 0, NULL, NULL,
     "add the OCPP payload as received to the data of every unified event (member raw)"},
    {"txid_block_size", CONFIG_INT, "1000", F(txid_block_size), 1, 10000, NULL, NULL,
     "OCPP 1.6 transaction ids this core asks the registry for at a time (TXID_BLOCK; ids of a "
     "block not used when the core stops are never given: gaps, no collisions)"},
    {"txid_low_water", CONFIG_INT, "200", F(txid_low_water), 0, 10000, NULL, NULL,
     "ask the next block of transaction ids when fewer than this are left (at most "
     "txid_block_size)"},
    {"txid_ttl_ms", CONFIG_DURATION, "168h", F(txid_ttl_ms), 1, 2592000000, NULL, NULL,
     "how long Redis remembers a 1.6 StartTransaction's transaction id under its natural key "
     "(identity, connector, timestamp, idTag), so a resend on any pod gets the same id: longer "
     "than a station's offline queue plus its retries (at most 30 days)"},
    {"txid_claim_timeout_ms", CONFIG_DURATION, "1s", F(txid_claim_timeout_ms), 1, 60000, NULL, NULL,
     "a TXID_CLAIM or TXID_BLOCK without answer this long is sent again (same candidate: the "
     "registry finds its own id if the first one was stored)"},
    {"txid_claim_budget_ms", CONFIG_DURATION, "5s", F(txid_claim_budget_ms), 1, 600000, NULL, NULL,
     "how long a 1.6 StartTransaction waits for its transaction id (retrying while Redis is "
     "unreachable) before it is answered InternalError, which stations resend; keep it below "
     "the stations' message timeout"},
};
const size_t CORE_CONFIG_COUNT = sizeof(CORE_CONFIG) / sizeof(CORE_CONFIG[0]);
