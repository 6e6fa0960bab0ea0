/*
 * gateway/gateway.c - lifecycle of the running gateway: build everything
 * from the configuration, keep on-demand values fresh (current time, host
 * memory), reload, shut down.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/sysinfo.h>

#include "gateway_internal.h"
#include "log.h"
#include "mqtt.h"

#ifndef GW_VERSION
#define GW_VERSION "0.0.0"
#endif

enum { DEV_MEMORY_FREE = 10, DEV_CURRENT_TIME = 13, DEV_MEMORY_TOTAL = 21 };

static void set_int(gw_gateway_t *g, gw_sclient_t *c, uint16_t rid, gw_type_t t, int64_t v)
{
    gw_value_t val = {.type = t};
    val.v.i = v;
    gw_store_set(g->store, c, &(gw_path_t){{3, 0, rid, 0}, 3}, &val, 0);
}

static void host_memory(gw_gateway_t *g, gw_sclient_t *c)
{
    struct sysinfo si;
    if (sysinfo(&si) != 0)
        return;
    uint64_t unit = si.mem_unit ? si.mem_unit : 1;
    set_int(g, c, DEV_MEMORY_FREE, GW_TYPE_INTEGER, (int64_t)((uint64_t)si.freeram * unit / 1024));
    set_int(g, c, DEV_MEMORY_TOTAL, GW_TYPE_INTEGER, (int64_t)((uint64_t)si.totalram * unit / 1024));
}

/* The gateway's own endpoint counts, in an IPSO Generic Sensor (3300/0),
 * the readings its clients' offline stores had to drop. */
enum { GEN_SENSOR = 3300, GEN_VALUE = 5700, GEN_UNITS = 5701, GEN_APP_TYPE = 5750 };

static void dropped_counter(gw_gateway_t *g)
{
    gw_sclient_t *c = gw_vclient_store(g->self);
    gw_value_t v = {.type = GW_TYPE_FLOAT};
    v.v.f = (double)gw_lwm2m_offline_dropped(g->lwm2m);
    gw_store_set(g->store, c, &(gw_path_t){{GEN_SENSOR, 0, GEN_VALUE, 0}, 3}, &v, 0);
}

static void on_counter_timer(void *ctx)
{
    gw_gateway_t *g = ctx;
    dropped_counter(g);
    gw_timer_start(g->loop, &g->counter_timer, 10000);
}

static int self_counter_object(gw_gateway_t *g, gw_sclient_t *c)
{
    int rc = gw_store_instance_create(g->store, c, GEN_SENSOR, 0);
    gw_value_t s = {.type = GW_TYPE_STRING};
    s.v.bytes.ptr = (const uint8_t *)"offline readings dropped";
    s.v.bytes.len = strlen("offline readings dropped");
    if (rc == 0)
        rc = gw_store_set(g->store, c, &(gw_path_t){{GEN_SENSOR, 0, GEN_APP_TYPE, 0}, 3}, &s, 0);
    s.v.bytes.ptr = (const uint8_t *)"readings";
    s.v.bytes.len = strlen("readings");
    if (rc == 0)
        rc = gw_store_set(g->store, c, &(gw_path_t){{GEN_SENSOR, 0, GEN_UNITS, 0}, 3}, &s, 0);
    if (rc == 0) {
        dropped_counter(g);
        gw_timer_start(g->loop, &g->counter_timer, 10000);
    }
    return rc;
}

static void refresh(void *ctx, gw_vclient_t *vc, const gw_path_t *path)
{
    gw_gateway_t *g = ctx;
    gw_sclient_t *c = gw_vclient_store(vc);
    if (vc == g->self && (path->len == 0 || path->id[0] == GEN_SENSOR))
        dropped_counter(g);
    if ((path->len >= 1 && path->id[0] != 3) || (path->len >= 2 && path->id[1] != 0))
        return;
    if (!gw_store_instance_exists(c, 3, 0))
        return;
    if (path->len < 3 || path->id[2] == DEV_CURRENT_TIME)
        set_int(g, c, DEV_CURRENT_TIME, GW_TYPE_TIME, gw_wall_ms() / 1000);
    if (vc == g->self && (path->len < 3 || path->id[2] == DEV_MEMORY_FREE || path->id[2] == DEV_MEMORY_TOTAL))
        host_memory(g, c);
}

