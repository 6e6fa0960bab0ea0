/*
 * adapters/lora/codec.h - the one place the LoRaWAN adapter reaches the
 * shared payload codecs (adapters/payload/payload.h): every other file of
 * the adapter goes through these, so the adapter's own logic does not
 * depend on how codecs are built. Semantics, errors and ownership are
 * those of the gw_payload_* function each one names.
 */
#ifndef GW_ADAPTERS_LORA_CODEC_H
#define GW_ADAPTERS_LORA_CODEC_H

#include "../payload/payload.h"

/* gw_payload_parse */
int lora_codec_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where,
                     gw_payload_codec_t **out);
/* gw_payload_ref / gw_payload_free */
gw_payload_codec_t *lora_codec_ref(gw_payload_codec_t *c);
void lora_codec_free(gw_payload_codec_t **c);
/* gw_payload_fingerprint, gw_payload_declare, gw_payload_describe */
void lora_codec_fingerprint(const gw_payload_codec_t *c, uint64_t *h);
int lora_codec_declare(const gw_payload_codec_t *c, gw_field_decl_t **decls, size_t *n);
void lora_codec_describe(const gw_payload_codec_t *c, FILE *out);
/* gw_payload_decode (fport 1..223) */
int lora_codec_decode(gw_payload_codec_t *c, unsigned fport, const uint8_t *bytes, size_t len,
                      gw_payload_emit_fn emit, void *ctx, char *msg, size_t msg_size);
/* gw_payload_encode; c NULL: -ENOTSUP (a device without a codec has no
 * encoder). */
int lora_codec_encode(gw_payload_codec_t *c, const char *field, const gw_value_t *value,
                      unsigned *out_fport, uint8_t *out, size_t cap, size_t *out_len, char *msg,
                      size_t msg_size);

#endif
