/* core_conn: the engine of ocpp-core. See core_conn.h; the rules are described in
 * docs/ocpp-core.md.
 *
 * Reading order: the connection table and the effects (send, close, event, register), then the
 * life of a connection (CONNECT fresh, resumed or recovered from a FRAME; DISCONNECT; SUPERSEDED;
 * REGISTERED), one CALL from the charge point (gating, schema, id token, answer, hold until
 * persisted, EVENT_ACK, hold deadline), one command for it (COMMAND, queue, CALL, response,
 * timeout, expiry, exactly one RESULT), the restarts of peers (HELLO, ANNOUNCE), the deadlines,
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
#include "core_edges.h"
#include "core_event.h"
#include "core_metrics.h"
#include "core_session.h"
#include "core_tags.h"
#include "core_timers.h"
#include "core_txid.h"
#include "hash.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "ocpp_frame.h"
#include "ocpp_schema.h"
#include "u64map.h"

#define EDGE_ID_MAX CORE_EDGE_ID_MAX
#define EDGES_MAX   256 /* edge records; an edge id beyond is dropped and counted */

/* One charge-point connection, from CONNECT (or its recovery) to DISCONNECT. */
typedef struct {
    uint64_t key;        /* table key, from (edge id, conn id) */
    const char *edge_id; /* its edge record's id (core_edges keeps every record to the end) */
    uint64_t conn_id;
    char identity[IDENTITY_MAX + 1];
    ocpp_version_t version;
    uint64_t epoch;        /* fencing epoch from REGISTERED; 0: not registered, or stale */
    uint64_t connected_us; /* when the edge accepted it; 0: unknown (recovered from a FRAME) */
    uint64_t since_us;     /* what REGISTER reports: connected_us, or when it was recovered */
    bool authenticated;    /* it passed its station's security profile (CONNECT.auth) */
    bool closing;          /* told to close (superseded, refused): never registered again */
    core_session_t *s;     /* boot state, held answer, waiting CALL, downlink queue: only there */
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
    u64map_t *lookups;     /* TAG_LOOKUP request id -> conn_t whose session waits (an index) */
    core_edges_t *edges;   /* route, instance and waiting envelopes of each edge */
    core_tags_t *tags;     /* id-token answers (auth_policy redis) */
    core_timers_t *timers; /* one entry per connection with a deadline */
    core_txid_t *txids;    /* 1.6 transaction ids of this core (blocks from the registry) */
    uint64_t next_token;   /* last EVENT ack token given */
    uint64_t next_request; /* last TAG_LOOKUP request id given */
    uint64_t bridge_instance, registry_instance; /* last seen; 0: none yet */
    uint64_t next_announce_us;                   /* 0: at the first tick */
    core_idgen_t ids;                            /* event ids and traces of new occurrences */
    char trace[CORE_TRACE_ID_LEN + 1]; /* the trace logged now (log_set_trace_id), "" none */
    zhashx_t *call_seconds;            /* "version action" -> histogram series (borrowed) */
    metrics_counter_t *m_calls, *m_events, *m_stale, *m_lost, *m_refused, *m_tag_hit, *m_tag_miss,
        *m_resends;
    metrics_gauge_t *m_conns, *m_held, *m_busy, *m_unrouted, *m_waiting, *m_tags;
};

static void count(core_metric_t m, const char *label_value)
{
    metrics_def_count(&CORE_METRICS[m], label_value);
}

/* ---- trace context and latency --------------------------------------------------------------- */

/* Every line logged from now on is about the trace of traceparent (NULL or "": none), until
 * trace_leave(). The engine handles one CALL or command at a time, so one current trace is
 * enough; a command ended in the middle of a CALL (command_finish) restores the CALL's. */
static void trace_enter(core_conn_t *self, const char *traceparent)
{
    if (traceparent && strlen(traceparent) >= 3 + CORE_TRACE_ID_LEN)
        snprintf(self->trace, sizeof(self->trace), "%.*s", CORE_TRACE_ID_LEN, traceparent + 3);
    else
        self->trace[0] = '\0';
    log_set_trace_id(self->trace);
}

static void trace_leave(core_conn_t *self)
{
    self->trace[0] = '\0';
    log_set_trace_id(NULL);
}

/* receive (the edge's at_us) -> answer handed on, per action and version; actions outside the
 * schemas are "other", so the label values stay bounded */
static void call_seconds(core_conn_t *self, ocpp_version_t version, const char *action,
                         uint64_t at_us, uint64_t now)
{
    if (!at_us || now < at_us)
        return; /* the edge's clock is ahead, or no receive time: nothing to measure */
    const char *label = action && ocpp_schema_find(version, action) ? action : "other";
    char key[OCPP_ACTION_MAX + 16];
    snprintf(key, sizeof(key), "%s %s", ocpp_version_name(version), label);
    metrics_histogram_t *h = zhashx_lookup(self->call_seconds, key);
    if (!h) {
        char labels[OCPP_ACTION_MAX + 48];
        snprintf(labels, sizeof(labels), "action=\"%s\",version=\"%s\"", label,
                 ocpp_version_name(version));
        h = metrics_def_histogram(&CORE_METRICS[CORE_M_CALL_SECONDS], labels);
        zhashx_insert(self->call_seconds, key, h);
    }
    metrics_histogram_observe(h, (double)(now - at_us) / 1e6);
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

/* Everything for a charge point is dropped (counted by the shell) when its edge is full: a lost
 * answer times out at the station, which sends again (DESIGN-12-13 "No loop blocks on a peer"). */
static int send_to_edge(core_conn_t *self, const char *edge_id, const envelope_t *env)
{
    int rc = self->ops.send(self->ops_arg, CORE_TO_EDGE, edge_id, env, OUTBOX_DROP);
    if (rc == -ENOENT)
        log_write(LOG_WARN, NULL, NULL, "no route to edge %s yet", edge_id);
    return rc;
}

static void send_text(core_conn_t *self, const conn_t *c, const char *text)
{
    envelope_t env = {.type = ENV_SEND};
    env.u.send.conn_id = c->conn_id;
    env.u.send.data = (env_bin_t){(const uint8_t *)text, strlen(text)};
    send_to_edge(self, c->edge_id, &env);
}

static void close_id(core_conn_t *self, const char *edge_id, uint64_t conn_id, uint32_t code,
                     const char *reason)
{
    envelope_t env = {.type = ENV_CLOSE};
    env.u.close.conn_id = conn_id;
    env.u.close.code = code;
    env.u.close.reason = env_str(reason);
    send_to_edge(self, edge_id, &env);
}

static void close_conn(core_conn_t *self, const conn_t *c, uint32_t code, const char *reason)
{
    close_id(self, c->edge_id, c->conn_id, code, reason);
}

/* What the edge must remember to re-announce the connection to a restarted core. */
static void send_conn_state(core_conn_t *self, const conn_t *c)
{
    envelope_t env = {.type = ENV_CONN_STATE};
    env.u.conn_state.conn_id = c->conn_id;
    env.u.conn_state.boot_state = env_str(core_session_booted(c->s) ? "accepted" : "none");
    send_to_edge(self, c->edge_id, &env);
}

/* Publishes a unified event (token != 0: the bridge acks it) with policy. 0 or the send's error
 * (-ENOBUFS: the bridge is full and policy OUTBOX_TRY refused it). */
static int publish_event(core_conn_t *self, const conn_t *c, const core_event_t *ev,
                         const char *traceparent, uint64_t token, outbox_policy_t policy)
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
    /* the CloudEvents Kafka binding: structured mode, said by content-type; W3C trace context;
     * ce_type and ce_id for consumers that filter on headers without parsing the value */
    env.u.event.headers.count = 4;
    env.u.event.headers.items[0] =
        (env_header_t){env_str("content-type"), env_str(CORE_EVENT_CONTENT_TYPE)};
    env.u.event.headers.items[1] = (env_header_t){env_str("traceparent"), env_str(traceparent)};
    env.u.event.headers.items[2] = (env_header_t){env_str("ce_type"), env_str(ev->type)};
    env.u.event.headers.items[3] = (env_header_t){env_str("ce_id"), env_str(ev->id)};
    env.u.event.value = (env_bin_t){(const uint8_t *)value, strlen(value)};
    int rc = self->ops.send(self->ops_arg, CORE_TO_BRIDGE, NULL, &env, policy);
    if (rc == 0)
        metrics_counter_add(self->m_events, 1);
    free(value);
    return rc;
}

/* device.connected / device.disconnected: a new occurrence each (an id and a trace of its own).
 * One per connection each, so they are queued when the bridge is full (OUTBOX_MUST). */
static void transport_event(core_conn_t *self, const conn_t *c, const char *type, json_t *data,
                            uint64_t at)
{
    char id[CORE_EVENT_ID_LEN + 1], traceparent[CORE_TRACEPARENT_LEN + 1];
    core_idgen_event_id(&self->ids, id);
    core_idgen_traceparent(&self->ids, traceparent);
    core_event_t ev = {.type = type,
                       .identity = c->identity,
                       .pod = self->cfg.pod_id,
                       .id = id,
                       .time_us = at,
                       .data = data};
    publish_event(self, c, &ev, traceparent, 0, OUTBOX_MUST);
}

/* REGISTER on connect (or recovery), again once the boot is accepted (the registry records the
 * boot state) and for a new registry instance; it carries the epoch the connection holds, so a
 * registry that lost its table re-asserts it instead of claiming afresh. */
static void send_register(core_conn_t *self, const conn_t *c)
{
    envelope_t env = {.type = ENV_REGISTER};
    env.u.register_.core_id = self->cfg.core_index;
    env.u.register_.identity = env_str(c->identity);
    env.u.register_.conn_id = c->conn_id;
    env.u.register_.edge_id = env_str(c->edge_id);
    env.u.register_.ocpp_version = env_str(ocpp_version_name(c->version));
    env.u.register_.boot_state = env_str(core_session_booted(c->s) ? "accepted" : "none");
    env.u.register_.since_us = c->since_us;
    env.u.register_.epoch = c->epoch;
    env.u.register_.authenticated = c->authenticated;
    self->ops.send(self->ops_arg, CORE_TO_REGISTRY, NULL, &env, OUTBOX_MUST);
}

