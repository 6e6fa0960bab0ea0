/*
 * lwm2m/senml_common.c - naming and value typing shared by SenML JSON and
 * SenML CBOR.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "senml_internal.h"

int gw_senml_set_bn(gw_senml_base_t *b, const char *s, size_t len, size_t idx, gw_decoded_t *dec)
{
    if (len >= sizeof b->bn)
        return gw_decoded_fail(dec, -EINVAL, "SenML record %zu: base name of %zu bytes is too long",
                               idx, len);
    memcpy(b->bn, s, len);
    b->bn[len] = '\0';
    b->bn_len = len;
    return 0;
}

void gw_senml_rec_err(gw_senml_rec_t *r, const char *fmt, ...)
{
    if (r->err[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
}

bool gw_senml_label_once(gw_senml_rec_t *r, int label, const char *name)
{
    uint32_t bit = 1u << label;
    if (r->seen & bit) {
        gw_senml_rec_err(r, "SenML label \"%.16s\" twice in one record", name);
        return false;
    }
    r->seen |= bit;
    return true;
}

void gw_senml_set_bver(gw_senml_base_t *b, gw_senml_rec_t *r, const gw_senml_num_t *num)
{
    if (num->kind != GW_SENML_NUM_I || num->i < 1) {
        gw_senml_rec_err(r, "SenML \"bver\" must be a positive integer");
    } else if (num->i > GW_SENML_VERSION) {
        /* RFC 8428 4.4: a version the reader does not know may change
         * what the fields mean; reading on would store wrong values. */
        gw_senml_rec_err(r, "SenML version %lld is not supported (this client reads up to %d)",
                         (long long)num->i, GW_SENML_VERSION);
    } else if (b->bver && b->bver != num->i) {
        gw_senml_rec_err(r, "SenML \"bver\" %lld differs from the pack's %lld (RFC 8428 4.4)",
                         (long long)num->i, (long long)b->bver);
    } else {
        b->bver = num->i;
    }
}

/* 2^63 and 2^64 are exact doubles; comparisons against them are exact. */
#define TWO_POW_63 9223372036854775808.0
#define TWO_POW_64 18446744073709551616.0

static int num_to_value(const gw_senml_num_t *num, gw_type_t type, gw_value_t *v)
{
    switch (type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        if (num->kind == GW_SENML_NUM_I) {
            v->v.i = num->i;
        } else if (num->kind == GW_SENML_NUM_F && isfinite(num->f) && floor(num->f) == num->f &&
                   num->f >= -TWO_POW_63 && num->f < TWO_POW_63) {
            v->v.i = (int64_t)num->f;
        } else {
            return -EINVAL;
        }
        return 0;
    case GW_TYPE_UNSIGNED:
        if (num->kind == GW_SENML_NUM_I && num->i >= 0) {
            v->v.u = (uint64_t)num->i;
        } else if (num->kind == GW_SENML_NUM_U) {
            v->v.u = num->u;
        } else if (num->kind == GW_SENML_NUM_F && isfinite(num->f) && floor(num->f) == num->f &&
                   num->f >= 0 && num->f < TWO_POW_64) {
            v->v.u = (uint64_t)num->f;
        } else {
            return -EINVAL;
        }
        return 0;
    case GW_TYPE_FLOAT:
        if (num->kind == GW_SENML_NUM_I)
            v->v.f = (double)num->i;
        else if (num->kind == GW_SENML_NUM_U)
            v->v.f = (double)num->u;
        else
            v->v.f = num->f;
        return 0;
    default:
        return -EINVAL;
    }
}

static double num_as_double(const gw_senml_num_t *n)
{
    return n->kind == GW_SENML_NUM_I ? (double)n->i
           : n->kind == GW_SENML_NUM_U ? (double)n->u
                                       : n->f;
}

/* bv + v (RFC 8428 4.1). Integers add exactly while the sum fits 64 bits:
 * an Integer resource must not pass through a double, which holds 53. */
static void num_add(const gw_senml_num_t *a, const gw_senml_num_t *b, gw_senml_num_t *out)
{
    memset(out, 0, sizeof *out);
    if (a->kind == GW_SENML_NUM_I && b->kind == GW_SENML_NUM_I) {
        if (!__builtin_add_overflow(a->i, b->i, &out->i)) {
            out->kind = GW_SENML_NUM_I;
            return;
        }
    } else if (a->kind != GW_SENML_NUM_F && b->kind != GW_SENML_NUM_F) {
        /* One is above INT64_MAX (kind U). */
        const gw_senml_num_t *u = a->kind == GW_SENML_NUM_U ? a : b, *o = u == a ? b : a;
        uint64_t ov = o->kind == GW_SENML_NUM_U ? o->u : (uint64_t)o->i;
        if (o->kind == GW_SENML_NUM_I && o->i < 0) {
            /* u > INT64_MAX >= -o->i: no wrap. */
            uint64_t d = u->u - ((uint64_t)(-(o->i + 1)) + 1);
            out->kind = d <= INT64_MAX ? GW_SENML_NUM_I : GW_SENML_NUM_U;
            out->i = (int64_t)(d <= INT64_MAX ? d : 0);
            out->u = d;
            return;
        }
        if (!__builtin_add_overflow(u->u, ov, &out->u)) {
            out->kind = GW_SENML_NUM_U;
            return;
        }
    }
    /* A sum outside 64 bits, or a fraction: the type check decides. */
    out->kind = GW_SENML_NUM_F;
    out->f = num_as_double(a) + num_as_double(b);
}

