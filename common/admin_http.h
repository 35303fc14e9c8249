/* admin_http.h: the per-process admin HTTP port serving /metrics, /healthz and /readyz.
 *
 * One background thread answers on its own socket, so probes and scrapes work even when the
 * main loop is stuck; that is exactly what /healthz reports: it fails once the main loop has not
 * called admin_http_heartbeat() within the stall limit, and Kubernetes restarts the process.
 *
 *   GET /metrics  200 text/plain; version=0.0.4, metrics_render()
 *   GET /healthz  200 "ok\n", or 503 "stalled: no heartbeat for N ms\n"
 *   GET /readyz   200 "ready\n", or 503 "not ready: <reason>\n" (starts as "starting")
 *   other paths 404, other methods 405; every reply has Content-Length and Connection: close.
 *
 * Requests are read with a 2 s timeout and an 8 KiB cap; slow or silent clients are served side by
 * side with others, never one blocking the rest, and one address holds at most 4 of the 16
 * connection slots (more are closed at once and counted in admin_refused_total), so a client that
 * can reach the port cannot starve the kubelet's probes into restarting the process.
 */
#ifndef OCPPGW_ADMIN_HTTP_H
#define OCPPGW_ADMIN_HTTP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct admin_http admin_http_t;

/* Starts the listener thread on bind_addr:port (bind_addr NULL or "" = 0.0.0.0, port 0 =
   ephemeral). NULL on failure, logged with the reason (e.g. port in use). The heartbeat clock
   starts now. */
admin_http_t *admin_http_start(const char *bind_addr, int port);

/* The actual bound port; -EINVAL for NULL. */
int admin_http_port(const admin_http_t *self);

/* /readyz state; reason (copied, may be NULL) is shown while not ready. */
void admin_http_set_ready(admin_http_t *self, bool ready, const char *reason);

/* The main loop calls this at least every second. Lock-free. */
void admin_http_heartbeat(admin_http_t *self);

/* How long without heartbeat before /healthz fails; default 10000. Values <= 0 are ignored. */
void admin_http_set_stall_limit_ms(admin_http_t *self, int64_t ms);

/* Stops the thread (promptly, even while it waits in accept), closes every socket, frees, sets
 *self_p = NULL; safe on NULL and twice. */
void admin_http_stop(admin_http_t **self_p);

#endif
