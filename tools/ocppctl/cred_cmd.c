/* cred_cmd.c: `ocppctl credentials set|rotate|delete|show` (docs/security.md "Provisioning and
 * rotating credentials"): the records cred:<identity> in Redis, every write in one MULTI/EXEC
 * with `PUBLISH ocppgw:cred <identity>` so every ws-edge has it within a round trip, and for
 * rotate the new password installed on the station through commands-down. Passwords are never
 * printed (except once with rotate --show-password), hashes never. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "ctl.h"
#include "ctl_cred.h"
#include "ctl_io.h"

#define CRED_CHANNEL "ocppgw:cred"

int ctl_credentials(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr, "usage: ocppctl credentials set <identity> --password P [--profile N] "
                    "[--iterations N]\n"
                    "       ocppctl credentials set <identity> --no-password --profile 3\n"
                    "       ocppctl credentials rotate <identity> [--show-password] "
                    "[--timeout 60s] [--iterations N]\n"
                    "       ocppctl credentials delete <identity>\n"
                    "       ocppctl credentials show <identity>\n");
    return CTL_USAGE;
}

/* HGETALL cred:<identity> as two arrays of pairs (pointers into *reply). */
typedef struct {
    redisReply *reply;
    const char *names[32];
    const char *values[32];
    size_t n;
} record_t;

static void record_read(redisContext *c, const char *identity, record_t *r)
{
    char key[300];
    snprintf(key, sizeof(key), "cred:%s", identity);
    memset(r, 0, sizeof(*r));
    r->reply = ctl_redis_do(c, "HGETALL %s", key);
    if (r->reply->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "ocppctl: %s: %s\n", key, r->reply->str);
        exit(CTL_UNREACHABLE);
    }
    for (size_t i = 0;
         r->reply->type == REDIS_REPLY_ARRAY && i + 1 < r->reply->elements && r->n < 32;
         i += 2, r->n++) {
        r->names[r->n] = r->reply->element[i]->str;
        r->values[r->n] = r->reply->element[i + 1]->str;
    }
}

static void record_free(record_t *r)
{
    freeReplyObject(r->reply);
    r->reply = NULL;
}

/* MULTI, DEL (replace) or nothing, HSET of the fields (none: delete), PUBLISH, EXEC. */
static void write_record(redisContext *c, const char *identity, const ctl_field_t *fields, size_t n)
{
    char key[300];
    snprintf(key, sizeof(key), "cred:%s", identity);
    const char *multi[] = {"MULTI"}, *del[] = {"DEL", key},
               *publish[] = {"PUBLISH", CRED_CHANNEL, identity}, *exec[] = {"EXEC"};
    const char *hset[2 + 2 * CTL_CRED_FIELDS_MAX] = {"HSET", key};
    c = ctl_redis_node_of(c, key); /* a transaction runs on the key's node */
    for (size_t i = 0; i < n; i++) {
        hset[2 + 2 * i] = fields[i].name;
        hset[3 + 2 * i] = fields[i].value;
    }
    freeReplyObject(ctl_redis_argv(c, 1, multi));
    freeReplyObject(ctl_redis_argv(c, 2, del)); /* no stale field (prev_*) survives */
    if (n)
        freeReplyObject(ctl_redis_argv(c, (int)(2 + 2 * n), hset));
    freeReplyObject(ctl_redis_argv(c, 3, publish));
    redisReply *r = ctl_redis_argv(c, 1, exec);
    bool ok = r->type == REDIS_REPLY_ARRAY;
    for (size_t i = 0; ok && i < r->elements; i++)
        ok = r->element[i]->type != REDIS_REPLY_ERROR;
    if (!ok) {
        fprintf(stderr, "ocppctl: writing %s failed: %s\n", key,
                r->type == REDIS_REPLY_ERROR ? r->str : "a command of the transaction failed");
        exit(CTL_UNREACHABLE);
    }
    freeReplyObject(r);
}

