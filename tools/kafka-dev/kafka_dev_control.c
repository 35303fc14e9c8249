/* kafka_dev_control.c: parser of kafka-dev's control lines and the line assembler (see the
 * header for the language). No I/O here: main.c reads the lines and applies the commands. */
#include "kafka_dev_control.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#define MAX_TOKENS 8

/* Kafka protocol request types (ApiKey), as the protocol guide names them. */
static const char *const api_key_names[] = {
    [0] = "Produce",
    [1] = "Fetch",
    [2] = "ListOffsets",
    [3] = "Metadata",
    [4] = "LeaderAndIsr",
    [5] = "StopReplica",
    [6] = "UpdateMetadata",
    [7] = "ControlledShutdown",
    [8] = "OffsetCommit",
    [9] = "OffsetFetch",
    [10] = "FindCoordinator",
    [11] = "JoinGroup",
    [12] = "Heartbeat",
    [13] = "LeaveGroup",
    [14] = "SyncGroup",
    [15] = "DescribeGroups",
    [16] = "ListGroups",
    [17] = "SaslHandshake",
    [18] = "ApiVersions",
    [19] = "CreateTopics",
    [20] = "DeleteTopics",
    [21] = "DeleteRecords",
    [22] = "InitProducerId",
    [23] = "OffsetForLeaderEpoch",
    [24] = "AddPartitionsToTxn",
    [25] = "AddOffsetsToTxn",
    [26] = "EndTxn",
    [27] = "WriteTxnMarkers",
    [28] = "TxnOffsetCommit",
    [29] = "DescribeAcls",
    [30] = "CreateAcls",
    [31] = "DeleteAcls",
    [32] = "DescribeConfigs",
    [33] = "AlterConfigs",
    [34] = "AlterReplicaLogDirs",
    [35] = "DescribeLogDirs",
    [36] = "SaslAuthenticate",
    [37] = "CreatePartitions",
    [38] = "CreateDelegationToken",
    [39] = "RenewDelegationToken",
    [40] = "ExpireDelegationToken",
    [41] = "DescribeDelegationToken",
    [42] = "DeleteGroups",
    [43] = "ElectLeaders",
    [44] = "IncrementalAlterConfigs",
    [45] = "AlterPartitionReassignments",
    [46] = "ListPartitionReassignments",
    [47] = "OffsetDelete",
};

/* Kafka's (Java) error names where librdkafka spells them differently. */
static const struct {
    const char *name;
    int code;
} error_aliases[] = {
    {"NOT_LEADER_OR_FOLLOWER", RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION},
    {"UNKNOWN_TOPIC_OR_PARTITION", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART},
    {"CORRUPT_MESSAGE", RD_KAFKA_RESP_ERR_INVALID_MSG},
    {"MESSAGE_TOO_LARGE", RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE},
    {"INVALID_FETCH_SIZE", RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE},
    {"UNKNOWN_SERVER_ERROR", RD_KAFKA_RESP_ERR_UNKNOWN},
};

typedef struct {
    const char *name;
    kafka_dev_cmd_kind_t kind;
    int min_args; /* after the command word */
    int max_args;
    const char *usage;
} command_spec_t;

