/* ctl_io.c: ocppctl's Redis and Kafka wiring. See ctl_io.h. */
#include "ctl_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "hash.h"

const char *ctl_redis_url;
const char *ctl_brokers;
volatile sig_atomic_t ctl_interrupted;

/* --- Redis -------------------------------------------------------------------------------- */

/* What a node connection needs: the URL's credentials and database, kept for the nodes a Redis
 * Cluster redirects to (redis+cluster://); wiped at exit. */
static char ctl_user[128], ctl_pw[256];
static int ctl_db;
static bool ctl_cluster;
/* Redis Cluster: connections to the nodes redirects named (redis-cli -c does the same). */
#define CTL_NODES_MAX 32
static struct {
    char host[128];
    int port;
    redisContext *c;
} ctl_nodes[CTL_NODES_MAX];
static int ctl_nnodes;

static void ctl_wipe(void)
{
    explicit_bzero(ctl_pw, sizeof(ctl_pw));
    for (int i = 0; i < ctl_nnodes; i++)
        redisFree(ctl_nodes[i].c);
    ctl_nnodes = 0;
}

/* Connected and authenticated, or NULL with the reason printed (the password never). */
static redisContext *connect_auth(const char *host, int port)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        fprintf(stderr, "ocppctl: cannot reach Redis at %s:%d: %s\n", host, port,
                c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *r = NULL;
    if (ctl_pw[0] && ctl_user[0])
        r = redisCommand(c, "AUTH %s %s", ctl_user, ctl_pw);
    else if (ctl_pw[0])
        r = redisCommand(c, "AUTH %s", ctl_pw);
    else
        r = redisCommand(c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "ocppctl: Redis at %s:%d: %s\n", host, port, r ? r->str : c->errstr);
        freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    if (ctl_db && !ctl_cluster) {
        r = redisCommand(c, "SELECT %d", ctl_db);
        freeReplyObject(r);
    }
    return c;
}

redisContext *ctl_redis_open(void)
{
    if (!ctl_redis_url || !*ctl_redis_url) {
        fprintf(stderr, "ocppctl: no Redis: set --redis or OCPPGW_REDIS_URL\n");
        exit(CTL_USAGE);
    }
    const char *p = ctl_redis_url;
    if (strncmp(p, "redis+cluster://", 16) == 0) {
        ctl_cluster = true;
        p += 16;
    } else if (strncmp(p, "redis://", 8) == 0) {
        p += 8;
    } else {
        fprintf(stderr, "ocppctl: Redis URL '%s' must start with redis:// or redis+cluster://\n",
                ctl_redis_url);
        exit(CTL_USAGE);
    }
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *s = colon ? colon + 1 : p;
        snprintf(ctl_pw, sizeof(ctl_pw), "%.*s", (int)(at - s), s);
        if (colon)
            snprintf(ctl_user, sizeof(ctl_user), "%.*s", (int)(colon - p), p);
        p = at + 1;
    }
    if (!ctl_pw[0] && getenv("OCPPGW_REDIS_PASSWORD_FILE")) { /* as redis-registry's setting */
        FILE *f = fopen(getenv("OCPPGW_REDIS_PASSWORD_FILE"), "r");
        if (!f || !fgets(ctl_pw, sizeof(ctl_pw), f)) {
            fprintf(stderr, "ocppctl: cannot read OCPPGW_REDIS_PASSWORD_FILE\n");
            exit(CTL_USAGE);
        }
        fclose(f);
        ctl_pw[strcspn(ctl_pw, "\r\n")] = '\0';
    }
    atexit(ctl_wipe);
    /* a single server, or the seeds of a cluster in turn: the first that answers */
    while (*p && *p != '/') {
        char host[128] = "127.0.0.1";
        int port = 6379;
        size_t hl = strcspn(p, ":/,");
        if (hl > 0 && hl < sizeof(host))
            snprintf(host, sizeof(host), "%.*s", (int)hl, p);
        p += hl;
        if (*p == ':')
            port = (int)strtol(p + 1, (char **)&p, 10);
        p += strcspn(p, ",/");
        if (*p == ',')
            p++;
        if (*p == '/' && !ctl_cluster)
            ctl_db = (int)strtol(p + 1, NULL, 10);
        redisContext *c = connect_auth(host, port);
        if (c)
            return c;
        if (!ctl_cluster)
            break;
    }
    exit(CTL_UNREACHABLE);
}

/* The connection to host:port among the redirect targets (opened once). */
static redisContext *node_conn(const char *host, int port)
{
    for (int i = 0; i < ctl_nnodes; i++)
        if (ctl_nodes[i].port == port && strcmp(ctl_nodes[i].host, host) == 0)
            return ctl_nodes[i].c;
    if (ctl_nnodes == CTL_NODES_MAX)
        return NULL;
    redisContext *c = connect_auth(host, port);
    if (!c)
        return NULL;
    snprintf(ctl_nodes[ctl_nnodes].host, sizeof(ctl_nodes[0].host), "%s", host);
    ctl_nodes[ctl_nnodes].port = port;
    ctl_nodes[ctl_nnodes++].c = c;
    return c;
}