static void send_unregister(core_conn_t *self, const conn_t *c)
{
    envelope_t env = {.type = ENV_UNREGISTER};
    env.u.unregister.core_id = self->cfg.core_index;
    env.u.unregister.identity = env_str(c->identity);
    env.u.unregister.conn_id = c->conn_id;
    env.u.unregister.epoch = c->epoch;
    self->ops.send(self->ops_arg, CORE_TO_REGISTRY, NULL, &env, OUTBOX_MUST);
}

/* {stage core, index, instance}: repeated every second, so a full peer may miss some */
static void announce(core_conn_t *self, core_peer_t to, const char *edge_id)
{
    envelope_t env = {.type = ENV_ANNOUNCE};
    env.u.announce.stage = env_str("core");
    env.u.announce.index = self->cfg.core_index;
    env.u.announce.instance = self->cfg.instance;
    self->ops.send(self->ops_arg, to, edge_id, &env, OUTBOX_DROP);
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

/* OCPP 2.1: the charge point's CALLRESULT to our command broke its schema; it is told so with a
 * CALLRESULTERROR (the command itself ends ocpp_error in command_finish). */
static void reply_callresulterror(core_conn_t *self, const conn_t *c, const char *message_id,
                                  ocpp_error_t err, const char *why)
{
    const char *code = ocpp_error_code(err, c->version);
    count(CORE_M_CALLRESULTERRORS_SENT, code);
    log_write(LOG_WARN, c->identity, message_id, "CALLRESULTERROR %s: %s", code, why);
    char *text = ocpp_frame_callresulterror(message_id, code, why);
    if (text)
        send_text(self, c, text);
    free(text);
}

/* The one place a command gets its final result (RESULT to the bridge, then command-results).
 * cmd is NULL for a record that never became a command (no charge point here, invalid). */
static void command_finish(core_conn_t *self, const char *identity, uint64_t token,
                           const char *command_id, const core_command_t *cmd, const char *status,
                           const json_t *response, const ocpp_frame_t *error, const char *reason,
                           const char *traceparent, uint64_t now)
{
    if (cmd)
        traceparent = cmd->traceparent;
    char outer[CORE_TRACE_ID_LEN + 1]; /* the trace being handled (a CALL's), back at the end */
    snprintf(outer, sizeof(outer), "%s", self->trace);
    log_set_trace_id(traceparent && strlen(traceparent) > 3 ? traceparent + 3 : NULL);
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
    env.u.result.traceparent = env_str(traceparent ? traceparent : "");
    self->ops.send(self->ops_arg, CORE_TO_BRIDGE, NULL, &env, OUTBOX_MUST);
    free(value);
    log_set_trace_id(outer);
}

/* command_finish for a command of connection c without a response; frees the command */
static void command_end(core_conn_t *self, const conn_t *c, core_command_t **cmd,
                        const char *status, const char *reason, uint64_t now)
{
    command_finish(self, c->identity, (*cmd)->token, (*cmd)->command_id, *cmd, status, NULL, NULL,
                   reason, NULL, now);
    core_command_free(cmd);
}

/* A held answer that will not be sent: drop it from the index and free it. */
static void held_forget(core_conn_t *self, core_held_t *h)
{
    u64map_remove(self->held, h->token);
    metrics_gauge_set(self->m_held, (int64_t)u64map_size(self->held));
    core_held_clear(h);
}

/* A waiting CALL taken out of its session: drop it from the index (the caller clears it). */
static void waiting_forget(core_conn_t *self, const core_waiting_t *w)
{
    u64map_remove(self->lookups, w->request_id);
    metrics_gauge_set(self->m_waiting, (int64_t)u64map_size(self->lookups));
}

/* A waiting CALL that will not be served: a transaction id candidate no TXID_CLAIM carried goes
 * back to the pool (one that was sent may be stored in Redis: a gap), then it is freed. */
static void waiting_drop(core_conn_t *self, core_waiting_t *w)
{
    waiting_forget(self, w);
    if (w->kind == CORE_WAIT_TXID && w->candidate && !w->claim_sent)
        core_txid_give_back(self->txids, w->candidate);
    core_waiting_clear(w);
}

/* ---- the life of a connection ------------------------------------------------------------ */

/* The connection ends: every command it still has gets its final result (sent but unanswered:
 * the outcome is unknown, timeout; never sent: expired here), the held answer and the waiting
 * CALL are dropped, and everything is freed. The caller took it out of the table. */
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
    core_waiting_t w;
    if (core_session_take_waiting(c->s, 0, &w))
        waiting_drop(self, &w);
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

/* message ids of downlink CALLs: unique by (pod, core, connection, time) */
static uint64_t message_id_seed(const core_conn_t *self, const conn_t *c, uint64_t now)
{
    char text[160];
    snprintf(text, sizeof(text), "%s/%" PRIu32 "/%s/%" PRIu64 "/%" PRIu64, self->cfg.pod_id,
             self->cfg.core_index, c->edge_id, c->conn_id, now);
    return ((uint64_t)hash_murmur2(text, strlen(text)) << 32) ^ now;
}

/* How a connection comes to the table. */
typedef enum {
    OPEN_FRESH,    /* CONNECT: the station just connected */
    OPEN_RESUMED,  /* CONNECT resumed=true: open since at_us, the core that held it restarted */
    OPEN_RECOVERED /* a FRAME of a connection this core does not know, with its facts */
} open_kind_t;

/* The facts a connection is opened from (views borrowed for the call). */
typedef struct {
    open_kind_t kind;
    env_str_t edge_id, identity, subprotocol, peer, boot_state, auth;
    uint64_t conn_id;
    uint64_t at_us; /* connect time; 0: unknown */
} open_t;

/* CONNECT.auth: basic, basic-previous or mtls passed the station's security profile */
static bool auth_authenticated(env_str_t auth)
{
    return env_str_eq(auth, "basic") || env_str_eq(auth, "basic-previous") ||
           env_str_eq(auth, "mtls");
}

/* Whether c, just opened, is newer than prev (same identity). A new CONNECT always is; of two
 * connections that were open before this core started, the higher conn id of one edge, or the
 * later connect time, or else the one heard last. */
static bool conn_newer(const conn_t *c, const conn_t *prev, open_kind_t kind)
{
    if (kind == OPEN_FRESH)
        return true;
    if (strcmp(c->edge_id, prev->edge_id) == 0)
        return c->conn_id > prev->conn_id;
    if (c->connected_us && prev->connected_us)
        return c->connected_us > prev->connected_us;
    return true;
}

/* Opens a connection: the table, the identity's newest connection, REGISTER, and for a new one
 * device.connected (a resumed or recovered connection is not new for the backend). Returns it,
 * or NULL when it was refused (closed). */
static conn_t *conn_open(core_conn_t *self, const open_t *o, uint64_t now)
{
    /* from_edge made the record of every edge that sent something (or dropped the envelope) */
    const core_edge_t *e = core_edges_get(self->edges, o->edge_id, true);
    if (!e)
        return NULL;
    conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->key = conn_key(o->edge_id, o->conn_id);
    c->edge_id = e->id;
    env_str_copy(o->identity, c->identity, sizeof(c->identity));
    c->conn_id = o->conn_id;
    c->connected_us = o->at_us;
    c->since_us = o->at_us ? o->at_us : now;
    c->authenticated = auth_authenticated(o->auth);
    conn_t *old = u64map_get(self->conns, c->key);
    if (old && old->conn_id == c->conn_id && strcmp(old->edge_id, c->edge_id) == 0) {
        /* same edge and id again: an older edge restarted its counter; the old one is gone */
        conn_unlink(self, old);
        conn_release(self, old, "connection replaced", now);
        old = NULL;
    }
    if (old) {
        /* two connections whose keys collide: never mix them up, refuse the new one */
        log_write(LOG_ERROR, c->identity, NULL, "connection key collides with conn_id=%" PRIu64,
                  old->conn_id);
        close_conn(self, c, 1011, "connection id collision");
        free(c);
        return NULL;
    }
    if (ocpp_version_from_subprotocol(o->subprotocol.ptr, o->subprotocol.len, &c->version) < 0) {
        log_write(LOG_WARN, c->identity, NULL, "unknown subprotocol, closing");
        if (o->kind == OPEN_RECOVERED)
            close_conn(self, c, 1011, "connection state lost, reconnect");
        else
            close_conn(self, c, 1002, "unknown subprotocol");
        free(c);
        return NULL;
    }
    c->s = core_session_new(c->version, self->cfg.command_queue_max, message_id_seed(self, c, now));
    if (!c->s || core_timers_reserve(self->timers, u64map_size(self->conns) + 1) < 0) {
        close_conn(self, c, 1011, "out of memory");
        core_session_destroy(&c->s);
        free(c);
        return NULL;
    }
    if (env_str_eq(o->boot_state, "accepted"))
        core_session_set_booted(c->s); /* as the core before this one told the edge */
    if (u64map_put(self->conns, c->key, c) < 0) {
        close_conn(self, c, 1011, "out of memory");
        conn_release(self, c, "out of memory", now);
        return NULL;
    }
    metrics_gauge_set(self->m_conns, (int64_t)u64map_size(self->conns));
    if (o->kind != OPEN_FRESH) {
        count(CORE_M_RECOVERED, o->kind == OPEN_RESUMED ? "resumed" : "frame");
        log_write(LOG_INFO, c->identity, NULL,
                  "connection %s/%" PRIu64 " recovered (%s), boot %s, auth %.*s", c->edge_id,
                  c->conn_id, o->kind == OPEN_RESUMED ? "resumed CONNECT" : "from a FRAME",
                  core_session_booted(c->s) ? "accepted" : "none", (int)o->auth.len,
                  o->auth.ptr ? o->auth.ptr : "");
    }
    /* newest connection of an identity wins on this core; the registry does it cluster-wide */
    conn_t *prev = zhashx_lookup(self->identities, c->identity);
    if (prev && !conn_newer(c, prev, o->kind)) {
        log_write(LOG_INFO, c->identity, NULL, "conn_id=%" PRIu64 " is newer, closing this one",
                  prev->conn_id);
        c->closing = true;
        close_conn(self, c, 1000, "superseded by a newer connection");
        return c; /* in the table until its DISCONNECT; never registered */
    }
    if (prev) {
        log_write(LOG_INFO, c->identity, NULL, "newer connection replaces conn_id=%" PRIu64,
                  prev->conn_id);
        prev->closing = true;
        close_conn(self, prev, 1000, "superseded by a newer connection");
    }
    if (prev) /* keyed by the connection's own identity: the entry goes with prev's key */
        zhashx_delete(self->identities, c->identity);
    zhashx_insert(self->identities, c->identity, c);
    send_register(self, c);
    if (o->kind == OPEN_FRESH) {
        char peer[64];
        env_str_copy(o->peer, peer, sizeof(peer));
        json_t *data = json_pack("{s:s, s:s, s:s}", "ocpp_version", ocpp_version_name(c->version),
                                 "peer", peer, "pod", self->cfg.pod_id);
        transport_event(self, c, "device.connected", data, o->at_us);
        json_decref(data);
    }
    return c;
}

/* CONNECT resumed=true for a connection this core holds (recovered from a FRAME first):
 * idempotent. It only completes what the frame could not say: the connect time, the boot state
 * when the core has none, and the authentication (re-registered when it adds it). */
static void conn_resume(core_conn_t *self, conn_t *c, const env_connect_t *m)
{
    if (!c->connected_us && m->at_us)
        c->connected_us = c->since_us = m->at_us;
    if (env_str_eq(m->boot_state, "accepted") && !core_session_booted(c->s))
        core_session_set_booted(c->s);
    if (!c->authenticated && auth_authenticated(m->auth) && !c->closing) {
        c->authenticated = true;
        send_register(self, c);
    }
}

static void on_connect(core_conn_t *self, const env_connect_t *m, uint64_t now)
{
    if (m->resumed) {
        conn_t *c = conn_find(self, m->edge_id, m->conn_id);
        if (c) {
            conn_resume(self, c, m);
            return;
        }
    }
    open_t o = {.kind = m->resumed ? OPEN_RESUMED : OPEN_FRESH,
                .edge_id = m->edge_id,
                .identity = m->identity,
                .subprotocol = m->subprotocol,
                .peer = m->peer,
                .boot_state = m->boot_state,
                .auth = m->auth,
                .conn_id = m->conn_id,
                .at_us = m->at_us};
    conn_open(self, &o, now);
}

/* The connection is gone (DISCONNECT, or its edge restarted): UNREGISTER unless it was told it
 * is stale, device.disconnected, and the final results of its commands. */
static void conn_finish(core_conn_t *self, conn_t *c, uint32_t code, const char *reason,
                        uint64_t now)
{
    conn_unlink(self, c);
    /* A connection that holds the mapping releases it by its epoch. One whose REGISTER is not
     * answered yet (just opened, or recovered after a restart of this core) releases it by
     * connection (epoch 0): the registry matches its conn_id, so the claim it may still make
     * does not outlive the station. A superseded or refused one (closing, epoch 0) never does:
     * the mapping is a newer owner's. */
    if (c->epoch || !c->closing)
        send_unregister(self, c);
    json_t *data = json_pack("{s:i, s:s}", "close_code", (int)code, "reason", reason);
    transport_event(self, c, "device.disconnected", data, now);
    json_decref(data);
    conn_release(self, c, "connection closed", now);
}

static void on_disconnect(core_conn_t *self, const env_disconnect_t *m, uint64_t now)
{
    conn_t *c = conn_find(self, m->edge_id, m->conn_id);
    if (!c) {
        metrics_counter_add(self->m_stale, 1);
        return;
    }
    char reason[128];
    env_str_copy(m->reason, reason, sizeof(reason));
    conn_finish(self, c, m->code, reason, now);
}

/* The registry's answer to REGISTER: the fencing epoch, and the boot state any pod recorded. A
 * claim refused because an authenticated connection holds the identity (issue 13) closes ours,
 * as SUPERSEDED does. */
static void on_registered(core_conn_t *self, const env_registered_t *m)
{
    conn_t *c = conn_of_identity(self, m->identity);
    if (!c || c->conn_id != m->conn_id)
        return;
    if (m->status == -EACCES || m->status == -EPERM) {
        log_write(LOG_WARN, c->identity, NULL,
                  "registration refused: an authenticated connection holds the identity, closing");
        count(CORE_M_REGISTRATIONS_REFUSED, NULL);
        c->epoch = 0;
        c->closing = true;
        close_conn(self, c, 1008, "identity held by an authenticated connection");
        return;
    }
    if (m->status < 0) {
        log_write(LOG_WARN, c->identity, NULL, "registration failed (%d), the registry retries",
                  m->status);
        return;
    }
    c->epoch = m->epoch;
    /* a station that booted on any pod is served at once here (DESIGN §6) */
    if (env_str_eq(m->boot_state, "accepted") && !core_session_booted(c->s)) {
        core_session_set_booted(c->s);
        send_conn_state(self, c);
    }
}

/* A newer registration of the identity exists (another pod, a newer epoch, or an authenticated
 * connection that an unauthenticated claim does not supersede): close ours. */
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
    c->closing = true;
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

/* A CALL to serve: from the frame, or back from waiting for its id token (views borrowed). */
typedef struct {
    const char *message_id, *action;
    const json_t *payload;
    uint64_t at_us;
    const char *traceparent; /* its trace, new for every CALL */
} call_t;

/* The answer waits until the bridge reports the event in Kafka (persist-before-ack, DESIGN §3):
 * the session keeps the CALLRESULT, the index finds it again by the event's token. */
static void hold_answer(core_conn_t *self, conn_t *c, const call_t *call, const json_t *response,
                        uint64_t token, const char *event_id, uint64_t now)
{
    char *text = ocpp_frame_callresult(call->message_id, response);
    if (!text || u64map_put(self->held, token, c) < 0) {
        free(text);
        reply_error(self, c, call->message_id, OCPP_ERR_INTERNAL, "out of memory, retry");
        return;
    }
    uint64_t bound = self->cfg.persist_timeout_ms * 1000u;
    core_held_t what = {
        .token = token, .deadline_us = bound ? now + bound : 0, .at_us = call->at_us};
    snprintf(what.message_id, sizeof(what.message_id), "%s", call->message_id);
    snprintf(what.action, sizeof(what.action), "%s", call->action);
    snprintf(what.traceparent, sizeof(what.traceparent), "%s", call->traceparent);
    snprintf(what.event_id, sizeof(what.event_id), "%s", event_id);
    if (core_session_hold(c->s, &what, &text) < 0) {
        u64map_remove(self->held, token);
        free(text);
        reply_error(self, c, call->message_id, OCPP_ERR_INTERNAL, "out of memory, retry");
        return;
    }
    metrics_gauge_set(self->m_held, (int64_t)u64map_size(self->held));
}

/* Answers a CALL whose request is valid (tag_status: its id token's status under auth_policy
 * redis). The event goes to the bridge first, and only what was handed on is answered: a refused
 * event (the bridge is full) answers InternalError "gateway busy, retry" instead of the
 * CALLRESULT, so the station sends it again; a transaction message's CALLRESULT waits for the
 * event's ack. The event id is the digest of the message's natural key when it has one, else
 * new (DESIGN §3); a resend whose natural id this connection already had in Kafka is answered
 * again without a second event. */
static void serve_call(core_conn_t *self, conn_t *c, const call_t *call, const char *tag_status,
                       uint64_t tag_expires_at_ms, int64_t tx_id, uint64_t now)
{
    const ocpp_schema_msg_t *msg = ocpp_schema_find(c->version, call->action);
    core_action_ctx_t ctx = {.heartbeat_interval_s = self->cfg.heartbeat_interval_s,
                             .now_us = now,
                             .auth_policy = self->auth_policy,
                             .auth_list = self->cfg.auth_list,
                             .tag_status = tag_status,
                             .tag_expires_at_ms = tag_expires_at_ms,
                             .transaction_id = tx_id};
    core_action_out_t out;
    core_action_handle(c->version, call->action, call->payload, &ctx, &out);
    /* what the gateway answers must match the response schema too (a bug otherwise) */
    ocpp_verr_t verr;
    if (!out.err && msg && msg->response && ocpp_schema_validate(msg, 1, out.response, &verr) < 0) {
        log_write(LOG_ERROR, c->identity, call->message_id, "own %s response breaks the schema: %s",
                  call->action, verr.why);
        json_decref(out.response);
        out.response = NULL;
        out.err = OCPP_ERR_INTERNAL;
        out.err_text = "the gateway could not build a valid response";
        out.persist = 0;
    }
    const char *type = out.event_type;
    if (type && !self->cfg.event_heartbeat && strcmp(type, "heartbeat") == 0)
        type = NULL; /* off by default (DESIGN §4): a full bridge never stops Heartbeats */
    char natural[CORE_EVENT_ID_LEN + 1] = "", id[CORE_EVENT_ID_LEN + 1];
    if (type &&
        !core_event_natural_id(c->identity, c->version, call->action, call->payload, natural))
        natural[0] = '\0';
    if (natural[0])
        memcpy(id, natural, sizeof(id));
    else
        core_idgen_event_id(&self->ids, id);
    if (!out.err && natural[0] && core_session_seen(c->s, natural)) {
        metrics_counter_add(self->m_resends, 1);
        log_write(LOG_INFO, c->identity, call->message_id,
                  "%s resent (event %s already in Kafka): answered, not published again",
                  call->action, natural);
        type = NULL;
        out.persist = 0;
    }
    core_event_t ev = {.type = type,
                       .identity = c->identity,
                       .pod = self->cfg.pod_id,
                       .version = c->version,
                       .action = call->action,
                       .message_id = call->message_id,
                       .id = id,
                       .time_us = call->at_us,
                       .data = out.event_data,
                       /* ocpp.message carries the payload anyway */
                       .raw =
                           self->cfg.event_raw_payload && type && strcmp(type, "ocpp.message") != 0
                               ? call->payload
                               : NULL};
    if (out.err) {
        reply_error(self, c, call->message_id, out.err, out.err_text);
        call_seconds(self, c->version, call->action, call->at_us, now);
        if (type) /* what the station said is still published, when the bridge takes it */
            publish_event(self, c, &ev, call->traceparent, 0, OUTBOX_TRY);
        goto out;
    }
    uint64_t token = out.persist ? ++self->next_token : 0;
    if (out.persist && !type) {
        reply_error(self, c, call->message_id, OCPP_ERR_INTERNAL, "no event for this message");
        call_seconds(self, c->version, call->action, call->at_us, now);
        goto out;
    }
    if (type && publish_event(self, c, &ev, call->traceparent, token, OUTBOX_TRY) < 0) {
        metrics_counter_add(self->m_refused, 1);
        reply_error(self, c, call->message_id, OCPP_ERR_INTERNAL, "gateway busy, retry");
        call_seconds(self, c->version, call->action, call->at_us, now);
        goto out;
    }
    if (token) {
        hold_answer(self, c, call, out.response, token, natural, now);
    } else {
        if (type) /* handed on: a resend of it is answered without a new event */
            core_session_remember(c->s, natural);
        char *text = ocpp_frame_callresult(call->message_id, out.response);
        if (text)
            send_text(self, c, text);
        free(text);
        call_seconds(self, c->version, call->action, call->at_us, now);
    }
    if (out.boot_accepted && !core_session_booted(c->s)) {
        core_session_set_booted(c->s);
        send_register(self, c); /* re-assert with the boot state (DESIGN §6) */
        send_conn_state(self, c);
    }
out:
    core_action_out_clear(&out);
}

/* ---- 1.6 transaction ids (docs/ocpp-core.md "Transaction ids") ----------------------------- */

/* A StartTransaction's id must be unique across stations, pods and restarts, and a resend (new
 * message id, any pod) must get the same one. The id comes from this core's pool (blocks of the
 * cluster-wide counter) as a candidate and is claimed under the message's natural key
 * (TXID_CLAIM): the registry answers the id remembered under that key, or stores the candidate.
 * The claim comes first and the CALL is served (its event built, published and its answer held
 * until persisted) only with the claimed id: the event and the answer carry the same id, and
 * nothing is published for a StartTransaction that gets no id. While the registry cannot answer
 * (-EAGAIN, -EBUSY, no answer in txid_claim_timeout_ms, the pool empty) the claim is tried again
 * with a backoff, within txid_claim_budget_ms; past it the CALL is answered InternalError, which
 * 1.6 stations resend (never an invented id that might collide). */

#define TXID_RETRY_MIN_US  100000u  /* first wait after -EAGAIN/-EBUSY or an empty pool */
#define TXID_RETRY_MAX_US  1000000u /* longest wait between two attempts of one claim */
#define TXID_BLOCK_BACKOFF 5000000u /* longest wait between two TXID_BLOCKs that failed */

static void txid_count(const char *result)
{
    count(CORE_M_TXID_CLAIMS, result);
}

static uint64_t txid_budget_us(const core_conn_t *self)
{
    return (self->cfg.txid_claim_budget_ms ? self->cfg.txid_claim_budget_ms : 5000) * 1000u;
}

static uint64_t txid_timeout_us(const core_conn_t *self)
{
    return (self->cfg.txid_claim_timeout_ms ? self->cfg.txid_claim_timeout_ms : 1000) * 1000u;
}

/* Sends the TXID_BLOCK the pool wants now, if any. */
static void txid_refill(core_conn_t *self, uint64_t now)
{
    uint64_t request_id;
    uint32_t n;
    if (!core_txid_block_due(self->txids, now, &request_id, &n))
        return;
    envelope_t env = {.type = ENV_TXID_BLOCK};
    env.u.txid_block.request_id = request_id;
    env.u.txid_block.core_id = self->cfg.core_index;
    env.u.txid_block.count = n;
    core_txid_sent(self->txids,
                   self->ops.send(self->ops_arg, CORE_TO_REGISTRY, NULL, &env, OUTBOX_TRY), now);
}

static void on_txid_range(core_conn_t *self, const env_txid_range_t *m, uint64_t now)
{
    int rc = core_txid_on_range(self->txids, m->request_id, m->first, m->count, m->error, now);
    if (rc == -ESTALE)
        log_write(LOG_INFO, NULL, NULL, "TXID_RANGE %" PRIu64 " of no request of this core",
                  m->request_id);
    else if (rc == 0)
        log_write(LOG_DEBUG, NULL, NULL, "transaction ids %" PRIu64 "..%" PRIu64 " for this core",
                  m->first, m->first + m->count - 1);
    txid_refill(self, now);
}

/* "<identity>|<connectorId>|<digest>": the digest is the StartTransaction's natural event id
 * (identity, action, timestamp, connectorId, idTag; docs/unified-model.md), so the key is short
 * (at most 48 + 1 + 11 + 1 + 32 bytes, within the registry's 191) and names the same occurrence
 * as the event id; identity and connector in clear let an operator find a station's keys. */
static int txid_natural_key(const conn_t *c, const json_t *payload, char out[CORE_TXID_KEY_MAX + 1])
{
    char digest[CORE_EVENT_ID_LEN + 1];
    if (!core_event_natural_id(c->identity, c->version, "StartTransaction", payload, digest))
        return -EINVAL;
    json_t *connector = json_object_get(payload, "connectorId");
    int n = snprintf(out, CORE_TXID_KEY_MAX + 1, "%s|%" JSON_INTEGER_FORMAT "|%s", c->identity,
                     json_is_integer(connector) ? json_integer_value(connector) : (json_int_t)-1,
                     digest);
    return n > 0 && n <= CORE_TXID_KEY_MAX ? 0 : -ENAMETOOLONG;
}

static int send_txid_claim(core_conn_t *self, const core_waiting_t *w)
{
    envelope_t env = {.type = ENV_TXID_CLAIM};
    env.u.txid_claim.request_id = w->request_id;
    env.u.txid_claim.core_id = self->cfg.core_index;
    env.u.txid_claim.key = env_str(w->txid_key);
    env.u.txid_claim.candidate = w->candidate;
    env.u.txid_claim.ttl_ms = self->cfg.txid_ttl_ms ? self->cfg.txid_ttl_ms : 604800000u;
    return self->ops.send(self->ops_arg, CORE_TO_REGISTRY, NULL, &env, OUTBOX_TRY);
}

/* The CALL gets no id within its budget: InternalError (the station resends StartTransaction). A
 * candidate no TXID_CLAIM carried goes back to the pool; one that did may be stored in Redis under
 * this key, so it is never handed out again (a gap). */
static void txid_give_up(core_conn_t *self, conn_t *c, core_waiting_t *w, const char *reason,
                         uint64_t now)
{
    if (w->candidate && !w->claim_sent)
        core_txid_give_back(self->txids, w->candidate);
    count(CORE_M_TXID_UNANSWERED, reason);
    log_write(LOG_ERROR, c->identity, w->message_id,
              "StartTransaction: no transaction id after %u attempts (%s), answered InternalError",
              w->attempts, reason);
    reply_error(self, c, w->message_id, OCPP_ERR_INTERNAL, "transaction id not available, retry");
    call_seconds(self, c->version, w->action, w->at_us, now);
    core_waiting_clear(w);
}

/* Parks the CALL in its session until deadline (bounded by its budget) under a fresh request id. */
static void txid_park(core_conn_t *self, conn_t *c, core_waiting_t *w, uint64_t deadline)
{
    w->deadline_us = deadline < w->give_up_us ? deadline : w->give_up_us;
    if (u64map_put(self->lookups, w->request_id, c) < 0) {
        txid_give_up(self, c, w, "error", w->deadline_us);
        return;
    }
    if (core_session_wait(c->s, w) < 0) {
        u64map_remove(self->lookups, w->request_id);
        txid_give_up(self, c, w, "error", w->deadline_us);
        return;
    }
    metrics_gauge_set(self->m_waiting, (int64_t)u64map_size(self->lookups));
}

/* One attempt: a candidate from the pool (kept across attempts: a claim whose answer was lost
 * finds its own candidate), then TXID_CLAIM; the CALL waits for TXID_CLAIMED or the attempt's
 * timeout. Without a candidate it waits for the pool to be refilled. */
static void txid_attempt(core_conn_t *self, conn_t *c, core_waiting_t *w, uint64_t now)
{
    if (now >= w->give_up_us) {
        txid_give_up(self, c, w, core_txid_available(self->txids) ? "budget" : "no_ids", now);
        return;
    }
    uint64_t backoff = TXID_RETRY_MIN_US << (w->attempts < 4 ? w->attempts : 4);
    if (backoff > TXID_RETRY_MAX_US)
        backoff = TXID_RETRY_MAX_US;
    w->attempts++;
    w->claim_in_flight = 0;
    w->request_id = ++self->next_request;
    if (!w->candidate)
        w->candidate = core_txid_take(self->txids);
    txid_refill(self, now); /* below low water now, or empty: ask for the next block */
    if (!w->candidate) {
        txid_count("no_ids");
        log_write(LOG_WARN, c->identity, w->message_id,
                  "StartTransaction waits: no transaction id left in this core's pool");
        txid_park(self, c, w, now + backoff);
        return;
    }
    if (send_txid_claim(self, w) < 0) {
        txid_count("refused");
        txid_park(self, c, w, now + backoff);
        return;
    }
    w->claim_sent = 1;
    w->claim_in_flight = 1;
    txid_park(self, c, w, now + txid_timeout_us(self));
}

/* Serves a CALL (the id token's status known): a 1.6 StartTransaction claims its id first. */
static void serve(core_conn_t *self, conn_t *c, const call_t *call, const char *tag_status,
                  uint64_t tag_expires_at_ms, uint64_t now)
{
    if (c->version != OCPP_V16 || strcmp(call->action, "StartTransaction") != 0) {
        serve_call(self, c, call, tag_status, tag_expires_at_ms, 0, now);
        return;
    }
    core_waiting_t w = {.kind = CORE_WAIT_TXID,
                        .at_us = call->at_us,
                        .tag_expires_at_ms = tag_expires_at_ms,
                        .give_up_us = now + txid_budget_us(self)};
    if (txid_natural_key(c, call->payload, w.txid_key) < 0) {
        reply_error(self, c, call->message_id, OCPP_ERR_INTERNAL, "no natural key");
        call_seconds(self, c->version, call->action, call->at_us, now);
        return;
    }
    snprintf(w.message_id, sizeof(w.message_id), "%s", call->message_id);
    snprintf(w.action, sizeof(w.action), "%s", call->action);
    snprintf(w.traceparent, sizeof(w.traceparent), "%s", call->traceparent);
    snprintf(w.tag_status, sizeof(w.tag_status), "%s", tag_status ? tag_status : "");
    w.payload = json_incref((json_t *)call->payload);
    txid_attempt(self, c, &w, now);
}

/* The registry's answer to TXID_CLAIM: the CALL is served with the id (whatever `first` says);
 * an unused candidate goes back to the pool; -EAGAIN/-EBUSY try again after a backoff. */
static void on_txid_claimed(core_conn_t *self, const env_txid_claimed_t *m, uint64_t now)
{
    conn_t *c = m->request_id ? u64map_get(self->lookups, m->request_id) : NULL;
    const core_waiting_t *peek = c ? core_session_waiting(c->s) : NULL;
    core_waiting_t w;
    if (!peek || peek->kind != CORE_WAIT_TXID ||
        !core_session_take_waiting(c->s, m->request_id, &w)) {
        /* abandoned, timed out (a later attempt has another request id), or closed: a first=true
         * candidate stays stored in Redis under its key, and is lost to the pool (a gap) */
        log_write(LOG_DEBUG, NULL, NULL, "TXID_CLAIMED %" PRIu64 " for no waiting CALL (late)",
                  m->request_id);
        return;
    }
    waiting_forget(self, &w);
    trace_enter(self, w.traceparent);
    if (m->error == 0 && m->id > 0 && m->id <= CORE_TXID_LIMIT) {
        txid_count(m->first ? "first" : "found");
        if (!m->first || m->id != w.candidate) /* the candidate was not stored: reuse it */
            core_txid_give_back(self->txids, w.candidate);
        if (!m->first)
            log_write(LOG_INFO, c->identity, w.message_id,
                      "StartTransaction resent: transaction id %" PRIu64 " given before", m->id);
        call_t call = {w.message_id, w.action, w.payload, w.at_us, w.traceparent};
        serve_call(self, c, &call, w.tag_status[0] ? w.tag_status : NULL, w.tag_expires_at_ms,
                   (int64_t)m->id, now);
        core_waiting_clear(&w);
    } else if (m->error == -EAGAIN || m->error == -EBUSY) {
        txid_count(m->error == -EAGAIN ? "unavailable" : "busy");
        uint64_t backoff = TXID_RETRY_MIN_US << (w.attempts < 4 ? w.attempts : 4);
        w.request_id = ++self->next_request;
        w.claim_in_flight = 0;
        txid_park(self, c, &w, now + (backoff < TXID_RETRY_MAX_US ? backoff : TXID_RETRY_MAX_US));
    } else {
        txid_count("error");
        log_write(LOG_ERROR, c->identity, w.message_id,
                  "TXID_CLAIM of key %s failed: %s (id %" PRIu64 ")", w.txid_key,
                  strerror(m->error < 0 ? -m->error : EIO), m->id);
        if (m->error == -EINVAL) /* refused before the script ran: the candidate is free */
            w.claim_sent = 0;
        txid_give_up(self, c, &w, "error", now);
    }
    trace_leave(self);
    schedule(self, c);
}

/* A TXID CALL's deadline: the attempt timed out (counted) or its backoff ended: try again, or give
 * up once the budget is spent. */
static void txid_deadline(core_conn_t *self, conn_t *c, core_waiting_t *w, uint64_t now)
{
    if (w->claim_in_flight) {
        txid_count("timeout");
        log_write(LOG_WARN, c->identity, w->message_id,
                  "TXID_CLAIM %" PRIu64 " unanswered in time: claiming again", w->request_id);
    }
    txid_attempt(self, c, w, now);
}

/* No answer for the id token (none in time, the registry full or failing): tag_fallback. */
static void serve_fallback(core_conn_t *self, conn_t *c, const call_t *call, const char *reason,
                           uint64_t now)
{
    const char *status = self->cfg.tag_fallback_accept ? "Accepted" : "Invalid";
    count(CORE_M_TAG_FALLBACKS, reason);
    log_write(LOG_WARN, c->identity, call->message_id, "id token status unknown (%s): %s", reason,
              status);
    serve(self, c, call, status, 0, now);
}

static int send_tag_lookup(core_conn_t *self, uint64_t request_id, const char *tag)
{
    envelope_t env = {.type = ENV_TAG_LOOKUP};
    env.u.tag_lookup.request_id = request_id;
    env.u.tag_lookup.core_id = self->cfg.core_index;
    env.u.tag_lookup.id_tag = env_str(tag);
    return self->ops.send(self->ops_arg, CORE_TO_REGISTRY, NULL, &env, OUTBOX_TRY);
}

/* auth_policy redis: the status of the CALL's id token from the cache, or asked of the registry
 * (TAG_LOOKUP) while the CALL waits in the session like a held answer, bounded by
 * tag_timeout_ms. */
static void serve_with_tag(core_conn_t *self, conn_t *c, const call_t *call, const char *tag,
                           uint64_t now)
{
    if (!tag[0]) { /* an empty token has no record */
        serve(self, c, call, "Invalid", 0, now);
        return;
    }
    core_tag_answer_t a;
    if (core_tags_get(self->tags, tag, now, &a)) {
        metrics_counter_add(self->m_tag_hit, 1);
        serve(self, c, call, core_tag_status(&a, now), a.expires_at_ms, now);
        return;
    }
    metrics_counter_add(self->m_tag_miss, 1);
    metrics_gauge_set(self->m_tags, (int64_t)core_tags_size(self->tags));
    core_waiting_t w = {.request_id = ++self->next_request,
                        .deadline_us = now + self->cfg.tag_timeout_ms * 1000u,
                        .at_us = call->at_us};
    snprintf(w.message_id, sizeof(w.message_id), "%s", call->message_id);
    snprintf(w.action, sizeof(w.action), "%s", call->action);
    snprintf(w.tag, sizeof(w.tag), "%s", tag);
    snprintf(w.traceparent, sizeof(w.traceparent), "%s", call->traceparent);
    if (send_tag_lookup(self, w.request_id, tag) < 0) {
        serve_fallback(self, c, call, "refused", now);
        return;
    }
    if (u64map_put(self->lookups, w.request_id, c) < 0) {
        serve_fallback(self, c, call, "error", now);
        return;
    }
    w.payload = json_incref((json_t *)call->payload);
    if (core_session_wait(c->s, &w) < 0) {
        u64map_remove(self->lookups, w.request_id);
        core_waiting_clear(&w);
        serve_fallback(self, c, call, "error", now);
        return;
    }
    metrics_gauge_set(self->m_waiting, (int64_t)u64map_size(self->lookups));
}

static void on_call(core_conn_t *self, conn_t *c, const ocpp_frame_t *f, uint64_t at_us,
                    const char *traceparent, uint64_t now)
{
    metrics_counter_add(self->m_calls, 1);
    core_held_t abandoned;
    core_call_verdict_t verdict = core_session_on_call(c->s, f->action, &abandoned);
    core_waiting_t gave_up;
    int waited = core_session_take_waiting(c->s, 0, &gave_up);
    if (abandoned.token || waited) {
        /* a charge point sends a new CALL only once it gave up on the previous one */
        count(CORE_M_ANSWERS_ABANDONED, NULL);
        log_write(LOG_WARN, c->identity,
                  abandoned.token ? abandoned.message_id : gave_up.message_id,
                  "new CALL while this one waited: the charge point gave up on it");
    }
    if (abandoned.token)
        held_forget(self, &abandoned);
    if (waited)
        waiting_drop(self, &gave_up);
    if (verdict == CORE_CALL_NOT_BOOTED) {
        reply_error(self, c, f->message_id, OCPP_ERR_SECURITY,
                    "BootNotification has not been accepted on this connection");
        call_seconds(self, c->version, f->action, at_us, now);
        return;
    }
    /* the request must match its schema before anything acts on it */
    const ocpp_schema_msg_t *msg = ocpp_schema_find(c->version, f->action);
    ocpp_verr_t verr;
    if (msg && !msg->response) { /* 2.1 NotifyPeriodicEventStream: it has no CALLRESULT */
        reply_error(self, c, f->message_id, OCPP_ERR_PROTOCOL,
                    "this action is sent as SEND (message type 6), not as CALL");
        call_seconds(self, c->version, f->action, at_us, now);
        return;
    }
    if (msg &&
        (msg->direction == OS_FROM_CP || msg->direction == OS_BOTH ||
         msg->direction == OS_UNKNOWN_DIR) &&
        ocpp_schema_validate(msg, 0, f->payload, &verr) < 0) {
        reply_error(self, c, f->message_id, verr.err, verr.why);
        call_seconds(self, c->version, f->action, at_us, now);
        return;
    }
    call_t call = {f->message_id, f->action, f->payload, at_us, traceparent};
    const char *tag = self->auth_policy == CORE_AUTH_REDIS
                          ? core_action_id_tag(c->version, f->action, f->payload)
                          : NULL;
    if (tag)
        serve_with_tag(self, c, &call, tag, now);
    else
        serve(self, c, &call, NULL, 0, now);
}

/* An OCPP 2.1 SEND: never answered, and never the outstanding CALL (an answer held for
 * persistence or a CALL waiting for its id token stays as it is). Validated like a CALL's
 * request, then its event is published. Best effort: a SEND is not resent by the station and
 * nothing waits for it, so a full bridge drops it (counted) rather than queueing it. */
static void on_send(core_conn_t *self, conn_t *c, const ocpp_frame_t *f, uint64_t at_us,
                    const char *traceparent, uint64_t now)
{
    const ocpp_schema_msg_t *msg = ocpp_schema_find(c->version, f->action);
    ocpp_verr_t verr;
    const char *why = NULL;
    if (!msg)
        why = "unknown action";
    else if (msg->response)
        why = "a CALL action sent as SEND";
    else if (msg->direction == OS_FROM_CSMS)
        why = "action is not sent by a charge point";
    else if (ocpp_schema_validate(msg, 0, f->payload, &verr) < 0)
        why = verr.why;
    if (why) {
        count(CORE_M_SENDS, "invalid");
        log_write(LOG_WARN, c->identity, f->message_id, "invalid SEND %s dropped: %s", f->action,
                  why);
        return;
    }
    if (!core_session_booted(c->s)) { /* as a CALL would get SecurityError (2.0.1 gating) */
        count(CORE_M_SENDS, "not_booted");
        log_write(LOG_WARN, c->identity, f->message_id,
                  "SEND %s before an accepted BootNotification dropped", f->action);
        return;
    }
    core_action_ctx_t ctx = {.heartbeat_interval_s = self->cfg.heartbeat_interval_s,
                             .now_us = now,
                             .auth_policy = self->auth_policy,
                             .auth_list = self->cfg.auth_list};
    core_action_out_t out;
    core_action_handle(c->version, f->action, f->payload, &ctx, &out);
    char id[CORE_EVENT_ID_LEN + 1];
    core_idgen_event_id(&self->ids, id);
    core_event_t ev = {.type = out.event_type,
                       .identity = c->identity,
                       .pod = self->cfg.pod_id,
                       .version = c->version,
                       .action = f->action,
                       .message_id = f->message_id,
                       .id = id,
                       .time_us = at_us,
                       .data = out.event_data,
                       .raw = self->cfg.event_raw_payload && out.event_type &&
                                      strcmp(out.event_type, "ocpp.message") != 0
                                  ? f->payload
                                  : NULL};
    if (!out.event_type || publish_event(self, c, &ev, traceparent, 0, OUTBOX_TRY) < 0) {
        count(CORE_M_SENDS, "refused");
        log_write(LOG_WARN, c->identity, f->message_id, "SEND %s dropped: %s", f->action,
                  out.event_type ? "kafka-bridge full" : "no event for it");
    } else {
        count(CORE_M_SENDS, "published");
        log_write(LOG_DEBUG, c->identity, f->message_id, "SEND %s published", f->action);
    }
    core_action_out_clear(&out);
}

/* The registry's answer to TAG_LOOKUP: cached (an Accepted token for tag_cache_ms, anything
 * else for tag_negative_cache_ms), and the CALL that waits for it is served. */
static void on_tag_info(core_conn_t *self, const env_tag_info_t *m, uint64_t now)
{
    char tag[CORE_TAG_MAX + 1];
    bool fits = env_str_copy(m->id_tag, tag, sizeof(tag)) < sizeof(tag);
    core_tag_answer_t a = {.found = m->found, .expires_at_ms = m->expires_at_ms};
    env_str_copy(m->status, a.status, sizeof(a.status));
    if (m->error == 0 && fits && tag[0]) {
        bool accepted = strcmp(core_tag_status(&a, now), "Accepted") == 0;
        uint64_t ms = accepted ? self->cfg.tag_cache_ms : self->cfg.tag_negative_cache_ms;
        core_tags_put(self->tags, tag, &a, now + ms * 1000u);
        metrics_gauge_set(self->m_tags, (int64_t)core_tags_size(self->tags));
    }
    conn_t *c = m->request_id ? u64map_get(self->lookups, m->request_id) : NULL;
    const core_waiting_t *peek = c ? core_session_waiting(c->s) : NULL;
    core_waiting_t w;
    if (!peek || peek->kind != CORE_WAIT_TAG ||
        !core_session_take_waiting(c->s, m->request_id, &w)) {
        log_write(LOG_DEBUG, NULL, NULL, "TAG_INFO %" PRIu64 " for no waiting CALL (late)",
                  m->request_id);
        return;
    }
    waiting_forget(self, &w);
    call_t call = {w.message_id, w.action, w.payload, w.at_us, w.traceparent};
    trace_enter(self, w.traceparent);
    if (m->error != 0 || !fits || strcmp(w.tag, tag) != 0)
        serve_fallback(self, c, &call, "error", now);
    else
        serve(self, c, &call, core_tag_status(&a, now), a.expires_at_ms, now);
    trace_leave(self);
    core_waiting_clear(&w);
    schedule(self, c);
}

/* The bridge reports whether an event we wait on is in Kafka: status 0 sends the held answer,
 * anything else answers InternalError (the charge point retries). */
static void on_event_ack(core_conn_t *self, const env_event_ack_t *m, uint64_t now)
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
    trace_enter(self, h.traceparent);
    if (m->status == 0) {
        core_session_remember(c->s, h.event_id); /* in Kafka: a resend is not published again */
        send_text(self, c, h.text);
    } else {
        char why[200], err[128];
        env_str_copy(m->error, err, sizeof(err));
        snprintf(why, sizeof(why), "event not persisted: %s", err);
        reply_error(self, c, h.message_id, OCPP_ERR_INTERNAL, why);
    }
    call_seconds(self, c->version, h.action, h.at_us, now);
    trace_leave(self);
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
            log_set_trace_id(cmd->traceparent + 3);
            log_write(LOG_INFO, c->identity, cmd->message_id, "CALL %s for command %s", cmd->action,
                      cmd->command_id);
            log_set_trace_id(self->trace);
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
    char traceparent[CORE_TRACEPARENT_LEN + 1];
    env_str_copy(m->identity, identity, sizeof(identity));
    env_str_copy(m->command_id, command_id, sizeof(command_id));
    /* the command's trace from its record's header (through the bridge), else a new one */
    if (core_traceparent_valid(m->traceparent.ptr, m->traceparent.len))
        env_str_copy(m->traceparent, traceparent, sizeof(traceparent));
    else
        core_idgen_traceparent(&self->ids, traceparent);
    trace_enter(self, traceparent);
    conn_t *c = zhashx_lookup(self->identities, identity);
    if (!c) {
        command_finish(self, identity, m->token, command_id, NULL, "rejected", NULL, NULL,
                       "charge point not connected to this core", traceparent, now);
        goto out;
    }
    core_command_t *cmd;
    const char *status;
    char why[200];
    if (core_command_parse(m->record.ptr, m->record.len, c->version, now, &cmd, &status, why,
                           sizeof(why)) < 0) {
        command_finish(self, identity, m->token, command_id, NULL, status, NULL, NULL, why,
                       traceparent, now);
        goto out;
    }
    cmd->token = m->token;
    memcpy(cmd->traceparent, traceparent, sizeof(cmd->traceparent));
    /* the deadline kafka-bridge fixed when it read the record (expires_at, or ttl_ms or its
     * default counted from then) wins over ttl_ms counted from now */
    if (m->expires_at_ms)
        cmd->expires_us = m->expires_at_ms * 1000u;
    int rc = core_session_enqueue(c->s, cmd);
    if (rc < 0) {
        command_end(self, c, &cmd, "rejected",
                    rc == -ENOMEM ? "out of memory"
                                  : "too many commands queued for this charge point",
                    now);
        goto out;
    }
    pump(self, c, now);
    schedule(self, c);
out:
    trace_leave(self);
}

