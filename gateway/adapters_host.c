/*
 * gateway/adapters_host.c - starts and stops the adapters and gives them
 * their environment: the loop (where each adapter puts its own fds, timers
 * and hooks, see adapters/adapter.h), the reading sink (the mapping layer)
 * and the availability callback.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_internal.h"
#include "log.h"

static int emit(void *ctx, const gw_reading_t *r)
{
    struct gw_gateway *g = ctx;
    return gw_mapping_reading(g->mapping, r);
}

/* An adapter says a device is (un)reachable: its virtual client leaves the
 * servers, and comes back when the device does. */
static int set_available(void *ctx, const char *device_key, bool available)
{
    struct gw_gateway *g = ctx;
    for (size_t i = 0; i < g->n_devices; i++) {
        gw_device_t *d = &g->devices[i];
        if (!d->vc || !d->key || strcmp(d->key, device_key) != 0)
            continue;
        gw_notice("%s (%s): device %s: %s", d->cfg->endpoint, device_key,
                  available ? "reachable again" : "unreachable",
                  available ? "registering again" : "de-registering until it answers");
        if (available)
            return gw_vclient_start(g->lwm2m, d->vc);
        gw_vclient_stop(g->lwm2m, d->vc);
        return 0;
    }
    return -ENOENT;
}

static bool adapter_used(const gw_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_devices; i++)
        if (cfg->devices[i].adapter && strcmp(cfg->devices[i].adapter, name) == 0)
            return true;
    return false;
}

int gw_adapters_start(struct gw_gateway *g)
{
    size_t n = 0;
    while (gw_adapters[n])
        n++;
    g->env.loop = g->loop;
    g->env.emit = emit;
    g->env.emit_ctx = g;
    g->env.set_available = set_available;
    g->adapters = calloc(n ? n : 1, sizeof *g->adapters);
    if (!g->adapters)
        return -ENOMEM;
    g->n_adapters = 0;
    for (size_t i = 0; i < n; i++) {
        const gw_adapter_ops_t *ops = gw_adapters[i];
        if (!adapter_used(g->cfg, ops->name))
            continue;
        gw_adapter_slot_t *s = &g->adapters[g->n_adapters];
        memset(s, 0, sizeof *s);
        s->ops = ops;
        s->g = g;
        int rc = ops->create(&g->env, g->cfg, &s->a);
        if (rc == 0 && ops->start)
            rc = ops->start(s->a);
        if (rc < 0) {
            /* A broken adapter must not take the others down: its devices
             * stay registered with what the config gives them. */
            gw_err("adapter %s failed to start: %s", ops->name, strerror(-rc));
            if (s->a)
                ops->destroy(&s->a);
            continue;
        }
        g->n_adapters++;
        gw_info("adapter %s started", ops->name);
    }
    return 0;
}

void gw_adapters_stop(struct gw_gateway *g)
{
    for (size_t i = 0; i < g->n_adapters; i++) {
        gw_adapter_slot_t *s = &g->adapters[i];
        if (s->ops->stop)
            s->ops->stop(s->a);
        s->ops->destroy(&s->a);
    }
    free(g->adapters);
    g->adapters = NULL;
    g->n_adapters = 0;
}
