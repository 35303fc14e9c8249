/* kafka_dev_control.h: the control language of kafka-dev (fault injection into the mock Kafka
 * cluster), one command per text line, and the line assembler that cuts a byte stream into lines.
 *
 * Pure functions over plain data: kafka_dev_control_parse() turns a line into a
 * kafka_dev_command_t or a reason why not; main.c applies the command to the mock cluster.
 * Error names and codes are librdkafka's (rd_kafka_get_err_descs), so every error the client
 * library knows can be injected; ApiKey names are the Kafka protocol's.
 *
 *   ping                                      liveness of the control channel
 *   help                                      one-line summary of the commands
 *   broker-down <id|all>                      close the broker's connections, refuse new ones
 *   broker-up <id|all>                        accept connections again
 *   rtt <id|all> <ms>                         delay every response of the broker
 *   request-errors <ApiKey> <count> <error>   fail the next <count> requests of that type
 *   clear-request-errors <ApiKey>             forget the errors not consumed yet
 *   partition-leader <topic> <partition> <id|none>
 *   create-topic <topic> <partitions> [<replication>]
 *   coordinator <group|transaction> <key> <id>
 *
 * Blank lines and lines starting with '#' parse to KAFKA_DEV_CMD_NONE (nothing to do).
 */
#ifndef KAFKA_DEV_CONTROL_H
#define KAFKA_DEV_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest control line in bytes, without the newline. */
#define KAFKA_DEV_LINE_MAX 1024
/* Kafka's own limit on topic names. */
#define KAFKA_DEV_TOPIC_MAX 249
/* Longest group id or transactional id accepted by `coordinator`. */
#define KAFKA_DEV_KEY_MAX 255
/* Bounds of the numeric arguments. */
#define KAFKA_DEV_RTT_MAX_MS      600000
#define KAFKA_DEV_ERRCOUNT_MAX    100000
#define KAFKA_DEV_PARTITIONS_MAX  1024
#define KAFKA_DEV_REPLICATION_MAX 5
/* Broker id meaning "every broker" (broker-down/up, rtt) or "no leader" (partition-leader). */
#define KAFKA_DEV_BROKER_ALL  (-1)
#define KAFKA_DEV_BROKER_NONE (-1)

typedef enum {
    KAFKA_DEV_CMD_NONE = 0,
    KAFKA_DEV_CMD_PING,
    KAFKA_DEV_CMD_HELP,
    KAFKA_DEV_CMD_BROKER_DOWN,
    KAFKA_DEV_CMD_BROKER_UP,
    KAFKA_DEV_CMD_RTT,
    KAFKA_DEV_CMD_REQUEST_ERRORS,
    KAFKA_DEV_CMD_CLEAR_REQUEST_ERRORS,
    KAFKA_DEV_CMD_PARTITION_LEADER,
    KAFKA_DEV_CMD_CREATE_TOPIC,
    KAFKA_DEV_CMD_COORDINATOR
} kafka_dev_cmd_kind_t;

typedef struct kafka_dev_command {
    kafka_dev_cmd_kind_t kind;
    int32_t broker_id;  /* broker-down/up, rtt, partition-leader, coordinator; -1 = all/none */
    int rtt_ms;         /* rtt */
    int16_t api_key;    /* request-errors, clear-request-errors */
    int count;          /* request-errors: how many requests fail */
    int error_code;     /* request-errors: an rd_kafka_resp_err_t */
    int32_t partition;  /* partition-leader */
    int partitions;     /* create-topic */
    int replication;    /* create-topic; 0 = not given (the caller chooses) */
    bool transactional; /* coordinator: true for "transaction", false for "group" */
    char topic[KAFKA_DEV_TOPIC_MAX + 1]; /* partition-leader, create-topic */
    char key[KAFKA_DEV_KEY_MAX + 1];     /* coordinator */
} kafka_dev_command_t;

/* Parse one line (without or with its trailing "\n" / "\r\n") into *cmd. Returns 0, or -EINVAL
 * with a one-line human reason in why (always NUL-terminated when whylen > 0). */
int kafka_dev_control_parse(const char *line, kafka_dev_command_t *cmd, char *why, size_t whylen);

/* ApiKey by name ("Produce", "produce", "ProduceRequest") or number ("0"). 0 or -EINVAL. */
int kafka_dev_api_key_parse(const char *text, int16_t *api_key);

/* Protocol name of an ApiKey ("Produce"), or NULL when this table does not know it. */
const char *kafka_dev_api_key_name(int16_t api_key);

/* Error by librdkafka name ("NOT_LEADER_FOR_PARTITION", "_TRANSPORT", any case, optional
 * "RD_KAFKA_RESP_ERR_" prefix), by Kafka's Java name where it differs ("NOT_LEADER_OR_FOLLOWER",
 * "UNKNOWN_TOPIC_OR_PARTITION", ...) or by code ("6", "-195"). NO_ERROR is refused. 0 or -EINVAL.
 */
int kafka_dev_error_parse(const char *text, int *error_code);

/* One-line summary of the commands (static storage). */
const char *kafka_dev_control_help(void);

/* Line assembler: bytes in, complete lines out. A line longer than KAFKA_DEV_LINE_MAX is
 * reported once, with too_long set and the text cut, and the rest of it up to the next newline is
 * skipped. */
typedef void (*kafka_dev_line_cb)(const char *line, bool too_long, void *arg);

typedef struct kafka_dev_lines {
    char buf[KAFKA_DEV_LINE_MAX + 1];
    size_t len;
    bool skipping; /* inside an over-long line that was already reported */
} kafka_dev_lines_t;

void kafka_dev_lines_init(kafka_dev_lines_t *lines);

/* Feed n bytes; on_line is called for every complete line, without its '\n'. */
void kafka_dev_lines_feed(kafka_dev_lines_t *lines, const char *data, size_t n,
                          kafka_dev_line_cb on_line, void *arg);

/* End of input: a last line without '\n' is delivered. */
void kafka_dev_lines_finish(kafka_dev_lines_t *lines, kafka_dev_line_cb on_line, void *arg);

#endif
