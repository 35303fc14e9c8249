/* ocppctl: the operator's command line for the gateway (see docs/ocppctl.md).
 *
 *   ocppctl [--redis URL] [--kafka BROKERS] send <identity> <action> [payload|@file]
 *           [--wait] [--timeout DUR] [--ttl DUR] [--command-id ID]
 *   ocppctl [...] status <identity>
 *   ocppctl [...] events [--follow] [--identity X] [--type T]
 *   ocppctl [...] pods
 *   ocppctl [...] produce <topic> [--timeout DUR]   (records from stdin, for test harnesses)
 *
 * Redis and Kafka default to OCPPGW_REDIS_URL and OCPPGW_KAFKA_BROKERS (what run.sh exports).
 * Wiring only: argument parsing, hiredis and librdkafka calls; the logic is in ctl.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "ctl.h"
#include "hash.h"

#define TOPIC_COMMANDS "commands-down"
#define TOPIC_RESULTS  "command-results"
#define TOPIC_EVENTS   "ocpp-events-up"

static const char *redis_url;
static const char *brokers;
static volatile sig_atomic_t interrupted;
static const char *producer_timeout_ms = "10000"; /* message.timeout.ms of producers */
static bool produce_reports;                      /* produce: print a line per delivery */
static long produce_failed;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: ocppctl [--redis URL] [--kafka BROKERS] COMMAND\n"
            "  send <identity> <action> [payload|@file] [--wait] [--timeout 30s] [--ttl 60s]\n"
            "       [--command-id ID]\n"
            "  status <identity>\n"
            "  events [--follow] [--identity X] [--type T]\n"
            "  pods\n"
            "  produce <topic> [--timeout 5m]   stdin lines <partition|->TAB<key>TAB<value>;\n"
            "       stdout 'ok <line> <partition> <offset>' or 'error <line> <why>' per line\n"
            "Redis and Kafka default to $OCPPGW_REDIS_URL and $OCPPGW_KAFKA_BROKERS.\n");
    return CTL_USAGE;
}

/* "30s", "500ms", "2m", plain number = seconds. -1 if invalid. */
static int64_t parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    if (strcmp(end, "ms") == 0)
        return (int64_t)v;
    if (*end == '\0' || strcmp(end, "s") == 0)
        return (int64_t)(v * 1000);
    if (strcmp(end, "m") == 0)
        return (int64_t)(v * 60000);
    return -1;
}

/* --- Redis -------------------------------------------------------------------------------- */

static redisContext *redis_open(void)
{
    if (!redis_url || !*redis_url) {
        fprintf(stderr, "ocppctl: no Redis: set --redis or OCPPGW_REDIS_URL\n");
        exit(CTL_USAGE);
    }
    char host[128] = "127.0.0.1", pw[128] = "";
    int port = 6379, db = 0;
    const char *p = redis_url;
    if (strncmp(p, "redis://", 8) != 0) {
        fprintf(stderr, "ocppctl: Redis URL '%s' must start with redis://\n", redis_url);
        exit(CTL_USAGE);
    }
    p += 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *s = colon ? colon + 1 : p;
        snprintf(pw, sizeof(pw), "%.*s", (int)(at - s), s);
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl > 0 && hl < sizeof(host))
        snprintf(host, sizeof(host), "%.*s", (int)hl, p);
    p += hl;
    if (*p == ':')
        port = (int)strtol(p + 1, (char **)&p, 10);
    if (*p == '/')
        db = (int)strtol(p + 1, NULL, 10);
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        fprintf(stderr, "ocppctl: cannot reach Redis at %s: %s\n", redis_url,
                c ? c->errstr : "out of memory");
        exit(CTL_UNREACHABLE);
    }
    redisSetTimeout(c, tv);
    redisReply *r = NULL;
    if (pw[0])
        r = redisCommand(c, "AUTH %s", pw);
    else
        r = redisCommand(c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "ocppctl: Redis at %s: %s\n", redis_url, r ? r->str : c->errstr);
        exit(CTL_UNREACHABLE);
    }
    freeReplyObject(r);
    if (db) {
        r = redisCommand(c, "SELECT %d", db);
        freeReplyObject(r);
    }
    return c;
}

