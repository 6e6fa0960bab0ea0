/*
 * mapping/mapping.c - the mapping runtime: device keys bound to store
 * clients, and the hot path that turns a reading into gw_store_set calls.
 *
 * Cost of a reading on a known field: one FNV-1a hash of the device key, one
 * bucket walk, a binary search over the device's field names, the
 * conversion, then gw_store_set for the value and for the IPSO housekeeping
 * (5601/5602 only when they move, 5518 always). No allocation and no
 * formatting; both appear only when something is wrong (rate-limited log)
 * or a new field appears (dynamic instance).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "../gateway/loop.h"
#include "../lwm2m/precision.h"
#include "mapping_internal.h"

enum {
    RT_MINMAX = 1 << 0,  /* the object has 5601/5602 and this is its 5700 */
    RT_TS = 1 << 1,      /* the object has 5518 */
    RT_RANGE = 1 << 2,   /* the resource's DDF range applies */
    RT_OWNED = 1 << 3,   /* field name allocated here (dynamic field) */
};

#define UNIT_CACHE 16
#define LIMIT_SLOTS 1024
#define LIMIT_MS 60000

/* Per target state the hot path needs beside the public gw_map_target_t. */
typedef struct rt {
    uint8_t flags;
    gw_unit_conv_t unit_conv;
    char unit[UNIT_CACHE]; /* last convertible unit a reading carried, "" none */
    double lo, hi;       /* RT_RANGE bounds */
} rt_t;

typedef struct mdev {
    struct mdev *next_key, *next_client;
    uint64_t hash;
    char *key;
    gw_sclient_t *c;
    const gw_config_device_t *cfg;
    gw_map_target_t *t; /* config order */
    rt_t *rt;           /* parallel to t */
    uint16_t *by_name;  /* indices of t sorted by field name */
    size_t n, cap;
} mdev_t;

typedef struct limit_slot {
    uint64_t h;
    int64_t last_ms;
    uint64_t dropped;
} limit_slot_t;

struct gw_mapping {
    gw_store_t *store;
    const gw_registry_t *reg;
    gw_mapping_objects_fn hook;
    void *hook_ctx;
    mdev_t **by_key, **by_client;
    size_t n_buckets, n_dev;
    gw_mapping_stats_t stats;
    limit_slot_t limit[LIMIT_SLOTS];
};

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

#define FNV_BASIS 0xcbf29ce484222325ull

static size_t client_bucket(const gw_mapping_t *m, const gw_sclient_t *c)
{
    uint64_t h = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (m->n_buckets - 1);
}

int gw_mapping_new(gw_store_t *store, const gw_registry_t *reg, gw_mapping_t **out)
{
    if (!store || !out)
        return -EINVAL;
    gw_mapping_t *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->n_buckets = 64;
    m->by_key = calloc(m->n_buckets, sizeof(*m->by_key));
    m->by_client = calloc(m->n_buckets, sizeof(*m->by_client));
    if (!m->by_key || !m->by_client) {
        free(m->by_key);
        free(m->by_client);
        free(m);
        return -ENOMEM;
    }
    m->store = store;
    m->reg = reg ? reg : gw_store_registry(store);
    *out = m;
    return 0;
}

static void dev_free(mdev_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (d->rt[i].flags & RT_OWNED)
            free((char *)d->t[i].field);
    free(d->t);
    free(d->rt);
    free(d->by_name);
    free(d->key);
    free(d);
}

void gw_mapping_free(gw_mapping_t **mp)
{
    if (!mp || !*mp)
        return;
    gw_mapping_t *m = *mp;
    for (size_t b = 0; b < m->n_buckets; b++) {
        mdev_t *d = m->by_key[b];
        while (d) {
            mdev_t *next = d->next_key;
            dev_free(d);
            d = next;
        }
    }
    free(m->by_key);
    free(m->by_client);
    free(m);
    *mp = NULL;
}

void gw_mapping_set_objects_hook(gw_mapping_t *m, gw_mapping_objects_fn fn, void *ctx)
{
    if (!m)
        return;
    m->hook = fn;
    m->hook_ctx = ctx;
}

void gw_mapping_get_stats(const gw_mapping_t *m, gw_mapping_stats_t *out)
{
    if (m && out)
        *out = m->stats;
}

