/*
 * gateway/adapters_host.c - starts, reconfigures and stops the adapters and
 * gives them their environment: the loop (where each adapter puts its own
 * fds, timers and hooks, see adapters/adapter.h), the reading sink (the
 * mapping layer) and the availability callback.
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
        d->unavailable = !available;
        if (available)
            return gw_vclient_start(g->lwm2m, d->vc);
        gw_vclient_stop(g->lwm2m, d->vc);
        return 0;
    }
    return -ENOENT;
}

static size_t table_size(void)
{
    size_t n = 0;
    while (gw_adapters[n])
        n++;
    return n;
}

/* The running devices of adapter i, as its create takes them. */
static int device_list(struct gw_gateway *g, size_t i, gw_adapter_device_t **out, size_t *out_n)
{
    size_t n = 0;
    for (size_t k = 0; k < g->n_devices; k++)
        n += g->devices[k].vc && g->devices[k].cfg->ops == gw_adapters[i];
    *out_n = n;
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    n = 0;
    for (size_t k = 0; k < g->n_devices; k++) {
        const gw_device_t *d = &g->devices[k];
        if (d->vc && d->cfg->ops == gw_adapters[i])
            (*out)[n++] = (gw_adapter_device_t){.key = d->key, .endpoint = d->cfg->endpoint,
                                                .conf = d->cfg->part, .line = d->cfg->line};
    }
    return 0;
}

static int start_one(struct gw_gateway *g, size_t i)
{
    gw_adapter_slot_t *s = &g->adapters[i];
    gw_adapter_device_t *devs;
    size_t n;
    int rc = device_list(g, i, &devs, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        free(devs);
        return 0;
    }
    rc = s->ops->create(&g->env, g->cfg->sections[i], devs, n, &s->a);
    free(devs);
    if (rc == 0 && s->ops->start)
        rc = s->ops->start(s->a);
    if (rc < 0) {
        /* A broken adapter must not take the others down: its devices
         * stay registered with what the config gives them. */
        gw_err("adapter %s failed to start: %s", s->ops->name, strerror(-rc));
        if (s->a)
            s->ops->destroy(&s->a);
        return rc;
    }
    gw_info("adapter %s started", s->ops->name);
    return 0;
}

static void stop_one(gw_adapter_slot_t *s)
{
    if (!s->a)
        return;
    if (s->ops->stop)
        s->ops->stop(s->a);
    s->ops->destroy(&s->a);
}

int gw_adapters_start(struct gw_gateway *g)
{
    size_t n = table_size();
    g->env.loop = g->loop;
    g->env.emit = emit;
    g->env.emit_ctx = g;
    g->env.set_available = set_available;
    g->adapters = calloc(n ? n : 1, sizeof *g->adapters);
    if (!g->adapters)
        return -ENOMEM;
    g->n_adapters = n;
    for (size_t i = 0; i < n; i++) {
        g->adapters[i].ops = gw_adapters[i];
        g->adapters[i].g = g;
        start_one(g, i);
    }
    return 0;
}

void gw_adapters_stop(struct gw_gateway *g)
{
    for (size_t i = 0; i < g->n_adapters; i++)
        stop_one(&g->adapters[i]);
    free(g->adapters);
    g->adapters = NULL;
    g->n_adapters = 0;
}

gw_adapter_slot_t *gw_adapters_slot_for_client(struct gw_gateway *g, const gw_vclient_t *vc)
{
    /* Writes are rare (a server's request): a scan is cheap next to the
     * request itself. */
    for (size_t k = 0; k < g->n_devices; k++) {
        if (g->devices[k].vc != vc)
            continue;
        for (size_t i = 0; i < g->n_adapters; i++)
            if (g->adapters[i].ops == g->devices[k].cfg->ops)
                return g->adapters[i].a ? &g->adapters[i] : NULL;
        return NULL;
    }
    return NULL;
}

/* A new instance starts with every device reachable and says so only on a
 * change: the clients the old one had taken off the servers come back, and
 * the new one takes them off again after its own fail_threshold. */
static void reassert(struct gw_gateway *g, size_t i)
{
    for (size_t k = 0; k < g->n_devices; k++) {
        gw_device_t *d = &g->devices[k];
        if (!d->vc || d->cfg->ops != gw_adapters[i] || !d->unavailable)
            continue;
        d->unavailable = false;
        gw_notice("%s (%s): adapter %s restarted, registering again until it says otherwise",
                  d->cfg->endpoint, d->key, gw_adapters[i]->name);
        gw_vclient_start(g->lwm2m, d->vc);
    }
}

void gw_adapters_reload(struct gw_gateway *g, const bool *section_changed,
                        gw_adapter_change_t *const *changes, const size_t *n_changes)
{
    for (size_t i = 0; i < g->n_adapters; i++) {
        gw_adapter_slot_t *s = &g->adapters[i];
        bool used = false;
        for (size_t k = 0; k < g->n_devices && !used; k++)
            used = g->devices[k].vc && g->devices[k].cfg->ops == s->ops;
        if (!s->a) {
            if (used)
                start_one(g, i);
            continue;
        }
        if (!used) {
            gw_info("adapter %s: no device left, stopped", s->ops->name);
            stop_one(s);
            continue;
        }
        if (!section_changed[i] && n_changes[i] == 0)
            continue; /* untouched: its connections and state stay */
        if (!section_changed[i] && s->ops->reconfigure) {
            int rc = s->ops->reconfigure(s->a, changes[i], n_changes[i]);
            if (rc == 0) {
                gw_info("adapter %s: %zu device change%s applied", s->ops->name, n_changes[i],
                        n_changes[i] == 1 ? "" : "s");
                continue;
            }
            gw_warn("adapter %s: cannot apply the new devices (%s), restarting it", s->ops->name,
                    strerror(-rc));
        } else {
            gw_info("adapter %s: %s, restarting it", s->ops->name,
                    section_changed[i] ? "its settings changed" : "its devices changed");
        }
        stop_one(s);
        start_one(g, i);
        reassert(g, i);
    }
}