static const command_spec_t commands[] = {
    {"ping", KAFKA_DEV_CMD_PING, 0, 0, "ping"},
    {"help", KAFKA_DEV_CMD_HELP, 0, 0, "help"},
    {"broker-down", KAFKA_DEV_CMD_BROKER_DOWN, 1, 1, "broker-down <id|all>"},
    {"broker-up", KAFKA_DEV_CMD_BROKER_UP, 1, 1, "broker-up <id|all>"},
    {"rtt", KAFKA_DEV_CMD_RTT, 2, 2, "rtt <id|all> <ms>"},
    {"request-errors", KAFKA_DEV_CMD_REQUEST_ERRORS, 3, 3,
     "request-errors <ApiKey> <count> <error>"},
    {"clear-request-errors", KAFKA_DEV_CMD_CLEAR_REQUEST_ERRORS, 1, 1,
     "clear-request-errors <ApiKey>"},
    {"partition-leader", KAFKA_DEV_CMD_PARTITION_LEADER, 3, 3,
     "partition-leader <topic> <partition> <id|none>"},
    {"create-topic", KAFKA_DEV_CMD_CREATE_TOPIC, 2, 3,
     "create-topic <topic> <partitions> [<replication>]"},
    {"coordinator", KAFKA_DEV_CMD_COORDINATOR, 3, 3, "coordinator <group|transaction> <key> <id>"},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why && whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Decimal integer, optional leading '-', nothing else (no spaces, no '+', no hex). */
static int parse_long(const char *text, long min, long max, long *out)
{
    const char *p = text;
    char *end = NULL;
    long v;

    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    errno = 0;
    v = strtol(text, &end, 10);
    if (*end != '\0')
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

/* A broker id: 1.., or the given keyword ("all" / "none") or -1 meaning KAFKA_DEV_BROKER_ALL. */
static int parse_broker(const char *text, const char *keyword, int32_t *out, char *why,
                        size_t whylen, const char *usage)
{
    long v;
    int rc;

    if (keyword && strcasecmp(text, keyword) == 0) {
        *out = KAFKA_DEV_BROKER_ALL;
        return 0;
    }
    rc = parse_long(text, keyword ? -1 : 1, INT32_MAX, &v);
    if (rc == -EINVAL) {
        if (keyword)
            return fail(why, whylen, "broker id '%s' is not a number or '%s' (usage: %s)", text,
                        keyword, usage);
        return fail(why, whylen, "broker id '%s' is not a number (usage: %s)", text, usage);
    }
    if (rc < 0 || v == 0)
        return fail(why, whylen, "broker id %s out of range (brokers are numbered from 1)", text);
    *out = (int32_t)v;
    return 0;
}

static bool topic_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > KAFKA_DEV_TOPIC_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int parse_topic(const char *text, char *out, char *why, size_t whylen)
{
    if (!topic_name_valid(text))
        return fail(why, whylen,
                    "invalid topic name '%.64s' (1 to %d of a-z A-Z 0-9 . _ -, not . or ..)", text,
                    KAFKA_DEV_TOPIC_MAX);
    snprintf(out, KAFKA_DEV_TOPIC_MAX + 1, "%s", text);
    return 0;
}

int kafka_dev_api_key_parse(const char *text, int16_t *api_key)
{
    long v;
    size_t n;

    if (!text || !*text)
        return -EINVAL;
    if (parse_long(text, 0, INT16_MAX, &v) == 0) {
        *api_key = (int16_t)v;
        return 0;
    }
    n = strlen(text);
    /* "ProduceRequest" is accepted for "Produce". */
    if (n > 7 && strcasecmp(text + n - 7, "Request") == 0)
        n -= 7;
    for (size_t i = 0; i < ARRAY_LEN(api_key_names); i++) {
        const char *name = api_key_names[i];
        if (name && strlen(name) == n && strncasecmp(text, name, n) == 0) {
            *api_key = (int16_t)i;
            return 0;
        }
    }
    /* librdkafka's own spelling of ApiVersions. */
    if (n == 10 && strncasecmp(text, "ApiVersion", n) == 0) {
        *api_key = 18;
        return 0;
    }
    return -EINVAL;
}

const char *kafka_dev_api_key_name(int16_t api_key)
{
    if (api_key < 0 || (size_t)api_key >= ARRAY_LEN(api_key_names))
        return NULL;
    return api_key_names[api_key];
}

/* Codes that are markers of librdkafka's table, not errors. */
static bool error_code_usable(int code)
{
    return code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__BEGIN &&
           code != RD_KAFKA_RESP_ERR__END;
}

int kafka_dev_error_parse(const char *text, int *error_code)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    long v;
    static const char prefix[] = "RD_KAFKA_RESP_ERR_";

    if (!text || !*text)
        return -EINVAL;
    rd_kafka_get_err_descs(&descs, &cnt);

    if (parse_long(text, INT_MIN, INT_MAX, &v) == 0) {
        for (size_t i = 0; i < cnt; i++) {
            if (descs[i].name && descs[i].code == (int)v && error_code_usable((int)v)) {
                *error_code = (int)v;
                return 0;
            }
        }
        return -EINVAL;
    }

    if (strncasecmp(text, prefix, sizeof(prefix) - 1) == 0)
        text += sizeof(prefix) - 1;
    for (size_t i = 0; i < cnt; i++) {
        if (descs[i].name && strcasecmp(text, descs[i].name) == 0 &&
            error_code_usable(descs[i].code)) {
            *error_code = descs[i].code;
            return 0;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(error_aliases); i++) {
        if (strcasecmp(text, error_aliases[i].name) == 0) {
            *error_code = error_aliases[i].code;
            return 0;
        }
    }
    return -EINVAL;
}

const char *kafka_dev_control_help(void)
{
    return "commands: ping | help | broker-down <id|all> | broker-up <id|all> | "
           "rtt <id|all> <ms> | request-errors <ApiKey> <count> <error> | "
           "clear-request-errors <ApiKey> | partition-leader <topic> <partition> <id|none> | "
           "create-topic <topic> <partitions> [<replication>] | "
           "coordinator <group|transaction> <key> <id>";
}

/* Split buf in place on spaces and tabs; returns the number of tokens or -E2BIG. */
static int tokenize(char *buf, char **tokens, int max)
{
    int n = 0;
    char *p = buf;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return n;
        if (n == max)
            return -E2BIG;
        tokens[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static int parse_args(const command_spec_t *spec, char **arg, int nargs, kafka_dev_command_t *cmd,
                      char *why, size_t whylen)
{
    long v;
    int rc;

    switch (spec->kind) {
    case KAFKA_DEV_CMD_NONE:
    case KAFKA_DEV_CMD_PING:
    case KAFKA_DEV_CMD_HELP:
        return 0;

    case KAFKA_DEV_CMD_BROKER_DOWN:
    case KAFKA_DEV_CMD_BROKER_UP:
        return parse_broker(arg[0], "all", &cmd->broker_id, why, whylen, spec->usage);

    case KAFKA_DEV_CMD_RTT:
        rc = parse_broker(arg[0], "all", &cmd->broker_id, why, whylen, spec->usage);
        if (rc < 0)
            return rc;
        rc = parse_long(arg[1], 0, KAFKA_DEV_RTT_MAX_MS, &v);
        if (rc == -EINVAL)
            return fail(why, whylen, "rtt '%.32s' is not a number of milliseconds (usage: %s)",
                        arg[1], spec->usage);
        if (rc < 0)
            return fail(why, whylen, "rtt %.32s out of range 0..%d ms", arg[1],
                        KAFKA_DEV_RTT_MAX_MS);
        cmd->rtt_ms = (int)v;
        return 0;

    case KAFKA_DEV_CMD_REQUEST_ERRORS:
        if (kafka_dev_api_key_parse(arg[0], &cmd->api_key) < 0)
            return fail(why, whylen, "unknown ApiKey '%.64s' (a name such as Produce or a number)",
                        arg[0]);
        rc = parse_long(arg[1], 1, KAFKA_DEV_ERRCOUNT_MAX, &v);
        if (rc == -EINVAL)
            return fail(why, whylen, "count '%.32s' is not a number (usage: %s)", arg[1],
                        spec->usage);
        if (rc < 0)
            return fail(why, whylen, "count %.32s out of range 1..%d", arg[1],
                        KAFKA_DEV_ERRCOUNT_MAX);
        cmd->count = (int)v;
        if (kafka_dev_error_parse(arg[2], &cmd->error_code) < 0)
            return fail(why, whylen,
                        "unknown error '%.64s' (a name such as NOT_LEADER_OR_FOLLOWER or a code)",
                        arg[2]);
        return 0;

    case KAFKA_DEV_CMD_CLEAR_REQUEST_ERRORS:
        if (kafka_dev_api_key_parse(arg[0], &cmd->api_key) < 0)
            return fail(why, whylen, "unknown ApiKey '%.64s' (a name such as Produce or a number)",
                        arg[0]);
        return 0;

    case KAFKA_DEV_CMD_PARTITION_LEADER:
        rc = parse_topic(arg[0], cmd->topic, why, whylen);
        if (rc < 0)
            return rc;
        rc = parse_long(arg[1], 0, INT32_MAX, &v);
        if (rc == -EINVAL)
            return fail(why, whylen, "partition '%.32s' is not a number (usage: %s)", arg[1],
                        spec->usage);
        if (rc < 0)
            return fail(why, whylen, "partition %.32s out of range", arg[1]);
        cmd->partition = (int32_t)v;
        return parse_broker(arg[2], "none", &cmd->broker_id, why, whylen, spec->usage);

    case KAFKA_DEV_CMD_CREATE_TOPIC:
        rc = parse_topic(arg[0], cmd->topic, why, whylen);
        if (rc < 0)
            return rc;
        rc = parse_long(arg[1], 1, KAFKA_DEV_PARTITIONS_MAX, &v);
        if (rc == -EINVAL)
            return fail(why, whylen, "partitions '%.32s' is not a number (usage: %s)", arg[1],
                        spec->usage);
        if (rc < 0)
            return fail(why, whylen, "partitions %.32s out of range 1..%d", arg[1],
                        KAFKA_DEV_PARTITIONS_MAX);
        cmd->partitions = (int)v;
        if (nargs < 3)
            return 0;
        rc = parse_long(arg[2], 1, KAFKA_DEV_REPLICATION_MAX, &v);
        if (rc == -EINVAL)
            return fail(why, whylen, "replication '%.32s' is not a number (usage: %s)", arg[2],
                        spec->usage);
        if (rc < 0)
            return fail(why, whylen, "replication %.32s out of range 1..%d", arg[2],
                        KAFKA_DEV_REPLICATION_MAX);
        cmd->replication = (int)v;
        return 0;

    case KAFKA_DEV_CMD_COORDINATOR:
        if (strcmp(arg[0], "transaction") == 0)
            cmd->transactional = true;
        else if (strcmp(arg[0], "group") != 0)
            return fail(why, whylen, "coordinator type '%.32s' is not group or transaction",
                        arg[0]);
        if (strlen(arg[1]) > KAFKA_DEV_KEY_MAX)
            return fail(why, whylen, "coordinator key longer than %d bytes", KAFKA_DEV_KEY_MAX);
        snprintf(cmd->key, sizeof(cmd->key), "%s", arg[1]);
        return parse_broker(arg[2], NULL, &cmd->broker_id, why, whylen, spec->usage);
    }
    return fail(why, whylen, "internal error: unhandled command");
}

int kafka_dev_control_parse(const char *line, kafka_dev_command_t *cmd, char *why, size_t whylen)
{
    char buf[KAFKA_DEV_LINE_MAX + 1];
    char *tok[MAX_TOKENS];
    size_t n;
    int ntok;

    if (why && whylen > 0)
        why[0] = '\0';
    memset(cmd, 0, sizeof(*cmd));
    cmd->kind = KAFKA_DEV_CMD_NONE;
    if (!line)
        return fail(why, whylen, "no line");

    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (n > KAFKA_DEV_LINE_MAX)
        return fail(why, whylen, "line longer than %d bytes", KAFKA_DEV_LINE_MAX);
    memcpy(buf, line, n);
    buf[n] = '\0';
    if (memchr(buf, '\n', n) || memchr(buf, '\r', n))
        return fail(why, whylen, "more than one line");

    ntok = tokenize(buf, tok, MAX_TOKENS);
    if (ntok == 0 || tok[0][0] == '#')
        return 0;

    for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
        const command_spec_t *spec = &commands[i];
        int nargs;

        if (strcmp(tok[0], spec->name) != 0)
            continue;
        nargs = ntok < 0 ? spec->max_args + 1 : ntok - 1;
        if (nargs < spec->min_args)
            return fail(why, whylen, "%s: missing argument (usage: %s)", spec->name, spec->usage);
        if (nargs > spec->max_args)
            return fail(why, whylen, "%s: too many arguments (usage: %s)", spec->name, spec->usage);
        cmd->kind = spec->kind;
        if (parse_args(spec, tok + 1, nargs, cmd, why, whylen) < 0) {
            memset(cmd, 0, sizeof(*cmd));
            cmd->kind = KAFKA_DEV_CMD_NONE;
            return -EINVAL;
        }
        return 0;
    }
    return fail(why, whylen, "unknown command '%.64s' (try: help)", tok[0]);
}

void kafka_dev_lines_init(kafka_dev_lines_t *lines)
{
    lines->len = 0;
    lines->skipping = false;
    lines->buf[0] = '\0';
}

void kafka_dev_lines_feed(kafka_dev_lines_t *lines, const char *data, size_t n,
                          kafka_dev_line_cb on_line, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i];

        if (c == '\n') {
            if (!lines->skipping) {
                lines->buf[lines->len] = '\0';
                on_line(lines->buf, false, arg);
            }
            lines->len = 0;
            lines->skipping = false;
            continue;
        }
        if (lines->skipping)
            continue;
        if (lines->len == KAFKA_DEV_LINE_MAX) {
            lines->buf[lines->len] = '\0';
            on_line(lines->buf, true, arg);
            lines->len = 0;
            lines->skipping = true;
            continue;
        }
        lines->buf[lines->len++] = c;
    }
}

void kafka_dev_lines_finish(kafka_dev_lines_t *lines, kafka_dev_line_cb on_line, void *arg)
{
    if (!lines->skipping && lines->len > 0) {
        lines->buf[lines->len] = '\0';
        on_line(lines->buf, false, arg);
    }
    lines->len = 0;
    lines->skipping = false;
}