static void wipe(ctl_field_t *fields, size_t n)
{
    OPENSSL_cleanse(fields, n * sizeof(*fields));
}

static int parse_iterations(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || v < 1 || v > CTL_ITERATIONS_MAX) {
        fprintf(stderr, "ocppctl: --iterations must be 1..%d\n", CTL_ITERATIONS_MAX);
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int cmd_set(const char *identity, int argc, char **argv)
{
    const char *password = NULL;
    bool no_password = false;
    int profile = 1;
    uint32_t iter = CTL_DEFAULT_ITERATIONS;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--password") == 0 && i + 1 < argc)
            password = argv[++i];
        else if (strcmp(argv[i], "--no-password") == 0)
            no_password = true;
        else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
            profile = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            if (parse_iterations(argv[++i], &iter) < 0)
                return CTL_USAGE;
        } else
            return usage();
    }
    if (profile < 1 || profile > 3) {
        fprintf(stderr, "ocppctl: --profile must be 1, 2 or 3\n");
        return CTL_USAGE;
    }
    if (no_password == (password != NULL) || (no_password && profile != 3)) {
        fprintf(stderr, "ocppctl: give --password, or --no-password for a profile-3 station\n");
        return CTL_USAGE;
    }
    char why[160];
    if (password && ctl_cred_check_password(password, why, sizeof(why)) < 0) {
        fprintf(stderr, "ocppctl: password refused: %s\n", why);
        return CTL_USAGE;
    }
    ctl_cred_hash_t cur;
    if (password && ctl_cred_hash(password, iter, NULL, &cur) < 0) {
        fprintf(stderr, "ocppctl: hashing the password failed\n");
        return CTL_UNREACHABLE;
    }
    ctl_field_t fields[CTL_CRED_FIELDS_MAX];
    size_t n =
        ctl_cred_fields(profile, password ? &cur : NULL, NULL, (uint64_t)clock_now_ms(), fields);
    redisContext *c = ctl_redis_open();
    write_record(c, identity, fields, n);
    wipe(fields, n);
    char fp[CTL_FINGERPRINT_LEN + 1] = "-";
    if (password)
        ctl_cred_fingerprint(cur.hash, fp);
    OPENSSL_cleanse(&cur, sizeof(cur));
    printf("credentials of %s set: profile %d, %s, fingerprint %s\n", identity, profile,
           password ? "pbkdf2-sha256" : "no password (certificate)", fp);
    redisFree(c);
    return CTL_OK;
}

/* The station's owner pod and OCPP version (conn:<identity>, {conn:<identity>}:meta); exits 4 when
 * it is not connected: a new password could not be installed. */
