/*
 * lwm2m/store.c - the resource store (see store.h).
 *
 * Memory layout, chosen for 10,000 virtual clients at well under 1 KiB each:
 *
 *   gw_sclient  (40 bytes)   app, sorted instance array, attribute array
 *   gw_inst     (16 bytes)   oid, iid, slot count/capacity, slot array
 *   gw_slot     (20 bytes)   rid, riid, type, 48-bit ms timestamp, 8-byte value
 *
 * An object kept with no instance (gw_store_object_keep) is one gw_inst
 * entry with iid GW_ID_NONE and no slots: it sorts after the object's real
 * instances, reads hold nothing for it, and no path names it as an
 * instance (path ids stop at 65534).
 *
 * Strings and opaque values are pointers to blobs interned in the store
 * (intern.c), so equal texts across the fleet are held once. Whole
 * instances can be shared the same way (gw_store_instance_share): equal
 * slot arrays are hashed into one refcounted struct gw_shared that the
 * instances point at (cap 0 marks it), and a change copies the array back
 * into the instance first. Every client's /0 and /1 instances made from a
 * configured server are alike, so at 10,000 clients this keeps ~200 bytes
 * a client of slots out of the heap. Attributes are
 * rare and live in a separate per-client array (store_attrs.c).
 *
 * Lookups are binary searches over (oid,iid) and (rid,riid) keys; inserts
 * memmove. Both arrays start exactly sized and grow by half their size: a
 * virtual client is populated once and then mostly updated in place, so a
 * doubling policy would mostly buy wasted capacity (a 10-value /3/0 would sit
 * in a 16-slot array); x1.5 keeps that slack small while reallocations stay
 * logarithmic in the count.
 *
 * Both arrays stay sorted in gw_path_cmp order (a single resource's 3-level
 * path sorts like its (rid, GW_ID_NONE) key, and a resource is either single
 * or multiple), so gw_store_read emits records already sorted.
 */
#include "store_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

/* The 48-bit timestamp range of a slot (store_internal.h). */
#define TS_MAX ((int64_t)1 << 47)

/* ---- small helpers ------------------------------------------------------ */

static bool type_is_bytes(uint8_t t)
{
    return t == GW_TYPE_STRING || t == GW_TYPE_OPAQUE || t == GW_TYPE_CORELNK;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t slot_raw(const struct gw_slot *s)
{
    uint64_t r;
    memcpy(&r, s->val, sizeof(r));
    return r;
}

static void slot_set_raw(struct gw_slot *s, uint64_t r)
{
    memcpy(s->val, &r, sizeof(r));
}

static struct gw_blob *slot_blob(const struct gw_slot *s)
{
    struct gw_blob *b;
    uint64_t r = slot_raw(s);
    memcpy(&b, &r, sizeof(b));
    return b;
}

static int64_t slot_ts(const struct gw_slot *s)
{
    return (int64_t)(int16_t)s->ts_hi * ((int64_t)1 << 32) + s->ts_lo;
}

static void slot_set_ts(struct gw_slot *s, int64_t ts)
{
    uint64_t u = (uint64_t)ts;
    s->ts_hi = (uint16_t)(u >> 32);
    s->ts_lo = (uint32_t)u;
}

/* The 8 value bytes a slot stores for v (blob already interned for bytes
 * types). Booleans are normalised to 0/1 so that raw equality is value
 * equality for every type except floats' signed zero. */
static uint64_t value_raw(const gw_value_t *v, struct gw_blob *blob)
{
    uint64_t r = 0;
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        r = (uint64_t)v->v.i;
        break;
    case GW_TYPE_UNSIGNED:
        r = v->v.u;
        break;
    case GW_TYPE_FLOAT:
        memcpy(&r, &v->v.f, sizeof(r));
        break;
    case GW_TYPE_BOOLEAN:
        r = v->v.b ? 1 : 0;
        break;
    case GW_TYPE_OBJLNK:
        r = gw_store_key2(v->v.objlnk.oid, v->v.objlnk.iid);
        break;
    default: /* bytes types */
        memcpy(&r, &blob, sizeof(blob));
        break;
    }
    return r;
}

