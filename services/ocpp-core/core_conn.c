/* core_conn: the engine of ocpp-core. See core_conn.h; the rules are described in
 * docs/ocpp-core.md.
 *
 * Reading order: the connection table and the effects (send, close, event, register), then the
 * life of a connection (CONNECT, DISCONNECT, SUPERSEDED, REGISTERED), one CALL from the charge
 * point (gating, schema, answer, hold until persisted, EVENT_ACK, hold deadline), one command
 * for it (COMMAND, queue, CALL, response, timeout, expiry, exactly one RESULT), the deadlines,
 * and the dispatch of envelopes. */
#include "core_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <jansson.h>

#include "channel.h"
#include "core_actions.h"
#include "core_command.h"
#include "core_event.h"
#include "core_metrics.h"
#include "core_session.h"
#include "core_timers.h"
#include "hash.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "ocpp_frame.h"
#include "ocpp_schema.h"
#include "u64map.h"

#define EDGE_ID_MAX    63
#define COMMAND_ID_MAX 79

/* One charge-point connection, from CONNECT to DISCONNECT. */
typedef struct {
    uint64_t key; /* table key, from (edge id, conn id) */
    char edge_id[EDGE_ID_MAX + 1];
    uint64_t conn_id;
    char identity[IDENTITY_MAX + 1];
    ocpp_version_t version;
    uint64_t epoch;        /* fencing epoch from REGISTERED; 0: not registered, or stale */
    uint64_t connected_us; /* when the edge accepted it */
    core_session_t *s;     /* boot state, held answer, downlink queue: kept only there */
    core_timer_t timer;    /* armed at the session's next deadline */
} conn_t;

struct core_conn {
    core_conn_config_t cfg;
    core_conn_ops_t ops;
    void *ops_arg;
    core_auth_policy_t auth_policy;
    u64map_t *conns;       /* key -> conn_t (owned) */
    zhashx_t *identities;  /* identity -> conn_t: the newest connection of each identity */
    u64map_t *held;        /* EVENT token -> conn_t whose session holds that answer (an index) */
    zhashx_t *edges;       /* edge ids with an open route (values unused) */
    core_timers_t *timers; /* one entry per connection with a deadline */
    uint64_t next_token;   /* last EVENT ack token given */
    metrics_counter_t *m_calls, *m_events, *m_stale;
    metrics_gauge_t *m_conns, *m_held, *m_busy;
};

static void count(core_metric_t m, const char *label_value)
{
    metrics_def_count(&CORE_METRICS[m], label_value);
}

/* ---- the connection table ---------------------------------------------------------------- */

static uint64_t conn_key(env_str_t edge_id, uint64_t conn_id)
{
    uint64_t h = hash_murmur2(edge_id.ptr, edge_id.len);
    uint64_t key = ((h << 32) | (h >> 32)) ^ conn_id ^ 0x9e3779b97f4a7c15ULL;
    return key ? key : 1; /* 0 is not a key of u64map */
}

/* The connection (edge id, conn id), or NULL. The key is a hash: the ids are compared too, so
 * a collision never acts on another charge point's connection. */
static conn_t *conn_find(const core_conn_t *self, env_str_t edge_id, uint64_t conn_id)
{
    conn_t *c = u64map_get(self->conns, conn_key(edge_id, conn_id));
    char edge[EDGE_ID_MAX + 1]; /* compared as stored: cut to EDGE_ID_MAX */
    env_str_copy(edge_id, edge, sizeof(edge));
    if (!c || c->conn_id != conn_id || strcmp(edge, c->edge_id) != 0)
        return NULL;
    return c;
}

static conn_t *conn_of_identity(const core_conn_t *self, env_str_t identity)
{
    char id[IDENTITY_MAX + 1];
    env_str_copy(identity, id, sizeof(id));
    return zhashx_lookup(self->identities, id);
}

static void identity_forget(core_conn_t *self, const conn_t *c)
{
    if (zhashx_lookup(self->identities, c->identity) == c)
        zhashx_delete(self->identities, c->identity);
}

/* Re-arms the connection's timer at its session's next deadline (or cancels it). */
static void schedule(core_conn_t *self, conn_t *c)
{
    core_timers_set(self->timers, &c->timer, core_session_next_deadline(c->s));
}

/* ---- effects ------------------------------------------------------------------------------ */

