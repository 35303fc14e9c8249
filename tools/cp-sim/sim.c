/* sim.c: see sim.h.
 *
 * One thread, one epoll set, one binary heap of per-station wake-up times. Each station keeps
 * ~200 bytes of state; buffers (partial frames, unsent bytes, queued messages) are allocated only
 * while they hold something. Every CALL gets a sequence number (its message id); with log_file
 * set, every send (S), offline queueing (Q) and answer (A) is logged for loss checks, and with
 * log_format detailed also connections (C, X), CSMS calls with their message id and command
 * reference (D) and the end of the run (E), each with its time (sim_log.h).
 */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "histo.h"
#include "ocpp_msg.h"
#include "sim_log.h"
#include "ws_frame.h"

#define MAX_FRAME   65536
#define MAX_SOURCES 256
#define NO_HEAP     UINT32_MAX

enum {
    NET_DOWN,
    NET_CONNECTING,
    NET_UPGRADING,
    NET_OPEN
};

typedef struct qitem {
    uint64_t seq;
    ocpp_msg_t m;
} qitem_t;

typedef struct outbox {
    uint32_t head, len, cap;
    qitem_t items[];
} outbox_t;

typedef struct conn {
    int fd;
    uint32_t heap_pos;
    uint64_t due;     /* heap key, monotonic ms */
    uint64_t net_at;  /* DOWN: next connect; CONNECTING/UPGRADING: deadline; OPEN: CALL deadline */
    uint64_t life_at; /* next step of the life (session start, meter, stop) or load pacing */
    uint64_t hb_at;   /* next heartbeat (or boot retry while not accepted) */
    uint64_t stream_at; /* 2.1: next NotifyPeriodicEventStream SEND (0: no stream open) */
    uint64_t call_seq;  /* outstanding CALL (0: none) */
    uint64_t call_sent_us;
    uint64_t connect_us; /* start of the current connection attempt (handshake latency) */
    ocpp_msg_t call;
    int64_t tx_id;
    uint32_t meter_wh;
    uint32_t tx_start_wh; /* the register at the start of the session (2.1 signs it again) */
    uint32_t tx_seq_no;
    uint32_t hb_interval_s;
    uint32_t meters_left;
    uint16_t attempts;
    uint16_t connects;
    uint8_t net;
    uint8_t version;
    uint8_t booted; /* 0 not yet, 1 BootNotification sent, 2 accepted */
    uint8_t session;
    uint32_t load_step;
    uint8_t *rx;
    uint32_t rx_len, rx_cap;
    uint8_t *msg; /* fragmented message being reassembled */
    uint32_t msg_len;
    uint8_t *tx; /* bytes the socket did not take yet */
    uint32_t tx_len, tx_off;
    outbox_t *ob;
} conn_t;

typedef struct err_kind {
    char name[48];
    uint64_t count;
} err_kind_t;

struct sim {
    const sim_config_t *cfg;
    sim_url_t url;
    struct in_addr src[MAX_SOURCES];
    int nsrc;
    bool load;
    bool reject_all;
    conn_t *c;
    uint32_t n;
    uint32_t *heap;
    uint32_t heap_n;
    int ep;
    uint64_t seq;
    uint64_t rng;
    uint64_t t0_ms, t0_unix_ms;
    double pace_ms;
    FILE *log;
    bool log_detailed;
    uint64_t log_flushed_ms;
    bool progress;
    uint8_t rbuf[MAX_FRAME + 64];
    uint8_t wbuf[MAX_FRAME + 64];
    char text[MAX_FRAME];
    /* statistics */
    uint64_t sent[OCPP_VERSIONS][ACT_COUNT], acked[OCPP_VERSIONS][ACT_COUNT];
    histo_t lat[OCPP_VERSIONS][ACT_COUNT];
    uint64_t sends;    /* 2.1 SEND frames (never answered: not in sent / acked) */
    histo_t handshake; /* TCP connect started -> 101 Switching Protocols read */
    uint64_t open_now, open_peak, connects_ok, connect_attempts, downlinks, pending;
    uint64_t queued_offline, resent;
    err_kind_t errs[64];
    int nerrs;
    uint64_t last_acked_total, last_progress_ms, end_ms;
    bool draining;
};

static volatile sig_atomic_t stop_flag;

void sim_stop(void)
{
    stop_flag = 1;
}

static uint64_t now_ms(void)
{
    return clock_mono_us() / 1000u;
}

static uint32_t rnd(sim_t *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (uint32_t)((s->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static void err(sim_t *s, const char *kind, const char *detail, size_t dlen)
{
    char name[48];
    snprintf(name, sizeof(name), "%s%s%.*s", kind, detail ? ":" : "", detail ? (int)dlen : 0,
             detail ? detail : "");
    for (int i = 0; i < s->nerrs; i++)
        if (strcmp(s->errs[i].name, name) == 0) {
            s->errs[i].count++;
            return;
        }
    int i = s->nerrs < 64 ? s->nerrs++ : 63;
    if (i == 63 && s->nerrs == 64 && strcmp(s->errs[63].name, "other") != 0)
        snprintf(s->errs[63].name, sizeof(s->errs[63].name), "other");
    else
        snprintf(s->errs[i].name, sizeof(s->errs[i].name), "%s", name);
    s->errs[i].count++;
}

static void identity(const sim_t *s, const conn_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s%06lld", s->cfg->identity_prefix,
             (long long)(s->cfg->identity_start + (c - s->c)));
}

/* --- timer heap ------------------------------------------------------------------------- */

static void heap_swap(sim_t *s, uint32_t a, uint32_t b)
{
    uint32_t x = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = x;
    s->c[s->heap[a]].heap_pos = a;
    s->c[s->heap[b]].heap_pos = b;
}

static void heap_up(sim_t *s, uint32_t i)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (s->c[s->heap[p]].due <= s->c[s->heap[i]].due)
            break;
        heap_swap(s, i, p);
        i = p;
    }
}

static void heap_down(sim_t *s, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_n && s->c[s->heap[l]].due < s->c[s->heap[m]].due)
            m = l;
        if (r < s->heap_n && s->c[s->heap[r]].due < s->c[s->heap[m]].due)
            m = r;
        if (m == i)
            return;
        heap_swap(s, i, m);
        i = m;
    }
}

