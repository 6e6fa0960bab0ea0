/*
 * lwm2m/codec.c - the decode result helpers and content-format dispatch.
 */
#include "codec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void gw_decoded_free(gw_decoded_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_owned; i++)
        free(d->owned[i]);
    free(d->owned);
    free(d->recs);
    d->owned = NULL;
    d->recs = NULL;
    d->n = d->cap = d->n_owned = d->cap_owned = 0;
}

int gw_decoded_push(gw_decoded_t *d, const gw_record_t *r)
{
    /* Every decoder hands its records over here, so no content format can
     * let through a value the data type does not allow. */
    char why[96], ps[32];
    if (r->value.type != GW_TYPE_NONE && gw_value_check(&r->value, why, sizeof why) < 0)
        return gw_decoded_fail(d, -EINVAL, "%s: %s", gw_path_format(&r->path, ps, sizeof ps), why);
    if (r->has_time && !isfinite(r->time))
        return gw_decoded_fail(d, -EINVAL, "%s: the time must be a finite number",
                               gw_path_format(&r->path, ps, sizeof ps));
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        if (cap > SIZE_MAX / sizeof *d->recs)
            return -ENOMEM;
        gw_record_t *nr = realloc(d->recs, cap * sizeof *nr);
        if (!nr)
            return -ENOMEM;
        d->recs = nr;
        d->cap = cap;
    }
    d->recs[d->n++] = *r;
    return 0;
}

void *gw_decoded_alloc(gw_decoded_t *d, size_t n)
{
    if (d->n_owned == d->cap_owned) {
        size_t cap = d->cap_owned ? d->cap_owned * 2 : 4;
        void **no = realloc(d->owned, cap * sizeof *no);
        if (!no)
            return NULL;
        d->owned = no;
        d->cap_owned = cap;
    }
    /* malloc(0) may return NULL; callers treat NULL as out of memory. */
    void *p = malloc(n ? n : 1);
    if (!p)
        return NULL;
    d->owned[d->n_owned++] = p;
    return p;
}

int gw_decoded_fail(gw_decoded_t *d, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof d->error, fmt, ap);
    va_end(ap);
    if (!d->error[0])
        snprintf(d->error, sizeof d->error, "decode error %d", err);
    return err;
}

int gw_codec_encode(int cf, const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out)
{
    switch (cf) {
    case GW_CF_TEXT:
    case GW_CF_OPAQUE:
        /* These formats carry exactly one value: anything else (a multiple
         * resource, an instance) is "Not Acceptable" in this format. */
        if (n != 1)
            return -EPROTONOSUPPORT;
        return cf == GW_CF_TEXT ? gw_text_encode(&recs[0], out) : gw_opaque_encode(&recs[0], out);
    case GW_CF_LWM2M_TLV:
        return gw_tlv_encode(base, recs, n, out);
    case GW_CF_SENML_JSON:
        return gw_senml_json_encode(base, recs, n, out);
    case GW_CF_SENML_CBOR:
        return gw_senml_cbor_encode(base, recs, n, out);
    default:
        return -EPROTONOSUPPORT;
    }
}

static int cmp_path_ptr(const void *a, const void *b)
{
    return gw_path_cmp(*(const gw_path_t *const *)a, *(const gw_path_t *const *)b);
}

/* Two values for one path would leave whichever is stored last: the
 * server's intent is unknowable, so the payload is refused whole (a Write
 * carries each resource, and each resource instance, once). Sorted: a
 * composite of thousands of records costs O(n log n), not O(n^2). */
static int refuse_duplicates(gw_decoded_t *d)
{
    if (d->n < 2)
        return 0;
    const gw_path_t **v = malloc(d->n * sizeof *v);
    if (!v)
        return gw_decoded_fail(d, -ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->recs[i].value.type != GW_TYPE_NONE)
            v[k++] = &d->recs[i].path;
    if (k > 1)
        qsort(v, k, sizeof *v, cmp_path_ptr);
    int rc = 0;
    for (size_t i = 1; i < k && !rc; i++)
        if (gw_path_cmp(v[i - 1], v[i]) == 0) {
            char ps[32];
            rc = gw_decoded_fail(d, -EINVAL, "%s: two values for one path in one payload, "
                                 "expected each resource (instance) once",
                                 gw_path_format(v[i], ps, sizeof ps));
        }
    free(v);
    return rc;
}

int gw_codec_decode(int cf, const gw_path_t *base, const uint8_t *p, size_t len,
                    gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out)
{
    int rc;
    switch (cf) {
    case GW_CF_TEXT:
        rc = gw_text_decode(base, p, len, lookup, lookup_ctx, out);
        break;
    case GW_CF_OPAQUE:
        rc = gw_opaque_decode(base, p, len, lookup, lookup_ctx, out);
        break;
    case GW_CF_LWM2M_TLV:
        rc = gw_tlv_decode(base, p, len, lookup, lookup_ctx, out);
        break;
    case GW_CF_SENML_JSON:
        rc = gw_senml_json_decode(base, p, len, lookup, lookup_ctx, out);
        break;
    case GW_CF_SENML_CBOR:
        rc = gw_senml_cbor_decode(base, p, len, lookup, lookup_ctx, out);
        break;
    default:
        return gw_decoded_fail(out, -EPROTONOSUPPORT, "content format %d is not supported", cf);
    }
    return rc ? rc : refuse_duplicates(out);
}