static mdev_t *dev_lookup(const gw_mapping_t *m, const char *key, uint64_t h)
{
    for (mdev_t *d = m->by_key[h & (m->n_buckets - 1)]; d; d = d->next_key)
        if (d->hash == h && strcmp(d->key, key) == 0)
            return d;
    return NULL;
}

/* Doubling keeps chains at about one device; a rehash of 10,000 devices is
 * a few hundred microseconds, paid at start or reload, never per reading. */
static int grow(gw_mapping_t *m)
{
    size_t nb = m->n_buckets * 2;
    mdev_t **bk = calloc(nb, sizeof(*bk)), **bc = calloc(nb, sizeof(*bc));
    if (!bk || !bc) {
        free(bk);
        free(bc);
        return -ENOMEM;
    }
    for (size_t b = 0; b < m->n_buckets; b++) {
        mdev_t *d = m->by_key[b];
        while (d) {
            mdev_t *next = d->next_key;
            size_t i = d->hash & (nb - 1);
            d->next_key = bk[i];
            bk[i] = d;
            d = next;
        }
    }
    free(m->by_key);
    free(m->by_client);
    m->by_key = bk;
    m->by_client = bc;
    m->n_buckets = nb;
    for (size_t b = 0; b < nb; b++)
        for (mdev_t *d = bk[b]; d; d = d->next_key) {
            size_t i = client_bucket(m, d->c);
            d->next_client = bc[i];
            bc[i] = d;
        }
    return 0;
}

/* Index of the target named field, -1 when none. */
static int find_field(const mdev_t *d, const char *field)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(d->t[d->by_name[mid]].field, field);
        if (c == 0)
            return d->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void index_insert(mdev_t *d, uint16_t idx)
{
    size_t pos = 0;
    while (pos < idx && strcmp(d->t[d->by_name[pos]].field, d->t[idx].field) < 0)
        pos++;
    memmove(&d->by_name[pos + 1], &d->by_name[pos], (idx - pos) * sizeof(*d->by_name));
    d->by_name[pos] = idx;
}

/* "lo..hi" of a DDF RangeEnumeration; other forms (lists, lengths) do not
 * bound a number and are ignored. */
static bool parse_range(const char *s, double *lo, double *hi)
{
    /* strtod would read the "0." of "0..100" as a number: split first. */
    const char *dots = s ? strstr(s, "..") : NULL;
    char buf[32], *end;
    if (!dots || dots == s || (size_t)(dots - s) >= sizeof buf)
        return false;
    memcpy(buf, s, (size_t)(dots - s));
    buf[dots - s] = '\0';
    *lo = strtod(buf, &end);
    if (*end != '\0')
        return false;
    const char *h = dots + 2;
    *hi = strtod(h, &end);
    return end != h && *end == '\0' && *lo <= *hi;
}

static void rt_init(const gw_mapping_t *m, const gw_map_target_t *t, rt_t *rt)
{
    const gw_objdef_t *od = gw_registry_find(m->reg, t->path.id[0]);
    const gw_resdef_t *rd = gw_objdef_find_res(od, t->path.id[2]);
    uint8_t owned = rt->flags & RT_OWNED;
    *rt = (rt_t){.flags = owned};
    if (t->path.id[2] == GW_RID_SENSOR_VALUE && gw_objdef_find_res(od, GW_RID_MIN_MEASURED) &&
        gw_objdef_find_res(od, GW_RID_MAX_MEASURED))
        rt->flags |= RT_MINMAX;
    const gw_resdef_t *ts = gw_objdef_find_res(od, GW_RID_TIMESTAMP);
    if (ts && ts->type == GW_TYPE_TIME && t->path.id[2] != GW_RID_TIMESTAMP)
        rt->flags |= RT_TS;
    if (rd && parse_range(rd->range, &rt->lo, &rt->hi))
        rt->flags |= RT_RANGE;
}

static int set_string(gw_mapping_t *m, gw_sclient_t *c, uint16_t oid, uint16_t iid, uint16_t rid,
                      const char *s)
{
    gw_value_t v = {.type = GW_TYPE_STRING};
    v.v.bytes.ptr = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return gw_store_set(m->store, c, &(gw_path_t){{oid, iid, rid, GW_ID_NONE}, 3}, &v, 0);
}

