/* Unit tests for lwm2m/block.c: the Block option value and Block1
 * reassembly (RFC 7959), with its limits and expiry. */
#include <errno.h>

#include "gwtest.h"

#include "lwm2m/block.h"

static int owner_a, owner_b; /* addresses stand for two registrations */

typedef struct {
  gw_blk1_pool_t pool;
  gw_block_t ack;
  uint8_t *body;
  size_t len;
} fx_t;

static int feed(fx_t *f, const void *owner, const char *key, uint32_t num,
                bool more, unsigned szx, const char *data, size_t len,
                int64_t size1, int64_t now) {
  gw_blk1_req_t rq = {.owner = owner,
                      .key = (const uint8_t *)key,
                      .key_len = strlen(key),
                      .block = {num, more, (uint8_t)szx},
                      .data = (const uint8_t *)data,
                      .len = len,
                      .size1 = size1,
                      .now_ms = now};
  free(f->body);
  f->body = NULL;
  return gw_blk1_feed(&f->pool, &rq, &f->ack, &f->body, &f->len);
}

static void fx_init(fx_t *f, size_t max_body, size_t max_total) {
  memset(f, 0, sizeof *f);
  gw_blk1_pool_init(&f->pool, max_body, max_total, 2, 8, 1000);
}

static void fx_fini(fx_t *f) {
  free(f->body);
  gw_blk1_pool_fini(&f->pool);
  CHECK_EQ_INT(f->pool.used, 0);
  CHECK_EQ_INT(f->pool.count, 0);
}

static const char B16[] = "0123456789abcdef";

GW_TEST(test_option_value) {
  gw_block_t b;
  CHECK_EQ_INT(gw_block_decode(NULL, 0, &b),
               0); /* empty: block 0, no more, 16 bytes */
  CHECK(b.num == 0 && !b.more && b.szx == 0);
  const uint8_t v1[] = {0x1e}; /* num 1, M, szx 6 */
  CHECK_EQ_INT(gw_block_decode(v1, 1, &b), 0);
  CHECK(b.num == 1 && b.more && b.szx == 6);
  CHECK_EQ_INT(gw_block_encode(&b), 0x1e);
  const uint8_t v3[] = {0xff, 0xff, 0xf6}; /* the largest NUM */
  CHECK_EQ_INT(gw_block_decode(v3, 3, &b), 0);
  CHECK(b.num == GW_BLOCK_NUM_MAX && !b.more && b.szx == 6);
  CHECK_EQ_INT(gw_block_encode(&b), 0xfffff6);
  const uint8_t bert[] = {0x0f};
  CHECK_EQ_INT(gw_block_decode(bert, 1, &b), -EINVAL);
  const uint8_t four[] = {0, 0, 0, 0x10};
  CHECK_EQ_INT(gw_block_decode(four, 4, &b), -EINVAL);
  CHECK_EQ_INT(gw_block_size(0), 16);
  CHECK_EQ_INT(gw_block_size(6), 1024);
  CHECK_EQ_INT(gw_block_size(7), 0);
}

GW_TEST(test_two_transfers_without_size1) {
  fx_t f;
  fx_init(&f, 4096, 65536);
  for (int round = 0; round < 2; round++) {
    CHECK_EQ_INT(
        feed(&f, &owner_a, "PUT /3303/0/5750", 0, true, 0, B16, 16, -1, 0),
        GW_BLK1_CONTINUE);
    CHECK(f.ack.num == 0 && f.ack.more && f.ack.szx == 0);
    CHECK_EQ_INT(feed(&f, &owner_a, "PUT /3303/0/5750", 1, false, 0,
                      round ? "two" : "one", 3, -1, 0),
                 0);
    CHECK(f.ack.num == 1 && !f.ack.more);
    CHECK_EQ_MEM(f.body, f.len,
                 round ? "0123456789abcdeftwo" : "0123456789abcdefone", 19);
    CHECK_EQ_INT(f.pool.count, 0);
  }
  fx_fini(&f);
}

GW_TEST(test_single_block_and_sizes) {
  fx_t f;
  fx_init(&f, 64, 65536);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, false, 2, "whole", 5, -1, 0),
               GW_BLK1_WHOLE);
  /* a block other than the last must be exactly its size */
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 0, "short", 5, -1, 0),
               -EBADMSG);
  CHECK_EQ_INT(
      feed(&f, &owner_a, "k", 0, false, 0, "0123456789abcdefX", 17, -1, 0),
      -EBADMSG);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 7, B16, 16, -1, 0), -EBADMSG);
  /* Size1 over the limit, and a body that grows past it */
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 0, B16, 16, 65, 0), -EFBIG);
  CHECK_EQ_INT(f.pool.count, 0);
  for (uint32_t i = 0; i < 4; i++)
    CHECK_EQ_INT(feed(&f, &owner_a, "k", i, true, 0, B16, 16, -1, 0),
                 GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 4, false, 0, "x", 1, -1, 0), -EFBIG);
  CHECK_EQ_INT(f.pool.count, 0);
  fx_fini(&f);
}

