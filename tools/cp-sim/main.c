/* cp-sim: simulates OCPP 1.6 / 2.0.1 charge points against a gateway (see docs/cp-sim.md).
 *
 *   cp-sim [--config scenario.yaml] [--<key>=<value> ...]
 *
 * Wiring only: settings (scenario file section `cp-sim`, OCPPGW_<KEY>, --<key>=<value>),
 * signals, the simulator, the report on stdout. Exit 0 after a run, 2 on bad settings. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "sim.h"
#include "sim_config.h"

static void on_signal(int sig)
{
    (void)sig;
    sim_stop();
}

int main(int argc, char **argv)
{
    sim_config_t cfg = {0};
    char err[512];
    argc = sim_args_to_env(argc, argv);
    int rc = config_load_args(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg, "cp-sim", argc, argv, err,
                              sizeof(err));
    if (rc != 0) {
        config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
        if (rc > 0)
            return 0;
        fprintf(stderr, "cp-sim: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sim_t *s = sim_new(&cfg, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "cp-sim: %s\n", err);
        config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
        return 2;
    }
    sim_run(s);
    sim_report(s, stdout);
    sim_destroy(&s);
    config_free(SIM_CONFIG, SIM_CONFIG_COUNT, &cfg);
    return 0;
}