static int send_to_edge(core_conn_t *self, const conn_t *c, const envelope_t *env)
{
    int rc = self->ops.send(self->ops_arg, CORE_TO_EDGE, c->edge_id, env);
    if (rc == -ENOENT)
        log_write(LOG_WARN, c->identity, NULL, "no route to edge %s yet", c->edge_id);
    return rc;
}

static void send_text(core_conn_t *self, const conn_t *c, const char *text)
{
    envelope_t env = {.type = ENV_SEND};
    env.u.send.conn_id = c->conn_id;
    env.u.send.data = (env_bin_t){(const uint8_t *)text, strlen(text)};
    send_to_edge(self, c, &env);
}

static void close_conn(core_conn_t *self, const conn_t *c, uint32_t code, const char *reason)
{
    envelope_t env = {.type = ENV_CLOSE};
    env.u.close.conn_id = c->conn_id;
    env.u.close.code = code;
    env.u.close.reason = env_str(reason);
    send_to_edge(self, c, &env);
}

/* Publishes a unified event (token != 0: the bridge acks it). 0 or the send's error. */
static int publish_event(core_conn_t *self, const conn_t *c, core_event_t *ev, uint64_t token)
{
    char *value = core_event_build(ev);
    if (!value) {
        log_write(LOG_ERROR, c->identity, ev->message_id, "event %s could not be built", ev->type);
        return -ENOMEM;
    }
    envelope_t env = {.type = ENV_EVENT};
    env.u.event.core_id = self->cfg.core_index;
    env.u.event.token = token;
    env.u.event.topic = env_str(self->cfg.events_topic);
    env.u.event.key = env_str(c->identity);
    env.u.event.headers.count = 2;
    env.u.event.headers.items[0] = (env_header_t){env_str("ce_type"), env_str(ev->type)};
    env.u.event.headers.items[1] =
        (env_header_t){env_str("ce_id"), env_str(ev->id ? ev->id : ev->content_id)};
    env.u.event.value = (env_bin_t){(const uint8_t *)value, strlen(value)};
    int rc = self->ops.send(self->ops_arg, CORE_TO_BRIDGE, NULL, &env);
    if (rc == 0)
        metrics_counter_add(self->m_events, 1);
    free(value);
    return rc;
}

/* device.connected / device.disconnected: a new occurrence each, id from the connection */
static void transport_event(core_conn_t *self, const conn_t *c, const char *type, json_t *data,
                            uint64_t at)
{
    char id[CORE_EVENT_ID_LEN + 1], conn[24], when[24];
    snprintf(conn, sizeof(conn), "%" PRIu64, c->conn_id);
    snprintf(when, sizeof(when), "%" PRIu64, at);
    const char *parts[] = {c->identity, type, c->edge_id, conn, when};
    core_event_id_parts(parts, 5, id);
    core_event_t ev = {.type = type,
                       .identity = c->identity,
                       .pod = self->cfg.pod_id,
                       .id = id,
                       .time_us = at,
                       .data = data};
    publish_event(self, c, &ev, 0);
}

/* REGISTER on connect, again once the boot is accepted (the registry records the boot state) */
static void send_register(core_conn_t *self, const conn_t *c)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = self->cfg.core_index;
    env.u.register_.identity = env_str(c->identity);
    env.u.register_.conn_id = c->conn_id;
    env.u.register_.edge_id = env_str(c->edge_id);
    env.u.register_.ocpp_version = env_str(ocpp_version_name(c->version));
    env.u.register_.boot_state = env_str(core_session_booted(c->s) ? "accepted" : "none");
    env.u.register_.since_us = c->connected_us;
    self->ops.send(self->ops_arg, CORE_TO_REGISTRY, NULL, &env);
}

static void send_unregister(core_conn_t *self, const conn_t *c)
{
    envelope_t env = {.type = ENV_UNREGISTER};
    env.u.unregister.core_id = self->cfg.core_index;
    env.u.unregister.identity = env_str(c->identity);
    env.u.unregister.conn_id = c->conn_id;
    env.u.unregister.epoch = c->epoch;
    self->ops.send(self->ops_arg, CORE_TO_REGISTRY, NULL, &env);
}

/* The one place that answers a charge point with a CALLERROR; it also counts by code. */
static void reply_error(core_conn_t *self, const conn_t *c, const char *message_id,
                        ocpp_error_t err, const char *why)
{
    const char *code = ocpp_error_code(err, c->version);
    count(CORE_M_OCPP_ERRORS, code);
    log_write(LOG_WARN, c->identity, message_id, "CALLERROR %s: %s", code, why);
    if (!message_id || !message_id[0])
        return; /* no id: nothing can be answered */
    char *text = ocpp_frame_callerror(message_id, code, why);
    if (text)
        send_text(self, c, text);
    free(text);
}

