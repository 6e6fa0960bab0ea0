/*
 * lwm2m/text.c - text/plain (0) and application/octet-stream (42): one
 * resource or resource instance per payload (OMA LwM2M 1.1 Core 7.4.1-2).
 */
#include <errno.h>
#include <string.h>

#include "codec.h"

int gw_text_encode(const gw_record_t *rec, gw_buf_t *out)
{
    return gw_value_to_text(&rec->value, out);
}

int gw_opaque_encode(const gw_record_t *rec, gw_buf_t *out)
{
    if (rec->value.type != GW_TYPE_OPAQUE)
        return -EINVAL;
    if (rec->value.v.bytes.len && !rec->value.v.bytes.ptr)
        return -EINVAL;
    return gw_buf_append(out, rec->value.v.bytes.ptr, rec->value.v.bytes.len);
}

static int single_type(const gw_path_t *base, gw_type_lookup_fn lookup, void *lookup_ctx,
                       gw_type_t dflt, gw_type_t *type, gw_decoded_t *out)
{
    char ps[32];
    out->error[0] = '\0';
    if (base->len < 3)
        return gw_decoded_fail(out, -EINVAL, "%s: this format carries a single resource only",
                               gw_path_format(base, ps, sizeof ps));
    *type = dflt;
    if (lookup) {
        int rc = lookup(lookup_ctx, base, type);
        if (rc)
            return gw_decoded_fail(out, rc == -ENOENT ? -ENOENT : rc, "%s: unknown resource",
                                   gw_path_format(base, ps, sizeof ps));
    }
    return 0;
}

static int push(gw_decoded_t *out, const gw_path_t *base, const gw_value_t *v)
{
    gw_record_t r;
    memset(&r, 0, sizeof r);
    r.path = *base;
    r.value = *v;
    int rc = gw_decoded_push(out, &r);
    return rc == -ENOMEM ? gw_decoded_fail(out, rc, "out of memory") : rc; /* else push said why */
}

int gw_text_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                   gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out)
{
    gw_type_t type;
    gw_value_t v;
    char ps[32];
    int rc = single_type(base, lookup, lookup_ctx, GW_TYPE_STRING, &type, out);
    if (rc)
        return rc;
    if (!p && len)
        return gw_decoded_fail(out, -EINVAL, "no payload");
    memset(&v, 0, sizeof v);
    if (type == GW_TYPE_OPAQUE) {
        gw_buf_t tmp = {0};
        rc = gw_base64_decode((const char *)p, len, &tmp);
        if (rc) {
            gw_buf_free(&tmp);
            return gw_decoded_fail(out, rc, "%s: Opaque text is not base64",
                                   gw_path_format(base, ps, sizeof ps));
        }
        uint8_t *copy = gw_decoded_alloc(out, tmp.len);
        if (!copy) {
            gw_buf_free(&tmp);
            return gw_decoded_fail(out, -ENOMEM, "out of memory");
        }
        if (tmp.len)
            memcpy(copy, tmp.data, tmp.len);
        v.type = GW_TYPE_OPAQUE;
        v.v.bytes.ptr = copy;
        v.v.bytes.len = tmp.len;
        gw_buf_free(&tmp);
    } else if (gw_value_from_text(type, (const char *)p, len, &v)) {
        return gw_decoded_fail(out, -EINVAL, "%s: \"%.*s\" is not a valid %s",
                               gw_path_format(base, ps, sizeof ps), len > 24 ? 24 : (int)len,
                               p ? (const char *)p : "", gw_type_name(type));
    }
    return push(out, base, &v);
}

int gw_opaque_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                     gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out)
{
    gw_type_t type;
    char ps[32];
    int rc = single_type(base, lookup, lookup_ctx, GW_TYPE_OPAQUE, &type, out);
    if (rc)
        return rc;
    if (type != GW_TYPE_OPAQUE)
        return gw_decoded_fail(out, -EINVAL, "%s: %s resource in application/octet-stream",
                               gw_path_format(base, ps, sizeof ps), gw_type_name(type));
    if (!p && len)
        return gw_decoded_fail(out, -EINVAL, "no payload");
    gw_value_t v = {.type = GW_TYPE_OPAQUE, .v.bytes = {.ptr = p, .len = len}};
    return push(out, base, &v);
}
