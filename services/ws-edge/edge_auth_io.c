/* edge_auth_io: the authentication decision on libwebsockets. See edge_auth_io.h. */
#include "edge_auth_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_metrics.h"
#include "edge_tls_io.h"
#include "log.h"

/* RFC 7617: the realm is the protection space; charset says how to encode the credentials */
#define WWW_AUTHENTICATE "Basic realm=\"ocppgw\", charset=\"UTF-8\""
/* 429 and 503 refusals: when to try again (seconds) */
#define RETRY_AFTER "5"
/* room for "Basic " + base64 of the longest username:password edge_basic accepts */
#define AUTHORIZATION_MAX 512

struct edge_auth_io {
    edge_auth_t *auth;
    edge_cred_used_fn *cred_used;
    void *arg;
};

edge_auth_io_t *edge_auth_io_new(edge_auth_t *auth, edge_cred_used_fn *cred_used, void *arg)
{
    edge_auth_io_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->auth = auth;
    self->cred_used = cred_used;
    self->arg = arg;
    return self;
}

void edge_auth_io_destroy(edge_auth_io_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* The refusal, before the upgrade: status line, the header the status calls for, a one-line
 * body naming the reason. Returns what the lws callback returns (1: close after it). */
static int answer(struct lws *wsi, unsigned int status, const char *reason)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof(buf) - 1;
    char body[96];
    int blen = snprintf(body, sizeof(body), "%s\n", reason);
    const char *extra = status == 401 ? WWW_AUTHENTICATE : RETRY_AFTER;
    enum lws_token_indexes token =
        status == 401 ? WSI_TOKEN_HTTP_WWW_AUTHENTICATE : WSI_TOKEN_HTTP_RETRY_AFTER;
    if (lws_add_http_header_status(wsi, status, &p, end) ||
        ((status == 401 || status == 429 || status == 503) &&
         lws_add_http_header_by_token(wsi, token, (const unsigned char *)extra, (int)strlen(extra),
                                      &p, end)) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"text/plain", 10, &p, end) ||
        lws_add_http_header_content_length(wsi, (lws_filepos_t)blen, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
        return 1;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
        return 1;
    memcpy(start, body, (size_t)blen);
    lws_write(wsi, start, (size_t)blen, LWS_WRITE_HTTP_FINAL);
    return 1;
}

int edge_auth_io_admit(edge_auth_io_t *self, struct lws *wsi, const char *identity,
                       const char *peer, uint64_t peer_key, uint32_t now_ms,
                       edge_auth_outcome_t *outcome)
{
    if (!self) {
        metrics_def_count(&EDGE_METRICS[EDGE_M_REFUSED], "auth_unavailable");
        return answer(wsi, 503, "auth_unavailable");
    }
    edge_tls_facts_t tls;
    edge_tls_facts(wsi, &tls);
    char authz[AUTHORIZATION_MAX];
    int alen = -1;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
        alen = lws_hdr_copy(wsi, authz, sizeof(authz), WSI_TOKEN_HTTP_AUTHORIZATION);
        if (alen < 0) /* longer than any credentials accepted: refused as malformed */
            alen = 0, authz[0] = '\0';
    }
    edge_auth_request_t req = {
        .identity = identity,
        .peer = peer,
        .peer_key = peer_key,
        .tls = tls.tls,
        .cert_present = tls.cert_present,
        .cert_verified = tls.cert_verified,
        .cert_cn = tls.cn_ok ? tls.cn : NULL,
        .cert_cn_len = tls.cn_len,
        .authorization = alen >= 0 ? authz : NULL,
        .authorization_len = alen >= 0 ? (size_t)alen : 0,
    };
    edge_auth_result_t r;
    unsigned int status = edge_auth_decide(self->auth, &req, now_ms, &r);
    memset(authz, 0, sizeof(authz)); /* it held the password */
    if (status == 0) {
        outcome->method = edge_auth_method_index(r.auth);
        outcome->profile = (uint8_t)r.security_profile;
        if (r.cred_used && self->cred_used)
            self->cred_used(self->arg, identity, r.fingerprint);
        return 0;
    }
    metrics_def_count(&EDGE_METRICS[EDGE_M_REFUSED], r.reason);
    log_write(LOG_WARN, identity, NULL, "upgrade refused: %s, %u (%s) from %s over %s", r.reason,
              status, r.detail, peer, tls.tls ? "wss" : "ws");
    return answer(wsi, status, r.reason);
}
