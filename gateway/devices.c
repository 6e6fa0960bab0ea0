/*
 * gateway/devices.c - one configured device as a running virtual client:
 * its Device object, initial values and mapping binding.
 *
 * The configuration is the gateway's own (g->cfg, not shared), so once a
 * device's values are in the store its copy in the config is shed: at
 * 10,000 devices that is a third of the memory the gateway holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lwm2m/acl.h"
#include "gateway_internal.h"
#include "mqtt.h"
#include "log.h"

enum { DEV_ERROR_CODE = 11, DEV_CURRENT_TIME = 13, DEV_BINDING = 16 };

static int set_str(gw_store_t *s, gw_sclient_t *c, uint16_t rid, const char *v)
{
    if (!v)
        return 0;
    gw_value_t val = {.type = GW_TYPE_STRING};
    val.v.bytes.ptr = (const uint8_t *)v;
    val.v.bytes.len = strlen(v);
    return gw_store_set(s, c, &(gw_path_t){{3, 0, rid, 0}, 3}, &val, 0);
}

int gw_device_object(struct gw_gateway *g, gw_sclient_t *c, const char *manufacturer, const char *model,
                     const char *serial, const char *firmware)
{
    gw_store_t *s = g->store;
    int rc = gw_store_instance_create(s, c, 3, 0);
    if (rc < 0 && rc != -EEXIST)
        return rc;
    rc = set_str(s, c, 0, manufacturer);
    if (!rc)
        rc = set_str(s, c, 1, model);
    if (!rc)
        rc = set_str(s, c, 2, serial);
    if (!rc)
        rc = set_str(s, c, 3, firmware);
    if (!rc && !gw_store_has(c, &(gw_path_t){{3, 0, DEV_ERROR_CODE, 0}, 3})) {
        /* 0: no error (the resource is mandatory) */
        gw_value_t zero = {.type = GW_TYPE_INTEGER};
        rc = gw_store_set(s, c, &(gw_path_t){{3, 0, DEV_ERROR_CODE, 0}, 4}, &zero, 0);
    }
    if (!rc) {
        gw_value_t t = {.type = GW_TYPE_TIME};
        t.v.i = gw_wall_ms() / 1000;
        rc = gw_store_set(s, c, &(gw_path_t){{3, 0, DEV_CURRENT_TIME, 0}, 3}, &t, 0);
    }
    if (!rc)
        rc = set_str(s, c, DEV_BINDING, "U");
    return rc;
}

static bool needs_mapping(const gw_config_device_t *d)
{
    /* An adapter with a configuration of its own produces readings. */
    return d->n_fields || d->n_decls || (d->ops && d->ops->conf);
}

static int set_key(gw_device_t *dev, const gw_config_device_t *d)
{
    char key[256];
    if (gw_config_device_key(d, key, sizeof key) < 0)
        return -EINVAL;
    char *k = strdup(key);
    if (!k)
        return -ENOMEM;
    free(dev->key);
    dev->key = k;
    return 0;
}

static void unmap(struct gw_gateway *g, gw_device_t *dev)
{
    if (dev->mapped)
        gw_mapping_remove_device(g->mapping, dev->key);
    dev->mapped = false;
}

int gw_device_access_entries(struct gw_gateway *g, gw_vclient_t *vc, const gw_config_device_t *d, const char *who)
{
    gw_sclient_t *c = gw_vclient_store(vc);
    int rc = 0;
    /* Access Control instances (object 2), as a bootstrap server would
     * write them: checked with several servers only (lwm2m/acl.h). */
    for (size_t i = 0; rc == 0 && i < d->n_access; i++) {
        const gw_config_access_t *a = &d->access[i];
        rc = gw_acl_instance_add(g->store, c, a->object, a->instance, a->owner, a->ssid, a->rights, a->n_acl,
                                 NULL);
        if (rc < 0)
            gw_err("%s:%d: %s: cannot add the Access Control instance of /%u/%u: %s", g->cfg->file, a->line, who,
                   a->object, a->instance, strerror(-rc));
    }
    return rc;
}

