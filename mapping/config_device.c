/*
 * mapping/config_device.c - the devices list of the configuration: each
 * virtual client's endpoint, adapter, Device object strings, per-client PSK
 * and initial resource values, checked against the object registry and
 * converted to each resource's declared type.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* Adapters known to the loader. A new adapter kind is one entry here (and
 * its own keys table when it grows some). */
static const char *const adapter_names[] = {"static"};
#define N_ADAPTERS (sizeof adapter_names / sizeof adapter_names[0])

/* One {path, value} entry while its group is walked: the value can only be
 * converted once the path (and so the type) is known. */
typedef struct res_entry {
    const config_setting_t *path_s, *value_s;
    gw_path_t path;
    bool path_ok;
} res_entry_t;

typedef struct dev_state {
    gw_config_device_t *dev;
    size_t cap_res;
    int endpoint_line;
    const config_setting_t *info[4]; /* device.manufacturer..firmware */
} dev_state_t;

/* ---- device { } ------------------------------------------------------- */

#define DEV(f) offsetof(gw_config_device_t, f)
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
    dev_state_t *st = obj;
    for (size_t i = 0; i < 4; i++)
        st->info[i] = config_setting_get_member(s, info_keys[i].name);
    return gw_config_walk(ctx, s, "the device group", info_keys,
                          sizeof info_keys / sizeof info_keys[0], st->dev, NULL);
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

static void free_value(gw_value_t *v)
{
    if (v->type == GW_TYPE_STRING || v->type == GW_TYPE_CORELNK || v->type == GW_TYPE_OPAQUE)
        free((void *)(uintptr_t)v->v.bytes.ptr);
    v->v.bytes.ptr = NULL;
}

void gw_config_free_device(gw_config_device_t *d)
{
    free(d->endpoint);
    free(d->adapter);
    free(d->manufacturer);
    free(d->model);
    free(d->serial);
    free(d->firmware);
    free(d->psk_identity);
    for (size_t i = 0; i < d->n_resources; i++)
        free_value(&d->resources[i].value);
    free(d->resources);
    memset(d, 0, sizeof *d);
}

/* ---- resources ------------------------------------------------------- */

static int h_res_path(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj)
{
    (void)k;
    res_entry_t *e = obj;
    const char *str = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    e->path_s = s;
    if (gw_path_parse(str, &e->path) < 0 || e->path.len < 3) {
        gw_config_error(ctx, s, "bad path %s, expected /object/instance/resource[/instance]",
                        gw_config_quote(str, q, sizeof q));
        return 0;
    }
    e->path_ok = true;
    return 0;
}

static int h_res_value(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                       void *obj)
{
    (void)ctx, (void)k;
    ((res_entry_t *)obj)->value_s = s;
    return 0;
}

static const gw_cfg_key_t res_keys[] = {
    {"path", GW_CFG_STRING, "a string \"/object/instance/resource[/instance]\"", true,
     h_res_path, 0, 0, 0},
    {"value", GW_CFG_ANY, "a value of the resource's type", true, h_res_value, 0, 0, 0},
};

