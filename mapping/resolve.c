/*
 * mapping/resolve.c - a configured device's fields resolved once into
 * targets (object/instance/resource, type, conversion), so that a reading
 * needs no decision beyond finding its field.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping_internal.h"

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
    if (err && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* The unit a resource's values are in: the default map's, else the DDF's
 * (dBm, m, s, ...), else the configured one (a Generic Sensor reporting
 * "ppm" says so in 5701). "/100" is the DDF's way of writing a percentage. */
static const char *target_unit(const gw_field_default_t *def, const gw_resdef_t *rd,
                               const char *configured)
{
    if (def && def->unit)
        return def->unit;
    if (rd && rd->units[0] && strcmp(rd->units, "/100") != 0)
        return rd->units;
    return configured;
}

static int check_explicit(const gw_config_field_t *f, const gw_registry_t *reg,
                          const gw_resdef_t **out_rd, char *err, size_t size)
{
    char p[32];
    gw_path_format(&f->path, p, sizeof p);
    if (f->path.len != 3 && f->path.len != 4)
        return fail(err, size,
                    "field \"%s\": path %s must name a resource (/object/instance/resource) or "
                    "an instance of one (/object/instance/resource/instance)",
                    f->field, p);
    uint16_t oid = f->path.id[0];
    if (oid <= 2)
        return fail(err, size,
                    "field \"%s\": %s belongs to object %u, which the gateway manages itself; "
                    "expected a sensor object such as /3303/0/5700",
                    f->field, p, oid);
    const gw_objdef_t *od = gw_registry_find(reg, oid);
    if (!od)
        return fail(err, size,
                    "field \"%s\": object %u of %s is not in the registry; add its DDF to objects_dir",
                    f->field, oid, p);
    if (!od->multiple && f->path.id[1] != 0)
        return fail(err, size, "field \"%s\": object %u (%s) is single-instance, expected /%u/0/%u",
                    f->field, oid, od->name, oid, f->path.id[2]);
    const gw_resdef_t *rd = gw_objdef_find_res(od, f->path.id[2]);
    if (!rd)
        return fail(err, size, "field \"%s\": object %u (%s) has no resource %u", f->field, oid,
                    od->name, f->path.id[2]);
    /* A multiple resource holds one value per instance: a field names the
     * instance it fills (/3/0/7/0), a single resource takes no fourth id. */
    if (rd->multiple && f->path.len == 3)
        return fail(err, size,
                    "field \"%s\": %s (%s) has multiple instances, expected one of them such as "
                    "%s/0",
                    f->field, p, rd->name, p);
    if (!rd->multiple && f->path.len == 4)
        return fail(err, size,
                    "field \"%s\": %s (%s) is a single resource, expected /%u/%u/%u without an "
                    "instance",
                    f->field, p, rd->name, oid, f->path.id[1], f->path.id[2]);
    switch ((gw_type_t)rd->type) {
    case GW_TYPE_STRING:
    case GW_TYPE_INTEGER:
    case GW_TYPE_UNSIGNED:
    case GW_TYPE_FLOAT:
    case GW_TYPE_BOOLEAN:
    case GW_TYPE_TIME:
        break;
    case GW_TYPE_NONE:
        /* An Execute resource carries no reading; it only makes sense as
         * the way a server's Execute reaches the device. */
        if (f->writable)
            break;
        return fail(err, size,
                    "field \"%s\": %s (%s) is an Execute resource, readings cannot land there; "
                    "set writable = true to route Executes to the device",
                    f->field, p, rd->name);
    default:
        return fail(err, size,
                    "field \"%s\": %s (%s) is of type %s, expected a number, boolean or string "
                    "resource",
                    f->field, p, rd->name, gw_type_name((gw_type_t)rd->type));
    }
    *out_rd = rd;
    return 0;
}

static int set_conv(gw_map_target_t *t, const char *unit, char *err, size_t size)
{
    if (!unit || !t->lwm2m_unit)
        return 0;
    if (gw_unit_conv_find(unit, t->lwm2m_unit, &t->conv) < 0)
        return fail(err, size, "field \"%s\": no conversion from unit \"%s\" to \"%s\" (object %u), "
                    "expected a unit such as \"%s\"",
                    t->field, unit, t->lwm2m_unit, t->path.id[0], t->lwm2m_unit);
    return 0;
}

static const gw_field_decl_t *find_decl(const gw_config_device_t *d, const char *field)
{
    for (size_t i = 0; i < d->n_decls; i++)
        if (d->decls[i].field && strcmp(d->decls[i].field, field) == 0)
            return &d->decls[i];
    return NULL;
}

static bool field_configured(const gw_config_device_t *d, const char *field)
{
    for (size_t i = 0; i < d->n_fields; i++)
        if (d->fields[i].field && strcmp(d->fields[i].field, field) == 0)
            return true;
    return false;
}

/* One target from a config field f (may be NULL for a declared field
 * without override) and/or the field s its adapter declares. iid is left
 * for the allocation pass when *out_alloc is set. */
