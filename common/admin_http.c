/* admin_http.c: the admin HTTP listener (/metrics, /healthz, /readyz) on its own thread.
 *
 * A small poll loop, not a general HTTP server: up to ADMIN_MAX_CONNS connections at once, each
 * non-blocking and bounded in time (read deadline, write deadline, short lingering close) and in
 * size (8 KiB request). One request per connection, answered with Connection: close. An eventfd in
 * the poll set lets admin_http_stop() wake the thread at once. The request parser and the router
 * are plain functions over the request bytes; only the loop touches sockets.
 */
#include "admin_http.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define ADMIN_MAX_CONNS        16
#define ADMIN_MAX_PER_PEER     4    /* one address cannot take every slot from the probes */
#define ADMIN_REQUEST_MAX      8192 /* bytes of request line and headers */
#define ADMIN_READ_TIMEOUT_MS  2000 /* from accept to the end of the headers */
#define ADMIN_WRITE_TIMEOUT_MS 5000 /* to send the whole response */
#define ADMIN_LINGER_MS        500  /* reading what the client still sends, so close sends no RST */
#define ADMIN_LINGER_MAX       65536 /* bytes discarded while lingering */
#define ADMIN_DEFAULT_STALL_MS 10000
#define ADMIN_REASON_MAX       256

typedef enum {
    CONN_FREE,
    CONN_READING,
    CONN_WRITING,
    CONN_LINGERING,
} conn_state_t;

typedef struct {
    int fd;
    conn_state_t state;
    struct sockaddr_storage peer; /* address only (the port is cleared) */
    socklen_t peer_len;
    int64_t deadline_ms;
    size_t inlen;
    char in[ADMIN_REQUEST_MAX + 1];
    char *out;
    size_t outlen;
    size_t outoff;
    size_t lingered;
} admin_conn_t;

struct admin_http {
    int listen_fd;
    int wake_fd;
    int port;
    pthread_t thread;
    atomic_bool stopping;
    _Atomic int64_t heartbeat_ms;
    _Atomic int64_t stall_limit_ms;
    pthread_mutex_t ready_lock; /* guards ready and reason */
    bool ready;
    char reason[ADMIN_REASON_MAX];
    int64_t accept_pause_until_ms; /* after EMFILE, so a readable listener does not spin */
    admin_conn_t conns[ADMIN_MAX_CONNS];
};

/* One response, before it is serialised; body is malloc'd and freed by conn_respond(). */
typedef struct {
    int status;
    const char *content_type;
    const char *path_label; /* bounded label for admin_requests_total */
    bool allow_get;
    char *body;
    size_t body_len;
} admin_response_t;

static int64_t now_ms(void)
{
    return (int64_t)(clock_mono_us() / 1000u);
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    }
    return "Unknown";
}

/* Sets a response whose body is formatted text. */
__attribute__((format(printf, 3, 4))) static void response_text(admin_response_t *response,
                                                                int status, const char *fmt, ...)
{
    char buf[ADMIN_REASON_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
        buf[0] = '\0';
    } else if ((size_t)n >= sizeof(buf)) {
        n = (int)sizeof(buf) - 1;
    }
    response->status = status;
    response->content_type = "text/plain; charset=utf-8";
    response->body = strndup(buf, (size_t)n);
    response->body_len = response->body ? (size_t)n : 0;
}

static void handle_healthz(admin_http_t *self, admin_response_t *response)
{
    int64_t age = now_ms() - atomic_load(&self->heartbeat_ms);
    if (age > atomic_load(&self->stall_limit_ms)) {
        response_text(response, 503, "stalled: no heartbeat for %lld ms\n", (long long)age);
    } else {
        response_text(response, 200, "ok\n");
    }
}

static void handle_readyz(admin_http_t *self, admin_response_t *response)
{
    pthread_mutex_lock(&self->ready_lock);
    if (self->ready) {
        response_text(response, 200, "ready\n");
    } else {
        response_text(response, 503, "not ready: %s\n", self->reason);
    }
    pthread_mutex_unlock(&self->ready_lock);
}

static void handle_metrics(admin_response_t *response)
{
    char *text = metrics_render();
    if (!text) {
        response_text(response, 500, "metrics unavailable\n");
        return;
    }
    response->status = 200;
    response->content_type = "text/plain; version=0.0.4; charset=utf-8";
    response->body = text;
    response->body_len = strlen(text);
}

