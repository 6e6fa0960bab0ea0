/*
 * mapping/config_device.c - the devices list of the configuration: each
 * virtual client's endpoint, adapter, Device object strings, per-client PSK
 * and initial resource values, checked against the object registry and
 * converted to each resource's declared type.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lwm2m/check.h"
#include "config_internal.h"
#include "mapping.h"

/* One {path, value} entry: the value can only be converted once the path
 * (and so the type) is known. */
typedef struct res_entry {
    const config_setting_t *path_s, *value_s;
    gw_path_t path;
} res_entry_t;

#define DEV(f) offsetof(gw_config_device_t, f)

/* ---- device { } ------------------------------------------------------- */

static const gw_cfg_key_t info_keys[] = {
    {"manufacturer", GW_CFG_STRING, "a string (/3/0/0)", false, gw_config_h_string,
     DEV(manufacturer), 0, 0},
    {"model", GW_CFG_STRING, "a string (/3/0/1)", false, gw_config_h_string, DEV(model), 0, 0},
    {"serial", GW_CFG_STRING, "a string (/3/0/2)", false, gw_config_h_string, DEV(serial), 0, 0},
    {"firmware", GW_CFG_STRING, "a string (/3/0/3)", false, gw_config_h_string, DEV(firmware), 0,
     0},
};

static int h_info(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    uint64_t seen = 0;
    int rc = gw_config_walk(ctx, s, "the device group", info_keys,
                            sizeof info_keys / sizeof info_keys[0], &p->dev, &seen);
    for (unsigned i = 0; i < 4; i++) {
        p->info[i] = config_setting_get_member(s, info_keys[i].name);
        if (seen & ((uint64_t)1 << i))
            p->set |= GW_CFG_SET_INFO0 << i;
    }
    return rc;
}

/* ---- values ------------------------------------------------------------ */

static bool parse_u16(const char *s, const char **end, uint16_t *out)
{
    unsigned long v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && v <= 65535)
        v = v * 10 + (unsigned long)(*p++ - '0');
    if (p == s || v > 65535)
        return false;
    *out = (uint16_t)v;
    *end = p;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Convert setting s to the declared type of r. what is "value" or
 * "value[2]", label "/3303/0/5700 (Sensor Value, Float)". Reports and
 * returns false on a mismatch. Owned bytes go to out (freed by the caller
 * through gw_config_free_device once stored). */
static bool convert(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *what,
                    const char *label, const gw_resdef_t *r, gw_value_t *out)
{
    int t = config_setting_type(s);
    bool is_int = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    const char *str = t == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
    const char *expect;
    memset(out, 0, sizeof *out);
    out->type = (gw_type_t)r->type;
    switch (r->type) {
    case GW_TYPE_FLOAT:
        expect = "a number";
        if (is_int) {
            out->v.f = (double)config_setting_get_int64(s);
            return true;
        }
        if (t == CONFIG_TYPE_FLOAT) {
            out->v.f = config_setting_get_float(s);
            if (isfinite(out->v.f))
                return true;
            gw_config_error(ctx, s, "%s for %s must be a finite number", what, label);
            return false;
        }
        break;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        expect = r->type == GW_TYPE_TIME ? "an integer (seconds since 1970)" : "an integer";
        if (is_int) {
            out->v.i = config_setting_get_int64(s);
            return true;
        }
        break;
    case GW_TYPE_UNSIGNED:
        expect = "an integer >= 0";
        if (is_int) {
            long long v = config_setting_get_int64(s);
            if (v >= 0) {
                out->v.u = (uint64_t)v;
                return true;
            }
            gw_config_error(ctx, s, "%s for %s must be an integer >= 0, got %lld", what, label, v);
            return false;
        }
        break;
    case GW_TYPE_BOOLEAN:
        expect = "true or false";
        if (t == CONFIG_TYPE_BOOL) {
            out->v.b = config_setting_get_bool(s) != 0;
            return true;
        }
        break;
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        expect = "a string";
        if (str && !gw_utf8_valid((const uint8_t *)str, strlen(str))) {
            gw_config_error(ctx, s, "%s for %s must be valid UTF-8", what, label);
            return false;
        }
        if (str) {
            char *copy = strdup(str);
            if (!copy) {
                ctx->oom = true;
                return false;
            }
            out->v.bytes.ptr = (const uint8_t *)copy;
            out->v.bytes.len = strlen(copy);
            return true;
        }
        break;
    case GW_TYPE_OPAQUE: {
        expect = "a string \"0x\" followed by hex digits, e.g. \"0x01ab\"";
        if (!str)
            break;
        size_t len = strlen(str);
        bool ok = len >= 2 && str[0] == '0' && (str[1] == 'x' || str[1] == 'X') && len % 2 == 0;
        for (size_t i = 2; ok && i < len; i++)
            ok = hexval(str[i]) >= 0;
        if (!ok)
            break;
        /* One byte more so that an empty value still owns an allocation. */
        uint8_t *b = malloc((len - 2) / 2 + 1);
        if (!b) {
            ctx->oom = true;
            return false;
        }
        for (size_t i = 0; i < (len - 2) / 2; i++)
            b[i] = (uint8_t)(hexval(str[2 + 2 * i]) << 4 | hexval(str[3 + 2 * i]));
        out->v.bytes.ptr = b;
        out->v.bytes.len = (len - 2) / 2;
        return true;
    }
    case GW_TYPE_OBJLNK: {
        expect = "a string \"oid:iid\", e.g. \"3:0\"";
        const char *p;
        if (str && parse_u16(str, &p, &out->v.objlnk.oid) && *p == ':' &&
            parse_u16(p + 1, &p, &out->v.objlnk.iid) && *p == '\0')
            return true;
        break;
    }
    default:
        gw_config_error(ctx, s, "%s has no value type in its definition and cannot be set",
                        label);
        return false;
    }
    /* Show the text only when a string was right but its form was not
     * (Opaque, Objlnk); otherwise the kind of value is the mistake. */
    if (str && (r->type == GW_TYPE_OPAQUE || r->type == GW_TYPE_OBJLNK)) {
        char q[GW_CFG_QUOTE_SIZE];
        gw_config_error(ctx, s, "%s for %s must be %s, got %s", what, label, expect,
                        gw_config_quote(str, q, sizeof q));
    } else {
        gw_config_error(ctx, s, "%s for %s must be %s, got %s", what, label, expect,
                        gw_config_type_desc(s));
    }
    return false;
}

