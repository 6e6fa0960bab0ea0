/*
 * gateway/main.c - lwm2m-gateway: command line, start-up and shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../adapters/ble/ble.h"
#include "gateway.h"
#include "keyfile.h"
#include "log.h"
#include "service.h"

#ifndef GW_VERSION
#define GW_VERSION "0.0.0"
#endif
#define DEFAULT_CONFIG "/etc/lwm2m-gateway/gateway.conf"

struct app {
    gw_loop_t *loop;
    gw_gateway_t *gw;
    gw_service_t *svc;
    const char *config_file;
    bool stopping;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: lwm2m-gateway [-c FILE] [--check] [--print-mapping] [--server URI]\n"
            "                     [--log-level LEVEL] [--scan-ble [SECONDS]] [--version] [--help]\n"
            "Exposes non-IP sensors as virtual LwM2M clients to an LwM2M server.\n\n"
            "  -c, --config FILE      configuration file (default " DEFAULT_CONFIG ")\n"
            "      --check            validate the configuration, print every error, exit\n"
            "      --print-mapping    print where each device's fields land, exit\n"
            "      --server URI       replace the first server's URI (coap://host:port)\n"
            "      --scan-ble [SECONDS]  list the BLE devices heard in SECONDS (default 10)\n"
            "                         with a configuration entry for each, exit\n"
            "  -l, --log-level LEVEL  err, warning, notice, info (default) or debug\n"
            "  -V, --version          print the version and exit\n"
            "  -h, --help             this help\n");
}

/* With several servers an instance without an Access Control instance is
 * reachable by no server (Core 7.3): a file with two servers and no
 * access entries answers 4.01 to everything. Said once per file, at start
 * and by --check, not per client. */
static void access_gaps(const gw_config_t *cfg, bool check)
{
    size_t inst, clients = gw_config_access_gaps(cfg, &inst);
    if (!clients)
        return;
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s: warning: %zu of %zu clients have object instances no Access Control instance names (%zu "
             "in all): with %zu servers no server may reach those (4.01); give the devices (or the gateway "
             "section) access_owner = <short_server_id> or access entries, see docs/lwm2m.md \"Access "
             "control\"",
             cfg->file, clients, cfg->n_devices + 1, inst, cfg->n_servers);
    if (check)
        fprintf(stderr, "%s\n", msg);
    else
        gw_warn("%s", msg);
}

/* Diagnostics of --check and start-up: "file:line: message" on stderr. */
static void diag_print(void *ctx, const char *file, int line, const char *msg)
{
    int *count = ctx;
    (*count)++;
    if (line > 0)
        fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    else
        fprintf(stderr, "%s: %s\n", file, msg);
}

