/* produce_cmd.c: `ocppctl produce <topic>`, a long-running producer for test harnesses (the
 * command generator of tests/ha/, docs/ha.md). Each stdin line "<partition|->TAB<key>TAB<value>"
 * is produced as soon as it is read (acks=all; librdkafka keeps retrying while the brokers are
 * down, up to --timeout) and its delivery reported on stdout, so the writer knows when each record
 * was persisted. Ends at EOF once every record is reported: exit 0, or 3 if any line failed. */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "ctl_io.h"
#include "hash.h"

int ctl_produce(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr, "usage: ocppctl produce <topic> [--timeout 5m]\n"
                    "  stdin lines <partition|->TAB<key>TAB<value>; stdout 'ok <line> <partition> "
                    "<offset>' or 'error <line> <why>' per line\n");
    return CTL_USAGE;
}

/* Produces one input line; waits while librdkafka's local queue is full. */
static void produce_one(rd_kafka_t *rk, const char *topic, int nparts, char *text, long lineno)
{
    int32_t part;
    char *key, *value, why[160];
    if (ctl_produce_line(text, &part, &key, &value, why, sizeof(why)) < 0) {
        ctl_produce_failed++;
        printf("error %ld %s\n", lineno, why);
        return;
    }
    if (part < 0)
        part = hash_kafka_partition(key, strlen(key), nparts);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(value, strlen(value)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE((void *)(intptr_t)lineno),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !ctl_interrupted) {
            rd_kafka_poll(rk, 100);
            continue;
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ctl_produce_failed++;
            printf("error %ld %s\n", lineno, rd_kafka_err2str(e));
        }
        return;
    }
}

int ctl_produce(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *topic = argv[0];
    int64_t timeout = 300000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = ctl_parse_duration_ms(argv[++i]);
        else
            return usage();
    }
    if (timeout <= 0)
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    rd_kafka_t *rk = ctl_producer_reporting(timeout);
    int nparts = ctl_partitions_of(rk, topic);
    char buf[65536 + 512];
    size_t len = 0;
    long lineno = 0;
    bool eof = false;
    while (!eof && !ctl_interrupted) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        rd_kafka_poll(rk, 0);
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        ssize_t r = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0) {
            eof = true;
            r = 0;
        }
        len += (size_t)r;
        buf[len] = '\0';
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            produce_one(rk, topic, nparts, start, ++lineno);
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == sizeof(buf) - 1) { /* a line longer than the buffer */
            ctl_produce_failed++;
            printf("error %ld line longer than %zu bytes\n", ++lineno, sizeof(buf) - 1);
            len = 0;
        }
    }
    if (len > 0 && !ctl_interrupted) { /* the last line without its newline */
        buf[len] = '\0';
        produce_one(rk, topic, nparts, buf, ++lineno);
    }
    int64_t deadline = clock_now_ms() + timeout + 5000;
    while (rd_kafka_outq_len(rk) > 0 && !ctl_interrupted && clock_now_ms() < deadline)
        rd_kafka_poll(rk, 100);
    rd_kafka_destroy(rk);
    return ctl_produce_failed ? CTL_UNREACHABLE : CTL_OK;
}