/* 5701 and 5750 of the target's instance, where the object has them. */
static int write_meta(gw_mapping_t *m, gw_sclient_t *c, const gw_map_target_t *t)
{
    const gw_objdef_t *od = gw_registry_find(m->reg, t->path.id[0]);
    uint16_t oid = t->path.id[0], iid = t->path.id[1];
    int rc = 0;
    const gw_resdef_t *rd = gw_objdef_find_res(od, GW_RID_SENSOR_UNITS);
    if (t->lwm2m_unit && rd && rd->type == GW_TYPE_STRING && !rd->multiple)
        rc = set_string(m, c, oid, iid, GW_RID_SENSOR_UNITS, t->lwm2m_unit);
    rd = gw_objdef_find_res(od, GW_RID_APPLICATION_TYPE);
    if (rc == 0 && t->application_type && rd && rd->type == GW_TYPE_STRING && !rd->multiple)
        rc = set_string(m, c, oid, iid, GW_RID_APPLICATION_TYPE, t->application_type);
    return rc;
}

/* A battery voltage on /3/0/7/i makes power source i of /3/0/6 an
 * internal battery: without it a server sees a voltage and cannot tell of
 * what. Only the kind that knows its source (the default map's
 * power_source) fills it, and only when the configuration's own /3/0/6
 * values have not. Other fields on /3/0/7 leave /3/0/6 to the config. */
static int fill_power_source(gw_mapping_t *m, gw_sclient_t *c, const gw_map_target_t *t)
{
    if (t->path.len != 4 || t->path.id[0] != 3 || t->path.id[2] != 7)
        return 0;
    const gw_field_default_t *def = gw_mapping_default(t->field);
    if (!def || !def->power_source || def->oid != 3 || def->rid != 7)
        return 0;
    gw_path_t ps = {{3, t->path.id[1], 6, t->path.id[3]}, 4};
    if (gw_store_has(c, &ps))
        return 0;
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = def->power_source};
    return gw_store_set(m->store, c, &ps, &v, 0);
}