static redisReply *redis_do(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(c, fmt, arg);
    if (!r) {
        fprintf(stderr, "ocppctl: Redis at %s: %s\n", redis_url, c->errstr);
        exit(CTL_UNREACHABLE);
    }
    return r;
}

/* Owner pod of identity into pod (empty if none). */
static void owner_of(redisContext *c, const char *identity, char *pod, size_t cap)
{
    char key[300];
    snprintf(key, sizeof(key), "conn:{%s}", identity);
    redisReply *r = redis_do(c, "GET %s", key);
    snprintf(pod, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

static bool lease_live(redisContext *c, const char *pod)
{
    char key[300];
    snprintf(key, sizeof(key), "pod:{%s}", pod);
    redisReply *r = redis_do(c, "EXISTS %s", key);
    bool live = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return live;
}

/* --- Kafka -------------------------------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (produce_reports) { /* opaque: the input line number */
        long line = (long)(intptr_t)m->_private;
        if (m->err) {
            produce_failed++;
            printf("error %ld %s\n", line, rd_kafka_err2str(m->err));
        } else {
            printf("ok %ld %d %lld\n", line, (int)m->partition, (long long)m->offset);
        }
        return;
    }
    *(rd_kafka_resp_err_t *)m->_private = m->err;
}

static rd_kafka_t *kafka_open(rd_kafka_type_t type)
{
    if (!brokers || !*brokers) {
        fprintf(stderr, "ocppctl: no Kafka: set --kafka or OCPPGW_KAFKA_BROKERS\n");
        exit(CTL_USAGE);
    }
    char err[512];
    char group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "ocppctl-%d", (int)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err)) ||
        (type == RD_KAFKA_PRODUCER &&
         (rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "message.timeout.ms", producer_timeout_ms, err, sizeof(err)))) ||
        (type == RD_KAFKA_CONSUMER &&
         (rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err))))) {
        fprintf(stderr, "ocppctl: Kafka settings: %s\n", err);
        exit(CTL_USAGE);
    }
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "ocppctl: Kafka: %s\n", err);
        exit(CTL_UNREACHABLE);
    }
    return rk;
}

static int partitions_of(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 5000);
    int n = -1;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    else if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (n <= 0) {
        fprintf(stderr, "ocppctl: cannot reach Kafka at %s (topic %s): %s\n", brokers, topic,
                rd_kafka_err2str(e));
        exit(CTL_UNREACHABLE);
    }
    return n;
}

/* A consumer assigned to every partition of topic from the beginning or the current end. */
static rd_kafka_t *consumer_on(const char *topic, bool from_end, int *nparts)
{
    rd_kafka_t *rk = kafka_open(RD_KAFKA_CONSUMER);
    int n = partitions_of(rk, topic);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        if (from_end && rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) !=
                            RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "ocppctl: cannot reach Kafka at %s (offsets of %s)\n", brokers, topic);
            exit(CTL_UNREACHABLE);
        }
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            from_end ? hi : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    *nparts = n;
    return rk;
}

/* Writes the record to the owner pod's partition; exits on failure. */
static void produce_command(const char *record, const char *pod)
{
    rd_kafka_t *rk = kafka_open(RD_KAFKA_PRODUCER);
    int n = partitions_of(rk, TOPIC_COMMANDS);
    int32_t part = hash_kafka_partition(pod, strlen(pod), n);
    rd_kafka_resp_err_t status = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(TOPIC_COMMANDS), RD_KAFKA_V_PARTITION(part),
        RD_KAFKA_V_KEY(pod, strlen(pod)), RD_KAFKA_V_VALUE((void *)record, strlen(record)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&status), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        while (status == RD_KAFKA_RESP_ERR__IN_PROGRESS && !interrupted)
            rd_kafka_poll(rk, 100);
        e = status;
    }
    rd_kafka_flush(rk, 1000);
    rd_kafka_destroy(rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "ocppctl: writing to %s at %s failed: %s\n", TOPIC_COMMANDS, brokers,
                rd_kafka_err2str(e));
        exit(CTL_UNREACHABLE);
    }
    fprintf(stderr, "ocppctl: command written to %s partition %d (owner pod %s)\n", TOPIC_COMMANDS,
            part, pod);
}

