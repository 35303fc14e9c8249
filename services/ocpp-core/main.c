/* ocpp-core: the OCPP engine of the pipeline (DESIGN §1, §3).
 *
 * Wiring only: configuration, the ZeroMQ sockets on a CZMQ loop, and the dispatch of
 * envelopes to the pure modules (ocpp_frame, core_actions, core_event). It receives
 * CONNECT/FRAME/DISCONNECT from the edges, answers charge points through SEND/CLOSE,
 * registers connections with redis-registry and publishes unified events through
 * kafka-bridge. A full downstream stage blocks the send (bounded by send_timeout_ms), so
 * core stops reading its input instead of dropping (flow control); a drop past that bound
 * is counted and logged. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>
#include <jansson.h>

#include "admin_http.h"
#include "channel.h"
#include "clock.h"
#include "config.h"
#include "core_actions.h"
#include "core_command.h"
#include "core_config.h"
#include "core_event.h"
#include "envelope.h"
#include "hash.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "service.h"
#include "core_session.h"
#include "ocpp_frame.h"
#include "ocpp_schema.h"
#include "u64map.h"

typedef struct {
    uint64_t key;
    char edge_id[64];
    uint64_t conn_id;
    char identity[IDENTITY_MAX + 1];
    ocpp_version_t version;
    uint64_t epoch;
    char boot_state[16];
    uint64_t connected_us;
    core_session_t *s; /* OCPP state: gating, held answer, downlink queue (pure module) */
} core_conn_t;

/* an answer that waits for its event to be persisted (persist-before-ack, DESIGN §3) */
typedef struct {
    uint64_t conn_key;
    char message_id[OCPP_MESSAGE_ID_MAX + 1];
    char *text; /* the CALLRESULT, sent once Kafka confirmed */
} held_t;

static struct {
    core_config_t cfg;
    zsock_t *pull;
    zsock_t *bridge;
    zsock_t *registry;
    zhashx_t *edges;      /* edge id -> zsock_t* PUSH */
    u64map_t *conns;      /* (edge, conn id) key -> core_conn_t* */
    zhashx_t *identities; /* identity -> core_conn_t* (the newest connection) */
    msgpack_sbuffer scratch;
    admin_http_t *admin;
    metrics_counter_t *m_calls, *m_events, *m_dropped, *m_stale;
    metrics_gauge_t *m_conns, *m_held;
    u64map_t *held;      /* EVENT token -> held_t* */
    uint64_t next_token; /* EVENT tokens of this core */
    core_auth_policy_t auth_policy;
} C;

static uint64_t conn_key(env_str_t edge_id, uint64_t conn_id)
{
    uint64_t h = hash_murmur2(edge_id.ptr, edge_id.len);
    return ((h << 32) | (h >> 32)) ^ conn_id ^ 0x9e3779b97f4a7c15ULL;
}

/* Block up to send_timeout_ms on a full stage (flow control), then count the drop. */
static int send_envelope(zsock_t *sock, const char *stage, const envelope_t *env)
{
    return channel_send_counted(sock, env, &C.scratch, stage, (int)C.cfg.send_timeout_ms);
}

static zsock_t *edge_socket(const char *edge_id)
{
    return zhashx_lookup(C.edges, edge_id);
}

static void send_text(const core_conn_t *c, const char *text)
{
    zsock_t *edge = edge_socket(c->edge_id);
    if (!edge) {
        log_write(LOG_WARN, c->identity, NULL, "no route to edge %s yet", c->edge_id);
        return;
    }
    envelope_t env = {.type = ENV_SEND};
    env.u.send.conn_id = c->conn_id;
    env.u.send.data = (env_bin_t){(const uint8_t *)text, strlen(text)};
    send_envelope(edge, "edge", &env);
}

static void close_conn(const core_conn_t *c, uint32_t code, const char *reason)
{
    zsock_t *edge = edge_socket(c->edge_id);
    if (!edge)
        return;
    envelope_t env = {.type = ENV_CLOSE};
    env.u.close.conn_id = c->conn_id;
    env.u.close.code = code;
    env.u.close.reason = env_str(reason);
    send_envelope(edge, "edge", &env);
}

