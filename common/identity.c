/* identity: what a charge-point identity may be. See identity.h. */
#include "identity.h"

#include <string.h>

bool identity_char_ok(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("*-_=+|@.", c) != NULL;
}

bool identity_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > IDENTITY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!identity_char_ok((unsigned char)s[i]))
            return false;
    return true;
}