static void station_version(redisContext *c, const char *identity, char *version, size_t cap)
{
    char pod[256], key[300];
    ctl_owner_of(c, identity, pod, sizeof(pod));
    if (!pod[0] || !ctl_lease_live(c, pod)) {
        fprintf(stderr,
                "ocppctl: %s is not connected to a live pod: its new password could not be "
                "installed, nothing changed\n",
                identity);
        exit(CTL_UNKNOWN_CP);
    }
    snprintf(key, sizeof(key), "{conn:%s}:meta", identity);
    const char *argv[] = {"HGET", key, "version"};
    redisReply *r = ctl_redis_argv(c, 3, argv);
    snprintf(version, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

static int cmd_rotate(const char *identity, int argc, char **argv)
{
    bool show = false;
    int64_t timeout = 60000;
    uint32_t iter = CTL_DEFAULT_ITERATIONS;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--show-password") == 0) {
            show = true;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = ctl_parse_duration_ms(argv[++i]);
            if (timeout <= 0)
                return usage();
        } else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            if (parse_iterations(argv[++i], &iter) < 0)
                return CTL_USAGE;
        } else {
            return usage();
        }
    }
    redisContext *c = ctl_redis_open();
    record_t rec;
    record_read(c, identity, &rec);
    ctl_cred_hash_t prev, cur;
    if (ctl_cred_current(rec.names, rec.values, rec.n, &prev) < 0) {
        fprintf(stderr, "ocppctl: %s has no password credentials to rotate (credentials set)\n",
                identity);
        record_free(&rec);
        return CTL_UNKNOWN_CP;
    }
    const char *p = NULL;
    for (size_t i = 0; i < rec.n; i++)
        if (strcmp(rec.names[i], "profile") == 0)
            p = rec.values[i];
    int profile = p ? (int)strtol(p, NULL, 10) : 1;
    record_free(&rec);
    char version[32];
    station_version(c, identity, version, sizeof(version));
    char password[CTL_GENERATED_LEN + 1];
    const char *action = NULL;
    char *payload = NULL;
    if (ctl_cred_generate(password) < 0 || ctl_cred_hash(password, iter, NULL, &cur) < 0) {
        fprintf(stderr, "ocppctl: generating the password failed\n");
        return CTL_UNREACHABLE;
    }
    if (ctl_cred_install_command(version, password, &action, &payload) < 0) {
        fprintf(stderr, "ocppctl: %s speaks '%s': no command to install a password\n", identity,
                version);
        OPENSSL_cleanse(password, sizeof(password));
        return CTL_USAGE;
    }
    /* the new password first, the old one kept as prev: the station may reconnect with either
     * until it has used the new one (the edge then sends CRED_USED, the registry drops prev) */
    ctl_field_t fields[CTL_CRED_FIELDS_MAX];
    size_t n = ctl_cred_fields(profile < 1 || profile > 3 ? 1 : profile, &cur, &prev,
                               (uint64_t)clock_now_ms(), fields);
    write_record(c, identity, fields, n);
    wipe(fields, n);
    redisFree(c);
    char fp[CTL_FINGERPRINT_LEN + 1];
    ctl_cred_fingerprint(cur.hash, fp);
    fprintf(stderr,
            "ocppctl: %s rotated (fingerprint %s, the previous password kept until used); "
            "installing it with %s\n",
            identity, fp, action);
    if (show)
        printf("password %s\n", password);
    fflush(stdout);
    OPENSSL_cleanse(password, sizeof(password));
    int rc = ctl_send_command(identity, action, payload, NULL, true, timeout, timeout);
    OPENSSL_cleanse(payload, strlen(payload));
    free(payload);
    if (rc != CTL_OK)
        fprintf(stderr, "ocppctl: the station did not accept its new password: it keeps using "
                        "the previous one; rotate again\n");
    return rc;
}

static int cmd_delete(const char *identity)
{
    redisContext *c = ctl_redis_open();
    record_t rec;
    record_read(c, identity, &rec);
    size_t had = rec.n;
    record_free(&rec);
    if (!had) {
        fprintf(stderr, "ocppctl: no credentials for %s\n", identity);
        redisFree(c);
        return CTL_UNKNOWN_CP;
    }
    write_record(c, identity, NULL, 0);
    printf("credentials of %s deleted\n", identity);
    redisFree(c);
    return CTL_OK;
}

static int cmd_show(const char *identity)
{
    redisContext *c = ctl_redis_open();
    record_t rec;
    record_read(c, identity, &rec);
    int rc = CTL_OK;
    if (!rec.n) {
        fprintf(stderr, "ocppctl: no credentials for %s\n", identity);
        rc = CTL_UNKNOWN_CP;
    } else {
        ctl_cred_show(identity, rec.names, rec.values, rec.n, stdout);
    }
    record_free(&rec);
    redisFree(c);
    return rc;
}

int ctl_credentials(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *what = argv[0], *identity = argv[1];
    if (strcmp(what, "set") == 0)
        return cmd_set(identity, argc - 2, argv + 2);
    if (strcmp(what, "rotate") == 0)
        return cmd_rotate(identity, argc - 2, argv + 2);
    if (argc != 2)
        return usage();
    if (strcmp(what, "delete") == 0)
        return cmd_delete(identity);
    if (strcmp(what, "show") == 0)
        return cmd_show(identity);
    return usage();
}
