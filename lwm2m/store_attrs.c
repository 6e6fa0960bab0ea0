/*
 * lwm2m/store_attrs.c - Write-Attributes kept by the store (see store.h).
 *
 * Attributes are rare (a server sets them on a few observed paths), so they
 * live in a per-client array sorted by (Short Server ID, path) that exists
 * only while one is set; a client without attributes pays one NULL pointer
 * for them, and one with a single server no more than before attributes
 * were per server. Linear memmove on insert is fine at that size.
 */
#include "store_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Same order as gw_path_cmp (value.h); kept local so the store links
 * without value.c. */
static int path_order(const gw_path_t *a, const gw_path_t *b)
{
    uint8_t n = a->len < b->len ? a->len : b->len;
    for (uint8_t i = 0; i < n; i++)
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    return a->len == b->len ? 0 : (a->len < b->len ? -1 : 1);
}

static int key_order(const struct gw_attr_ent *e, uint16_t ssid, const gw_path_t *p)
{
    if (e->ssid != ssid)
        return e->ssid < ssid ? -1 : 1;
    return path_order(&e->path, p);
}

static size_t attr_lower_bound(const gw_sclient_t *c, uint16_t ssid, const gw_path_t *p)
{
    size_t lo = 0, hi = c->n_attrs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_order(&c->attrs[mid], ssid, p) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool path_has_prefix(const gw_path_t *p, const gw_path_t *prefix)
{
    if (p->len < prefix->len)
        return false;
    for (uint8_t i = 0; i < prefix->len; i++)
        if (p->id[i] != prefix->id[i])
            return false;
    return true;
}

/* Only the first len ids of a path mean anything; attribute keys are
 * compared whole, so the unused ones are cleared. */
static gw_path_t path_clean(const gw_path_t *p)
{
    gw_path_t r = {{GW_ID_NONE, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE}, p->len};
    for (uint8_t i = 0; i < p->len && i < 4; i++)
        r.id[i] = p->id[i];
    return r;
}

/* Remove the entries drop() accepts, keeping the others in order. */
static void attrs_filter(gw_sclient_t *c, bool (*drop)(const struct gw_attr_ent *, const void *), const void *ctx)
{
    size_t w = 0;
    for (size_t r = 0; r < c->n_attrs; r++)
        if (!drop(&c->attrs[r], ctx))
            c->attrs[w++] = c->attrs[r];
    c->n_attrs = (uint16_t)w;
    if (w == 0) {
        free(c->attrs);
        c->attrs = NULL;
        c->cap_attrs = 0;
    }
}

static bool below(const struct gw_attr_ent *e, const void *prefix)
{
    return path_has_prefix(&e->path, prefix);
}

void gw_store_attrs_drop_below(gw_sclient_t *c, const gw_path_t *prefix)
{
    attrs_filter(c, below, prefix);
}

struct ssid_set {
    const uint16_t *ssids;
    size_t n;
};

static bool not_in(const struct gw_attr_ent *e, const void *ctx)
{
    const struct ssid_set *set = ctx;
    for (size_t i = 0; i < set->n; i++)
        if (set->ssids[i] == e->ssid)
            return false;
    return true;
}

void gw_store_attrs_keep_servers(gw_sclient_t *c, const uint16_t *ssids, size_t n)
{
    if (c && c->n_attrs)
        attrs_filter(c, not_in, &(struct ssid_set){ssids, n});
}

/*
 * Besides the header's codes: -EINVAL for a 0-level or >4-level path,
 * -ENOENT when the object is unknown, the instance (2+ levels) does not
 * exist, the resource (3+ levels) is not defined, or a 4-level path names a
 * single resource. Removing attributes that are not there is a success.
 */
int gw_store_attrs_set(gw_store_t *s, gw_sclient_t *c, uint16_t ssid, const gw_path_t *path, const gw_attrs_t *a)
{
    if (!s || !c || !path || !a || path->len < 1 || path->len > 4)
        return -EINVAL;
    /* Discover shows every attribute and observe compares with them: one
     * that is not a number or a negative period is never kept. */
    if (((a->set & GW_ATTR_GT) && !isfinite(a->gt)) || ((a->set & GW_ATTR_LT) && !isfinite(a->lt)) ||
        ((a->set & GW_ATTR_ST) && !isfinite(a->st)) || ((a->set & GW_ATTR_PMIN) && a->pmin < 0) ||
        ((a->set & GW_ATTR_PMAX) && a->pmax < 0) || ((a->set & GW_ATTR_EPMIN) && a->epmin < 0) ||
        ((a->set & GW_ATTR_EPMAX) && a->epmax < 0))
        return -EINVAL;
    const gw_objdef_t *od = gw_registry_find(s->reg, path->id[0]);
    if (!od)
        return -ENOENT;
    if (path->len >= 2 && !gw_store_inst_find(c, path->id[0], path->id[1]))
        return -ENOENT;
    if (path->len >= 3) {
        const gw_resdef_t *rd = gw_objdef_find_res(od, path->id[2]);
        if (!rd || (path->len == 4 && (!rd->multiple || path->id[3] == GW_ID_NONE)))
            return -ENOENT;
    }
    gw_path_t p = path_clean(path);
    size_t pos = attr_lower_bound(c, ssid, &p);
    bool found = pos < c->n_attrs && key_order(&c->attrs[pos], ssid, &p) == 0;
    if (a->set == 0) {
        if (found) {
            memmove(&c->attrs[pos], &c->attrs[pos + 1],
                    (c->n_attrs - pos - 1) * sizeof(*c->attrs));
            if (--c->n_attrs == 0) {
                free(c->attrs);
                c->attrs = NULL;
                c->cap_attrs = 0;
            }
        }
        return 0;
    }
    if (!found) {
        if (c->n_attrs == c->cap_attrs) {
            size_t cap = gw_store_grow_cap(c->cap_attrs, UINT16_MAX);
            if (cap == c->cap_attrs)
                return -ENOMEM;
            struct gw_attr_ent *na = realloc(c->attrs, cap * sizeof(*na));
            if (!na)
                return -ENOMEM;
            c->attrs = na;
            c->cap_attrs = (uint16_t)cap;
        }
        memmove(&c->attrs[pos + 1], &c->attrs[pos], (c->n_attrs - pos) * sizeof(*c->attrs));
        c->n_attrs++;
        c->attrs[pos].path = p;
        c->attrs[pos].ssid = ssid;
    }
    c->attrs[pos].a = *a;
    return 0;
}

int gw_store_attrs_get(const gw_sclient_t *c, uint16_t ssid, const gw_path_t *path, gw_attrs_t *out)
{
    if (!c || !path || !out || path->len > 4)
        return -EINVAL;
    gw_path_t p = path_clean(path);
    size_t pos = attr_lower_bound(c, ssid, &p);
    if (pos >= c->n_attrs || key_order(&c->attrs[pos], ssid, &p) != 0)
        return -ENOENT;
    *out = c->attrs[pos].a;
    return 0;
}