static void objects_changed(void *ctx, gw_sclient_t *c)
{
    gw_gateway_t *g = ctx;
    gw_vclient_t *vc = gw_store_client_app(c);
    if (vc)
        gw_vclient_objects_changed(g->lwm2m, vc);
}

int gw_gateway_new(gw_config_t *cfg, gw_registry_t *reg, gw_loop_t *loop, const char *server_uri,
                   gw_gateway_t **out)
{
    gw_gateway_t *g = calloc(1, sizeof *g);
    gw_lwm2m_server_opts_t *so = NULL;
    int rc = -ENOMEM;
    *out = NULL;
    if (!g) {
        gw_config_free(&cfg);
        return -ENOMEM;
    }
    g->cfg = cfg;
    g->reg = reg;
    g->loop = loop;
    gw_timer_init(&g->counter_timer, on_counter_timer, g);
    rc = gw_store_new(reg, &g->store);
    if (rc == 0)
        rc = gw_mapping_new(g->store, reg, &g->mapping);
    if (rc < 0)
        goto fail;
    gw_mapping_set_objects_hook(g->mapping, objects_changed, g);
    so = calloc(cfg->n_servers ? cfg->n_servers : 1, sizeof *so);
    if (!so) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_servers; i++) {
        const gw_config_server_t *cs = &cfg->servers[i];
        so[i].uri = (i == 0 && server_uri) ? server_uri : cs->uri;
        so[i].lifetime = cs->lifetime;
        so[i].security = cs->security == GW_SEC_PSK    ? GW_LWM2M_PSK
                         : cs->security == GW_SEC_RPK  ? GW_LWM2M_RPK
                         : cs->security == GW_SEC_X509 ? GW_LWM2M_X509
                                                       : GW_LWM2M_NOSEC;
        so[i].dtls = cs->dtls.set ? &cs->dtls.creds : NULL;
        so[i].psk_identity = cs->psk_identity;
        so[i].psk_key = cs->psk_key;
        so[i].psk_key_len = cs->psk_key_len;
        so[i].registrations_per_second = cs->registrations_per_second;
        so[i].short_server_id = cs->short_server_id;
        so[i].default_pmin = cs->default_pmin;
        so[i].default_pmax = cs->default_pmax;
        so[i].binding = cs->binding;
        so[i].confirmable_notifications = cs->confirmable_notifications;
        so[i].content_format = cs->content_format;
    }
    rc = gw_lwm2m_new(loop, g->store, so, cfg->n_servers, &g->lwm2m);
    free(so);
    if (rc < 0)
        goto fail;
    if (cfg->bootstrap_server) {
        const gw_config_server_t *b = cfg->bootstrap_server;
        gw_lwm2m_server_opts_t bo = {.uri = b->uri, .security = b->security == GW_SEC_PSK ? GW_LWM2M_PSK
                                                                                            : GW_LWM2M_NOSEC,
                                     .psk_identity = b->psk_identity, .psk_key = b->psk_key,
                                     .psk_key_len = b->psk_key_len,
                                     .finish_timeout_s = b->finish_timeout};
        rc = gw_lwm2m_set_bootstrap(g->lwm2m, &bo, cfg->bootstrap_all, cfg->state_dir);
        if (rc < 0)
            goto fail;
    }
    gw_lwm2m_set_refresh(g->lwm2m, refresh, g);
    rc = gw_lwm2m_set_offline_store(g->lwm2m, (size_t)cfg->offline_store_max, cfg->state_dir);
    if (rc < 0)
        goto fail;
    gw_lwm2m_set_write_hook(g->lwm2m, gw_gateway_write_hook, g);
    *out = g;
    return 0;
fail:
    gw_gateway_free(&g);
    return rc;
}