/* The one place a command gets its final result (RESULT to the bridge, then command-results).
 * cmd is NULL for a record that never became a command (no charge point here, invalid). */
static void command_finish(core_conn_t *self, const char *identity, uint64_t token,
                           const char *command_id, const core_command_t *cmd, const char *status,
                           const json_t *response, const ocpp_frame_t *error, const char *reason,
                           uint64_t now)
{
    char *value = core_command_result(
        command_id, identity, status, cmd, response, error ? error->error_code : NULL,
        error ? error->error_text : NULL, error ? error->payload : NULL, reason, now);
    count(CORE_M_COMMAND_RESULTS, status);
    log_write(strcmp(status, "accepted") == 0 ? LOG_INFO : LOG_WARN, identity, NULL,
              "command %s: %s", command_id, status);
    envelope_t env = {.type = ENV_RESULT};
    env.u.result.core_id = self->cfg.core_index;
    env.u.result.token = token;
    env.u.result.command_id = env_str(command_id);
    env.u.result.status = env_str(status);
    env.u.result.value =
        (env_bin_t){(const uint8_t *)(value ? value : "{}"), value ? strlen(value) : 2};
    self->ops.send(self->ops_arg, CORE_TO_BRIDGE, NULL, &env);
    free(value);
}

/* command_finish for a command of connection c without a response; frees the command */
static void command_end(core_conn_t *self, const conn_t *c, core_command_t **cmd,
                        const char *status, const char *reason, uint64_t now)
{
    command_finish(self, c->identity, (*cmd)->token, (*cmd)->command_id, *cmd, status, NULL, NULL,
                   reason, now);
    core_command_free(cmd);
}

/* A held answer that will not be sent: drop it from the index and free it. */
static void held_forget(core_conn_t *self, core_held_t *h)
{
    u64map_remove(self->held, h->token);
    metrics_gauge_set(self->m_held, (int64_t)u64map_size(self->held));
    core_held_clear(h);
}

/* ---- the life of a connection ------------------------------------------------------------ */

/* The connection ends: every command it still has gets its final result (sent but unanswered:
 * the outcome is unknown, timeout; never sent: expired here), the held answer is dropped, and
 * everything is freed. The caller took it out of the table. */
static void conn_release(core_conn_t *self, conn_t *c, const char *why, uint64_t now)
{
    core_command_t *cmd;
    while ((cmd = core_session_take_any(c->s)) != NULL)
        command_end(self, c, &cmd, cmd->message_id[0] ? "timeout" : "expired", why, now);
    core_held_t h;
    if (core_session_take_held(c->s, &h)) {
        log_write(LOG_INFO, c->identity, h.message_id, "held answer dropped: %s", why);
        held_forget(self, &h);
    }
    core_timers_set(self->timers, &c->timer, 0);
    core_session_destroy(&c->s);
    free(c);
}

/* Takes c out of the table and the identity index. */
static void conn_unlink(core_conn_t *self, conn_t *c)
{
    u64map_remove(self->conns, c->key);
    identity_forget(self, c);
    metrics_gauge_set(self->m_conns, (int64_t)u64map_size(self->conns));
}

static conn_t *conn_new(const env_connect_t *m)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->key = conn_key(m->edge_id, m->conn_id);
    env_str_copy(m->edge_id, c->edge_id, sizeof(c->edge_id));
    env_str_copy(m->identity, c->identity, sizeof(c->identity));
    c->conn_id = m->conn_id;
    c->connected_us = m->at_us;
    return c;
}

/* message ids of downlink CALLs: unique by (pod, core, connection, time) */
static uint64_t message_id_seed(const core_conn_t *self, const conn_t *c, uint64_t now)
{
    char text[160];
    snprintf(text, sizeof(text), "%s/%" PRIu32 "/%s/%" PRIu64 "/%" PRIu64, self->cfg.pod_id,
             self->cfg.core_index, c->edge_id, c->conn_id, now);
    return ((uint64_t)hash_murmur2(text, strlen(text)) << 32) ^ now;
}