/* Routes one complete request head (NUL-terminated, len bytes). */
static void admin_http_route(admin_http_t *self, const char *head, size_t len,
                             admin_response_t *response)
{
    response->path_label = "other";
    /* request line: METHOD SP target SP HTTP/x.y */
    const char *eol = memchr(head, '\n', len);
    size_t line_len = eol ? (size_t)(eol - head) : len;
    if (line_len > 0 && head[line_len - 1] == '\r') {
        line_len--;
    }
    const char *sp1 = memchr(head, ' ', line_len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line_len - (size_t)(sp1 + 1 - head)) : NULL;
    if (!sp1 || !sp2 || sp1 == head || sp2 == sp1 + 1 ||
        (size_t)(head + line_len - (sp2 + 1)) < 5 || strncmp(sp2 + 1, "HTTP/", 5) != 0) {
        response_text(response, 400, "bad request\n");
        return;
    }
    const char *target = sp1 + 1;
    size_t path_len = strcspn(target, "? #");
    if (path_len > (size_t)(sp2 - target)) {
        path_len = (size_t)(sp2 - target);
    }
    static const char *const paths[] = {"/metrics", "/healthz", "/readyz"};
    int route = -1;
    for (int i = 0; i < 3; i++) {
        if (strlen(paths[i]) == path_len && memcmp(target, paths[i], path_len) == 0) {
            route = i;
            response->path_label = paths[i];
        }
    }
    size_t method_len = (size_t)(sp1 - head);
    if (method_len != 3 || memcmp(head, "GET", 3) != 0) {
        response->allow_get = true;
        response_text(response, 405, "method not allowed\n");
        return;
    }
    switch (route) {
    case 0:
        handle_metrics(response);
        break;
    case 1:
        handle_healthz(self, response);
        break;
    case 2:
        handle_readyz(self, response);
        break;
    default:
        response_text(response, 404, "not found\n");
        break;
    }
}

static void admin_http_count(const char *path_label)
{
    char labels[64];
    snprintf(labels, sizeof(labels), "path=\"%s\"", path_label);
    metrics_counter_add(
        metrics_counter("admin_requests_total", "Admin HTTP requests by path.", labels), 1);
}

static void conn_close(admin_conn_t *conn)
{
    if (conn->fd >= 0) {
        close(conn->fd);
    }
    free(conn->out);
    conn->fd = -1;
    conn->out = NULL;
    conn->outlen = conn->outoff = conn->inlen = conn->lingered = 0;
    conn->state = CONN_FREE;
}

static void conn_linger(admin_conn_t *conn)
{
    /* Half-close, then read what the client may still send, so the kernel does not answer the
       unread bytes with a RST that could destroy the response before the client reads it. */
    shutdown(conn->fd, SHUT_WR);
    conn->state = CONN_LINGERING;
    conn->deadline_ms = now_ms() + ADMIN_LINGER_MS;
}

static void conn_write(admin_conn_t *conn)
{
    while (conn->outoff < conn->outlen) {
        ssize_t n =
            send(conn->fd, conn->out + conn->outoff, conn->outlen - conn->outoff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(conn);
            }
            return;
        }
        conn->outoff += (size_t)n;
    }
    conn_linger(conn);
}

/* Serialises the response into conn->out and starts sending it. */
static void conn_respond(admin_conn_t *conn, admin_response_t *response)
{
    admin_http_count(response->path_label);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     response->status, status_text(response->status), response->content_type,
                     response->body_len, response->allow_get ? "Allow: GET\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(head)) {
        free(response->body);
        conn_close(conn);
        return;
    }
    conn->out = malloc((size_t)n + response->body_len);
    if (!conn->out) {
        log_error("admin_http: out of memory for a %zu byte response", response->body_len);
        free(response->body);
        conn_close(conn);
        return;
    }
    memcpy(conn->out, head, (size_t)n);
    if (response->body_len) {
        memcpy(conn->out + n, response->body, response->body_len);
    }
    free(response->body);
    conn->outlen = (size_t)n + response->body_len;
    conn->outoff = 0;
    conn->state = CONN_WRITING;
    conn->deadline_ms = now_ms() + ADMIN_WRITE_TIMEOUT_MS;
    conn_write(conn);
}

static void conn_respond_error(admin_conn_t *conn, int status, const char *body)
{
    admin_response_t response = {.path_label = "other"};
    response_text(&response, status, "%s", body);
    conn_respond(conn, &response);
}

static void conn_read(admin_http_t *self, admin_conn_t *conn)
{
    for (;;) {
        ssize_t n = recv(conn->fd, conn->in + conn->inlen, ADMIN_REQUEST_MAX - conn->inlen, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(conn);
            }
            return;
        }
        if (n == 0) {
            conn_close(conn); /* gone before a whole request: nobody to answer */
            return;
        }
        size_t scan_from = conn->inlen >= 3 ? conn->inlen - 3 : 0;
        conn->inlen += (size_t)n;
        conn->in[conn->inlen] = '\0';
        const char *scan = conn->in + scan_from;
        size_t scan_len = conn->inlen - scan_from;
        if (memmem(scan, scan_len, "\r\n\r\n", 4) || memmem(scan, scan_len, "\n\n", 2)) {
            admin_response_t response = {0};
            admin_http_route(self, conn->in, conn->inlen, &response);
            conn_respond(conn, &response);
            return;
        }
        if (conn->inlen == ADMIN_REQUEST_MAX) {
            conn_respond_error(conn, 431, "request header fields too large\n");
            return;
        }
    }
}

