/* service: the start of every stage's main(), done one way. See service.h. */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int service_setup(const char *service, const config_option_t *table, size_t n, void *cfg, int argc,
                  char **argv, char **pod_id, char **log_level)
{
    char err[512];
    int rc = config_load_args(table, n, cfg, service, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "%s: %s\n", service, err);
        config_free(table, n, cfg);
        return rc < 0 ? 2 : 0;
    }
    if (!*pod_id || !(*pod_id)[0]) {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        char *copy = strdup(host);
        if (!copy) {
            fprintf(stderr, "%s: out of memory\n", service);
            config_free(table, n, cfg);
            return 1;
        }
        free(*pod_id);
        *pod_id = copy;
    }
    log_init(service, *pod_id);
    log_set_level_name(*log_level);
    return SERVICE_RUN;
}