static void on_connect(core_conn_t *self, const env_connect_t *m, uint64_t now)
{
    conn_t *c = conn_new(m);
    if (!c)
        return;
    if (ocpp_version_from_subprotocol(m->subprotocol.ptr, m->subprotocol.len, &c->version) < 0) {
        log_write(LOG_WARN, c->identity, NULL, "unknown subprotocol, closing");
        close_conn(self, c, 1002, "unknown subprotocol");
        free(c);
        return;
    }
    conn_t *old = u64map_get(self->conns, c->key);
    if (old && (old->conn_id != c->conn_id || strcmp(old->edge_id, c->edge_id) != 0)) {
        /* two connections whose keys collide: never mix them up, refuse the new one */
        log_write(LOG_ERROR, c->identity, NULL, "connection key collides with conn_id=%" PRIu64,
                  old->conn_id);
        close_conn(self, c, 1011, "connection id collision");
        free(c);
        return;
    }
    c->s = core_session_new(c->version, self->cfg.command_queue_max, message_id_seed(self, c, now));
    if (!c->s || core_timers_reserve(self->timers, u64map_size(self->conns) + 1) < 0) {
        close_conn(self, c, 1011, "out of memory");
        core_session_destroy(&c->s);
        free(c);
        return;
    }
    if (old) { /* same edge and id again: the edge restarted its counter; replace */
        conn_unlink(self, old);
        conn_release(self, old, "connection replaced", now);
    }
    if (u64map_put(self->conns, c->key, c) < 0) {
        close_conn(self, c, 1011, "out of memory");
        conn_release(self, c, "out of memory", now);
        return;
    }
    /* newest connection of an identity wins on this core; the registry does it cluster-wide */
    conn_t *prev = zhashx_lookup(self->identities, c->identity);
    if (prev) {
        log_write(LOG_INFO, c->identity, NULL, "newer connection replaces conn_id=%" PRIu64,
                  prev->conn_id);
        close_conn(self, prev, 1000, "superseded by a newer connection");
    }
    zhashx_update(self->identities, c->identity, c);
    metrics_gauge_set(self->m_conns, (int64_t)u64map_size(self->conns));
    send_register(self, c);
    char peer[64];
    env_str_copy(m->peer, peer, sizeof(peer));
    json_t *data = json_pack("{s:s, s:s, s:s}", "ocpp_version", ocpp_version_name(c->version),
                             "peer", peer, "pod", self->cfg.pod_id);
    transport_event(self, c, "device.connected", data, m->at_us);
    json_decref(data);
}

static void on_disconnect(core_conn_t *self, const env_disconnect_t *m, uint64_t now)
{
    conn_t *c = conn_find(self, m->edge_id, m->conn_id);
    if (!c) {
        metrics_counter_add(self->m_stale, 1);
        return;
    }
    conn_unlink(self, c);
    if (c->epoch) /* only a connection that holds the mapping releases it */
        send_unregister(self, c);
    char reason[128];
    env_str_copy(m->reason, reason, sizeof(reason));
    json_t *data = json_pack("{s:i, s:s}", "close_code", (int)m->code, "reason", reason);
    transport_event(self, c, "device.disconnected", data, now);
    json_decref(data);
    conn_release(self, c, "connection closed", now);
}

/* The registry's answer to REGISTER: the fencing epoch, and the boot state any pod recorded. */
static void on_registered(core_conn_t *self, const env_registered_t *m)
{
    conn_t *c = conn_of_identity(self, m->identity);
    if (!c || c->conn_id != m->conn_id)
        return;
    if (m->status < 0) {
        log_write(LOG_WARN, c->identity, NULL, "registration failed (%d), the registry retries",
                  m->status);
        return;
    }
    c->epoch = m->epoch;
    /* a station that booted on any pod is served at once here (DESIGN §6) */
    if (env_str_eq(m->boot_state, "accepted") && !core_session_booted(c->s))
        core_session_set_booted(c->s);
}

/* A newer registration of the identity exists (another pod, or a newer epoch): close ours. */
static void on_superseded(core_conn_t *self, const env_superseded_t *m)
{
    conn_t *c = conn_of_identity(self, m->identity);
    if (!c || (m->conn_id && c->conn_id != m->conn_id) || c->epoch >= m->epoch)
        return;
    char by[64];
    env_str_copy(m->by_pod, by, sizeof(by));
    log_write(LOG_INFO, c->identity, NULL, "superseded by pod %s (epoch %" PRIu64 "), closing", by,
              m->epoch);
    count(CORE_M_SUPERSEDED, NULL);
    c->epoch = 0; /* stale: never release the newer owner's mapping */
    close_conn(self, c, 1000, "superseded by a newer connection");
}

/* The registry's backpressure signal: recorded and logged. Slowing the edges' accepting while
 * it is busy is the next step (docs/registry.md); connections already accepted keep working. */