static int publish_event(const core_conn_t *c, core_event_t *ev, uint64_t token)
{
    char *value = core_event_build(ev);
    if (!value) {
        log_write(LOG_ERROR, c->identity, ev->message_id, "event %s could not be built", ev->type);
        return -ENOMEM;
    }
    envelope_t env = {.type = ENV_EVENT};
    env.u.event.core_id = (uint32_t)C.cfg.core_index;
    env.u.event.token = token;
    env.u.event.topic = env_str(C.cfg.events_topic);
    env.u.event.key = env_str(c->identity);
    env.u.event.headers.count = 2;
    env.u.event.headers.items[0] = (env_header_t){env_str("ce_type"), env_str(ev->type)};
    env.u.event.headers.items[1] =
        (env_header_t){env_str("ce_id"), env_str(ev->id ? ev->id : ev->content_id)};
    env.u.event.value = (env_bin_t){(const uint8_t *)value, strlen(value)};
    int rc = send_envelope(C.bridge, "bridge", &env);
    if (rc == 0)
        metrics_counter_add(C.m_events, 1);
    free(value);
    return rc;
}

static void transport_event(const core_conn_t *c, const char *type, json_t *data, uint64_t at)
{
    char id[CORE_EVENT_ID_LEN + 1], conn[24], when[24];
    snprintf(conn, sizeof(conn), "%" PRIu64, c->conn_id);
    snprintf(when, sizeof(when), "%" PRIu64, at);
    const char *parts[] = {c->identity, type, c->edge_id, conn, when};
    core_event_id_parts(parts, 5, id);
    core_event_t ev = {.type = type,
                       .identity = c->identity,
                       .pod = C.cfg.pod_id,
                       .id = id,
                       .time_us = at,
                       .data = data};
    publish_event(c, &ev, 0);
}

static void send_register(const core_conn_t *c)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = (uint32_t)C.cfg.core_index;
    env.u.register_.identity = env_str(c->identity);
    env.u.register_.conn_id = c->conn_id;
    env.u.register_.edge_id = env_str(c->edge_id);
    env.u.register_.ocpp_version = env_str(ocpp_version_name(c->version));
    env.u.register_.boot_state = env_str(c->boot_state);
    env.u.register_.since_us = c->connected_us;
    send_envelope(C.registry, "registry", &env);
}

/* ---- downlink command results ---------------------------------------------------------- */

/* The one place a command gets its final result (RESULT to the bridge, command-results). */
static void send_result(const char *identity, uint64_t token, const char *command_id,
                        const char *status, const char *result_json)
{
    metrics_count("core_command_results_total", "final results of downlink commands, by status",
                  "status", status);
    log_write(strcmp(status, "accepted") == 0 ? LOG_INFO : LOG_WARN, identity, NULL,
              "command %s: %s", command_id, status);
    envelope_t env = {.type = ENV_RESULT};
    env.u.result.core_id = (uint32_t)C.cfg.core_index;
    env.u.result.token = token;
    env.u.result.command_id = env_str(command_id);
    env.u.result.status = env_str(status);
    env.u.result.value = (env_bin_t){(const uint8_t *)(result_json ? result_json : "{}"),
                                     result_json ? strlen(result_json) : 2};
    send_envelope(C.bridge, "bridge", &env);
}

static void command_result(const char *identity, const core_command_t *cmd, const char *status,
                           const json_t *response, const ocpp_frame_t *error, const char *reason)
{
    char *value = core_command_result(
        cmd->command_id, identity, status, cmd, response, error ? error->error_code : NULL,
        error ? error->error_text : NULL, error ? error->payload : NULL, reason, clock_now_us());
    send_result(identity, cmd->token, cmd->command_id, status, value);
    free(value);
}

static void conn_release(core_conn_t *c, const char *why)
{
    core_command_t *cmd;
    while (c->s && (cmd = core_session_take_any(c->s)) != NULL) {
        /* sent but unanswered: the outcome is unknown (timeout); never sent: expired here */
        command_result(c->identity, cmd, cmd->message_id[0] ? "timeout" : "expired", NULL, NULL,
                       why);
        core_command_free(&cmd);
    }
    core_session_destroy(&c->s);
    free(c);
}

