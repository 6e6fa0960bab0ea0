/*
 * gateway/gateway.c - builds the virtual clients from the configuration and
 * keeps the values that are computed on demand (current time, host memory).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>

#include "gateway.h"
#include "log.h"

#ifndef GW_VERSION
#define GW_VERSION "0.0.0"
#endif

struct gw_gateway {
    const gw_config_t *cfg;
    gw_registry_t *reg;
    gw_loop_t *loop;
    gw_store_t *store;
    gw_lwm2m_t *lwm2m;
    gw_vclient_t *self; /* the gateway's own endpoint */
    int64_t started_ms;
};

/* Device object resources (OMA object 3). */
enum {
    DEV_MANUFACTURER = 0,
    DEV_MODEL = 1,
    DEV_SERIAL = 2,
    DEV_FIRMWARE = 3,
    DEV_MEMORY_FREE = 10,
    DEV_ERROR_CODE = 11,
    DEV_CURRENT_TIME = 13,
    DEV_BINDING = 16,
    DEV_MEMORY_TOTAL = 21,
};

static int set_str(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t rid, const char *v)
{
    if (!v)
        return 0;
    gw_value_t val = {.type = GW_TYPE_STRING};
    val.v.bytes.ptr = (const uint8_t *)v;
    val.v.bytes.len = strlen(v);
    return gw_store_set(s, c, &(gw_path_t){{oid, 0, rid, 0}, 3}, &val, 0);
}

static int set_int(gw_store_t *s, gw_sclient_t *c, const gw_path_t *p, gw_type_t t, int64_t v)
{
    gw_value_t val = {.type = t};
    val.v.i = v;
    return gw_store_set(s, c, p, &val, 0);
}

static int device_object(gw_gateway_t *g, gw_sclient_t *c, const char *manufacturer, const char *model,
                         const char *serial, const char *firmware)
{
    gw_store_t *s = g->store;
    int rc = gw_store_instance_create(s, c, 3, 0);
    if (rc < 0)
        return rc;
    rc = set_str(s, c, 3, DEV_MANUFACTURER, manufacturer);
    if (!rc)
        rc = set_str(s, c, 3, DEV_MODEL, model);
    if (!rc)
        rc = set_str(s, c, 3, DEV_SERIAL, serial);
    if (!rc)
        rc = set_str(s, c, 3, DEV_FIRMWARE, firmware);
    if (!rc) /* 0: no error (the resource is mandatory) */
        rc = set_int(s, c, &(gw_path_t){{3, 0, DEV_ERROR_CODE, 0}, 4}, GW_TYPE_INTEGER, 0);
    if (!rc)
        rc = set_int(s, c, &(gw_path_t){{3, 0, DEV_CURRENT_TIME, 0}, 3}, GW_TYPE_TIME, gw_wall_ms() / 1000);
    if (!rc)
        rc = set_str(s, c, 3, DEV_BINDING, "U");
    return rc;
}

static void host_memory(gw_gateway_t *g, gw_sclient_t *c)
{
    struct sysinfo si;
    if (sysinfo(&si) != 0)
        return;
    uint64_t unit = si.mem_unit ? si.mem_unit : 1;
    set_int(g->store, c, &(gw_path_t){{3, 0, DEV_MEMORY_FREE, 0}, 3}, GW_TYPE_INTEGER,
            (int64_t)((uint64_t)si.freeram * unit / 1024));
    set_int(g->store, c, &(gw_path_t){{3, 0, DEV_MEMORY_TOTAL, 0}, 3}, GW_TYPE_INTEGER,
            (int64_t)((uint64_t)si.totalram * unit / 1024));
}

static void refresh(void *ctx, gw_vclient_t *vc, const gw_path_t *path)
{
    gw_gateway_t *g = ctx;
    gw_sclient_t *c = gw_vclient_store(vc);
    if (path->len >= 1 && path->id[0] != 3)
        return;
    if (path->len >= 2 && path->id[1] != 0)
        return;
    if (!gw_store_instance_exists(c, 3, 0))
        return;
    if (path->len < 3 || path->id[2] == DEV_CURRENT_TIME)
        set_int(g->store, c, &(gw_path_t){{3, 0, DEV_CURRENT_TIME, 0}, 3}, GW_TYPE_TIME, gw_wall_ms() / 1000);
    if (vc == g->self && (path->len < 3 || path->id[2] == DEV_MEMORY_FREE || path->id[2] == DEV_MEMORY_TOTAL))
        host_memory(g, c);
}

