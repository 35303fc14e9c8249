/* ocppctl: the operator's command line for the gateway (see docs/ocppctl.md).
 *
 *   ocppctl [--redis URL] [--kafka BROKERS] send <identity> <action> [payload|@file]
 *           [--wait] [--timeout DUR] [--ttl DUR] [--command-id ID]
 *   ocppctl [...] status <identity>
 *   ocppctl [...] events [--follow] [--identity X] [--type T]
 *   ocppctl [...] pods
 *   ocppctl [...] credentials set|rotate|delete|show <identity> ...   (cred_cmd.c)
 *   ocppctl [...] produce <topic> [--timeout DUR]   (produce_cmd.c; stdin records, for harnesses)
 *
 * Redis and Kafka default to OCPPGW_REDIS_URL and OCPPGW_KAFKA_BROKERS (what run.sh exports).
 * Argument parsing and the commands; Redis and Kafka wiring in ctl_io.c, the logic in ctl.c
 * and ctl_cred.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "ctl_io.h"

int ctl_credentials(int argc, char **argv); /* cred_cmd.c */
int ctl_produce(int argc, char **argv);     /* produce_cmd.c */

static void on_signal(int sig)
{
    (void)sig;
    ctl_interrupted = 1;
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
            "  credentials set <identity> --password P [--profile N] [--iterations N]\n"
            "  credentials set <identity> --no-password --profile 3\n"
            "  credentials rotate <identity> [--show-password] [--timeout 60s] [--iterations N]\n"
            "  credentials delete <identity> | credentials show <identity>\n"
            "  produce <topic> [--timeout 5m]   stdin lines <partition|->TAB<key>TAB<value>;\n"
            "       stdout 'ok <line> <partition> <offset>' or 'error <line> <why>' per line\n"
            "Redis and Kafka default to $OCPPGW_REDIS_URL and $OCPPGW_KAFKA_BROKERS.\n");
    return CTL_USAGE;
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
            timeout = ctl_parse_duration_ms(argv[++i]);
        } else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            ttl = ctl_parse_duration_ms(argv[++i]);
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
    int rc = ctl_send_command(identity, action, payload, cid_arg, wait, timeout, ttl);
    free(payload);
    return rc;
}

static int cmd_status(int argc, char **argv)
{
    if (argc != 1)
        return usage();
    const char *identity = argv[0];
    redisContext *rc = ctl_redis_open();
    char pod[256], key[300];
    ctl_owner_of(rc, identity, pod, sizeof(pod));
    if (!pod[0]) {
        fprintf(stderr, "ocppctl: unknown identity %s: not connected to any pod\n", identity);
        redisFree(rc);
        return CTL_UNKNOWN_CP;
    }
    snprintf(key, sizeof(key), "{conn:%s}:meta", identity);
    redisReply *r = ctl_redis_do(rc, "HGETALL %s", key);
    const char *f[7] = {0};
    static const char *names[7] = {"pod", "epoch", "edge", "conn", "since", "version", "boot"};
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        for (int k = 0; k < 7; k++)
            if (r->element[i]->str && strcmp(r->element[i]->str, names[k]) == 0)
                f[k] = r->element[i + 1]->str;
    char since[32];
    ctl_format_us(f[4], since);
    bool live = ctl_lease_live(rc, pod);
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
    redisContext *rc = ctl_redis_open();
    redisContext *masters[32];
    int nm = ctl_redis_masters(rc, masters, 32), n = 0;
    printf("%-32s %12s %10s\n", "pod", "connections", "lease_ms");
    for (int m = 0; m < nm; m++) { /* a cluster: every master's keys */
        char cursor[32] = "0";
        do {
            redisReply *r = redisCommand(masters[m], "SCAN %s MATCH pod:{* COUNT 1000", cursor);
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                fprintf(stderr, "ocppctl: Redis SCAN failed\n");
                return CTL_UNREACHABLE;
            }
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            for (size_t i = 0; i < r->element[1]->elements; i++) {
                const char *key = r->element[1]->element[i]->str;
                redisReply *v = ctl_redis_do(rc, "GET %s", key);
                redisReply *t = ctl_redis_do(rc, "PTTL %s", key);
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
    }
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
    rd_kafka_t *rk = ctl_consumer_on(TOPIC_EVENTS, false, &nparts);
    int eof = 0;
    while (!ctl_interrupted) {
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

int main(int argc, char **argv)
{
    ctl_redis_url = getenv("OCPPGW_REDIS_URL");
    ctl_brokers = getenv("OCPPGW_KAFKA_BROKERS");
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
            ctl_redis_url = argv[++i];
        else if (strcmp(argv[i], "--kafka") == 0 && i + 1 < argc)
            ctl_brokers = argv[++i];
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
    if (strcmp(cmd, "credentials") == 0)
        return ctl_credentials(argc - i, argv + i);
    if (strcmp(cmd, "produce") == 0)
        return ctl_produce(argc - i, argv + i);
    fprintf(stderr, "ocppctl: unknown command '%s'\n", cmd);
    return usage();
}