static void heap_remove(sim_t *s, conn_t *c)
{
    uint32_t i = c->heap_pos;
    if (i == NO_HEAP)
        return;
    c->heap_pos = NO_HEAP;
    s->heap_n--;
    if (i == s->heap_n)
        return;
    s->heap[i] = s->heap[s->heap_n];
    s->c[s->heap[i]].heap_pos = i;
    heap_down(s, i);
    heap_up(s, i);
}

/* Sets the station's wake-up to the earliest of its pending times. */
static void reschedule(sim_t *s, conn_t *c)
{
    uint64_t due = UINT64_MAX;
    if (c->net_at && c->net_at < due)
        due = c->net_at;
    if (c->life_at && c->life_at < due)
        due = c->life_at;
    if (c->hb_at && c->hb_at < due)
        due = c->hb_at;
    if (c->stream_at && c->stream_at < due)
        due = c->stream_at;
    if (due == UINT64_MAX) {
        heap_remove(s, c);
        return;
    }
    c->due = due;
    if (c->heap_pos == NO_HEAP) {
        c->heap_pos = s->heap_n;
        s->heap[s->heap_n++] = (uint32_t)(c - s->c);
        heap_up(s, c->heap_pos);
    } else {
        heap_down(s, c->heap_pos);
        heap_up(s, c->heap_pos);
    }
}

/* --- outbox ----------------------------------------------------------------------------- */

static bool ob_push(sim_t *s, conn_t *c, uint64_t seq, const ocpp_msg_t *m, bool front)
{
    uint32_t max = (uint32_t)s->cfg->offline_queue + 8;
    if (!c->ob || c->ob->len == c->ob->cap) {
        uint32_t cap = c->ob ? c->ob->cap * 2 : 4;
        if (c->ob && c->ob->cap >= max)
            return false;
        if (cap > max)
            cap = max;
        outbox_t *nb = malloc(sizeof(*nb) + cap * sizeof(qitem_t));
        if (!nb)
            return false;
        nb->head = 0;
        nb->len = 0;
        nb->cap = cap;
        if (c->ob) {
            for (uint32_t i = 0; i < c->ob->len; i++)
                nb->items[i] = c->ob->items[(c->ob->head + i) % c->ob->cap];
            nb->len = c->ob->len;
            free(c->ob);
        }
        c->ob = nb;
    }
    outbox_t *o = c->ob;
    qitem_t it = {seq, *m};
    if (front) {
        o->head = (o->head + o->cap - 1) % o->cap;
        o->items[o->head] = it;
    } else {
        o->items[(o->head + o->len) % o->cap] = it;
    }
    o->len++;
    s->pending++;
    return true;
}

static bool ob_pop(sim_t *s, conn_t *c, qitem_t *it)
{
    if (!c->ob || c->ob->len == 0)
        return false;
    *it = c->ob->items[c->ob->head];
    c->ob->head = (c->ob->head + 1) % c->ob->cap;
    c->ob->len--;
    s->pending--;
    return true;
}

static uint32_t ob_len(const conn_t *c)
{
    return c->ob ? c->ob->len : 0;
}

/* --- socket output ---------------------------------------------------------------------- */

static void disconnect(sim_t *s, conn_t *c, const char *kind, const char *detail, size_t dl);

static void want_write(sim_t *s, conn_t *c, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = c - s->c};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes or buffers; false when the connection failed (and was closed). */
static bool write_raw(sim_t *s, conn_t *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    if (c->tx_len == 0) {
        ssize_t w = write(c->fd, p, len);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            disconnect(s, c, "write", strerror(errno), strlen(strerror(errno)));
            return false;
        }
        if (w < 0)
            w = 0;
        p += w;
        len -= (size_t)w;
        if (len == 0)
            return true;
        want_write(s, c, true);
    }
    uint32_t need = c->tx_len + (uint32_t)len;
    if (need > 16 * MAX_FRAME) {
        disconnect(s, c, "send_buffer_full", NULL, 0);
        return false;
    }
    uint8_t *nb = realloc(c->tx, need);
    if (!nb) {
        disconnect(s, c, "out_of_memory", NULL, 0);
        return false;
    }
    memcpy(nb + c->tx_len, p, len);
    c->tx = nb;
    c->tx_len = need;
    return true;
}

static void flush_tx(sim_t *s, conn_t *c)
{
    while (c->tx_off < c->tx_len) {
        ssize_t w = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            disconnect(s, c, "write", strerror(errno), strlen(strerror(errno)));
            return;
        }
        c->tx_off += (uint32_t)w;
    }
    free(c->tx);
    c->tx = NULL;
    c->tx_len = c->tx_off = 0;
    want_write(s, c, false);
}

static bool send_frame(sim_t *s, conn_t *c, int op, const void *payload, size_t len)
{
    int n = ws_frame_encode(s->wbuf, sizeof(s->wbuf), op, payload, len, rnd(s));
    if (n < 0)
        return false;
    return write_raw(s, c, s->wbuf, (size_t)n);
}

/* --- OCPP: sending ---------------------------------------------------------------------- */

/* One line of the log_file (format in sim_log.h); id is the seq, a message id or a port. */
static void log_text(sim_t *s, char kind, const char *id, const conn_t *c, const char *what,
                     const char *ref)
{
    if (!s->log)
        return;
    char who[64], line[512];
    if (c)
        identity(s, c, who, sizeof(who));
    else
        snprintf(who, sizeof(who), "-");
    uint64_t at = (uint64_t)clock_now_ms();
    if (sim_log_format(line, sizeof(line), s->log_detailed, at, kind, id, who, what, ref) > 0)
        fputs(line, s->log);
}

static void log_line(sim_t *s, char kind, uint64_t seq, const conn_t *c, const char *what)
{
    char id[24];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)seq);
    log_text(s, kind, id, c, what, NULL);
}

static bool send_call(sim_t *s, conn_t *c, uint64_t seq, const ocpp_msg_t *m, bool resend)
{
    char id[64], mid[24];
    identity(s, c, id, sizeof(id));
    snprintf(mid, sizeof(mid), "%llu", (unsigned long long)seq);
    int n = ocpp_msg_build(s->text, sizeof(s->text), (ocpp_version_t)c->version, id, mid, m);
    if (n < 0)
        return false;
    c->call_seq = seq;
    c->call = *m;
    c->call_sent_us = clock_mono_us();
    c->net_at = c->call_sent_us / 1000 + (uint64_t)s->cfg->call_timeout_ms;
    s->sent[c->version][m->act]++;
    if (resend)
        s->resent++;
    log_line(s, 'S', seq, c, ocpp_act_name(m->act, (ocpp_version_t)c->version));
    return send_frame(s, c, WS_OP_TEXT, s->text, (size_t)n);
}