/* --- commands ----------------------------------------------------------------------------- */

static char *read_payload(const char *arg)
{
    if (arg[0] != '@')
        return strdup(arg);
    FILE *f = fopen(arg + 1, "r");
    if (!f) {
        fprintf(stderr, "ocppctl: cannot read payload file %s: %s\n", arg + 1, strerror(errno));
        exit(CTL_USAGE);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

static int cmd_send(int argc, char **argv)
{
    const char *identity = NULL, *action = NULL, *payload_arg = "{}", *cid_arg = NULL;
    bool wait = false;
    int64_t timeout = 30000, ttl = 60000;
    int pos = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0) {
            wait = true;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = parse_duration(argv[++i]);
        } else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            ttl = parse_duration(argv[++i]);
        } else if (strcmp(argv[i], "--command-id") == 0 && i + 1 < argc) {
            cid_arg = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "ocppctl send: unknown option %s\n", argv[i]);
            return CTL_USAGE;
        } else if (pos == 0) {
            identity = argv[i], pos++;
        } else if (pos == 1) {
            action = argv[i], pos++;
        } else if (pos == 2) {
            payload_arg = argv[i], pos++;
        } else {
            return usage();
        }
    }
    if (!identity || !action || timeout < 0 || ttl < 0)
        return usage();
    char *payload = read_payload(payload_arg);
    char why[256];
    if (ctl_check_payload(payload, why, sizeof(why)) < 0) {
        fprintf(stderr, "ocppctl: invalid payload for %s: %s\n", action, why);
        free(payload);
        return CTL_USAGE;
    }
    char command_id[37];
    if (cid_arg) {
        snprintf(command_id, sizeof(command_id), "%s", cid_arg);
    } else {
        uint8_t rnd[16];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
            fprintf(stderr, "ocppctl: /dev/urandom: %s\n", strerror(errno));
            return CTL_UNREACHABLE;
        }
        close(fd);
        ctl_uuid(rnd, command_id);
    }
    redisContext *rc = redis_open();
    char pod[256];
    owner_of(rc, identity, pod, sizeof(pod));
    if (!pod[0]) {
        fprintf(stderr, "ocppctl: unknown identity %s: not connected to any pod\n", identity);
        free(payload);
        redisFree(rc);
        return CTL_UNKNOWN_CP;
    }
    if (!lease_live(rc, pod))
        fprintf(stderr, "ocppctl: warning: owner pod %s of %s has no live lease\n", pod, identity);
    /* start reading results before writing, so the result cannot be missed */
    int nres = 0;
    rd_kafka_t *results = wait ? consumer_on(TOPIC_RESULTS, true, &nres) : NULL;
    char *record = ctl_command_record(command_id, identity, pod, action, payload, ttl,
                                      ((uint64_t)clock_now_ms()));
    produce_command(record, pod);
    printf("%s\n", command_id);
    fflush(stdout);
    int rcode = CTL_OK;
    if (wait) {
        uint64_t deadline = ((uint64_t)clock_now_ms()) + (uint64_t)timeout;
        uint64_t next_check = ((uint64_t)clock_now_ms()) + 1000;
        int retries = 0;
        rcode = CTL_NO_RESULT;
        while (!interrupted && ((uint64_t)clock_now_ms()) < deadline) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(results, 200);
            if (m && !m->err) {
                char status[64];
                if (ctl_result_matches(m->payload, m->len, command_id, status, sizeof(status))) {
                    printf("%.*s\n", (int)m->len, (const char *)m->payload);
                    rcode = ctl_status_exit(status);
                    rd_kafka_message_destroy(m);
                    break;
                }
            }
            if (m)
                rd_kafka_message_destroy(m);
            if (((uint64_t)clock_now_ms()) >= next_check) {
                next_check = ((uint64_t)clock_now_ms()) + 1000;
                /* the target pod died before a result: resend to the new owner, same id */
                if (!lease_live(rc, pod) && retries < 5) {
                    char now_pod[256];
                    owner_of(rc, identity, now_pod, sizeof(now_pod));
                    if (now_pod[0] && strcmp(now_pod, pod) != 0 && lease_live(rc, now_pod)) {
                        fprintf(stderr,
                                "ocppctl: pod %s died before a result; resending %s to %s\n", pod,
                                command_id, now_pod);
                        snprintf(pod, sizeof(pod), "%s", now_pod);
                        free(record);
                        record = ctl_command_record(command_id, identity, pod, action, payload, ttl,
                                                    ((uint64_t)clock_now_ms()));
                        produce_command(record, pod);
                        retries++;
                    }
                }
            }
        }
        if (rcode == CTL_NO_RESULT)
            fprintf(stderr, "ocppctl: no result for %s within %lld ms\n", command_id,
                    (long long)timeout);
        rd_kafka_consumer_close(results);
        rd_kafka_destroy(results);
    }
    free(record);
    free(payload);
    redisFree(rc);
    return rcode;
}