/* A CALLRESULT, CALLERROR or (2.1) CALLRESULTERROR from the charge point: the answer to our
 * in-flight command? A CALLRESULTERROR normally says the station found our CALLRESULT to one
 * of its CALLs invalid (counted and logged: that answer cannot be taken back); one whose id is
 * the command in flight ends the command like a CALLERROR rather than leaving it to time out.
 * A 2.1 CALLRESULT that breaks its schema is answered with a CALLRESULTERROR. */
static void on_response(core_conn_t *self, conn_t *c, const ocpp_frame_t *f, uint64_t now)
{
    if (f->type == OCPP_CALLRESULTERROR)
        count(CORE_M_CALLRESULTERRORS, NULL);
    core_command_t *cmd = core_session_on_response(c->s, f->message_id);
    if (!cmd && f->type == OCPP_CALLRESULTERROR) {
        log_write(LOG_WARN, c->identity, f->message_id, "charge point refused our answer: %s %s",
                  f->error_code, f->error_text);
        return;
    }
    if (!cmd) {
        count(CORE_M_RESPONSES_DROPPED, NULL);
        log_write(LOG_WARN, c->identity, f->message_id,
                  "response to no outstanding request (late or unknown) dropped");
        return;
    }
    trace_enter(self, cmd->traceparent);
    const ocpp_schema_msg_t *msg;
    ocpp_verr_t verr;
    if (f->type == OCPP_CALLRESULT && c->version == OCPP_V21 &&
        (msg = ocpp_schema_find(c->version, cmd->action)) && msg->response &&
        ocpp_schema_validate(msg, 1, f->payload, &verr) < 0)
        reply_callresulterror(self, c, f->message_id, verr.err, verr.why);
    if (f->type == OCPP_CALLERROR || f->type == OCPP_CALLRESULTERROR) {
        command_finish(self, c->identity, cmd->token, cmd->command_id, cmd, "ocpp_error", NULL, f,
                       NULL, NULL, now);
    } else {
        char why[200];
        const char *status = core_command_classify(c->version, cmd, f->payload, why, sizeof(why));
        command_finish(self, c->identity, cmd->token, cmd->command_id, cmd, status, f->payload,
                       NULL, why, NULL, now);
    }
    trace_leave(self);
    core_command_free(&cmd);
    pump(self, c, now);
}