static bool mqtt_field_info(void *ctx, gw_sclient_t *c, const gw_path_t *path, bool *out_writable)
{
    gw_gateway_t *g = ctx;
    const char *key;
    const gw_map_target_t *t;
    if (gw_mapping_find_path(g->mapping, c, path, &key, &t) < 0)
        return false;
    *out_writable = t->writable;
    return true;
}

static int mqtt_write(void *ctx, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *value,
                      gw_write_done_fn done, void *done_ctx, char *diag, size_t diag_size)
{
    gw_vclient_t *vc = gw_store_client_app(c);
    if (!vc)
        return -ENOENT;
    return gw_gateway_write_value(ctx, vc, path, value, done, done_ctx, diag, diag_size);
}

/* The mirror listens to the store from before the first value, so the
 * initial values of static devices reach the broker too. Settings are read
 * at start: a reload that changes them is logged as needing a restart. */
static int start_mqtt(gw_gateway_t *g)
{
    if (!g->cfg->mqtt || !g->cfg->mqtt->enabled)
        return 0;
    gw_mqtt_ops_t ops = {.field_info = mqtt_field_info, .write = mqtt_write, .ctx = g};
    if (gw_config_state_dir(g->cfg, true, NULL, NULL, NULL) < 0)
        return -EIO;
    return gw_mqtt_new(g->loop, g->store, g->cfg->mqtt, g->cfg->name, g->cfg->state_dir, &ops, &g->mqtt);
}

int gw_gateway_start(gw_gateway_t *g)
{
    int rc = start_mqtt(g);
    if (rc < 0) {
        gw_err("cannot start the MQTT mirror: %s", strerror(-rc));
        return rc;
    }
    /* The gateway's own endpoint bootstraps with every client
     * (bootstrap_all), or when no server is configured at all. */
    gw_vclient_opts_t self_opts = {.bootstrap = g->cfg->bootstrap_server && g->cfg->n_servers == 0};
    rc = gw_vclient_new(g->lwm2m, g->cfg->name, &self_opts, NULL, &g->self);
    if (rc < 0) {
        gw_err("cannot create the gateway's own endpoint \"%s\": %s", g->cfg->name, strerror(-rc));
        return rc;
    }
    gw_sclient_t *c = gw_vclient_store(g->self);
    rc = gw_device_object(g, c, "lwm2m-gateway project", "lwm2m-gateway", g->cfg->name, GW_VERSION);
    if (rc == 0)
        rc = self_counter_object(g, c);
    if (rc == 0)
        rc = gw_device_access_entries(g, g->self, &g->cfg->self_access, "gateway");
    if (rc == 0)
        rc = gw_device_access_owner(g, g->self, &g->cfg->self_access, "gateway");
    if (rc == 0) {
        host_memory(g, c);
        rc = gw_vclient_start(g->lwm2m, g->self);
    }
    if (rc < 0)
        return rc;
    g->devices = calloc(g->cfg->n_devices ? g->cfg->n_devices : 1, sizeof *g->devices);
    if (!g->devices)
        return -ENOMEM;
    size_t ok = 0;
    for (size_t i = 0; i < g->cfg->n_devices; i++)
        if (gw_device_build(g, &g->cfg->devices[i], &g->devices[ok]) == 0)
            ok++;
    g->n_devices = ok;
    rc = gw_adapters_start(g);
    /* Parsing the file left freed memory behind; hand it back so the
     * resident size is what the clients really use. */
    malloc_trim(0);
    gw_info("gateway \"%s\" started: %zu of %zu devices as virtual clients, %zu server(s)", g->cfg->name,
            ok, g->cfg->n_devices, g->cfg->n_servers);
    return rc;
}

static void diag_log(void *ctx, const char *file, int line, const char *msg)
{
    int *errors = ctx;
    (*errors)++;
    if (line > 0)
        gw_err("%s:%d: %s", file, line, msg);
    else
        gw_err("%s: %s", file, msg);
}

