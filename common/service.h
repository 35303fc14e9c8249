/* service: the start of every stage's main(), done one way.
 *
 * Loads the stage's configuration table (defaults, YAML, OCPPGW_* environment, --config,
 * --help, --print-config), defaults pod_id to the host name, and starts the JSON log. */
#ifndef OCPPGW_SERVICE_H
#define OCPPGW_SERVICE_H

#include <stddef.h>

#include <czmq.h>

#include "config.h"

#define SERVICE_RUN (-1)

/* The configuration keys every stage of a pod has, defined once: the rows open each stage's
 * table. type: the stage's config struct, with fields pod_id, ipc_dir, log_level, admin_bind
 * (char *) and core_count, admin_port (int64_t); default_admin_port: as text. */
/* clang-format off */
#define SERVICE_POD_OPTIONS(type, default_admin_port)                                            \
    {"pod_id", CONFIG_STRING, "", offsetof(type, pod_id), 0, 0, NULL, NULL,                     \
     "pod this process belongs to (default: host name)"},                                        \
    {"ipc_dir", CONFIG_STRING, "/tmp/ocppgw", offsetof(type, ipc_dir), 0, 0, NULL, NULL,         \
     "directory of the pod's ipc:// sockets"},                                                   \
    {"core_count", CONFIG_INT, "1", offsetof(type, core_count), 1, 64, NULL, NULL,               \
     "number of ocpp-core processes in the pod"},                                                \
    {"log_level", CONFIG_ENUM, "info", offsetof(type, log_level), 0, 0, "debug|info|warn|error", \
     NULL, "log threshold"},                                                                     \
    {"admin_bind", CONFIG_STRING, "127.0.0.1", offsetof(type, admin_bind), 0, 0, NULL, NULL,     \
     "address of the /metrics, /healthz, /readyz listener"},                                     \
    {"admin_port", CONFIG_INT, default_admin_port, offsetof(type, admin_port), 0, 65535, NULL,   \
     NULL, "port of the admin listener (0: ephemeral)"}
/* clang-format on */

/* pod_id and log_level point at the string fields of cfg that hold them. It also installs the
 * signal scheme below (before any thread exists, so every thread inherits it). Returns SERVICE_RUN
 * when the service should run; otherwise the exit code: 0 after --help or --print-config, 2
 * after an invalid setting (the message, naming the key, the value and what is allowed, is on
 * stderr). The configuration is freed on every path that does not run. */
int service_setup(const char *service, const config_option_t *table, size_t n, void *cfg, int argc,
                  char **argv, char **pod_id, char **log_level);

/* Signals, one scheme for every stage: SIGTERM, SIGINT and SIGHUP are blocked in every thread
 * and read from a signalfd by the stage's own loop (never in a handler); SIGPIPE is ignored.
 * SIGTERM and SIGINT ask for a clean stop (drain, flush, release); SIGHUP asks to reload what can
 * be reloaded. service_signal_fd() is the descriptor to wait on (-1 before service_setup);
 * service_signal_next() takes one pending signal without blocking: its number, or 0. */
int service_signal_fd(void);
int service_signal_next(void);

/* What a signal asks of a stage. */
typedef enum {
    SERVICE_SIGNAL_NONE = 0,
    SERVICE_SIGNAL_STOP,  /* SIGTERM, SIGINT */
    SERVICE_SIGNAL_RELOAD /* SIGHUP */
} service_signal_t;
service_signal_t service_signal_kind(int signo);

/* For the stages on a CZMQ zloop: SIGTERM/SIGINT end zloop_start(); SIGHUP calls on_reload(arg)
 * when it is not NULL (otherwise it is logged and ignored). 0 or -1. */
int service_zloop_signals(zloop_t *loop, void (*on_reload)(void *arg), void *arg);

#endif