static void on_registry_busy(core_conn_t *self, const env_registry_busy_t *m)
{
    if (metrics_gauge_get(self->m_busy) != (m->busy ? 1 : 0))
        log_write(m->busy ? LOG_WARN : LOG_INFO, NULL, NULL,
                  "registry %s: %u queued, limit %u, redis %s", m->busy ? "busy" : "no longer busy",
                  m->queued, m->limit, m->redis_up ? "up" : "down");
    metrics_gauge_set(self->m_busy, m->busy ? 1 : 0);
}

/* ---- one CALL from the charge point -------------------------------------------------------- */

/* The answer waits until the bridge reports the event in Kafka (persist-before-ack, DESIGN §3):
 * the session keeps the CALLRESULT, the index finds it again by the event's token. */
static void hold_answer(core_conn_t *self, conn_t *c, const ocpp_frame_t *f, const json_t *response,
                        uint64_t token, int published, uint64_t now)
{
    char *text = ocpp_frame_callresult(f->message_id, response);
    if (published < 0 || !text || u64map_put(self->held, token, c) < 0) {
        free(text);
        reply_error(self, c, f->message_id, OCPP_ERR_INTERNAL,
                    "event could not be handed to Kafka");
        return;
    }
    uint64_t bound = self->cfg.persist_timeout_ms * 1000u;
    core_session_hold(c->s, f->message_id, token, bound ? now + bound : 0, &text);
    metrics_gauge_set(self->m_held, (int64_t)u64map_size(self->held));
}

static void on_call(core_conn_t *self, conn_t *c, const ocpp_frame_t *f, uint64_t at_us,
                    uint64_t now)
{
    metrics_counter_add(self->m_calls, 1);
    core_held_t abandoned;
    core_call_verdict_t verdict = core_session_on_call(c->s, f->action, &abandoned);
    if (abandoned.token) {
        /* a charge point sends a new CALL only once it gave up on the previous one */
        count(CORE_M_ANSWERS_ABANDONED, NULL);
        log_write(LOG_WARN, c->identity, abandoned.message_id,
                  "new CALL while this one waited for persistence: the charge point gave up on it");
        held_forget(self, &abandoned);
    }
    if (verdict == CORE_CALL_NOT_BOOTED) {
        reply_error(self, c, f->message_id, OCPP_ERR_SECURITY,
                    "BootNotification has not been accepted on this connection");
        return;
    }
    /* the request must match its schema before anything acts on it */
    const ocpp_schema_msg_t *msg = ocpp_schema_find(c->version, f->action);
    ocpp_verr_t verr;
    if (msg &&
        (msg->direction == OS_FROM_CP || msg->direction == OS_BOTH ||
         msg->direction == OS_UNKNOWN_DIR) &&
        ocpp_schema_validate(msg, 0, f->payload, &verr) < 0) {
        reply_error(self, c, f->message_id, verr.err, verr.why);
        return;
    }
    core_action_ctx_t ctx = {.heartbeat_interval_s = self->cfg.heartbeat_interval_s,
                             .now_us = now,
                             .auth_policy = self->auth_policy,
                             .auth_list = self->cfg.auth_list};
    core_action_out_t out;
    core_action_handle(c->version, f->action, f->payload, &ctx, &out);
    /* what the gateway answers must match the response schema too (a bug otherwise) */
    if (!out.err && msg && msg->response && ocpp_schema_validate(msg, 1, out.response, &verr) < 0) {
        log_write(LOG_ERROR, c->identity, f->message_id, "own %s response breaks the schema: %s",
                  f->action, verr.why);
        json_decref(out.response);
        out.response = NULL;
        out.err = OCPP_ERR_INTERNAL;
        out.err_text = "the gateway could not build a valid response";
        out.persist = 0;
    }
    uint64_t token = 0;
    if (out.err) {
        reply_error(self, c, f->message_id, out.err, out.err_text);
    } else if (!out.persist) {
        char *text = ocpp_frame_callresult(f->message_id, out.response);
        if (text)
            send_text(self, c, text);
        free(text);
    } else {
        token = ++self->next_token;
    }
    if (out.boot_accepted && !core_session_booted(c->s)) {
        core_session_set_booted(c->s);
        send_register(self, c); /* re-assert with the boot state (DESIGN §6) */
    }
    int published = -1;
    if (out.event_type) {
        core_event_t ev = {.type = out.event_type,
                           .identity = c->identity,
                           .pod = self->cfg.pod_id,
                           .version = c->version,
                           .action = f->action,
                           .message_id = f->message_id,
                           .time_us = at_us,
                           .data = out.event_data,
                           /* ocpp.message carries the payload anyway */
                           .raw = self->cfg.event_raw_payload &&
                                          strcmp(out.event_type, "ocpp.message") != 0
                                      ? f->payload
                                      : NULL};
        published = publish_event(self, c, &ev, token);
    }
    if (token)
        hold_answer(self, c, f, out.response, token, published, now);
    core_action_out_clear(&out);
}

