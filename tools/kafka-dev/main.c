/* main.c: kafka-dev, an in-memory Kafka-protocol broker for development and tests.
 *
 * Wiring only: configuration, librdkafka's mock cluster (brokers listening on 127.0.0.1, ports
 * chosen by the kernel), the gateway's topics, the `bootstrap=` line and file, and the control
 * channel (stdin and an optional FIFO) whose lines kafka_dev_control.c parses and this file
 * applies to the mock cluster. SIGTERM or SIGINT destroys the cluster and exits 0.
 * Not a real Kafka: nothing is persisted, see docs/kafka-dev.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "kafka_dev_control.h"
#include "log.h"

#define SERVICE "kafka-dev"

typedef struct kafka_dev_config {
    int64_t brokers;
    int64_t commands_partitions;
    int64_t events_partitions;
    char *bootstrap_file;
    char *control_path;
    char *pod_id;
    char *log_level;
} kafka_dev_config_t;

static const config_option_t config_table[] = {
    {"kafka_dev_brokers", CONFIG_INT, "1", offsetof(kafka_dev_config_t, brokers), 1, 5, NULL, NULL,
     "number of mock brokers (ids 1..N), all on 127.0.0.1 with kernel-chosen ports"},
    {"commands_partitions", CONFIG_INT, "128", offsetof(kafka_dev_config_t, commands_partitions), 1,
     KAFKA_DEV_PARTITIONS_MAX, NULL, NULL,
     "partitions of commands-down (128, the production figure: k8s topics Job, compose)"},
    {"events_partitions", CONFIG_INT, "4", offsetof(kafka_dev_config_t, events_partitions), 1,
     KAFKA_DEV_PARTITIONS_MAX, NULL, NULL,
     "partitions of ocpp-events-up, command-results and commands-dlq"},
    {"bootstrap_file", CONFIG_STRING, "", offsetof(kafka_dev_config_t, bootstrap_file), 0, 0, NULL,
     NULL, "if set, the bootstrap address is written here (atomically) once the topics exist"},
    {"control_path", CONFIG_STRING, "", offsetof(kafka_dev_config_t, control_path), 0, 0, NULL,
     NULL, "if set, a FIFO created here accepts control lines, like stdin"},
    {"pod_id", CONFIG_STRING, "", offsetof(kafka_dev_config_t, pod_id), 0, 0, NULL, NULL,
     "pod name put in every log line (empty: none)"},
    {"log_level", CONFIG_ENUM, "info", offsetof(kafka_dev_config_t, log_level), 0, 0,
     "debug|info|warn|error", NULL, "log threshold; debug also logs every mock request"},
};

#define CONFIG_N (sizeof(config_table) / sizeof(config_table[0]))

/* A control input: stdin (answers on stdout) or the FIFO (answers in the log only). */
typedef struct control_source {
    const char *name;
    int fd;
    bool answer_stdout;
    kafka_dev_lines_t lines;
    rd_kafka_mock_cluster_t *mcluster;
    int replication;
} control_source_t;

static void rdkafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* The handle exists only to own the mock cluster and has no bootstrap.servers on purpose. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
        return;
    if (level <= 3)
        log_error("rdkafka %s: %s", fac, buf);
    else if (level == 4)
        log_warn("rdkafka %s: %s", fac, buf);
    else if (level <= 6)
        log_info("rdkafka %s: %s", fac, buf);
    else
        log_debug("rdkafka %s: %s", fac, buf);
}

static const char *broker_text(int32_t id, char *buf, size_t len)
{
    if (id == KAFKA_DEV_BROKER_ALL)
        return "all brokers";
    snprintf(buf, len, "broker %d", (int)id);
    return buf;
}

/* The mock's error for a command, in words. */
static int mock_fail(rd_kafka_resp_err_t err, int32_t broker_id, char *why, size_t whylen)
{
    if (err == RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE)
        snprintf(why, whylen, "no broker %d in this cluster", (int)broker_id);
    else
        snprintf(why, whylen, "%s (%s)", rd_kafka_err2name(err), rd_kafka_err2str(err));
    return -EIO;
}