static void conn_discard(admin_conn_t *conn)
{
    char scratch[4096];
    for (;;) {
        ssize_t n = recv(conn->fd, scratch, sizeof(scratch), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            conn_close(conn);
            return;
        }
        conn->lingered += (size_t)n;
        if (conn->lingered > ADMIN_LINGER_MAX) {
            conn_close(conn);
            return;
        }
    }
}

static void conn_expire(admin_conn_t *conn)
{
    if (conn->state == CONN_READING) {
        conn_respond_error(conn, 408, "request timeout\n");
    } else {
        conn_close(conn);
    }
}

static void peer_clear_port(struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET) {
        ((struct sockaddr_in *)a)->sin_port = 0;
    } else if (a->ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)a)->sin6_port = 0;
    }
}

/* connections open from the address of peer */
static int peer_conns(const admin_http_t *self, const struct sockaddr_storage *peer, socklen_t len)
{
    int n = 0;
    for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
        const admin_conn_t *c = &self->conns[i];
        if (c->state != CONN_FREE && c->peer_len == len && memcmp(&c->peer, peer, len) == 0) {
            n++;
        }
    }
    return n;
}

static void admin_http_accept(admin_http_t *self)
{
    for (;;) {
        admin_conn_t *conn = NULL;
        for (int i = 0; i < ADMIN_MAX_CONNS && !conn; i++) {
            if (self->conns[i].state == CONN_FREE) {
                conn = &self->conns[i];
            }
        }
        if (!conn) {
            return; /* the rest wait in the backlog until a slot frees */
        }
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(self->listen_fd, (struct sockaddr *)&peer, &peer_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_warn("admin_http: accept failed: %s", strerror(errno));
                self->accept_pause_until_ms = now_ms() + 100;
            }
            return;
        }
        peer_clear_port(&peer);
        if (peer_conns(self, &peer, peer_len) >= ADMIN_MAX_PER_PEER) {
            /* a client that holds its share of the slots waits; the kubelet's probes and the
             * scraper (other addresses) keep theirs */
            metrics_counter_add(metrics_counter("admin_refused_total",
                                                "admin connections closed at once because their "
                                                "address already held its share of the slots",
                                                NULL),
                                1);
            close(fd);
            continue;
        }
        conn->peer = peer;
        conn->peer_len = peer_len;
        conn->fd = fd;
        conn->state = CONN_READING;
        conn->inlen = 0;
        conn->deadline_ms = now_ms() + ADMIN_READ_TIMEOUT_MS;
    }
}

static void *admin_http_run(void *arg)
{
    admin_http_t *self = arg;
    struct pollfd pfds[2 + ADMIN_MAX_CONNS];
    int owner[2 + ADMIN_MAX_CONNS]; /* pfds index -> conn index, -1 for wake, -2 for listen */
    while (!atomic_load(&self->stopping)) {
        int64_t now = now_ms();
        int64_t wait = -1;
        nfds_t nfds = 0;
        pfds[nfds] = (struct pollfd){.fd = self->wake_fd, .events = POLLIN};
        owner[nfds++] = -1;
        int active = 0;
        for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
            admin_conn_t *conn = &self->conns[i];
            if (conn->state == CONN_FREE) {
                continue;
            }
            active++;
            pfds[nfds] = (struct pollfd){.fd = conn->fd,
                                         .events = conn->state == CONN_WRITING ? POLLOUT : POLLIN};
            owner[nfds++] = i;
            int64_t left = conn->deadline_ms > now ? conn->deadline_ms - now : 0;
            wait = wait < 0 || left < wait ? left : wait;
        }
        if (active < ADMIN_MAX_CONNS) {
            if (now >= self->accept_pause_until_ms) {
                pfds[nfds] = (struct pollfd){.fd = self->listen_fd, .events = POLLIN};
                owner[nfds++] = -2;
            } else {
                int64_t left = self->accept_pause_until_ms - now;
                wait = wait < 0 || left < wait ? left : wait;
            }
        }
        int rc = poll(pfds, nfds, (int)wait);
        if (rc < 0) {
            if (errno != EINTR) {
                log_error("admin_http: poll failed: %s", strerror(errno));
                self->accept_pause_until_ms = now_ms() + 100; /* and retry, without spinning */
                struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
            continue;
        }
        for (nfds_t k = 0; k < nfds && rc > 0; k++) {
            if (!pfds[k].revents) {
                continue;
            }
            if (owner[k] == -1) {
                break; /* woken by stop: the loop condition ends it */
            }
            if (owner[k] == -2) {
                admin_http_accept(self);
                continue;
            }
            admin_conn_t *conn = &self->conns[owner[k]];
            if (conn->state == CONN_READING) {
                conn_read(self, conn);
            } else if (conn->state == CONN_WRITING) {
                conn_write(conn);
            } else if (conn->state == CONN_LINGERING) {
                conn_discard(conn);
            }
        }
        now = now_ms();
        for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
            if (self->conns[i].state != CONN_FREE && now >= self->conns[i].deadline_ms) {
                conn_expire(&self->conns[i]);
            }
        }
    }
    for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
        conn_close(&self->conns[i]);
    }
    return NULL;
}