static void slot_value(const struct gw_slot *s, gw_value_t *out)
{
    uint64_t r = slot_raw(s);
    memset(out, 0, sizeof(*out));
    out->type = (gw_type_t)s->type;
    switch (s->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        out->v.i = (int64_t)r;
        break;
    case GW_TYPE_UNSIGNED:
        out->v.u = r;
        break;
    case GW_TYPE_FLOAT:
        memcpy(&out->v.f, &r, sizeof(r));
        break;
    case GW_TYPE_BOOLEAN:
        out->v.b = r != 0;
        break;
    case GW_TYPE_OBJLNK:
        out->v.objlnk.oid = (uint16_t)(r >> 16);
        out->v.objlnk.iid = (uint16_t)r;
        break;
    default: {
        const struct gw_blob *b = slot_blob(s);
        out->v.bytes.ptr = b->data;
        out->v.bytes.len = b->len;
        break;
    }
    }
}

/* Equal for the change hook: bit patterns, except that -0.0 == 0.0 (a
 * sensor flipping between them has not changed). Two NaNs with the same
 * payload count as equal so a stuck NaN reading does not notify forever. */
static bool raw_equal(uint8_t type, uint64_t a, uint64_t b)
{
    if (a == b)
        return true;
    if (type == GW_TYPE_FLOAT) {
        const uint64_t mag = ~((uint64_t)1 << 63);
        return (a & mag) == 0 && (b & mag) == 0;
    }
    return false;
}

/* ---- sorted arrays --------------------------------------------------------- */

static size_t inst_lower_bound(const gw_sclient_t *c, uint32_t key)
{
    size_t lo = 0, hi = c->n_inst;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gw_store_key2(c->inst[mid].oid, c->inst[mid].iid) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct gw_inst *gw_store_inst_find(const gw_sclient_t *c, uint16_t oid, uint16_t iid)
{
    if (iid == GW_ID_NONE)
        return NULL; /* the entry of an empty object is no instance */
    size_t i = inst_lower_bound(c, gw_store_key2(oid, iid));
    if (i < c->n_inst && c->inst[i].oid == oid && c->inst[i].iid == iid)
        return &c->inst[i];
    return NULL;
}

static size_t slot_lower_bound(const struct gw_inst *in, uint32_t key)
{
    size_t lo = 0, hi = in->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gw_store_key2(in->slots[mid].rid, in->slots[mid].riid) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct gw_slot *slot_find(const struct gw_inst *in, uint16_t rid, uint16_t riid)
{
    size_t i = slot_lower_bound(in, gw_store_key2(rid, riid));
    if (i < in->n && in->slots[i].rid == rid && in->slots[i].riid == riid)
        return &in->slots[i];
    return NULL;
}

/* [*out_b, *out_e) = the slots of resource rid (all its instances). */
static void slot_range(const struct gw_inst *in, uint16_t rid, size_t *out_b, size_t *out_e)
{
    size_t b = slot_lower_bound(in, gw_store_key2(rid, 0)), e = b;
    while (e < in->n && in->slots[e].rid == rid)
        e++;
    *out_b = b;
    *out_e = e;
}

/* ---- slot arrays shared among clients (gw_store_instance_share) ---------- */

static bool inst_is_shared(const struct gw_inst *in)
{
    return in->cap == 0 && in->n > 0;
}

static struct gw_shared *inst_shared(const struct gw_inst *in)
{
    return (struct gw_shared *)((char *)in->slots - offsetof(struct gw_shared, slots));
}

/* Same resources, types and values; timestamps and padding left out. */
static bool slots_equal(const struct gw_slot *a, const struct gw_slot *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].rid != b[i].rid || a[i].riid != b[i].riid || a[i].type != b[i].type ||
            slot_raw(&a[i]) != slot_raw(&b[i]))
            return false;
    return true;
}

/* Blob pointers are the values of bytes slots: interning made equal texts
 * one blob, so hashing the raw 8 bytes hashes the value. */
static uint32_t slots_hash(const gw_store_t *s, const struct gw_slot *sl, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t k[2 + 2 + 1 + 8 + 8];
        uint64_t r = slot_raw(&sl[i]);
        memcpy(k, &sl[i].rid, 2);
        memcpy(k + 2, &sl[i].riid, 2);
        k[4] = sl[i].type;
        memcpy(k + 5, &r, 8);
        memcpy(k + 13, &h, 8);
        h = gw_intern_siphash(s->strings.key, k, sizeof k);
    }
    return (uint32_t)h;
}