static int cmd_status(int argc, char **argv)
{
    if (argc != 1)
        return usage();
    const char *identity = argv[0];
    redisContext *rc = redis_open();
    char pod[256], key[300];
    owner_of(rc, identity, pod, sizeof(pod));
    if (!pod[0]) {
        fprintf(stderr, "ocppctl: unknown identity %s: not connected to any pod\n", identity);
        redisFree(rc);
        return CTL_UNKNOWN_CP;
    }
    snprintf(key, sizeof(key), "conn:{%s}:meta", identity);
    redisReply *r = redis_do(rc, "HGETALL %s", key);
    const char *f[7] = {0};
    static const char *names[7] = {"pod", "epoch", "edge", "conn", "since", "version", "boot"};
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        for (int k = 0; k < 7; k++)
            if (r->element[i]->str && strcmp(r->element[i]->str, names[k]) == 0)
                f[k] = r->element[i + 1]->str;
    char since[32];
    ctl_format_us(f[4], since);
    bool live = lease_live(rc, pod);
    printf("identity  %s\n", identity);
    printf("owner     %s (%s)\n", pod, live ? "live" : "stale: the pod's lease expired");
    printf("epoch     %s\n", f[1] ? f[1] : "-");
    printf("since     %s\n", since);
    printf("version   %s\n", f[5] ? f[5] : "-");
    printf("boot      %s\n", f[6] ? f[6] : "-");
    printf("edge      %s conn %s\n", f[2] ? f[2] : "-", f[3] ? f[3] : "-");
    freeReplyObject(r);
    redisFree(rc);
    return CTL_OK;
}

