/*
 * lwm2m/registry.c - lookups over the built-in object table and the objects
 * loaded from DDF files (ddf.c).
 *
 * Both sets are kept sorted by id so a lookup is two binary searches: the
 * registry is consulted on every Read/Write of every virtual client, while
 * loading happens once at start.
 */
#include "registry_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

struct gw_registry {
    gw_objdef_t **loaded; /* sorted by id, owned */
    size_t n_loaded, cap_loaded;
    /* Objects replaced by a later load with the same id. They are kept
     * until gw_registry_free because the header promises that a returned
     * pointer stays valid that long. */
    gw_objdef_t **retired;
    size_t n_retired, cap_retired;
};

int gw_registry_new(gw_registry_t **out)
{
    gw_registry_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    *out = r;
    return 0;
}

void gw_registry_free_loaded(gw_objdef_t *o)
{
    if (!o)
        return;
    for (uint16_t i = 0; i < o->n_res; i++) {
        free((void *)o->res[i].name);
        free((void *)o->res[i].units);
        free((void *)o->res[i].range);
    }
    free((void *)o->res);
    free((void *)o->name);
    free((void *)o->version);
    free((void *)o->urn);
    free(o);
}

void gw_registry_free(gw_registry_t **r)
{
    if (!r || !*r)
        return;
    gw_registry_t *reg = *r;
    for (size_t i = 0; i < reg->n_loaded; i++)
        gw_registry_free_loaded(reg->loaded[i]);
    for (size_t i = 0; i < reg->n_retired; i++)
        gw_registry_free_loaded(reg->retired[i]);
    free(reg->loaded);
    free(reg->retired);
    free(reg);
    *r = NULL;
}

static int grow(gw_objdef_t ***arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    gw_objdef_t **p = realloc(*arr, ncap * sizeof *p);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Index of the first loaded object with id >= oid. */
static size_t lower_bound(const gw_registry_t *r, uint16_t oid)
{
    size_t lo = 0, hi = r->n_loaded;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->loaded[mid]->id < oid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int gw_registry_add_loaded(gw_registry_t *r, gw_objdef_t *o)
{
    size_t pos = lower_bound(r, o->id);
    if (pos < r->n_loaded && r->loaded[pos]->id == o->id) {
        if (grow(&r->retired, r->n_retired, &r->cap_retired) < 0) {
            gw_registry_free_loaded(o);
            return -ENOMEM;
        }
        r->retired[r->n_retired++] = r->loaded[pos];
        r->loaded[pos] = o;
        return 0;
    }
    if (grow(&r->loaded, r->n_loaded, &r->cap_loaded) < 0) {
        gw_registry_free_loaded(o);
        return -ENOMEM;
    }
    /* Insertion is O(n), fine for the handful of vendor objects a gateway
     * loads; lookups stay O(log n). */
    for (size_t i = r->n_loaded; i > pos; i--)
        r->loaded[i] = r->loaded[i - 1];
    r->loaded[pos] = o;
    r->n_loaded++;
    return 0;
}

static const gw_objdef_t *find_builtin(uint16_t oid)
{
    size_t lo = 0, hi = gw_builtin_objects_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint16_t id = gw_builtin_objects[mid].id;
        if (id == oid)
            return &gw_builtin_objects[mid];
        if (id < oid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const gw_objdef_t *gw_registry_find(const gw_registry_t *r, uint16_t oid)
{
    if (r) {
        size_t pos = lower_bound(r, oid);
        if (pos < r->n_loaded && r->loaded[pos]->id == oid)
            return r->loaded[pos];
    }
    return find_builtin(oid);
}

const gw_resdef_t *gw_objdef_find_res(const gw_objdef_t *o, uint16_t rid)
{
    if (!o)
        return NULL;
    size_t lo = 0, hi = o->n_res;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint16_t id = o->res[mid].id;
        if (id == rid)
            return &o->res[mid];
        if (id < rid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const gw_resdef_t *gw_objdef_find_res_by_name(const gw_objdef_t *o, const char *name)
{
    if (!o || !name)
        return NULL;
    /* Linear: names are not sorted and this serves config parsing, not the
     * request path. */
    for (uint16_t i = 0; i < o->n_res; i++) {
        if (strcasecmp(o->res[i].name, name) == 0)
            return &o->res[i];
    }
    return NULL;
}