/* Apply one parsed command to the mock cluster. 0, or a negative errno with why set. */
static int control_apply(rd_kafka_mock_cluster_t *mc, const kafka_dev_command_t *cmd,
                         int replication, char *why, size_t whylen)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t *errs;
    char bt[32];

    switch (cmd->kind) {
    case KAFKA_DEV_CMD_NONE:
    case KAFKA_DEV_CMD_PING:
    case KAFKA_DEV_CMD_HELP:
        return 0;

    case KAFKA_DEV_CMD_BROKER_DOWN:
        err = rd_kafka_mock_broker_set_down(mc, cmd->broker_id);
        if (!err)
            log_info("%s down", broker_text(cmd->broker_id, bt, sizeof(bt)));
        break;

    case KAFKA_DEV_CMD_BROKER_UP:
        err = rd_kafka_mock_broker_set_up(mc, cmd->broker_id);
        if (!err)
            log_info("%s up", broker_text(cmd->broker_id, bt, sizeof(bt)));
        break;

    case KAFKA_DEV_CMD_RTT:
        err = rd_kafka_mock_broker_set_rtt(mc, cmd->broker_id, cmd->rtt_ms);
        if (!err)
            log_info("%s rtt %d ms", broker_text(cmd->broker_id, bt, sizeof(bt)), cmd->rtt_ms);
        break;

    case KAFKA_DEV_CMD_REQUEST_ERRORS:
        errs = malloc(sizeof(*errs) * (size_t)cmd->count);
        if (!errs) {
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        for (int i = 0; i < cmd->count; i++)
            errs[i] = (rd_kafka_resp_err_t)cmd->error_code;
        rd_kafka_mock_push_request_errors_array(mc, cmd->api_key, (size_t)cmd->count, errs);
        free(errs);
        log_info("next %d %s request(s) fail with %s", cmd->count,
                 kafka_dev_api_key_name(cmd->api_key) ? kafka_dev_api_key_name(cmd->api_key)
                                                      : "ApiKey",
                 rd_kafka_err2name((rd_kafka_resp_err_t)cmd->error_code));
        return 0;

    case KAFKA_DEV_CMD_CLEAR_REQUEST_ERRORS:
        rd_kafka_mock_clear_request_errors(mc, cmd->api_key);
        return 0;

    case KAFKA_DEV_CMD_PARTITION_LEADER:
        err = rd_kafka_mock_partition_set_leader(mc, cmd->topic, cmd->partition, cmd->broker_id);
        if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            snprintf(why, whylen, "topic %s has no partition %d", cmd->topic, (int)cmd->partition);
            return -ENOENT;
        }
        break;

    case KAFKA_DEV_CMD_CREATE_TOPIC:
        err = rd_kafka_mock_topic_create(mc, cmd->topic, cmd->partitions,
                                         cmd->replication > 0 ? cmd->replication : replication);
        if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(why, whylen, "topic %s already exists", cmd->topic);
            return -EEXIST;
        }
        break;

    case KAFKA_DEV_CMD_COORDINATOR:
        err = rd_kafka_mock_coordinator_set(mc, cmd->transactional ? "transaction" : "group",
                                            cmd->key, cmd->broker_id);
        break;
    }
    if (err)
        return mock_fail(err, cmd->broker_id, why, whylen);
    return 0;
}

static void answer(control_source_t *src, const char *line, int rc, const char *text)
{
    if (rc == 0)
        log_info("control %s: '%s': ok", src->name, line);
    else
        log_warn("control %s: '%s': error: %s", src->name, line, text);
    if (!src->answer_stdout)
        return;
    if (rc < 0)
        printf("error: %s\n", text);
    else if (text)
        printf("ok %s\n", text);
    else
        printf("ok\n");
    fflush(stdout);
}

