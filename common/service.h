/* service: the start of every stage's main(), done one way.
 *
 * Loads the stage's configuration table (defaults, YAML, OCPPGW_* environment, --config,
 * --help, --print-config), defaults pod_id to the host name, and starts the JSON log. */
#ifndef OCPPGW_SERVICE_H
#define OCPPGW_SERVICE_H

#include <stddef.h>

#include "config.h"

#define SERVICE_RUN (-1)

/* pod_id and log_level point at the string fields of cfg that hold them. Returns SERVICE_RUN
 * when the service should run; otherwise the exit code: 0 after --help or --print-config, 2
 * after an invalid setting (the message, naming the key, the value and what is allowed, is on
 * stderr). The configuration is freed on every path that does not run. */
int service_setup(const char *service, const config_option_t *table, size_t n, void *cfg, int argc,
                  char **argv, char **pod_id, char **log_level);

#endif
