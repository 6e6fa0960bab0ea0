/*
 * lwm2m/intern.c - the store's table of refcounted, shared byte strings.
 *
 * Chained hash table, power-of-two buckets, grown when the load passes 1 so
 * lookups stay O(1) with tens of thousands of distinct strings (one serial
 * number per client). Never shrunk: the number of distinct strings of a
 * gateway follows its fleet, which does not collapse in normal operation.
 *
 * The hash is SipHash-2-4 with a random key because the strings come from
 * sensors and the network (BLE names, LoRa payloads): with a fixed hash an
 * outsider could pile every string into one chain.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define INTERN_MIN_BUCKETS 64

static uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define SIP_ROUND(v0, v1, v2, v3)                                                  \
    do {                                                                           \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);              \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                   \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                   \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);              \
    } while (0)

/* Written from the description in Aumasson & Bernstein, "SipHash: a fast
 * short-input PRF" (2012): 2 compression rounds, 4 finalisation rounds. */
uint64_t gw_intern_siphash(const uint64_t key[2], const uint8_t *p, size_t len)
{
    uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL;
    uint64_t v1 = key[1] ^ 0x646f72616e646f6dULL;
    uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL;
    uint64_t v3 = key[1] ^ 0x7465646279746573ULL;
    size_t full = len & ~(size_t)7;

    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(p + i);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = full; i < len; i++)
        last |= (uint64_t)p[i] << (8 * (i - full));
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int r = 0; r < 4; r++)
        SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

int gw_intern_init(struct gw_intern *t)
{
    memset(t, 0, sizeof(*t));
    t->buckets = calloc(INTERN_MIN_BUCKETS, sizeof(*t->buckets));
    if (!t->buckets)
        return -ENOMEM;
    t->n_buckets = INTERN_MIN_BUCKETS;
    if (getrandom(t->key, sizeof(t->key), GRND_NONBLOCK) != (ssize_t)sizeof(t->key)) {
        /* Early boot without entropy: a weaker key still beats a fixed one,
         * and the table stays correct whatever the key is. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t->key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)t;
        t->key[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)&ts;
    }
    return 0;
}

void gw_intern_fini(struct gw_intern *t)
{
    if (!t->buckets)
        return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct gw_blob *b = t->buckets[i];
        while (b) {
            struct gw_blob *next = b->next;
            explicit_bzero(b->data, b->len);
            free(b);
            b = next;
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

/* Doubling keeps the amortised cost per insert O(1); a failed allocation
 * only leaves the table more loaded, never broken. */
static void intern_grow(struct gw_intern *t)
{
    size_t n = t->n_buckets * 2;
    struct gw_blob **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct gw_blob *b = t->buckets[i];
        while (b) {
            struct gw_blob *next = b->next;
            size_t j = b->hash & (n - 1);
            b->next = nb[j];
            nb[j] = b;
            b = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->n_buckets = n;
}

int gw_intern_get(struct gw_intern *t, const uint8_t *p, size_t len, struct gw_blob **out)
{
    if (len > UINT32_MAX)
        return -EOVERFLOW;
    static const uint8_t empty[1];
    if (!p)
        p = empty;
    uint32_t h = (uint32_t)gw_intern_siphash(t->key, p, len);
    size_t idx = h & (t->n_buckets - 1);
    for (struct gw_blob *b = t->buckets[idx]; b; b = b->next) {
        if (b->hash == h && b->len == len && memcmp(b->data, p, len) == 0) {
            if (b->refs == UINT32_MAX)
                return -EOVERFLOW;
            b->refs++;
            *out = b;
            return 0;
        }
    }
    struct gw_blob *b = malloc(sizeof(*b) + len);
    if (!b)
        return -ENOMEM;
    b->hash = h;
    b->refs = 1;
    b->len = (uint32_t)len;
    if (len)
        memcpy(b->data, p, len);
    b->next = t->buckets[idx];
    t->buckets[idx] = b;
    t->count++;
    if (t->count > t->n_buckets)
        intern_grow(t);
    *out = b;
    return 0;
}

void gw_intern_put(struct gw_intern *t, struct gw_blob *b)
{
    if (!b || --b->refs > 0)
        return;
    struct gw_blob **pp = &t->buckets[b->hash & (t->n_buckets - 1)];
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp)
        *pp = b->next;
    t->count--;
    /* Blobs hold the Security object's keys (/0/x/5): none outlives its
     * last reference in freed heap. */
    explicit_bzero(b->data, b->len);
    free(b);
}
