/*
 * lwm2m/block_tx.c - a request body too large for one datagram (a Register
 * or Update with a long object list), sent block-wise by the gateway
 * itself (RFC 7959 Block1), not by libcoap (see client.c on block mode).
 *
 * Each block is a copy of the request's options with a fresh token, Block1
 * and Size1 (the whole size, so a server can refuse early or size its
 * buffer; libcoap 4.3.1 servers need it to reassemble safely). The next
 * block goes when the server answers 2.31 Continue; a smaller SZX in that
 * answer, or in a 4.13, is followed as RFC 7959 2.3 and 2.9.3 say.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m_internal.h"

struct gw_block_tx {
  coap_pdu_t *
      head; /* the request's options, no payload: the template of every block */
  uint8_t *body;
  size_t len;
  size_t off;  /* where the block in flight starts */
  uint8_t szx; /* its size */
};

void gw_block_tx_free(struct gw_block_tx **ptx) {
  struct gw_block_tx *tx = *ptx;
  if (!tx)
    return;
  coap_delete_pdu(tx->head);
  free(tx->body);
  free(tx);
  *ptx = NULL;
}

static bool add_uint(coap_pdu_t *pdu, uint16_t num, uint32_t v) {
  uint8_t b[4];
  return coap_add_option(pdu, num, coap_encode_var_safe(b, sizeof b, v), b) !=
         0;
}

/* The block at tx->off as a PDU, with a new token written to token. With
 * shrink, a block that does not fit the PDU is tried again smaller. */
static coap_pdu_t *make_block(coap_session_t *s, struct gw_block_tx *tx,
                              bool shrink, uint8_t *token, uint8_t *token_len) {
  for (;;) {
    size_t bs = gw_block_size(tx->szx);
    size_t n = tx->len - tx->off < bs ? tx->len - tx->off : bs;
    gw_block_t b = {(uint32_t)(tx->off / bs), tx->off + n < tx->len, tx->szx};
    size_t tl = 0;
    uint8_t tok[8];
    coap_session_new_token(s, &tl, tok);
    coap_pdu_t *pdu = coap_pdu_duplicate(tx->head, s, tl, tok, NULL);
    if (!pdu)
      return NULL;
    if (b.num <= GW_BLOCK_NUM_MAX &&
        add_uint(pdu, COAP_OPTION_BLOCK1, gw_block_encode(&b)) &&
        add_uint(pdu, COAP_OPTION_SIZE1, (uint32_t)tx->len) &&
        coap_add_data(pdu, n, tx->body + tx->off)) {
      memcpy(token, tok, tl);
      *token_len = (uint8_t)tl;
      return pdu;
    }
    coap_delete_pdu(pdu);
    if (!shrink || tx->szx == 0)
      return NULL;
    tx->szx--;
  }
}

coap_pdu_t *gw_block_tx_start(coap_session_t *s, coap_pdu_t *pdu, uint8_t *body,
                              size_t len, struct gw_block_tx **out_tx,
                              uint8_t *token, uint8_t *token_len) {
  *out_tx = NULL;
  if (len == 0 || coap_add_data(pdu, len, body)) {
    free(body);
    return pdu;
  }
  struct gw_block_tx *tx = calloc(1, sizeof *tx);
  if (!tx) {
    free(body);
    coap_delete_pdu(pdu);
    return NULL;
  }
  tx->head = pdu;
  tx->body = body;
  tx->len = len;
  tx->szx = GW_BLOCK_SZX_MAX;
  coap_pdu_t *first = make_block(s, tx, true, token, token_len);
  if (!first) {
    gw_block_tx_free(&tx);
    return NULL;
  }
  *out_tx = tx;
  return first;
}

int gw_block_tx_next(coap_session_t *s, struct gw_block_tx **ptx,
                     const coap_pdu_t *received, uint8_t *token,
                     uint8_t *token_len, coap_pdu_t **out_next) {
  struct gw_block_tx *tx = *ptx;
  coap_opt_iterator_t it;
  gw_block_t ack;
  coap_pdu_code_t code = coap_pdu_get_code(received);
  coap_opt_t *o = coap_check_option(received, COAP_OPTION_BLOCK1, &it);
  bool have =
      o && gw_block_decode(coap_opt_value(o), coap_opt_length(o), &ack) == 0;
  size_t bs = gw_block_size(tx->szx);

  *out_next = NULL;
  if (code == COAP_RESPONSE_CODE(413) && have && ack.szx < tx->szx) {
    /* The server takes smaller blocks: start again with its size. */
    tx->szx = ack.szx;
    tx->off = 0;
  } else if (code == COAP_RESPONSE_CODE(231)) {
    if (!have || ack.num != tx->off / bs || !ack.more) {
      gw_block_tx_free(ptx);
      return -EPROTO;
    }
    tx->off += bs;
    /* A smaller SZX in 2.31 is the size the server wants from now on
     * (RFC 7959 2.3); the offset stays a multiple of it. */
    if (ack.szx < tx->szx)
      tx->szx = ack.szx;
    if (tx->off >= tx->len) {
      gw_block_tx_free(ptx);
      return -EPROTO; /* Continue after the last block */
    }
  } else {
    gw_block_tx_free(ptx); /* the final answer, or a refusal */
    return 0;
  }
  *out_next = make_block(s, tx, false, token, token_len);
  if (!*out_next) {
    gw_block_tx_free(ptx);
    return -ENOMEM;
  }
  return 1;
}