/* The bridge reports whether an event we wait on is in Kafka: status 0 sends the held answer,
 * anything else answers InternalError (the charge point retries). */
static void on_event_ack(core_conn_t *self, const env_event_ack_t *m)
{
    conn_t *c = m->token ? u64map_get(self->held, m->token) : NULL;
    core_held_t h;
    if (!c || !core_session_release(c->s, m->token, &h)) {
        /* abandoned by a new CALL, past its bound, its connection closed, or of a former run:
         * the event is (or is not) in Kafka, but nobody waits for the answer any more */
        count(CORE_M_ACKS_UNKNOWN, NULL);
        log_write(LOG_INFO, NULL, NULL, "ack for no held answer (token %" PRIu64 ", status %d)",
                  m->token, (int)m->status);
        return;
    }
    if (m->status == 0) {
        send_text(self, c, h.text);
    } else {
        char why[200], err[128];
        env_str_copy(m->error, err, sizeof(err));
        snprintf(why, sizeof(why), "event not persisted: %s", err);
        reply_error(self, c, h.message_id, OCPP_ERR_INTERNAL, why);
    }
    held_forget(self, &h);
    schedule(self, c);
}

/* ---- one command for the charge point ------------------------------------------------------- */

/* Sends the next queued command if the downlink is free (one outstanding CALL); reports the
 * queued commands whose expiry passed. */
static void pump(core_conn_t *self, conn_t *c, uint64_t now)
{
    for (;;) {
        core_command_t *expired = NULL;
        core_command_t *cmd =
            core_session_next(c->s, now, self->cfg.command_timeout_ms * 1000u, &expired);
        if (expired) {
            command_end(self, c, &expired, "expired", "expired while queued for the charge point",
                        now);
            continue;
        }
        if (!cmd)
            return;
        json_t *arr = json_pack("[issO]", OCPP_CALL, cmd->message_id, cmd->action, cmd->payload);
        char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        if (text) { /* otherwise it stays in flight and times out */
            log_write(LOG_INFO, c->identity, cmd->message_id, "CALL %s for command %s", cmd->action,
                      cmd->command_id);
            send_text(self, c, text);
            cmd->sent_us = now;
        }
        free(text);
        return;
    }
}

/* A command from Kafka (through the bridge) for a charge point: refused at once, or queued. */
static void on_command(core_conn_t *self, const env_command_t *m, uint64_t now)
{
    char identity[IDENTITY_MAX + 1], command_id[COMMAND_ID_MAX + 1];
    env_str_copy(m->identity, identity, sizeof(identity));
    env_str_copy(m->command_id, command_id, sizeof(command_id));
    conn_t *c = zhashx_lookup(self->identities, identity);
    if (!c) {
        command_finish(self, identity, m->token, command_id, NULL, "rejected", NULL, NULL,
                       "charge point not connected to this core", now);
        return;
    }
    core_command_t *cmd;
    const char *status;
    char why[200];
    if (core_command_parse(m->record.ptr, m->record.len, c->version, now, &cmd, &status, why,
                           sizeof(why)) < 0) {
        command_finish(self, identity, m->token, command_id, NULL, status, NULL, NULL, why, now);
        return;
    }
    cmd->token = m->token;
    if (core_session_enqueue(c->s, cmd) < 0) {
        command_end(self, c, &cmd, "rejected", "too many commands queued for this charge point",
                    now);
        return;
    }
    pump(self, c, now);
    schedule(self, c);
}

/* A CALLRESULT or CALLERROR from the charge point: the answer to our in-flight command? */
static void on_response(core_conn_t *self, conn_t *c, const ocpp_frame_t *f, uint64_t now)
{
    core_command_t *cmd = core_session_on_response(c->s, f->message_id);
    if (!cmd) {
        count(CORE_M_RESPONSES_DROPPED, NULL);
        log_write(LOG_WARN, c->identity, f->message_id,
                  "response to no outstanding request (late or unknown) dropped");
        return;
    }
    if (f->type == OCPP_CALLERROR) {
        command_finish(self, c->identity, cmd->token, cmd->command_id, cmd, "ocpp_error", NULL, f,
                       NULL, now);
    } else {
        char why[200];
        const char *status = core_command_classify(c->version, cmd, f->payload, why, sizeof(why));
        command_finish(self, c->identity, cmd->token, cmd->command_id, cmd, status, f->payload,
                       NULL, why, now);
    }
    core_command_free(&cmd);
    pump(self, c, now);
}

