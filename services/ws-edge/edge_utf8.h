/* edge_utf8: strict UTF-8 validation of a complete text message (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). The edge validates itself rather than through lws so
 * that it knows it closed with 1007 and can count and report that code. */
#ifndef EDGE_UTF8_H
#define EDGE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool edge_utf8_valid(const unsigned char *s, size_t len);

#endif
