/* ctl.h: the pure parts of ocppctl (no Redis, no Kafka): building a command record, checking
 * the payload, naming the exit code of a result, filtering and pretty-printing events, reading
 * the registry's meta hash and a pod lease. main.c wires them to hiredis and librdkafka. */
#ifndef OCPPCTL_CTL_H
#define OCPPCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of ocppctl (also documented in docs/ocppctl.md). */
enum {
    CTL_OK = 0,            /* result accepted / command succeeded */
    CTL_USAGE = 2,         /* bad arguments or invalid payload */
    CTL_UNREACHABLE = 3,   /* Redis or Kafka cannot be reached */
    CTL_UNKNOWN_CP = 4,    /* identity not connected to any pod */
    CTL_REJECTED = 10,     /* result rejected */
    CTL_OCPP_ERROR = 11,   /* result ocpp_error */
    CTL_TIMEOUT = 12,      /* result timeout (the charge point did not answer) */
    CTL_EXPIRED = 13,      /* result expired */
    CTL_INVALID = 14,      /* result invalid */
    CTL_UNSUPPORTED = 15,  /* result unsupported */
    CTL_OTHER_STATUS = 16, /* a status this version of ocppctl does not know */
    CTL_NO_RESULT = 124    /* --wait gave up before a final result */
};

/* Exit code for a result status string. */
int ctl_status_exit(const char *status);

/* A UUID v4 text (36 chars + NUL) from 16 random bytes. */
void ctl_uuid(const uint8_t rnd[16], char out[37]);

/* Checks that text is a JSON object; on error writes "line L column C: reason" into why.
 * Returns 0 or -EINVAL. */
int ctl_check_payload(const char *text, char *why, size_t whylen);

/* The command record (DESIGN §5) as compact JSON; caller frees. NULL if payload is not an object.
 * ttl_ms > 0 adds ttl_ms and expires_at (now_ms + ttl_ms, RFC 3339). */
char *ctl_command_record(const char *command_id, const char *cp_id, const char *target_pod,
                         const char *action, const char *payload, int64_t ttl_ms, uint64_t now_ms);

/* From a command-results record value: true if it is the result of command_id; its status into
 * status. */
bool ctl_result_matches(const char *value, size_t len, const char *command_id, char *status,
                        size_t cap);

/* Event filter: identity and type may be NULL (any). Writes one pretty line for a CloudEvents
 * value ("<time>  <subject>  <type>  <data>") to out when it passes; returns true if printed.
 * Undecodable values are printed as "<unparsable event> ..." (never dropped silently). */
bool ctl_event_print(const char *key, size_t klen, const char *value, size_t vlen,
                     const char *identity, const char *type, FILE *out);

/* "since" of the registry meta (microseconds since epoch as text) as RFC 3339 into out[32]. */
void ctl_format_us(const char *us_text, char out[32]);

/* Registrations count of a pod lease value {"registrations":N,...}; -1 if unreadable. */
long ctl_lease_registrations(const char *value);

/* A duration argument: "30s", "500ms", "2m", a plain number being seconds. -1 if invalid. */
int64_t ctl_parse_duration_ms(const char *text);

/* One input line of `ocppctl produce`: "<partition>\t<key>\t<value>", the value being the rest
 * of the line (it may hold tabs). partition is a number 0..2^31-1, or "-" for the key's default
 * partition (*partition = -1; the key must then be non-empty). The line is split in place: key
 * and value point into it, NUL-terminated; a trailing "\r" or "\n" is dropped. Returns 0, or
 * -EINVAL with why. */
int ctl_produce_line(char *line, int32_t *partition, char **key, char **value, char *why,
                     size_t whylen);

#endif