/* ---- deadlines ------------------------------------------------------------------------------ */

/* What is due on one connection: the in-flight CALL times out, the held answer passes its
 * bound, queued commands expire (pump), and the next command goes out. */
static void conn_deadlines(core_conn_t *self, conn_t *c, uint64_t now)
{
    core_command_t *cmd = core_session_timed_out(c->s, now);
    if (cmd)
        command_end(self, c, &cmd, "timeout", "no response from the charge point in time", now);
    core_held_t h;
    if (core_session_hold_expired(c->s, now, &h)) {
        reply_error(self, c, h.message_id, OCPP_ERR_INTERNAL,
                    "event not confirmed by Kafka within persist_timeout_ms");
        held_forget(self, &h);
    }
    pump(self, c, now);
    schedule(self, c);
}

uint64_t core_conn_tick(core_conn_t *self, uint64_t now_us)
{
    core_timer_t *t;
    while ((t = core_timers_due(self->timers, now_us)) != NULL) {
        conn_t *c = (conn_t *)((char *)t - offsetof(conn_t, timer));
        conn_deadlines(self, c, now_us);
    }
    return core_timers_next(self->timers);
}

/* ---- envelopes ------------------------------------------------------------------------------ */

static void on_hello(core_conn_t *self, const env_hello_t *h)
{
    char *edge_id = env_str_dup(h->edge_id);
    char *endpoint = env_str_dup(h->endpoint);
    if (edge_id && endpoint && !zhashx_lookup(self->edges, edge_id) &&
        self->ops.open_edge(self->ops_arg, edge_id, endpoint) == 0) {
        zhashx_insert(self->edges, edge_id, (void *)1);
        log_info("edge %s at %s", edge_id, endpoint);
    }
    free(edge_id);
    free(endpoint);
}

static void on_frame(core_conn_t *self, const env_frame_t *m, uint64_t now)
{
    conn_t *c = conn_find(self, m->edge_id, m->conn_id);
    if (!c) { /* the edge sent it before it learnt of a close, or core restarted: dropped */
        metrics_counter_add(self->m_stale, 1);
        return;
    }
    ocpp_frame_t f;
    char why[160];
    ocpp_error_t err =
        ocpp_frame_parse((const char *)m->data.ptr, m->data.len, &f, why, sizeof(why));
    if (!err && c->version != OCPP_V21 && (f.type == OCPP_SEND || f.type == OCPP_CALLRESULTERROR)) {
        err = OCPP_ERR_MESSAGE_TYPE; /* only when ocpp2.1 was negotiated */
        snprintf(why, sizeof(why), "message type %d exists only in OCPP 2.1", (int)f.type);
        f.type = OCPP_CALL; /* answerable: it is not a response */
    }
    if (err) {
        if (f.type == OCPP_CALLRESULT || f.type == OCPP_CALLERROR ||
            f.type == OCPP_CALLRESULTERROR || f.type == OCPP_SEND) {
            /* never answer a response (or a SEND) with a CALLERROR: count and log only */
            count(CORE_M_RESPONSES_MALFORMED, ocpp_error_code(err, c->version));
            log_write(LOG_WARN, c->identity, f.message_id, "malformed response dropped: %s", why);
        } else {
            reply_error(self, c, f.message_id, err, why);
        }
    } else if (f.type == OCPP_CALL) {
        on_call(self, c, &f, m->at_us, now);
    } else if (f.type == OCPP_SEND) {
        /* 2.1 SEND: validated and logged, never answered */
        const ocpp_schema_msg_t *msg = ocpp_schema_find(c->version, f.action);
        ocpp_verr_t verr;
        if (!msg || ocpp_schema_validate(msg, 0, f.payload, &verr) < 0)
            log_write(LOG_WARN, c->identity, f.message_id, "invalid SEND %s dropped: %s", f.action,
                      msg ? verr.why : "unknown action");
        else
            log_write(LOG_DEBUG, c->identity, f.message_id, "SEND %s", f.action);
    } else if (f.type == OCPP_CALLRESULTERROR) {
        count(CORE_M_CALLRESULTERRORS, NULL);
        log_write(LOG_WARN, c->identity, f.message_id, "charge point refused our answer: %s %s",
                  f.error_code, f.error_text);
    } else {
        on_response(self, c, &f, now);
    }
    ocpp_frame_clear(&f);
    schedule(self, c);
}

