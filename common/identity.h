/* identity: what a charge-point identity (and a command id) may be, defined once for every
 * stage (DESIGN §3, §5).
 *
 * 1 to IDENTITY_MAX characters of A-Z a-z 0-9 * - _ = + | @ . (no ':', the Basic-auth
 * separator). The edge refuses anything else before the upgrade; core, registry and bridge hold
 * identities in IDENTITY_MAX + 1 bytes and refuse what the edge would have refused. */
#ifndef OCPPGW_IDENTITY_H
#define OCPPGW_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define IDENTITY_MAX 48

/* A command's command_id (DESIGN §5): 1 to COMMAND_ID_MAX bytes. kafka-bridge answers `invalid`
 * to a longer one; the other stages hold command ids in COMMAND_ID_MAX + 1 bytes. */
#define COMMAND_ID_MAX 79

/* true if c may appear in an identity */
bool identity_char_ok(unsigned char c);

/* true if s[0..len) is a whole valid identity (no NUL inside, 1..IDENTITY_MAX characters) */
bool identity_valid(const char *s, size_t len);

#endif
