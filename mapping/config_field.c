/*
 * mapping/config_field.c - the entries of `resources` (initial values and
 * field mappings), and the check that every field an adapter declares
 * lands somewhere in a unit that converts.
 *
 * What the mapping layer knows (default semantic map, unit conversions) is
 * asked through mapping/mapping.h rather than copied here, so a message
 * never lists a kind or a unit the gateway would then refuse.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "mapping.h"

/* Candidates for messages and suggestions; each is shown only when the
 * mapping layer actually knows it. */
static const char *const kind_names[] = {
    "temperature", "humidity", "pressure", "illuminance", "voltage", "battery_voltage",
    "current", "power", "energy", "frequency", "distance", "co2", "concentration", "loudness",
    "percentage", "depth", "ph", "power_factor", "generic", "acceleration_x", "acceleration_y",
    "acceleration_z", "digital_input", "digital_output", "on_off", "presence", "battery", "rssi",
    "link_quality", "snr", "latitude", "longitude", "altitude",
};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

static const char *const unit_names[] = {
    "Cel", "°C", "C",   "degC", "Celsius", "F",  "°F", "degF", "Fahrenheit", "K",  "Kelvin",
    "%RH", "%",  "RH",  "kWh",  "Wh",      "hPa", "mbar", "Pa", "kPa",       "V",  "mV",
    "A",   "mA", "kW",  "W",    "lx",      "Hz", "m",  "ppm", "dB",         "dBm", "G",
};
#define N_UNITS (sizeof unit_names / sizeof unit_names[0])


static void known_kinds(char *list, size_t size)
{
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < N_KINDS && o < size; i++)
        if (gw_mapping_default(kind_names[i]))
            o += (size_t)snprintf(list + o, size - o, "%s%s", o ? ", " : "", kind_names[i]);
}

/* The LwM2M unit of resource rid of object oid: the default map's when a
 * kind lands there, else the unit of the resource's definition. */
static const char *target_unit(const gw_registry_t *reg, uint16_t oid, uint16_t rid)
{
    for (size_t i = 0; i < N_KINDS; i++) {
        const gw_field_default_t *fd = gw_mapping_default(kind_names[i]);
        if (fd && fd->oid == oid && fd->rid == rid && fd->unit)
            return fd->unit;
    }
    const gw_objdef_t *o = gw_registry_find(reg, oid);
    const gw_resdef_t *r = o ? gw_objdef_find_res(o, rid) : NULL;
    return r && r->units && *r->units ? r->units : NULL;
}

/* Reports at s when unit cannot be converted to the unit of where. */
static void check_unit(gw_cfg_ctx_t *ctx, const config_setting_t *s, int line, const char *unit,
                       const char *to, const char *where)
{
    char q[GW_CFG_QUOTE_SIZE], list[256];
    gw_unit_conv_t conv;
    if (!to) {
        if (s)
            gw_config_error(ctx, s, "cannot convert %s: %s has no unit, expected no unit",
                            gw_config_quote(unit, q, sizeof q), where);
        else
            gw_config_error_at(ctx, line, "cannot convert %s: %s has no unit, expected no unit",
                               gw_config_quote(unit, q, sizeof q), where);
        return;
    }
    if (gw_unit_conv_find(unit, to, &conv) == 0)
        return;
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < N_UNITS && o < sizeof list; i++)
        if (gw_unit_conv_find(unit_names[i], to, &conv) == 0)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", o ? ", " : "",
                                  unit_names[i]);
    if (!o)
        snprintf(list, sizeof list, "\"%s\"", to);
    if (s)
        gw_config_error(ctx, s, "cannot convert %s to \"%s\" (the unit of %s), expected one of %s",
                        gw_config_quote(unit, q, sizeof q), to, where, list);
    else
        gw_config_error_at(ctx, line, "cannot convert %s to \"%s\" (the unit of %s), expected "
                                      "one of %s", gw_config_quote(unit, q, sizeof q), to, where,
                           list);
}

static bool finite_number(gw_cfg_ctx_t *ctx, const config_setting_t *s, double *out)
{
    int t = config_setting_type(s);
    double v = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                      : (double)config_setting_get_int64(s);
    if (!isfinite(v)) {
        gw_config_error(ctx, s, "\"%s\" must be a finite number", config_setting_name(s));
        return false;
    }
    *out = v;
    return true;
}

