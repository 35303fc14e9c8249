/* edge_tls_io: the wss listener's TLS, with libwebsockets 4.1 and OpenSSL (issue 13 item 1).
 *
 * A second lws vhost ("wss") on the edge's context, fed by the edge's own wss listening socket
 * (edge_lws_io.c adopts its accepted sockets into this vhost, and lws does the TLS accept on
 * adoption). What this file sets on the vhost's SSL_CTX (when lws hands it over in
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS):
 *   - TLS 1.2 and 1.3 only; TLS 1.2 suites: ECDHE with AES-GCM, ECDSA and RSA (what OCPP 2.0.1
 *     requires), TLS 1.3: OpenSSL's defaults; groups X25519, P-256, P-384; no renegotiation,
 *     no compression; the server's preference;
 *   - SSL_MODE_RELEASE_BUFFERS (an idle connection holds no record buffers), no stateful
 *     session cache (stateless tickets only);
 *   - with a client CA (tls_client_ca_file): a certificate is asked for but not required (a
 *     profile-2 station has none); one that is sent must verify against the CA, or the
 *     handshake fails with a TLS alert (expired, unknown CA, ...). Whether a station needs one
 *     is decided at the upgrade (edge_auth.c), from the facts edge_tls_facts() reads;
 *   - the certificate and key are served from this file's own copy (a cert callback), so a
 *     reload on SIGHUP swaps them for new handshakes while established connections keep theirs.
 * Every TLS alert the edge sends is counted (edge_tls_alerts_sent_total{alert}). */
#ifndef EDGE_TLS_IO_H
#define EDGE_TLS_IO_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "edge_config.h"
#include "identity.h"

typedef struct edge_tls edge_tls_t;

/* Loads certificate, key and client CA and creates the "wss" vhost on ctx with protocols
 * (borrowed: they must outlive the context). cfg is borrowed. NULL on failure (logged: a
 * missing file, a key that does not match the certificate, ...). */
edge_tls_t *edge_tls_new(struct lws_context *ctx, const edge_config_t *cfg,
                         const struct lws_protocols *protocols);
/* Frees what the file loaded (the vhost goes with the context). Safe twice. */
void edge_tls_destroy(edge_tls_t **self_p);

/* The vhost accepted wss sockets are adopted into. */
struct lws_vhost *edge_tls_vhost(const edge_tls_t *self);

/* LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: user is the vhost's SSL_CTX, in the
 * vhost. Configures the SSL_CTX as above; returns what the callback returns (non-zero fails
 * the vhost). */
int edge_tls_configure(void *ssl_ctx, void *vhost);

/* SIGHUP: reloads certificate, key and client CA from their files. New handshakes use them;
 * established connections are untouched. 0, or -1 when a file does not load (the previous
 * ones stay; logged, edge_tls_reloads_total{result="error"}). */
int edge_tls_reload(edge_tls_t *self);

/* What the TLS of a connection tells the authentication decision. */
typedef struct {
    bool tls;           /* the connection is wss */
    bool cert_present;  /* the client sent a certificate */
    bool cert_verified; /* ... and it verified against the client CA */
    bool cn_ok;         /* the certificate has exactly one subject CN, of at most cn's size */
    char cn[IDENTITY_MAX + 2]; /* that CN (NUL-terminated); longer is not an identity anyway */
    size_t cn_len;
} edge_tls_facts_t;

void edge_tls_facts(struct lws *wsi, edge_tls_facts_t *out);

#endif