void core_conn_on_envelope(core_conn_t *self, const envelope_t *env, uint64_t now_us)
{
    switch (env->type) {
    case ENV_HELLO:
        on_hello(self, &env->u.hello);
        break;
    case ENV_CONNECT:
        on_connect(self, &env->u.connect, now_us);
        break;
    case ENV_FRAME:
        on_frame(self, &env->u.frame, now_us);
        break;
    case ENV_DISCONNECT:
        on_disconnect(self, &env->u.disconnect, now_us);
        break;
    case ENV_REGISTERED:
        on_registered(self, &env->u.registered);
        break;
    case ENV_SUPERSEDED:
        on_superseded(self, &env->u.superseded);
        break;
    case ENV_EVENT_ACK:
        on_event_ack(self, &env->u.event_ack);
        break;
    case ENV_COMMAND:
        on_command(self, &env->u.command, now_us);
        break;
    case ENV_REGISTRY_BUSY:
        on_registry_busy(self, &env->u.registry_busy);
        break;
    default:
        channel_reject("unexpected type", "the pod", env);
    }
}

/* ---- the engine ----------------------------------------------------------------------------- */

core_conn_t *core_conn_new(const core_conn_config_t *cfg, const core_conn_ops_t *ops, void *ops_arg)
{
    if (!cfg || !ops || !ops->send || !ops->open_edge)
        return NULL;
    core_conn_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->ops = *ops;
    self->ops_arg = ops_arg;
    const char *policy = cfg->auth_policy ? cfg->auth_policy : "";
    self->auth_policy = strcmp(policy, "allow-list") == 0  ? CORE_AUTH_ALLOW_LIST
                        : strcmp(policy, "deny-list") == 0 ? CORE_AUTH_DENY_LIST
                                                           : CORE_AUTH_ACCEPT_ALL;
    self->next_token = cfg->token_base;
    self->conns = u64map_new(1024);
    self->held = u64map_new(256);
    self->identities = zhashx_new();
    self->edges = zhashx_new();
    self->timers = core_timers_new();
    if (!self->conns || !self->held || !self->identities || !self->edges || !self->timers) {
        core_conn_destroy(&self);
        return NULL;
    }
    self->m_calls = metrics_def_counter(&CORE_METRICS[CORE_M_CALLS], NULL);
    self->m_events = metrics_def_counter(&CORE_METRICS[CORE_M_EVENTS], NULL);
    self->m_stale = metrics_def_counter(&CORE_METRICS[CORE_M_STALE_CONN], NULL);
    self->m_conns = metrics_def_gauge(&CORE_METRICS[CORE_M_CONNECTIONS], NULL);
    self->m_held = metrics_def_gauge(&CORE_METRICS[CORE_M_ANSWERS_HELD], NULL);
    self->m_busy = metrics_def_gauge(&CORE_METRICS[CORE_M_REGISTRY_BUSY], NULL);
    return self;
}

static void conn_free(uint64_t key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    conn_t *c = value;
    core_session_destroy(&c->s);
    free(c);
}

void core_conn_destroy(core_conn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    core_conn_t *self = *self_p;
    core_timers_destroy(&self->timers); /* first: it still points into the connections */
    if (self->conns)
        u64map_foreach(self->conns, conn_free, NULL);
    u64map_destroy(&self->conns);
    u64map_destroy(&self->held);
    zhashx_destroy(&self->identities);
    zhashx_destroy(&self->edges);
    free(self);
    *self_p = NULL;
}

static void conn_stats(uint64_t key, void *value, void *arg)
{
    (void)key;
    const conn_t *c = value;
    core_conn_stats_t *st = arg;
    size_t queued = core_session_queued(c->s);
    st->queued += queued + (core_session_busy(c->s) ? 1 : 0);
    if (queued > st->queued_max)
        st->queued_max = queued;
}

void core_conn_stats(const core_conn_t *self, core_conn_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->connections = u64map_size(self->conns);
    out->identities = zhashx_size(self->identities);
    out->held = u64map_size(self->held);
    out->timers = core_timers_size(self->timers);
    out->edges = zhashx_size(self->edges);
    u64map_foreach(self->conns, conn_stats, out);
}