static const char *vkind_name(int k)
{
    switch (k) {
    case GW_SENML_V_NUM: return "\"v\"";
    case GW_SENML_V_STR: return "\"vs\"";
    case GW_SENML_V_BOOL: return "\"vb\"";
    case GW_SENML_V_DATA64:
    case GW_SENML_V_DATA: return "\"vd\"";
    case GW_SENML_V_OBJLNK: return "\"vlo\"";
    default: return "no value";
    }
}

/* Which SenML value field each LwM2M type travels in. */
static int expected_vkind(gw_type_t t, bool data_raw)
{
    switch (t) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_UNSIGNED:
    case GW_TYPE_FLOAT:
    case GW_TYPE_TIME: return GW_SENML_V_NUM;
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK: return GW_SENML_V_STR;
    case GW_TYPE_BOOLEAN: return GW_SENML_V_BOOL;
    case GW_TYPE_OPAQUE: return data_raw ? GW_SENML_V_DATA : GW_SENML_V_DATA64;
    case GW_TYPE_OBJLNK: return GW_SENML_V_OBJLNK;
    default: return -1;
    }
}

int gw_senml_emit(const gw_path_t *base, const gw_senml_base_t *b, const gw_senml_rec_t *r,
                  bool copy_strings, gw_type_lookup_fn lookup, void *lookup_ctx,
                  gw_decoded_t *dec)
{
    char name[2 * GW_SENML_NAME_MAX];
    char ps[32];
    gw_record_t rec;
    memset(&rec, 0, sizeof rec);

    if (r->n_len >= GW_SENML_NAME_MAX)
        return gw_decoded_fail(dec, -EINVAL, "SenML record %zu: name of %zu bytes is too long",
                               r->idx, r->n_len);
    memcpy(name, b->bn, b->bn_len);
    if (r->n_len)
        memcpy(name + b->bn_len, r->n, r->n_len);
    name[b->bn_len + r->n_len] = '\0';
    if (memchr(name, '\0', b->bn_len + r->n_len) || !name[0])
        return gw_decoded_fail(dec, -EINVAL, "SenML record %zu: %s", r->idx,
                               r->err[0] ? r->err : "no name (\"bn\" and \"n\" are both empty)");
    /* "/" is a path too: Read-Composite names it for every object (LwM2M
     * 1.1 6.3.x); a value on it is refused below as on any non-resource. */
    if (gw_path_parse(name, &rec.path))
        return gw_decoded_fail(dec, -EINVAL, "SenML record %zu: name \"%.40s\" is not an LwM2M path",
                               r->idx, name);
    if (r->err[0])
        return gw_decoded_fail(dec, -EINVAL, "%s: %s", name, r->err);
    /* LwM2M carries values in "v" (TS 1.1 7.4.5): a sum has no resource
     * to go to, and ignoring it would answer 2.04 for a value not stored. */
    if (r->seen & ((1u << GW_SENML_L_S) | (1u << GW_SENML_L_BS)))
        return gw_decoded_fail(dec, -EINVAL, "%s: SenML %s (sum) is not used by LwM2M, expected "
                               "the value in \"v\"", name,
                               r->seen & (1u << GW_SENML_L_S) ? "\"s\"" : "\"bs\"");
    if (!gw_path_has_prefix(&rec.path, base))
        return gw_decoded_fail(dec, -EINVAL, "SenML name %s is outside the request path %s", name,
                               gw_path_format(base, ps, sizeof ps));
    if (r->has_t || b->bt != 0) {
        rec.has_time = true;
        rec.time = b->bt + (r->has_t ? r->t : 0);
    }

    if (r->vkind == GW_SENML_V_NONE) {
        rec.value.type = GW_TYPE_NONE;
        goto push;
    }
    gw_senml_num_t num = r->num;
    if (r->vkind == GW_SENML_V_NUM && b->has_bv)
        num_add(&b->bv, &r->num, &num);
    if (rec.path.len < 3)
        return gw_decoded_fail(dec, -EINVAL, "SenML value for %s, which is not a resource", name);

    gw_type_t type = GW_TYPE_OPAQUE;
    if (lookup) {
        int rc = lookup(lookup_ctx, &rec.path, &type);
        if (rc)
            return gw_decoded_fail(dec, rc == -ENOENT ? -ENOENT : rc, "%s: unknown resource", name);
    } else {
        /* Without declared types, take the one the record shows. */
        switch (r->vkind) {
        case GW_SENML_V_NUM:
            type = num.kind == GW_SENML_NUM_F ? GW_TYPE_FLOAT
                   : num.kind == GW_SENML_NUM_U ? GW_TYPE_UNSIGNED
                                                   : GW_TYPE_INTEGER;
            break;
        case GW_SENML_V_STR: type = GW_TYPE_STRING; break;
        case GW_SENML_V_BOOL: type = GW_TYPE_BOOLEAN; break;
        case GW_SENML_V_OBJLNK: type = GW_TYPE_OBJLNK; break;
        default: type = GW_TYPE_OPAQUE;
        }
    }
    rec.value.type = type;
    if (expected_vkind(type, r->vkind == GW_SENML_V_DATA) != r->vkind)
        return gw_decoded_fail(dec, -EINVAL, "%s: %s for a resource of type %s", name,
                               vkind_name(r->vkind), gw_type_name(type));

    switch (r->vkind) {
    case GW_SENML_V_NUM:
        if (num_to_value(&num, type, &rec.value))
            return gw_decoded_fail(dec, -EINVAL, "%s: number out of range for %s", name,
                                   gw_type_name(type));
        break;
    case GW_SENML_V_BOOL:
        rec.value.v.b = r->b;
        break;
    case GW_SENML_V_OBJLNK:
        if (gw_value_from_text(GW_TYPE_OBJLNK, (const char *)r->s, r->s_len, &rec.value))
            return gw_decoded_fail(dec, -EINVAL, "%s: \"vlo\" is not \"oid:iid\"", name);
        break;
    case GW_SENML_V_DATA64: {
        gw_buf_t tmp = {0};
        int rc = gw_base64_decode((const char *)r->s, r->s_len, &tmp);
        if (rc) {
            gw_buf_free(&tmp);
            return gw_decoded_fail(dec, rc, "%s: \"vd\" is not base64", name);
        }
        uint8_t *copy = gw_decoded_alloc(dec, tmp.len);
        if (!copy) {
            gw_buf_free(&tmp);
            return gw_decoded_fail(dec, -ENOMEM, "out of memory");
        }
        if (tmp.len)
            memcpy(copy, tmp.data, tmp.len);
        rec.value.v.bytes.ptr = copy;
        rec.value.v.bytes.len = tmp.len;
        gw_buf_free(&tmp);
        break;
    }
    case GW_SENML_V_STR:
    case GW_SENML_V_DATA:
        rec.value.v.bytes.ptr = r->s;
        rec.value.v.bytes.len = r->s_len;
        if (copy_strings) {
            uint8_t *copy = gw_decoded_alloc(dec, r->s_len);
            if (!copy)
                return gw_decoded_fail(dec, -ENOMEM, "out of memory");
            if (r->s_len)
                memcpy(copy, r->s, r->s_len);
            rec.value.v.bytes.ptr = copy;
        }
        break;
    }
push:;
    int rc = gw_decoded_push(dec, &rec);
    return rc == -ENOMEM ? gw_decoded_fail(dec, rc, "out of memory") : rc; /* else push said why */
}