/* ---- restarts of peers (DESIGN-12-13 "Instances") -------------------------------------------- */

static void peer_restarted(const char *stage, uint64_t before, uint64_t now_instance)
{
    count(CORE_M_PEER_RESTARTS, stage);
    log_write(LOG_WARN, NULL, NULL,
              "%s restarted (instance %" PRIu64 " -> %" PRIu64 "): reconciling", stage, before,
              now_instance);
}

typedef struct {
    core_conn_t *self;
    const char *edge_id;
    uint64_t below;
    conn_t **list;
    size_t n;
} gone_t;

static void collect_gone(uint64_t key, void *value, void *arg)
{
    (void)key;
    conn_t *c = value;
    gone_t *g = arg;
    if (c->conn_id < g->below && strcmp(c->edge_id, g->edge_id) == 0)
        g->list[g->n++] = c;
}

/* A new instance of an edge: every connection of an earlier one (conn id below the instance,
 * the seed of the edge's conn ids) is gone, exactly as if DISCONNECT 1006 had arrived. */
static size_t edge_restarted(core_conn_t *self, const core_edge_t *e, uint64_t instance,
                             uint64_t now)
{
    size_t n = u64map_size(self->conns);
    if (!n)
        return 0;
    gone_t g = {self, e->id, instance, calloc(n, sizeof(conn_t *)), 0};
    if (!g.list) {
        log_error("out of memory: connections of the former edge %s not finished", e->id);
        return 0;
    }
    u64map_foreach(self->conns, collect_gone, &g);
    for (size_t i = 0; i < g.n; i++)
        conn_finish(self, g.list[i], 1006, "edge restarted", now);
    free(g.list);
    return g.n;
}

