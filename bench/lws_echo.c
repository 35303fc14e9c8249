/* lws_echo: "the limit" reference of docs/PERFORMANCE.md: a bare libwebsockets server on
 * the same event library as ws-edge (libuv, epoll), with no OCPP, no ZeroMQ, no Kafka.
 * A message that starts like an OCPP-J CALL ([2,"id",...) is answered with the fixed CALLRESULT
 * [3,"id",CANNED] (so a load generator sees its CALLs answered and its boot accepted,
 * bench/bench_e2e.sh); anything else
 * is echoed.
 * Same lws settings that matter for memory as the edge: the receive buffer size and no
 * per-connection validity timer; the same listener too (its own SO_REUSEPORT socket, accepted
 * sockets adopted by lws), so several processes share the port as the edges do.
 * Accepts any path, subprotocol ocpp1.6, ocpp2.0.1 (or none).
 *
 *   lws_echo PORT [RX_BUFFER_BYTES]      (SIGTERM/SIGINT stop it)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libwebsockets.h>
#include <uv.h>

typedef struct {
    unsigned char *msg; /* one message waiting to be echoed */
    size_t len;
} echo_session_t;

/* One answer for every action, as tests/tools/ws_echo's: what a BootNotification needs, and
 * extra fields no load generator reads. */
#define CANNED "{\"status\":\"Accepted\",\"currentTime\":\"2026-01-01T00:00:00Z\",\"interval\":300}"

/* [2,"id",... -> [3,"id",CANNED] into out (room for len + sizeof CANNED + 8 bytes); 0 when in
 * is not a CALL. */
static size_t call_result(const unsigned char *in, size_t len, unsigned char *out)
{
    if (len < 5 || memcmp(in, "[2,\"", 4) != 0)
        return 0;
    const unsigned char *end = memchr(in + 4, '"', len - 4);
    if (!end)
        return 0;
    size_t idlen = (size_t)(end - (in + 4));
    memcpy(out, "[3,\"", 4);
    memcpy(out + 4, in + 4, idlen);
    memcpy(out + 4 + idlen, "\"," CANNED "]", sizeof(CANNED) + 2);
    return 4 + idlen + sizeof(CANNED) + 2;
}

static int echo_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    echo_session_t *s = user;
    switch (reason) {
    case LWS_CALLBACK_RECEIVE:
        /* one CALL outstanding per connection (OCPP-J); a CALL longer than the receive buffer
         * arrives in fragments and is answered on the first, which holds its id */
        if (s->msg || !lws_is_first_fragment(wsi))
            return 0;
        s->msg = malloc(LWS_PRE + len + sizeof(CANNED) + 8);
        if (!s->msg)
            return -1;
        s->len = call_result(in, len, s->msg + LWS_PRE);
        if (!s->len) {
            memcpy(s->msg + LWS_PRE, in, len);
            s->len = len;
        }
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (s->msg) {
            int n = lws_write(wsi, s->msg + LWS_PRE, s->len, LWS_WRITE_TEXT);
            free(s->msg);
            s->msg = NULL;
            if (n < 0)
                return -1;
        }
        break;
    case LWS_CALLBACK_CLOSED:
        free(s->msg);
        s->msg = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static struct lws_protocols protocols[] = {
    {"ocpp1.6", echo_callback, sizeof(echo_session_t), 1024, 0, NULL, 0},
    {"ocpp2.0.1", echo_callback, sizeof(echo_session_t), 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const lws_retry_bo_t NO_VALIDITY = {.secs_since_valid_ping = 0,
                                           .secs_since_valid_hangup = 0};

static int arg_int(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

static uv_loop_t loop;
static struct lws_context *ctx;
static struct lws_vhost *vhost;
static int listen_fd = -1;

static void on_accept(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    int n = 0;
    for (int i = 0; i < 256; i++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        if (lws_adopt_socket_vhost(vhost, fd))
            n++;
    }
    if (n)
        lws_cancel_service(ctx);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (argc > 2)
        protocols[0].rx_buffer_size = protocols[1].rx_buffer_size = (size_t)arg_int(argv[2]);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    uv_loop_init(&loop);
    void *foreign[] = {&loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign;
    info.retry_and_idle_policy = &NO_VALIDITY;
    info.pt_serv_buf_size = 4096;
    ctx = lws_create_context(&info);
    vhost = ctx ? lws_get_vhost_by_name(ctx, "default") : NULL;
    if (!vhost)
        return 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)arg_int(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, SOMAXCONN) < 0)
        return 1;
    uv_poll_t listen_poll;
    uv_poll_init(&loop, &listen_poll, listen_fd);
    uv_poll_start(&listen_poll, UV_READABLE, on_accept);
    uv_signal_t sigterm, sigint;
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&listen_poll, NULL);
    close(listen_fd);
    lws_context_destroy(ctx);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