/* Send the next queued command if the downlink is free (one outstanding CALL). */
static void pump(core_conn_t *c)
{
    for (;;) {
        core_command_t *expired = NULL;
        core_command_t *cmd = core_session_next(
            c->s, clock_now_us(), (uint64_t)C.cfg.command_timeout_ms * 1000u, &expired);
        if (expired) {
            command_result(c->identity, expired, "expired", NULL, NULL,
                           "expired while queued for the charge point");
            core_command_free(&expired);
            continue;
        }
        if (!cmd)
            return;
        json_t *arr = json_pack("[issO]", OCPP_CALL, cmd->message_id, cmd->action, cmd->payload);
        char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        if (text) {
            log_write(LOG_INFO, c->identity, cmd->message_id, "CALL %s for command %s", cmd->action,
                      cmd->command_id);
            send_text(c, text);
            cmd->sent_us = clock_now_us();
        }
        free(text);
        return;
    }
}

/* ---- envelopes from the edges ---------------------------------------------------------- */

static void on_hello(const env_hello_t *h)
{
    char *edge_id = env_str_dup(h->edge_id);
    char *endpoint = env_str_dup(h->endpoint);
    if (edge_id && endpoint && !edge_socket(edge_id)) {
        zsock_t *push = channel_push_connect(endpoint, (int)C.cfg.zmq_hwm);
        if (push) {
            zhashx_insert(C.edges, edge_id, push);
            log_info("edge %s at %s", edge_id, endpoint);
        }
    }
    free(edge_id);
    free(endpoint);
}

static void on_connect(const env_connect_t *m)
{
    core_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->key = conn_key(m->edge_id, m->conn_id);
    env_str_copy(m->edge_id, c->edge_id, sizeof(c->edge_id));
    env_str_copy(m->identity, c->identity, sizeof(c->identity));
    c->conn_id = m->conn_id;
    c->connected_us = m->at_us;
    snprintf(c->boot_state, sizeof(c->boot_state), "none");
    if (ocpp_version_from_subprotocol(m->subprotocol.ptr, m->subprotocol.len, &c->version) < 0) {
        log_write(LOG_WARN, c->identity, NULL, "unknown subprotocol, closing");
        close_conn(c, 1002, "unknown subprotocol");
        free(c);
        return;
    }
    /* message ids of downlink CALLs: unique by (pod, core, connection, time) */
    char seed_text[160];
    snprintf(seed_text, sizeof(seed_text), "%s/%" PRId64 "/%s/%" PRIu64 "/%" PRIu64, C.cfg.pod_id,
             C.cfg.core_index, c->edge_id, c->conn_id, clock_now_us());
    uint64_t seed = ((uint64_t)hash_murmur2(seed_text, strlen(seed_text)) << 32) ^ clock_now_us();
    c->s = core_session_new(c->version, (size_t)C.cfg.command_queue_max, seed);
    if (!c->s) {
        close_conn(c, 1011, "out of memory");
        free(c);
        return;
    }
    core_conn_t *old = u64map_get(C.conns, c->key);
    if (old) { /* same edge and id again: the edge restarted its counter; replace */
        zhashx_delete(C.identities, old->identity);
        u64map_remove(C.conns, old->key);
        conn_release(old, "connection replaced");
    }
    /* newest connection of an identity wins on this core; the registry does it cluster-wide */
    core_conn_t *prev = zhashx_lookup(C.identities, c->identity);
    if (prev) {
        log_write(LOG_INFO, c->identity, NULL, "newer connection replaces conn_id=%" PRIu64,
                  prev->conn_id);
        close_conn(prev, 1000, "superseded by a newer connection");
    }
    u64map_put(C.conns, c->key, c);
    zhashx_update(C.identities, c->identity, c);
    metrics_gauge_set(C.m_conns, (int64_t)u64map_size(C.conns));
    send_register(c);
    char peer[64];
    env_str_copy(m->peer, peer, sizeof(peer));
    json_t *data = json_pack("{s:s, s:s, s:s}", "ocpp_version", ocpp_version_name(c->version),
                             "peer", peer, "pod", C.cfg.pod_id);
    transport_event(c, "device.connected", data, m->at_us);
    json_decref(data);
}