static void dispatch_edge(core_conn_t *self, const envelope_t *env, uint64_t now);

/* HELLO: the first of an edge opens its route (answered with ANNOUNCE, so the edge re-announces
 * its connections if this core is new to it) and lets through what waited for it; a larger
 * instance than before means the edge restarted. */
static void on_hello(core_conn_t *self, const env_hello_t *h, uint64_t now)
{
    core_edge_t *e = core_edges_get(self->edges, h->edge_id, true);
    if (!e) {
        log_warn("HELLO of edge %.*s dropped: %d edges known already", (int)h->edge_id.len,
                 h->edge_id.ptr ? h->edge_id.ptr : "", EDGES_MAX);
        return;
    }
    if (h->instance > e->instance) {
        uint64_t before = e->instance;
        size_t gone = edge_restarted(self, e, h->instance, now);
        if (before || gone)
            peer_restarted("edge", before, h->instance);
        e->instance = h->instance;
    }
    if (e->routed)
        return;
    char *endpoint = env_str_dup(h->endpoint);
    if (endpoint && self->ops.open_edge(self->ops_arg, e->id, endpoint) == 0) {
        e->routed = true;
        log_info("edge %s at %s (instance %" PRIu64 ")", e->id, endpoint, e->instance);
        announce(self, CORE_TO_EDGE, e->id);
        envelope_t env;
        void *buf;
        while (core_edges_take(self->edges, e, &env, &buf)) {
            dispatch_edge(self, &env, now);
            free(buf);
        }
        metrics_gauge_set(self->m_unrouted, (int64_t)core_edges_held(self->edges));
    }
    free(endpoint);
}