static void raise_nofile(void)
{
    /* Every virtual client owns a UDP socket per server. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            gw_warn("cannot raise the open-file limit: %s", strerror(errno));
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        gw_debug("open-file limit: %llu", (unsigned long long)rl.rlim_cur);
}

static void on_shutdown_done(void *ctx)
{
    struct app *a = ctx;
    gw_loop_stop(a->loop);
}

static void on_signal(void *ctx, int signo)
{
    struct app *a = ctx;
    if (signo == SIGHUP) {
        if (a->stopping)
            return;
        gw_notice("SIGHUP received: reloading %s", a->config_file);
        gw_service_reloading(a->svc);
        gw_service_reloaded(a->svc, gw_gateway_reload(a->gw, a->config_file));
        return;
    }
    if (a->stopping) {
        gw_notice("second %s: exiting without waiting for de-registrations", strsignal(signo));
        gw_loop_stop(a->loop);
        return;
    }
    a->stopping = true;
    gw_notice("%s received: de-registering and exiting", strsignal(signo));
    gw_service_stopping(a->svc);
    if (gw_gateway_shutdown(a->gw, on_shutdown_done, a) < 0)
        gw_loop_stop(a->loop);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'C'},
        {"print-mapping", no_argument, NULL, 'P'}, {"scan-ble", optional_argument, NULL, 'S'},
        {"server", required_argument, NULL, 's'}, {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config_file = DEFAULT_CONFIG, *server = NULL;
    bool check = false, print_mapping = false;
    int c, errors = 0, rc = 1;
    gw_registry_t *reg = NULL;
    gw_config_t *cfg = NULL;
    struct app a = {0};

    while ((c = getopt_long(argc, argv, "c:l:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 'C': check = true; break;
        case 'P': print_mapping = true; break;
        case 's': server = optarg; break;
        case 'l': {
            int lvl = gw_log_parse_level(optarg);
            if (lvl < 0) {
                fprintf(stderr, "lwm2m-gateway: unknown log level \"%s\", expected err, warning, "
                                "notice, info or debug\n", optarg);
                return 2;
            }
            gw_log_set_level(lvl);
            break;
        }
        case 'S': {
            /* before any configuration: a scan is how one writes it.
             * "--scan-ble 30" as well as "--scan-ble=30". */
            if (!optarg && optind < argc && argv[optind][0] != '-')
                optarg = argv[optind++];
            char *end = NULL;
            double secs = optarg ? strtod(optarg, &end) : 10.0;
            if (optarg && (end == optarg || *end || !(secs >= 1 && secs <= 3600))) {
                fprintf(stderr, "lwm2m-gateway: --scan-ble=%s: expected seconds, 1 to 3600\n",
                        optarg);
                return 2;
            }
            return gw_ble_scan_run(NULL, NULL, secs, stdout) < 0 ? 1 : 0;
        }
        case 'V': printf("lwm2m-gateway %s\n", GW_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lwm2m-gateway: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    if (gw_registry_new(&reg) < 0) {
        fprintf(stderr, "lwm2m-gateway: out of memory\n");
        return 1;
    }
    if (gw_config_load(config_file, reg, diag_print, &errors, &cfg) < 0 || !cfg) {
        if (check || print_mapping)
            fprintf(stderr, "%s: %d error%s\n", config_file, errors, errors == 1 ? "" : "s");
        else
            gw_err("%s: configuration has %d error%s; not starting", config_file, errors,
                   errors == 1 ? "" : "s");
        goto out;
    }
    access_gaps(cfg, check);
    if (check) {
        /* Whether state_dir works depends on who runs the gateway: checked
         * as the user running --check, without creating anything. */
        bool missing = false;
        if (gw_config_state_dir(cfg, false, diag_print, &errors, &missing) < 0) {
            fprintf(stderr, "%s: %d error%s\n", config_file, errors, errors == 1 ? "" : "s");
            goto out;
        }
        if (gw_keyfile_check(cfg, true) < 0)
            goto out;
        printf("%s: OK, %zu server%s, %zu device%s\n", config_file, cfg->n_servers,
               cfg->n_servers == 1 ? "" : "s", cfg->n_devices, cfg->n_devices == 1 ? "" : "s");
        if (missing)
            printf("%s: state_dir \"%s\" does not exist yet; the gateway creates it (mode 0700) "
                   "at start\n", config_file, cfg->state_dir);
        rc = 0;
        goto out;
    }

    if (print_mapping) {
        rc = gw_print_mapping(cfg, reg, stdout) == 0 ? 0 : 1;
        goto out;
    }

    /* Readings kept while a server is away go to state_dir so a restart
     * keeps them: a gateway that cannot keep them does not start as if it
     * could. */
    if (gw_config_state_dir(cfg, true, diag_print, &errors, NULL) < 0) {
        gw_err("%s: state_dir is not usable; not starting", config_file);
        goto out;
    }

    if (gw_keyfile_check(cfg, false) < 0)
        goto out;

    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    if (gw_loop_new(&a.loop) < 0 || gw_loop_watch_signals(a.loop, on_signal, &a) < 0 ||
        gw_service_new(a.loop, &a.svc) < 0) {
        gw_err("cannot set up the event loop");
        goto out;
    }
    a.config_file = config_file;
    {
        gw_config_t *owned = cfg;
        cfg = NULL; /* the gateway owns it now, and replaces it on reload */
        if (gw_gateway_new(owned, reg, a.loop, server, &a.gw) < 0 || gw_gateway_start(a.gw) < 0 ||
            gw_service_attach(a.svc, a.gw) < 0) {
            gw_err("cannot start the gateway");
            goto out;
        }
    }
    gw_notice("lwm2m-gateway %s running with %s", GW_VERSION, config_file);
    int lrc = gw_loop_run(a.loop);
    if (lrc < 0)
        gw_err("event loop failed: %s", strerror(-lrc));
    else
        rc = 0;
    gw_notice("lwm2m-gateway stopped");
out:
    gw_service_free(&a.svc); /* before the gateway it watches */
    gw_gateway_free(&a.gw);
    gw_loop_free(&a.loop);
    gw_config_free(&cfg);
    gw_registry_free(&reg);
    return rc;
}