void gw_config_free_value(gw_value_t *v)
{
    if (v->type == GW_TYPE_STRING || v->type == GW_TYPE_CORELNK || v->type == GW_TYPE_OPAQUE)
        free((void *)(uintptr_t)v->v.bytes.ptr);
    v->v.bytes.ptr = NULL;
}

void gw_config_free_device(gw_config_device_t *d)
{
    gw_config_free_access(d);
    free(d->endpoint);
    free(d->adapter);
    free(d->manufacturer);
    free(d->model);
    free(d->serial);
    free(d->firmware);
    free(d->psk_identity);
    if (d->dtls)
        gw_config_dtls_free(d->dtls);
    free(d->dtls);
    d->dtls = NULL;
    if (d->part && d->ops && d->ops->conf)
        d->ops->conf->free_part(d->part);
    d->part = NULL;
    gw_field_decls_free(&d->decls, &d->n_decls);
    for (size_t i = 0; i < d->n_resources; i++)
        gw_config_free_value(&d->resources[i].value);
    free(d->resources);
    free(d->address);
    free(d->template_name);
    for (size_t i = 0; i < d->n_fields; i++)
        gw_config_free_field(&d->fields[i]);
    free(d->fields);
    memset(d, 0, sizeof *d);
}

int gw_config_copy_value(gw_value_t *dst, const gw_value_t *src)
{
    *dst = *src;
    if (src->type != GW_TYPE_STRING && src->type != GW_TYPE_CORELNK &&
        src->type != GW_TYPE_OPAQUE)
        return 0;
    /* One byte more: an empty value still owns an allocation, and strings
     * stay NUL-terminated. */
    uint8_t *b = malloc(src->v.bytes.len + 1);
    if (!b) {
        dst->v.bytes.ptr = NULL;
        return -ENOMEM;
    }
    if (src->v.bytes.len)
        memcpy(b, src->v.bytes.ptr, src->v.bytes.len);
    b[src->v.bytes.len] = 0;
    dst->v.bytes.ptr = b;
    return 0;
}

/* ---- resources ------------------------------------------------------- */