static void control_on_line(const char *line, bool too_long, void *arg)
{
    control_source_t *src = arg;
    kafka_dev_command_t cmd;
    char why[512];
    int rc;

    if (too_long) {
        snprintf(why, sizeof(why), "line longer than %d bytes", KAFKA_DEV_LINE_MAX);
        answer(src, "(too long)", -EINVAL, why);
        return;
    }
    rc = kafka_dev_control_parse(line, &cmd, why, sizeof(why));
    if (rc < 0) {
        answer(src, line, rc, why);
        return;
    }
    if (cmd.kind == KAFKA_DEV_CMD_NONE)
        return; /* blank line or comment */
    rc = control_apply(src->mcluster, &cmd, src->replication, why, sizeof(why));
    if (rc < 0)
        answer(src, line, rc, why);
    else
        answer(src, line, 0, cmd.kind == KAFKA_DEV_CMD_HELP ? kafka_dev_control_help() : NULL);
}

/* Read what is available; returns 0, or -1 at end of input (the source is finished). */
static int control_read(control_source_t *src)
{
    char buf[4096];
    ssize_t n = read(src->fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        if (n < 0)
            log_warn("control %s: read failed: %s", src->name, strerror(errno));
        kafka_dev_lines_finish(&src->lines, control_on_line, src);
        return -1;
    }
    kafka_dev_lines_feed(&src->lines, buf, (size_t)n, control_on_line, src);
    return 0;
}

/* Create (or reuse) the FIFO at path and open it. We also hold a write end, so the read end never
 * reports end-of-file when a writer such as `echo cmd > fifo` closes. */
static int fifo_open(const char *path, int *rfd, int *wfd, bool *created)
{
    struct stat st;

    *created = false;
    if (mkfifo(path, 0600) == 0) {
        *created = true;
    } else if (errno != EEXIST) {
        log_error("control_path %s: mkfifo failed: %s", path, strerror(errno));
        return -errno;
    } else if (stat(path, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        log_error("control_path %s exists and is not a FIFO", path);
        return -EEXIST;
    }
    *rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*rfd < 0) {
        log_error("control_path %s: open failed: %s", path, strerror(errno));
        goto out_unlink;
    }
    *wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (*wfd < 0) {
        log_error("control_path %s: open for writing failed: %s", path, strerror(errno));
        close(*rfd);
        *rfd = -1;
        goto out_unlink;
    }
    return 0;

out_unlink:
    if (*created)
        unlink(path);
    *created = false;
    return -EIO;
}

/* Write text + "\n" to path through a temporary file and rename(2), so a reader never sees a
 * partial address. */
static int bootstrap_file_write(const char *path, const char *text)
{
    char tmp[4096];
    char *content;
    size_t len;
    ssize_t n;
    int fd, rc = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
        return -ENAMETOOLONG;
    len = strlen(text) + 1;
    content = malloc(len + 1);
    if (!content)
        return -ENOMEM;
    snprintf(content, len + 1, "%s\n", text);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out_free_content;
    }
    n = write(fd, content, len);
    if (n < 0)
        rc = -errno;
    else if ((size_t)n != len)
        rc = -EIO;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
out_free_content:
    free(content);
    return rc;
}

static int topics_create(rd_kafka_mock_cluster_t *mc, const kafka_dev_config_t *cfg,
                         int replication)
{
    const struct {
        const char *name;
        int64_t partitions;
    } topics[] = {
        {"ocpp-events-up", cfg->events_partitions},
        {"commands-down", cfg->commands_partitions},
        {"command-results", cfg->events_partitions},
        {"commands-dlq", cfg->events_partitions},
    };

    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, topics[i].name, (int)topics[i].partitions, replication);
        if (err) {
            log_error("cannot create topic %s: %s", topics[i].name, rd_kafka_err2str(err));
            return -EIO;
        }
        log_info("topic %s: %d partitions, replication %d", topics[i].name,
                 (int)topics[i].partitions, replication);
    }
    return 0;
}

