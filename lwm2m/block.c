/*
 * lwm2m/block.c - the Block option value and Block1 reassembly (RFC 7959).
 *
 * A transfer is found by owner and key, never by token: a client may use a
 * new token for every block (RFC 7959 2.4). The body grows as contiguous
 * blocks arrive; anything that does not continue it is refused with 4.08,
 * because a body with holes cannot be handed to a decoder.
 *
 * Transfers sit in one list ordered by last use, so expiry looks only at
 * its head (O(1) per expired transfer) and the per-owner and total limits
 * are checked over at most max_count entries.
 */
#include "block.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct gw_blk1_xfer {
  gw_blk1_xfer_t *prev, *next;
  const void *owner;
  int64_t last_ms;
  uint8_t *body;
  size_t len, cap;
  size_t key_len;
  uint8_t key[];
};

int gw_block_decode(const uint8_t *val, size_t len, gw_block_t *out) {
  uint32_t v = 0;
  if (len > 3)
    return -EINVAL;
  for (size_t i = 0; i < len; i++)
    v = v << 8 | val[i];
  if ((v & 7u) == 7u)
    return -EINVAL;
  out->num = v >> 4;
  out->more = (v & 8u) != 0;
  out->szx = (uint8_t)(v & 7u);
  return 0;
}

uint32_t gw_block_encode(const gw_block_t *b) {
  return (b->num & GW_BLOCK_NUM_MAX) << 4 | (b->more ? 8u : 0u) | (b->szx & 7u);
}

size_t gw_block_size(unsigned szx) {
  return szx <= GW_BLOCK_SZX_MAX ? (size_t)16 << szx : 0;
}

void gw_blk1_pool_init(gw_blk1_pool_t *p, size_t max_body, size_t max_total,
                       unsigned max_per_owner, unsigned max_count,
                       int64_t timeout_ms) {
  memset(p, 0, sizeof *p);
  p->max_body = max_body;
  p->max_total = max_total;
  p->max_per_owner = max_per_owner ? max_per_owner : 1;
  p->max_count = max_count ? max_count : 1;
  p->timeout_ms = timeout_ms;
}

static size_t charge_of(const gw_blk1_xfer_t *x) {
  return sizeof *x + x->key_len + x->cap;
}

static void unlink_x(gw_blk1_pool_t *p, gw_blk1_xfer_t *x) {
  if (x->prev)
    x->prev->next = x->next;
  else
    p->head = x->next;
  if (x->next)
    x->next->prev = x->prev;
  else
    p->tail = x->prev;
  x->prev = x->next = NULL;
}

static void append_x(gw_blk1_pool_t *p, gw_blk1_xfer_t *x) {
  x->prev = p->tail;
  x->next = NULL;
  if (p->tail)
    p->tail->next = x;
  else
    p->head = x;
  p->tail = x;
}

static void drop_x(gw_blk1_pool_t *p, gw_blk1_xfer_t *x) {
  unlink_x(p, x);
  p->used -= charge_of(x);
  p->count--;
  free(x->body);
  free(x);
}

void gw_blk1_pool_fini(gw_blk1_pool_t *p) {
  while (p->head)
    drop_x(p, p->head);
}

void gw_blk1_drop_owner(gw_blk1_pool_t *p, const void *owner) {
  for (gw_blk1_xfer_t *x = p->head, *next; x; x = next) {
    next = x->next;
    if (x->owner == owner)
      drop_x(p, x);
  }
}

int64_t gw_blk1_expire(gw_blk1_pool_t *p, int64_t now_ms) {
  while (p->head && now_ms - p->head->last_ms >= p->timeout_ms)
    drop_x(p, p->head);
  return p->head ? p->head->last_ms + p->timeout_ms : -1;
}

static gw_blk1_xfer_t *find(gw_blk1_pool_t *p, const gw_blk1_req_t *rq,
                            unsigned *out_owned, gw_blk1_xfer_t **out_oldest) {
  gw_blk1_xfer_t *found = NULL;
  *out_owned = 0;
  *out_oldest = NULL;
  for (gw_blk1_xfer_t *x = p->head; x; x = x->next) {
    if (x->owner != rq->owner)
      continue;
    if (!*out_oldest)
      *out_oldest = x;
    (*out_owned)++;
    if (x->key_len == rq->key_len && memcmp(x->key, rq->key, rq->key_len) == 0)
      found = x;
  }
  return found;
}