int gw_mapping_add_device(gw_mapping_t *m, const char *device_key, gw_sclient_t *c,
                          const gw_config_device_t *d)
{
    if (!m || !device_key || !c || !d)
        return -EINVAL;
    uint64_t h = fnv1a(device_key, FNV_BASIS);
    if (dev_lookup(m, device_key, h))
        return -EEXIST;
    char err[256];
    gw_map_target_t *t = NULL;
    size_t n = 0;
    int rc = gw_mapping_resolve(d, m->reg, &t, &n, err, sizeof err);
    if (rc < 0) {
        gw_err("mapping: device %s: %s", device_key, err[0] ? err : "cannot resolve its fields");
        return rc;
    }
    if (n > UINT16_MAX) {
        free(t);
        return -EINVAL;
    }
    /* (oid, iid) pairs this call created, undone if a later step fails. */
    uint32_t *created = calloc(n ? n : 1, sizeof(*created));
    size_t n_created = 0;
    mdev_t *dv = calloc(1, sizeof(*dv));
    if (!created || !dv) {
        rc = -ENOMEM;
        goto fail;
    }
    dv->t = t;
    dv->n = dv->cap = n;
    dv->rt = calloc(n ? n : 1, sizeof(*dv->rt));
    dv->by_name = calloc(n ? n : 1, sizeof(*dv->by_name));
    dv->key = strdup(device_key);
    if (!dv->rt || !dv->by_name || !dv->key) {
        rc = -ENOMEM;
        goto fail;
    }
    dv->hash = h;
    dv->c = c;
    dv->cfg = d;
    for (size_t i = 0; i < n; i++) {
        uint16_t oid = t[i].path.id[0], iid = t[i].path.id[1];
        if (gw_store_instance_exists(c, oid, iid))
            continue;
        rc = gw_store_instance_create(m->store, c, oid, iid);
        if (rc < 0) {
            char p[32];
            gw_err("mapping: device %s: cannot create %s for field \"%s\" (%s)", device_key,
                   gw_path_format(&t[i].path, p, sizeof p), t[i].field, strerror(-rc));
            goto fail;
        }
        created[n_created++] = (uint32_t)oid << 16 | iid;
    }
    for (size_t i = 0; i < n; i++) {
        rt_init(m, &t[i], &dv->rt[i]);
        index_insert(dv, (uint16_t)i);
        rc = write_meta(m, c, &t[i]);
        if (rc == 0)
            rc = fill_power_source(m, c, &t[i]);
        if (rc < 0)
            goto fail;
    }
    if (m->n_dev >= m->n_buckets && grow(m) < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    size_t b = h & (m->n_buckets - 1);
    dv->next_key = m->by_key[b];
    m->by_key[b] = dv;
    b = client_bucket(m, c);
    dv->next_client = m->by_client[b];
    m->by_client[b] = dv;
    m->n_dev++;
    free(created);
    return 0;
fail:
    while (n_created > 0) {
        uint32_t k = created[--n_created];
        gw_store_instance_delete(m->store, c, (uint16_t)(k >> 16), (uint16_t)k);
    }
    free(created);
    if (dv)
        dev_free(dv);
    else
        free(t);
    return rc;
}

static mdev_t *dev_unlink(gw_mapping_t *m, const char *device_key)
{
    uint64_t h = fnv1a(device_key, FNV_BASIS);
    mdev_t *d = dev_lookup(m, device_key, h);
    if (!d)
        return NULL;
    mdev_t **pp = &m->by_key[h & (m->n_buckets - 1)];
    while (*pp != d)
        pp = &(*pp)->next_key;
    *pp = d->next_key;
    pp = &m->by_client[client_bucket(m, d->c)];
    while (*pp != d)
        pp = &(*pp)->next_client;
    *pp = d->next_client;
    m->n_dev--;
    return d;
}

int gw_mapping_remove_device(gw_mapping_t *m, const char *device_key)
{
    if (!m || !device_key)
        return -EINVAL;
    mdev_t *d = dev_unlink(m, device_key);
    if (!d)
        return -ENOENT;
    dev_free(d);
    return 0;
}

int gw_mapping_targets(const gw_mapping_t *m, const char *device_key, const gw_map_target_t **out,
                       size_t *out_n)
{
    if (!m || !device_key || !out || !out_n)
        return -EINVAL;
    const mdev_t *d = dev_lookup(m, device_key, fnv1a(device_key, FNV_BASIS));
    if (!d)
        return -ENOENT;
    *out = d->t;
    *out_n = d->n;
    return 0;
}

int gw_mapping_find_path(const gw_mapping_t *m, const gw_sclient_t *c, const gw_path_t *p,
                         const char **out_device_key, const gw_map_target_t **out_target)
{
    if (!m || !c || !p)
        return -EINVAL;
    if (p->len != 3 && p->len != 4)
        return -ENOENT;
    for (const mdev_t *d = m->by_client[client_bucket(m, c)]; d; d = d->next_client) {
        if (d->c != c)
            continue;
        for (size_t i = 0; i < d->n; i++)
            if (gw_path_cmp(&d->t[i].path, p) == 0) {
                if (out_device_key)
                    *out_device_key = d->key;
                if (out_target)
                    *out_target = &d->t[i];
                return 0;
            }
    }
    return -ENOENT;
}

/* Log a failed reading at most once a minute per (device, field); the
 * slots are direct-mapped by hash, so a collision can only make a pair log
 * sooner, never hide it. */
static void report(gw_mapping_t *m, const gw_reading_t *r, const char *why)
{
    const char *dev = r->device_key ? r->device_key : "(none)";
    const char *field = r->field ? r->field : "(none)";
    uint64_t h = fnv1a(field, fnv1a(dev, FNV_BASIS) ^ 0xff);
    limit_slot_t *s = &m->limit[h & (LIMIT_SLOTS - 1)];
    int64_t now = gw_now_ms();
    if (s->h == h && s->last_ms && now - s->last_ms < LIMIT_MS) {
        s->dropped++;
        return;
    }
    if (s->h == h && s->dropped)
        gw_warn("mapping: %s: field \"%s\": %s (%llu more since the last report)", dev, field, why,
                (unsigned long long)s->dropped);
    else
        gw_warn("mapping: %s: field \"%s\": %s", dev, field, why);
    s->h = h;
    s->last_ms = now ? now : 1;
    s->dropped = 0;
}

/* A field of the default map that the device did not declare (a decoder
 * that learns fields from the payload), at instance iid of its object.
 * notify: tell the owner when an instance had to be created (a reading);
 * a rebind's caller knows already. Returns the target's index or a
 * negative errno (-EEXIST: another field has that resource). */
static int add_dynamic_at(gw_mapping_t *m, mdev_t *d, const char *field, const gw_field_default_t *def,
                          uint16_t iid, bool notify)
{
    uint16_t oid = def->oid;
    gw_path_t path = gw_mapping_default_path(def, iid);
    for (size_t i = 0; i < d->n; i++)
        if (gw_path_cmp(&d->t[i].path, &path) == 0)
            return -EEXIST;
    if (d->n >= UINT16_MAX)
        return -ENOSPC;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        gw_map_target_t *t = realloc(d->t, cap * sizeof(*t));
        if (!t)
            return -ENOMEM;
        d->t = t;
        rt_t *rt = realloc(d->rt, cap * sizeof(*rt));
        if (!rt)
            return -ENOMEM;
        d->rt = rt;
        uint16_t *bn = realloc(d->by_name, cap * sizeof(*bn));
        if (!bn)
            return -ENOMEM;
        d->by_name = bn;
        d->cap = cap;
    }
    char *name = strdup(field);
    if (!name)
        return -ENOMEM;
    bool created = false;
    if (!gw_store_instance_exists(d->c, oid, iid)) {
        int rc = gw_store_instance_create(m->store, d->c, oid, iid);
        if (rc < 0) {
            free(name);
            return rc;
        }
        created = true;
    }
    gw_map_target_t *t = &d->t[d->n];
    gw_mapping_target_from_default(t, name, def, iid, m->reg);
    if (!t->lwm2m_unit) {
        const gw_resdef_t *rd = gw_objdef_find_res(gw_registry_find(m->reg, oid), def->rid);
        if (rd && rd->units[0] && strcmp(rd->units, "/100") != 0)
            t->lwm2m_unit = rd->units;
    }
    d->rt[d->n].flags = RT_OWNED;
    rt_init(m, t, &d->rt[d->n]);
    d->n++;
    index_insert(d, (uint16_t)(d->n - 1));
    write_meta(m, d->c, t);
    fill_power_source(m, d->c, t);
    if (notify) {
        char p[32];
        gw_info("mapping: %s: new field \"%s\" lands on %s", d->key, name,
                gw_path_format(&t->path, p, sizeof p));
    }
    if (created && notify && m->hook)
        m->hook(m->hook_ctx, d->c);
    return (int)(d->n - 1);
}