/* A new bridge instance lost the events it had not confirmed: their held answers are answered
 * now (the charge point retries; transaction event ids are deterministic). */
static void bridge_restarted(uint64_t key, void *value, void *arg)
{
    (void)key;
    conn_t *c = value;
    core_conn_t *self = arg;
    core_held_t h;
    uint64_t token = core_session_held_token(c->s);
    if (!token || !core_session_release(c->s, token, &h))
        return;
    reply_error(self, c, h.message_id, OCPP_ERR_INTERNAL, "event not confirmed, retry");
    held_forget(self, &h);
    schedule(self, c);
}

/* A new registry instance lost its table: every connection is registered again with the epoch
 * it holds, and every id token still asked about is asked again. */
static void registry_restarted(uint64_t key, void *value, void *arg)
{
    (void)key;
    conn_t *c = value;
    core_conn_t *self = arg;
    if (!c->closing)
        send_register(self, c);
    const core_waiting_t *w = core_session_waiting(c->s);
    if (w && w->kind == CORE_WAIT_TAG)
        send_tag_lookup(self, w->request_id, w->tag);
    else if (w && w->claim_in_flight) /* same candidate: the registry finds it if it was stored */
        send_txid_claim(self, w);
}

static void on_announce(core_conn_t *self, const env_announce_t *m)
{
    uint64_t *known = env_str_eq(m->stage, "bridge")     ? &self->bridge_instance
                      : env_str_eq(m->stage, "registry") ? &self->registry_instance
                                                         : NULL;
    if (!known) { /* another core's, or an unknown stage: nothing this core reconciles */
        log_write(LOG_DEBUG, NULL, NULL, "ANNOUNCE of %.*s ignored", (int)m->stage.len,
                  m->stage.ptr ? m->stage.ptr : "");
        return;
    }
    if (!m->instance || m->instance == *known)
        return;
    uint64_t before = *known;
    *known = m->instance;
    if (!before) /* the first one this core hears: it handed nothing to an earlier one */
        return;
    if (known == &self->bridge_instance) {
        peer_restarted("bridge", before, m->instance);
        u64map_foreach(self->conns, bridge_restarted, self);
    } else {
        peer_restarted("registry", before, m->instance);
        u64map_foreach(self->conns, registry_restarted, self);
    }
}