static void on_disconnect(const env_disconnect_t *m)
{
    core_conn_t *c = u64map_remove(C.conns, conn_key(m->edge_id, m->conn_id));
    if (!c) {
        metrics_counter_add(C.m_stale, 1);
        return;
    }
    if (zhashx_lookup(C.identities, c->identity) == c)
        zhashx_delete(C.identities, c->identity);
    metrics_gauge_set(C.m_conns, (int64_t)u64map_size(C.conns));
    if (c->epoch) {
        envelope_t env = {.type = ENV_UNREGISTER};
        env.u.unregister.core_id = (uint32_t)C.cfg.core_index;
        env.u.unregister.identity = env_str(c->identity);
        env.u.unregister.conn_id = c->conn_id;
        env.u.unregister.epoch = c->epoch;
        send_envelope(C.registry, "registry", &env);
    }
    char reason[128];
    env_str_copy(m->reason, reason, sizeof(reason));
    json_t *data = json_pack("{s:i, s:s}", "close_code", (int)m->code, "reason", reason);
    transport_event(c, "device.disconnected", data, clock_now_us());
    json_decref(data);
    conn_release(c, "connection closed");
}

/* The one place that answers a charge point with a CALLERROR; it also counts by code. */
static void reply_error(const core_conn_t *c, const char *message_id, ocpp_error_t err,
                        const char *why)
{
    const char *code = ocpp_error_code(err, c->version);
    metrics_count("core_ocpp_errors_total", "CALLERRORs sent to charge points, by code", "code",
                  code);
    log_write(LOG_WARN, c->identity, message_id, "CALLERROR %s: %s", code, why);
    if (!message_id || !message_id[0])
        return; /* no id: nothing can be answered */
    char *text = ocpp_frame_callerror(message_id, code, why);
    if (text)
        send_text(c, text);
    free(text);
}

static void send_callresult(const core_conn_t *c, const char *message_id, const json_t *payload)
{
    char *text = ocpp_frame_callresult(message_id, payload);
    if (text)
        send_text(c, text);
    free(text);
}