static uint64_t unix_ms(const sim_t *s, uint64_t mono)
{
    return s->t0_unix_ms + (mono - s->t0_ms);
}

/* 2.1: one NotifyPeriodicEventStream as a SEND: it takes no outstanding-CALL slot and is never
 * answered, so it is neither queued nor resent (a stream's values are only worth it live) */
static void send_stream(sim_t *s, conn_t *c, uint64_t now)
{
    char id[64], mid[24];
    identity(s, c, id, sizeof(id));
    snprintf(mid, sizeof(mid), "%llu", (unsigned long long)++s->seq);
    ocpp_msg_t m = {
        .act = ACT_STREAM, .at_ms = unix_ms(s, now), .meter_wh = c->meter_wh, .stream_id = 1};
    int n = ocpp_msg_build(s->text, sizeof(s->text), (ocpp_version_t)c->version, id, mid, &m);
    if (n > 0 && send_frame(s, c, WS_OP_TEXT, s->text, (size_t)n))
        s->sends++;
}

static ocpp_msg_t make_msg(sim_t *s, conn_t *c, ocpp_act_t act, uint64_t now)
{
    ocpp_msg_t m = {.act = act,
                    .tx_id = c->tx_id,
                    .at_ms = unix_ms(s, now),
                    .meter_start_wh = c->tx_start_wh,
                    .signed_bytes = (uint16_t)s->cfg->signed_meter_bytes,
                    .stream_id = 1,
                    .stream_interval_s = (uint32_t)((s->cfg->stream_interval_ms + 999) / 1000)};
    if (act == ACT_START_TX || act == ACT_METER || act == ACT_STOP_TX) {
        c->meter_wh += act == ACT_START_TX ? 0 : 100 + rnd(s) % 900;
        m.tx_seq_no = c->tx_seq_no++;
        m.offline = c->net != NET_OPEN || c->booted != 2;
    }
    m.meter_wh = c->meter_wh;
    m.status = c->session;
    return m;
}

/* Sends the next queued message if the station may send (open, booted, nothing outstanding). */
static void pump(sim_t *s, conn_t *c)
{
    qitem_t it;
    if (c->net != NET_OPEN || c->booted != 2 || c->call_seq)
        return;
    if (ob_pop(s, c, &it)) {
        if (it.m.act == ACT_METER && c->version == OCPP_V16)
            it.m.tx_id = c->tx_id; /* known by now if the start was answered */
        send_call(s, c, it.seq, &it.m, it.m.offline);
    }
}

/* A message of the station's life: sent now if possible, else queued (transaction messages
 * always, others only while online). */
static void emit(sim_t *s, conn_t *c, ocpp_act_t act, uint64_t now)
{
    bool online = c->net == NET_OPEN && c->booted == 2;
    if (!online && !ocpp_act_is_transactional(act))
        return;
    ocpp_msg_t m = make_msg(s, c, act, now);
    uint64_t seq = ++s->seq;
    if (online && !c->call_seq && ob_len(c) == 0) {
        send_call(s, c, seq, &m, false); /* the common case: no queue needed */
        return;
    }
    if (!ob_push(s, c, seq, &m, false)) {
        err(s, "queue_full", NULL, 0);
        return;
    }
    if (!online) {
        s->queued_offline++;
        log_line(s, 'Q', seq, c, ocpp_act_name(act, (ocpp_version_t)c->version));
    }
    pump(s, c);
}

static void start_session(sim_t *s, conn_t *c, uint64_t now)
{
    const sim_config_t *cfg = s->cfg;
    c->session = 1;
    c->tx_id = (int64_t)(c - s->c) * 1000 + (c->tx_id % 1000) + 1;
    c->tx_seq_no = 0;
    c->tx_start_wh = c->meter_wh;
    c->meters_left = (uint32_t)(cfg->session_length_ms / cfg->meter_interval_ms);
    if (c->net == NET_OPEN && c->booted == 2)
        emit(s, c, ACT_AUTHORIZE, now);
    emit(s, c, ACT_START_TX, now);
    emit(s, c, ACT_STATUS, now);
    c->life_at = now + (uint64_t)cfg->meter_interval_ms;
}

/* Life mode: the next step of a session or the start of one. */
static void life_step(sim_t *s, conn_t *c, uint64_t now)
{
    const sim_config_t *cfg = s->cfg;
    if (!c->session) {
        if (cfg->session_every_ms <= 0) {
            c->life_at = 0;
            return;
        }
        start_session(s, c, now);
    } else if (c->meters_left > 0) {
        c->meters_left--;
        emit(s, c, ACT_METER, now);
        c->life_at = now + (uint64_t)cfg->meter_interval_ms;
    } else {
        emit(s, c, ACT_STOP_TX, now);
        c->session = 0;
        emit(s, c, ACT_STATUS, now);
        c->life_at = now + (uint64_t)cfg->session_every_ms / 2 +
                     rnd(s) % ((uint64_t)cfg->session_every_ms + 1);
    }
}

/* Load mode: the next CALL of the cycle Authorize, Start, Meter x N, Stop, StatusNotification,
 * Heartbeat (the mix of bench/bench_e2e.sh: transaction messages and the two others most sent). */
static void load_step(sim_t *s, conn_t *c, uint64_t now)
{
    uint32_t m = (uint32_t)s->cfg->load_meters_per_session;
    uint32_t k = c->load_step % (m + 5);
    ocpp_act_t act;
    if (k == 0) {
        act = ACT_AUTHORIZE;
    } else if (k == 1) {
        act = ACT_START_TX;
        c->session = 1;
        c->tx_id = (int64_t)(c - s->c) * 1000 + (c->tx_id % 1000) + 1;
        c->tx_seq_no = 0;
        c->tx_start_wh = c->meter_wh;
    } else if (k < m + 2) {
        act = ACT_METER;
    } else if (k == m + 2) {
        act = ACT_STOP_TX;
        c->session = 0;
    } else if (k == m + 3) {
        act = ACT_STATUS;
    } else {
        act = ACT_HEARTBEAT;
    }
    c->load_step++;
    emit(s, c, act, now);
}