int gw_gateway_new(const gw_config_t *cfg, gw_registry_t *reg, gw_loop_t *loop, const char *server_uri,
                   gw_gateway_t **out)
{
    gw_gateway_t *g = calloc(1, sizeof *g);
    gw_lwm2m_server_opts_t *so = NULL;
    int rc = -ENOMEM;
    *out = NULL;
    if (!g)
        return -ENOMEM;
    g->cfg = cfg;
    g->reg = reg;
    g->loop = loop;
    g->started_ms = gw_now_ms();
    rc = gw_store_new(reg, &g->store);
    if (rc < 0)
        goto fail;
    so = calloc(cfg->n_servers ? cfg->n_servers : 1, sizeof *so);
    if (!so) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_servers; i++) {
        const gw_config_server_t *cs = &cfg->servers[i];
        so[i].uri = (i == 0 && server_uri) ? server_uri : cs->uri;
        so[i].lifetime = cs->lifetime;
        so[i].security = cs->security == GW_SEC_PSK ? GW_LWM2M_PSK : GW_LWM2M_NOSEC;
        so[i].psk_identity = cs->psk_identity;
        so[i].psk_key = cs->psk_key;
        so[i].psk_key_len = cs->psk_key_len;
        so[i].registrations_per_second = cs->registrations_per_second;
        so[i].short_server_id = cs->short_server_id;
        so[i].default_pmin = cs->default_pmin;
        so[i].default_pmax = cs->default_pmax;
        so[i].binding = cs->binding;
    }
    rc = gw_lwm2m_new(loop, g->store, so, cfg->n_servers, &g->lwm2m);
    free(so);
    if (rc < 0)
        goto fail;
    gw_lwm2m_set_refresh(g->lwm2m, refresh, g);
    *out = g;
    return 0;
fail:
    gw_gateway_free(&g);
    return rc;
}

static int add_device(gw_gateway_t *g, const gw_config_device_t *d)
{
    gw_vclient_t *vc;
    gw_vclient_opts_t o = {.psk_identity = d->psk_identity, .psk_key = d->psk_key,
                           .psk_key_len = d->psk_key_len};
    int rc = gw_vclient_new(g->lwm2m, d->endpoint, &o, NULL, &vc);
    if (rc < 0) {
        gw_err("%s:%d: cannot create virtual client \"%s\": %s", g->cfg->file, d->line, d->endpoint,
               strerror(-rc));
        return rc;
    }
    gw_sclient_t *c = gw_vclient_store(vc);
    rc = device_object(g, c, d->manufacturer, d->model, d->serial, d->firmware);
    for (size_t i = 0; rc == 0 && i < d->n_resources; i++) {
        const gw_config_resource_t *r = &d->resources[i];
        if (!gw_store_instance_exists(c, r->path.id[0], r->path.id[1])) {
            rc = gw_store_instance_create(g->store, c, r->path.id[0], r->path.id[1]);
            if (rc < 0) {
                gw_err("%s:%d: cannot create /%u/%u: %s", g->cfg->file, r->line, r->path.id[0],
                       r->path.id[1], strerror(-rc));
                break;
            }
        }
        rc = gw_store_set(g->store, c, &r->path, &r->value, 0);
        if (rc < 0) {
            char ps[32];
            gw_err("%s:%d: cannot set %s: %s", g->cfg->file, r->line,
                   gw_path_format(&r->path, ps, sizeof ps), strerror(-rc));
        }
    }
    if (rc == 0)
        rc = gw_vclient_start(g->lwm2m, vc);
    if (rc < 0)
        gw_vclient_remove(g->lwm2m, &vc);
    return rc;
}

int gw_gateway_start(gw_gateway_t *g)
{
    int rc = gw_vclient_new(g->lwm2m, g->cfg->name, NULL, NULL, &g->self);
    if (rc < 0) {
        gw_err("cannot create the gateway's own endpoint \"%s\": %s", g->cfg->name, strerror(-rc));
        return rc;
    }
    gw_sclient_t *c = gw_vclient_store(g->self);
    rc = device_object(g, c, "lwm2m-gateway project", "lwm2m-gateway", g->cfg->name, GW_VERSION);
    if (rc == 0) {
        host_memory(g, c);
        rc = gw_vclient_start(g->lwm2m, g->self);
    }
    if (rc < 0)
        return rc;
    size_t ok = 0;
    for (size_t i = 0; i < g->cfg->n_devices; i++)
        if (add_device(g, &g->cfg->devices[i]) == 0)
            ok++;
    gw_info("gateway \"%s\" started: %zu of %zu devices as virtual clients, %zu server(s)", g->cfg->name,
            ok, g->cfg->n_devices, g->cfg->n_servers);
    return 0;
}

int gw_gateway_shutdown(gw_gateway_t *g, gw_work_fn done, void *ctx)
{
    return gw_lwm2m_shutdown(g->lwm2m, 5000, done, ctx);
}

void gw_gateway_free(gw_gateway_t **pg)
{
    gw_gateway_t *g = *pg;
    if (!g)
        return;
    gw_lwm2m_free(&g->lwm2m);
    gw_store_free(&g->store);
    free(g);
    *pg = NULL;
}

gw_lwm2m_t *gw_gateway_lwm2m(const gw_gateway_t *g) { return g->lwm2m; }
gw_store_t *gw_gateway_store(const gw_gateway_t *g) { return g->store; }
