/*
 * lwm2m/block.h - block-wise transfers (RFC 7959) done by the gateway, not
 * by libcoap: the Block1/Block2 option value, and the reassembly of the
 * request bodies a server sends block-wise (Block1).
 *
 * Why not libcoap: its Block1 reassembly crashes in 4.3.1 (Debian 12) when
 * a transfer comes without Size1, has NULL dereferences of its own in later
 * versions, and behaves differently in 4.3.4 (Debian 13) and 4.3.5
 * (docs/lwm2m.md, "libcoap versions"). The gateway runs libcoap with block
 * mode off, so libcoap passes every block to the handler untouched, the
 * same on every version.
 *
 * No libcoap in here: dm.c hands in the options and payload, so this file
 * is unit-tested and fuzzed on its own. Not thread-safe (the loop thread).
 */
#ifndef GW_BLOCK_H
#define GW_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SZX 0..6: blocks of 16..1024 bytes. SZX 7 is BERT (RFC 8323), for
 * reliable transports only; over UDP it is an error. */
#define GW_BLOCK_SZX_MAX 6
#define GW_BLOCK_NUM_MAX 0xFFFFFu /* NUM has at most 20 bits */

typedef struct gw_block {
  uint32_t num; /* block number, 0..GW_BLOCK_NUM_MAX */
  bool more;    /* M: more blocks follow */
  uint8_t szx;  /* size exponent: the block holds 16 << szx bytes */
} gw_block_t;

/* Decode a Block1/Block2 option value (RFC 7959 2.2: an unsigned integer of
 * 0-3 bytes, NUM in the high bits, then M, then 3 bits of SZX).
 * Returns 0, or -EINVAL when val is longer than 3 bytes or SZX is 7. */
int gw_block_decode(const uint8_t *val, size_t len, gw_block_t *out);

/* The option's value as an integer (for coap_encode_var_safe). */
uint32_t gw_block_encode(const gw_block_t *b);

/* Bytes in a block of this SZX (16..1024; 0 for szx > 6). */
size_t gw_block_size(unsigned szx);

/* ---- Block1 reassembly ---- */

typedef struct gw_blk1_xfer gw_blk1_xfer_t;

/* Every transfer in progress, of every client: one pool so that memory is
 * bounded in total as well as per transfer and per client. */
typedef struct gw_blk1_pool {
  size_t max_body;        /* bytes one assembled body may reach */
  size_t max_total;       /* bytes all transfers may hold together (bodies +
                             bookkeeping) */
  unsigned max_per_owner; /* transfers one owner (registration) may have open */
  unsigned max_count;     /* transfers open in total */
  int64_t timeout_ms; /* a transfer with no block for this long is dropped */
  size_t used;        /* bytes held now */
  unsigned count;     /* transfers open now */
  gw_blk1_xfer_t *head, *tail; /* least recently fed first */
} gw_blk1_pool_t;

/* One request carrying a Block1 option. */
typedef struct gw_blk1_req {
  const void *owner; /* who sent it: transfers of different owners never mix */
  const uint8_t
      *key; /* what makes two blocks one body: method, URI, Content-Format,
             * Request-Tag (RFC 9175), never the token (RFC 7959 2.4) */
  size_t key_len;
  gw_block_t block;
  const uint8_t *data; /* this block's payload */
  size_t len;
  int64_t size1;  /* Size1 option (the body's announced size), -1 when absent */
  int64_t now_ms; /* monotonic time */
} gw_blk1_req_t;

/* Results of gw_blk1_feed besides 0 and errors. */
#define GW_BLK1_CONTINUE 1 /* stored: answer 2.31 Continue with *out_ack */
#define GW_BLK1_WHOLE 2 /* block 0 without M: the payload is the whole body */

/* Limits the gateway runs with (see docs/lwm2m.md). */
#define GW_BLK1_MAX_BODY (64u * 1024u)
#define GW_BLK1_MAX_TOTAL (4u * 1024u * 1024u)
#define GW_BLK1_MAX_PER_OWNER 4u
#define GW_BLK1_MAX_COUNT 1024u
#define GW_BLK1_TIMEOUT_MS 93000 /* RFC 7252 MAX_TRANSMIT_WAIT */

void gw_blk1_pool_init(gw_blk1_pool_t *p, size_t max_body, size_t max_total,
                       unsigned max_per_owner, unsigned max_count,
                       int64_t timeout_ms);
/* Frees every transfer; the pool can be used again. */
void gw_blk1_pool_fini(gw_blk1_pool_t *p);

/* Feed one block. Returns
 *   GW_BLK1_CONTINUE  stored; *out_ack is the Block1 to echo with 2.31
 *   GW_BLK1_WHOLE     a single-block request: use its payload as it is
 *   0                 the body is complete: *out_body (malloc'd, the caller
 *                     frees it; NULL when the body is empty) and *out_len;
 *                     *out_ack is the Block1 for the final response
 *   -EBADMSG          a block of the wrong size for its SZX (4.00)
 *   -ENOENT           not the block the body needs next: no transfer for a
 *                     block after 0, a gap, an overlap (4.08); the transfer
 *                     is dropped
 *   -EFBIG            the body (or its Size1) exceeds max_body (4.13)
 *   -EBUSY            the pool is full (5.03): try later
 *   -ENOMEM           out of memory
 * A block already stored (a retransmission) answers GW_BLK1_CONTINUE again.
 * Block 0 starts the body afresh. Blocks may change size as RFC 7959 2.3
 * allows: what counts is that each starts where the body ends. */
int gw_blk1_feed(gw_blk1_pool_t *p, const gw_blk1_req_t *rq,
                 gw_block_t *out_ack, uint8_t **out_body, size_t *out_len);

/* Drop every transfer of owner (its registration goes away). */
void gw_blk1_drop_owner(gw_blk1_pool_t *p, const void *owner);

/* Drop the transfers idle for timeout_ms at now_ms. Returns the monotonic
 * time at which the next one would expire, or -1 when none is open. */
int64_t gw_blk1_expire(gw_blk1_pool_t *p, int64_t now_ms);

#endif
