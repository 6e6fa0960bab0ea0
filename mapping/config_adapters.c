/*
 * mapping/config_adapters.c - the loader's side of the adapters' own
 * configuration (adapters/adapter.h, gw_adapter_conf_ops_t): their
 * `adapters.<name>` sections, their keys in device and template groups,
 * template merges, the checks once a device is complete, and the fields
 * they declare. The loader never looks inside a section or a part.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

int gw_config_errors(const gw_cfg_ctx_t *ctx) { return ctx ? ctx->errors : 0; }

int gw_config_adapter_index(const gw_adapter_ops_t *ops)
{
    for (int i = 0; ops && gw_adapters[i] && i < GW_CFG_MAX_ADAPTERS; i++)
        if (gw_adapters[i] == ops)
            return i;
    return -1;
}

int gw_config_adapter_index_of(const gw_adapter_ops_t *ops) { return gw_config_adapter_index(ops); }

const void *gw_config_section(const gw_cfg_ctx_t *ctx, const char *name)
{
    int i = gw_config_adapter_index(gw_adapter_find(name));
    if (!ctx || !ctx->cfg || i < 0 || (size_t)i >= ctx->cfg->n_sections)
        return NULL;
    return ctx->cfg->sections[i];
}

/* ---- declared fields, fingerprints ------------------------------------- */

int gw_field_decl_add(gw_field_decl_t **decls, size_t *n, const char *field, const gw_path_t *path,
                      const char *unit, bool writable, int line)
{
    gw_field_decl_t *d = realloc(*decls, (*n + 1) * sizeof *d);
    if (!d)
        return -ENOMEM;
    *decls = d;
    gw_field_decl_t *e = &d[*n];
    memset(e, 0, sizeof *e);
    e->field = strdup(field);
    e->unit = unit ? strdup(unit) : NULL;
    if (!e->field || (unit && !e->unit)) {
        free(e->field);
        free(e->unit);
        return -ENOMEM;
    }
    if (path)
        e->path = *path;
    e->writable = writable;
    e->line = line;
    (*n)++;
    return 0;
}

void gw_field_decls_free(gw_field_decl_t **decls, size_t *n)
{
    for (size_t i = 0; *decls && i < *n; i++) {
        free((*decls)[i].field);
        free((*decls)[i].unit);
    }
    free(*decls);
    *decls = NULL;
    *n = 0;
}

void gw_fnv_bytes(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ull;
    }
}

void gw_fnv_str(uint64_t *h, const char *s)
{
    uint64_t len = s ? strlen(s) : UINT64_MAX;
    gw_fnv_bytes(h, &len, sizeof len);
    if (s)
        gw_fnv_bytes(h, s, strlen(s));
}

/* ---- sections ---------------------------------------------------------- */

static int h_section(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)obj;
    const gw_adapter_conf_ops_t *conf = gw_adapters[k->offset]->conf;
    gw_config_t *c = ctx->cfg;
    if (c->sections[k->offset]) {
        conf->free_section(c->sections[k->offset]);
        c->sections[k->offset] = NULL;
    }
    return conf->parse_section(ctx, s, &c->sections[k->offset]);
}

int gw_config_h_adapters(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                         void *obj)
{
    (void)k, (void)obj;
    gw_cfg_key_t keys[GW_CFG_MAX_ADAPTERS];
    size_t n = 0;
    for (size_t i = 0; gw_adapters[i] && i < GW_CFG_MAX_ADAPTERS; i++) {
        const gw_adapter_conf_ops_t *conf = gw_adapters[i]->conf;
        if (!conf || !conf->parse_section)
            continue;
        keys[n++] = (gw_cfg_key_t){gw_adapters[i]->name, GW_CFG_ANY, "the adapter's settings",
                                   false, h_section, i, 0, 0};
    }
    return gw_config_walk(ctx, s, "adapters", keys, n, NULL, NULL);
}

int gw_config_sections_finish(gw_cfg_ctx_t *ctx)
{
    gw_config_t *c = ctx->cfg;
    for (size_t i = 0; i < c->n_sections; i++) {
        const gw_adapter_conf_ops_t *conf = gw_adapters[i]->conf;
        c->section_fps[i] = conf && conf->section_fingerprint
                                ? conf->section_fingerprint(c->sections[i])
                                : 0;
    }
    return 0;
}

void gw_config_free_sections(gw_config_t *c)
{
    for (size_t i = 0; c->sections && i < c->n_sections; i++)
        if (c->sections[i])
            gw_adapters[i]->conf->free_section(c->sections[i]);
    free(c->sections);
    free(c->section_fps);
    c->sections = NULL;
    c->section_fps = NULL;
    c->n_sections = 0;
}

/* ---- device and template keys ------------------------------------------ */

static int h_adapter_key(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                         void *obj)
{
    gw_cfg_parts_t *p = obj;
    size_t ai = k->offset >> 8, ki = k->offset & 0xff;
    const gw_adapter_conf_ops_t *conf = gw_adapters[ai]->conf;
    if (!p->parts[ai]) {
        int rc = conf->new_part(&p->parts[ai]);
        if (rc < 0)
            return rc;
    }
    if (!p->part_s[ai])
        p->part_s[ai] = s;
    return conf->keys[ki].handler(ctx, s, &conf->keys[ki], p->parts[ai]);
}

