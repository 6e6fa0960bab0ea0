/*
 * lwm2m/codec.h - LwM2M content formats: encoders and decoders.
 *
 * Encoders take records sorted by gw_path_cmp, all at or below `base` (the
 * request's Uri-Path), and append bytes to `out`.
 * Decoders take outside bytes (never trusted) and fill a gw_decoded_t; they
 * return 0, or a negative errno with a one-line reason in dec->error:
 *   -EINVAL  malformed payload (truncated TLV, bad SenML, wrong value type) -> 4.00
 *   -ENOENT  a path the type lookup does not know                            -> 4.04
 *   -ENOMEM
 * A decoder never reads past len and never aborts on any input.
 */
#ifndef GW_LWM2M_CODEC_H
#define GW_LWM2M_CODEC_H

#include "value.h"

/* CoAP Content-Format numbers used by LwM2M 1.1. */
enum {
    GW_CF_TEXT = 0,
    GW_CF_LINK = 40,
    GW_CF_OPAQUE = 42,
    GW_CF_CBOR = 60,
    GW_CF_SENML_JSON = 110,
    GW_CF_SENML_CBOR = 112,
    GW_CF_LWM2M_TLV = 11542,
    GW_CF_LWM2M_JSON = 11543, /* legacy 1.0 JSON: not supported, answered 4.06/4.15 */
    GW_CF_NONE = -1,
};

/* Tells a decoder the declared type of a resource. path has 3 or 4 levels.
 * Returns 0 and sets *out_type, or -ENOENT when the resource is not defined
 * (the decoder then fails with -ENOENT). */
typedef int (*gw_type_lookup_fn)(void *ctx, const gw_path_t *path, gw_type_t *out_type);

/* Result of a decode. Records' bytes point either into the payload given to
 * the decoder or into `owned` blocks (base64-decoded data, unescaped
 * strings), so keep both the payload and the gw_decoded_t alive while the
 * records are used. Free with gw_decoded_free. */
typedef struct gw_decoded {
    gw_record_t *recs;
    size_t n, cap;
    void **owned;
    size_t n_owned, cap_owned;
    char error[128];
} gw_decoded_t;

void gw_decoded_free(gw_decoded_t *d);
/* Helpers for decoder implementations. gw_decoded_push refuses a value its
 * data type does not allow (a Float that is NaN or infinite, a String or
 * Corelnk that is not UTF-8 or holds NUL, a time that is not finite: see
 * check.h) with -EINVAL and the reason in d->error; else 0 or -ENOMEM. */
int gw_decoded_push(gw_decoded_t *d, const gw_record_t *r);
void *gw_decoded_alloc(gw_decoded_t *d, size_t n); /* owned by d */
int gw_decoded_fail(gw_decoded_t *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4))); /* sets error, returns err */

/* --- OMA-TLV (11542) --- */
int gw_tlv_encode(const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out);
/* base: the request path (object, instance, resource, or resource instance).
 * TLV carries no types: lookup converts each value to its declared type
 * (lookup may be NULL: values are then left as GW_TYPE_OPAQUE). */
int gw_tlv_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                  gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out);

/* --- SenML JSON (110) and SenML CBOR (112) ---
 * Names are full paths: the encoder emits bn = the base path (with a trailing
 * '/' when records lie below it) on the first record and n relative to it.
 * Records with has_time get "t". Objlnk is "vlo":"3:0", opaque "vd" (base64url
 * without padding for JSON, a byte string for CBOR). */
int gw_senml_json_encode(const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out);
int gw_senml_json_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                         gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out);
int gw_senml_cbor_encode(const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out);
int gw_senml_cbor_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                         gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out);
/* SenML records without values (for Read-Composite / Observe-Composite
 * requests in issue 4) decode as records of type GW_TYPE_NONE. */

/* --- text/plain (0) and opaque (42): one resource (instance) only --- */
int gw_text_encode(const gw_record_t *rec, gw_buf_t *out);
int gw_text_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                   gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out);
int gw_opaque_encode(const gw_record_t *rec, gw_buf_t *out); /* -EINVAL unless OPAQUE */
int gw_opaque_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                     gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out);

/* Dispatch on a content format. Returns -EPROTONOSUPPORT for a format that
 * has no codec (-> 4.06 for Accept, 4.15 for Content-Format). gw_codec_decode
 * also refuses (-EINVAL) a payload with two values for one path, in any
 * format: a Write carries each resource (instance) once. */
int gw_codec_encode(int cf, const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out);
int gw_codec_decode(int cf, const gw_path_t *base, const uint8_t *p, size_t len,
                    gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out);

/* base64 (standard alphabet, with padding) for text/plain opaque values, and
 * base64url (no padding) for SenML JSON "vd". Decoders accept both alphabets,
 * padded or not. Return 0 or -EINVAL / -ENOMEM. */
int gw_base64_encode(const uint8_t *p, size_t len, bool url, gw_buf_t *out);
int gw_base64_decode(const char *s, size_t len, gw_buf_t *out);

#endif