static void shared_unlink(gw_store_t *s, struct gw_shared *sh)
{
    struct gw_shared **pp = &s->shared[sh->hash & (s->n_shared_buckets - 1)];
    while (*pp && *pp != sh)
        pp = &(*pp)->next;
    if (*pp)
        *pp = sh->next;
    s->n_shared--;
}

static void shared_put(gw_store_t *s, struct gw_shared *sh)
{
    if (--sh->refs > 0)
        return;
    shared_unlink(s, sh);
    for (size_t i = 0; i < sh->n; i++)
        if (type_is_bytes(sh->slots[i].type))
            gw_intern_put(&s->strings, slot_blob(&sh->slots[i]));
    free(sh);
}

/* Doubling as the intern table does; a failed allocation only leaves the
 * chains longer. */
static int shared_table_room(gw_store_t *s)
{
    if (s->n_shared < s->n_shared_buckets)
        return 0;
    size_t n = s->n_shared_buckets ? s->n_shared_buckets * 2 : 16;
    struct gw_shared **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return s->n_shared_buckets ? 0 : -ENOMEM;
    for (size_t i = 0; i < s->n_shared_buckets; i++) {
        struct gw_shared *sh = s->shared[i];
        while (sh) {
            struct gw_shared *next = sh->next;
            sh->next = nb[sh->hash & (n - 1)];
            nb[sh->hash & (n - 1)] = sh;
            sh = next;
        }
    }
    free(s->shared);
    s->shared = nb;
    s->n_shared_buckets = n;
    return 0;
}

/* Before any change to in: its own copy of a shared array (a reference
 * on each blob taken for the copy). 0 or -ENOMEM (nothing changed). */
static int inst_own(gw_store_t *s, struct gw_inst *in)
{
    if (!inst_is_shared(in))
        return 0;
    struct gw_shared *sh = inst_shared(in);
    for (size_t i = 0; i < sh->n; i++)
        if (type_is_bytes(sh->slots[i].type) && slot_blob(&sh->slots[i])->refs == UINT32_MAX)
            return -ENOMEM;
    struct gw_slot *own = malloc(sh->n * sizeof(*own));
    if (!own)
        return -ENOMEM;
    memcpy(own, sh->slots, sh->n * sizeof(*own));
    for (size_t i = 0; i < sh->n; i++)
        if (type_is_bytes(own[i].type))
            slot_blob(&own[i])->refs++;
    in->slots = own;
    in->cap = in->n;
    shared_put(s, sh);
    return 0;
}

static void inst_release(gw_store_t *s, struct gw_inst *in)
{
    if (inst_is_shared(in)) {
        shared_put(s, inst_shared(in));
    } else {
        for (size_t i = 0; i < in->n; i++)
            if (type_is_bytes(in->slots[i].type))
                gw_intern_put(&s->strings, slot_blob(&in->slots[i]));
        free(in->slots);
    }
    in->slots = NULL;
    in->n = in->cap = 0;
}

int gw_store_instance_share(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid)
{
    if (!s || !c)
        return -EINVAL;
    struct gw_inst *in = gw_store_inst_find(c, oid, iid);
    if (!in)
        return -ENOENT;
    if (in->n == 0 || inst_is_shared(in))
        return 0;
    uint32_t h = slots_hash(s, in->slots, in->n);
    struct gw_shared *sh = NULL;
    if (s->n_shared_buckets)
        for (sh = s->shared[h & (s->n_shared_buckets - 1)]; sh; sh = sh->next)
            if (sh->hash == h && sh->n == in->n && sh->refs < UINT32_MAX &&
                slots_equal(sh->slots, in->slots, in->n))
                break;
    if (sh) {
        sh->refs++;
        for (size_t i = 0; i < in->n; i++)
            if (type_is_bytes(in->slots[i].type))
                gw_intern_put(&s->strings, slot_blob(&in->slots[i]));
    } else {
        if (shared_table_room(s) < 0)
            return -ENOMEM;
        sh = malloc(offsetof(struct gw_shared, slots) + in->n * sizeof(*in->slots));
        if (!sh)
            return -ENOMEM;
        sh->hash = h;
        sh->refs = 1;
        sh->n = in->n;
        memcpy(sh->slots, in->slots, in->n * sizeof(*in->slots)); /* the blob references move too */
        size_t b = h & (s->n_shared_buckets - 1);
        sh->next = s->shared[b];
        s->shared[b] = sh;
        s->n_shared++;
    }
    free(in->slots);
    in->slots = sh->slots;
    in->cap = 0;
    return 0;
}