int gw_config_adapter_keys(gw_cfg_key_t *keys, size_t *n, size_t max)
{
    for (size_t i = 0; gw_adapters[i] && i < GW_CFG_MAX_ADAPTERS; i++) {
        const gw_adapter_conf_ops_t *conf = gw_adapters[i]->conf;
        for (size_t j = 0; conf && j < conf->n_keys; j++) {
            if (*n >= max)
                return -EINVAL;
            keys[*n] = conf->keys[j];
            keys[*n].handler = h_adapter_key;
            keys[*n].offset = i << 8 | j;
            (*n)++;
        }
    }
    return 0;
}

void gw_config_check_foreign_parts(gw_cfg_ctx_t *ctx, const gw_cfg_parts_t *own,
                                   const gw_cfg_parts_t *m, const char *adapter)
{
    const gw_cfg_parts_t *p = m ? m : own;
    for (size_t i = 0; gw_adapters[i] && i < GW_CFG_MAX_ADAPTERS; i++) {
        if (!p->parts[i] || strcmp(gw_adapters[i]->name, adapter) == 0)
            continue;
        const config_setting_t *at = own->part_s[i] ? own->part_s[i]
                                     : own->adapter_s ? own->adapter_s
                                                      : own->group;
        gw_config_error(ctx, at, "%s %s only for adapter = \"%s\", got adapter = \"%s\"",
                        gw_adapters[i]->conf->keys_text,
                        gw_adapters[i]->conf->n_keys > 1 ? "are" : "is", gw_adapters[i]->name,
                        adapter);
    }
}

int gw_config_merge_adapter_parts(const gw_cfg_parts_t *base, const gw_cfg_parts_t *over,
                                  gw_cfg_parts_t *out)
{
    for (size_t i = 0; gw_adapters[i] && i < GW_CFG_MAX_ADAPTERS; i++) {
        const void *b = base ? base->parts[i] : NULL, *o = over->parts[i];
        out->part_s[i] = over->part_s[i];
        if (!b && !o)
            continue;
        int rc = gw_adapters[i]->conf->merge_part(b, o, &out->parts[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void gw_config_free_adapter_parts(gw_cfg_parts_t *p)
{
    for (size_t i = 0; gw_adapters[i] && i < GW_CFG_MAX_ADAPTERS; i++) {
        if (p->parts[i])
            gw_adapters[i]->conf->free_part(p->parts[i]);
        p->parts[i] = NULL;
    }
}

int gw_config_finish_adapter(gw_cfg_ctx_t *ctx, const gw_cfg_parts_t *own, gw_cfg_parts_t *m,
                             const char *where, gw_field_decl_t **own_decls, size_t *n_own)
{
    gw_config_device_t *d = &m->dev;
    d->ops = gw_adapter_find(d->adapter);
    int ai = gw_config_adapter_index(d->ops);
    const gw_adapter_conf_ops_t *conf = d->ops ? d->ops->conf : NULL;
    if (ai < 0 || !conf)
        return 0;
    gw_adapter_conf_dev_t dev = {.where = where, .group = own->group, .line = d->line,
                                 .address = d->address};
    int rc = conf->finish_part(ctx, ctx->cfg->sections[ai], m->parts[ai], &dev);
    if (rc < 0) {
        free(dev.default_address);
        return rc;
    }
    if (dev.default_address && !d->address)
        d->address = dev.default_address;
    else
        free(dev.default_address);
    /* The part moves into the device, which owns it from now on. */
    d->part = m->parts[ai];
    m->parts[ai] = NULL;
    if (!d->part)
        return 0;
    rc = conf->declare(d->part, &d->decls, &d->n_decls);
    if (rc == 0 && own->parts[ai])
        rc = conf->declare(own->parts[ai], own_decls, n_own);
    return rc;
}

/* ---- the device's key -------------------------------------------------- */

int gw_config_device_key(const gw_config_device_t *d, char *buf, size_t size)
{
    if (!d || !buf || !d->adapter)
        return -EINVAL;
    const char *addr = d->address ? d->address : d->endpoint;
    if (!addr)
        return -EINVAL;
    int n = snprintf(buf, size, "%s:%s", d->adapter, addr);
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return 0;
}

int gw_config_adapter_devices(const gw_config_t *c, const gw_adapter_ops_t *ops,
                              gw_adapter_device_t **out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    size_t n = 0;
    for (size_t i = 0; i < c->n_devices; i++)
        n += c->devices[i].ops == ops;
    gw_adapter_device_t *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < c->n_devices; i++) {
        const gw_config_device_t *d = &c->devices[i];
        if (d->ops != ops)
            continue;
        char key[512];
        char *copy = gw_config_device_key(d, key, sizeof key) == 0 ? strdup(key) : NULL;
        if (!copy) {
            gw_config_adapter_devices_free(&v, k);
            return -ENOMEM;
        }
        v[k++] = (gw_adapter_device_t){.key = copy, .endpoint = d->endpoint, .conf = d->part,
                                       .line = d->line};
    }
    *out = v;
    *out_n = k;
    return 0;
}

void gw_config_adapter_devices_free(gw_adapter_device_t **v, size_t n)
{
    for (size_t i = 0; *v && i < n; i++)
        free((char *)(*v)[i].key);
    free(*v);
    *v = NULL;
}
