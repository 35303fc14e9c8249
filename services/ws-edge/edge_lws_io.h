/* edge_lws_io: ws-edge's libwebsockets wiring (the shell of the edge_conn engine).
 *
 * The lws 4.1 context on the process's libuv loop, the protocols table, the lws callback that
 * turns lws reasons into engine inputs (edge_conn.h) and upgrade requests into admission facts
 * (edge_admission.h, then edge_auth_io.h), the engine's connection effects as lws calls, and the
 * edge's own SO_REUSEPORT listeners (ws and wss) whose accepted sockets take one path until lws
 * adopts them: max_handshakes, the PROXY v2 header when proxy_protocol is v2, the per-address
 * cap on sockets in the handshake. Only this file, edge_tls_io.c and main.c touch lws or
 * sockets. */
#ifndef EDGE_LWS_IO_H
#define EDGE_LWS_IO_H

#include <stdbool.h>

#include <uv.h>

#include "edge_auth_io.h"
#include "edge_config.h"
#include "edge_conn.h"

typedef struct edge_lws edge_lws_t;

/* The connection effects of edge_conns_ops_t carried out with lws (read_enable, want_write,
 * write_text, write_ping, close_now, close_deadline); the others are left as they are. */
void edge_lws_conn_ops(edge_conns_ops_t *ops);
/* Bytes lws_write() needs before the data (LWS_PRE). */
size_t edge_lws_write_headroom(void);

/* Raises RLIMIT_NOFILE, creates the lws context on loop (libuv, no lws validity timers) with
 * the wss vhost when wss_port is set (edge_tls_io.h), opens the listeners (ws_port, wss_port;
 * 0: none) and starts accepting. cfg, loop and conns are borrowed. NULL on failure (logged). */
edge_lws_t *edge_lws_new(const edge_config_t *cfg, uv_loop_t *loop, edge_conns_t *conns);
/* The authentication of upgrades (borrowed; set before the loop runs). Without it every upgrade
 * is refused with 503. */
void edge_lws_set_auth(edge_lws_t *self, edge_auth_io_t *auth);
/* SIGHUP: reloads the wss listener's certificate, key and client CA (edge_tls_reload). */
int edge_lws_reload_tls(edge_lws_t *self);
/* SIGTERM: the listening sockets close (with several edges the others keep the ports) and
 * upgrades still in progress are refused with 503. */
void edge_lws_stop_accepting(edge_lws_t *self);
/* A listening socket is open (they close on SIGTERM): a condition of /readyz. */
bool edge_lws_listening(const edge_lws_t *self);
/* After engine inputs from outside lws callbacks: lws (libuv) arms a timer set there only when
 * it is woken up, so wake it if the engine closed a connection. */
void edge_lws_kick(edge_lws_t *self);
/* Closes the listeners and destroys the context (every open connection reports closed to the
 * engine); the loop must then run once to finish closing its handles before _destroy, which
 * calls lws_context_destroy() again: on a foreign loop lws 4.1 frees the context only then. */
void edge_lws_stop(edge_lws_t *self);
void edge_lws_destroy(edge_lws_t **self_p);

#endif
