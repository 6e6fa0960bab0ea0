/* Unit tests for lwm2m/intern.c, the store's table of shared strings. */
#include "gwtest.h"

#include "lwm2m/store_internal.h"

GW_TEST(test_siphash_vectors)
{
    /* Test vectors from the SipHash paper (Aumasson & Bernstein, 2012, appendix A)
     * and its reference vectors: key 00..0f, message 00..(n-1). */
    uint8_t kb[16], m[15];
    for (int i = 0; i < 16; i++)
        kb[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        m[i] = (uint8_t)i;
    uint64_t key[2] = {0, 0};
    for (int i = 0; i < 8; i++) {
        key[0] |= (uint64_t)kb[i] << (8 * i);
        key[1] |= (uint64_t)kb[8 + i] << (8 * i);
    }
    CHECK(gw_intern_siphash(key, m, 15) == 0xa129ca6149be45e5ULL);
    CHECK(gw_intern_siphash(key, m, 0) == 0x726fdb47dd0e0e31ULL);
}

GW_TEST(test_intern_table)
{
    struct gw_intern t;
    CHECK_EQ_INT(gw_intern_init(&t), 0);
    enum { N = 5000 };
    struct gw_blob **b = calloc(N, sizeof(*b));
    char buf[32];
    for (int i = 0; i < N && b; i++) {
        int l = snprintf(buf, sizeof(buf), "s%d", i);
        CHECK_EQ_INT(gw_intern_get(&t, (const uint8_t *)buf, (size_t)l, &b[i]), 0);
    }
    CHECK_EQ_INT(t.count, N);
    CHECK(t.n_buckets >= N); /* grew */
    for (int i = 0; i < N && b; i++) {
        struct gw_blob *again;
        int l = snprintf(buf, sizeof(buf), "s%d", i);
        CHECK_EQ_INT(gw_intern_get(&t, (const uint8_t *)buf, (size_t)l, &again), 0);
        CHECK(again == b[i]);
        CHECK_EQ_INT(again->refs, 2);
        gw_intern_put(&t, again);
    }
    for (int i = 0; i < N && b; i += 2)
        gw_intern_put(&t, b[i]);
    CHECK_EQ_INT(t.count, N / 2);
    gw_intern_fini(&t); /* frees what is left */
    free(b);
}

GW_TEST_MAIN(test_siphash_vectors, test_intern_table)