/* A reload matches 10,000 old devices against 10,000 new ones by endpoint:
 * sorted pointer arrays and binary search keep that O(n log n) (a scan per
 * device was 10^8 string compares and most of the reload time). */
static int cmp_cfg_ep(const void *a, const void *b)
{
    return strcmp((*(const gw_config_device_t *const *)a)->endpoint,
                  (*(const gw_config_device_t *const *)b)->endpoint);
}

static int cmp_dev_ep(const void *a, const void *b)
{
    return strcmp((*(gw_device_t *const *)a)->cfg->endpoint, (*(gw_device_t *const *)b)->cfg->endpoint);
}

static const gw_config_device_t *find_cfg(const gw_config_device_t **sorted, size_t n, const char *ep)
{
    gw_config_device_t key = {.endpoint = (char *)ep};
    const gw_config_device_t *kp = &key;
    const gw_config_device_t **hit = bsearch(&kp, sorted, n, sizeof *sorted, cmp_cfg_ep);
    return hit ? *hit : NULL;
}

static gw_device_t *find_dev(gw_device_t **sorted, size_t n, const char *ep)
{
    gw_config_device_t key_cfg = {.endpoint = (char *)ep};
    gw_device_t key = {.cfg = &key_cfg};
    gw_device_t *kp = &key;
    gw_device_t **hit = bsearch(&kp, sorted, n, sizeof *sorted, cmp_dev_ep);
    return hit ? *hit : NULL;
}

static bool servers_equal(const gw_config_t *a, const gw_config_t *b)
{
    if (a->n_servers != b->n_servers || strcmp(a->name, b->name) != 0 ||
        !a->bootstrap_server != !b->bootstrap_server || a->bootstrap_all != b->bootstrap_all)
        return false;
    if (a->bootstrap_server && (strcmp(a->bootstrap_server->uri, b->bootstrap_server->uri) ||
                                a->bootstrap_server->security != b->bootstrap_server->security ||
                                a->bootstrap_server->psk_key_len != b->bootstrap_server->psk_key_len ||
                                memcmp(a->bootstrap_server->psk_key, b->bootstrap_server->psk_key,
                                       a->bootstrap_server->psk_key_len)))
        return false;
    for (size_t i = 0; i < a->n_servers; i++) {
        const gw_config_server_t *x = &a->servers[i], *y = &b->servers[i];
        if (strcmp(x->uri, y->uri) || x->lifetime != y->lifetime || x->security != y->security ||
            x->psk_key_len != y->psk_key_len || memcmp(x->psk_key, y->psk_key, x->psk_key_len) ||
            !gw_config_dtls_equal(&x->dtls, &y->dtls) ||
            x->registrations_per_second != y->registrations_per_second)
            return false;
    }
    return true;
}

typedef struct change_list {
    gw_adapter_change_t *v;
    size_t n, cap;
    char **keys; /* copies of removed devices' keys, freed after the reload */
    size_t n_keys;
} change_list_t;

static void add_change(change_list_t *lists, const gw_adapter_ops_t *ops, gw_adapter_change_kind_t kind,
                       const gw_device_t *d, bool copy_key)
{
    size_t i = 0;
    while (gw_adapters[i] && gw_adapters[i] != ops)
        i++;
    change_list_t *l = &lists[i];
    if (!gw_adapters[i] || !d->key)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        gw_adapter_change_t *v = realloc(l->v, cap * sizeof *v);
        char **k = realloc(l->keys, cap * sizeof *k);
        if (v)
            l->v = v;
        if (k)
            l->keys = k;
        if (!v || !k)
            return; /* the adapter is then told less: reconfigure sees a device it does not
                       know and fails, and the adapter is restarted */
        l->cap = cap;
    }
    const char *key = d->key;
    if (copy_key) {
        char *c = strdup(d->key);
        if (!c)
            return;
        l->keys[l->n_keys++] = c;
        key = c;
    }
    l->v[l->n++] = (gw_adapter_change_t){
        .kind = kind,
        .dev = {.key = key, .endpoint = d->cfg->endpoint, .conf = kind == GW_ADAPTER_REMOVED ? NULL : d->cfg->part,
                .line = d->cfg->line}};
}