static void send_boot(sim_t *s, conn_t *c, uint64_t now)
{
    ocpp_msg_t m = make_msg(s, c, ACT_BOOT, now);
    c->booted = 1;
    c->hb_at = 0;
    send_call(s, c, ++s->seq, &m, false);
}

/* --- connections ------------------------------------------------------------------------ */

static void free_buffers(conn_t *c)
{
    free(c->rx);
    free(c->msg);
    free(c->tx);
    c->rx = c->msg = c->tx = NULL;
    c->rx_len = c->rx_cap = c->msg_len = c->tx_len = c->tx_off = 0;
}

static void disconnect(sim_t *s, conn_t *c, const char *kind, const char *detail, size_t dl)
{
    uint64_t now = now_ms();
    if (kind)
        err(s, kind, detail, dl);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->net == NET_OPEN) {
        s->open_now--;
        if (s->log_detailed) {
            char why[96];
            snprintf(why, sizeof(why), "%s%s%.*s", kind ? kind : "reset", detail ? ":" : "",
                     detail ? (int)dl : 0, detail ? detail : "");
            log_text(s, 'X', "0", c, why, NULL);
        }
    }
    free_buffers(c);
    if (c->call_seq) {
        /* an unanswered transaction message is kept and resent after the reconnect */
        if (ocpp_act_is_transactional(c->call.act)) {
            c->call.offline = true;
            if (ob_push(s, c, c->call_seq, &c->call, true))
                log_line(s, 'Q', c->call_seq, c,
                         ocpp_act_name(c->call.act, (ocpp_version_t)c->version));
            else
                err(s, "queue_full", NULL, 0);
        }
        c->call_seq = 0;
    }
    c->net = NET_DOWN;
    c->booted = 0;
    c->hb_at = 0;
    c->stream_at = 0; /* the stream closes with the connection: opened again after the boot */
    if (s->load)
        c->life_at = 0;
    backoff_policy_t p = {(uint32_t)s->cfg->backoff_min_ms, (uint32_t)s->cfg->backoff_range_ms,
                          (uint32_t)s->cfg->backoff_repeat_times};
    c->net_at = now + backoff_wait_ms(&p, c->attempts, rnd(s));
    if (c->net_at == 0)
        c->net_at = 1;
    if (c->attempts < UINT16_MAX)
        c->attempts++;
    reschedule(s, c);
}

static void start_connect(sim_t *s, conn_t *c, uint64_t now)
{
    s->connect_attempts++;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->net = NET_DOWN;
        disconnect(s, c, "socket", strerror(errno), strlen(strerror(errno)));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (s->nsrc > 0) {
        struct sockaddr_in src = {.sin_family = AF_INET,
                                  .sin_addr = s->src[(uint32_t)(c - s->c) % (uint32_t)s->nsrc]};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            close(fd);
            disconnect(s, c, "bind", strerror(errno), strlen(strerror(errno)));
            return;
        }
    }
    struct sockaddr_in dst = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)s->url.port), .sin_addr = s->url.addr};
    c->fd = fd;
    c->net = NET_CONNECTING;
    c->connects++;
    c->connect_us = clock_mono_us();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = c - s->c};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        disconnect(s, c, "epoll", strerror(errno), strlen(strerror(errno)));
        return;
    }
    if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
        disconnect(s, c, "connect", strerror(errno), strlen(strerror(errno)));
        return;
    }
    c->net_at = now + (uint64_t)s->cfg->connect_timeout_ms;
}

static void ws_key(const sim_t *s, const conn_t *c, char key[25])
{
    uint64_t x = (uint64_t)(c - s->c) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)c->connects << 40 ^
                 (uint64_t)s->cfg->seed;
    uint8_t nonce[16];
    for (int i = 0; i < 16; i++) {
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9ULL;
        nonce[i] = (uint8_t)(x >> 56);
    }
    ws_make_key(nonce, key);
}

static const char *subprotocol(const conn_t *c)
{
    return c->version == OCPP_V16 ? "ocpp1.6" : c->version == OCPP_V201 ? "ocpp2.0.1" : "ocpp2.1";
}

static void on_connected(sim_t *s, conn_t *c)
{
    int e = 0;
    socklen_t l = sizeof(e);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
    if (e) {
        disconnect(s, c, "connect", strerror(e), strlen(strerror(e)));
        return;
    }
    char key[25], id[64], path[320], auth[200], auth64[280];
    ws_key(s, c, key);
    identity(s, c, id, sizeof(id));
    snprintf(path, sizeof(path), "%s/%s", s->url.path, id);
    const char *a = NULL;
    if (s->cfg->basic_auth_password[0]) {
        int n = snprintf(auth, sizeof(auth), "%s:%s", id, s->cfg->basic_auth_password);
        ws_base64((const uint8_t *)auth, n < (int)sizeof(auth) ? (size_t)n : sizeof(auth) - 1,
                  auth64);
        a = auth64;
    }
    char req[1024];
    int n =
        ws_client_request(req, sizeof(req), s->url.host, s->url.port, path, key, subprotocol(c), a);
    c->net = NET_UPGRADING;
    want_write(s, c, false);
    if (n > 0)
        write_raw(s, c, req, (size_t)n);
}

/* --- OCPP: receiving -------------------------------------------------------------------- */

