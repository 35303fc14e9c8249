/* test_kafka_dev_control.c: unit tests of kafka-dev's control-line parser and line assembler
 * (tools/kafka-dev/kafka_dev_control.c): every command, every kind of refusal, ApiKey and error
 * name resolution, and cutting a byte stream into lines. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kafka_dev_control.h"

static kafka_dev_command_t cmd;
static char why[256];

static int parse(const char *line)
{
    memset(why, 'x', sizeof(why) - 1);
    why[sizeof(why) - 1] = '\0';
    return kafka_dev_control_parse(line, &cmd, why, sizeof(why));
}

/* The line is refused and the reason contains `part`. */
static void assert_refused(const char *line, const char *part)
{
    int rc = parse(line);

    ck_assert_msg(rc == -EINVAL, "'%s' was accepted", line);
    ck_assert_msg(strstr(why, part) != NULL, "'%s': reason '%s' lacks '%s'", line, why, part);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_NONE);
}

START_TEST(test_blank_and_comment)
{
    ck_assert_int_eq(parse(""), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_NONE);
    ck_assert_str_eq(why, "");
    ck_assert_int_eq(parse("   \t \r\n"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_NONE);
    ck_assert_int_eq(parse("# broker-down 1"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_NONE);
}
END_TEST

START_TEST(test_ping_help)
{
    ck_assert_int_eq(parse("ping"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_PING);
    ck_assert_int_eq(parse("  help\n"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_HELP);
    ck_assert_ptr_nonnull(strstr(kafka_dev_control_help(), "request-errors"));
    assert_refused("ping now", "too many arguments");
}
END_TEST

START_TEST(test_broker_down_up)
{
    ck_assert_int_eq(parse("broker-down 1"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_BROKER_DOWN);
    ck_assert_int_eq(cmd.broker_id, 1);
    ck_assert_int_eq(parse("broker-up\t3\r\n"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_BROKER_UP);
    ck_assert_int_eq(cmd.broker_id, 3);
    ck_assert_int_eq(parse("broker-down all"), 0);
    ck_assert_int_eq(cmd.broker_id, KAFKA_DEV_BROKER_ALL);
    ck_assert_int_eq(parse("broker-up ALL"), 0);
    ck_assert_int_eq(cmd.broker_id, KAFKA_DEV_BROKER_ALL);
    ck_assert_int_eq(parse("broker-up -1"), 0);
    ck_assert_int_eq(cmd.broker_id, KAFKA_DEV_BROKER_ALL);
}
END_TEST

START_TEST(test_broker_refusals)
{
    assert_refused("broker-down", "missing argument");
    assert_refused("broker-down", "usage: broker-down <id|all>");
    assert_refused("broker-down 1 2", "too many arguments");
    assert_refused("broker-down one", "not a number");
    assert_refused("broker-down 1x", "not a number");
    assert_refused("broker-down 0x1", "not a number");
    assert_refused("broker-down +1", "not a number");
    assert_refused("broker-down 0", "out of range");
    assert_refused("broker-down -2", "out of range");
    assert_refused("broker-up 99999999999", "out of range");
    assert_refused("broker-up none", "not a number");
}
END_TEST

START_TEST(test_rtt)
{
    ck_assert_int_eq(parse("rtt 2 250"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_RTT);
    ck_assert_int_eq(cmd.broker_id, 2);
    ck_assert_int_eq(cmd.rtt_ms, 250);
    ck_assert_int_eq(parse("rtt all 0"), 0);
    ck_assert_int_eq(cmd.broker_id, KAFKA_DEV_BROKER_ALL);
    ck_assert_int_eq(cmd.rtt_ms, 0);
    assert_refused("rtt 1", "missing argument");
    assert_refused("rtt", "missing argument");
    assert_refused("rtt 1 100 ms", "too many arguments");
    assert_refused("rtt x 100", "not a number");
    assert_refused("rtt 1 fast", "not a number of milliseconds");
    assert_refused("rtt 1 1.5", "not a number");
    assert_refused("rtt 1 -5", "out of range");
    assert_refused("rtt 1 600001", "out of range");
}
END_TEST

START_TEST(test_request_errors)
{
    ck_assert_int_eq(parse("request-errors Produce 3 NOT_LEADER_OR_FOLLOWER"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_REQUEST_ERRORS);
    ck_assert_int_eq(cmd.api_key, 0);
    ck_assert_int_eq(cmd.count, 3);
    ck_assert_int_eq(cmd.error_code, 6);

    ck_assert_int_eq(parse("request-errors 22 1 7"), 0);
    ck_assert_int_eq(cmd.api_key, 22);
    ck_assert_int_eq(cmd.count, 1);
    ck_assert_int_eq(cmd.error_code, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);

    ck_assert_int_eq(parse("request-errors fetchrequest 2 rd_kafka_resp_err__transport"), 0);
    ck_assert_int_eq(cmd.api_key, 1);
    ck_assert_int_eq(cmd.error_code, RD_KAFKA_RESP_ERR__TRANSPORT);

    ck_assert_int_eq(parse("clear-request-errors Metadata"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_CLEAR_REQUEST_ERRORS);
    ck_assert_int_eq(cmd.api_key, 3);
}
END_TEST

START_TEST(test_request_errors_refusals)
{
    assert_refused("request-errors Produce 3", "missing argument");
    assert_refused("request-errors", "missing argument");
    assert_refused("request-errors Produce 3 6 7", "too many arguments");
    assert_refused("request-errors Produse 3 6", "unknown ApiKey 'Produse'");
    assert_refused("request-errors -1 3 6", "unknown ApiKey");
    assert_refused("request-errors 40000 3 6", "unknown ApiKey");
    assert_refused("request-errors Produce three 6", "count 'three' is not a number");
    assert_refused("request-errors Produce 0 6", "out of range");
    assert_refused("request-errors Produce 100001 6", "out of range");
    assert_refused("request-errors Produce 1 NOT_A_REAL_ERROR", "unknown error 'NOT_A_REAL_ERROR'");
    assert_refused("request-errors Produce 1 NO_ERROR", "unknown error");
    assert_refused("request-errors Produce 1 0", "unknown error");
    assert_refused("request-errors Produce 1 -200", "unknown error"); /* _BEGIN marker */
    assert_refused("request-errors Produce 1 99999", "unknown error");
    assert_refused("clear-request-errors", "missing argument");
    assert_refused("clear-request-errors Nope", "unknown ApiKey");
}
END_TEST

START_TEST(test_api_keys)
{
    static const struct {
        const char *name;
        int16_t key;
    } want[] = {
        {"Produce", 0},           {"Fetch", 1},
        {"ListOffsets", 2},       {"Metadata", 3},
        {"OffsetCommit", 8},      {"OffsetFetch", 9},
        {"FindCoordinator", 10},  {"JoinGroup", 11},
        {"Heartbeat", 12},        {"InitProducerId", 22},
        {"ApiVersions", 18},      {"ApiVersion", 18},
        {"SyncGroup", 14},        {"LeaveGroup", 13},
        {"EndTxn", 26},           {"PRODUCE", 0},
        {"heartbeatRequest", 12},
    };
    int16_t k;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        k = -1;
        ck_assert_msg(kafka_dev_api_key_parse(want[i].name, &k) == 0, "%s", want[i].name);
        ck_assert_int_eq(k, want[i].key);
    }
    ck_assert_int_eq(kafka_dev_api_key_parse("0", &k), 0);
    ck_assert_int_eq(k, 0);
    ck_assert_int_eq(kafka_dev_api_key_parse("67", &k), 0);
    ck_assert_int_eq(k, 67);
    ck_assert_int_eq(kafka_dev_api_key_parse("", &k), -EINVAL);
    ck_assert_int_eq(kafka_dev_api_key_parse("Request", &k), -EINVAL);
    ck_assert_int_eq(kafka_dev_api_key_parse("Produce ", &k), -EINVAL);
    ck_assert_int_eq(kafka_dev_api_key_parse("32768", &k), -EINVAL);
    ck_assert_str_eq(kafka_dev_api_key_name(0), "Produce");
    ck_assert_str_eq(kafka_dev_api_key_name(22), "InitProducerId");
    ck_assert_ptr_null(kafka_dev_api_key_name(-1));
    ck_assert_ptr_null(kafka_dev_api_key_name(1000));
}
END_TEST

START_TEST(test_error_names)
{
    static const struct {
        const char *name;
        int code;
    } want[] = {
        {"NOT_LEADER_OR_FOLLOWER", 6},
        {"NOT_LEADER_FOR_PARTITION", 6},
        {"REQUEST_TIMED_OUT", 7},
        {"NOT_ENOUGH_REPLICAS", 19},
        {"NOT_ENOUGH_REPLICAS_AFTER_APPEND", 20},
        {"LEADER_NOT_AVAILABLE", 5},
        {"BROKER_NOT_AVAILABLE", 8},
        {"NETWORK_EXCEPTION", 13},
        {"COORDINATOR_NOT_AVAILABLE", 15},
        {"NOT_COORDINATOR", 16},
        {"UNKNOWN_TOPIC_OR_PARTITION", 3},
        {"UNKNOWN_TOPIC_OR_PART", 3},
        {"MESSAGE_TOO_LARGE", 10},
        {"UNKNOWN_SERVER_ERROR", -1},
        {"_TRANSPORT", RD_KAFKA_RESP_ERR__TRANSPORT},
        {"request_timed_out", 7},
        {"RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS", 19},
        {"6", 6},
        {"-195", RD_KAFKA_RESP_ERR__TRANSPORT},
    };
    int code;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        code = 12345;
        ck_assert_msg(kafka_dev_error_parse(want[i].name, &code) == 0, "%s", want[i].name);
        ck_assert_int_eq(code, want[i].code);
    }
    ck_assert_int_eq(kafka_dev_error_parse("", &code), -EINVAL);
    ck_assert_int_eq(kafka_dev_error_parse("_BEGIN", &code), -EINVAL);
    ck_assert_int_eq(kafka_dev_error_parse("_END", &code), -EINVAL);
    ck_assert_int_eq(kafka_dev_error_parse("NO_ERROR", &code), -EINVAL);
    ck_assert_int_eq(kafka_dev_error_parse("-120", &code), -EINVAL); /* a hole in the table */
    ck_assert_int_eq(kafka_dev_error_parse("6x", &code), -EINVAL);
}
END_TEST

START_TEST(test_partition_leader)
{
    ck_assert_int_eq(parse("partition-leader ocpp-events-up 0 2"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_PARTITION_LEADER);
    ck_assert_str_eq(cmd.topic, "ocpp-events-up");
    ck_assert_int_eq(cmd.partition, 0);
    ck_assert_int_eq(cmd.broker_id, 2);
    ck_assert_int_eq(parse("partition-leader commands-down 3 none"), 0);
    ck_assert_int_eq(cmd.partition, 3);
    ck_assert_int_eq(cmd.broker_id, KAFKA_DEV_BROKER_NONE);

    assert_refused("partition-leader commands-down 3", "missing argument");
    assert_refused("partition-leader commands-down 3 1 1", "too many arguments");
    assert_refused("partition-leader commands-down x 1", "partition 'x' is not a number");
    assert_refused("partition-leader commands-down -1 1", "out of range");
    assert_refused("partition-leader commands-down 0 leader", "not a number or 'none'");
    assert_refused("partition-leader commands-down 0 all", "not a number or 'none'");
    assert_refused("partition-leader bad/topic 0 1", "invalid topic name");
    assert_refused("partition-leader . 0 1", "invalid topic name");
    assert_refused("partition-leader .. 0 1", "invalid topic name");
}
END_TEST

START_TEST(test_topic_name_length)
{
    char line[KAFKA_DEV_LINE_MAX];
    char topic[KAFKA_DEV_TOPIC_MAX + 2];

    memset(topic, 't', KAFKA_DEV_TOPIC_MAX);
    topic[KAFKA_DEV_TOPIC_MAX] = '\0';
    snprintf(line, sizeof(line), "create-topic %s 1", topic);
    ck_assert_int_eq(parse(line), 0);
    ck_assert_str_eq(cmd.topic, topic);

    topic[KAFKA_DEV_TOPIC_MAX] = 't';
    topic[KAFKA_DEV_TOPIC_MAX + 1] = '\0';
    snprintf(line, sizeof(line), "create-topic %s 1", topic);
    assert_refused(line, "invalid topic name");
}
END_TEST

START_TEST(test_create_topic)
{
    ck_assert_int_eq(parse("create-topic my.topic_1 8"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_CREATE_TOPIC);
    ck_assert_str_eq(cmd.topic, "my.topic_1");
    ck_assert_int_eq(cmd.partitions, 8);
    ck_assert_int_eq(cmd.replication, 0);
    ck_assert_int_eq(parse("create-topic t 1 3"), 0);
    ck_assert_int_eq(cmd.replication, 3);

    assert_refused("create-topic t", "missing argument");
    assert_refused("create-topic t 1 1 1", "too many arguments");
    assert_refused("create-topic t many", "partitions 'many' is not a number");
    assert_refused("create-topic t 0", "out of range");
    assert_refused("create-topic t 1025", "out of range");
    assert_refused("create-topic t 1 x", "replication 'x' is not a number");
    assert_refused("create-topic t 1 6", "out of range");
    assert_refused("create-topic t\xc3\xa9 1", "invalid topic name");
}
END_TEST

START_TEST(test_coordinator)
{
    ck_assert_int_eq(parse("coordinator group bridge-pod-a 2"), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_COORDINATOR);
    ck_assert(!cmd.transactional);
    ck_assert_str_eq(cmd.key, "bridge-pod-a");
    ck_assert_int_eq(cmd.broker_id, 2);
    ck_assert_int_eq(parse("coordinator transaction tx-1 1"), 0);
    ck_assert(cmd.transactional);

    assert_refused("coordinator consumer g 1", "not group or transaction");
    assert_refused("coordinator group g", "missing argument");
    assert_refused("coordinator group g all", "not a number");
    assert_refused("coordinator group g 0", "out of range");
}
END_TEST

START_TEST(test_unknown_and_malformed)
{
    char line[KAFKA_DEV_LINE_MAX + 16];

    assert_refused("reboot", "unknown command 'reboot'");
    assert_refused("Broker-Down 1", "unknown command");
    assert_refused("broker-down 1\nbroker-up 1", "more than one line");
    assert_refused("a b c d e f g h i j", "unknown command 'a'");
    assert_refused("rtt 1 2 3 4 5 6 7 8 9", "too many arguments");

    memset(line, ' ', sizeof(line));
    memcpy(line, "ping", 4);
    line[KAFKA_DEV_LINE_MAX + 1] = '\0';
    assert_refused(line, "longer than");
    line[KAFKA_DEV_LINE_MAX] = '\0';
    ck_assert_int_eq(parse(line), 0);
    ck_assert_int_eq(cmd.kind, KAFKA_DEV_CMD_PING);

    ck_assert_int_eq(kafka_dev_control_parse(NULL, &cmd, why, sizeof(why)), -EINVAL);
    /* A NULL or zero-length reason buffer is allowed. */
    ck_assert_int_eq(kafka_dev_control_parse("nope", &cmd, NULL, 0), -EINVAL);
    ck_assert_int_eq(kafka_dev_control_parse("nope", &cmd, why, 1), -EINVAL);
    ck_assert_str_eq(why, "");
}
END_TEST

/* Line assembler */

typedef struct {
    int n;
    char lines[8][KAFKA_DEV_LINE_MAX + 1];
    bool too_long[8];
} collected_t;

static void collect(const char *line, bool too_long, void *arg)
{
    collected_t *c = arg;

    ck_assert_int_lt(c->n, 8);
    snprintf(c->lines[c->n], sizeof(c->lines[c->n]), "%s", line);
    c->too_long[c->n] = too_long;
    c->n++;
}

START_TEST(test_lines_split)
{
    kafka_dev_lines_t lines;
    collected_t c = {0};
    const char *data = "ping\nbroker-down 1\n\nbro";

    kafka_dev_lines_init(&lines);
    kafka_dev_lines_feed(&lines, data, strlen(data), collect, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.lines[0], "ping");
    ck_assert_str_eq(c.lines[1], "broker-down 1");
    ck_assert_str_eq(c.lines[2], "");
    kafka_dev_lines_feed(&lines, "ker-up 1\n", 9, collect, &c);
    ck_assert_int_eq(c.n, 4);
    ck_assert_str_eq(c.lines[3], "broker-up 1");
    ck_assert(!c.too_long[3]);

    kafka_dev_lines_feed(&lines, "rtt 1 5", 7, collect, &c);
    ck_assert_int_eq(c.n, 4);
    kafka_dev_lines_finish(&lines, collect, &c);
    ck_assert_int_eq(c.n, 5);
    ck_assert_str_eq(c.lines[4], "rtt 1 5");
    kafka_dev_lines_finish(&lines, collect, &c);
    ck_assert_int_eq(c.n, 5);
}
END_TEST

START_TEST(test_lines_too_long)
{
    kafka_dev_lines_t lines;
    collected_t c = {0};
    size_t big = KAFKA_DEV_LINE_MAX * 3;
    char *data = malloc(big);

    ck_assert_ptr_nonnull(data);
    memset(data, 'a', big);
    kafka_dev_lines_init(&lines);
    /* Exactly the limit is still a line. */
    kafka_dev_lines_feed(&lines, data, KAFKA_DEV_LINE_MAX, collect, &c);
    kafka_dev_lines_feed(&lines, "\n", 1, collect, &c);
    ck_assert_int_eq(c.n, 1);
    ck_assert(!c.too_long[0]);
    ck_assert_uint_eq(strlen(c.lines[0]), KAFKA_DEV_LINE_MAX);

    /* Longer: reported once, the rest skipped, the next line is whole. */
    kafka_dev_lines_feed(&lines, data, big, collect, &c);
    ck_assert_int_eq(c.n, 2);
    ck_assert(c.too_long[1]);
    kafka_dev_lines_feed(&lines, "\nping\n", 6, collect, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.lines[2], "ping");
    ck_assert(!c.too_long[2]);

    /* An over-long last line without newline is not delivered again at the end. */
    kafka_dev_lines_feed(&lines, data, big, collect, &c);
    kafka_dev_lines_finish(&lines, collect, &c);
    ck_assert_int_eq(c.n, 4);
    ck_assert(c.too_long[3]);
    free(data);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *s = suite_create("kafka_dev_control");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_blank_and_comment);
    tcase_add_test(tc, test_ping_help);
    tcase_add_test(tc, test_broker_down_up);
    tcase_add_test(tc, test_broker_refusals);
    tcase_add_test(tc, test_rtt);
    tcase_add_test(tc, test_request_errors);
    tcase_add_test(tc, test_request_errors_refusals);
    tcase_add_test(tc, test_api_keys);
    tcase_add_test(tc, test_error_names);
    tcase_add_test(tc, test_partition_leader);
    tcase_add_test(tc, test_topic_name_length);
    tcase_add_test(tc, test_create_topic);
    tcase_add_test(tc, test_coordinator);
    tcase_add_test(tc, test_unknown_and_malformed);
    suite_add_tcase(s, tc);

    tc = tcase_create("lines");
    tcase_add_test(tc, test_lines_split);
    tcase_add_test(tc, test_lines_too_long);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(control_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