int gw_device_access_owner(struct gw_gateway *g, gw_vclient_t *vc, const gw_config_device_t *d, const char *who)
{
    gw_vclient_set_access_owner(vc, (uint16_t)d->access_owner);
    if (!d->access_owner)
        return 0;
    int rc = gw_acl_fill_owner(g->store, gw_vclient_store(vc), (uint16_t)d->access_owner, NULL);
    if (rc < 0)
        gw_err("%s:%d: %s: cannot make the Access Control instances of access_owner %d: %s", g->cfg->file,
               d->access_owner_line, who, (int)d->access_owner, strerror(-rc));
    return rc;
}

/* Device object, initial values and the mapping binding, into a client.
 * old_key: the device's binding before a reload (NULL: none), whose
 * run-time fields keep their instances (gw_mapping_rebind_device). */
static int fill(struct gw_gateway *g, gw_device_t *dev, const gw_config_device_t *d, const char *old_key)
{
    gw_sclient_t *c = gw_vclient_store(dev->vc);
    const char *file = g->cfg->file;
    int rc = gw_device_object(g, c, d->manufacturer, d->model, d->serial, d->firmware);
    if (rc < 0)
        gw_err("%s:%d: device \"%s\": cannot fill its Device object (/3/0): %s", file, d->line, d->endpoint,
               strerror(-rc));
    for (size_t i = 0; rc == 0 && i < d->n_resources; i++) {
        const gw_config_resource_t *r = &d->resources[i];
        if (!gw_store_instance_exists(c, r->path.id[0], r->path.id[1])) {
            rc = gw_store_instance_create(g->store, c, r->path.id[0], r->path.id[1]);
            if (rc < 0) {
                gw_err("%s:%d: cannot create /%u/%u: %s", file, r->line, r->path.id[0], r->path.id[1],
                       strerror(-rc));
                break;
            }
        }
        rc = gw_store_set(g->store, c, &r->path, &r->value, 0);
        if (rc < 0) {
            char ps[32];
            gw_err("%s:%d: cannot set %s: %s", file, r->line, gw_path_format(&r->path, ps, sizeof ps),
                   strerror(-rc));
        }
    }
    if (rc == 0)
        rc = gw_device_access_entries(g, dev->vc, d, d->endpoint);
    /* A static device has nothing to map: binding it would only cost
     * memory (a few hundred bytes each, at 10,000 devices). */
    dev->mapped = rc == 0 && needs_mapping(d);
    if (old_key && !dev->mapped)
        gw_mapping_remove_device(g->mapping, old_key);
    if (dev->mapped) {
        rc = old_key ? gw_mapping_rebind_device(g->mapping, old_key, dev->key, c, d)
                     : gw_mapping_add_device(g->mapping, dev->key, c, d);
        if (rc < 0)
            dev->mapped = false;
        if (rc < 0)
            gw_err("%s:%d: device \"%s\": cannot map its fields: %s", file, d->line, d->endpoint,
                   strerror(-rc));
    }
    /* access_owner last: the mapping made its fields' instances above. */
    if (rc == 0)
        rc = gw_device_access_owner(g, dev->vc, d, d->endpoint);
    dev->cfg = d;
    if (rc == 0)
        gw_config_device_shed((gw_config_device_t *)d); /* our own config: see devices.c header */
    return rc;
}

int gw_device_build(struct gw_gateway *g, const gw_config_device_t *d, gw_device_t *out)
{
    memset(out, 0, sizeof *out);
    int krc = set_key(out, d);
    if (krc < 0)
        return krc;
    gw_vclient_opts_t o = {.psk_identity = d->psk_identity, .psk_key = d->psk_key,
                           .psk_key_len = d->psk_key_len, .report_send = d->report_send,
                           .dtls = d->dtls && d->dtls->set ? &d->dtls->creds : NULL,
                           .send_min_interval_s = d->send_interval_s, .queue_mode = d->queue_mode,
                           .queue_time_s = d->queue_time_s, .bootstrap = d->bootstrap};
    int rc = gw_vclient_new(g->lwm2m, d->endpoint, &o, NULL, &out->vc);
    if (rc < 0) {
        gw_err("%s:%d: cannot create virtual client \"%s\": %s", g->cfg->file, d->line, d->endpoint,
               strerror(-rc));
        free(out->key);
        out->key = NULL;
        return rc;
    }
    rc = fill(g, out, d, NULL);
    if (rc == 0)
        rc = gw_vclient_start(g->lwm2m, out->vc);
    if (rc < 0) {
        unmap(g, out);
        gw_vclient_remove(g->lwm2m, &out->vc);
        free(out->key);
        out->key = NULL;
    }
    return rc;
}

