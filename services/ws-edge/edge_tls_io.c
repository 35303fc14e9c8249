/* edge_tls_io: the wss listener's TLS (lws 4.1 + OpenSSL). See edge_tls_io.h; docs/security.md
 * says why each setting is what it is. */
#include "edge_tls_io.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "edge_metrics.h"
#include "log.h"

/* TLS 1.2: the suites OCPP 2.0.1 (part 2, A00.FR.318) requires, and nothing else. TLS 1.3: the
 * three suites OpenSSL enables by default (all AEAD). */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                                 \
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
#define TLS13_SUITES "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define TLS_GROUPS   "X25519:P-256:P-384"

/* The certificate (with its chain) and key served to new handshakes. */
typedef struct {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) * chain;
} served_t;

struct edge_tls {
    const edge_config_t *cfg;
    struct lws_vhost *vhost;
    SSL_CTX *ctx; /* the vhost's, handed over by lws */
    served_t served;
    metrics_gauge_t *m_expiry;
};

static void log_openssl(const char *what, const char *path)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    log_error("%s%s%s: %s", what, path ? " " : "", path ? path : "", e ? buf : "unknown error");
    ERR_clear_error();
}

/* ---- certificate and key --------------------------------------------------------------------- */

static void served_free(served_t *s)
{
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    sk_X509_pop_free(s->chain, X509_free);
    memset(s, 0, sizeof(*s));
}

/* Reads the certificate file (the leaf first, then its chain) and the key, and checks that they
 * belong together. 0, or -1 (logged). */
static int served_load(const char *cert_path, const char *key_path, served_t *out)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(cert_path, "r");
    if (!f) {
        log_error("cannot open tls_cert_file %s", cert_path);
        return -1;
    }
    out->cert = PEM_read_X509(f, NULL, NULL, NULL);
    out->chain = sk_X509_new_null();
    X509 *x;
    while (out->cert && out->chain && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(out->chain, x))
            X509_free(x);
    ERR_clear_error(); /* the end of the file reads as an error */
    fclose(f);
    if (!out->cert || !out->chain) {
        log_error("tls_cert_file %s holds no PEM certificate", cert_path);
        goto out_fail;
    }
    f = fopen(key_path, "r");
    if (!f) {
        log_error("cannot open tls_key_file %s", key_path);
        goto out_fail;
    }
    out->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!out->key) {
        log_openssl("cannot read the private key in tls_key_file", key_path);
        goto out_fail;
    }
    if (X509_check_private_key(out->cert, out->key) != 1) {
        log_openssl("tls_key_file does not match tls_cert_file", key_path);
        goto out_fail;
    }
    return 0;
out_fail:
    served_free(out);
    return -1;
}

/* notAfter of the served certificate, seconds since the epoch, for the expiry alert */
static void export_expiry(edge_tls_t *self)
{
    struct tm tm;
    const ASN1_TIME *na = X509_get0_notAfter(self->served.cert);
    if (na && ASN1_TIME_to_tm(na, &tm) == 1)
        metrics_gauge_set(self->m_expiry, (int64_t)timegm(&tm));
}

/* SSL_CTX_set_cert_cb: every new handshake gets the certificate loaded last. */
static int cert_cb(SSL *ssl, void *arg)
{
    edge_tls_t *self = arg;
    if (!self->served.cert)
        return 1; /* what lws loaded into the SSL_CTX */
    SSL_certs_clear(ssl);
    return SSL_use_cert_and_key(ssl, self->served.cert, self->served.key, self->served.chain, 1) ==
           1;
}

/* ---- client certificates -----------------------------------------------------------------------
 */

static void peer_of(const SSL *ssl, char *buf, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    snprintf(buf, len, "?");
    int fd = SSL_get_fd(ssl);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &sl) < 0)
        return;
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, buf, (socklen_t)len);
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, buf, (socklen_t)len);
}

/* SSL_CTX_set_verify: OpenSSL's verdict on the client's chain stands (issued by the configured
 * CA, in its validity period, usable for client authentication); a refusal is logged with why
 * and the subject, never more. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    if (preverify_ok)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    char peer[INET6_ADDRSTRLEN] = "?", subject[256] = "";
    if (ssl)
        peer_of(ssl, peer, sizeof(peer));
    X509 *x = X509_STORE_CTX_get_current_cert(xs);
    if (x)
        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
    int err = X509_STORE_CTX_get_error(xs);
    log_warn("client certificate refused from %s: %s (depth %d, subject %s)", peer,
             X509_verify_cert_error_string(err), X509_STORE_CTX_get_error_depth(xs), subject);
    return 0;
}

/* The CA that issues station certificates: the verify store and the names sent in the
 * CertificateRequest. 0, or -1 (logged; nothing changed). */
static int load_client_ca(SSL_CTX *ctx, const char *path)
{
    X509_STORE *store = X509_STORE_new();
    if (!store || X509_STORE_load_file(store, path) != 1) {
        log_openssl("cannot load tls_client_ca_file", path);
        X509_STORE_free(store);
        return -1;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);
    if (!names) {
        log_openssl("tls_client_ca_file holds no CA certificate", path);
        X509_STORE_free(store);
        return -1;
    }
    SSL_CTX_set_cert_store(ctx, store); /* frees the previous store */
    SSL_CTX_set_client_CA_list(ctx, names);
    return 0;
}

/* ---- alerts ------------------------------------------------------------------------------------
 */