static void on_call(core_conn_t *c, const ocpp_frame_t *f, uint64_t at_us)
{
    metrics_counter_add(C.m_calls, 1);
    char abandoned[OCPP_MESSAGE_ID_MAX + 1];
    core_call_verdict_t verdict = core_session_on_call(c->s, f->action, abandoned);
    if (abandoned[0]) {
        metrics_count("core_answers_abandoned_total",
                      "held answers dropped because the charge point sent a new CALL", NULL, NULL);
        log_write(LOG_WARN, c->identity, abandoned,
                  "new CALL while this one waited for persistence: the charge point gave up on it");
    }
    if (verdict == CORE_CALL_NOT_BOOTED) {
        reply_error(c, f->message_id, OCPP_ERR_SECURITY,
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
        reply_error(c, f->message_id, verr.err, verr.why);
        return;
    }
    core_action_ctx_t ctx = {.heartbeat_interval_s = C.cfg.heartbeat_interval_s,
                             .now_us = clock_now_us(),
                             .auth_policy = C.auth_policy,
                             .auth_list = C.cfg.auth_list};
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
    if (out.err)
        reply_error(c, f->message_id, out.err, out.err_text);
    else if (!out.persist)
        send_callresult(c, f->message_id, out.response);
    else
        token = ++C.next_token;
    if (out.boot_accepted && strcmp(c->boot_state, "accepted") != 0) {
        snprintf(c->boot_state, sizeof(c->boot_state), "accepted");
        core_session_set_booted(c->s);
        send_register(c); /* re-assert with the boot state (DESIGN §6) */
    }
    int published = -1;
    if (out.event_type) {
        core_event_t ev = {.type = out.event_type,
                           .identity = c->identity,
                           .pod = C.cfg.pod_id,
                           .version = c->version,
                           .action = f->action,
                           .message_id = f->message_id,
                           .time_us = at_us,
                           .data = out.event_data,
                           /* ocpp.message carries the payload anyway */
                           .raw = C.cfg.event_raw_payload &&
                                          strcmp(out.event_type, "ocpp.message") != 0
                                      ? f->payload
                                      : NULL};
        published = publish_event(c, &ev, token);
    }
    if (token) {
        /* persist-before-ack: the answer goes out when the bridge reports the event in Kafka */
        held_t *h = calloc(1, sizeof(*h));
        char *text = ocpp_frame_callresult(f->message_id, out.response);
        if (published < 0 || !h || !text) {
            free(h);
            free(text);
            reply_error(c, f->message_id, OCPP_ERR_INTERNAL, "event could not be handed to Kafka");
        } else {
            h->conn_key = c->key;
            snprintf(h->message_id, sizeof(h->message_id), "%s", f->message_id);
            h->text = text;
            u64map_put(C.held, token, h);
            metrics_gauge_set(C.m_held, (int64_t)u64map_size(C.held));
            uint64_t bound = (uint64_t)C.cfg.persist_timeout_ms * 1000u;
            core_session_hold(c->s, f->message_id, token, bound ? clock_now_us() + bound : 0);
        }
    }
    core_action_out_clear(&out);
}

/* a CALLRESULT or CALLERROR from the charge point: the answer to our in-flight command? */
static void on_response(core_conn_t *c, const ocpp_frame_t *f)
{
    core_command_t *cmd = core_session_on_response(c->s, f->message_id);
    if (!cmd) {
        metrics_count("core_responses_dropped_total",
                      "CALLRESULT/CALLERROR matching no outstanding CALL (late or unknown)", NULL,
                      NULL);
        log_write(LOG_WARN, c->identity, f->message_id,
                  "response to no outstanding request (late or unknown) dropped");
        return;
    }
    if (f->type == OCPP_CALLERROR) {
        command_result(c->identity, cmd, "ocpp_error", NULL, f, NULL);
    } else {
        char why[200];
        const char *status = core_command_classify(c->version, cmd, f->payload, why, sizeof(why));
        command_result(c->identity, cmd, status, f->payload, NULL, why);
    }
    core_command_free(&cmd);
    pump(c);
}

static void on_frame(const env_frame_t *m)
{
    core_conn_t *c = u64map_get(C.conns, conn_key(m->edge_id, m->conn_id));
    if (!c) {
        metrics_counter_add(C.m_stale, 1);
        return;
    }
    ocpp_frame_t f;
    char why[160];
    ocpp_error_t err =
        ocpp_frame_parse((const char *)m->data.ptr, m->data.len, &f, why, sizeof(why));
    int v21 = c->version == OCPP_V21;
    if (!err && !v21 && (f.type == OCPP_SEND || f.type == OCPP_CALLRESULTERROR)) {
        err = OCPP_ERR_MESSAGE_TYPE; /* only when ocpp2.1 was negotiated */
        snprintf(why, sizeof(why), "message type %d exists only in OCPP 2.1", (int)f.type);
        f.type = OCPP_CALL; /* answerable: it is not a response */
    }
    if (err) {
        if (f.type == OCPP_CALLRESULT || f.type == OCPP_CALLERROR ||
            f.type == OCPP_CALLRESULTERROR || f.type == OCPP_SEND) {
            /* never answer a response (or a SEND) with a CALLERROR: count and log only */
            metrics_count("core_responses_malformed_total",
                          "malformed CALLRESULT/CALLERROR/SEND frames dropped unanswered, by code",
                          "code", ocpp_error_code(err, c->version));
            log_write(LOG_WARN, c->identity, f.message_id, "malformed response dropped: %s", why);
        } else {
            reply_error(c, f.message_id, err, why);
        }
        ocpp_frame_clear(&f);
        return;
    }
    if (f.type == OCPP_CALL) {
        on_call(c, &f, m->at_us);
    } else if (f.type == OCPP_SEND) {
        /* 2.1 SEND: validated and published, never answered */
        const ocpp_schema_msg_t *msg = ocpp_schema_find(c->version, f.action);
        ocpp_verr_t verr;
        if (!msg || ocpp_schema_validate(msg, 0, f.payload, &verr) < 0)
            log_write(LOG_WARN, c->identity, f.message_id, "invalid SEND %s dropped: %s", f.action,
                      msg ? verr.why : "unknown action");
        else
            log_write(LOG_DEBUG, c->identity, f.message_id, "SEND %s", f.action);
    } else if (f.type == OCPP_CALLRESULTERROR) {
        metrics_count("core_callresulterrors_total", "CALLRESULTERRORs from charge points", NULL,
                      NULL);
        log_write(LOG_WARN, c->identity, f.message_id, "charge point refused our answer: %s %s",
                  f.error_code, f.error_text);
    } else {
        on_response(c, &f);
    }
    ocpp_frame_clear(&f);
}

/* ---- envelopes from the registry and the bridge ---------------------------------------- */

static void on_registered(const env_registered_t *m)
{
    char identity[IDENTITY_MAX + 1];
    env_str_copy(m->identity, identity, sizeof(identity));
    core_conn_t *c = zhashx_lookup(C.identities, identity);
    if (!c || c->conn_id != m->conn_id)
        return;
    if (m->status < 0) {
        log_write(LOG_WARN, identity, NULL, "registration failed (%d), the registry retries",
                  m->status);
        return;
    }
    c->epoch = m->epoch;
    /* a station that booted on any pod is served at once here (DESIGN §6) */
    if (env_str_eq(m->boot_state, "accepted") && strcmp(c->boot_state, "none") == 0) {
        snprintf(c->boot_state, sizeof(c->boot_state), "accepted");
        core_session_set_booted(c->s);
    }
}

static void held_free(held_t **h)
{
    if (!h || !*h)
        return;
    free((*h)->text);
    free(*h);
    *h = NULL;
}

/* The bridge reports whether an event we wait on is in Kafka (persist-before-ack). */
static void on_event_ack(const env_event_ack_t *m)
{
    held_t *h = u64map_remove(C.held, m->token);
    metrics_gauge_set(C.m_held, (int64_t)u64map_size(C.held));
    if (!h) {
        metrics_count("core_acks_unknown_total", "EVENT_ACKs for no held answer", NULL, NULL);
        return;
    }
    core_conn_t *c = u64map_get(C.conns, h->conn_key);
    if (!c || !core_session_release(c->s, m->token)) {
        /* connection gone, or the charge point moved on: the event is (or is not) in Kafka,
         * but nobody waits for the answer any more */
        log_write(LOG_INFO, c ? c->identity : NULL, h->message_id,
                  "ack for an abandoned answer (status %d)", m->status);
    } else if (m->status == 0) {
        send_text(c, h->text);
    } else {
        char why[200], err[128];
        env_str_copy(m->error, err, sizeof(err));
        snprintf(why, sizeof(why), "event not persisted: %s", err);
        reply_error(c, h->message_id, OCPP_ERR_INTERNAL, why);
    }
    held_free(&h);
}

/* A command from Kafka for a charge point on this core. */
static void on_command(const env_command_t *m)
{
    char identity[IDENTITY_MAX + 1], command_id[80];
    env_str_copy(m->identity, identity, sizeof(identity));
    env_str_copy(m->command_id, command_id, sizeof(command_id));
    core_conn_t *c = zhashx_lookup(C.identities, identity);
    if (!c) {
        char *value =
            core_command_result(command_id, identity, "rejected", NULL, NULL, NULL, NULL, NULL,
                                "charge point not connected to this core", clock_now_us());
        send_result(identity, m->token, command_id, "rejected", value);
        free(value);
        return;
    }
    core_command_t *cmd;
    const char *status;
    char why[200];
    if (core_command_parse(m->record.ptr, m->record.len, c->version, clock_now_us(), &cmd, &status,
                           why, sizeof(why)) < 0) {
        char *value = core_command_result(command_id, identity, status, NULL, NULL, NULL, NULL,
                                          NULL, why, clock_now_us());
        send_result(identity, m->token, command_id, status, value);
        free(value);
        return;
    }
    cmd->token = m->token;
    if (core_session_enqueue(c->s, cmd) < 0) {
        command_result(identity, cmd, "rejected", NULL, NULL,
                       "too many commands queued for this charge point");
        core_command_free(&cmd);
        return;
    }
    pump(c);
}

/* deadlines: in-flight CALLs (timeout), queued commands (expiry), held answers (bound) */
static void check_deadlines(uint64_t key, void *value, void *arg)
{
    (void)key;
    core_conn_t *c = value;
    uint64_t now = *(const uint64_t *)arg;
    uint64_t next = core_session_next_deadline(c->s);
    if (!next || next > now)
        return;
    core_command_t *cmd = core_session_timed_out(c->s, now);
    if (cmd) {
        command_result(c->identity, cmd, "timeout", NULL, NULL,
                       "no response from the charge point in time");
        core_command_free(&cmd);
    }
    uint64_t token = core_session_hold_expired(c->s, now);
    if (token) {
        held_t *h = u64map_remove(C.held, token);
        metrics_gauge_set(C.m_held, (int64_t)u64map_size(C.held));
        if (h)
            reply_error(c, h->message_id, OCPP_ERR_INTERNAL,
                        "event not confirmed by Kafka within persist_timeout_ms");
        held_free(&h);
    }
    pump(c); /* sends the next command, reports expired ones */
}

static void on_superseded(const env_superseded_t *m)
{
    char identity[IDENTITY_MAX + 1], by[64];
    env_str_copy(m->identity, identity, sizeof(identity));
    env_str_copy(m->by_pod, by, sizeof(by));
    core_conn_t *c = zhashx_lookup(C.identities, identity);
    if (!c || (m->conn_id && c->conn_id != m->conn_id) || c->epoch >= m->epoch)
        return;
    log_write(LOG_INFO, identity, NULL, "superseded by pod %s (epoch %" PRIu64 "), closing", by,
              m->epoch);
    metrics_count("core_superseded_total", "connections closed because a newer one exists", NULL,
                  NULL);
    c->epoch = 0; /* stale: never release the newer owner's mapping */
    close_conn(c, 1000, "superseded by a newer connection");
}

/* The registry's backpressure signal: recorded and logged. Slowing the edges' accepting while
 * it is busy is the next step (docs/registry.md); connections already accepted keep working. */
static void on_registry_busy(const env_registry_busy_t *m)
{
    static metrics_gauge_t *busy;
    if (!busy)
        busy = metrics_gauge("core_registry_busy",
                             "1 while redis-registry reports its queue over the limit", NULL);
    if (metrics_gauge_get(busy) != (m->busy ? 1 : 0))
        log_write(m->busy ? LOG_WARN : LOG_INFO, NULL, NULL,
                  "registry %s: %u queued, limit %u, redis %s", m->busy ? "busy" : "no longer busy",
                  m->queued, m->limit, m->redis_up ? "up" : "down");
    metrics_gauge_set(busy, m->busy ? 1 : 0);
}

static void dispatch(const envelope_t *env, void *arg)
{
    (void)arg;
    switch (env->type) {
    case ENV_HELLO:
        on_hello(&env->u.hello);
        break;
    case ENV_CONNECT:
        on_connect(&env->u.connect);
        break;
    case ENV_FRAME:
        on_frame(&env->u.frame);
        break;
    case ENV_DISCONNECT:
        on_disconnect(&env->u.disconnect);
        break;
    case ENV_REGISTERED:
        on_registered(&env->u.registered);
        break;
    case ENV_SUPERSEDED:
        on_superseded(&env->u.superseded);
        break;
    case ENV_EVENT_ACK:
        on_event_ack(&env->u.event_ack);
        break;
    case ENV_COMMAND:
        on_command(&env->u.command);
        break;
    case ENV_REGISTRY_BUSY:
        on_registry_busy(&env->u.registry_busy);
        break;
    default:
        channel_reject("unexpected type", "the pod", env);
    }
}

static int on_input(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    channel_drain(sock, 1024, "the pod", dispatch, NULL);
    return 0;
}

static int on_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    admin_http_heartbeat(C.admin);
    return 0;
}

