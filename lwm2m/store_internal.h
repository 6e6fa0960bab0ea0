/*
 * lwm2m/store_internal.h - the resource store's structures and helpers,
 * shared by store.c, store_attrs.c and intern.c; nothing outside the store
 * includes this (its unit tests do).
 *
 * The intern table keeps one refcounted copy of every distinct string or
 * opaque value held by any virtual client, so a fleet configured from one
 * template ("Acme", "Cel", "U") pays for each text once.
 */
#ifndef GW_LWM2M_STORE_INTERNAL_H
#define GW_LWM2M_STORE_INTERNAL_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* One interned byte string. Not NUL-terminated; len bytes in data. */
struct gw_blob {
    struct gw_blob *next; /* hash chain */
    uint32_t hash;        /* low bits pick the bucket; kept to avoid rehashing on growth */
    uint32_t refs;
    uint32_t len;
    uint8_t data[];
};

struct gw_intern {
    struct gw_blob **buckets;
    size_t n_buckets; /* power of two */
    size_t count;
    uint64_t key[2]; /* random per table: sensor-supplied text must not pick our chains */
};

/* 0 or -ENOMEM. */
int gw_intern_init(struct gw_intern *t);
/* Frees the table and any blob still in it. */
void gw_intern_fini(struct gw_intern *t);
/* The blob holding these bytes, with one more reference taken (created when
 * new). p may be NULL when len is 0. 0, -ENOMEM, or -EOVERFLOW when len or
 * the reference count does not fit in 32 bits. */
int gw_intern_get(struct gw_intern *t, const uint8_t *p, size_t len, struct gw_blob **out);
/* Drop one reference; the last one frees the blob, its bytes overwritten
 * first (it may hold a key). */
void gw_intern_put(struct gw_intern *t, struct gw_blob *b);
/* SipHash-2-4 of p (exposed for its test vector). */
uint64_t gw_intern_siphash(const uint64_t key[2], const uint8_t *p, size_t len);

/*
 * Heap really consumed by a malloc(n), modelled on glibc's allocator on
 * 64-bit Linux (Debian's): an 8-byte size header, 16-byte granularity and a
 * 32-byte minimum chunk. Used so that gw_store_client_bytes reports what the
 * process pays rather than what it asked for.
 */
static inline size_t gw_store_heap_chunk(size_t n)
{
    size_t c = (n + sizeof(size_t) + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

static inline size_t gw_blob_heap_bytes(const struct gw_blob *b)
{
    return gw_store_heap_chunk(sizeof(*b) + b->len);
}

/* ---- the store's own structures (store.c, store_attrs.c) ---------------- */

/* One value. The timestamp is 48-bit signed milliseconds (+-4,400 years
 * around the epoch): 2 bytes less than an int64, which with the 4-byte-aligned
 * value brings the slot from 24 to 20 bytes. */
struct gw_slot {
    uint16_t rid;
    uint16_t riid; /* GW_ID_NONE for a single resource */
    uint8_t type;  /* gw_type_t; kept here so reads need no registry lookup */
    uint8_t pad;
    uint16_t ts_hi;  /* bits 47..32 of the timestamp (sign in bit 15) */
    uint32_t ts_lo;  /* bits 31..0 */
    uint32_t val[2]; /* 8 bytes of value; see slot_raw */
};
_Static_assert(sizeof(struct gw_slot) == 20, "slot layout drifted");
_Static_assert(sizeof(struct gw_blob *) <= 8, "blob pointer must fit the value field");

/* An instance's slots are its own array (cap >= n), or, when cap is 0 and n
 * is not, the slots of a struct gw_shared that several clients' instances
 * with the same values point at (gw_store_instance_share); the first change
 * gives the instance its own copy again. */
struct gw_inst {
    uint16_t oid, iid;
    uint16_t n, cap; /* 65,535 values per instance is far above any object */
    struct gw_slot *slots;
};

/* One slot array shared by equal instances of several clients: the
 * Security (/0) and Server (/1) instances every client of one configured
 * server holds alike. Holds one reference on each of its blobs. */
struct gw_shared {
    struct gw_shared *next; /* hash chain */
    uint32_t hash;
    uint32_t refs;
    uint16_t n;
    struct gw_slot slots[];
};

/* Keyed by (ssid, path): attributes are each server's own (Core 5.1.2).
 * The ssid fills what was padding after the path, so the key costs no
 * byte. */
struct gw_attr_ent {
    gw_path_t path;
    uint16_t ssid;
    gw_attrs_t a;
};
_Static_assert(sizeof(struct gw_attr_ent) == 16 + sizeof(gw_attrs_t), "attribute entry grew");

struct gw_sclient {
    void *app;
    struct gw_inst *inst;
    struct gw_attr_ent *attrs;
    uint32_t n_inst, cap_inst;
    uint16_t n_attrs, cap_attrs;
};

struct gw_store_listener {
    gw_store_hook_fn fn; /* NULL: unsubscribed during a dispatch, compacted after */
    void *ctx;
};

struct gw_store {
    const gw_registry_t *reg;
    struct gw_store_listener *listeners;
    uint32_t n_listeners, cap_listeners;
    uint32_t dispatching; /* nesting depth of listener calls */
    bool removed;         /* an entry was cleared while dispatching */
    struct gw_intern strings;
    struct gw_shared **shared; /* hash table of shared slot arrays */
    size_t n_shared_buckets;   /* power of two, 0 before the first share */
    size_t n_shared;
};

static inline uint32_t gw_store_key2(uint16_t a, uint16_t b)
{
    return (uint32_t)a << 16 | b;
}

/* Growth policy of every store array: see store.c. */
static inline size_t gw_store_grow_cap(size_t cap, size_t max)
{
    size_t n = cap + cap / 2;
    if (n <= cap)
        n = cap + 1;
    return n > max ? max : n;
}

/* The instance (oid, iid) of c, NULL if none. Binary search. */
struct gw_inst *gw_store_inst_find(const gw_sclient_t *c, uint16_t oid, uint16_t iid);
/* Drop c's attributes (of every server) on prefix and every path below it. */
void gw_store_attrs_drop_below(gw_sclient_t *c, const gw_path_t *prefix);

#endif
