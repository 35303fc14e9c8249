/* sim_log.h: the lines of cp-sim's log_file (pure: formatting only, no I/O).
 *
 * Two formats. `basic` (the default) is the sequence log loss checks have always read:
 *
 *   <kind> <seq> <identity> <what>
 *
 * `detailed` (for the HA harness, tests/ha/) prefixes every line with the wall-clock time in
 * milliseconds since the epoch and adds the lines and fields a nothing-lost checker needs:
 *
 *   <unix_ms> <kind> <id> <identity> <what> [<ref>]
 *
 * kinds: S sent, Q queued offline, A answered (<what> ok or CallError:<code>), D a CSMS CALL
 * answered (<id> its message id, <what> <Action>:accept|reject, <ref> the command reference the
 * CALL carries or "-"), C WebSocket open (<id> the local TCP port, <what> the subprotocol), X an
 * open connection closed (<what> why), E end of the run (<identity> "-"). Every field is one
 * token: whitespace and control characters inside a field are written as '?', so a line always
 * splits into the same number of fields. */
#ifndef CPSIM_SIM_LOG_H
#define CPSIM_SIM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes one line (with its '\n') into out. ref is used only in detailed format (NULL: none).
 * Returns the length, or -ENOSPC when it does not fit (out is then an empty string). */
int sim_log_format(char *out, size_t cap, bool detailed, uint64_t unix_ms, char kind,
                   const char *id, const char *identity, const char *what, const char *ref);

/* The command reference a CSMS CALL carries: its payload's top-level "data" member when that is
 * a string of 1..128 printable characters without spaces (the HA harness's command generator
 * sends DataTransfer with data = command_id). Writes "-" otherwise. Returns 1 when a reference
 * was found, 0 if not. cap must be at least 2. */
int sim_log_ref(const char *payload, size_t len, char *out, size_t cap);

#endif