static void announce_edge(const core_edge_t *e, void *arg)
{
    announce(arg, CORE_TO_EDGE, e->id);
}

/* ---- deadlines ------------------------------------------------------------------------------ */

/* What is due on one connection: the in-flight CALL times out, the held answer and the waiting
 * CALL pass their bound, queued commands expire (pump), and the next command goes out. */
static void conn_deadlines(core_conn_t *self, conn_t *c, uint64_t now)
{
    core_command_t *cmd = core_session_timed_out(c->s, now);
    if (cmd)
        command_end(self, c, &cmd, "timeout", "no response from the charge point in time", now);
    core_held_t h;
    if (core_session_hold_expired(c->s, now, &h)) {
        trace_enter(self, h.traceparent);
        reply_error(self, c, h.message_id, OCPP_ERR_INTERNAL,
                    "event not confirmed by Kafka within persist_timeout_ms");
        call_seconds(self, c->version, h.action, h.at_us, now);
        trace_leave(self);
        held_forget(self, &h);
    }
    core_waiting_t w;
    if (core_session_wait_expired(c->s, now, &w)) {
        waiting_forget(self, &w);
        call_t call = {w.message_id, w.action, w.payload, w.at_us, w.traceparent};
        trace_enter(self, w.traceparent);
        if (w.kind == CORE_WAIT_TXID) {
            txid_deadline(self, c, &w, now); /* w parked again or cleared */
        } else {
            serve_fallback(self, c, &call, "timeout", now);
            core_waiting_clear(&w);
        }
        trace_leave(self);
    }
    pump(self, c, now);
    schedule(self, c);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

uint64_t core_conn_tick(core_conn_t *self, uint64_t now_us)
{
    core_timer_t *t;
    while ((t = core_timers_due(self->timers, now_us)) != NULL) {
        conn_t *c = (conn_t *)((char *)t - offsetof(conn_t, timer));
        conn_deadlines(self, c, now_us);
    }
    size_t expired = core_edges_expire(self->edges, now_us);
    if (expired) {
        metrics_counter_add(
            metrics_def_counter(&CORE_METRICS[CORE_M_UNROUTED_DROPPED], "reason=\"expired\""),
            expired);
        log_warn("%zu envelopes dropped: their edge sent no HELLO within unrouted_queue_ms",
                 expired);
        metrics_gauge_set(self->m_unrouted, (int64_t)core_edges_held(self->edges));
    }
    if (self->cfg.announce_interval_ms && now_us >= self->next_announce_us) {
        announce(self, CORE_TO_BRIDGE, NULL);
        announce(self, CORE_TO_REGISTRY, NULL);
        core_edges_foreach_routed(self->edges, announce_edge, self);
        self->next_announce_us = now_us + self->cfg.announce_interval_ms * 1000u;
    }
    txid_refill(self, now_us); /* at start, below low water, after a timeout or backoff */
    uint64_t next = earliest(core_timers_next(self->timers), core_edges_next_deadline(self->edges));
    next = earliest(next, core_txid_next_deadline(self->txids));
    return self->cfg.announce_interval_ms ? earliest(next, self->next_announce_us) : next;
}

/* ---- envelopes ------------------------------------------------------------------------------ */

static void on_frame(core_conn_t *self, const env_frame_t *m, uint64_t now)
{
    conn_t *c = conn_find(self, m->edge_id, m->conn_id);
    if (!c && m->identity.len && identity_valid(m->identity.ptr, m->identity.len)) {
        /* this core restarted: the frame says enough to serve the connection again */
        open_t o = {.kind = OPEN_RECOVERED,
                    .edge_id = m->edge_id,
                    .identity = m->identity,
                    .subprotocol = m->subprotocol,
                    .boot_state = m->boot_state,
                    .conn_id = m->conn_id};
        c = conn_open(self, &o, now);
        if (!c)
            return;
    } else if (!c) { /* an older edge: the station reconnects, never a silent black hole */
        char edge[EDGE_ID_MAX + 1];
        env_str_copy(m->edge_id, edge, sizeof(edge));
        metrics_counter_add(self->m_lost, 1);
        log_write(LOG_WARN, NULL, NULL,
                  "frame of unknown connection %s/%" PRIu64 " without identity: closing", edge,
                  m->conn_id);
        close_id(self, edge, m->conn_id, 1011, "connection state lost, reconnect");
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
    int response =
        f.type == OCPP_CALLRESULT || f.type == OCPP_CALLERROR || f.type == OCPP_CALLRESULTERROR;
    char traceparent[CORE_TRACEPARENT_LEN + 1] = "";
    if (!response) { /* every message of the charge point is a new trace (DESIGN §8) */
        core_idgen_traceparent(&self->ids, traceparent);
        trace_enter(self, traceparent);
    }
    if (err) {
        if (f.type == OCPP_SEND) { /* never answered, not even when malformed */
            count(CORE_M_SENDS, "invalid");
            log_write(LOG_WARN, c->identity, f.message_id, "malformed SEND dropped: %s", why);
        } else if (response) {
            /* never answer a response with a CALLERROR: count and log only */
            count(CORE_M_RESPONSES_MALFORMED, ocpp_error_code(err, c->version));
            log_write(LOG_WARN, c->identity, f.message_id, "malformed response dropped: %s", why);
        } else {
            reply_error(self, c, f.message_id, err, why);
            call_seconds(self, c->version, NULL, m->at_us, now);
        }
    } else if (f.type == OCPP_CALL) {
        on_call(self, c, &f, m->at_us, traceparent, now);
    } else if (f.type == OCPP_SEND) {
        on_send(self, c, &f, m->at_us, traceparent, now);
    } else {
        on_response(self, c, &f, now);
    }
    trace_leave(self);
    ocpp_frame_clear(&f);
    schedule(self, c);
}

/* CONNECT, FRAME and DISCONNECT of an edge with a route. A connection id below the edge's
 * instance belongs to an earlier instance of it, whose connections are gone: late, dropped. */
static void dispatch_edge(core_conn_t *self, const envelope_t *env, uint64_t now)
{
    const core_edge_t *e = NULL;
    uint64_t conn_id = 0;
    if (env->type == ENV_CONNECT) {
        e = core_edges_get(self->edges, env->u.connect.edge_id, false);
        conn_id = env->u.connect.conn_id;
    } else if (env->type == ENV_FRAME) {
        e = core_edges_get(self->edges, env->u.frame.edge_id, false);
        conn_id = env->u.frame.conn_id;
    }
    if (e && conn_id < e->instance) {
        metrics_counter_add(self->m_stale, 1);
        log_write(LOG_DEBUG, NULL, NULL, "%s of conn %" PRIu64 " of a former instance of %s",
                  envelope_type_name(env->type), conn_id, e->id);
        return;
    }
    if (env->type == ENV_CONNECT)
        on_connect(self, &env->u.connect, now);
    else if (env->type == ENV_FRAME)
        on_frame(self, &env->u.frame, now);
    else
        on_disconnect(self, &env->u.disconnect, now);
}

/* An envelope of a connection: handled at once when its edge has a route; otherwise it waits
 * for the edge's HELLO (bounded; the oldest is dropped when full, counted). */
static void from_edge(core_conn_t *self, const envelope_t *env, env_str_t edge_id, uint64_t now)
{
    core_edge_t *e = core_edges_get(self->edges, edge_id, true);
    if (!e) {
        metrics_def_count(&CORE_METRICS[CORE_M_UNROUTED_DROPPED], "edges");
        log_write(LOG_WARN, NULL, NULL, "%s of edge %.*s dropped: %d edges known already",
                  envelope_type_name(env->type), (int)edge_id.len, edge_id.ptr ? edge_id.ptr : "",
                  EDGES_MAX);
        return;
    }
    if (e->routed) {
        dispatch_edge(self, env, now);
        return;
    }
    int rc = core_edges_hold(self->edges, e, env, now);
    if (rc != 0) {
        metrics_def_count(&CORE_METRICS[CORE_M_UNROUTED_DROPPED], "full");
        log_write(LOG_WARN, NULL, NULL, "no HELLO of edge %s yet and %s: an envelope dropped",
                  e->id, rc > 0 ? "unrouted_queue_max reached" : strerror(-rc));
    }
    metrics_gauge_set(self->m_unrouted, (int64_t)core_edges_held(self->edges));
}

void core_conn_on_envelope(core_conn_t *self, const envelope_t *env, uint64_t now_us)
{
    switch (env->type) {
    case ENV_HELLO:
        on_hello(self, &env->u.hello, now_us);
        break;
    case ENV_CONNECT:
        from_edge(self, env, env->u.connect.edge_id, now_us);
        break;
    case ENV_FRAME:
        from_edge(self, env, env->u.frame.edge_id, now_us);
        break;
    case ENV_DISCONNECT:
        from_edge(self, env, env->u.disconnect.edge_id, now_us);
        break;
    case ENV_REGISTERED:
        on_registered(self, &env->u.registered);
        break;
    case ENV_SUPERSEDED:
        on_superseded(self, &env->u.superseded);
        break;
    case ENV_TAG_INFO:
        on_tag_info(self, &env->u.tag_info, now_us);
        break;
    case ENV_EVENT_ACK:
        on_event_ack(self, &env->u.event_ack, now_us);
        break;
    case ENV_TXID_RANGE:
        on_txid_range(self, &env->u.txid_range, now_us);
        break;
    case ENV_TXID_CLAIMED:
        on_txid_claimed(self, &env->u.txid_claimed, now_us);
        break;
    case ENV_COMMAND:
        on_command(self, &env->u.command, now_us);
        break;
    case ENV_ANNOUNCE:
        on_announce(self, &env->u.announce);
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
                        : strcmp(policy, "redis") == 0     ? CORE_AUTH_REDIS
                                                           : CORE_AUTH_ACCEPT_ALL;
    self->next_token = cfg->token_base;
    self->next_request = cfg->token_base;
    self->conns = u64map_new(1024);
    self->held = u64map_new(256);
    self->lookups = u64map_new(64);
    self->identities = zhashx_new();
    if (self->identities) { /* keys borrowed from the conn_t (issue 15: bytes per connection) */
        zhashx_set_key_duplicator(self->identities, NULL);
        zhashx_set_key_destructor(self->identities, NULL);
    }
    self->edges =
        core_edges_new(EDGES_MAX, cfg->unrouted_queue_max, cfg->unrouted_queue_ms * 1000u);
    self->tags = core_tags_new(cfg->tag_cache_max);
    self->timers = core_timers_new();
    self->call_seconds = zhashx_new();
    uint64_t block = cfg->txid_block_size ? cfg->txid_block_size : 1000;
    uint64_t low = cfg->txid_low_water <= block ? cfg->txid_low_water : block;
    core_txid_config_t tc = {.block_size = (uint32_t)block,
                             .low_water = (uint32_t)low,
                             .timeout_us = txid_timeout_us(self),
                             .backoff_min_us = TXID_RETRY_MIN_US,
                             .backoff_max_us = TXID_BLOCK_BACKOFF,
                             .request_base = cfg->token_base};
    self->txids = core_txid_new(&tc);
    core_idgen_init(&self->ids, cfg->id_key);
    if (!self->conns || !self->held || !self->lookups || !self->identities || !self->edges ||
        !self->tags || !self->timers || !self->call_seconds || !self->txids) {
        core_conn_destroy(&self);
        return NULL;
    }
    self->m_calls = metrics_def_counter(&CORE_METRICS[CORE_M_CALLS], NULL);
    self->m_events = metrics_def_counter(&CORE_METRICS[CORE_M_EVENTS], NULL);
    self->m_stale = metrics_def_counter(&CORE_METRICS[CORE_M_STALE_CONN], NULL);
    self->m_lost = metrics_def_counter(&CORE_METRICS[CORE_M_STATE_LOST], NULL);
    self->m_refused = metrics_def_counter(&CORE_METRICS[CORE_M_EVENTS_REFUSED], NULL);
    self->m_tag_hit = metrics_def_counter(&CORE_METRICS[CORE_M_TAG_CACHE], "result=\"hit\"");
    self->m_tag_miss = metrics_def_counter(&CORE_METRICS[CORE_M_TAG_CACHE], "result=\"miss\"");
    self->m_conns = metrics_def_gauge(&CORE_METRICS[CORE_M_CONNECTIONS], NULL);
    self->m_held = metrics_def_gauge(&CORE_METRICS[CORE_M_ANSWERS_HELD], NULL);
    self->m_busy = metrics_def_gauge(&CORE_METRICS[CORE_M_REGISTRY_BUSY], NULL);
    self->m_unrouted = metrics_def_gauge(&CORE_METRICS[CORE_M_UNROUTED], NULL);
    self->m_waiting = metrics_def_gauge(&CORE_METRICS[CORE_M_TAGS_WAITING], NULL);
    self->m_tags = metrics_def_gauge(&CORE_METRICS[CORE_M_TAG_CACHE_ENTRIES], NULL);
    self->m_resends = metrics_def_counter(&CORE_METRICS[CORE_M_RESENDS_SUPPRESSED], NULL);
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
    u64map_destroy(&self->lookups);
    zhashx_destroy(&self->identities);
    zhashx_destroy(&self->call_seconds);
    core_edges_destroy(&self->edges);
    core_tags_destroy(&self->tags);
    core_txid_destroy(&self->txids);
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
    out->waiting = u64map_size(self->lookups);
    out->timers = core_timers_size(self->timers);
    out->edges = core_edges_routed(self->edges);
    out->edge_records = core_edges_count(self->edges);
    out->unrouted = core_edges_held(self->edges);
    out->tags = core_tags_size(self->tags);
    u64map_foreach(self->conns, conn_stats, out);
}