static void on_result(sim_t *s, conn_t *c, const ocpp_frame_t *f, uint64_t now)
{
    uint64_t seq = strtoull(f->id, NULL, 10);
    if (seq == 0 || seq != c->call_seq) {
        err(s, "unexpected_result", NULL, 0);
        return;
    }
    ocpp_act_t act = c->call.act;
    s->acked[c->version][act]++;
    histo_record(&s->lat[c->version][act], clock_mono_us() - c->call_sent_us);
    c->call_seq = 0;
    c->net_at = 0;
    if (f->type == 4) {
        err(s, "CallError", f->action, f->action_len);
        if (s->log) {
            char what[80];
            snprintf(what, sizeof(what), "CallError:%.*s", (int)f->action_len, f->action);
            log_line(s, 'A', seq, c, what);
        }
    } else {
        log_line(s, 'A', seq, c, "ok");
    }
    if (act == ACT_BOOT) {
        char st[32] = "";
        int64_t interval = 0, tx = 0;
        if (f->type == 3)
            ocpp_result_fields(f->payload, f->payload_len, st, sizeof(st), &interval, &tx);
        if (interval <= 0)
            interval = 60;
        c->hb_interval_s = (uint32_t)interval;
        if (strcmp(st, "Accepted") == 0) {
            c->booted = 2;
            c->attempts = 0;
            s->connects_ok++;
            uint64_t hb = s->cfg->heartbeat_interval_ms > 0
                              ? (uint64_t)s->cfg->heartbeat_interval_ms
                              : (uint64_t)interval * 1000;
            if (!s->load) {
                c->hb_at = now + hb;
                ocpp_msg_t m = make_msg(s, c, ACT_STATUS, now);
                ob_push(s, c, ++s->seq, &m, true);
                if (c->version == OCPP_V21 && s->cfg->stream_interval_ms > 0) {
                    m = make_msg(s, c, ACT_STREAM_OPEN, now);
                    ob_push(s, c, ++s->seq, &m, false);
                }
                if (!c->life_at && s->cfg->session_every_ms > 0)
                    c->life_at = now + 1 + rnd(s) % (uint64_t)s->cfg->session_every_ms;
            } else {
                c->life_at = now + (s->pace_ms > 0 ? rnd(s) % ((uint64_t)s->pace_ms + 1) : 0);
            }
        } else {
            err(s, "boot_not_accepted", st, strlen(st));
            c->booted = 0;
            c->hb_at = now + (uint64_t)interval * 1000; /* retry the boot then */
        }
    } else if (act == ACT_STREAM_OPEN && f->type == 3) {
        char st[32] = "";
        int64_t iv = 0, tx = 0;
        ocpp_result_fields(f->payload, f->payload_len, st, sizeof(st), &iv, &tx);
        if (strcmp(st, "Accepted") == 0)
            c->stream_at = now + (uint64_t)s->cfg->stream_interval_ms;
        else
            err(s, "stream_not_accepted", st, strlen(st));
    } else if (act == ACT_START_TX && c->version == OCPP_V16 && f->type == 3) {
        char st[32];
        int64_t iv = 0, tx = 0;
        if (ocpp_result_fields(f->payload, f->payload_len, st, sizeof(st), &iv, &tx) == 0 && tx)
            c->tx_id = tx;
    }
    if (s->load && c->booted == 2 && act != ACT_BOOT) {
        uint64_t next = c->call_sent_us / 1000 + (uint64_t)s->pace_ms;
        c->life_at = next > now ? next : now;
    }
    pump(s, c);
    if (s->load && !s->draining && c->booted == 2 && !c->call_seq && c->life_at <= now) {
        load_step(s, c, now);
        c->life_at = 0;
    }
}

static void on_downlink(sim_t *s, conn_t *c, const ocpp_frame_t *f, uint64_t now)
{
    ocpp_reply_t r;
    bool accept =
        !s->reject_all && !sim_list_has(s->cfg->downlink_reject, f->action, f->action_len);
    int n =
        ocpp_downlink_reply(s->text, sizeof(s->text), (ocpp_version_t)c->version, f, accept, &r);
    s->downlinks++;
    if (!r.known)
        err(s, "downlink_not_implemented", f->action, f->action_len);
    if (s->log) {
        char what[80], mid[72], ref[136] = "-";
        snprintf(what, sizeof(what), "%.*s:%s", (int)f->action_len, f->action,
                 accept ? "accept" : "reject");
        snprintf(mid, sizeof(mid), "%.*s", (int)f->id_len, f->id);
        if (s->log_detailed)
            sim_log_ref(f->payload, f->payload_len, ref, sizeof(ref));
        log_text(s, 'D', s->log_detailed ? mid : "0", c, what, ref);
    }
    if (n < 0 || !send_frame(s, c, WS_OP_TEXT, s->text, (size_t)n))
        return;
    switch (r.effect) {
    case EFFECT_START_SESSION:
        if (!c->session) {
            if (s->load)
                c->load_step = 1;
            else
                start_session(s, c, now);
        }
        break;
    case EFFECT_STOP_SESSION:
        if (c->session) {
            if (s->load) {
                c->load_step = (uint32_t)s->cfg->load_meters_per_session + 2;
            } else {
                c->meters_left = 0;
                c->life_at = now;
            }
        }
        break;
    case EFFECT_RESET:
        c->attempts = 0;
        disconnect(s, c, NULL, NULL, 0);
        return;
    case EFFECT_TRIGGER:
        if (r.trigger_act == ACT_METER && !c->session)
            break;
        if (r.trigger_act == ACT_BOOT) {
            ocpp_msg_t m = make_msg(s, c, ACT_BOOT, now);
            ob_push(s, c, ++s->seq, &m, false);
            pump(s, c);
        } else {
            emit(s, c, r.trigger_act, now);
        }
        break;
    default:
        break;
    }
    reschedule(s, c);
}

static void on_message(sim_t *s, conn_t *c, const uint8_t *p, size_t len, uint64_t now)
{
    ocpp_frame_t f;
    if (ocpp_frame_scan((const char *)p, len, &f) < 0) {
        err(s, "bad_ocpp_frame", NULL, 0);
        return;
    }
    if (f.type == 2)
        on_downlink(s, c, &f, now);
    else if (f.type == 5) /* 2.1: the CSMS found one of our CALLRESULTs invalid */
        err(s, "CallResultError", f.action, f.action_len);
    else if (f.type == 6) /* 2.1 SEND: nothing a CSMS sends a station this way */
        err(s, "unexpected_send", f.action, f.action_len);
    else
        on_result(s, c, &f, now);
}

