/* bridge_config: the configuration table of kafka-bridge. Every key can be set in the YAML
 * file (sections `common` and `kafka-bridge`) or by OCPPGW_<KEY>. */
#include "bridge_config.h"

#define F(field) offsetof(bridge_config_t, field)

const config_option_t BRIDGE_CONFIG[] = {
    {"pod_id", CONFIG_STRING, "", F(pod_id), 0, 0, NULL, NULL,
     "pod this process belongs to (default: host name)"},
    {"core_count", CONFIG_INT, "1", F(core_count), 1, 64, NULL, NULL,
     "number of ocpp-core processes in the pod"},
    {"ipc_dir", CONFIG_STRING, "/tmp/ocppgw", F(ipc_dir), 0, 0, NULL, NULL,
     "directory of the pod's ipc:// sockets"},
    {"log_level", CONFIG_ENUM, "info", F(log_level), 0, 0, "debug|info|warn|error", NULL,
     "log threshold"},
    {"admin_bind", CONFIG_STRING, "127.0.0.1", F(admin_bind), 0, 0, NULL, NULL,
     "address of the /metrics, /healthz, /readyz listener"},
    {"admin_port", CONFIG_INT, "9103", F(admin_port), 0, 65535, NULL, NULL,
     "port of the admin listener (0: ephemeral)"},
    {"kafka_brokers", CONFIG_STRING, "127.0.0.1:9092", F(kafka_brokers), 0, 0, NULL, NULL,
     "Kafka bootstrap servers (host:port,...)"},
    {"kafka_linger_ms", CONFIG_INT, "10", F(kafka_linger_ms), 0, 5000, NULL, NULL,
     "producer batching delay (linger.ms)"},
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
    {"zmq_hwm", CONFIG_INT, "10000", F(zmq_hwm), 1, 10000000, NULL, NULL,
     "ZeroMQ high-water mark (messages)"},
};
const size_t BRIDGE_CONFIG_COUNT = sizeof(BRIDGE_CONFIG) / sizeof(BRIDGE_CONFIG[0]);