int gw_gateway_reload(gw_gateway_t *g, const char *file)
{
    gw_config_t *next = NULL;
    int errors = 0;
    int rc = gw_config_load(file, g->reg, diag_log, &errors, &next);
    if (rc < 0 || !next) {
        gw_err("reload: %s has %d error%s; keeping the running configuration", file, errors,
               errors == 1 ? "" : "s");
        return rc < 0 ? rc : -EINVAL;
    }
    if (!servers_equal(g->cfg, next))
        gw_warn("reload: gateway name or server settings changed; they take effect after a restart");
    if (!gw_config_mqtt_equal(g->cfg->mqtt, next->mqtt))
        gw_warn("reload: the mqtt section changed; it takes effect after a restart");
    if (g->mqtt) {
        /* The running mirror keeps reading the section it started with:
         * it moves into the new configuration, the new one goes with the
         * old configuration. */
        gw_config_mqtt_t *t = next->mqtt;
        next->mqtt = g->cfg->mqtt;
        g->cfg->mqtt = t;
    }

    size_t n_ad = next->n_sections;
    gw_device_t *devs = calloc(next->n_devices ? next->n_devices : 1, sizeof *devs);
    const gw_config_device_t **by_ep = calloc(next->n_devices ? next->n_devices : 1, sizeof *by_ep);
    gw_device_t **old_by_ep = calloc(g->n_devices ? g->n_devices : 1, sizeof *old_by_ep);
    change_list_t *lists = calloc(n_ad ? n_ad : 1, sizeof *lists);
    bool *section_changed = calloc(n_ad ? n_ad : 1, sizeof *section_changed);
    gw_adapter_change_t **ch = calloc(n_ad ? n_ad : 1, sizeof *ch);
    size_t *n_ch = calloc(n_ad ? n_ad : 1, sizeof *n_ch);
    if (!devs || !by_ep || !old_by_ep || !lists || !section_changed || !ch || !n_ch) {
        free(devs);
        free(by_ep);
        free(old_by_ep);
        free(lists);
        free(section_changed);
        free(ch);
        free(n_ch);
        gw_config_free(&next);
        return -ENOMEM;
    }
    /* An adapter whose section did not change keeps the one it runs with:
     * the new, equal one is given to the old configuration to free. */
    for (size_t i = 0; i < n_ad && i < g->cfg->n_sections; i++) {
        section_changed[i] = g->cfg->section_fps[i] != next->section_fps[i] ||
                             !g->cfg->sections[i] != !next->sections[i];
        if (!section_changed[i]) {
            void *t = next->sections[i];
            next->sections[i] = g->cfg->sections[i];
            g->cfg->sections[i] = t;
        }
    }
    for (size_t i = 0; i < next->n_devices; i++)
        by_ep[i] = &next->devices[i];
    qsort(by_ep, next->n_devices, sizeof *by_ep, cmp_cfg_ep);
    size_t kept = 0, changed = 0, added = 0, removed = 0, n = 0;
    /* Removed devices first, so a renamed endpoint or a reused address is
     * free for its new owner. */
    for (size_t i = 0; i < g->n_devices; i++) {
        gw_device_t *d = &g->devices[i];
        if (!find_cfg(by_ep, next->n_devices, d->cfg->endpoint)) {
            gw_info("reload: removing %s", d->cfg->endpoint);
            add_change(lists, d->cfg->ops, GW_ADAPTER_REMOVED, d, true);
            gw_device_destroy(g, d);
            removed++;
        }
    }
    size_t n_old = 0;
    for (size_t k = 0; k < g->n_devices; k++)
        if (g->devices[k].vc)
            old_by_ep[n_old++] = &g->devices[k];
    qsort(old_by_ep, n_old, sizeof *old_by_ep, cmp_dev_ep);
    for (size_t i = 0; i < next->n_devices; i++) {
        gw_config_device_t *nd = &next->devices[i];
        gw_device_t *old = find_dev(old_by_ep, n_old, nd->endpoint);
        if (!old) {
            gw_info("reload: adding %s", nd->endpoint);
            if (gw_device_build(g, nd, &devs[n]) == 0) {
                add_change(lists, nd->ops, GW_ADAPTER_ADDED, &devs[n], false);
                n++;
            }
            added++;
            continue;
        }
        devs[n] = *old;
        old->vc = NULL;
        old->key = NULL;
        old->mapped = false;
        if (old->cfg->fingerprint == nd->fingerprint) {
            /* The adapter keeps pointing at the part it was given: that one
             * moves into the new configuration, the equal new one goes
             * with the old. */
            gw_config_device_t *oc = (gw_config_device_t *)old->cfg;
            void *t = oc->part;
            oc->part = nd->part;
            nd->part = t;
            gw_device_rebind(g, &devs[n], nd);
            kept++;
        } else {
            gw_info("reload: updating %s", nd->endpoint);
            const gw_adapter_ops_t *was = old->cfg->ops;
            gw_device_t before = devs[n];
            before.key = devs[n].key ? strdup(devs[n].key) : NULL;
            gw_device_rebuild(g, &devs[n], nd);
            /* Another adapter or another address (the key): for the
             * adapter that is a device gone and a new one. */
            bool same = was == nd->ops && before.key && devs[n].key && strcmp(before.key, devs[n].key) == 0;
            if (!same)
                add_change(lists, was, GW_ADAPTER_REMOVED, &before, true);
            add_change(lists, nd->ops, same ? GW_ADAPTER_CHANGED : GW_ADAPTER_ADDED, &devs[n], false);
            free(before.key);
            changed++;
        }
        n++;
    }
    free(by_ep);
    free(old_by_ep);
    free(g->devices);
    g->devices = devs;
    g->n_devices = n;
    gw_config_t *old_cfg = g->cfg;
    g->cfg = next;
    for (size_t i = 0; i < n_ad; i++) {
        ch[i] = lists[i].v;
        n_ch[i] = lists[i].n;
    }
    /* The old configuration still holds what removed and changed devices
     * had: the adapters may look at it until they have been told. */
    gw_adapters_reload(g, section_changed, ch, n_ch);
    gw_config_free(&old_cfg);
    for (size_t i = 0; i < n_ad; i++) {
        for (size_t k = 0; k < lists[i].n_keys; k++)
            free(lists[i].keys[k]);
        free(lists[i].keys);
        free(lists[i].v);
    }
    free(lists);
    free(section_changed);
    free(ch);
    free(n_ch);
    malloc_trim(0);
    gw_notice("reload of %s: %zu added, %zu removed, %zu changed, %zu untouched", file, added, removed,
              changed, kept);
    return 0;
}

int gw_gateway_shutdown(gw_gateway_t *g, gw_work_fn done, void *ctx)
{
    gw_adapters_stop(g);
    gw_mqtt_shutdown(g->mqtt);
    return gw_lwm2m_shutdown(g->lwm2m, 5000, done, ctx);
}

void gw_gateway_free(gw_gateway_t **pg)
{
    gw_gateway_t *g = *pg;
    if (!g)
        return;
    gw_adapters_stop(g);
    gw_mqtt_free(&g->mqtt);
    gw_timer_stop(g->loop, &g->counter_timer);
    for (size_t i = 0; i < g->n_devices; i++) {
        if (g->mapping && g->devices[i].mapped)
            gw_mapping_remove_device(g->mapping, g->devices[i].key);
        free(g->devices[i].key);
    }
    free(g->devices);
    gw_lwm2m_free(&g->lwm2m);
    gw_mapping_free(&g->mapping);
    gw_store_free(&g->store);
    gw_config_free(&g->cfg);
    free(g);
    *pg = NULL;
}

gw_lwm2m_t *gw_gateway_lwm2m(const gw_gateway_t *g) { return g->lwm2m; }
gw_store_t *gw_gateway_store(const gw_gateway_t *g) { return g->store; }