void gw_senml_names(const gw_path_t *base, const gw_record_t *recs, size_t n, size_t idx,
                    char *out_bn, char *out_n)
{
    bool any_at = false, any_below = false;
    char bs[32], ps[32];
    for (size_t i = 0; i < n; i++) {
        if (recs[i].path.len > base->len)
            any_below = true;
        else
            any_at = true;
    }
    gw_path_format(base, bs, sizeof bs);
    gw_path_format(&recs[idx].path, ps, sizeof ps);
    size_t bl = base->len ? strlen(bs) : 0; /* the root's "/" is not a prefix to drop */
    const char *rel = ps + bl;              /* "/7/0" or "" */

    out_bn[0] = out_n[0] = '\0';
    if (any_below && !any_at) {
        /* bn "/3/0/" and n "7/0": the form the LwM2M spec shows. */
        if (idx == 0)
            snprintf(out_bn, GW_SENML_NAME_MAX, "%s%s", base->len ? bs : "", "/");
        snprintf(out_n, GW_SENML_NAME_MAX, "%s", rel + (*rel == '/'));
    } else {
        /* Under the root every name is whole ("/", "/3/0"): a bn "/" would
         * make the root record "//". */
        if (idx == 0 && base->len)
            snprintf(out_bn, GW_SENML_NAME_MAX, "%s", bs);
        snprintf(out_n, GW_SENML_NAME_MAX, "%s", rel);
    }
}