/* ---- resources entries ------------------------------------------------- */

enum { E_FIELD, E_PATH, E_VALUE, E_SCALE, E_OFFSET, E_MIN, E_MAX, E_UNIT, E_APPTYPE, E_WRITABLE,
       E_N };

/* No handlers: the walk only records which setting each key is, since what
 * an entry means depends on whether it has a field. */
static const gw_cfg_key_t entry_keys[] = {
    {"field", GW_CFG_STRING, "a string (the adapter's field name)", false, NULL, E_FIELD, 0, 0},
    {"path", GW_CFG_STRING, "a string \"/object/instance/resource[/instance]\"", false, NULL,
     E_PATH, 0, 0},
    {"value", GW_CFG_ANY, "a value of the resource's type", false, NULL, E_VALUE, 0, 0},
    {"scale", GW_CFG_NUMBER, "a number (factor)", false, NULL, E_SCALE, 0, 0},
    {"offset", GW_CFG_NUMBER, "a number (added after scale)", false, NULL, E_OFFSET, 0, 0},
    {"min", GW_CFG_NUMBER, "a number (lowest value stored)", false, NULL, E_MIN, 0, 0},
    {"max", GW_CFG_NUMBER, "a number (highest value stored)", false, NULL, E_MAX, 0, 0},
    {"unit", GW_CFG_STRING, "a string (the unit the adapter reports in)", false, NULL, E_UNIT,
     0, 0},
    {"application_type", GW_CFG_STRING, "a string (/x/y/5750)", false, NULL, E_APPTYPE, 0, 0},
    {"writable", GW_CFG_BOOL, "true or false", false, NULL, E_WRITABLE, 0, 0},
};