static int add_record(dev_state_t *st, const gw_path_t *path, const gw_value_t *v, int line)
{
    gw_config_device_t *d = st->dev;
    if (d->n_resources == st->cap_res) {
        size_t cap = st->cap_res ? st->cap_res * 2 : 8;
        gw_config_resource_t *r = realloc(d->resources, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        d->resources = r;
        st->cap_res = cap;
    }
    gw_config_resource_t *r = &d->resources[d->n_resources++];
    r->path = *path;
    r->value = *v;
    r->line = line;
    return 0;
}

/* A path already given in this device, by an earlier resource or by the
 * device group (/3/0/0..3). Reports and returns true. */
static bool duplicate_path(gw_cfg_ctx_t *ctx, dev_state_t *st, const config_setting_t *s,
                           const gw_path_t *p)
{
    char buf[32];
    for (size_t i = 0; i < st->dev->n_resources; i++) {
        const gw_config_resource_t *r = &st->dev->resources[i];
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

static int resource(gw_cfg_ctx_t *ctx, dev_state_t *st, const res_entry_t *e)
{
    char buf[32], label[160], q[GW_CFG_QUOTE_SIZE];
    const gw_path_t *p = &e->path;
    const char *str = config_setting_get_string(e->path_s);
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
        int rc = add_record(st, p, &v, (int)config_setting_source_line(e->value_s));
        if (rc < 0)
            free_value(&v);
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
        int rc = add_record(st, &ip, &v, (int)config_setting_source_line(el));
        if (rc < 0) {
            free_value(&v);
            return rc;
        }
    }
    return 0;
}

static int h_resources(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                       void *obj)
{
    (void)k;
    dev_state_t *st = obj;
    int n = config_setting_length(list);
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        char where[64];
        snprintf(where, sizeof where, "resources[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
            gw_config_error(ctx, g, "%s must be a group { path = ...; value = ...; }, got %s",
                            where, gw_config_type_desc(g));
            continue;
        }
        res_entry_t e = {0};
        int rc = gw_config_walk(ctx, g, where, res_keys, sizeof res_keys / sizeof res_keys[0], &e,
                                NULL);
        if (rc < 0)
            return rc;
        if (!e.path_ok || !e.value_s)
            continue;
        rc = resource(ctx, st, &e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- one device ------------------------------------------------------- */

static int h_endpoint(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj)
{
    (void)k;
    dev_state_t *st = obj;
    const char *ep = config_setting_get_string(s);
    if (!gw_config_check_endpoint(ctx, s, "endpoint", ep))
        return 0;
    if (ctx->cfg->name && strcmp(ep, ctx->cfg->name) == 0) {
        gw_config_error(ctx, s, "endpoint \"%s\" is the gateway's own name (gateway.name), "
                                "expected a different endpoint", ep);
        return 0;
    }
    st->endpoint_line = (int)config_setting_source_line(s);
    st->dev->endpoint = strdup(ep);
    return st->dev->endpoint ? 0 : -ENOMEM;
}

static int h_adapter(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    dev_state_t *st = obj;
    const char *name = config_setting_get_string(s);
    size_t i = 0;
    while (i < N_ADAPTERS && strcmp(adapter_names[i], name) != 0)
        i++;
    if (i == N_ADAPTERS) {
        char list[256], q[GW_CFG_QUOTE_SIZE];
        size_t o = 0;
        list[0] = '\0';
        for (size_t j = 0; j < N_ADAPTERS && o < sizeof list; j++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", j ? ", " : "",
                                  adapter_names[j]);
        gw_config_error(ctx, s, "unknown adapter %s, expected one of: %s",
                        gw_config_quote(name, q, sizeof q), list);
        return 0;
    }
    st->dev->adapter = strdup(name);
    return st->dev->adapter ? 0 : -ENOMEM;
}

static int h_dev_psk_identity(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                              const gw_cfg_key_t *k, void *obj)
{
    return gw_config_h_nonempty_string(ctx, s, k, ((dev_state_t *)obj)->dev);
}

static int h_dev_psk_key(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                         void *obj)
{
    (void)k;
    gw_config_device_t *d = ((dev_state_t *)obj)->dev;
    gw_config_psk_key(ctx, s, d->psk_key, &d->psk_key_len);
    return 0;
}

static const gw_cfg_key_t device_keys[] = {
    {"endpoint", GW_CFG_STRING, "a string (the client's endpoint name)", true, h_endpoint, 0, 0,
     0},
    {"adapter", GW_CFG_STRING, "a string naming the adapter, e.g. \"static\"", true, h_adapter, 0,
     0, 0},
    {"device", GW_CFG_GROUP, "a group { manufacturer = ...; model = ...; }", false, h_info, 0, 0,
     0},
    {"psk_identity", GW_CFG_STRING, "a string", false, h_dev_psk_identity, DEV(psk_identity), 0,
     0},
    {"psk_key", GW_CFG_STRING, "a string of hex digits", false, h_dev_psk_key, 0, 0, 0},
    {"resources", GW_CFG_LIST, "a list of groups ( { path = ...; value = ...; }, ... )", false,
     h_resources, 0, 0, 0},
};
#undef DEV

typedef struct ep_ref {
    const char *endpoint;
    int line;
    const config_setting_t *s;
} ep_ref_t;

static int cmp_ep(const void *pa, const void *pb)
{
    const ep_ref_t *a = pa, *b = pb;
    int c = strcmp(a->endpoint, b->endpoint);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

int gw_config_parse_devices(gw_cfg_ctx_t *ctx, const config_setting_t *list)
{
    gw_config_t *c = ctx->cfg;
    int n = config_setting_length(list);
    if (n == 0)
        return 0;
    c->devices = calloc((size_t)n, sizeof *c->devices);
    ep_ref_t *eps = calloc((size_t)n, sizeof *eps);
    size_t n_eps = 0;
    int rc = 0;
    if (!c->devices || !eps) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        char where[32];
        snprintf(where, sizeof where, "devices[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
            gw_config_error(ctx, g, "%s must be a group { endpoint = ...; adapter = ...; }, got %s",
                            where, gw_config_type_desc(g));
            continue;
        }
        dev_state_t st = {.dev = &c->devices[c->n_devices++]};
        st.dev->line = (int)config_setting_source_line(g);
        rc = gw_config_walk(ctx, g, where, device_keys, sizeof device_keys / sizeof device_keys[0],
                            &st, NULL);
        if (rc < 0)
            goto out;
        if (st.dev->endpoint) {
            eps[n_eps].endpoint = st.dev->endpoint;
            eps[n_eps].line = st.endpoint_line;
            eps[n_eps].s = config_setting_get_member(g, "endpoint");
            n_eps++;
        }
    }
    /* Sorting finds duplicates in O(n log n): fleets of thousands of
     * devices are expected. */
    qsort(eps, n_eps, sizeof *eps, cmp_ep);
    for (size_t i = 1, first = 0; i < n_eps; i++) {
        if (strcmp(eps[first].endpoint, eps[i].endpoint) != 0)
            first = i;
        else
            gw_config_error(ctx, eps[i].s, "duplicate endpoint \"%s\" (first defined at line %d)",
                            eps[i].endpoint, eps[first].line);
    }
out:
    free(eps);
    return rc;
}