/* SSL_CTX_set_info_callback: count each fatal alert the edge sends, labelled with OpenSSL's
 * fixed name for it ("protocol version" -> protocol_version): a bounded set. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_WRITE_ALERT) || strcmp(SSL_alert_type_string(ret), "F") != 0)
        return;
    char label[48];
    const char *d = SSL_alert_desc_string_long(ret);
    size_t i = 0;
    for (; d[i] && i + 1 < sizeof(label); i++)
        label[i] = isalnum((unsigned char)d[i]) ? (char)tolower((unsigned char)d[i]) : '_';
    label[i] = '\0';
    metrics_def_count(&EDGE_METRICS[EDGE_M_TLS_ALERTS], label);
    char peer[INET6_ADDRSTRLEN];
    peer_of(ssl, peer, sizeof(peer));
    log_warn("TLS handshake refused from %s: alert %s", peer, label);
}

/* ---- the vhost ----------------------------------------------------------------------------------
 */

int edge_tls_configure(void *ssl_ctx, void *vhost)
{
    SSL_CTX *ctx = ssl_ctx;
    edge_tls_t *self = vhost ? lws_vhost_user(vhost) : NULL;
    if (!ctx || !self)
        return 0; /* not the wss vhost */
    self->ctx = ctx;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
        SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
        log_openssl("cannot restrict TLS versions and cipher suites", NULL);
        return 1;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* no stateful session cache: its entries (with the peer's certificate) would grow with the
     * connections; TLS 1.3 and most 1.2 clients resume with stateless tickets */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_cert_cb(ctx, cert_cb, self);
    SSL_CTX_set_info_callback(ctx, info_cb);
    const char *ca = self->cfg->tls_client_ca_file;
    if (ca && ca[0]) {
        if (load_client_ca(ctx, ca) < 0)
            return 1;
        static const unsigned char sid_ctx[] = "ocppgw-wss";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
        /* asked for, not required: whether this station needs one is decided at the upgrade */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, verify_cb);
    }
    return 0;
}

edge_tls_t *edge_tls_new(struct lws_context *ctx, const edge_config_t *cfg,
                         const struct lws_protocols *protocols)
{
    edge_tls_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->cfg = cfg;
    self->m_expiry = metrics_def_gauge(&EDGE_METRICS[EDGE_M_TLS_CERT_EXPIRY], NULL);
    if (served_load(cfg->tls_cert_file, cfg->tls_key_file, &self->served) < 0)
        goto out_free;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "wss";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the edge accepts (edge_lws_io.c) */
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.ssl_cert_filepath = cfg->tls_cert_file;
    info.ssl_private_key_filepath = cfg->tls_key_file;
    info.alpn = "http/1.1"; /* WebSocket upgrades are HTTP/1.1 (no h2) */
    info.user = self;       /* lws_vhost_user(), for edge_tls_configure() */
    self->vhost = lws_create_vhost(ctx, &info);
    if (!self->vhost || !self->ctx) {
        log_error("could not create the wss vhost (tls_cert_file %s, tls_key_file %s)",
                  cfg->tls_cert_file, cfg->tls_key_file);
        goto out_free;
    }
    export_expiry(self);
    return self;
out_free:
    served_free(&self->served);
    free(self);
    return NULL;
}

void edge_tls_destroy(edge_tls_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    edge_tls_t *self = *self_p; /* after the context: cert_cb's argument is gone with it */
    served_free(&self->served);
    free(self);
    *self_p = NULL;
}

struct lws_vhost *edge_tls_vhost(const edge_tls_t *self)
{
    return self ? self->vhost : NULL;
}

int edge_tls_reload(edge_tls_t *self)
{
    served_t fresh;
    const char *ca = self->cfg->tls_client_ca_file;
    if (served_load(self->cfg->tls_cert_file, self->cfg->tls_key_file, &fresh) < 0 ||
        (ca && ca[0] && self->ctx && load_client_ca(self->ctx, ca) < 0)) {
        served_free(&fresh);
        metrics_def_count(&EDGE_METRICS[EDGE_M_TLS_RELOADS], "error");
        log_error("TLS reload failed: the wss listener keeps its previous certificate and key");
        return -1;
    }
    /* the SSL of an established connection holds references of its own */
    served_free(&self->served);
    self->served = fresh;
    export_expiry(self);
    metrics_def_count(&EDGE_METRICS[EDGE_M_TLS_RELOADS], "ok");
    char subject[256] = "";
    X509_NAME_oneline(X509_get_subject_name(self->served.cert), subject, sizeof(subject));
    log_info("TLS certificate and key reloaded (%s)", subject);
    return 0;
}

/* ---- facts for the upgrade decision -------------------------------------------------------------
 */

void edge_tls_facts(struct lws *wsi, edge_tls_facts_t *out)
{
    memset(out, 0, sizeof(*out));
    SSL *ssl = lws_is_ssl(wsi) ? lws_get_ssl(wsi) : NULL;
    if (!ssl)
        return;
    out->tls = true;
    X509 *x = SSL_get0_peer_certificate(ssl);
    if (!x)
        return;
    out->cert_present = true;
    out->cert_verified = SSL_get_verify_result(ssl) == X509_V_OK;
    const X509_NAME *name = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return; /* none, or more than one: names no identity */
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n > 0 && (size_t)n < sizeof(out->cn) && !memchr(utf8, '\0', (size_t)n)) {
        memcpy(out->cn, utf8, (size_t)n);
        out->cn_len = (size_t)n;
        out->cn_ok = true;
    }
    OPENSSL_free(utf8);
}
