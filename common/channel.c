/* channel.c: ZeroMQ PUSH/PULL helpers over CZMQ (see channel.h). */
#include "channel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define IPC_PREFIX     "ipc://"
#define IPC_PREFIX_LEN (sizeof(IPC_PREFIX) - 1)
#define SUN_PATH_MAX   (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* True when a process accepts connections on the Unix socket at path. */
static bool ipc_in_use(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    bool in_use;
    int fd;

    if (n == 0 || n > SUN_PATH_MAX || path[0] == '@') /* '@': abstract, ZeroMQ checks it */
        return false;
    memcpy(sa.sun_path, path, n);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    in_use = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return in_use;
}

int channel_hwm_messages(int hwm_envelopes)
{
    int hwm = hwm_envelopes > 0 ? hwm_envelopes : CHANNEL_DEFAULT_HWM;
    return (hwm + CHANNEL_BATCH_FRAMES - 1) / CHANNEL_BATCH_FRAMES;
}

zsock_t *channel_pull_bind(const char *endpoint, int rcvhwm)
{
    zsock_t *sock;
    int err;

    if (endpoint == NULL || *endpoint == '\0') {
        errno = EINVAL;
        return NULL;
    }
    /* ZeroMQ unlinks an existing ipc socket file before binding, so a second process bound to
     * the same path would silently take the endpoint from a live one. */
    if (strncmp(endpoint, IPC_PREFIX, IPC_PREFIX_LEN) == 0 &&
        ipc_in_use(endpoint + IPC_PREFIX_LEN)) {
        log_error("channel: cannot bind %s: another process is listening there", endpoint);
        errno = EADDRINUSE;
        return NULL;
    }
    sock = zsock_new(ZMQ_PULL);
    if (sock == NULL) {
        err = errno ? errno : ENOMEM;
        log_error("channel: cannot create a PULL socket for %s: %s", endpoint, zmq_strerror(err));
        errno = err;
        return NULL;
    }
    zsock_set_rcvhwm(sock, channel_hwm_messages(rcvhwm));
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        err = zmq_errno();
        log_error("channel: cannot bind %s: %s", endpoint, zmq_strerror(err));
        zsock_destroy(&sock);
        errno = err;
        return NULL;
    }
    return sock;
}

zsock_t *channel_push_connect(const char *endpoint, int sndhwm)
{
    zsock_t *sock;
    int err;

    if (endpoint == NULL || *endpoint == '\0') {
        errno = EINVAL;
        return NULL;
    }
    sock = zsock_new(ZMQ_PUSH);
    if (sock == NULL) {
        err = errno ? errno : ENOMEM;
        log_error("channel: cannot create a PUSH socket for %s: %s", endpoint, zmq_strerror(err));
        errno = err;
        return NULL;
    }
    /* both must be set before the connect creates the pipe */
    zsock_set_sndhwm(sock, channel_hwm_messages(sndhwm));
    zsock_set_linger(sock, CHANNEL_LINGER_MS);
    if (zsock_connect(sock, "%s", endpoint) < 0) {
        err = zmq_errno();
        log_error("channel: cannot connect to %s: %s", endpoint, zmq_strerror(err));
        zsock_destroy(&sock);
        errno = err;
        return NULL;
    }
    return sock;
}

int channel_send(zsock_t *push, const void *data, size_t len)
{
    if (push == NULL || (data == NULL && len > 0))
        return -EINVAL;
    if (zmq_send(zsock_resolve(push), data, len, ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    return 0;
}

int channel_send_frames(zsock_t *push, const void *const *data, const size_t *len, size_t n)
{
    if (push == NULL || n == 0 || data == NULL || len == NULL)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (data[i] == NULL && len[i] > 0)
            return -EINVAL; /* before any part is queued: never half a message */
    void *sock = zsock_resolve(push);
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(sock, data[i], len[i], flags) < 0) {
            /* the first part refused: nothing queued. A later part (not seen with PUSH, whose
             * high-water mark counts whole messages): libzmq rolls the parts back itself */
            return -zmq_errno();
        }
    }
    return 0;
}

int channel_send_envelope(zsock_t *push, const envelope_t *env, msgpack_sbuffer *scratch)
{
    int rc;

    if (scratch == NULL)
        return -EINVAL;
    msgpack_sbuffer_clear(scratch);
    rc = envelope_encode(env, scratch);
    if (rc < 0)
        return rc;
    return channel_send(push, scratch->data, scratch->size);
}

int channel_send_wait(zsock_t *push, const void *data, size_t len, int timeout_ms)
{
    int64_t deadline = zclock_mono() + (timeout_ms > 0 ? timeout_ms : 0);
    int64_t left;
    int rc;

    for (;;) {
        rc = channel_send(push, data, len);
        if (rc != -EAGAIN || timeout_ms == 0)
            return rc;
        left = deadline - zclock_mono();
        if (timeout_ms > 0 && left <= 0)
            return -EAGAIN;
        zmq_pollitem_t item = {.socket = zsock_resolve(push), .events = ZMQ_POLLOUT};
        if (zmq_poll(&item, 1, timeout_ms > 0 ? (long)left : -1) < 0 && zmq_errno() != EINTR)
            return -zmq_errno();
    }
}