static int on_deadline_tick(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    uint64_t now = clock_now_us();
    u64map_foreach(C.conns, check_deadlines, &now);
    return 0;
}

static void edge_socket_free(void **item)
{
    zsock_destroy((zsock_t **)item);
}

static void conn_free(uint64_t key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    core_conn_t *c = value;
    core_session_destroy(&c->s);
    free(c);
}

static void held_entry_free(uint64_t key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    held_t *h = value;
    held_free(&h);
}

int main(int argc, char **argv)
{
    int rc = service_setup("ocpp-core", CORE_CONFIG, CORE_CONFIG_COUNT, &C.cfg, argc, argv,
                           &C.cfg.pod_id, &C.cfg.log_level);
    if (rc != SERVICE_RUN)
        return rc;
    if (C.cfg.core_index >= C.cfg.core_count) {
        fprintf(stderr,
                "ocpp-core: invalid value '%" PRId64 "' for core_index: expected 0 to "
                "core_count-1 (%" PRId64 ")\n",
                C.cfg.core_index, C.cfg.core_count - 1);
        config_free(CORE_CONFIG, CORE_CONFIG_COUNT, &C.cfg);
        return 2;
    }

    C.admin = admin_http_start(C.cfg.admin_bind, (int)C.cfg.admin_port);
    if (!C.admin)
        return 1;
    C.m_calls = metrics_counter("core_calls_total", "CALLs from charge points", NULL);
    C.m_events = metrics_counter("core_events_total", "events handed to kafka-bridge", NULL);
    C.m_stale = metrics_counter("core_stale_conn_total",
                                "envelopes for a connection core does not know", NULL);
    C.m_conns = metrics_gauge("core_connections", "connections held by this core", NULL);
    C.m_held = metrics_gauge("core_answers_held",
                             "answers waiting for Kafka to confirm their event", NULL);
    C.auth_policy = strcmp(C.cfg.auth_policy, "allow-list") == 0  ? CORE_AUTH_ALLOW_LIST
                    : strcmp(C.cfg.auth_policy, "deny-list") == 0 ? CORE_AUTH_DENY_LIST
                                                                  : CORE_AUTH_ACCEPT_ALL;
    /* tokens unique across restarts of this core: late acks of a former run match nothing */
    C.next_token = clock_now_us() << 8;

    char name[64];
    snprintf(name, sizeof(name), "core-%" PRId64, C.cfg.core_index);
    C.pull = channel_pull_at(C.cfg.ipc_dir, name, (int)C.cfg.zmq_hwm);
    C.bridge = channel_push_to(C.cfg.ipc_dir, "bridge", (int)C.cfg.zmq_hwm);
    C.registry = channel_push_to(C.cfg.ipc_dir, "registry", (int)C.cfg.zmq_hwm);
    if (!C.pull || !C.bridge || !C.registry)
        return 1;
    C.edges = zhashx_new();
    zhashx_set_destructor(C.edges, edge_socket_free);
    C.identities = zhashx_new();
    C.conns = u64map_new(1024);
    C.held = u64map_new(256);
    msgpack_sbuffer_init(&C.scratch);

    zloop_t *loop = zloop_new();
    service_zloop_signals(loop, NULL, NULL);
    zloop_reader(loop, C.pull, on_input, NULL);
    zloop_timer(loop, 1000, 0, on_tick, NULL);
    zloop_timer(loop, 100, 0, on_deadline_tick, NULL);
    admin_http_set_ready(C.admin, true, NULL);
    log_info("core %" PRId64 " of %" PRId64 " ready", C.cfg.core_index, C.cfg.core_count);
    zloop_start(loop);

    log_info("stopping");
    admin_http_set_ready(C.admin, false, "stopping");
    zloop_destroy(&loop);
    u64map_foreach(C.conns, conn_free, NULL);
    u64map_destroy(&C.conns);
    u64map_foreach(C.held, held_entry_free, NULL);
    u64map_destroy(&C.held);
    zhashx_destroy(&C.identities);
    zhashx_destroy(&C.edges);
    zsock_destroy(&C.pull);
    zsock_destroy(&C.bridge);
    zsock_destroy(&C.registry);
    msgpack_sbuffer_destroy(&C.scratch);
    admin_http_stop(&C.admin);
    metrics_shutdown();
    config_free(CORE_CONFIG, CORE_CONFIG_COUNT, &C.cfg);
    return 0;
}
