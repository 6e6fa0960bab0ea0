/*
 * lwm2m/dm_block.c - the body of a request a server sends block-wise
 * (RFC 7959 Block1), between libcoap and the handlers of dm.c.
 *
 * libcoap runs with block mode off (client.c), so every block reaches the
 * handler as it came and the gateway answers each one itself: 2.31
 * Continue echoing Block1 while more follow, 4.08 for a block that does not
 * continue the body, 4.13 with Size1 for a body over the limit, 5.03 with
 * Max-Age when every transfer slot is taken. The last block hands the
 * whole body to the operation, whatever it is (Write, Create, Execute,
 * Write-Composite, Read-Composite), and its response echoes Block1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "lwm2m_internal.h"

#define C(x) COAP_RESPONSE_CODE(x)

/* The options that make a block part of one body: all of the request's
 * but those that describe the block or change from block to block. */
static bool key_option(uint16_t num) {
  return num != COAP_OPTION_BLOCK1 && num != COAP_OPTION_BLOCK2 &&
         num != COAP_OPTION_SIZE1 && num != COAP_OPTION_SIZE2 &&
         num != COAP_OPTION_OBSERVE && num != COAP_OPTION_ECHO;
}

/* Method and options, each as number, length, value. -E2BIG when they do
 * not fit buf. */
static int make_key(const coap_pdu_t *pdu, uint8_t *buf, size_t size,
                    size_t *out_len) {
  coap_opt_iterator_t it;
  coap_opt_t *o;
  size_t n = 0;
  buf[n++] = (uint8_t)coap_pdu_get_code(pdu);
  coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
  while ((o = coap_option_next(&it)) != NULL) {
    if (!key_option(it.number))
      continue;
    size_t len = coap_opt_length(o);
    if (n + 4 + len > size)
      return -E2BIG;
    buf[n++] = (uint8_t)(it.number >> 8);
    buf[n++] = (uint8_t)it.number;
    buf[n++] = (uint8_t)(len >> 8);
    buf[n++] = (uint8_t)len;
    memcpy(buf + n, coap_opt_value(o), len);
    n += len;
  }
  *out_len = n;
  return 0;
}

static void add_uint_option(coap_pdu_t *pdu, uint16_t num, uint32_t v) {
  uint8_t b[4];
  coap_add_option(pdu, num, coap_encode_var_safe(b, sizeof b, v), b);
}

static void refuse(coap_pdu_t *response, int code, const char *diag) {
  coap_pdu_set_code(response, (coap_pdu_code_t)code);
  coap_add_data(response, strlen(diag), (const uint8_t *)diag);
}

static void on_expire_timer(void *ctx) {
  gw_lwm2m_t *m = ctx;
  int64_t next = gw_blk1_expire(&m->blk1, gw_now_ms());
  if (next >= 0)
    gw_timer_start_at(m->loop, &m->blk1_timer, next);
}

void gw_dm_block_init(gw_lwm2m_t *m) {
  gw_blk1_pool_init(&m->blk1, GW_BLK1_MAX_BODY, GW_BLK1_MAX_TOTAL,
                    GW_BLK1_MAX_PER_OWNER, GW_BLK1_MAX_COUNT,
                    GW_BLK1_TIMEOUT_MS);
  gw_timer_init(&m->blk1_timer, on_expire_timer, m);
}

void gw_dm_block_fini(gw_lwm2m_t *m) {
  gw_timer_stop(m->loop, &m->blk1_timer);
  gw_blk1_pool_fini(&m->blk1);
}

void gw_dm_block_drop(struct gw_reg *r) {
  gw_blk1_drop_owner(&r->vc->m->blk1, r);
}

/* A request that waited for its device runs again from libcoap's copy of
 * its last block (so does a retransmission of it meanwhile): the body
 * assembled then was kept with the write, and is lent back for this run. */
static bool resumed_body(coap_session_t *session, const coap_pdu_t *request,
                         gw_dm_body_t *out) {
  gw_write_req_t *t = gw_dm_write_held(session, request);
  if (!t || !t->body_kept)
    return false;
  out->data = t->body;
  out->owned = t->body;
  out->len = t->body_len;
  out->block1 = true;
  out->ack = t->body_ack;
  t->body = NULL;
  return true;
}