/* A new run-time field gets the next free instance of its object. */
static int add_dynamic(gw_mapping_t *m, mdev_t *d, const char *field, const gw_field_default_t *def)
{
    uint16_t iid = def->per_instance ? gw_store_instance_free_id(d->c, def->oid) : 0;
    return add_dynamic_at(m, d, field, def, iid, true);
}

int gw_mapping_rebind_device(gw_mapping_t *m, const char *old_key, const char *device_key, gw_sclient_t *c,
                             const gw_config_device_t *d)
{
    if (!m || !old_key || !device_key || !c || !d)
        return -EINVAL;
    mdev_t *old = dev_unlink(m, old_key);
    int rc = gw_mapping_add_device(m, device_key, c, d);
    mdev_t *nd = rc == 0 ? dev_lookup(m, device_key, fnv1a(device_key, FNV_BASIS)) : NULL;
    for (size_t i = 0; nd && old && i < old->n; i++) {
        if (!(old->rt[i].flags & RT_OWNED) || find_field(nd, old->t[i].field) >= 0)
            continue; /* configured or declared now: the configuration decides */
        const gw_field_default_t *def = gw_mapping_default(old->t[i].field);
        if (!def)
            continue;
        int r = add_dynamic_at(m, nd, old->t[i].field, def, old->t[i].path.id[1], false);
        if (r == -EEXIST) {
            char p[32];
            gw_info("mapping: %s: field \"%s\" loses %s to a configured field; its next reading "
                    "takes a free instance", device_key, old->t[i].field,
                    gw_path_format(&old->t[i].path, p, sizeof p));
        } else if (r < 0) {
            dev_free(old);
            return r;
        }
    }
    dev_free(old);
    return rc;
}