/* Like gw_path_make (value.h): the length is the number of leading ids
 * that are not GW_ID_NONE. Local so the store links without value.c. */
static gw_path_t path_make(uint16_t oid, uint16_t iid, uint16_t rid, uint16_t riid)
{
    gw_path_t p = {{oid, iid, rid, riid}, 0};
    while (p.len < 4 && p.id[p.len] != GW_ID_NONE)
        p.len++;
    for (uint8_t i = p.len; i < 4; i++)
        p.id[i] = GW_ID_NONE;
    return p;
}

/* ---- store ----------------------------------------------------------------- */

int gw_store_new(const gw_registry_t *reg, gw_store_t **out)
{
    if (!reg || !out)
        return -EINVAL;
    gw_store_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->reg = reg;
    if (gw_intern_init(&s->strings) < 0) {
        free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void gw_store_free(gw_store_t **ps)
{
    if (!ps || !*ps)
        return;
    gw_intern_fini(&(*ps)->strings);
    /* Every client is freed before its store, so no shared array is left
     * unless a client was leaked; theirs go with it. */
    for (size_t i = 0; i < (*ps)->n_shared_buckets; i++) {
        struct gw_shared *sh = (*ps)->shared[i];
        while (sh) {
            struct gw_shared *next = sh->next;
            free(sh);
            sh = next;
        }
    }
    free((*ps)->shared);
    free((*ps)->listeners);
    free(*ps);
    *ps = NULL;
}

/* ---- value listeners ------------------------------------------------------- */

/* An array, not a list: a set walks it in order with no pointer chasing,
 * and there are a handful of listeners for the whole store, never one per
 * client. Removal during a dispatch clears the entry instead of moving the
 * others, so the walk (by index, since a listener added meanwhile may
 * realloc the array) neither skips nor repeats one; the outermost dispatch
 * compacts. */
int gw_store_listen(gw_store_t *s, gw_store_hook_fn fn, void *ctx)
{
    if (!s || !fn)
        return -EINVAL;
    for (uint32_t i = 0; i < s->n_listeners; i++)
        if (s->listeners[i].fn == fn && s->listeners[i].ctx == ctx)
            return -EEXIST;
    if (s->n_listeners == s->cap_listeners) {
        uint32_t cap = s->cap_listeners ? s->cap_listeners * 2 : 4;
        struct gw_store_listener *l = realloc(s->listeners, cap * sizeof(*l));
        if (!l)
            return -ENOMEM;
        s->listeners = l;
        s->cap_listeners = cap;
    }
    s->listeners[s->n_listeners].fn = fn;
    s->listeners[s->n_listeners].ctx = ctx;
    s->n_listeners++;
    return 0;
}

static void compact_listeners(gw_store_t *s)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->n_listeners; i++)
        if (s->listeners[i].fn)
            s->listeners[w++] = s->listeners[i];
    s->n_listeners = w;
    s->removed = false;
}

int gw_store_unlisten(gw_store_t *s, gw_store_hook_fn fn, void *ctx)
{
    if (!s || !fn)
        return -ENOENT;
    for (uint32_t i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].fn == fn && s->listeners[i].ctx == ctx) {
            s->listeners[i].fn = NULL;
            s->removed = true;
            if (!s->dispatching)
                compact_listeners(s);
            return 0;
        }
    }
    return -ENOENT;
}

/* n is the count when the set began: a listener subscribed by another
 * during this dispatch waits for the next set. */
static void notify_listeners(gw_store_t *s, gw_sclient_t *c, const gw_path_t *path,
                             const gw_value_t *v, bool changed)
{
    uint32_t n = s->n_listeners;
    s->dispatching++;
    for (uint32_t i = 0; i < n && i < s->n_listeners; i++) {
        gw_store_hook_fn fn = s->listeners[i].fn;
        if (fn)
            fn(s->listeners[i].ctx, c, path, v, changed);
    }
    if (--s->dispatching == 0 && s->removed)
        compact_listeners(s);
}

