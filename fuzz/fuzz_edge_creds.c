/* fuzz_edge_creds.c: libFuzzer driver for ws-edge's credential records and cache
 * (services/ws-edge/edge_creds.c): the record parser, and the cache driven by a sequence of
 * CRED / CRED_SYNC envelopes as the registry (or anything that reaches the edge's socket) sends
 * them.
 * Input: the first byte chooses the mode. Mode 0: the rest is one record, parsed in a buffer of
 * exactly its length. Otherwise a sequence of operations, each a byte `op` then its data:
 * op%4 == 0 CRED (identity number op/4%8, a length byte, that many record bytes, generation
 * byte), 1 CRED_SYNC start (generation byte), 2 CRED_SYNC end (generation byte), 3 a remembered
 * check (identity number, a password length byte and bytes).
 * Invariants (abort on a violation): a parsed record has a profile 1..3, a password unless it is
 * profile 3 with alg none, iterations 1..ITER_MAX, a salt within bounds, a previous password
 * only with a current one, a 16-hex-digit fingerprint with a password; a refusal names its
 * field; the cache holds exactly what a model of the sync rules holds (a record stays until a
 * CRED deletes it, a malformed CRED removes it, or a full sync that started after it was last
 * sent ends without it), is synced from the first completed sync on, and never remembers a
 * password it was not told to.
 * Seeds: fuzz/corpus/edge_creds/. */
#include "edge_creds.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAME "fuzz_edge_creds"
#include "edge_fuzz.h"

#define IDS 8

static const char *WHY[] = {"length",   "line",       "name",      "value",    "duplicate", "v",
                            "profile",  "updated_ms", "alg",       "iter",     "salt",      "hash",
                            "prev_alg", "prev_iter",  "prev_salt", "prev_hash"};

static void check_record(const edge_cred_record_t *r)
{
    CHECK(r->profile >= 1 && r->profile <= 3);
    CHECK(r->has_password || r->profile == 3);
    CHECK(!r->has_prev || r->has_password);
    if (r->has_password) {
        CHECK(r->cur.iter >= 1 && r->cur.iter <= EDGE_CRED_ITER_MAX);
        CHECK(r->cur.salt_len >= EDGE_CRED_SALT_MIN && r->cur.salt_len <= EDGE_CRED_SALT_MAX);
        CHECK(strlen(r->fingerprint) == EDGE_CRED_FINGERPRINT_LEN);
        CHECK(strspn(r->fingerprint, "0123456789abcdef") == EDGE_CRED_FINGERPRINT_LEN);
    } else {
        CHECK(r->fingerprint[0] == '\0');
    }
    if (r->has_prev) {
        CHECK(r->prev.iter >= 1 && r->prev.iter <= EDGE_CRED_ITER_MAX);
        CHECK(r->prev.salt_len >= EDGE_CRED_SALT_MIN && r->prev.salt_len <= EDGE_CRED_SALT_MAX);
    }
}

static void parse_one(const uint8_t *data, size_t size)
{
    uint8_t *rec = malloc(size ? size : 1); /* exactly the record's bytes */
    if (!rec)
        return;
    if (size)
        memcpy(rec, data, size);
    edge_cred_record_t r;
    const char *why = NULL;
    if (edge_cred_parse(rec, size, &r, &why) == 0) {
        CHECK(why == NULL);
        check_record(&r);
    } else {
        bool known = false;
        for (size_t i = 0; why && i < sizeof(WHY) / sizeof(WHY[0]); i++)
            known |= strcmp(why, WHY[i]) == 0;
        CHECK(known);
    }
    free(rec);
}

/* what the cache must hold, by the rules of edge_creds.h */
static struct {
    bool present[IDS];
    uint64_t epoch_of[IDS]; /* model epoch of the last CRED that stored it */
    uint64_t epoch;
    bool in_sync, synced;
    uint64_t sync_gen;
} M;

static void run_ops(const uint8_t *data, size_t size)
{
    memset(&M, 0, sizeof(M));
    edge_creds_t *c = edge_creds_new();
    CHECK(c);
    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        unsigned id = op / 4 % IDS;
        char identity[8];
        snprintf(identity, sizeof(identity), "CP%u", id);
        envelope_t env = {0};
        if (op % 4 == 0) {
            if (i >= size)
                break;
            size_t n = data[i++];
            if (n > size - i)
                n = size - i;
            uint8_t *rec = malloc(n ? n : 1);
            if (!rec)
                break;
            if (n)
                memcpy(rec, data + i, n);
            i += n;
            uint64_t gen = i < size ? data[i++] : 0;
            env.type = ENV_CRED;
            env.u.cred.identity = env_str(identity);
            env.u.cred.record = (env_bin_t){rec, n};
            env.u.cred.generation = gen;
            CHECK(edge_creds_from_registry(c, &env) == 0);
            edge_cred_record_t r;
            const char *why;
            bool ok = n > 0 && edge_cred_parse(rec, n, &r, &why) == 0;
            M.present[id] = ok;
            M.epoch_of[id] = M.epoch;
            free(rec);
        } else if (op % 4 == 1 || op % 4 == 2) {
            uint64_t gen = i < size ? data[i++] : 0;
            env.type = ENV_CRED_SYNC;
            env.u.cred_sync.generation = gen;
            env.u.cred_sync.done = op % 4 == 2;
            CHECK(edge_creds_from_registry(c, &env) == 0);
            if (!env.u.cred_sync.done) {
                M.epoch++;
                M.in_sync = true;
                M.sync_gen = gen;
            } else if (M.in_sync && gen == M.sync_gen) {
                M.in_sync = false;
                M.synced = true;
                for (unsigned k = 0; k < IDS; k++)
                    if (M.epoch_of[k] != M.epoch)
                        M.present[k] = false;
            }
        } else {
            size_t n = i < size ? data[i++] % 24 : 0;
            if (n > size - i)
                n = size - i;
            char pw[32];
            memcpy(pw, data + i, n);
            i += n;
            /* nothing was remembered in this run: nothing may match */
            CHECK(edge_creds_remembered(c, identity, pw, n) == EDGE_PW_NO_MATCH);
        }
        size_t count = 0;
        for (unsigned k = 0; k < IDS; k++) {
            char name[8];
            snprintf(name, sizeof(name), "CP%u", k);
            const edge_cred_record_t *r = edge_creds_get(c, name);
            CHECK((r != NULL) == M.present[k]);
            if (r)
                check_record(r);
            count += M.present[k];
        }
        CHECK(edge_creds_count(c) == count);
        CHECK(edge_creds_synced(c) == M.synced);
    }
    edge_creds_destroy(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_fd(-1); /* refusals are logged: keep the fuzzer's output readable */
    if (size < 1)
        return 0;
    if (data[0] == 0)
        parse_one(data + 1, size - 1);
    else
        run_ops(data + 1, size - 1);
    return 0;
}