static int push_field(gw_cfg_parts_t *p, gw_config_field_t *f)
{
    gw_config_device_t *d = &p->dev;
    if (d->n_fields == p->cap_fields) {
        size_t cap = p->cap_fields ? p->cap_fields * 2 : 4;
        gw_config_field_t *n = realloc(d->fields, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        d->fields = n;
        p->cap_fields = cap;
    }
    d->fields[d->n_fields++] = *f;
    return 0;
}

/* Checks of an explicit path (or the default map's resource) against the
 * registry. label gets "/3303/1/5700 (Sensor Value)". */
static bool check_field_resource(gw_cfg_ctx_t *ctx, const config_setting_t *at,
                                 const config_setting_t *const *e, const gw_path_t *p,
                                 const char *shown, char *label, size_t lsize)
{
    char q[GW_CFG_QUOTE_SIZE];
    const gw_objdef_t *o = gw_registry_find(ctx->reg, p->id[0]);
    if (!o) {
        gw_config_error(ctx, at, "unknown object %u in path %s: not in the registry or "
                                 "objects_dir", p->id[0], gw_config_quote(shown, q, sizeof q));
        return false;
    }
    if (!o->multiple && p->id[1] != 0 && p->id[1] != GW_ID_NONE) {
        gw_config_error(ctx, at, "object %u (%s) is single-instance, expected instance 0 in path "
                                 "%s", o->id, o->name, gw_config_quote(shown, q, sizeof q));
        return false;
    }
    const gw_resdef_t *r = gw_objdef_find_res(o, p->id[2]);
    if (!r) {
        gw_config_error(ctx, at, "resource %u is not defined in object %u (%s)", p->id[2], o->id,
                        o->name);
        return false;
    }
    snprintf(label, lsize, "%s (%s)", shown, r->name);
    if (o->id <= 2) {
        gw_config_error(ctx, at, "%s belongs to object %u (%s), which the gateway manages itself, "
                                 "expected a sensor object such as /3303/0/5700", label, o->id,
                        o->name);
        return false;
    }
    /* A multiple resource holds one value per instance: a field fills one
     * of them, named by the path's fourth id (/3/0/7/0). */
    if (r->multiple && p->len == 3) {
        gw_config_error(ctx, at, "%s has multiple instances, expected a single-instance resource "
                                 "or one instance such as %s/0 for a field", label, shown);
        return false;
    }
    if (!r->multiple && p->len == 4) {
        gw_config_error(ctx, at, "%s is a single-instance resource, expected "
                                 "/object/instance/resource without a resource instance", label);
        return false;
    }
    bool writable = e[E_WRITABLE] && config_setting_get_bool(e[E_WRITABLE]);
    /* An Execute resource carries no reading: a writable field routes the
     * Execute to the device instead. */
    if (r->type == GW_TYPE_NONE && (r->ops & GW_OP_E) && writable)
        return true;
    bool numeric = r->type == GW_TYPE_FLOAT || r->type == GW_TYPE_INTEGER ||
                   r->type == GW_TYPE_UNSIGNED;
    if (!numeric && r->type != GW_TYPE_BOOLEAN && r->type != GW_TYPE_STRING) {
        gw_config_error(ctx, at, "%s is %s, expected a Float, Integer, Unsigned, Boolean or "
                                 "String resource for a field", label,
                        r->type == GW_TYPE_NONE ? "executable" : gw_type_name((gw_type_t)r->type));
        return false;
    }
    if (!(r->ops & GW_OP_R)) {
        gw_config_error(ctx, at, "%s is not readable, expected a resource with the R operation "
                                 "for a field", label);
        return false;
    }
    bool ok = true;
    if (writable && !(r->ops & (GW_OP_W | GW_OP_E))) {
        gw_config_error(ctx, e[E_WRITABLE], "%s is read-only, writable needs a resource with the "
                                            "W or E operation", label);
        ok = false;
    }
    if (!numeric) {
        static const int numeric_keys[] = {E_SCALE, E_OFFSET, E_MIN, E_MAX, E_UNIT};
        for (size_t i = 0; i < sizeof numeric_keys / sizeof numeric_keys[0]; i++)
            if (e[numeric_keys[i]]) {
                gw_config_error(ctx, e[numeric_keys[i]], "\"%s\" applies to numeric resources, "
                                                         "%s is %s",
                                entry_keys[numeric_keys[i]].name, label,
                                gw_type_name((gw_type_t)r->type));
                ok = false;
            }
    }
    if (e[E_APPTYPE] && !gw_objdef_find_res(o, 5750)) {
        gw_config_error(ctx, e[E_APPTYPE], "application_type needs resource 5750 (Application "
                                           "Type), which object %u (%s) does not have", o->id,
                        o->name);
        ok = false;
    }
    return ok;
}

static int field_entry(gw_cfg_ctx_t *ctx, gw_cfg_parts_t *p, const config_setting_t *g,
                       const config_setting_t *const *e)
{
    char q[GW_CFG_QUOTE_SIZE], label[160], list[512];
    const char *name = config_setting_get_string(e[E_FIELD]);
    gw_config_field_t f = {.scale = 1.0, .line = (int)config_setting_source_line(g)};
    bool ok = true;
    if (!*name) {
        gw_config_error(ctx, e[E_FIELD], "\"field\" must not be empty, expected the adapter's "
                                         "field name");
        return 0;
    }
    for (size_t i = 0; i < p->dev.n_fields; i++)
        if (strcmp(p->dev.fields[i].field, name) == 0) {
            gw_config_error(ctx, e[E_FIELD], "duplicate field %s (first mapped at line %d)",
                            gw_config_quote(name, q, sizeof q), p->dev.fields[i].line);
            return 0;
        }
    if (e[E_VALUE]) {
        gw_config_error(ctx, e[E_VALUE], "\"value\" cannot be combined with field, expected a "
                                         "separate { path = ...; value = ...; } entry for an "
                                         "initial value");
        ok = false;
    }
    if (e[E_SCALE]) {
        ok &= finite_number(ctx, e[E_SCALE], &f.scale);
        if (f.scale == 0.0) {
            gw_config_error(ctx, e[E_SCALE], "\"scale\" must not be 0, expected a factor such as "
                                             "0.1");
            ok = false;
        }
    }
    if (e[E_OFFSET])
        ok &= finite_number(ctx, e[E_OFFSET], &f.offset);
    if (e[E_MIN])
        ok &= f.has_min = finite_number(ctx, e[E_MIN], &f.min);
    if (e[E_MAX])
        ok &= f.has_max = finite_number(ctx, e[E_MAX], &f.max);
    if (f.has_min && f.has_max && f.max < f.min) {
        gw_config_error(ctx, e[E_MAX], "max (%g) must be at least min (%g)", f.max, f.min);
        ok = false;
    }
    if (e[E_APPTYPE] && !*config_setting_get_string(e[E_APPTYPE])) {
        gw_config_error(ctx, e[E_APPTYPE], "\"application_type\" must not be empty, expected a "
                                           "string for /x/y/5750");
        ok = false;
    }
    f.writable = e[E_WRITABLE] && config_setting_get_bool(e[E_WRITABLE]);
    const char *to = NULL;
    char where[48];
    if (e[E_PATH]) {
        const char *ps = config_setting_get_string(e[E_PATH]);
        if (gw_path_parse(ps, &f.path) < 0 || f.path.len < 3) {
            gw_config_error(ctx, e[E_PATH], "bad path %s for field %s, expected "
                                            "/object/instance/resource[/instance]",
                            gw_config_quote(ps, q, sizeof q), name);
            return 0;
        }
        gw_path_format(&f.path, where, sizeof where);
        if (!check_field_resource(ctx, e[E_PATH], e, &f.path, where, label, sizeof label))
            return 0;
        to = target_unit(ctx->reg, f.path.id[0], f.path.id[2]);
    } else {
        const gw_field_default_t *fd = gw_mapping_default(name);
        if (!fd) {
            const char *best = gw_config_suggest(name, kind_names, N_KINDS);
            if (best && gw_mapping_default(best)) {
                gw_config_error(ctx, e[E_FIELD], "field %s has no path and is not a known kind, "
                                                 "did you mean \"%s\"? (or give path = "
                                                 "\"/object/instance/resource\")",
                                gw_config_quote(name, q, sizeof q), best);
            } else {
                known_kinds(list, sizeof list);
                gw_config_error(ctx, e[E_FIELD], "field %s has no path and is not a known kind, "
                                                 "expected path = \"/object/instance/resource\" "
                                                 "or one of: %s",
                                gw_config_quote(name, q, sizeof q), list);
            }
            return 0;
        }
        if (fd->has_riid)
            snprintf(where, sizeof where, "/%u/x/%u/%u", fd->oid, fd->rid, fd->riid);
        else
            snprintf(where, sizeof where, "/%u/x/%u", fd->oid, fd->rid);
        /* The instance is allocated later: only object and resource count. */
        gw_path_t dp = gw_mapping_default_path(fd, GW_ID_NONE);
        if (gw_registry_find(ctx->reg, fd->oid) &&
            !check_field_resource(ctx, e[E_FIELD], e, &dp, where, label, sizeof label))
            return 0;
        to = fd->unit;
    }
    if (e[E_UNIT]) {
        const char *u = config_setting_get_string(e[E_UNIT]);
        int before = ctx->errors;
        check_unit(ctx, e[E_UNIT], 0, u, to, where);
        ok &= ctx->errors == before;
    }
    if (!ok)
        return 0;
    f.field = strdup(name);
    f.unit = e[E_UNIT] ? strdup(config_setting_get_string(e[E_UNIT])) : NULL;
    f.application_type = e[E_APPTYPE] ? strdup(config_setting_get_string(e[E_APPTYPE])) : NULL;
    if (!f.field || (e[E_UNIT] && !f.unit) || (e[E_APPTYPE] && !f.application_type) ||
        push_field(p, &f) < 0) {
        gw_config_free_field(&f);
        return -ENOMEM;
    }
    return 0;
}

/* An entry without a field sets a resource: path and value, nothing of a
 * field mapping. */
static int value_entry(gw_cfg_ctx_t *ctx, gw_cfg_parts_t *p, const config_setting_t *g,
                       const char *where, const config_setting_t *const *e)
{
    bool ok = true;
    for (int j = E_SCALE; j < E_N; j++)
        if (e[j]) {
            gw_config_error(ctx, e[j], "\"%s\" belongs to a field mapping, expected "
                                       "field = \"...\" in this entry",
                            entry_keys[j].name);
            ok = false;
        }
    for (int j = E_PATH; j <= E_VALUE; j++)
        if (!config_setting_get_member(g, entry_keys[j].name)) {
            gw_config_error(ctx, g, "%s is missing required key \"%s\" (%s)", where,
                            entry_keys[j].name, entry_keys[j].expect);
            ok = false;
        }
    if (ok && e[E_PATH] && e[E_VALUE])
        return gw_config_add_value(ctx, p, e[E_PATH], e[E_VALUE]);
    return 0;
}

int gw_config_h_resources(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                          void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    gw_cfg_list_t it = {.list = list, .name = "resources",
                        .shape = "{ path = ...; value = ...; }"};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *e[E_N] = {0};
        int rc = gw_config_walk(ctx, it.group, it.where, entry_keys, E_N, e, NULL);
        if (rc == 0 && e[E_FIELD])
            rc = field_entry(ctx, p, it.group, e);
        /* A field of the wrong type was reported by the walk. */
        else if (rc == 0 && !config_setting_get_member(it.group, "field"))
            rc = value_entry(ctx, p, it.group, it.where, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void gw_config_check_decls(gw_cfg_ctx_t *ctx, const gw_field_decl_t *own, size_t n_own,
                           const gw_config_device_t *d)
{
    char q[GW_CFG_QUOTE_SIZE], q2[GW_CFG_QUOTE_SIZE], list[512], where[48], from[96];
    const gw_adapter_conf_ops_t *conf = d->ops ? d->ops->conf : NULL;
    const char *noun = conf && conf->field_noun ? conf->field_noun : "field";
    for (size_t i = 0; i < d->n_decls; i++) {
        const gw_field_decl_t *sm = &d->decls[i];
        /* An entry of a template is reported on the device, where the
         * mismatch with the device's own mapping arises. */
        bool mine = false;
        for (size_t j = 0; j < n_own && !mine; j++)
            mine = own[j].line == sm->line && strcmp(own[j].field, sm->field) == 0;
        int line = mine ? sm->line : d->line;
        from[0] = '\0';
        if (!mine)
            snprintf(from, sizeof from, " (%s entry of template \"%s\", line %d)",
                     d->ops ? d->ops->name : "adapter",
                     d->template_name ? d->template_name : "?", sm->line);
        const gw_config_field_t *f = NULL;
        for (size_t j = 0; j < d->n_fields && !f; j++)
            if (strcmp(d->fields[j].field, sm->field) == 0)
                f = &d->fields[j];
        const gw_path_t *path = f && f->path.len ? &f->path : sm->path.len ? &sm->path : NULL;
        const char *to = NULL;
        if (path) {
            gw_path_format(path, where, sizeof where);
            to = target_unit(ctx->reg, path->id[0], path->id[2]);
        } else {
            const gw_field_default_t *fd = gw_mapping_default(sm->field);
            if (!fd && !f) {
                if (conf && conf->decl_paths) {
                    gw_config_error_at(ctx, line, "%s %s%s lands nowhere, expected a path in "
                                                  "its entry, a resources entry for it, or a "
                                                  "known kind such as \"voltage\"",
                                       noun, gw_config_quote(sm->field, q, sizeof q), from);
                } else {
                    known_kinds(list, sizeof list);
                    gw_config_error_at(ctx, line, "%s %s%s lands nowhere, expected a resources "
                                                  "entry { field = %s; path = ...; } or one of: %s",
                                       noun, gw_config_quote(sm->field, q, sizeof q), from,
                                       gw_config_quote(sm->field, q2, sizeof q2), list);
                }
                continue;
            }
            if (!fd)
                continue;
            if (fd->has_riid)
                snprintf(where, sizeof where, "/%u/x/%u/%u", fd->oid, fd->rid, fd->riid);
            else
                snprintf(where, sizeof where, "/%u/x/%u", fd->oid, fd->rid);
            to = fd->unit;
        }
        /* A field mapping's own unit says what the readings are in. */
        if (sm->unit && !(f && f->unit)) {
            char what[160];
            snprintf(what, sizeof what, "%s%s", where, from);
            check_unit(ctx, NULL, line, sm->unit, to, what);
        }
    }
}

int gw_config_copy_field(gw_config_field_t *dst, const gw_config_field_t *src)
{
    *dst = *src;
    dst->field = strdup(src->field);
    dst->unit = src->unit ? strdup(src->unit) : NULL;
    dst->application_type = src->application_type ? strdup(src->application_type) : NULL;
    if (!dst->field || (src->unit && !dst->unit) ||
        (src->application_type && !dst->application_type)) {
        gw_config_free_field(dst);
        return -ENOMEM;
    }
    return 0;
}

void gw_config_free_field(gw_config_field_t *f)
{
    free(f->field);
    free(f->unit);
    free(f->application_type);
    f->field = f->unit = f->application_type = NULL;
}