GW_TEST(test_order_gaps_duplicates_and_size_changes) {
  fx_t f;
  fx_init(&f, 4096, 65536);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 1, false, 0, "x", 1, -1, 0),
               -ENOENT); /* no block 0 */
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE); /* block 0 again: afresh */
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 1, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 1, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE); /* retransmission */
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 3, false, 0, "x", 1, -1, 0),
               -ENOENT); /* gap */
  CHECK_EQ_INT(f.pool.count, 0);
  /* 64-byte block 0, then 16-byte blocks from offset 64 (num 4) */
  char b64[64];
  memset(b64, 'a', sizeof b64);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 2, b64, 64, -1, 0),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 4, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 5, false, 0, "z", 1, -1, 0), 0);
  CHECK_EQ_INT(f.len, 81);
  CHECK(f.body[63] == 'a' && f.body[64] == '0' && f.body[80] == 'z');
  /* a single-block request replaces an unfinished body */
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, false, 2, "y", 1, -1, 0),
               GW_BLK1_WHOLE);
  CHECK_EQ_INT(f.pool.count, 0);
  fx_fini(&f);
}

GW_TEST(test_owners_keys_and_limits) {
  fx_t f;
  fx_init(&f, 4096, 65536);
  /* the same key from two owners: two bodies */
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_b, "k", 0, true, 0, B16, 16, -1, 0),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_b, "k", 1, false, 0, "B", 1, -1, 0), 0);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 1, false, 0, "A", 1, -1, 0), 0);
  CHECK(f.body[16] == 'A');
  /* two transfers per owner: a third drops the owner's stalest */
  CHECK_EQ_INT(feed(&f, &owner_a, "k1", 0, true, 0, B16, 16, -1, 1),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k2", 0, true, 0, B16, 16, -1, 2),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_b, "k1", 0, true, 0, B16, 16, -1, 2),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_a, "k3", 0, true, 0, B16, 16, -1, 3),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(f.pool.count, 3);
  CHECK_EQ_INT(feed(&f, &owner_a, "k1", 1, false, 0, "x", 1, -1, 4), -ENOENT);
  CHECK_EQ_INT(feed(&f, &owner_b, "k1", 1, false, 0, "x", 1, -1, 4),
               0); /* b's untouched */
  gw_blk1_drop_owner(&f.pool, &owner_a);
  CHECK_EQ_INT(f.pool.count, 0);
  fx_fini(&f);

  /* the total: a block that does not fit what is left answers -EBUSY */
  static const char kib[1024];
  fx_init(&f, 4096, 600);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 6, kib, sizeof kib, -1, 0),
               -EBUSY);
  CHECK_EQ_INT(f.pool.count, 0);
  fx_fini(&f);
  fx_init(&f, 4096, 600);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 4, "", 0, -1, 0), -EBADMSG);
  fx_fini(&f);
}

GW_TEST(test_expiry) {
  fx_t f;
  fx_init(&f, 4096, 65536);
  CHECK_EQ_INT(gw_blk1_expire(&f.pool, 0), -1);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 0, true, 0, B16, 16, -1, 100),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(feed(&f, &owner_b, "k", 0, true, 0, B16, 16, -1, 600),
               GW_BLK1_CONTINUE);
  CHECK_EQ_INT(gw_blk1_expire(&f.pool, 1000), 1100);
  CHECK_EQ_INT(gw_blk1_expire(&f.pool, 1100), 1600); /* a's gone */
  CHECK_EQ_INT(f.pool.count, 1);
  CHECK_EQ_INT(feed(&f, &owner_a, "k", 1, false, 0, "x", 1, -1, 1100), -ENOENT);
  CHECK_EQ_INT(feed(&f, &owner_b, "k", 1, false, 0, "x", 1, -1, 1700),
               -ENOENT); /* expired on feed */
  fx_fini(&f);
}

GW_TEST_MAIN(test_option_value, test_two_transfers_without_size1,
             test_single_block_and_sizes,
             test_order_gaps_duplicates_and_size_changes,
             test_owners_keys_and_limits, test_expiry)