/* Consumes frames from buf; returns bytes consumed, or -1 when the connection was closed. */
static ssize_t on_bytes(sim_t *s, conn_t *c, uint8_t *buf, size_t len, uint64_t now)
{
    size_t off = 0;
    if (c->net == NET_UPGRADING) {
        char key[25];
        int status;
        ws_key(s, c, key);
        int h = ws_parse_response((const char *)buf, len, key, subprotocol(c), &status);
        if (h == 0)
            return 0;
        if (h < 0) {
            char st[8];
            snprintf(st, sizeof(st), "%d", status);
            disconnect(s, c, "handshake", st, strlen(st));
            return -1;
        }
        off = (size_t)h;
        c->net = NET_OPEN;
        s->open_now++;
        histo_record(&s->handshake, clock_mono_us() - c->connect_us);
        if (s->log_detailed) {
            struct sockaddr_in local;
            socklen_t ll = sizeof(local);
            char port[8] = "0";
            if (getsockname(c->fd, (struct sockaddr *)&local, &ll) == 0)
                snprintf(port, sizeof(port), "%u", (unsigned)ntohs(local.sin_port));
            log_text(s, 'C', port, c, subprotocol(c), NULL);
        }
        if (s->open_now > s->open_peak)
            s->open_peak = s->open_now;
        send_boot(s, c, now);
        if (c->fd < 0)
            return -1;
    }
    while (off < len && c->fd >= 0) {
        ws_frame_t f;
        int r = ws_frame_decode(buf + off, len - off, MAX_FRAME, &f);
        if (r == 0)
            break;
        if (r < 0) {
            disconnect(s, c, "ws_protocol", r == -EMSGSIZE ? "too_big" : NULL, 7);
            return -1;
        }
        uint8_t *pl = buf + off + f.header_len;
        size_t pn = (size_t)f.payload_len;
        if (f.masked)
            ws_unmask(pl, pn, f.mask);
        off += f.header_len + pn;
        switch (f.opcode) {
        case WS_OP_TEXT:
        case WS_OP_BINARY:
            if (c->msg) {
                disconnect(s, c, "ws_protocol", "interleaved", 11);
                return -1;
            }
            if (f.fin) {
                on_message(s, c, pl, pn, now);
            } else {
                c->msg = malloc(pn ? pn : 1);
                if (!c->msg) {
                    disconnect(s, c, "out_of_memory", NULL, 0);
                    return -1;
                }
                memcpy(c->msg, pl, pn);
                c->msg_len = (uint32_t)pn;
            }
            break;
        case WS_OP_CONT: {
            if (!c->msg || c->msg_len + pn > MAX_FRAME) {
                disconnect(s, c, "ws_protocol", c->msg ? "too_big" : "stray_continuation",
                           c->msg ? 7 : 18);
                return -1;
            }
            uint8_t *nm = realloc(c->msg, c->msg_len + pn + 1);
            if (!nm) {
                disconnect(s, c, "out_of_memory", NULL, 0);
                return -1;
            }
            memcpy(nm + c->msg_len, pl, pn);
            c->msg = nm;
            c->msg_len += (uint32_t)pn;
            if (f.fin) {
                uint8_t *m = c->msg;
                uint32_t ml = c->msg_len;
                c->msg = NULL;
                c->msg_len = 0;
                on_message(s, c, m, ml, now);
                free(m);
            }
            break;
        }
        case WS_OP_PING:
            send_frame(s, c, WS_OP_PONG, pl, pn);
            break;
        case WS_OP_PONG:
            break;
        case WS_OP_CLOSE: {
            char code[8] = "none";
            if (pn >= 2)
                snprintf(code, sizeof(code), "%u", (unsigned)(pl[0] << 8 | pl[1]));
            send_frame(s, c, WS_OP_CLOSE, pl, pn >= 2 ? 2 : 0);
            disconnect(s, c, "closed_by_server", code, strlen(code));
            return -1;
        }
        }
    }
    return c->fd >= 0 ? (ssize_t)off : -1;
}

static void on_readable(sim_t *s, conn_t *c, uint64_t now)
{
    ssize_t r = read(c->fd, s->rbuf, sizeof(s->rbuf));
    if (r == 0) {
        disconnect(s, c, "eof", NULL, 0);
        return;
    }
    if (r < 0) {
        if (errno != EAGAIN && errno != EINTR)
            disconnect(s, c, "read", strerror(errno), strlen(strerror(errno)));
        return;
    }
    uint8_t *buf = s->rbuf;
    size_t len = (size_t)r;
    if (c->rx_len) {
        if (c->rx_len + len > c->rx_cap) {
            uint32_t cap = c->rx_len + (uint32_t)len;
            uint8_t *nb = realloc(c->rx, cap);
            if (!nb) {
                disconnect(s, c, "out_of_memory", NULL, 0);
                return;
            }
            c->rx = nb;
            c->rx_cap = cap;
        }
        memcpy(c->rx + c->rx_len, s->rbuf, len);
        c->rx_len += (uint32_t)len;
        buf = c->rx;
        len = c->rx_len;
    }
    ssize_t used = on_bytes(s, c, buf, len, now);
    if (used < 0)
        return;
    size_t left = len - (size_t)used;
    if (left == 0) {
        free(c->rx);
        c->rx = NULL;
        c->rx_len = c->rx_cap = 0;
    } else if (buf == c->rx) {
        memmove(c->rx, c->rx + used, left);
        c->rx_len = (uint32_t)left;
    } else {
        if (left > MAX_FRAME + 16 + 8192) {
            disconnect(s, c, "ws_protocol", "too_big", 7);
            return;
        }
        c->rx = malloc(left);
        if (!c->rx) {
            disconnect(s, c, "out_of_memory", NULL, 0);
            return;
        }
        memcpy(c->rx, buf + used, left);
        c->rx_len = c->rx_cap = (uint32_t)left;
    }
    reschedule(s, c);
}

/* --- timers ------------------------------------------------------------------------------ */

static void wake(sim_t *s, conn_t *c, uint64_t now, bool draining)
{
    if (c->net == NET_DOWN && c->net_at && now >= c->net_at) {
        c->net_at = 0;
        if (!draining || ob_len(c) > 0)
            start_connect(s, c, now);
        if (c->net == NET_DOWN)
            return; /* failed at once and rescheduled */
    } else if ((c->net == NET_CONNECTING || c->net == NET_UPGRADING) && now >= c->net_at) {
        disconnect(s, c, "connect_timeout", NULL, 0);
        return;
    } else if (c->net == NET_OPEN && c->call_seq && now >= c->net_at) {
        disconnect(s, c, "call_timeout", NULL, 0);
        return;
    }
    if (c->hb_at && now >= c->hb_at) {
        if (c->net == NET_OPEN && c->booted == 0) {
            if (!c->call_seq)
                send_boot(s, c, now);
            else
                c->hb_at = now + 1000;
        } else if (c->net == NET_OPEN && c->booted == 2) {
            uint64_t hb = s->cfg->heartbeat_interval_ms > 0
                              ? (uint64_t)s->cfg->heartbeat_interval_ms
                              : (uint64_t)c->hb_interval_s * 1000;
            c->hb_at = now + hb;
            if (!draining)
                emit(s, c, ACT_HEARTBEAT, now);
        } else {
            c->hb_at = 0;
        }
    }
    if (c->stream_at && now >= c->stream_at) {
        if (c->net == NET_OPEN && c->booted == 2 && !draining) {
            send_stream(s, c, now);
            c->stream_at = now + (uint64_t)s->cfg->stream_interval_ms;
        } else {
            c->stream_at = 0;
        }
    }
    if (c->fd < 0 && c->net != NET_DOWN)
        return;
    if (c->life_at && now >= c->life_at && !draining) {
        if (s->load) {
            if (c->net == NET_OPEN && c->booted == 2 && !c->call_seq) {
                c->life_at = 0;
                load_step(s, c, now);
            } else {
                c->life_at = 0; /* resumes when the answer comes */
            }
        } else {
            life_step(s, c, now);
        }
    } else if (draining && c->life_at) {
        c->life_at = 0;
    }
    pump(s, c);
    reschedule(s, c);
}

