/* service: the start of every stage's main(), done one way. See service.h. */
#include "service.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "log.h"
#include "metrics.h"
#include "version.h"

static int s_signal_fd = -1;

/* Blocks the stop and reload signals (inherited by every thread created afterwards: CZMQ's,
 * librdkafka's, the admin listener's) and opens the signalfd that the loop reads them from. */
static int signals_install(void)
{
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL); /* CZMQ must not install its own SIGINT/SIGTERM handlers */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    if (s_signal_fd < 0)
        s_signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return s_signal_fd < 0 ? -errno : 0;
}

int service_signal_fd(void)
{
    return s_signal_fd;
}

int service_signal_next(void)
{
    struct signalfd_siginfo si;
    if (s_signal_fd < 0 || read(s_signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
        return 0;
    return (int)si.ssi_signo;
}

service_signal_t service_signal_kind(int signo)
{
    switch (signo) {
    case SIGTERM:
    case SIGINT:
        return SERVICE_SIGNAL_STOP;
    case SIGHUP:
        return SERVICE_SIGNAL_RELOAD;
    default:
        return SERVICE_SIGNAL_NONE;
    }
}

typedef struct {
    void (*on_reload)(void *arg);
    void *arg;
} zloop_signals_t;

static zloop_signals_t s_zloop_signals;

static int on_zloop_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    zloop_signals_t *z = arg;
    int signo;
    while ((signo = service_signal_next()) != 0) {
        switch (service_signal_kind(signo)) {
        case SERVICE_SIGNAL_STOP:
            log_info("signal %d: stopping", signo);
            return -1; /* ends zloop_start() */
        case SERVICE_SIGNAL_RELOAD:
            if (z->on_reload)
                z->on_reload(z->arg);
            else
                log_info("signal %d: nothing to reload", signo);
            break;
        case SERVICE_SIGNAL_NONE:
            break;
        }
    }
    return 0;
}

int service_zloop_signals(zloop_t *loop, void (*on_reload)(void *arg), void *arg)
{
    if (s_signal_fd < 0)
        return -1;
    s_zloop_signals = (zloop_signals_t){on_reload, arg};
    zmq_pollitem_t item = {NULL, s_signal_fd, ZMQ_POLLIN, 0};
    return zloop_poller(loop, &item, on_zloop_signal, &s_zloop_signals);
}

int service_setup(const char *service, const config_option_t *table, size_t n, void *cfg, int argc,
                  char **argv, char **pod_id, char **log_level)
{
    char err[512];
    int rc = config_load_args(table, n, cfg, service, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "%s: %s\n", service, err);
        config_free(table, n, cfg);
        return rc < 0 ? 2 : 0;
    }
    if (!*pod_id || !(*pod_id)[0]) {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        char *copy = strdup(host);
        if (!copy) {
            fprintf(stderr, "%s: out of memory\n", service);
            config_free(table, n, cfg);
            return 1;
        }
        free(*pod_id);
        *pod_id = copy;
    }
    log_init(service, *pod_id);
    log_set_level_name(*log_level);
    metrics_build_info(OCPPGW_VERSION, OCPPGW_REVISION);
    /* the ipc:// socket files and anything else a stage creates are private to the pod's user
     * (every container of a pod runs as the same uid) */
    umask(077);
    int src = signals_install();
    if (src < 0) {
        fprintf(stderr, "%s: cannot set up signals: %s\n", service, strerror(-src));
        config_free(table, n, cfg);
        return 1;
    }
    return SERVICE_RUN;
}