const gw_registry_t *gw_store_registry(const gw_store_t *s)
{
    return s->reg;
}

/* ---- clients --------------------------------------------------------------- */

int gw_store_client_new(gw_store_t *s, void *app, gw_sclient_t **out)
{
    if (!s || !out)
        return -EINVAL;
    gw_sclient_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->app = app;
    *out = c;
    return 0;
}

void gw_store_client_free(gw_store_t *s, gw_sclient_t **pc)
{
    if (!pc || !*pc)
        return;
    gw_sclient_t *c = *pc;
    for (size_t i = 0; i < c->n_inst; i++)
        inst_release(s, &c->inst[i]);
    free(c->inst);
    free(c->attrs);
    free(c);
    *pc = NULL;
}

void *gw_store_client_app(const gw_sclient_t *c)
{
    return c->app;
}

/*
 * Structure (client, instance, slot and attribute arrays) is counted as the
 * heap chunks glibc really hands out for them, capacity included. Interned
 * blobs are shared, so each client is charged blob size / reference count
 * for every reference it holds: summed over all clients this is the heap
 * the blobs use, and a fleet sharing "Acme" costs each client ~nothing for
 * it while a client-unique serial number is charged in full. The intern
 * table's bucket array (one pointer per distinct string) is a store-wide
 * cost and is not charged to anybody.
 */
size_t gw_store_client_bytes(const gw_sclient_t *c)
{
    size_t n = gw_store_heap_chunk(sizeof(*c));
    if (c->inst)
        n += gw_store_heap_chunk(c->cap_inst * sizeof(*c->inst));
    if (c->attrs)
        n += gw_store_heap_chunk(c->cap_attrs * sizeof(*c->attrs));
    for (size_t i = 0; i < c->n_inst; i++) {
        const struct gw_inst *in = &c->inst[i];
        if (inst_is_shared(in)) {
            /* its share of the array; the array's share of its blobs */
            const struct gw_shared *sh = inst_shared(in);
            size_t arr = gw_store_heap_chunk(offsetof(struct gw_shared, slots) + sh->n * sizeof(*sh->slots));
            for (size_t j = 0; j < sh->n; j++)
                if (type_is_bytes(sh->slots[j].type)) {
                    const struct gw_blob *b = slot_blob(&sh->slots[j]);
                    arr += (gw_blob_heap_bytes(b) + b->refs / 2) / b->refs;
                }
            n += (arr + sh->refs / 2) / sh->refs;
            continue;
        }
        if (in->slots)
            n += gw_store_heap_chunk(in->cap * sizeof(*in->slots));
        for (size_t j = 0; j < in->n; j++) {
            if (!type_is_bytes(in->slots[j].type))
                continue;
            const struct gw_blob *b = slot_blob(&in->slots[j]);
            n += (gw_blob_heap_bytes(b) + b->refs / 2) / b->refs;
        }
    }
    return n;
}

/* ---- instances ------------------------------------------------------------- */

