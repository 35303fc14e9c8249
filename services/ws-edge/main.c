/* ws-edge: terminates charge-point WebSockets and moves raw frames to and from ocpp-core.
 *
 * Wiring only: configuration, the ZeroMQ sockets and timers on a libuv loop (epoll), and calls
 * into the connection engine (edge_conn.c); libwebsockets is wired in edge_lws_io.c. The edge
 * never parses OCPP: it checks the URL, identity and subprotocol (edge_admission.c), then hands
 * complete text messages to the core chosen by a stable hash of the identity (DESIGN §1, §3). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <czmq.h>
#include <uv.h>

#include "admin_http.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "edge_config.h"
#include "edge_conn.h"
#include "edge_lws_io.h"
#include "edge_outbox_io.h"
#include "edge_metrics.h"
#include "edge_security_io.h"
#include "envelope.h"
#include "log.h"
#include "service.h"

static struct {
    edge_config_t cfg;
    uv_loop_t loop;
    uv_poll_t zmq_poll;
    uv_idle_t drain_idle; /* continues draining core's messages after a full batch */
    uv_timer_t hello_timer;
    uv_timer_t retry_timer; /* outboxes, re-announces and held envelopes (flow control, rate) */
    uv_timer_t live_timer;  /* 1 s: a liveness tick of the engine */
    uv_timer_t drain_timer; /* staggered close after SIGTERM */
    uv_timer_t stop_timer;
    uv_poll_t signals; /* the signalfd of service.h */
    zsock_t *pull;
    edge_outboxes_t *out; /* to the cores and the registry: nothing waits on a full peer */
    char *endpoint;
    admin_http_t *admin;
    edge_conns_t *conns;
    edge_lws_t *lws;
    edge_security_t *sec; /* credentials, authentication, the registry link */
    bool stopping;
    uint64_t drain_start_ms;
    size_t drain_total;
} E;

/* ---- the engine's effects towards core and the registry ------------------------------------ */

/* /readyz: ready while listening and not draining, once the credential cache had its first
 * full sync (when the edge needs credentials: edge_security_ready). */
static void update_ready(void)
{
    const char *why = E.stopping                    ? "draining"
                      : !edge_lws_listening(E.lws)  ? "not listening"
                      : !edge_security_ready(E.sec) ? "credentials not synced"
                                                    : NULL;
    admin_http_set_ready(E.admin, why == NULL, why);
}

/* Every EDGE_RETRY_MS while anything waits: what the outboxes hold goes first (in order), then
 * the engine re-announces and retries what it holds. */
static void on_retry_timer(uv_timer_t *t)
{
    edge_outboxes_flush(E.out);
    if (edge_conns_retry(E.conns, clock_now_us()) == 0 && edge_outboxes_queued(E.out) == 0)
        uv_timer_stop(t);
    edge_lws_kick(E.lws);
}

static void op_want_retry(void *arg)
{
    (void)arg;
    if (!uv_is_active((uv_handle_t *)&E.retry_timer))
        uv_timer_start(&E.retry_timer, on_retry_timer, EDGE_RETRY_MS, EDGE_RETRY_MS);
}

static int op_send(void *arg, edge_peer_t to, uint32_t index, const envelope_t *env,
                   outbox_policy_t policy)
{
    int rc = edge_outboxes_send(E.out, to, index, env, policy);
    if (edge_outboxes_queued(E.out) > 0)
        op_want_retry(arg);
    return rc;
}

/* ---- messages from the cores (SEND, CLOSE, CONN_STATE, ANNOUNCE) and the registry (CRED,
 * CRED_SYNC, ANNOUNCE) ------------------------------------------------------------------------ */

static void handle_from_core(const envelope_t *env, void *arg)
{
    (void)arg;
    if (edge_security_from_registry(E.sec, env) == 0) {
        update_ready(); /* the first full sync makes the edge ready */
        return;
    }
    int rc = edge_conns_from_core(E.conns, env);
    if (rc < 0)
        channel_reject(rc == -ERANGE ? "bad field" : "unexpected type", "core", env);
}