int gw_dm_body(struct gw_reg *r, coap_session_t *session,
               const coap_pdu_t *request, coap_pdu_t *response,
               gw_dm_body_t *out) {
  gw_lwm2m_t *m = r->vc->m;
  coap_opt_iterator_t it;
  size_t off = 0, total = 0;
  char diag[120];

  memset(out, 0, sizeof *out);
  coap_get_data_large(request, &out->len, &out->data, &off, &total);
  coap_opt_t *o = coap_check_option(request, COAP_OPTION_BLOCK1, &it);
  if (!o)
    return 0;
  if (resumed_body(session, request, out))
    return 0;

  gw_blk1_req_t rq = {.owner = r,
                      .data = out->data,
                      .len = out->len,
                      .size1 = -1,
                      .now_ms = gw_now_ms()};
  if (gw_block_decode(coap_opt_value(o), coap_opt_length(o), &rq.block) < 0) {
    refuse(response, C(400),
           "Block1 option is malformed (or BERT, which needs TCP)");
    return 1;
  }
  coap_opt_t *s1 = coap_check_option(request, COAP_OPTION_SIZE1, &it);
  if (s1) {
    if (coap_opt_length(s1) > 4) {
      refuse(response, C(400), "Size1 option is malformed");
      return 1;
    }
    rq.size1 =
        (int64_t)coap_decode_var_bytes(coap_opt_value(s1), coap_opt_length(s1));
  }
  uint8_t key[1024];
  if (make_key(request, key, sizeof key, &rq.key_len) < 0) {
    refuse(response, C(400), "options too long for a block-wise request");
    return 1;
  }
  rq.key = key;

  uint8_t *body = NULL;
  size_t len = 0;
  gw_block_t ack;
  int rc = gw_blk1_feed(&m->blk1, &rq, &ack, &body, &len);
  int64_t next = gw_blk1_expire(&m->blk1, rq.now_ms);
  if (next >= 0 && !gw_timer_active(&m->blk1_timer))
    gw_timer_start_at(m->loop, &m->blk1_timer, next);
  switch (rc) {
  case GW_BLK1_WHOLE:
    return 0; /* block 0 of 1: the payload as it came */
  case GW_BLK1_CONTINUE:
    coap_pdu_set_code(response, C(231));
    add_uint_option(response, COAP_OPTION_BLOCK1, gw_block_encode(&ack));
    return 1;
  case 0:
    out->data = body;
    out->len = len;
    out->owned = body;
    out->block1 = true;
    out->ack = ack;
    return 0;
  case -EFBIG:
    coap_pdu_set_code(response, C(413));
    add_uint_option(response, COAP_OPTION_SIZE1, (uint32_t)m->blk1.max_body);
    snprintf(diag, sizeof diag,
             "request body over the gateway's limit of %zu bytes",
             m->blk1.max_body);
    coap_add_data(response, strlen(diag), (const uint8_t *)diag);
    break;
  case -ENOENT:
    snprintf(
        diag, sizeof diag,
        "block %u does not continue a body: send the body again from block 0",
        (unsigned)rq.block.num);
    refuse(response, C(408), diag);
    break;
  case -EBADMSG:
    refuse(response, C(400),
           "a block other than the last must be exactly its SZX size");
    break;
  case -EBUSY: {
    /* Say when the stalest transfer gives its room back. */
    int64_t wait = next >= 0 ? (next - rq.now_ms + 999) / 1000 : 1;
    coap_pdu_set_code(response, C(503));
    add_uint_option(response, COAP_OPTION_MAXAGE,
                    (uint32_t)(wait > 0 ? wait : 1));
    refuse(response, C(503), "too many block-wise transfers in progress");
    break;
  }
  default:
    refuse(response, C(500), "out of memory");
    break;
  }
  gw_debug("%s: Block1 %u%s/%u refused: %d.%02d", r->vc->endpoint,
           (unsigned)rq.block.num, rq.block.more ? "+" : "",
           16u << rq.block.szx, coap_pdu_get_code(response) >> 5,
           coap_pdu_get_code(response) & 31);
  return 1;
}

void gw_dm_body_done(gw_dm_body_t *b, coap_session_t *session,
                     const coap_pdu_t *request, bool waiting) {
  if (waiting && b->block1) {
    gw_write_req_t *t = gw_dm_write_held(session, request);
    if (t && !t->body) {
      t->body = b->owned;
      t->body_len = b->len;
      t->body_ack = b->ack;
      t->body_kept = true;
      b->owned = NULL;
    }
  }
  free(b->owned);
  b->owned = NULL;
}