int gw_device_rebind(struct gw_gateway *g, gw_device_t *dev, const gw_config_device_t *d)
{
    /* Same fingerprint: the binding is re-made against the new config's
     * strings; it writes the same values, which the store sees as
     * unchanged, and fields that came at run time keep their instances,
     * so the server sees nothing. */
    int rc = 0;
    if (!dev->mapped || !needs_mapping(d)) {
        unmap(g, dev);
        if (needs_mapping(d)) {
            rc = gw_mapping_add_device(g->mapping, dev->key, gw_vclient_store(dev->vc), d);
            dev->mapped = rc == 0;
        }
    } else {
        rc = gw_mapping_rebind_device(g->mapping, dev->key, dev->key, gw_vclient_store(dev->vc), d);
        dev->mapped = rc == 0;
    }
    dev->cfg = d;
    gw_config_device_shed((gw_config_device_t *)d);
    return rc;
}

typedef struct inst_list {
    uint32_t *v;
    size_t n;
} inst_list_t;

static int snapshot(const gw_sclient_t *c, inst_list_t *out)
{
    out->n = gw_store_instance_count(c);
    out->v = calloc(out->n ? out->n : 1, sizeof *out->v);
    if (!out->v)
        return -ENOMEM;
    for (size_t i = 0; i < out->n; i++) {
        uint16_t oid, iid;
        gw_store_instance_at(c, i, &oid, &iid);
        out->v[i] = (uint32_t)oid << 16 | iid;
    }
    return 0;
}

int gw_device_rebuild(struct gw_gateway *g, gw_device_t *dev, const gw_config_device_t *d)
{
    gw_sclient_t *c = gw_vclient_store(dev->vc);
    inst_list_t before = {0}, after = {0};
    int rc = snapshot(c, &before);
    if (rc < 0)
        return rc;
    /* The old binding stays until fill binds the new definition: what
     * came at run time keeps its instance. */
    char *old_key = dev->mapped ? dev->key : NULL;
    if (old_key)
        dev->key = NULL;
    dev->mapped = false;
    /* Everything but the Security and Server objects (the client's
     * connection settings, lwm2m/accounts.c) comes from the config: clear
     * it and build it again from the new definition. */
    for (size_t i = 0; i < before.n; i++) {
        uint16_t oid = (uint16_t)(before.v[i] >> 16), iid = (uint16_t)before.v[i];
        if (oid != 0 && oid != 1)
            gw_store_instance_delete(g->store, c, oid, iid);
    }
    rc = set_key(dev, d);
    if (rc == 0) {
        rc = fill(g, dev, d, old_key);
        free(old_key);
    } else if (old_key) {
        gw_mapping_remove_device(g->mapping, old_key);
        dev->key = old_key;
    }
    if (rc == 0)
        rc = snapshot(c, &after);
    if (rc == 0 && (after.n != before.n || memcmp(after.v, before.v, after.n * sizeof *after.v) != 0))
        gw_vclient_objects_changed(g->lwm2m, dev->vc);
    free(before.v);
    free(after.v);
    return rc;
}

void gw_device_destroy(struct gw_gateway *g, gw_device_t *dev)
{
    unmap(g, dev);
    if (dev->vc && g->mqtt)
        gw_mqtt_client_removed(g->mqtt, gw_vclient_store(dev->vc));
    if (dev->vc)
        gw_vclient_remove(g->lwm2m, &dev->vc);
    free(dev->key);
    dev->key = NULL;
}
