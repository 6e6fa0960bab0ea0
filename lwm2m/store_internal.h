/*
 * lwm2m/store_internal.h - pieces of the resource store shared between
 * store.c and intern.c; nothing outside the store includes this.
 *
 * The intern table keeps one refcounted copy of every distinct string or
 * opaque value held by any virtual client, so a fleet configured from one
 * template ("Acme", "Cel", "U") pays for each text once.
 */
#ifndef GW_LWM2M_STORE_INTERNAL_H
#define GW_LWM2M_STORE_INTERNAL_H

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
/* Drop one reference; the last one frees the blob. */
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

#endif