/* --- setup, run, report ------------------------------------------------------------------ */

sim_t *sim_new(const sim_config_t *cfg, char *why, size_t whylen)
{
    sim_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->ep = -1;
    if (sim_parse_url(cfg->url, &s->url, why, whylen) < 0)
        goto fail;
    s->nsrc = sim_parse_sources(cfg->source_addresses, s->src, MAX_SOURCES, why, whylen);
    if (s->nsrc < 0)
        goto fail;
    if (cfg->v201_percent + cfg->v21_percent > 100) {
        snprintf(why, whylen, "v201_percent (%lld) + v21_percent (%lld) must be at most 100",
                 (long long)cfg->v201_percent, (long long)cfg->v21_percent);
        goto fail;
    }
    s->load = strcmp(cfg->mode, "load") == 0;
    s->reject_all = strcmp(cfg->downlink_reply, "reject") == 0;
    s->n = (uint32_t)cfg->count;
    s->pace_ms =
        s->load && cfg->msg_rate > 0 ? (double)cfg->count * 1000.0 / (double)cfg->msg_rate : 0;
    s->rng = (uint64_t)cfg->seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
    s->c = calloc(s->n, sizeof(conn_t));
    s->heap = calloc(s->n, sizeof(uint32_t));
    if (!s->c || !s->heap) {
        snprintf(why, whylen, "out of memory for %u stations", s->n);
        goto fail;
    }
    /* each connection needs a descriptor: raise the limit (root may raise the hard one) */
    struct rlimit rl;
    rlim_t want = (rlim_t)s->n + 64; /* the stations, epoll, log, stdio */
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want) {
        struct rlimit nl = {want, rl.rlim_max > want ? rl.rlim_max : want};
        if (setrlimit(RLIMIT_NOFILE, &nl) < 0) {
            nl.rlim_cur = rl.rlim_max;
            nl.rlim_max = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &nl);
            if (rl.rlim_max < want) {
                snprintf(why, whylen, "RLIMIT_NOFILE is %llu, %u stations need %llu",
                         (unsigned long long)rl.rlim_max, s->n, (unsigned long long)want);
                goto fail;
            }
        }
    }
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        snprintf(why, whylen, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    if (cfg->log_file[0]) {
        s->log = fopen(cfg->log_file, "w");
        if (!s->log) {
            snprintf(why, whylen, "%s: %s", cfg->log_file, strerror(errno));
            goto fail;
        }
        setvbuf(s->log, NULL, _IOFBF, 1 << 20);
        s->log_detailed = strcmp(cfg->log_format, "detailed") == 0;
    }
    s->progress = strcmp(cfg->progress, "on") == 0 ||
                  (strcmp(cfg->progress, "auto") == 0 && isatty(STDERR_FILENO));
    s->t0_ms = now_ms();
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    s->t0_unix_ms = (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000;
    for (uint32_t i = 0; i < s->n; i++) {
        conn_t *c = &s->c[i];
        c->fd = -1;
        c->heap_pos = NO_HEAP;
        /* a stable pseudo-random split of the versions */
        uint32_t h = (i + (uint32_t)cfg->identity_start) * 2654435761u;
        uint32_t pct = (h >> 16) % 100;
        c->version = pct < (uint32_t)cfg->v201_percent                        ? OCPP_V201
                     : pct < (uint32_t)(cfg->v201_percent + cfg->v21_percent) ? OCPP_V21
                                                                              : OCPP_V16;
        c->net_at = s->t0_ms + 1 + (uint64_t)i * 1000 / (uint64_t)cfg->ramp_rate;
        reschedule(s, c);
    }
    return s;
fail:
    sim_destroy(&s);
    return NULL;
}

static uint64_t total(const uint64_t a[OCPP_VERSIONS][ACT_COUNT])
{
    uint64_t t = 0;
    for (int v = 0; v < OCPP_VERSIONS; v++)
        for (int k = 0; k < ACT_COUNT; k++)
            t += a[v][k];
    return t;
}

static uint64_t total_errors(const sim_t *s)
{
    uint64_t t = 0;
    for (int i = 0; i < s->nerrs; i++)
        t += s->errs[i].count;
    return t;
}

static void progress(sim_t *s, uint64_t now, bool force)
{
    if (!s->progress || (!force && now - s->last_progress_ms < 1000))
        return;
    uint64_t acked = total(s->acked);
    double dt = (double)(now - s->last_progress_ms) / 1000.0;
    fprintf(stderr,
            "\rcp-sim %5.0fs  open %llu/%u  %8.0f msg/s  acked %llu  queued %llu  errors %llu   ",
            (double)(now - s->t0_ms) / 1000.0, (unsigned long long)s->open_now, s->n,
            dt > 0 ? (double)(acked - s->last_acked_total) / dt : 0.0, (unsigned long long)acked,
            (unsigned long long)s->pending, (unsigned long long)total_errors(s));
    fflush(stderr);
    s->last_acked_total = acked;
    s->last_progress_ms = now;
}

static uint64_t outstanding_calls(const sim_t *s)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < s->n; i++)
        n += s->c[i].call_seq != 0;
    return n;
}