static int cmd_pods(int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return usage();
    redisContext *rc = redis_open();
    char cursor[32] = "0";
    int n = 0;
    printf("%-32s %12s %10s\n", "pod", "connections", "lease_ms");
    do {
        redisReply *r = redisCommand(rc, "SCAN %s MATCH pod:{* COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            fprintf(stderr, "ocppctl: Redis SCAN failed\n");
            return CTL_UNREACHABLE;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *key = r->element[1]->element[i]->str;
            redisReply *v = redis_do(rc, "GET %s", key);
            redisReply *t = redis_do(rc, "PTTL %s", key);
            size_t kl = strlen(key);
            if (v->type == REDIS_REPLY_STRING && kl > 6) {
                printf("%-32.*s %12ld %10lld\n", (int)(kl - 6), key + 5,
                       ctl_lease_registrations(v->str), (long long)t->integer);
                n++;
            }
            freeReplyObject(v);
            freeReplyObject(t);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    if (n == 0)
        printf("(no live pod)\n");
    redisFree(rc);
    return CTL_OK;
}

static int cmd_events(int argc, char **argv)
{
    bool follow = false;
    const char *identity = NULL, *type = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
            follow = true;
        else if (strcmp(argv[i], "--identity") == 0 && i + 1 < argc)
            identity = argv[++i];
        else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc)
            type = argv[++i];
        else
            return usage();
    }
    int nparts = 0;
    rd_kafka_t *rk = consumer_on(TOPIC_EVENTS, false, &nparts);
    int eof = 0;
    while (!interrupted) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            if (++eof >= nparts && !follow)
                break;
            continue;
        }
        if (m->err) {
            fprintf(stderr, "ocppctl: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (ctl_event_print(m->key, m->key_len, m->payload, m->len, identity, type, stdout))
            fflush(stdout);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return CTL_OK;
}

/* Produces one input line; retries while the local queue is full. */
static void produce_one(rd_kafka_t *rk, const char *topic, int nparts, char *text, long lineno)
{
    int32_t part;
    char *key, *value, why[160];
    if (ctl_produce_line(text, &part, &key, &value, why, sizeof(why)) < 0) {
        produce_failed++;
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
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !interrupted) {
            rd_kafka_poll(rk, 100);
            continue;
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            produce_failed++;
            printf("error %ld %s\n", lineno, rd_kafka_err2str(e));
        }
        return;
    }
}

/* produce <topic>: a long-running producer for test harnesses (tests/ha/). Each stdin line is
 * produced at once (acks=all; librdkafka retries while brokers are down, up to --timeout) and
 * its delivery reported on stdout, so the writer knows when each record was persisted. Ends
 * at EOF once every record is reported. Exit 0, or 3 if any line failed. */
static int cmd_produce(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *topic = argv[0];
    static char timeout_text[24];
    int64_t timeout = 300000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = parse_duration(argv[++i]);
        else
            return usage();
    }
    if (timeout <= 0)
        return usage();
    snprintf(timeout_text, sizeof(timeout_text), "%lld", (long long)timeout);
    producer_timeout_ms = timeout_text;
    produce_reports = true;
    setvbuf(stdout, NULL, _IOLBF, 0);
    rd_kafka_t *rk = kafka_open(RD_KAFKA_PRODUCER);
    int nparts = partitions_of(rk, topic);
    char buf[65536 + 512];
    size_t len = 0;
    long lineno = 0;
    bool eof = false;
    while (!eof && !interrupted) {
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
            produce_failed++;
            printf("error %ld line longer than %zu bytes\n", ++lineno, sizeof(buf) - 1);
            len = 0;
        }
    }
    if (len > 0 && !interrupted) { /* last line without its newline */
        buf[len] = '\0';
        produce_one(rk, topic, nparts, buf, ++lineno);
    }
    int64_t deadline = clock_now_ms() + timeout + 5000;
    while (rd_kafka_outq_len(rk) > 0 && !interrupted && clock_now_ms() < deadline)
        rd_kafka_poll(rk, 100);
    rd_kafka_destroy(rk);
    return produce_failed ? CTL_UNREACHABLE : CTL_OK;
}

int main(int argc, char **argv)
{
    redis_url = getenv("OCPPGW_REDIS_URL");
    brokers = getenv("OCPPGW_KAFKA_BROKERS");
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
            redis_url = argv[++i];
        else if (strcmp(argv[i], "--kafka") == 0 && i + 1 < argc)
            brokers = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(), 0;
        else
            break;
    }
    if (i >= argc)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    const char *cmd = argv[i++];
    if (strcmp(cmd, "send") == 0)
        return cmd_send(argc - i, argv + i);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(argc - i, argv + i);
    if (strcmp(cmd, "events") == 0)
        return cmd_events(argc - i, argv + i);
    if (strcmp(cmd, "pods") == 0)
        return cmd_pods(argc - i, argv + i);
    if (strcmp(cmd, "produce") == 0)
        return cmd_produce(argc - i, argv + i);
    fprintf(stderr, "ocppctl: unknown command '%s'\n", cmd);
    return usage();
}
