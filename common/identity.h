/* identity: what a charge-point identity may be, defined once for every stage (DESIGN §3).
 *
 * 1 to IDENTITY_MAX characters of A-Z a-z 0-9 * - _ = + | @ . (no ':', the Basic-auth
 * separator). The edge refuses anything else before the upgrade; core, registry and bridge hold
 * identities in IDENTITY_MAX + 1 bytes and refuse what the edge would have refused. */
#ifndef OCPPGW_IDENTITY_H
#define OCPPGW_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define IDENTITY_MAX 48

/* true if c may appear in an identity */
bool identity_char_ok(unsigned char c);

/* true if s[0..len) is a whole valid identity (no NUL inside, 1..IDENTITY_MAX characters) */
bool identity_valid(const char *s, size_t len);

#endif