static int resolve_one(const gw_config_device_t *d, const gw_config_field_t *f,
                       const gw_field_decl_t *s, const gw_registry_t *reg, gw_map_target_t *t,
                       bool *out_alloc, char *err, size_t size)
{
    const char *name = f ? f->field : s->field;
    const char *unit = f && f->unit ? f->unit : s ? s->unit : NULL;
    *out_alloc = false;
    if (!name || !name[0])
        return fail(err, size, "a field has no name, expected field = \"temperature\" or similar");
    /* The resources entry's path wins over the adapter's own. */
    gw_config_field_t tmp;
    if ((!f || !f->path.len) && s && s->path.len) {
        tmp = f ? *f : (gw_config_field_t){.field = s->field, .scale = 1, .line = s->line};
        tmp.path = s->path;
        tmp.writable |= s->writable;
        f = &tmp;
    }
    if (f && f->path.len) {
        const gw_resdef_t *rd = NULL;
        int rc = check_explicit(f, reg, &rd, err, size);
        if (rc < 0)
            return rc;
        const gw_field_default_t *def = gw_mapping_default_for_path(f->path.id[0], f->path.id[2]);
        *t = (gw_map_target_t){
            .field = name,
            .path = f->path,
            .type = (gw_type_t)rd->type,
            .lwm2m_unit = target_unit(def, rd, unit),
        };
    } else {
        const gw_field_default_t *def = gw_mapping_default(name);
        if (!def)
            return fail(err, size,
                        "field \"%s\" of device \"%s\" is not a known kind (temperature, humidity, "
                        "pressure, ...); give it a path such as path = \"/3300/0/5700\"",
                        name, d->endpoint ? d->endpoint : "?");
        gw_mapping_target_from_default(t, name, def, 0, reg);
        if (t->type == GW_TYPE_NONE)
            return fail(err, size, "field \"%s\": the registry lacks /%u/x/%u of the default map",
                        name, def->oid, def->rid);
        if (!def->unit) {
            const gw_resdef_t *rd = gw_objdef_find_res(gw_registry_find(reg, def->oid), def->rid);
            t->lwm2m_unit = target_unit(NULL, rd, unit);
        }
        *out_alloc = def->per_instance;
    }
    t->scale = 1.0;
    if (f) {
        t->scale = f->scale;
        t->offset = f->offset;
        t->has_min = f->has_min;
        t->has_max = f->has_max;
        t->min = f->min;
        t->max = f->max;
        t->application_type = f->application_type;
        t->writable = f->writable;
        t->line = f->line;
        if (f->has_min && f->has_max && f->min > f->max)
            return fail(err, size, "field \"%s\": min %g is above max %g", name, f->min, f->max);
    }
    if (s && s->writable)
        t->writable = true;
    return set_conv(t, unit, err, size);
}

static bool iid_taken(const gw_map_target_t *t, size_t n, const bool *pending, uint16_t oid,
                      uint16_t iid)
{
    for (size_t i = 0; i < n; i++)
        if (!pending[i] && t[i].path.id[0] == oid && t[i].path.id[1] == iid)
            return true;
    return false;
}

int gw_mapping_resolve(const gw_config_device_t *d, const gw_registry_t *reg, gw_map_target_t **out,
                       size_t *out_n, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    if (!d || !out || !out_n)
        return fail(err, err_size, "no device to resolve");
    *out = NULL;
    *out_n = 0;
    size_t cap = d->n_fields + d->n_decls;
    gw_map_target_t *t = calloc(cap ? cap : 1, sizeof(*t));
    bool *pending = calloc(cap ? cap : 1, sizeof(*pending));
    size_t n = 0;
    int rc = 0;
    if (!t || !pending) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < d->n_fields; i++) {
        const gw_config_field_t *f = &d->fields[i];
        for (size_t j = 0; j < i; j++)
            if (f->field && d->fields[j].field && strcmp(f->field, d->fields[j].field) == 0) {
                rc = fail(err, err_size, "field \"%s\" is mapped twice (lines %d and %d)", f->field,
                          d->fields[j].line, f->line);
                goto fail;
            }
        rc = resolve_one(d, f, f->field ? find_decl(d, f->field) : NULL, reg, &t[n], &pending[n], err,
                         err_size);
        if (rc < 0)
            goto fail;
        n++;
    }
    for (size_t i = 0; i < d->n_decls; i++) {
        const gw_field_decl_t *s = &d->decls[i];
        if (s->field && (field_configured(d, s->field) || find_decl(d, s->field) != s))
            continue;
        rc = resolve_one(d, NULL, s, reg, &t[n], &pending[n], err, err_size);
        if (rc < 0)
            goto fail;
        t[n].line = s->line;
        n++;
    }
    /* Per-instance kinds take, in config order, the lowest ids of their
     * object that no explicit path and no earlier kind holds. */
    for (size_t i = 0; i < n; i++) {
        if (!pending[i])
            continue;
        uint16_t oid = t[i].path.id[0], iid = 0;
        while (iid_taken(t, n, pending, oid, iid))
            iid++;
        t[i].path.id[1] = iid;
        pending[i] = false;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (gw_path_cmp(&t[i].path, &t[j].path) == 0) {
                char p[32];
                rc = fail(err, err_size, "fields \"%s\" and \"%s\" both land on %s", t[j].field,
                          t[i].field, gw_path_format(&t[i].path, p, sizeof p));
                goto fail;
            }
    free(pending);
    *out = t;
    *out_n = n;
    return 0;
fail:
    free(t);
    free(pending);
    return rc;
}