static int start(gw_blk1_pool_t *p, const gw_blk1_req_t *rq, unsigned owned,
                 gw_blk1_xfer_t *oldest, gw_blk1_xfer_t **out) {
  /* A client that opens more transfers than it may loses its stalest
   * one, not someone else's. */
  if (owned >= p->max_per_owner && oldest)
    drop_x(p, oldest);
  size_t need = sizeof(gw_blk1_xfer_t) + rq->key_len;
  if (p->count >= p->max_count || p->used + need > p->max_total)
    return -EBUSY;
  gw_blk1_xfer_t *x = calloc(1, need);
  if (!x)
    return -ENOMEM;
  x->owner = rq->owner;
  x->key_len = rq->key_len;
  if (rq->key_len)
    memcpy(x->key, rq->key, rq->key_len);
  p->used += need;
  p->count++;
  append_x(p, x);
  *out = x;
  return 0;
}

/* Room for the body to reach need bytes, charged to the pool. */
static int reserve(gw_blk1_pool_t *p, gw_blk1_xfer_t *x, size_t need,
                   int64_t size1) {
  if (need <= x->cap)
    return 0;
  size_t cap = x->cap ? x->cap * 2 : need;
  /* Size1 is only an estimate (RFC 7959 4): a hint for the first
   * allocation, never a promise. */
  if (size1 > 0 && (uint64_t)size1 > cap && (uint64_t)size1 <= p->max_body)
    cap = (size_t)size1;
  if (cap < need)
    cap = need;
  if (cap > p->max_body)
    cap = p->max_body;
  if (p->used - x->cap + cap > p->max_total)
    return -EBUSY;
  uint8_t *b = realloc(x->body, cap);
  if (!b)
    return -ENOMEM;
  p->used = p->used - x->cap + cap;
  x->body = b;
  x->cap = cap;
  return 0;
}

int gw_blk1_feed(gw_blk1_pool_t *p, const gw_blk1_req_t *rq,
                 gw_block_t *out_ack, uint8_t **out_body, size_t *out_len) {
  const gw_block_t *b = &rq->block;
  size_t bs = gw_block_size(b->szx);
  unsigned owned;
  gw_blk1_xfer_t *oldest, *x;
  int rc;

  *out_body = NULL;
  *out_len = 0;
  *out_ack = *b;
  if (bs == 0 || b->num > GW_BLOCK_NUM_MAX)
    return -EBADMSG;
  /* Every block but the last is exactly one block long (RFC 7959 2.2). */
  if ((b->more && rq->len != bs) || (!b->more && rq->len > bs))
    return -EBADMSG;
  gw_blk1_expire(p, rq->now_ms);
  x = find(p, rq, &owned, &oldest);
  if (b->num == 0 && !b->more) {
    if (x)
      drop_x(p, x); /* a new request replaces an unfinished body */
    if (rq->size1 > 0 && (uint64_t)rq->size1 > p->max_body)
      return -EFBIG;
    return rq->len > p->max_body ? -EFBIG : GW_BLK1_WHOLE;
  }
  if (rq->size1 > 0 && (uint64_t)rq->size1 > p->max_body) {
    if (x)
      drop_x(p, x);
    return -EFBIG;
  }
  uint64_t off = (uint64_t)b->num * bs;
  if (b->num == 0) {
    if (x) {
      x->len = 0; /* block 0 starts the body afresh */
    } else if ((rc = start(p, rq, owned, oldest, &x)) < 0) {
      return rc;
    }
  } else {
    if (!x)
      return -ENOENT;
    if (off < x->len) {
      /* A retransmission of a block already stored: the same answer
       * again. Anything else overlapping the body is not one body. */
      if (b->more && off + rq->len <= x->len) {
        x->last_ms = rq->now_ms;
        unlink_x(p, x);
        append_x(p, x);
        return GW_BLK1_CONTINUE;
      }
      drop_x(p, x);
      return -ENOENT;
    }
    if (off > x->len) {
      drop_x(p, x);
      return -ENOENT;
    }
  }
  if (off + rq->len > p->max_body) {
    drop_x(p, x);
    return -EFBIG;
  }
  if ((rc = reserve(p, x, (size_t)off + rq->len, rq->size1)) < 0) {
    drop_x(p, x);
    return rc;
  }
  if (rq->len)
    memcpy(x->body + off, rq->data, rq->len);
  x->len = (size_t)off + rq->len;
  x->last_ms = rq->now_ms;
  unlink_x(p, x);
  append_x(p, x);
  if (b->more)
    return GW_BLK1_CONTINUE;
  /* Complete: the body leaves the pool with its caller. */
  *out_len = x->len;
  *out_body = x->len ? x->body : NULL;
  if (!x->len)
    free(x->body);
  unlink_x(p, x);
  p->used -= charge_of(x);
  p->count--;
  free(x);
  return 0;
}