static int add_record(gw_cfg_parts_t *st, const gw_path_t *entry, const gw_path_t *path,
                      const gw_value_t *v, int line)
{
    gw_config_device_t *d = &st->dev;
    if (d->n_resources == st->cap_res) {
        size_t cap = st->cap_res ? st->cap_res * 2 : 8;
        gw_config_resource_t *r = realloc(d->resources, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        d->resources = r;
        gw_path_t *e = realloc(st->res_entry, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        st->res_entry = e;
        st->cap_res = cap;
    }
    st->res_entry[d->n_resources] = *entry;
    gw_config_resource_t *r = &d->resources[d->n_resources++];
    r->path = *path;
    r->value = *v;
    r->line = line;
    return 0;
}

/* A path already given in this device, by an earlier resource or by the
 * device group (/3/0/0..3). Reports and returns true. */
static bool duplicate_path(gw_cfg_ctx_t *ctx, gw_cfg_parts_t *st, const config_setting_t *s,
                           const gw_path_t *p)
{
    char buf[32];
    for (size_t i = 0; i < st->dev.n_resources; i++) {
        const gw_config_resource_t *r = &st->dev.resources[i];
        bool clash = gw_path_cmp(&r->path, p) == 0 ||
                     (p->len == 3 && r->path.len == 4 && gw_path_has_prefix(&r->path, p));
        if (clash) {
            gw_config_error(ctx, s, "duplicate path %s (first set at line %d)",
                            gw_path_format(p, buf, sizeof buf), r->line);
            return true;
        }
    }
    if (p->id[0] == 3 && p->id[1] == 0 && p->id[2] <= 3 && st->info[p->id[2]]) {
        gw_config_error(ctx, s, "%s is already set by device.%s (line %u), set it only once",
                        gw_path_format(p, buf, sizeof buf), info_keys[p->id[2]].name,
                        config_setting_source_line(st->info[p->id[2]]));
        return true;
    }
    return false;
}

int gw_config_add_value(gw_cfg_ctx_t *ctx, gw_cfg_parts_t *st, const config_setting_t *path_s,
                        const config_setting_t *value_s)
{
    char buf[32], label[160], q[GW_CFG_QUOTE_SIZE];
    const char *str = config_setting_get_string(path_s);
    res_entry_t entry = {.path_s = path_s, .value_s = value_s}, *e = &entry;
    if (gw_path_parse(str, &e->path) < 0 || e->path.len < 3) {
        gw_config_error(ctx, path_s, "bad path %s, expected /object/instance/resource[/instance]",
                        gw_config_quote(str, q, sizeof q));
        return 0;
    }
    const gw_path_t *p = &e->path;
    const gw_objdef_t *o = gw_registry_find(ctx->reg, p->id[0]);
    if (!o) {
        gw_config_error(ctx, e->path_s, "unknown object %u in path %s: not in the registry or "
                                        "objects_dir", p->id[0], gw_config_quote(str, q, sizeof q));
        return 0;
    }
    if (!o->multiple && p->id[1] != 0) {
        gw_config_error(ctx, e->path_s, "object %u (%s) is single-instance, expected instance 0 "
                                        "in path %s", o->id, o->name,
                        gw_config_quote(str, q, sizeof q));
        return 0;
    }
    const gw_resdef_t *r = gw_objdef_find_res(o, p->id[2]);
    if (!r) {
        gw_config_error(ctx, e->path_s, "resource %u is not defined in object %u (%s)", p->id[2],
                        o->id, o->name);
        return 0;
    }
    gw_path_t rpath = gw_path_make(p->id[0], p->id[1], p->id[2], GW_ID_NONE);
    gw_path_format(&rpath, buf, sizeof buf);
    if ((r->ops & GW_OP_E) || r->type == GW_TYPE_NONE) {
        gw_config_error(ctx, e->path_s, "%s (%s) is executable and takes no value", buf, r->name);
        return 0;
    }
    if (!r->multiple && p->len == 4) {
        gw_config_error(ctx, e->path_s, "%s (%s) is a single-instance resource, expected the "
                                        "path %s", str, r->name, buf);
        return 0;
    }
    int vt = config_setting_type(e->value_s);
    bool is_list = vt == CONFIG_TYPE_LIST || vt == CONFIG_TYPE_ARRAY;
    snprintf(label, sizeof label, "%s (%s, %s)", p->len == 4 ? str : buf, r->name,
             gw_type_name((gw_type_t)r->type));
    if (r->multiple && p->len == 3 && !is_list) {
        gw_config_error(ctx, e->value_s, "%s has multiple instances, expected a list value = "
                                         "[ ... ] or a path %s/<instance>", label, buf);
        return 0;
    }
    if (!is_list || p->len == 4) {
        if (duplicate_path(ctx, st, e->path_s, p))
            return 0;
        gw_value_t v;
        if (!convert(ctx, e->value_s, "value", label, r, &v))
            return ctx->oom ? -ENOMEM : 0;
        int rc = add_record(st, p, p, &v, (int)config_setting_source_line(e->value_s));
        if (rc < 0)
            gw_config_free_value(&v);
        return rc;
    }
    /* A list for a multiple resource: instances 0..n-1. */
    int n = config_setting_length(e->value_s);
    if (n == 0) {
        gw_config_error(ctx, e->value_s, "value for %s is an empty list, expected at least one "
                                         "instance", label);
        return 0;
    }
    if (n > 65535) {
        gw_config_error(ctx, e->value_s, "value for %s has %d instances, at most 65535 allowed",
                        label, n);
        return 0;
    }
    if (duplicate_path(ctx, st, e->path_s, p))
        return 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *el = config_setting_get_elem(e->value_s, (unsigned)i);
        char what[32];
        snprintf(what, sizeof what, "value[%d]", i);
        gw_value_t v;
        if (!convert(ctx, el, what, label, r, &v)) {
            if (ctx->oom)
                return -ENOMEM;
            continue;
        }
        gw_path_t ip = gw_path_make(p->id[0], p->id[1], p->id[2], (uint16_t)i);
        int rc = add_record(st, p, &ip, &v, (int)config_setting_source_line(el));
        if (rc < 0) {
            gw_config_free_value(&v);
            return rc;
        }
    }
    return 0;
}

/* ---- one device or template ------------------------------------------- */

static int h_endpoint(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    const char *ep = config_setting_get_string(s);
    p->endpoint_s = s;
    if (!gw_config_check_endpoint(ctx, s, "endpoint", ep))
        return 0;
    if (ctx->cfg->name && strcmp(ep, ctx->cfg->name) == 0) {
        gw_config_error(ctx, s, "endpoint \"%s\" is the gateway's own name (gateway.name), "
                                "expected a different endpoint", ep);
        return 0;
    }
    p->set |= GW_CFG_SET_ENDPOINT;
    p->dev.endpoint = strdup(ep);
    return p->dev.endpoint ? 0 : -ENOMEM;
}

static int h_address(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    gw_cfg_parts_t *p = obj;
    p->address_s = s;
    if (!*config_setting_get_string(s)) {
        gw_config_error(ctx, s, "\"address\" must not be empty, expected %s", k->expect);
        return 0;
    }
    p->set |= GW_CFG_SET_ADDRESS;
    return gw_config_h_string(ctx, s, k, &p->dev);
}

/* endpoint and address name one device: a template shared by many cannot
 * carry them. */
static int h_not_in_template(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                             void *obj)
{
    (void)obj;
    gw_config_error(ctx, s, "\"%s\" is not allowed in a template, expected it in each device "
                            "that uses the template", k->name);
    return 0;
}

/* "static, simulated" from the adapters compiled in. */
static void adapter_list(char *list, size_t size)
{
    size_t o = 0;
    list[0] = '\0';
    for (size_t j = 0; gw_adapters[j] && o < size; j++)
        o += (size_t)snprintf(list + o, size - o, "%s%s", j ? ", " : "", gw_adapters[j]->name);
}

static int h_adapter(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    const char *name = config_setting_get_string(s);
    p->adapter_s = s;
    if (!gw_adapter_find(name)) {
        char list[256], q[GW_CFG_QUOTE_SIZE];
        adapter_list(list, sizeof list);
        gw_config_error(ctx, s, "unknown adapter %s, expected one of: %s",
                        gw_config_quote(name, q, sizeof q), list);
        return 0;
    }
    p->set |= GW_CFG_SET_ADAPTER;
    p->dev.adapter = strdup(name);
    return p->dev.adapter ? 0 : -ENOMEM;
}

static int h_report(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                    void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    if (strcmp(v, "send") != 0 && strcmp(v, "observe") != 0) {
        gw_config_error(ctx, s, "report must be \"observe\" or \"send\", got %s",
                        gw_config_quote(v, q, sizeof q));
        return 0;
    }
    p->set |= GW_CFG_SET_REPORT;
    p->dev.report_send = strcmp(v, "send") == 0;
    return 0;
}

static int h_send_interval(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                           void *obj)
{
    gw_cfg_parts_t *p = obj;
    int before = ctx->errors;
    int rc = gw_config_h_int32(ctx, s, k, &p->dev);
    if (rc == 0 && ctx->errors == before)
        p->set |= GW_CFG_SET_SEND_INTERVAL;
    return rc;
}

static int h_dev_binding(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                         void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    const char *v = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    if (strcmp(v, "U") != 0 && strcmp(v, "UQ") != 0) {
        gw_config_error(ctx, s, "binding must be \"U\" or \"UQ\" (queue mode), got %s",
                        gw_config_quote(v, q, sizeof q));
        return 0;
    }
    p->set |= GW_CFG_SET_BINDING;
    p->dev.queue_mode = strcmp(v, "UQ") == 0;
    return 0;
}

static int h_queue_time(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                        void *obj)
{
    gw_cfg_parts_t *p = obj;
    int before = ctx->errors;
    int rc = gw_config_h_int32(ctx, s, k, &p->dev);
    if (rc == 0 && ctx->errors == before)
        p->set |= GW_CFG_SET_QUEUE_TIME;
    return rc;
}

static int h_dev_bootstrap(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                           void *obj)
{
    (void)ctx, (void)k;
    gw_cfg_parts_t *p = obj;
    p->set |= GW_CFG_SET_BOOTSTRAP;
    p->dev.bootstrap = config_setting_get_bool(s) != 0;
    return 0;
}

static int h_dev_psk_identity(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                              const gw_cfg_key_t *k, void *obj)
{
    gw_cfg_parts_t *p = obj;
    if (!*config_setting_get_string(s))
        return gw_config_h_nonempty_string(ctx, s, k, &p->dev);
    p->set |= GW_CFG_SET_PSK_IDENTITY;
    return gw_config_h_string(ctx, s, k, &p->dev);
}

static int h_dev_psk_key(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                         void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    gw_config_psk_key(ctx, s, p->dev.psk_key, &p->dev.psk_key_len);
    if (p->dev.psk_key_len)
        p->set |= GW_CFG_SET_PSK_KEY;
    return 0;
}

static int h_template_ref(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                          void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    p->template_s = s;
    if (!*config_setting_get_string(s)) {
        gw_config_error(ctx, s, "\"template\" must not be empty, expected the name of an entry of "
                                "templates");
        return 0;
    }
    p->template_ref = strdup(config_setting_get_string(s));
    return p->template_ref ? 0 : -ENOMEM;
}

static int h_template_name(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                           void *obj)
{
    (void)k;
    gw_cfg_parts_t *p = obj;
    if (!*config_setting_get_string(s)) {
        gw_config_error(ctx, s, "\"name\" must not be empty, expected the template's name");
        return 0;
    }
    p->name = strdup(config_setting_get_string(s));
    return p->name ? 0 : -ENOMEM;
}

/* The device's DTLS keys, in the group being walked (gw_cfg_parts_t). */
#define PARTS_DTLS offsetof(gw_cfg_parts_t, dtls)
#define K_ADAPTER                                                                                \
    {"adapter", GW_CFG_STRING, "a string naming the adapter, e.g. \"static\"", false, h_adapter, \
     0, 0, 0}
#define K_COMMON                                                                                 \
    {"device", GW_CFG_GROUP, "a group { manufacturer = ...; model = ...; }", false, h_info, 0, 0, \
     0},                                                                                         \
        {"psk_identity", GW_CFG_STRING, "a string", false, h_dev_psk_identity, DEV(psk_identity), \
         0, 0},                                                                                  \
        {"psk_key", GW_CFG_STRING, "a string of hex digits", false, h_dev_psk_key, 0, 0, 0},     \
        {"security", GW_CFG_STRING, "\"psk\", \"rpk\" or \"x509\"", false, gw_config_h_dtls_security, \
         PARTS_DTLS, 0, 0},                                                                      \
        GW_CFG_DTLS_KEYS(PARTS_DTLS),                                                            \
        {"resources", GW_CFG_LIST,                                                               \
         "a list of groups ( { path = ...; value = ...; } or { field = ...; path = ...; }, ... )", \
         false, gw_config_h_resources, 0, 0, 0},                                                 \
        {"template", GW_CFG_STRING, "a string (the name of an entry of templates)", false,       \
         h_template_ref, 0, 0, 0},                                                               \
        {"report", GW_CFG_STRING, "\"observe\" or \"send\"", false, h_report, 0, 0, 0},           \
        {"send_interval", GW_CFG_INT, "an integer (seconds, at least 1)", false,                \
         h_send_interval, DEV(send_interval_s), 1, 86400},                                       \
        {"binding", GW_CFG_STRING, "\"U\" or \"UQ\" (queue mode)", false, h_dev_binding, 0, 0, 0},  \
        {"queue_time", GW_CFG_INT, "an integer (seconds, at least 1)", false, h_queue_time,     \
         DEV(queue_time_s), 1, 86400},                                                           \
        {"bootstrap", GW_CFG_BOOL, "true or false", false, h_dev_bootstrap, 0, 0, 0},           \
        {"access", GW_CFG_LIST,                                                                  \
         "a list of groups ( { object = ...; instance = ...; owner = ...; acl = { ... }; }, ... )", \
         false, gw_config_h_access, 0, 0, 0},                                                    \
        {"access_owner", GW_CFG_INT,                                                             \
         "an integer (the short_server_id owning every instance no access entry names)", false,  \
         gw_config_h_access_owner, 0, 1, 65534}

static const gw_cfg_key_t device_keys_common[] = {
    {"endpoint", GW_CFG_STRING, "a string (the client's endpoint name)", false, h_endpoint, 0, 0,
     0},
    {"address", GW_CFG_STRING, "a string (the device's address for its adapter)", false,
     h_address, DEV(address), 0, 0},
    K_ADAPTER,
    K_COMMON,
};

static const gw_cfg_key_t template_keys_common[] = {
    {"name", GW_CFG_STRING, "a string (the template's name)", true, h_template_name, 0, 0, 0},
    K_ADAPTER,
    K_COMMON,
    {"endpoint", GW_CFG_ANY, "", false, h_not_in_template, 0, 0, 0},
    {"address", GW_CFG_ANY, "", false, h_not_in_template, 0, 0, 0},
};
#undef DEV

/* The common keys and every adapter's own keys: a group is checked once,
 * so that a misspelt adapter key gets its "did you mean" too. */
static int keys_for(bool is_template, gw_cfg_key_t *keys, size_t *n)
{
    const gw_cfg_key_t *common = is_template ? template_keys_common : device_keys_common;
    size_t nc = is_template ? sizeof template_keys_common / sizeof template_keys_common[0]
                            : sizeof device_keys_common / sizeof device_keys_common[0];
    memcpy(keys, common, nc * sizeof *keys);
    *n = nc;
    return gw_config_adapter_keys(keys, n, GW_CFG_MAX_KEYS);
}

int gw_config_parse_parts(gw_cfg_ctx_t *ctx, const config_setting_t *g, const char *where,
                          bool is_template, gw_cfg_parts_t *p)
{
    int before = ctx->errors;
    p->group = g;
    p->dev.line = (int)config_setting_source_line(g);
    gw_cfg_key_t keys[GW_CFG_MAX_KEYS];
    size_t nk;
    int rc = keys_for(is_template, keys, &nk);
    if (rc == 0)
        rc = gw_config_walk(ctx, g, where, keys, nk, p, NULL);
    if (rc < 0)
        return rc;
    /* Only a clash within one group is its own mistake; one across a
     * template and a device is reported on the device. */
    if (p->dev.adapter)
        gw_config_check_foreign_parts(ctx, p, NULL, p->dev.adapter);
    /* Files read once per group, a template's for all its devices. */
    gw_config_dtls_t *d = &p->dtls;
    if (gw_config_dtls_given(d) &&
        gw_config_dtls_finish(ctx, g, d, -1) < 0)
        return -ENOMEM;
    p->bad = ctx->errors != before;
    return ctx->oom ? -ENOMEM : 0;
}

void gw_config_free_parts(gw_cfg_parts_t *p)
{
    gw_config_free_adapter_parts(p);
    gw_config_free_device(&p->dev);
    gw_config_dtls_free(&p->dtls);
    free(p->res_entry);
    free(p->name);
    free(p->template_ref);
    memset(p, 0, sizeof *p);
}

/* ---- the devices list ------------------------------------------------- */

typedef struct ep_ref {
    const char *key; /* endpoint, "<adapter>:<address>" or an adapter's identity text */
    int line;
    const config_setting_t *s;     /* the key's setting, NULL when not in the device */
    const config_setting_t *group; /* the device's group */
    const char *bus; /* a physical key's identity: the same identity is the identity
                        check's to report */
    bool derived; /* address defaulted to the endpoint */
    int seq;      /* the device's place in the list: "first" is the earlier one, also
                     across @include files, where lines do not compare */
} ep_ref_t;

/* "line 12" when r is in the same file as at, else "file:12": the message
 * is shown at at's file:line and must say where the first one is. */
static void ref_place(const gw_cfg_ctx_t *ctx, const ep_ref_t *r, const ep_ref_t *at, char *buf,
                      size_t size)
{
    char b1[4096], b2[4096];
    const config_setting_t *rs = r->s ? r->s : r->group;
    const config_setting_t *as = at->s ? at->s : at->group;
    const char *f1 = gw_config_shown_file(ctx, rs ? config_setting_source_file(rs) : NULL, b1,
                                          sizeof b1);
    const char *f2 = gw_config_shown_file(ctx, as ? config_setting_source_file(as) : NULL, b2,
                                          sizeof b2);
    if (!f1)
        f1 = ctx->file;
    if (!f2)
        f2 = ctx->file;
    if (strcmp(f1, f2) == 0)
        snprintf(buf, size, "line %d", r->line);
    else
        snprintf(buf, size, "%s:%d", f1, r->line);
}

static int cmp_ep(const void *pa, const void *pb)
{
    const ep_ref_t *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

/* Sorting finds duplicates in O(n log n): fleets of thousands of devices
 * are expected. */
static void report_duplicates(gw_cfg_ctx_t *ctx, ep_ref_t *refs, size_t n, const char *what,
                              const char *expected)
{
    qsort(refs, n, sizeof *refs, cmp_ep);
    for (size_t i = 1, first = 0; i < n; i++) {
        if (strcmp(refs[first].key, refs[i].key) != 0) {
            first = i;
            continue;
        }
        /* Both addresses came from their endpoints: the duplicate endpoint
         * is the one mistake, already reported. */
        if (refs[first].derived && refs[i].derived)
            continue;
        if (refs[first].bus && refs[i].bus && strcmp(refs[first].bus, refs[i].bus) == 0)
            continue;
        char q[GW_CFG_QUOTE_SIZE], place[4200];
        ref_place(ctx, &refs[first], &refs[i], place, sizeof place);
        gw_config_error(ctx, refs[i].s ? refs[i].s : refs[i].group,
                        "duplicate %s %s (first defined at %s)%s%s", what,
                        gw_config_quote(refs[i].key, q, sizeof q), place,
                        expected ? ", expected " : "", expected ? expected : "");
    }
}

/* Identities are "<adapter>\x1f<text>": each adapter's duplicates are
 * reported in its words, with the adapter prefix cut off. */
static void report_units(gw_cfg_ctx_t *ctx, ep_ref_t *units, size_t n, bool physical)
{
    qsort(units, n, sizeof *units, cmp_ep);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        size_t plen = (size_t)(strchr(units[i].key, '\x1f') - units[i].key);
        while (j < n && strncmp(units[j].key, units[i].key, plen + 1) == 0)
            j++;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)plen, units[i].key);
        const gw_adapter_conf_ops_t *conf = gw_adapter_find(name)->conf;
        for (size_t k = i; k < j; k++)
            units[k].key += plen + 1;
        report_duplicates(ctx, units + i, j - i, physical ? conf->physical_what : conf->identity_what,
                          physical ? conf->physical_expect : conf->identity_expect);
        i = j;
    }
}

