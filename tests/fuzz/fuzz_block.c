/*
 * libFuzzer target for lwm2m/block.c: the Block option decoder and the
 * Block1 reassembly pool, fed a sequence of blocks as a hostile server
 * could send them. Each record is: owner/key byte, 3-byte Block1 value,
 * Size1 flag and 2-byte Size1, time step, payload length byte, payload.
 * The pool's limits must hold after every block and nothing may leak.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/block.h"

static const char *const keys[] = {"PUT /3303/0/5750", "PUT /3304/0/5750",
                                   "IPATCH /", "POST /3303"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int owners[3];
  gw_blk1_pool_t pool;
  gw_blk1_pool_init(&pool, 2048, 8192, 2, 6, 50);
  int64_t now = 0;
  size_t i = 0;
  while (i + 8 <= size) {
    const uint8_t *r = data + i;
    gw_blk1_req_t rq = {0};
    rq.owner = &owners[r[0] % 3];
    rq.key = (const uint8_t *)keys[(r[0] >> 2) % 4];
    rq.key_len = strlen(keys[(r[0] >> 2) % 4]);
    if (gw_block_decode(r + 1, 3, &rq.block) < 0) {
      i += 8;
      continue;
    }
    assert(gw_block_encode(&rq.block) ==
           ((uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3]));
    rq.size1 = (r[4] & 1) ? (int64_t)(r[5] << 8 | r[6]) * 4 : -1;
    now += (r[4] >> 1) * 3;
    rq.now_ms = now;
    size_t len = r[7];
    /* most blocks are their full size: stretch the length when asked */
    if (len == 0xFF)
      len = gw_block_size(rq.block.szx);
    i += 8;
    if (len > size - i)
      len = size - i;
    rq.data = data + i;
    rq.len = len;
    i += len;
    gw_block_t ack;
    uint8_t *body = NULL;
    size_t blen = 0;
    int rc = gw_blk1_feed(&pool, &rq, &ack, &body, &blen);
    assert(rc == 0 || rc == GW_BLK1_CONTINUE || rc == GW_BLK1_WHOLE || rc < 0);
    if (rc == 0) {
      assert(blen <= pool.max_body);
      assert((body != NULL) == (blen > 0));
    } else {
      assert(!body);
    }
    free(body);
    assert(pool.used <= pool.max_total);
    assert(pool.count <= pool.max_count);
  }
  gw_blk1_pool_fini(&pool);
  assert(pool.used == 0 && pool.count == 0);
  return 0;
}