/* Insert an empty entry at pos of the sorted instance array. */
static int inst_insert(gw_sclient_t *c, size_t pos, uint16_t oid, uint16_t iid)
{
    if (c->n_inst == c->cap_inst) {
        size_t cap = gw_store_grow_cap(c->cap_inst, UINT32_MAX);
        if (cap == c->cap_inst)
            return -ENOMEM;
        struct gw_inst *ni = realloc(c->inst, cap * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        c->inst = ni;
        c->cap_inst = (uint32_t)cap;
    }
    memmove(&c->inst[pos + 1], &c->inst[pos], (c->n_inst - pos) * sizeof(*c->inst));
    c->inst[pos] = (struct gw_inst){.oid = oid, .iid = iid};
    c->n_inst++;
    return 0;
}

int gw_store_instance_create(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid)
{
    if (!s || !c || oid == GW_ID_NONE || iid == GW_ID_NONE)
        return -EINVAL;
    const gw_objdef_t *od = gw_registry_find(s->reg, oid);
    if (!od)
        return -ENOENT;
    size_t pos = inst_lower_bound(c, gw_store_key2(oid, iid));
    if (pos < c->n_inst && c->inst[pos].oid == oid && c->inst[pos].iid == iid)
        return -EEXIST;
    if (!od->multiple && gw_store_object_exists(c, oid))
        return -EPERM;
    return inst_insert(c, pos, oid, iid);
}

int gw_store_object_keep(gw_store_t *s, gw_sclient_t *c, uint16_t oid)
{
    if (!s || !c || oid == GW_ID_NONE)
        return -EINVAL;
    if (!gw_registry_find(s->reg, oid))
        return -ENOENT;
    size_t pos = inst_lower_bound(c, gw_store_key2(oid, GW_ID_NONE));
    if (pos < c->n_inst && c->inst[pos].oid == oid && c->inst[pos].iid == GW_ID_NONE)
        return 0;
    return inst_insert(c, pos, oid, GW_ID_NONE);
}

bool gw_store_object_supported(const gw_sclient_t *c, uint16_t oid)
{
    size_t i = inst_lower_bound(c, gw_store_key2(oid, 0));
    return i < c->n_inst && c->inst[i].oid == oid;
}

/* iid GW_ID_NONE removes the entry gw_store_object_keep made. */
int gw_store_instance_delete(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid)
{
    if (!s || !c)
        return -EINVAL;
    size_t pos = inst_lower_bound(c, gw_store_key2(oid, iid));
    if (pos >= c->n_inst || c->inst[pos].oid != oid || c->inst[pos].iid != iid)
        return -ENOENT;
    struct gw_inst *in = &c->inst[pos];
    inst_release(s, in);
    memmove(&c->inst[pos], &c->inst[pos + 1], (c->n_inst - pos - 1) * sizeof(*c->inst));
    c->n_inst--;
    if (c->n_inst == 0) {
        free(c->inst);
        c->inst = NULL;
        c->cap_inst = 0;
    }
    gw_path_t prefix = path_make(oid, iid, GW_ID_NONE, GW_ID_NONE);
    if (c->n_attrs)
        gw_store_attrs_drop_below(c, &prefix);
    return 0;
}

bool gw_store_instance_exists(const gw_sclient_t *c, uint16_t oid, uint16_t iid)
{
    return gw_store_inst_find(c, oid, iid) != NULL;
}

bool gw_store_object_exists(const gw_sclient_t *c, uint16_t oid)
{
    size_t i = inst_lower_bound(c, gw_store_key2(oid, 0));
    return i < c->n_inst && c->inst[i].oid == oid && c->inst[i].iid != GW_ID_NONE;
}

uint16_t gw_store_instance_free_id(const gw_sclient_t *c, uint16_t oid)
{
    uint16_t want = 0;
    for (size_t i = inst_lower_bound(c, gw_store_key2(oid, 0)); i < c->n_inst && c->inst[i].oid == oid;
         i++) {
        if (c->inst[i].iid != want)
            break;
        want++;
    }
    return want; /* GW_ID_NONE when 0..65534 are all taken */
}

size_t gw_store_instance_count(const gw_sclient_t *c)
{
    return c->n_inst;
}

int gw_store_instance_at(const gw_sclient_t *c, size_t i, uint16_t *out_oid, uint16_t *out_iid)
{
    if (i >= c->n_inst)
        return -ENOENT;
    if (out_oid)
        *out_oid = c->inst[i].oid;
    if (out_iid)
        *out_iid = c->inst[i].iid;
    return 0;
}

/* ---- values ---------------------------------------------------------------- */

static int slot_insert(struct gw_inst *in, size_t pos, struct gw_slot **out)
{
    if (in->n == in->cap) {
        size_t cap = gw_store_grow_cap(in->cap, UINT16_MAX);
        if (cap == in->cap)
            return -ENOMEM;
        struct gw_slot *ns = realloc(in->slots, cap * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        in->slots = ns;
        in->cap = (uint16_t)cap;
    }
    memmove(&in->slots[pos + 1], &in->slots[pos], (in->n - pos) * sizeof(*in->slots));
    in->n++;
    *out = &in->slots[pos];
    return 0;
}

/*
 * Also -EINVAL for a timestamp outside the 48-bit range (+-4,400 years) and
 * for a bytes value with a NULL pointer and a non-zero length; -EOVERFLOW
 * when a string is longer than 4 GiB.
 */
int gw_store_set(gw_store_t *s, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *v,
                 int64_t ts_ms)
{
    if (!s || !c || !path || !v || (path->len != 3 && path->len != 4))
        return -EINVAL;
    uint16_t oid = path->id[0], iid = path->id[1], rid = path->id[2];
    uint16_t riid = path->len == 4 ? path->id[3] : GW_ID_NONE;
    struct gw_inst *in = gw_store_inst_find(c, oid, iid);
    if (!in)
        return -ENOENT;
    const gw_objdef_t *od = gw_registry_find(s->reg, oid);
    const gw_resdef_t *rd = od ? gw_objdef_find_res(od, rid) : NULL;
    if (!rd)
        return -ENOENT;
    if (rd->multiple != (path->len == 4) || (rd->multiple && riid == GW_ID_NONE))
        return -EINVAL;
    if (v->type == GW_TYPE_NONE || (uint8_t)v->type != rd->type)
        return -EINVAL;
    if (type_is_bytes(v->type) && !v->v.bytes.ptr && v->v.bytes.len)
        return -EINVAL;
    /* The last guard for every writer (server, adapter, configuration): a
     * value no content format can carry (NaN, a String that is not UTF-8)
     * is never stored, so no Read, notification or Send fails on it. */
    if (gw_value_check(v, NULL, 0) < 0)
        return -EINVAL;
    if (ts_ms == 0)
        ts_ms = now_ms();
    if (ts_ms >= TS_MAX || ts_ms < -TS_MAX)
        return -EINVAL;

    if (inst_own(s, in) < 0)
        return -ENOMEM;
    struct gw_blob *blob = NULL;
    if (type_is_bytes(v->type)) {
        int rc = gw_intern_get(&s->strings, v->v.bytes.ptr, v->v.bytes.len, &blob);
        if (rc < 0)
            return rc;
    }
    uint64_t raw = value_raw(v, blob);

    bool changed;
    size_t pos = slot_lower_bound(in, gw_store_key2(rid, riid));
    struct gw_slot *sl;
    if (pos < in->n && in->slots[pos].rid == rid && in->slots[pos].riid == riid) {
        sl = &in->slots[pos];
        uint64_t old = slot_raw(sl);
        changed = !raw_equal(sl->type, old, raw);
        /* Same text means same blob: the reference taken above is the one
         * dropped here, so an unchanged string costs no allocation. */
        if (type_is_bytes(sl->type))
            gw_intern_put(&s->strings, slot_blob(sl));
    } else {
        int rc = slot_insert(in, pos, &sl);
        if (rc < 0) {
            gw_intern_put(&s->strings, blob);
            return rc;
        }
        sl->rid = rid;
        sl->riid = riid;
        sl->pad = 0;
        changed = true;
    }
    sl->type = (uint8_t)v->type;
    slot_set_raw(sl, raw);
    slot_set_ts(sl, ts_ms);

    if (s->n_listeners) {
        gw_path_t hp = path_make(oid, iid, rid, riid);
        gw_value_t hv;
        slot_value(sl, &hv);
        notify_listeners(s, c, &hp, &hv, changed);
    }
    return 0;
}

int gw_store_unset(gw_store_t *s, gw_sclient_t *c, const gw_path_t *path)
{
    if (!s || !c || !path || (path->len != 3 && path->len != 4))
        return -EINVAL;
    struct gw_inst *in = gw_store_inst_find(c, path->id[0], path->id[1]);
    if (!in)
        return -ENOENT;
    size_t b, e;
    if (path->len == 4) {
        b = slot_lower_bound(in, gw_store_key2(path->id[2], path->id[3]));
        e = b < in->n && in->slots[b].rid == path->id[2] && in->slots[b].riid == path->id[3]
                ? b + 1
                : b;
    } else {
        slot_range(in, path->id[2], &b, &e);
    }
    if (b == e)
        return -ENOENT;
    if (inst_own(s, in) < 0)
        return -ENOMEM;
    for (size_t i = b; i < e; i++)
        if (type_is_bytes(in->slots[i].type))
            gw_intern_put(&s->strings, slot_blob(&in->slots[i]));
    memmove(&in->slots[b], &in->slots[e], (in->n - e) * sizeof(*in->slots));
    in->n = (uint16_t)(in->n - (e - b));
    if (in->n == 0) {
        free(in->slots);
        in->slots = NULL;
        in->cap = 0;
    }
    return 0;
}

/*
 * -EINVAL for a path that is not 3 or 4 levels, and for a 3-level path to a
 * multiple resource that has instances (one value cannot stand for them:
 * use a 4-level path or gw_store_read). -ENOENT when nothing is stored.
 */
int gw_store_get(const gw_sclient_t *c, const gw_path_t *path, gw_value_t *out,
                 int64_t *out_ts_ms)
{
    if (!c || !path || !out || (path->len != 3 && path->len != 4))
        return -EINVAL;
    const struct gw_inst *in = gw_store_inst_find(c, path->id[0], path->id[1]);
    if (!in)
        return -ENOENT;
    uint16_t riid = path->len == 4 ? path->id[3] : GW_ID_NONE;
    const struct gw_slot *sl = slot_find(in, path->id[2], riid);
    if (!sl) {
        if (path->len == 3) {
            size_t b, e;
            slot_range(in, path->id[2], &b, &e);
            if (b != e)
                return -EINVAL;
        }
        return -ENOENT;
    }
    slot_value(sl, out);
    if (out_ts_ms)
        *out_ts_ms = slot_ts(sl);
    return 0;
}

bool gw_store_has(const gw_sclient_t *c, const gw_path_t *path)
{
    if (!c || !path || (path->len != 3 && path->len != 4))
        return false;
    const struct gw_inst *in = gw_store_inst_find(c, path->id[0], path->id[1]);
    if (!in)
        return false;
    if (path->len == 4)
        return slot_find(in, path->id[2], path->id[3]) != NULL;
    size_t b, e;
    slot_range(in, path->id[2], &b, &e);
    return b != e;
}

/* The instances [*out_b, *out_e) that path (0..4 levels) covers. */
static int read_instances(const gw_sclient_t *c, const gw_path_t *p, size_t *out_b, size_t *out_e)
{
    if (p->len == 0) {
        *out_b = 0;
        *out_e = c->n_inst;
        return 0;
    }
    size_t b = inst_lower_bound(c, gw_store_key2(p->id[0], p->len >= 2 ? p->id[1] : 0)), e = b;
    if (p->len == 1) {
        while (e < c->n_inst && c->inst[e].oid == p->id[0])
            e++;
    } else if (b < c->n_inst && c->inst[b].oid == p->id[0] && c->inst[b].iid == p->id[1]) {
        e = b + 1;
    }
    if (b == e)
        return -ENOENT;
    *out_b = b;
    *out_e = e;
    return 0;
}

/* The slots of in that path covers. */
static void read_slots(const struct gw_inst *in, const gw_path_t *p, size_t *out_b, size_t *out_e)
{
    if (p->len <= 2) {
        *out_b = 0;
        *out_e = in->n;
    } else if (p->len == 3) {
        slot_range(in, p->id[2], out_b, out_e);
    } else {
        size_t b = slot_lower_bound(in, gw_store_key2(p->id[2], p->id[3]));
        *out_b = b;
        *out_e = b < in->n && in->slots[b].rid == p->id[2] && in->slots[b].riid == p->id[3]
                     ? b + 1
                     : b;
    }
}

/*
 * Records carry has_time = false: a Read answers with current values, and
 * the per-value timestamps are there for Send / 5518 through gw_store_get.
 */
int gw_store_read(const gw_sclient_t *c, const gw_path_t *path, gw_record_t **out, size_t *out_n)
{
    if (!c || !path || !out || !out_n || path->len > 4)
        return -EINVAL;
    *out = NULL;
    *out_n = 0;
    size_t ib, ie, n = 0;
    int rc = read_instances(c, path, &ib, &ie);
    if (rc < 0)
        return rc;
    for (size_t i = ib; i < ie; i++) {
        size_t b, e;
        read_slots(&c->inst[i], path, &b, &e);
        n += e - b;
    }
    if (n == 0)
        return path->len >= 3 ? -ENOENT : 0;
    gw_record_t *r = calloc(n, sizeof(*r));
    if (!r)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = ib; i < ie; i++) {
        const struct gw_inst *in = &c->inst[i];
        size_t b, e;
        read_slots(in, path, &b, &e);
        for (size_t j = b; j < e; j++, k++) {
            const struct gw_slot *sl = &in->slots[j];
            r[k].path = path_make(in->oid, in->iid, sl->rid, sl->riid);
            slot_value(sl, &r[k].value);
        }
    }
    *out = r;
    *out_n = n;
    return 0;
}