int channel_recv(zsock_t *pull, zmq_msg_t *msg)
{
    int err;

    if (pull == NULL || msg == NULL)
        return -EINVAL;
    zmq_msg_init(msg);
    if (zmq_msg_recv(msg, zsock_resolve(pull), ZMQ_DONTWAIT) < 0) {
        err = zmq_errno();
        zmq_msg_close(msg);
        return -err;
    }
    return 0;
}

char *channel_ipc_endpoint(const char *dir, const char *name)
{
    size_t dlen, plen;
    char *out;

    if (dir == NULL || name == NULL || *dir == '\0' || *name == '\0') {
        log_error("channel: ipc endpoint needs a directory and a name");
        return NULL;
    }
    dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/') /* "/run/gw/" and "/run/gw" are the same place */
        dlen--;
    plen = dlen + (dir[dlen - 1] == '/' ? 0 : 1) + strlen(name) + strlen(".sock");
    if (plen > SUN_PATH_MAX) {
        log_error("channel: ipc socket path %.*s/%s.sock is %zu bytes, longer than the %zu a "
                  "Unix socket allows; choose a shorter directory",
                  (int)dlen, dir, name, plen, SUN_PATH_MAX);
        return NULL;
    }
    out = malloc(IPC_PREFIX_LEN + plen + 1);
    if (out == NULL)
        return NULL;
    snprintf(out, IPC_PREFIX_LEN + plen + 1, IPC_PREFIX "%.*s%s%s.sock", (int)dlen, dir,
             dir[dlen - 1] == '/' ? "" : "/", name);
    return out;
}

int channel_fd(zsock_t *sock)
{
    if (sock == NULL)
        return -1;
    return zsock_fd(sock);
}

bool channel_readable(zsock_t *sock)
{
    if (sock == NULL)
        return false;
    return (zsock_events(sock) & ZMQ_POLLIN) != 0;
}

void channel_count_drop(const char *to, envelope_type_t type, const char *why)
{
    char labels[128], esc[64];
    metrics_label_escape(to, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "to=\"%s\",type=\"%s\"", esc, envelope_type_name(type));
    metrics_counter_add(metrics_counter("envelopes_dropped_total",
                                        "envelopes a stage could not hand on (receiver full or "
                                        "gone), by receiver and type",
                                        labels),
                        1);
    log_error("%s envelope to %s dropped: %s", envelope_type_name(type), to, why);
}

int channel_send_counted(zsock_t *push, const envelope_t *env, msgpack_sbuffer *scratch,
                         const char *to, int timeout_ms)
{
    msgpack_sbuffer_clear(scratch);
    int rc = envelope_encode(env, scratch);
    if (rc == 0)
        rc = channel_send_wait(push, scratch->data, scratch->size, timeout_ms);
    if (rc < 0)
        channel_count_drop(to, env->type, rc == -EAGAIN ? "receiver full" : strerror(-rc));
    return rc;
}

void channel_reject(const char *reason, const char *from, const envelope_t *env)
{
    metrics_count("envelopes_rejected_total", "envelopes refused by their receiver, by reason",
                  "reason", reason);
    if (env)
        log_warn("%s envelope from %s refused: %s", envelope_type_name(env->type), from, reason);
    else
        log_warn("envelope from %s refused: %s", from, reason);
}

int channel_drain(zsock_t *pull, int max, const char *from, channel_handler_fn *handle, void *arg)
{
    int taken = 0;
    while (taken < max) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (channel_recv(pull, &msg) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        taken++;
        envelope_t env;
        int rc = envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &env);
        if (rc < 0)
            channel_reject(envelope_strerror(rc), from, NULL);
        else
            handle(&env, arg);
        zmq_msg_close(&msg);
    }
    return taken;
}

zsock_t *channel_pull_at(const char *ipc_dir, const char *name, int hwm)
{
    char *ep = channel_ipc_endpoint(ipc_dir, name);
    zsock_t *sock = ep ? channel_pull_bind(ep, hwm) : NULL;
    if (!ep)
        log_error("ipc endpoint for %s in %s is too long", name, ipc_dir);
    free(ep);
    return sock;
}

zsock_t *channel_push_to(const char *ipc_dir, const char *name, int hwm)
{
    char *ep = channel_ipc_endpoint(ipc_dir, name);
    zsock_t *sock = ep ? channel_push_connect(ep, hwm) : NULL;
    if (!ep)
        log_error("ipc endpoint for %s in %s is too long", name, ipc_dir);
    free(ep);
    return sock;
}

zsock_t **channel_push_to_cores(const char *ipc_dir, int64_t count, int hwm)
{
    zsock_t **socks = calloc(count > 0 ? (size_t)count : 1, sizeof(*socks));
    if (!socks)
        return NULL;
    for (int64_t i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "core-%lld", (long long)i);
        socks[i] = channel_push_to(ipc_dir, name, hwm);
        if (!socks[i]) {
            channel_push_to_cores_destroy(&socks, i);
            return NULL;
        }
    }
    return socks;
}

void channel_push_to_cores_destroy(zsock_t ***socks_p, int64_t count)
{
    if (!socks_p || !*socks_p)
        return;
    for (int64_t i = 0; i < count; i++)
        zsock_destroy(&(*socks_p)[i]);
    free(*socks_p);
    *socks_p = NULL;
}
