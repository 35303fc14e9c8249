/* config.h: one configuration table per service, filled from defaults, a YAML file and the
 * environment, in that order (later wins).
 *
 * A service describes its settings as an array of config_option_t rows pointing into its own
 * struct, then calls config_load_args() from main(). The YAML file is a mapping of sections:
 *
 *   common:            # read by every service
 *     log_level: info
 *   ocpp-core:         # read by the service named ocpp-core only; wins over common
 *     ws_port: 8080
 *
 * An unknown key in the service's own section is an error; unknown keys in common belong to other
 * services and are ignored, as are other services' sections. Each option can also be set by the
 * environment variable OCPPGW_<NAME> (name upper-cased), which wins over the file.
 *
 * Value syntax: INT decimal with optional sign; BOOL true/false/yes/no/on/off/1/0 (any case);
 * DURATION a non-negative number with optional unit ms, s, m or h (no unit = ms; a fraction such as
 * 1.5s is allowed if it is a whole number of milliseconds); ENUM one of `allowed`; STRING anything,
 * then the option's validate callback if set (not called for an option left at a NULL default,
 * which is how an optional string says "unset").
 */
#ifndef OCPPGW_CONFIG_H
#define OCPPGW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CONFIG_STRING,
    CONFIG_INT,
    CONFIG_BOOL,
    CONFIG_DURATION,
    CONFIG_ENUM
} config_type_t;

typedef struct config_option {
    /* lower_snake key; YAML key and env var OCPPGW_<NAME in upper case> */
    const char *name;
    config_type_t type;
    /* text, parsed by the same code as file and env values; NULL = empty string / 0 / false */
    const char *default_value;
    /* offsetof(target struct, field) */
    size_t offset;
    /* CONFIG_INT and CONFIG_DURATION (milliseconds): inclusive bounds; min==max==0 means
     * unbounded */
    int64_t min, max;
    /* CONFIG_ENUM: "a|b|c" */
    const char *allowed;
    /* optional extra check for STRING; 0 ok, -EINVAL with why */
    int (*validate)(const char *value, char *why, size_t whylen);
    /* one line for --help */
    const char *help;
} config_option_t;

/* Field types in the target struct: STRING and ENUM -> char * (owned by the struct, freed by
 * config_free; never NULL after a successful load), INT -> int64_t, BOOL -> bool,
 * DURATION -> int64_t milliseconds.
 *
 * The target must be zeroed before its first load (e.g. `struct x_config cfg = {0};`). */

/* Fill target from defaults, then the YAML file at path (if not NULL), then OCPPGW_<NAME>
 * environment variables. Returns 0, or a negative errno with a one-line message in err (if err is
 * not NULL): -ENOENT/-EACCES/... for a file that cannot be read, -EINVAL for a YAML error, an
 * unknown key or an invalid value (the message names the key, the value, where it came from and
 * what is allowed), -ENOMEM. On failure target is left exactly as it was; on success strings it
 * held before are freed and replaced, so loading twice does not leak. */
int config_load(const config_option_t *table, size_t n, void *target, const char *service,
                const char *path, char *err, size_t errlen);

/* config_load driven by the command line: `--config FILE` (or `--config=FILE`; else the file named
 * by OCPPGW_CONFIG; else no file), `--help` (prints config_usage to stdout, returns 1 without
 * loading), `--print-config` (loads, prints config_print to stdout, returns 1). Returns 0 when the
 * program should run, 1 when it should exit successfully, a negative errno with err set
 * otherwise (an unknown argument is -EINVAL). argv[0] is the program name and is skipped. */
int config_load_args(const config_option_t *table, size_t n, void *target, const char *service,
                     int argc, char **argv, char *err, size_t errlen);

/* Free the strings target holds and set them to NULL; safe to call twice. */
void config_free(const config_option_t *table, size_t n, void *target);

/* Print "key = value" lines, one per option in table order; values of keys whose name contains
 * "password" or "secret" are shown as "***". Durations are printed with the largest exact unit. */
void config_print(const config_option_t *table, size_t n, const void *target, FILE *out);

/* Print the command-line usage and every option: name, environment variable, type, allowed
 * values, default and help. */
void config_usage(const config_option_t *table, size_t n, const char *service, FILE *out);

#endif