int sim_run(sim_t *s)
{
    struct epoll_event evs[1024];
    uint64_t end = s->cfg->duration_ms > 0 ? s->t0_ms + (uint64_t)s->cfg->duration_ms : 0;
    uint64_t drain_end = 0;
    bool draining = false;
    s->last_progress_ms = s->t0_ms;
    for (;;) {
        uint64_t now = now_ms();
        if (!draining && (stop_flag || (end && now >= end))) {
            draining = true;
            s->draining = true;
            s->end_ms = now;
            drain_end = now + (uint64_t)s->cfg->drain_ms;
        }
        if (draining) {
            if (now >= drain_end || stop_flag > 1)
                break;
            if (s->pending == 0 && outstanding_calls(s) == 0)
                break;
        }
        /* timers, bounded per turn so sockets are served too */
        for (int k = 0; k < 20000 && s->heap_n > 0; k++) {
            conn_t *c = &s->c[s->heap[0]];
            if (c->due > now)
                break;
            heap_remove(s, c);
            wake(s, c, now, draining);
        }
        int timeout = 100;
        if (s->heap_n > 0) {
            uint64_t due = s->c[s->heap[0]].due;
            timeout = due <= now ? 0 : due - now < 100 ? (int)(due - now) : 100;
        }
        int n = epoll_wait(s->ep, evs, 1024, timeout);
        now = now_ms();
        for (int i = 0; i < n; i++) {
            conn_t *c = &s->c[evs[i].data.u32];
            if (c->fd < 0)
                continue;
            if (c->net == NET_CONNECTING) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    on_connected(s, c);
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && c->tx_len)
                flush_tx(s, c);
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(s, c, now);
        }
        progress(s, now, false);
        if (s->log_detailed && now - s->log_flushed_ms >= 1000) {
            fflush(s->log); /* the harness follows the log while the run goes on */
            s->log_flushed_ms = now;
        }
    }
    if (!s->end_ms)
        s->end_ms = now_ms();
    progress(s, now_ms(), true);
    if (s->progress)
        fputc('\n', stderr);
    if (s->log_detailed)
        log_text(s, 'E', "0", NULL, "end", NULL);
    if (s->log)
        fflush(s->log);
    return 0;
}

unsigned long sim_report(sim_t *s, FILE *out)
{
    const sim_config_t *cfg = s->cfg;
    double secs = (double)(s->end_ms - s->t0_ms) / 1000.0;
    uint32_t v201 = 0, v21 = 0;
    unsigned long lost_unsent = 0, lost_unacked = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        v201 += s->c[i].version == OCPP_V201;
        v21 += s->c[i].version == OCPP_V21;
        lost_unsent += ob_len(&s->c[i]);
        if (s->c[i].call_seq && ocpp_act_is_transactional(s->c[i].call.act))
            lost_unacked++;
    }
    uint64_t sent = total(s->sent), acked = total(s->acked);
    fprintf(out, "cp-sim report\n");
    fprintf(out,
            "  run: %.1f s (mode %s, msg_rate %lld), stations %u (1.6: %u, 2.0.1: %u, 2.1: %u)\n",
            secs, cfg->mode, (long long)cfg->msg_rate, s->n, s->n - v201 - v21, v201, v21);
    fprintf(out,
            "  connections: open at end %llu, peak open %llu, boots accepted %llu, connect "
            "attempts %llu\n",
            (unsigned long long)s->open_now, (unsigned long long)s->open_peak,
            (unsigned long long)s->connects_ok, (unsigned long long)s->connect_attempts);
    fprintf(out,
            "  messages: sent %llu (resent after reconnect %llu, queued offline %llu), answered "
            "%llu, %.0f msg/s answered; downlink calls answered %llu\n",
            (unsigned long long)sent, (unsigned long long)s->resent,
            (unsigned long long)s->queued_offline, (unsigned long long)acked,
            secs > 0 ? (double)acked / secs : 0.0, (unsigned long long)s->downlinks);
    if (v21)
        fprintf(out, "  2.1 periodic event stream: %llu SEND frames (never answered)\n",
                (unsigned long long)s->sends);
    fprintf(out, "  transaction messages not delivered: %lu queued, %lu unanswered\n", lost_unsent,
            lost_unacked);
    fprintf(out, "  latency ms  %-30s %10s %8s %8s %8s %8s %8s\n", "action", "count", "p50", "p90",
            "p99", "p99.9", "max");
    histo_t all = {0};
    for (int v = 0; v < OCPP_VERSIONS; v++)
        for (int k = 0; k < ACT_COUNT; k++) {
            const histo_t *h = &s->lat[v][k];
            if (!h->count)
                continue;
            histo_merge(&all, h);
            char name[48];
            snprintf(name, sizeof(name), "%s %s", ocpp_version_label((ocpp_version_t)v),
                     ocpp_act_name((ocpp_act_t)k, (ocpp_version_t)v));
            fprintf(out, "  latency ms  %-30s %10llu %8.2f %8.2f %8.2f %8.2f %8.2f\n", name,
                    (unsigned long long)h->count, histo_quantile(h, 0.5) / 1000.0,
                    histo_quantile(h, 0.9) / 1000.0, histo_quantile(h, 0.99) / 1000.0,
                    histo_quantile(h, 0.999) / 1000.0, h->max / 1000.0);
        }
    fprintf(out, "  latency ms  %-30s %10llu %8.2f %8.2f %8.2f %8.2f %8.2f\n", "all",
            (unsigned long long)all.count, histo_quantile(&all, 0.5) / 1000.0,
            histo_quantile(&all, 0.9) / 1000.0, histo_quantile(&all, 0.99) / 1000.0,
            histo_quantile(&all, 0.999) / 1000.0, all.max / 1000.0);
    const histo_t *hs = &s->handshake;
    fprintf(out, "  latency ms  %-30s %10llu %8.2f %8.2f %8.2f %8.2f %8.2f\n", "ws handshake",
            (unsigned long long)hs->count, histo_quantile(hs, 0.5) / 1000.0,
            histo_quantile(hs, 0.9) / 1000.0, histo_quantile(hs, 0.99) / 1000.0,
            histo_quantile(hs, 0.999) / 1000.0, hs->max / 1000.0);
    if (s->nerrs == 0)
        fprintf(out, "  errors: none\n");
    for (int i = 0; i < s->nerrs; i++)
        fprintf(out, "  error %s: %llu\n", s->errs[i].name, (unsigned long long)s->errs[i].count);
    return lost_unsent + lost_unacked;
}

void sim_destroy(sim_t **ps)
{
    sim_t *s = *ps;
    if (!s)
        return;
    for (uint32_t i = 0; s->c && i < s->n; i++) {
        if (s->c[i].fd >= 0)
            close(s->c[i].fd);
        free_buffers(&s->c[i]);
        free(s->c[i].ob);
    }
    if (s->ep >= 0)
        close(s->ep);
    if (s->log)
        fclose(s->log);
    free(s->c);
    free(s->heap);
    free(s);
    *ps = NULL;
}