static int listen_on(const char *host, int port, int *err)
{
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
    };
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(host, service, &hints, &list);
    if (rc != 0) {
        log_error("admin_http: cannot resolve %s: %s", host, gai_strerror(rc));
        *err = EINVAL;
        return -1;
    }
    int fd = -1;
    *err = EADDRNOTAVAIL;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            *err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            *err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        return -errno;
    }
    if (addr.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    }
    if (addr.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    }
    return -EAFNOSUPPORT;
}

admin_http_t *admin_http_start(const char *bind_addr, int port)
{
    const char *host = bind_addr && *bind_addr ? bind_addr : "0.0.0.0";
    if (port < 0 || port > 65535) {
        log_error("admin_http: invalid port %d", port);
        return NULL;
    }
    admin_http_t *self = calloc(1, sizeof(*self));
    if (!self) {
        log_error("admin_http: out of memory");
        return NULL;
    }
    self->wake_fd = -1;
    for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
        self->conns[i].fd = -1;
    }
    int err = 0;
    self->listen_fd = listen_on(host, port, &err);
    if (self->listen_fd < 0) {
        log_error("admin_http: cannot listen on %s:%d: %s", host, port, strerror(err));
        goto out_free;
    }
    self->port = bound_port(self->listen_fd);
    if (self->port < 0) {
        log_error("admin_http: getsockname failed: %s", strerror(-self->port));
        goto out_close_listen;
    }
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->wake_fd < 0) {
        log_error("admin_http: eventfd failed: %s", strerror(errno));
        goto out_close_listen;
    }
    atomic_init(&self->stopping, false);
    atomic_init(&self->heartbeat_ms, now_ms());
    atomic_init(&self->stall_limit_ms, ADMIN_DEFAULT_STALL_MS);
    pthread_mutex_init(&self->ready_lock, NULL);
    snprintf(self->reason, sizeof(self->reason), "starting");

    /* The thread takes no process signals: they stay with the threads that handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&self->thread, NULL, admin_http_run, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("admin_http: cannot start thread: %s", strerror(rc));
        goto out_destroy_lock;
    }
    pthread_setname_np(self->thread, "admin-http");
    log_info("admin_http: listening on %s:%d", host, self->port);
    return self;

out_destroy_lock:
    pthread_mutex_destroy(&self->ready_lock);
    close(self->wake_fd);
out_close_listen:
    close(self->listen_fd);
out_free:
    free(self);
    return NULL;
}

int admin_http_port(const admin_http_t *self)
{
    return self ? self->port : -EINVAL;
}

void admin_http_set_ready(admin_http_t *self, bool ready, const char *reason)
{
    if (!self) {
        return;
    }
    pthread_mutex_lock(&self->ready_lock);
    self->ready = ready;
    snprintf(self->reason, sizeof(self->reason), "%s", reason && *reason ? reason : "unknown");
    pthread_mutex_unlock(&self->ready_lock);
}

void admin_http_heartbeat(admin_http_t *self)
{
    if (self) {
        atomic_store_explicit(&self->heartbeat_ms, now_ms(), memory_order_relaxed);
    }
}

void admin_http_set_stall_limit_ms(admin_http_t *self, int64_t ms)
{
    if (self && ms > 0) {
        atomic_store(&self->stall_limit_ms, ms);
    }
}

void admin_http_stop(admin_http_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    admin_http_t *self = *self_p;
    *self_p = NULL;
    atomic_store(&self->stopping, true);
    uint64_t one = 1;
    while (write(self->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    pthread_join(self->thread, NULL);
    close(self->wake_fd);
    close(self->listen_fd);
    pthread_mutex_destroy(&self->ready_lock);
    free(self);
}