/* "MOVED <slot> <host>:<port>" / "ASK ...": the node named, or NULL for any other reply. */
static redisContext *redirect_target(const redisReply *r, bool *ask)
{
    if (!ctl_cluster || !r || r->type != REDIS_REPLY_ERROR)
        return NULL;
    *ask = strncmp(r->str, "ASK ", 4) == 0;
    if (!*ask && strncmp(r->str, "MOVED ", 6) != 0)
        return NULL;
    const char *addr = strchr(r->str + (*ask ? 4 : 6), ' ');
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || colon - addr - 1 <= 0 || colon - addr - 1 >= 128)
        return NULL;
    char host[128];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr - 1), addr + 1);
    return node_conn(host, (int)strtol(colon + 1, NULL, 10));
}

/* The command on c, following up to 5 redirects; *answered: the node that answered. */
static redisReply *follow(redisContext *c, int argc, const char **argv, redisContext **answered)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    for (int tries = 0; r && tries < 5; tries++) {
        bool ask = false;
        redisContext *to = redirect_target(r, &ask);
        if (!to)
            break;
        freeReplyObject(r);
        c = to;
        if (ask)
            freeReplyObject(redisCommand(c, "ASKING"));
        r = redisCommandArgv(c, argc, argv, NULL);
    }
    if (!r) {
        fprintf(stderr, "ocppctl: Redis: %s\n", c->errstr);
        exit(CTL_UNREACHABLE);
    }
    if (answered)
        *answered = c;
    return r;
}

redisReply *ctl_redis_do(redisContext *c, const char *fmt, const char *arg)
{
    /* fmt: words, one of them "%s" (arg), as redisCommand would read them */
    char buf[256];
    const char *argv[8];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", fmt);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && argc < 8;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = strcmp(w, "%s") == 0 ? arg : w;
    return follow(c, argc, argv, NULL);
}

redisContext *ctl_redis_node_of(redisContext *c, const char *key)
{
    if (!ctl_cluster)
        return c;
    const char *argv[] = {"EXISTS", key};
    redisContext *node = c;
    freeReplyObject(follow(c, 2, argv, &node));
    return node;
}

int ctl_redis_masters(redisContext *c, redisContext **out, int max)
{
    if (!ctl_cluster || max < 1) {
        out[0] = c;
        return 1;
    }
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    int n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && n < max; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
            e->element[2]->element[0]->type != REDIS_REPLY_STRING)
            continue;
        redisContext *m =
            node_conn(e->element[2]->element[0]->str, (int)e->element[2]->element[1]->integer);
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen |= out[j] == m;
        if (m && !seen)
            out[n++] = m;
    }
    freeReplyObject(r);
    if (n == 0) {
        fprintf(stderr, "ocppctl: Redis Cluster: CLUSTER SLOTS named no master\n");
        exit(CTL_UNREACHABLE);
    }
    return n;
}

/* Owner pod of identity into pod (empty if none). */
void ctl_owner_of(redisContext *c, const char *identity, char *pod, size_t cap)
{
    char key[300];
    snprintf(key, sizeof(key), "conn:%s", identity);
    redisReply *r = ctl_redis_do(c, "GET %s", key);
    snprintf(pod, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

bool ctl_lease_live(redisContext *c, const char *pod)
{
    char key[300];
    snprintf(key, sizeof(key), "pod:{%s}", pod);
    redisReply *r = ctl_redis_do(c, "EXISTS %s", key);
    bool live = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return live;
}

/* --- Kafka -------------------------------------------------------------------------------- */

long ctl_produce_failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    *(rd_kafka_resp_err_t *)m->_private = m->err;
}

/* Delivery report of `produce`: its opaque is the input line number. */
static void on_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    long line = (long)(intptr_t)m->_private;
    if (m->err) {
        ctl_produce_failed++;
        printf("error %ld %s\n", line, rd_kafka_err2str(m->err));
    } else {
        printf("ok %ld %d %lld\n", line, (int)m->partition, (long long)m->offset);
    }
}

/* A consumer, or a producer (acks=all) whose records time out after timeout_ms and whose delivery
 * reports go to dr. */
