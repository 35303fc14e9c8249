/* edge_security_io: the credential cache, the authentication engine and the registry link of
 * the edge. See edge_security_io.h. */
#include "edge_security_io.h"

#include <stdlib.h>

#include "edge_metrics.h"
#include "log.h"

struct edge_security {
    edge_creds_t *creds;
    edge_auth_t *auth;
    edge_auth_io_t *auth_io;
    bool needs_credentials;
    edge_send_fn *send; /* to the registry's outbox: CRED_USED */
    void *send_arg;
};

/* CRED_USED: OUTBOX_DROP (dropped and counted when the registry's outbox is full); the next
 * connection of the station with its new password sends it again, so nothing is lost for good. */
static void on_cred_used(void *arg, const char *identity, const char *fingerprint)
{
    edge_security_t *self = arg;
    envelope_t env = {.type = ENV_CRED_USED};
    env.u.cred_used.identity = env_str(identity);
    env.u.cred_used.fingerprint = env_str(fingerprint);
    if (self->send(self->send_arg, EDGE_TO_REGISTRY, 0, &env, OUTBOX_DROP) == 0)
        metrics_def_count(&EDGE_METRICS[EDGE_M_CRED_USED], NULL);
    log_write(LOG_INFO, identity, NULL,
              "authenticated with the new password: the previous one can go (CRED_USED %s)",
              fingerprint);
}

edge_security_t *edge_security_new(const edge_config_t *cfg, edge_send_fn *send, void *arg)
{
    edge_security_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->send = send;
    self->send_arg = arg;
    edge_auth_config_t acfg = {
        .min_profile = (uint32_t)cfg->security_profile,
        .allow_unknown = cfg->allow_unknown_stations,
        .mtls = cfg->tls_client_ca_file && cfg->tls_client_ca_file[0],
        .hash_budget = (uint64_t)cfg->auth_hash_budget,
    };
    self->needs_credentials = edge_auth_needs_credentials(&acfg);
    self->creds = edge_creds_new();
    self->auth = self->creds ? edge_auth_new(&acfg, self->creds) : NULL;
    self->auth_io = self->auth ? edge_auth_io_new(self->auth, on_cred_used, self) : NULL;
    if (!self->auth_io) {
        log_error("could not set up the edge's credentials and authentication");
        edge_security_destroy(&self);
        return NULL;
    }
    if (cfg->security_profile == 0)
        log_warn("security_profile 0: stations without a record need no authentication "
                 "(development only)");
    if (cfg->allow_unknown_stations)
        log_warn("allow_unknown_stations: stations without a credential record are accepted "
                 "unauthenticated (development only)");
    return self;
}

void edge_security_destroy(edge_security_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    edge_security_t *self = *self_p;
    edge_auth_io_destroy(&self->auth_io);
    edge_auth_destroy(&self->auth);
    edge_creds_destroy(&self->creds);
    free(self);
    *self_p = NULL;
}

edge_auth_io_t *edge_security_auth(edge_security_t *self)
{
    return self->auth_io;
}

int edge_security_from_registry(edge_security_t *self, const envelope_t *env)
{
    return edge_creds_from_registry(self->creds, env);
}

bool edge_security_ready(const edge_security_t *self)
{
    return !self->needs_credentials || edge_creds_synced(self->creds);
}
