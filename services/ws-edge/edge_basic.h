/* edge_basic: the HTTP Basic Authorization header of an upgrade request (RFC 7617), as OCPP
 * security profiles 1 and 2 use it: "Basic " + base64(username ":" password).
 *
 * Pure, bounded, no allocation: the header's value (as the HTTP layer copied it) goes in, the
 * username and password come out in fixed buffers. The scheme is matched without regard to
 * case and may be followed by one or more spaces; the username ends at the first ':' (the
 * password may contain ':'); neither may contain a NUL or another control character, so they
 * are safe to handle as C strings. The password is a secret: this module never logs. */
#ifndef EDGE_BASIC_H
#define EDGE_BASIC_H

#include <stddef.h>

/* Longest username (OCPP: the identity, IDENTITY_MAX) and password accepted, in bytes. OCPP
 * passwords are 16 to 40 characters (BasicAuthPassword, AuthorizationKey); longer ones are
 * allowed for other tooling, up to this bound. */
#define EDGE_BASIC_USER_MAX     64
#define EDGE_BASIC_PASSWORD_MAX 128

typedef enum {
    EDGE_BASIC_OK = 0,
    EDGE_BASIC_NONE,      /* no Authorization header (value NULL) */
    EDGE_BASIC_NOT_BASIC, /* another scheme (Bearer, Digest, ...) */
    EDGE_BASIC_MALFORMED, /* bad base64, no ':', a control character, empty password */
    EDGE_BASIC_TOO_LONG,  /* username or password over their bound */
} edge_basic_result_t;

typedef struct {
    char user[EDGE_BASIC_USER_MAX + 1];         /* NUL-terminated */
    size_t user_len;                            /* */
    char password[EDGE_BASIC_PASSWORD_MAX + 1]; /* NUL-terminated; wipe it after use */
    size_t password_len;                        /* */
} edge_basic_t;

/* Parses the value of an Authorization header (value NULL: none was sent). out is cleared
 * first and only filled on EDGE_BASIC_OK. */
edge_basic_result_t edge_basic_parse(const char *value, size_t len, edge_basic_t *out);

/* Overwrites the credentials (the password must not linger in memory longer than needed). */
void edge_basic_wipe(edge_basic_t *b);

/* short, stable name of a result for metrics and logs ("none", "not_basic", ...) */
const char *edge_basic_result_name(edge_basic_result_t r);

#endif