static int signals_block(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    /* Block before librdkafka starts threads, so they inherit the mask and the signals reach
     * only the signalfd. */
    if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int run(rd_kafka_mock_cluster_t *mc, int sfd, int fifo_fd, int replication)
{
    control_source_t stdin_src = {
        .name = "stdin", .fd = STDIN_FILENO, .answer_stdout = true, .mcluster = mc};
    control_source_t fifo_src = {
        .name = "fifo", .fd = fifo_fd, .answer_stdout = false, .mcluster = mc};
    bool stdin_open = true;

    stdin_src.replication = fifo_src.replication = replication;
    kafka_dev_lines_init(&stdin_src.lines);
    kafka_dev_lines_init(&fifo_src.lines);

    for (;;) {
        struct pollfd pfd[3] = {
            {.fd = sfd, .events = POLLIN},
            {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
            {.fd = fifo_fd, .events = POLLIN},
        };
        int n = poll(pfd, 3, -1);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll failed: %s", strerror(errno));
            return -errno;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                log_info("signal %s received, shutting down", strsignal((int)si.ssi_signo));
            return 0;
        }
        if (pfd[1].revents & POLLNVAL) {
            stdin_open = false; /* no stdin at all */
        } else if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (control_read(&stdin_src) < 0) {
                stdin_open = false;
                log_info("stdin closed; still running until SIGTERM or SIGINT");
            }
        }
        if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
            control_read(&fifo_src);
    }
}

int main(int argc, char **argv)
{
    kafka_dev_config_t cfg = {0};
    char err[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    const char *bootstraps;
    sigset_t sigs;
    int sfd = -1, fifo_rfd = -1, fifo_wfd = -1;
    bool fifo_created = false, bootstrap_written = false;
    int replication;
    int status = 1;
    int rc;

    log_init(SERVICE, NULL);
    rc = config_load_args(config_table, CONFIG_N, &cfg, SERVICE, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        log_error("configuration: %s", err);
        return 2;
    }
    log_init(SERVICE, cfg.pod_id);
    log_set_level_name(cfg.log_level);

    if (signals_block(&sigs) < 0 || (sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
        log_error("cannot set up signal handling: %s", strerror(errno));
        goto out_free_config;
    }

    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, rdkafka_log_cb);
    if (log_enabled(LOG_DEBUG) &&
        rd_kafka_conf_set(conf, "debug", "mock", err, sizeof(err)) != RD_KAFKA_CONF_OK)
        log_warn("rdkafka debug=mock: %s", err);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        log_error("cannot create the rdkafka handle: %s", err);
        goto out_close_signalfd;
    }

    mc = rd_kafka_mock_cluster_new(rk, (int)cfg.brokers);
    if (!mc) {
        log_error("cannot create the mock cluster with %d broker(s)", (int)cfg.brokers);
        goto out_destroy_rk;
    }
    replication = cfg.brokers < 3 ? (int)cfg.brokers : 3;
    if (topics_create(mc, &cfg, replication) < 0)
        goto out_destroy_cluster;

    if (cfg.control_path[0] && fifo_open(cfg.control_path, &fifo_rfd, &fifo_wfd, &fifo_created) < 0)
        goto out_destroy_cluster;

    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    printf("bootstrap=%s\n", bootstraps);
    fflush(stdout);
    if (cfg.bootstrap_file[0]) {
        rc = bootstrap_file_write(cfg.bootstrap_file, bootstraps);
        if (rc < 0) {
            log_error("cannot write bootstrap_file %s: %s", cfg.bootstrap_file, strerror(-rc));
            goto out_close_fifo;
        }
        bootstrap_written = true;
    }
    log_info("ready: %d broker(s) at %s%s%s", (int)cfg.brokers, bootstraps,
             cfg.control_path[0] ? ", control FIFO " : "", cfg.control_path);

    if (run(mc, sfd, fifo_rfd, replication) == 0)
        status = 0;

    if (bootstrap_written)
        unlink(cfg.bootstrap_file);
out_close_fifo:
    if (fifo_rfd >= 0)
        close(fifo_rfd);
    if (fifo_wfd >= 0)
        close(fifo_wfd);
    if (fifo_created)
        unlink(cfg.control_path);
out_destroy_cluster:
    rd_kafka_mock_cluster_destroy(mc);
out_destroy_rk:
    rd_kafka_destroy(rk);
out_close_signalfd:
    if (sfd >= 0)
        close(sfd);
out_free_config:
    config_free(config_table, CONFIG_N, &cfg);
    if (status == 0)
        log_info("stopped");
    return status;
}