static int to_number(const gw_map_target_t *t, rt_t *rt, const gw_reading_t *r, double *out)
{
    double x;
    bool exact = true; /* the source's decimals are known */
    int dec = 0;
    switch (r->value.type) {
    case GW_TYPE_FLOAT:
        x = r->value.v.f;
        exact = r->has_decimals;
        dec = r->decimals;
        break;
    case GW_TYPE_INTEGER:
        x = (double)r->value.v.i;
        break;
    case GW_TYPE_UNSIGNED:
        x = (double)r->value.v.u;
        break;
    default:
        return -EINVAL;
    }
    gw_unit_conv_t c = t->conv;
    if (r->unit && t->lwm2m_unit) {
        /* Adapters pass the same few unit strings again and again: one
         * short strcmp replaces the table walk. */
        if (strcmp(rt->unit, r->unit) != 0) {
            gw_unit_conv_t nc = GW_CONV_NONE;
            int rc = gw_unit_conv_find(r->unit, t->lwm2m_unit, &nc);
            if (rc < 0)
                return -EINVAL;
            c = nc;
            if (strlen(r->unit) < UNIT_CACHE) {
                strcpy(rt->unit, r->unit);
                rt->unit_conv = nc;
            }
        } else {
            c = rt->unit_conv;
        }
    }
    x = gw_unit_conv_apply(c, x) * t->scale + t->offset;
    /* Conversions make binary noise of a decimal (73.4 F is
     * 23.000000000000004 Cel): the result keeps the source's precision
     * (lwm2m/precision.h), not the arithmetic's. */
    if (exact && (c != GW_CONV_NONE || t->scale != 1.0 || t->offset != 0.0))
        x = gw_prec_round(x, gw_prec_linear(gw_unit_conv_decimals(c, dec), t->scale, t->offset));
    if (t->has_min && x < t->min)
        x = t->min;
    if (t->has_max && x > t->max)
        x = t->max;
    if (!isfinite(x))
        return -EINVAL;
    *out = x;
    return 0;
}

/* The reading as a value of the resource's type; *out_num is the number
 * stored, for min/max. */
static int convert(const gw_map_target_t *t, rt_t *rt, const gw_reading_t *r, gw_value_t *out,
                   double *out_num)
{
    const gw_value_t *v = &r->value;
    if (v->type == GW_TYPE_STRING || v->type == GW_TYPE_BOOLEAN) {
        if ((gw_type_t)t->type != v->type)
            return -EINVAL;
        *out = *v;
        *out_num = v->type == GW_TYPE_BOOLEAN ? (double)v->v.b : 0;
        return 0;
    }
    double x;
    int rc = to_number(t, rt, r, &x);
    if (rc < 0)
        return rc;
    out->type = t->type;
    switch (t->type) {
    case GW_TYPE_FLOAT:
        out->v.f = x;
        break;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        x = nearbyint(x);
        if (x < -9223372036854775808.0 || x >= 9223372036854775808.0)
            return -EINVAL;
        out->v.i = (int64_t)x;
        break;
    case GW_TYPE_UNSIGNED:
        x = nearbyint(x);
        if (x < 0 || x >= 18446744073709551616.0)
            return -EINVAL;
        out->v.u = (uint64_t)x;
        break;
    case GW_TYPE_BOOLEAN:
        /* The simulated adapter emits floats: a square wave between 0 and
         * 1 drives an on/off switch. */
        out->v.b = x != 0.0;
        x = out->v.b;
        break;
    default:
        return -EINVAL;
    }
    if ((rt->flags & RT_RANGE) && (x < rt->lo || x > rt->hi))
        return -EINVAL;
    *out_num = x;
    return 0;
}