/* The checks that need the whole device, templates applied. own is the
 * device's group as written: messages point at its keys when it has them. */
static int finish_device(gw_cfg_ctx_t *ctx, const gw_cfg_parts_t *own, gw_cfg_parts_t *m,
                         const char *where)
{
    gw_config_device_t *d = &m->dev;
    char q[GW_CFG_QUOTE_SIZE];
    int before = ctx->errors;
    if (!d->adapter) {
        char list[256];
        adapter_list(list, sizeof list);
        gw_config_error(ctx, own->group, "%s has no adapter, expected adapter = \"...\" in the "
                                         "device or its template (one of: %s)", where, list);
        return 0;
    }
    gw_config_check_foreign_parts(ctx, own, m, d->adapter);
    gw_field_decl_t *own_decls = NULL;
    size_t n_own = 0;
    int arc = gw_config_finish_adapter(ctx, own, m, where, &own_decls, &n_own);
    if (arc < 0 || ctx->errors != before) {
        gw_field_decls_free(&own_decls, &n_own);
        return arc < 0 ? arc : 0;
    }
    if (!d->endpoint) {
        if (!d->address) {
            gw_config_error(ctx, own->group, "%s has neither endpoint nor address, expected "
                                             "endpoint = \"...\" or an address to build it from "
                                             "gateway.endpoint_pattern", where);
            gw_field_decls_free(&own_decls, &n_own);
            return 0;
        }
        int rc = gw_config_expand_pattern(ctx, d, d->line, &d->endpoint);
        if (rc < 0) {
            gw_field_decls_free(&own_decls, &n_own);
            return rc == -ENOMEM ? rc : 0;
        }
        if (!gw_config_check_endpoint(ctx, own->group, "endpoint built from endpoint_pattern",
                                      d->endpoint)) {
            free(d->endpoint);
            d->endpoint = NULL;
            gw_field_decls_free(&own_decls, &n_own);
            return 0;
        }
        if (ctx->cfg->name && strcmp(d->endpoint, ctx->cfg->name) == 0) {
            gw_config_error(ctx, own->group, "endpoint %s built from endpoint_pattern is the "
                                             "gateway's own name (gateway.name), expected a "
                                             "different endpoint",
                            gw_config_quote(d->endpoint, q, sizeof q));
            gw_field_decls_free(&own_decls, &n_own);
            return 0;
        }
    }
    if (!d->address) {
        d->address = strdup(d->endpoint);
        if (!d->address) {
            gw_field_decls_free(&own_decls, &n_own);
            return -ENOMEM;
        }
    }
    gw_config_check_decls(ctx, own_decls, n_own, d);
    gw_field_decls_free(&own_decls, &n_own);
    if (ctx->errors != before || ctx->oom)
        return ctx->oom ? -ENOMEM : 0;
    /* The mapping layer knows how fields land (instances, clashes between
     * overrides and defaults): asking it here makes --check see what a
     * start would see. */
    gw_map_target_t *targets = NULL;
    size_t n = 0;
    char err[512] = "";
    int rc = gw_mapping_resolve(d, ctx->reg, &targets, &n, err, sizeof err);
    free(targets);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0)
        gw_config_error_at(ctx, d->line, "%s", err[0] ? err : "the device's fields cannot be "
                                                              "mapped to resources");
    return 0;
}