/* ZMQ_FD is edge-triggered: drain while ZMQ_EVENTS says POLLIN, at most a batch per wake-up,
 * and come back on the next loop iteration if the batch cap was reached. */
static void on_drain_idle(uv_idle_t *idle);

static void drain_core(void)
{
    if (channel_drain(E.pull, 4096, "core", handle_from_core, NULL) < 4096)
        uv_idle_stop(&E.drain_idle);
    else /* continue on the next loop iteration, after lws had its turn */
        uv_idle_start(&E.drain_idle, on_drain_idle);
    edge_lws_kick(E.lws);
}

static void on_drain_idle(uv_idle_t *idle)
{
    (void)idle;
    drain_core();
}

static void on_zmq_readable(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    drain_core();
}

/* ---- timers -------------------------------------------------------------------------------- */

/* Once a second: liveness for /healthz, HELLO (a restarted core or registry learns this edge
 * and its instance again), and a drain in case an edge-triggered ZMQ_FD wake-up was missed. */
static void on_hello_timer(uv_timer_t *t)
{
    (void)t;
    admin_http_heartbeat(E.admin);
    edge_conns_hello(E.conns, E.endpoint);
    update_ready();
    drain_core();
}

static void on_live_timer(uv_timer_t *t)
{
    (void)t;
    edge_conns_tick(E.conns);
    edge_lws_kick(E.lws);
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Every 100 ms: close the share of the connections due by now (1001), so that charge points
 * reconnect to the other pods spread over the window; stop once none is left. */
static void on_drain_timer(uv_timer_t *t)
{
    uint64_t elapsed = uv_now(&E.loop) - E.drain_start_ms;
    bool done = edge_conns_drain_step(E.conns, (uint64_t)E.cfg.drain_window_ms, elapsed);
    edge_lws_kick(E.lws);
    if (done) {
        log_info("drain complete: %zu connections closed in %" PRIu64 " ms", E.drain_total,
                 elapsed);
        uv_timer_stop(t);
        uv_stop(&E.loop);
    }
}

static void on_stop(int signum)
{
    if (E.stopping) {
        uv_stop(&E.loop);
        return;
    }
    E.stopping = true;
    update_ready();
    /* stop accepting: with SO_REUSEPORT new connections go to the other edges; upgrades
     * already in progress are refused with 503 */
    edge_lws_stop_accepting(E.lws);
    E.drain_total = edge_conns_count(E.conns);
    if (edge_conns_drain_begin(E.conns) < 0)
        log_error("no memory to list the connections to drain");
    E.drain_start_ms = uv_now(&E.loop);
    log_info("signal %d: draining %zu connections over %" PRId64 " ms", signum, E.drain_total,
             E.cfg.drain_window_ms);
    uv_timer_start(&E.drain_timer, on_drain_timer, 0, 100);
    /* whatever happens, stop a few seconds after the window */
    uv_timer_start(&E.stop_timer, on_stop_timer, (uint64_t)E.cfg.drain_window_ms + 3000, 0);
}

/* The process's signals arrive on the signalfd of service.h (one scheme for every stage). */
static void on_signal_fd(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    int signo;
    while ((signo = service_signal_next()) != 0)
        if (service_signal_kind(signo) == SERVICE_SIGNAL_STOP)
            on_stop(signo);
        else if (service_signal_kind(signo) == SERVICE_SIGNAL_RELOAD)
            edge_lws_reload_tls(E.lws); /* new handshakes get the new certificate */
}

/* ---- process ------------------------------------------------------------------------------- */

static int start(void)
{
    edge_metrics_define();
    edge_conns_ops_t ops = {.send = op_send, .want_retry = op_want_retry};
    edge_lws_conn_ops(&ops);
    /* the instance: this start, in microseconds, also the first connection id */
    E.conns = edge_conns_new(&E.cfg, edge_lws_write_headroom(), clock_now_us(), &ops, NULL);
    if (!E.conns)
        return -1;
    char name[128];
    snprintf(name, sizeof(name), "edge-%s", E.cfg.edge_id);
    E.endpoint = channel_ipc_endpoint(E.cfg.ipc_dir, name);
    E.pull = E.endpoint ? channel_pull_bind(E.endpoint, (int)E.cfg.zmq_hwm) : NULL;
    if (!E.pull)
        return -1;
    E.out = edge_outboxes_new(&E.cfg);
    if (!E.out)
        return -1;
    uv_loop_init(&E.loop);
    E.sec = edge_security_new(&E.cfg, op_send, NULL); /* CRED_USED through the registry outbox */
    if (!E.sec || !(E.lws = edge_lws_new(&E.cfg, &E.loop, E.conns)) ||
        edge_outboxes_batch(E.out, &E.loop, op_want_retry) < 0)
        return -1;
    edge_lws_set_auth(E.lws, edge_security_auth(E.sec));
    uv_poll_init(&E.loop, &E.zmq_poll, channel_fd(E.pull));
    uv_poll_start(&E.zmq_poll, UV_READABLE, on_zmq_readable);
    uv_idle_init(&E.loop, &E.drain_idle);
    uv_timer_init(&E.loop, &E.hello_timer);
    uv_timer_init(&E.loop, &E.retry_timer);
    uv_timer_init(&E.loop, &E.live_timer);
    uv_timer_init(&E.loop, &E.drain_timer);
    uv_timer_init(&E.loop, &E.stop_timer);
    uv_timer_start(&E.live_timer, on_live_timer, 1000, 1000);
    uv_timer_start(&E.hello_timer, on_hello_timer, 0, 1000);
    uv_poll_init(&E.loop, &E.signals, service_signal_fd());
    uv_poll_start(&E.signals, UV_READABLE, on_signal_fd);
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    int rc = service_setup("ws-edge", EDGE_CONFIG, EDGE_CONFIG_COUNT, &E.cfg, argc, argv,
                           &E.cfg.pod_id, &E.cfg.log_level);
    if (rc == SERVICE_RUN)
        rc = edge_config_validate(&E.cfg);
    if (rc != SERVICE_RUN)
        return rc;
    E.admin = admin_http_start(E.cfg.admin_bind, (int)E.cfg.admin_port);
    if (!E.admin || start() < 0)
        return 1;
    edge_conns_hello(E.conns, E.endpoint);
    update_ready();
    log_info("listening on %s ws:%" PRId64 " wss:%" PRId64 " (paths %s, subprotocols %s, proxy "
             "protocol %s), edge %s instance %" PRIu64 " -> %" PRId64 " core(s), partial "
             "messages budget %" PRId64 " bytes",
             E.cfg.ws_bind, E.cfg.ws_port, E.cfg.wss_port, E.cfg.path_prefixes, E.cfg.subprotocols,
             E.cfg.proxy_protocol, E.cfg.edge_id, edge_conns_instance(E.conns), E.cfg.core_count,
             E.cfg.rx_budget_bytes);

    uv_run(&E.loop, UV_RUN_DEFAULT);

    log_info("stopping");
    edge_lws_stop(E.lws);            /* open connections report closed: DISCONNECT to core */
    edge_outboxes_batch_stop(E.out); /* sent now, not batched */
    uv_handle_t *handles[] = {(uv_handle_t *)&E.zmq_poll,    (uv_handle_t *)&E.drain_idle,
                              (uv_handle_t *)&E.hello_timer, (uv_handle_t *)&E.retry_timer,
                              (uv_handle_t *)&E.live_timer,  (uv_handle_t *)&E.drain_timer,
                              (uv_handle_t *)&E.stop_timer,  (uv_handle_t *)&E.signals};
    for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++)
        close_handle(handles[i]);
    uv_run(&E.loop, UV_RUN_DEFAULT);
    edge_lws_destroy(&E.lws); /* lws 4.1 frees a context on a foreign loop only now */
    edge_security_destroy(&E.sec);
    if (uv_loop_close(&E.loop) < 0)
        log_warn("event loop closed with handles still open");
    edge_conns_destroy(&E.conns);
    edge_outboxes_destroy(&E.out);
    zsock_destroy(&E.pull);
    free(E.endpoint);
    admin_http_stop(&E.admin);
    metrics_shutdown();
    config_free(EDGE_CONFIG, EDGE_CONFIG_COUNT, &E.cfg);
    return 0;
}
