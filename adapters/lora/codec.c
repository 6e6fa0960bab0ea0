/*
 * adapters/lora/codec.c - the LoRaWAN adapter's bridge to the shared
 * payload codecs (codec.h).
 */
#include <errno.h>

#include "codec.h"

int lora_codec_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where,
                     gw_payload_codec_t **out)
{
    return gw_payload_parse(ctx, s, where, out);
}

gw_payload_codec_t *lora_codec_ref(gw_payload_codec_t *c)
{
    return gw_payload_ref(c);
}

void lora_codec_free(gw_payload_codec_t **c)
{
    gw_payload_free(c);
}

void lora_codec_fingerprint(const gw_payload_codec_t *c, uint64_t *h)
{
    gw_payload_fingerprint(c, h);
}

int lora_codec_declare(const gw_payload_codec_t *c, gw_field_decl_t **decls, size_t *n)
{
    return gw_payload_declare(c, decls, n);
}

void lora_codec_describe(const gw_payload_codec_t *c, FILE *out)
{
    gw_payload_describe(c, out);
}

int lora_codec_decode(gw_payload_codec_t *c, unsigned fport, const uint8_t *bytes, size_t len,
                      gw_payload_emit_fn emit, void *ctx, char *msg, size_t msg_size)
{
    return gw_payload_decode(c, fport, bytes, len, emit, ctx, msg, msg_size);
}

int lora_codec_encode(gw_payload_codec_t *c, const char *field, const gw_value_t *value,
                      unsigned *out_fport, uint8_t *out, size_t cap, size_t *out_len, char *msg,
                      size_t msg_size)
{
    if (!c)
        return -ENOTSUP;
    return gw_payload_encode(c, field, value, out_fport, out, cap, out_len, msg, msg_size);
}
