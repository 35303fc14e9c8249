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
     "ZeroMQ high-water mark of the core's sockets (messages)"},
    {"send_timeout_ms", CONFIG_DURATION, "1s", F(send_timeout_ms), 1, 60000, NULL, NULL,
     "how long core blocks on a full downstream stage before counting a drop"},
    {"auth_policy", CONFIG_ENUM, "accept-all", F(auth_policy), 0, 0,
     "accept-all|allow-list|deny-list", NULL,
     "answer to Authorize/StartTransaction/TransactionEvent id tags: accept all, accept only "
     "auth_list (others Invalid), or block auth_list (others Accepted)"},
    {"auth_list", CONFIG_STRING, "", F(auth_list), 0, 0, NULL, NULL,
     "comma-separated id tags of the allow or deny list"},
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
};
const size_t CORE_CONFIG_COUNT = sizeof(CORE_CONFIG) / sizeof(CORE_CONFIG[0]);