static rd_kafka_t *kafka_open(rd_kafka_type_t type, int64_t timeout_ms,
                              void (*dr)(rd_kafka_t *, const rd_kafka_message_t *, void *))
{
    char timeout_text[24];
    snprintf(timeout_text, sizeof(timeout_text), "%lld", (long long)timeout_ms);
    if (!ctl_brokers || !*ctl_brokers) {
        fprintf(stderr, "ocppctl: no Kafka: set --kafka or OCPPGW_KAFKA_BROKERS\n");
        exit(CTL_USAGE);
    }
    char err[512];
    char group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "ocppctl-%d", (int)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ctl_brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err)) ||
        (type == RD_KAFKA_PRODUCER &&
         (rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "message.timeout.ms", timeout_text, err, sizeof(err)))) ||
        (type == RD_KAFKA_CONSUMER &&
         (rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err))))) {
        fprintf(stderr, "ocppctl: Kafka settings: %s\n", err);
        exit(CTL_USAGE);
    }
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, dr);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "ocppctl: Kafka: %s\n", err);
        exit(CTL_UNREACHABLE);
    }
    return rk;
}

int ctl_partitions_of(rd_kafka_t *rk, const char *topic)
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
        fprintf(stderr, "ocppctl: cannot reach Kafka at %s (topic %s): %s\n", ctl_brokers, topic,
                rd_kafka_err2str(e));
        exit(CTL_UNREACHABLE);
    }
    return n;
}

/* A consumer assigned to every partition of topic from the beginning or the current end. */
rd_kafka_t *ctl_consumer_on(const char *topic, bool from_end, int *nparts)
{
    rd_kafka_t *rk = kafka_open(RD_KAFKA_CONSUMER, 0, NULL);
    int n = ctl_partitions_of(rk, topic);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        if (from_end && rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) !=
                            RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "ocppctl: cannot reach Kafka at %s (offsets of %s)\n", ctl_brokers,
                    topic);
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
    rd_kafka_t *rk = kafka_open(RD_KAFKA_PRODUCER, 10000, on_delivery);
    int n = ctl_partitions_of(rk, TOPIC_COMMANDS);
    int32_t part = hash_kafka_partition(pod, strlen(pod), n);
    rd_kafka_resp_err_t status = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(TOPIC_COMMANDS), RD_KAFKA_V_PARTITION(part),
        RD_KAFKA_V_KEY(pod, strlen(pod)), RD_KAFKA_V_VALUE((void *)record, strlen(record)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&status), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        while (status == RD_KAFKA_RESP_ERR__IN_PROGRESS && !ctl_interrupted)
            rd_kafka_poll(rk, 100);
        e = status;
    }
    rd_kafka_flush(rk, 1000);
    rd_kafka_destroy(rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "ocppctl: writing to %s at %s failed: %s\n", TOPIC_COMMANDS, ctl_brokers,
                rd_kafka_err2str(e));
        exit(CTL_UNREACHABLE);
    }
    fprintf(stderr, "ocppctl: command written to %s partition %d (owner pod %s)\n", TOPIC_COMMANDS,
            part, pod);
}

int ctl_send_command(const char *identity, const char *action, const char *payload,
                     const char *cid_arg, bool wait, int64_t timeout, int64_t ttl)
{
    char command_id[37];
    if (cid_arg) {
        snprintf(command_id, sizeof(command_id), "%s", cid_arg);
    } else {
        uint8_t rnd[16];
        ctl_random(rnd, sizeof(rnd));
        ctl_uuid(rnd, command_id);
    }
    redisContext *rc = ctl_redis_open();
    char pod[256];
    ctl_owner_of(rc, identity, pod, sizeof(pod));
    if (!pod[0]) {
        fprintf(stderr, "ocppctl: unknown identity %s: not connected to any pod\n", identity);
        redisFree(rc);
        return CTL_UNKNOWN_CP;
    }
    if (!ctl_lease_live(rc, pod))
        fprintf(stderr, "ocppctl: warning: owner pod %s of %s has no live lease\n", pod, identity);
    /* start reading results before writing, so the result cannot be missed */
    int nres = 0;
    rd_kafka_t *results = wait ? ctl_consumer_on(TOPIC_RESULTS, true, &nres) : NULL;
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
        while (!ctl_interrupted && ((uint64_t)clock_now_ms()) < deadline) {
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
                if (!ctl_lease_live(rc, pod) && retries < 5) {
                    char now_pod[256];
                    ctl_owner_of(rc, identity, now_pod, sizeof(now_pod));
                    if (now_pod[0] && strcmp(now_pod, pod) != 0 && ctl_lease_live(rc, now_pod)) {
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
    redisFree(rc);
    return rcode;
}

void ctl_random(uint8_t *out, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, out, n) != (ssize_t)n) {
        fprintf(stderr, "ocppctl: /dev/urandom: %s\n", strerror(errno));
        exit(CTL_UNREACHABLE);
    }
    close(fd);
}

redisReply *ctl_redis_argv(redisContext *c, int argc, const char **argv)
{
    return follow(c, argc, argv, NULL);
}

rd_kafka_t *ctl_producer_reporting(int64_t timeout_ms)
{
    return kafka_open(RD_KAFKA_PRODUCER, timeout_ms, on_delivery_report);
}