static void housekeeping(gw_mapping_t *m, const mdev_t *d, const gw_map_target_t *t,
                         const rt_t *rt, double x, int64_t ts_ms)
{
    uint16_t oid = t->path.id[0], iid = t->path.id[1];
    if (rt->flags & RT_MINMAX) {
        /* Read back rather than cache: a server's Execute of 5605 (Reset
         * Min and Max) rewrites them in the store behind our back. */
        gw_path_t pmin = {{oid, iid, GW_RID_MIN_MEASURED, GW_ID_NONE}, 3};
        gw_path_t pmax = {{oid, iid, GW_RID_MAX_MEASURED, GW_ID_NONE}, 3};
        gw_value_t cur, nv = {.type = GW_TYPE_FLOAT, .v.f = x};
        if (gw_store_get(d->c, &pmin, &cur, NULL) < 0 || cur.type != GW_TYPE_FLOAT || x < cur.v.f)
            gw_store_set(m->store, d->c, &pmin, &nv, ts_ms);
        if (gw_store_get(d->c, &pmax, &cur, NULL) < 0 || cur.type != GW_TYPE_FLOAT || x > cur.v.f)
            gw_store_set(m->store, d->c, &pmax, &nv, ts_ms);
    }
    if (rt->flags & RT_TS) {
        gw_value_t tv = {.type = GW_TYPE_TIME, .v.i = ts_ms / 1000};
        gw_store_set(m->store, d->c, &(gw_path_t){{oid, iid, GW_RID_TIMESTAMP, GW_ID_NONE}, 3},
                     &tv, ts_ms);
    }
}

/* An adapter's fault state (0 = none, LwM2M 1.1 /3/0/11 codes: 7 = lost
 * communication, 8 = peripheral malfunction, ...) goes to /3/0/11/0 of the
 * client's Device object without a field mapping: it is the adapter's own
 * state, not a reading a configuration could send elsewhere. */
static int device_error_code(gw_mapping_t *m, mdev_t *d, const gw_reading_t *r)
{
    gw_value_t v = {.type = GW_TYPE_INTEGER};
    if (r->value.type == GW_TYPE_INTEGER)
        v.v.i = r->value.v.i;
    else if (r->value.type == GW_TYPE_FLOAT && r->value.v.f >= 0 && r->value.v.f <= 32)
        v.v.i = (int64_t)r->value.v.f;
    else {
        m->stats.rejected++;
        report(m, r, "error_code must be an integer");
        return -EINVAL;
    }
    int rc = gw_store_set(m->store, d->c, &(gw_path_t){{3, 0, 11, 0}, 4}, &v, r->ts_ms);
    if (rc < 0) {
        m->stats.rejected++;
        report(m, r, "the client has no Device object for its error code");
        return rc;
    }
    m->stats.readings++;
    return 0;
}

int gw_mapping_reading(gw_mapping_t *m, const gw_reading_t *r)
{
    if (!m || !r)
        return -EINVAL;
    if (!r->device_key || !r->field) {
        m->stats.rejected++;
        report(m, r, "reading without device key or field");
        return -EINVAL;
    }
    mdev_t *d = dev_lookup(m, r->device_key, fnv1a(r->device_key, FNV_BASIS));
    if (!d) {
        m->stats.unknown++;
        report(m, r, "unknown device, no configured device has this key");
        return -ENOENT;
    }
    int idx = find_field(d, r->field);
    if (idx < 0 && strcmp(r->field, "error_code") == 0)
        return device_error_code(m, d, r);
    if (idx < 0) {
        const gw_field_default_t *def = gw_mapping_default(r->field);
        if (!def) {
            m->stats.unknown++;
            report(m, r, "unknown field, neither configured nor in the default map");
            return -ENOENT;
        }
        idx = add_dynamic(m, d, r->field, def);
        if (idx < 0) {
            m->stats.rejected++;
            report(m, r, idx == -EEXIST ? "its default resource is taken by another field"
                                        : "cannot create an instance for it");
            return idx == -EEXIST ? -EINVAL : idx;
        }
    }
    const gw_map_target_t *t = &d->t[idx];
    rt_t *rt = &d->rt[idx];
    gw_value_t v;
    double x = 0;
    int rc = convert(t, rt, r, &v, &x);
    if (rc < 0) {
        m->stats.rejected++;
        report(m, r, "value cannot be converted to the resource's type, unit or range");
        return rc;
    }
    int64_t ts = r->ts_ms ? r->ts_ms : gw_wall_ms();
    rc = gw_store_set(m->store, d->c, &t->path, &v, ts);
    if (rc < 0) {
        m->stats.rejected++;
        report(m, r, "the store refused the value");
        return rc;
    }
    if (rt->flags & (RT_MINMAX | RT_TS))
        housekeeping(m, d, t, rt, x, ts);
    m->stats.readings++;
    return 0;
}