int gw_config_parse_devices(gw_cfg_ctx_t *ctx, const config_setting_t *list)
{
    gw_config_t *c = ctx->cfg;
    int n = config_setting_length(list);
    if (n == 0)
        return 0;
    c->devices = calloc((size_t)n, sizeof *c->devices);
    ep_ref_t *eps = calloc((size_t)n, sizeof *eps);
    ep_ref_t *keys = calloc((size_t)n, sizeof *keys);
    char **key_text = calloc((size_t)n, sizeof *key_text);
    ep_ref_t *units = calloc((size_t)n, sizeof *units);
    char **unit_text = calloc((size_t)n, sizeof *unit_text);
    ep_ref_t *phys = calloc((size_t)n, sizeof *phys);
    char **phys_text = calloc((size_t)n, sizeof *phys_text);
    size_t n_eps = 0, n_keys = 0, n_units = 0, n_phys = 0;
    int rc = 0;
    if (!c->devices || !eps || !keys || !key_text || !units || !unit_text || !phys || !phys_text) {
        rc = -ENOMEM;
        goto out;
    }
    gw_cfg_list_t it = {.list = list, .name = "devices",
                        .shape = "{ endpoint = ...; adapter = ...; }"};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *g = it.group;
        const char *where = it.where;
        int i = it.index;
        gw_cfg_parts_t own = {0}, m = {0};
        rc = gw_config_parse_parts(ctx, g, where, false, &own);
        if (rc == 0)
            rc = gw_config_apply_template(ctx, &own, &m);
        if (rc == 0 && !m.bad)
            rc = finish_device(ctx, &own, &m, where);
        if (rc < 0) {
            gw_config_free_parts(&own);
            gw_config_free_parts(&m);
            goto out;
        }
        gw_config_device_t *d = &c->devices[c->n_devices++];
        *d = m.dev;
        memset(&m.dev, 0, sizeof m.dev);
        /* Out of line, moved: most devices have no DTLS keys of their own. */
        if (gw_config_dtls_given(&m.dtls)) {
            d->dtls = malloc(sizeof *d->dtls);
            if (!d->dtls) {
                gw_config_free_parts(&own);
                gw_config_free_parts(&m);
                rc = -ENOMEM;
                goto out;
            }
            *d->dtls = m.dtls;
            memset(&m.dtls, 0, sizeof m.dtls);
        }
        gw_config_free_parts(&m);
        d->fingerprint = gw_config_fingerprint(d);
        if (d->endpoint) {
            eps[n_eps].key = d->endpoint;
            eps[n_eps].s = own.endpoint_s;
            eps[n_eps].group = g;
            eps[n_eps].seq = i;
            eps[n_eps].line = own.endpoint_s ? (int)config_setting_source_line(own.endpoint_s)
                                             : d->line;
            n_eps++;
        }
        const gw_adapter_conf_ops_t *conf = d->ops ? d->ops->conf : NULL;
        char ident[256];
        bool has_ident = conf && conf->identity && conf->identity(d->part, ident, sizeof ident) == 0;
        if (has_ident) {
            /* One physical device answers however the entries are named:
             * two entries for it would poll it
             * twice and one would lose its fields to the other at start. */
            if (asprintf(&unit_text[n_units], "%s\x1f%s", d->adapter, ident) < 0) {
                unit_text[n_units] = NULL;
                gw_config_free_parts(&own);
                rc = -ENOMEM;
                goto out;
            }
            units[n_units].key = unit_text[n_units];
            units[n_units].s = config_setting_get_member(g, conf->identity_key);
            units[n_units].group = g;
            units[n_units].seq = i;
            units[n_units].line = units[n_units].s
                                      ? (int)config_setting_source_line(units[n_units].s)
                                      : d->line;
            n_units++;
            /* Another entry of the section (a second bus) may reach the
             * same device: compared apart, so one mistake is one message. */
            char phys_buf[512];
            int ai = gw_config_adapter_index(d->ops);
            if (conf->physical && conf->physical(c->sections[ai], d->part, phys_buf,
                                                 sizeof phys_buf) == 0) {
                if (asprintf(&phys_text[n_phys], "%s\x1f%s", d->adapter, phys_buf) < 0) {
                    phys_text[n_phys] = NULL;
                    gw_config_free_parts(&own);
                    rc = -ENOMEM;
                    goto out;
                }
                phys[n_phys] = units[n_units - 1];
                phys[n_phys].key = phys_text[n_phys];
                phys[n_phys].bus = unit_text[n_units - 1];
                n_phys++;
            }
        }
        /* An address derived from the adapter's identity is checked as
         * that above; one message per mistake. */
        if (d->adapter && d->address && !(has_ident && !own.address_s)) {
            size_t len = strlen(d->adapter) + strlen(d->address) + 2;
            key_text[n_keys] = malloc(len);
            if (!key_text[n_keys]) {
                gw_config_free_parts(&own);
                rc = -ENOMEM;
                goto out;
            }
            snprintf(key_text[n_keys], len, "%s:%s", d->adapter, d->address);
            keys[n_keys].key = key_text[n_keys];
            keys[n_keys].s = own.address_s;
            keys[n_keys].group = g;
            keys[n_keys].seq = i;
            /* Only an address that is the endpoint repeats an endpoint
             * duplicate already reported. */
            keys[n_keys].derived = !own.address_s && d->endpoint &&
                                   strcmp(d->address, d->endpoint) == 0;
            keys[n_keys].line = own.address_s ? (int)config_setting_source_line(own.address_s)
                                              : d->line;
            n_keys++;
        }
        gw_config_free_parts(&own);
    }
    report_duplicates(ctx, eps, n_eps, "endpoint", NULL);
    report_duplicates(ctx, keys, n_keys, "device (adapter:address)", NULL);
    report_units(ctx, units, n_units, false);
    report_units(ctx, phys, n_phys, true);
out:
    for (size_t i = 0; i < n_phys; i++)
        free(phys_text[i]);
    free(phys_text);
    free(phys);
    for (size_t i = 0; i < n_keys; i++)
        free(key_text[i]);
    free(key_text);
    for (size_t i = 0; i < n_units; i++)
        free(unit_text[i]);
    free(unit_text);
    free(units);
    free(keys);
    free(eps);
    return rc;
}
