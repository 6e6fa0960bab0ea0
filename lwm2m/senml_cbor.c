/*
 * lwm2m/senml_cbor.c - SenML CBOR (application/senml+cbor, 112): RFC 8428
 * section 6 and OMA LwM2M 1.1 Core 7.4.6.
 *
 * Decoding runs libcbor's streaming decoder with a small state machine
 * instead of cbor_load: cbor_load allocates what a header announces (an
 * array "of 2^32 items" in five bytes) and frees trees recursively, while
 * SenML needs exactly two levels (an array of maps of scalars) and nothing
 * allocated. Strings point into the payload.
 */
#include <cbor.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "senml_internal.h"

/* RFC 8428 Table 6 labels. */
enum {
    LBL_BVER = -1,
    LBL_BN = -2,
    LBL_BT = -3,
    LBL_BU = -4,
    LBL_BV = -5,
    LBL_BS = -6,
    LBL_N = 0,
    LBL_U = 1,
    LBL_V = 2,
    LBL_VS = 3,
    LBL_VB = 4,
    LBL_S = 5,
    LBL_T = 6,
    LBL_UT = 7,
    LBL_VD = 8,
    LBL_VLO = 1000, /* the text label "vlo" (LwM2M 1.1), not an RFC number */
    LBL_IGNORED = 1001,
};

/* The GW_SENML_L_* bit of a label, -1 for one read past. */
static int label_bit(int key, const char **out_name)
{
    static const struct {
        int key, bit;
        const char *name;
    } t[] = {
        {LBL_BVER, GW_SENML_L_BVER, "bver"}, {LBL_BN, GW_SENML_L_BN, "bn"},
        {LBL_BT, GW_SENML_L_BT, "bt"},       {LBL_BU, GW_SENML_L_BU, "bu"},
        {LBL_BV, GW_SENML_L_BV, "bv"},       {LBL_BS, GW_SENML_L_BS, "bs"},
        {LBL_N, GW_SENML_L_N, "n"},          {LBL_U, GW_SENML_L_U, "u"},
        {LBL_V, GW_SENML_L_V, "v"},          {LBL_VS, GW_SENML_L_VS, "vs"},
        {LBL_VB, GW_SENML_L_VB, "vb"},       {LBL_S, GW_SENML_L_S, "s"},
        {LBL_T, GW_SENML_L_T, "t"},          {LBL_UT, GW_SENML_L_UT, "ut"},
        {LBL_VD, GW_SENML_L_VD, "vd"},       {LBL_VLO, GW_SENML_L_VLO, "vlo"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].key == key) {
            *out_name = t[i].name;
            return t[i].bit;
        }
    return -1;
}

/* ---------------------------------------------------------------- encode */

#define CBOR_HDR_MAX 9

typedef size_t (*hdr_fn)(size_t, unsigned char *, size_t);

static int put_hdr(gw_buf_t *out, hdr_fn fn, size_t v)
{
    int rc = gw_buf_reserve(out, CBOR_HDR_MAX);
    if (rc)
        return rc;
    size_t n = fn(v, out->data + out->len, out->cap - out->len);
    if (n == 0)
        return -EINVAL;
    out->len += n;
    return 0;
}

static int put_int(gw_buf_t *out, int64_t i)
{
    int rc = gw_buf_reserve(out, CBOR_HDR_MAX);
    if (rc)
        return rc;
    unsigned char *w = out->data + out->len;
    size_t cap = out->cap - out->len;
    /* CBOR negative integers carry -1 - i, which cannot overflow. */
    size_t n = i >= 0 ? cbor_encode_uint((uint64_t)i, w, cap)
                      : cbor_encode_negint((uint64_t)(-1 - i), w, cap);
    out->len += n;
    return n ? 0 : -EINVAL;
}

static int put_uint(gw_buf_t *out, uint64_t u)
{
    int rc = gw_buf_reserve(out, CBOR_HDR_MAX);
    if (rc)
        return rc;
    size_t n = cbor_encode_uint(u, out->data + out->len, out->cap - out->len);
    out->len += n;
    return n ? 0 : -EINVAL;
}

static int put_text(gw_buf_t *out, const void *s, size_t len, bool bytes)
{
    if (len && !s)
        return -EINVAL;
    /* A CBOR text string is UTF-8 (RFC 8949 3.1): refuse rather than emit invalid CBOR. */
    if (!bytes && !gw_utf8_valid(s, len))
        return -EINVAL;
    int rc = put_hdr(out, bytes ? cbor_encode_bytestring_start : cbor_encode_string_start, len);
    return rc ? rc : gw_buf_append(out, s, len);
}

/* IEEE 754 binary16 bits of d when d is exactly representable. libcbor
 * 0.8's cbor_encode_half rounds silently, so exactness is decided here. */
static bool half_bits(double d, uint16_t *out)
{
    uint16_t sign = signbit(d) ? 0x8000 : 0;
    double a = fabs(d);
    if (isnan(d))
        return false;
    if (a == 0 || isinf(d)) {
        *out = (uint16_t)(sign | (a == 0 ? 0 : 0x7C00));
        return true;
    }
    if (a > 65504.0)
        return false;
    int e;
    frexp(a, &e);
    int exp = e - 1; /* a = 1.f * 2^exp */
    if (exp >= -14) {
        double m = ldexp(a, 10 - exp);
        if (floor(m) != m)
            return false;
        *out = (uint16_t)(sign | (uint16_t)((exp + 15) << 10) | (uint16_t)((uint32_t)m - 1024));
    } else {
        double m = ldexp(a, 24);
        if (floor(m) != m)
            return false;
        *out = (uint16_t)(sign | (uint16_t)m);
    }
    return true;
}

/* The shortest of half, single and double that holds d exactly. */
static int put_float(gw_buf_t *out, double d)
{
    int rc = gw_buf_reserve(out, CBOR_HDR_MAX);
    if (rc)
        return rc;
    unsigned char *w = out->data + out->len;
    size_t cap = out->cap - out->len, n;
    uint16_t h;
    if (half_bits(d, &h)) {
        w[0] = 0xF9;
        w[1] = (unsigned char)(h >> 8);
        w[2] = (unsigned char)h;
        n = 3;
    } else if (!isnan(d) && (double)(float)d == d) {
        n = cbor_encode_single((float)d, w, cap);
    } else {
        n = cbor_encode_double(d, w, cap);
    }
    out->len += n;
    return n ? 0 : -EINVAL;
}

/* Times are usually whole seconds: an integer is shorter and exact. */
static int put_time(gw_buf_t *out, double t)
{
    if (floor(t) == t && fabs(t) < 9007199254740992.0)
        return put_int(out, (int64_t)t);
    return put_float(out, t);
}

static int put_value(gw_buf_t *out, const gw_value_t *v)
{
    int rc;
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        rc = put_int(out, LBL_V);
        return rc ? rc : put_int(out, v->v.i);
    case GW_TYPE_UNSIGNED:
        rc = put_int(out, LBL_V);
        return rc ? rc : put_uint(out, v->v.u);
    case GW_TYPE_FLOAT:
        rc = put_int(out, LBL_V);
        return rc ? rc : put_float(out, v->v.f);
    case GW_TYPE_BOOLEAN:
        rc = put_int(out, LBL_VB);
        if (!rc)
            rc = gw_buf_append(out, v->v.b ? "\xF5" : "\xF4", 1);
        return rc;
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        rc = put_int(out, LBL_VS);
        return rc ? rc : put_text(out, v->v.bytes.ptr, v->v.bytes.len, false);
    case GW_TYPE_OPAQUE:
        rc = put_int(out, LBL_VD);
        return rc ? rc : put_text(out, v->v.bytes.ptr, v->v.bytes.len, true);
    case GW_TYPE_OBJLNK: {
        char s[16];
        int n = snprintf(s, sizeof s, "%u:%u", (unsigned)v->v.objlnk.oid,
                         (unsigned)v->v.objlnk.iid);
        rc = put_text(out, "vlo", 3, false);
        return rc ? rc : put_text(out, s, (size_t)n, false);
    }
    default:
        return -EINVAL;
    }
}

int gw_senml_cbor_encode(const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out)
{
    size_t start = out->len;
    int rc = put_hdr(out, cbor_encode_array_start, n);
    for (size_t i = 0; !rc && i < n; i++) {
        char bn[GW_SENML_NAME_MAX], nm[GW_SENML_NAME_MAX];
        const gw_record_t *r = &recs[i];
        if (!gw_path_has_prefix(&r->path, base)) {
            rc = -EINVAL;
            break;
        }
        gw_senml_names(base, recs, n, i, bn, nm);
        size_t pairs = (bn[0] != 0) + (nm[0] != 0) + r->has_time + (r->value.type != GW_TYPE_NONE);
        rc = put_hdr(out, cbor_encode_map_start, pairs);
        if (!rc && bn[0] && !(rc = put_int(out, LBL_BN)))
            rc = put_text(out, bn, strlen(bn), false);
        if (!rc && nm[0] && !(rc = put_int(out, LBL_N)))
            rc = put_text(out, nm, strlen(nm), false);
        if (!rc && r->has_time && !(rc = put_int(out, LBL_T)))
            rc = put_time(out, r->time);
        if (!rc && r->value.type != GW_TYPE_NONE)
            rc = put_value(out, &r->value);
    }
    if (rc)
        out->len = start;
    return rc;
}

/* ---------------------------------------------------------------- decode */

enum ev_kind { EV_NUM, EV_TEXT, EV_BYTES, EV_BOOL, EV_OTHER };

typedef struct cdec {
    const gw_path_t *base;
    gw_type_lookup_fn lookup;
    void *lookup_ctx;
    gw_decoded_t *out;
    int rc;
    int depth; /* 0 before the root, 1 in the root array, 2 in a record */
    bool done;
    bool root_indef, map_indef, expect_key;
    uint64_t root_left, map_left; /* items left in definite containers */
    int key;
    bool skip_value; /* the key was refused or repeated: its value is read past */
    size_t n_records;
    gw_senml_base_t b;
    gw_senml_rec_t rec;
} cdec_t;

/* A problem of the pack's structure, found while a record may still be
 * unnamed: it says which record. Problems of one field wait in rec.err. */
static void fail(cdec_t *c, int err, const char *msg)
{
    if (c->rc)
        return;
    if (c->depth == 2)
        c->rc = gw_decoded_fail(c->out, err, "SenML CBOR record %zu: %s", c->rec.idx, msg);
    else
        c->rc = gw_decoded_fail(c->out, err, "SenML CBOR: %s", msg);
}

static double num_as_double(const gw_senml_num_t *n)
{
    return n->kind == GW_SENML_NUM_I ? (double)n->i
           : n->kind == GW_SENML_NUM_U ? (double)n->u
                                       : n->f;
}

static void end_root_item(cdec_t *c)
{
    c->depth = 1;
    if (!c->root_indef && --c->root_left == 0)
        c->done = true;
}

static void end_record(cdec_t *c)
{
    if (c->rc)
        return;
    c->rc = gw_senml_emit(c->base, &c->b, &c->rec, false, c->lookup, c->lookup_ctx, c->out);
    end_root_item(c);
}

static void start_record(cdec_t *c, bool indef, size_t pairs)
{
    memset(&c->rec, 0, sizeof c->rec);
    c->rec.idx = ++c->n_records;
    c->depth = 2;
    c->expect_key = true;
    c->map_indef = indef;
    if (!indef) {
        if (pairs > UINT32_MAX) {
            fail(c, -EINVAL, "record map too large");
            return;
        }
        c->map_left = 2 * (uint64_t)pairs;
        if (c->map_left == 0)
            end_record(c);
    }
}

static bool set_value(cdec_t *c, int vkind)
{
    if (c->rec.vkind != GW_SENML_V_NONE) {
        gw_senml_rec_err(&c->rec, "SenML record with more than one value");
        return false;
    }
    c->rec.vkind = vkind;
    return true;
}

/* A key or a value inside a record. */
static void scalar(cdec_t *c, enum ev_kind k, const gw_senml_num_t *num, const uint8_t *s,
                   size_t len, bool b)
{
    if (c->rc)
        return;
    if (c->done) {
        fail(c, -EINVAL, "data after the root array");
        return;
    }
    if (c->depth != 2) {
        fail(c, -EINVAL, c->depth == 0 ? "the root is not an array" : "a record is not a map");
        return;
    }
    if (c->expect_key) {
        c->skip_value = false;
        c->key = LBL_IGNORED;
        if (k == EV_NUM && num->kind == GW_SENML_NUM_I && num->i >= LBL_BS && num->i <= LBL_VD) {
            c->key = (int)num->i;
        } else if (k == EV_TEXT && len == 3 && !memcmp(s, "vlo", 3)) {
            c->key = LBL_VLO;
        } else if (k == EV_TEXT && len > 0 && s[len - 1] == '_') {
            /* RFC 8428 4.4: labels ending in "_" must be understood. */
            gw_senml_rec_err(&c->rec, "SenML label \"%.*s\" is not supported",
                             len > 32 ? 32 : (int)len, (const char *)s);
        } else if (k != EV_NUM && k != EV_TEXT) {
            gw_senml_rec_err(&c->rec, "SenML CBOR: a map key is neither an integer nor a text");
        }
        const char *name = NULL;
        int bit = label_bit(c->key, &name);
        if (bit >= 0 && !gw_senml_label_once(&c->rec, bit, name))
            c->skip_value = true;
        c->expect_key = false;
    } else {
        gw_senml_rec_t *r = &c->rec;
        const char *name = "?";
        bool ok = true;
        const char *want = "";
        label_bit(c->key, &name);
        switch (c->skip_value ? LBL_IGNORED : c->key) {
        case LBL_BVER:
            ok = k == EV_NUM;
            want = "a positive integer";
            if (ok)
                gw_senml_set_bver(&c->b, r, num);
            break;
        case LBL_BN:
            ok = k == EV_TEXT;
            want = "a text string";
            if (ok && gw_senml_set_bn(&c->b, (const char *)s, len, r->idx, c->out))
                c->rc = -EINVAL;
            break;
        case LBL_N:
        case LBL_U:
        case LBL_BU:
            /* Units: the object definition fixes them in LwM2M (TS 1.1
             * 7.4.5); a well-typed one is read past. */
            ok = k == EV_TEXT;
            want = "a text string";
            if (ok && c->key == LBL_N) {
                r->n = (const char *)s;
                r->n_len = len;
            }
            break;
        case LBL_BT:
        case LBL_T:
        case LBL_BV:
        case LBL_BS:
        case LBL_S:
        case LBL_UT:
            /* A sum is refused by gw_senml_emit, with the record's name. */
            ok = k == EV_NUM;
            want = "a number";
            if (ok && c->key == LBL_BT) {
                c->b.bt = num_as_double(num);
            } else if (ok && c->key == LBL_T) {
                r->has_t = true;
                r->t = num_as_double(num);
            } else if (ok && c->key == LBL_BV) {
                c->b.has_bv = true;
                c->b.bv = *num;
            }
            break;
        case LBL_V:
            ok = k == EV_NUM;
            want = "a number";
            if (ok && set_value(c, GW_SENML_V_NUM))
                r->num = *num;
            break;
        case LBL_VB:
            ok = k == EV_BOOL;
            want = "true or false";
            if (ok && set_value(c, GW_SENML_V_BOOL))
                r->b = b;
            break;
        case LBL_VS:
        case LBL_VLO:
        case LBL_VD:
            ok = k == (c->key == LBL_VD ? EV_BYTES : EV_TEXT);
            want = c->key == LBL_VD ? "a byte string" : "a text string";
            if (ok && set_value(c, c->key == LBL_VS    ? GW_SENML_V_STR
                                   : c->key == LBL_VLO ? GW_SENML_V_OBJLNK
                                                       : GW_SENML_V_DATA)) {
                r->s = s;
                r->s_len = len;
            }
            break;
        default:
            ok = k != EV_OTHER;
        }
        if (!ok && c->key == LBL_IGNORED)
            gw_senml_rec_err(r, "SenML CBOR: a label holds null or undefined");
        else if (!ok)
            gw_senml_rec_err(r, "SenML \"%s\" must be %s", name, want);
        c->expect_key = true;
    }
    if (!c->map_indef && --c->map_left == 0 && !c->rc)
        end_record(c);
}

static void on_num(cdec_t *c, gw_senml_num_t n)
{
    scalar(c, EV_NUM, &n, NULL, 0, false);
}

static void cb_uint(void *ctx, uint64_t v)
{
    gw_senml_num_t n = {.kind = GW_SENML_NUM_I, .i = (int64_t)v};
    if (v > INT64_MAX) {
        n.kind = GW_SENML_NUM_U;
        n.u = v;
    }
    on_num(ctx, n);
}
static void cb_uint8(void *ctx, uint8_t v) { cb_uint(ctx, v); }
static void cb_uint16(void *ctx, uint16_t v) { cb_uint(ctx, v); }
static void cb_uint32(void *ctx, uint32_t v) { cb_uint(ctx, v); }

static void cb_negint(void *ctx, uint64_t v)
{
    /* The value is -1 - v. */
    gw_senml_num_t n = {.kind = GW_SENML_NUM_I, .i = v <= INT64_MAX ? -1 - (int64_t)v : 0};
    if (v > INT64_MAX) {
        n.kind = GW_SENML_NUM_F;
        n.f = -1.0 - (double)v;
    }
    on_num(ctx, n);
}
static void cb_negint8(void *ctx, uint8_t v) { cb_negint(ctx, v); }
static void cb_negint16(void *ctx, uint16_t v) { cb_negint(ctx, v); }
static void cb_negint32(void *ctx, uint32_t v) { cb_negint(ctx, v); }

static void cb_double(void *ctx, double d)
{
    gw_senml_num_t n = {.kind = GW_SENML_NUM_F, .f = d};
    on_num(ctx, n);
}
static void cb_float(void *ctx, float f) { cb_double(ctx, f); }

static void cb_text(void *ctx, cbor_data s, size_t len) { scalar(ctx, EV_TEXT, NULL, s, len, false); }
static void cb_bytes(void *ctx, cbor_data s, size_t len) { scalar(ctx, EV_BYTES, NULL, s, len, false); }
static void cb_bool(void *ctx, bool b) { scalar(ctx, EV_BOOL, NULL, NULL, 0, b); }
static void cb_other(void *ctx) { scalar(ctx, EV_OTHER, NULL, NULL, 0, false); }

static void cb_indef_string(void *ctx)
{
    fail(ctx, -EINVAL, "indefinite-length strings are not supported");
}

static void cb_tag(void *ctx, uint64_t tag)
{
    (void)tag;
    fail(ctx, -EINVAL, "tags are not allowed in SenML");
}

static void container(cdec_t *c, bool is_map, bool indef, size_t size)
{
    if (c->rc)
        return;
    if (c->done) {
        fail(c, -EINVAL, "data after the root array");
    } else if (c->depth == 0) {
        if (is_map) {
            fail(c, -EINVAL, "the root is not an array");
            return;
        }
        c->depth = 1;
        c->root_indef = indef;
        c->root_left = size;
        if (!indef && size == 0)
            c->done = true;
    } else if (c->depth == 1) {
        if (!is_map) {
            fail(c, -EINVAL, "a record is not a map");
            return;
        }
        start_record(c, indef, size);
    } else {
        fail(c, -EINVAL, "nested array or map inside a record");
    }
}

static void cb_array(void *ctx, size_t size) { container(ctx, false, false, size); }
static void cb_indef_array(void *ctx) { container(ctx, false, true, 0); }
static void cb_map(void *ctx, size_t size) { container(ctx, true, false, size); }
static void cb_indef_map(void *ctx) { container(ctx, true, true, 0); }

static void cb_break(void *ctx)
{
    cdec_t *c = ctx;
    if (c->rc)
        return;
    if (!c->done && c->depth == 1 && c->root_indef) {
        c->done = true;
    } else if (!c->done && c->depth == 2 && c->map_indef && c->expect_key) {
        end_record(c);
    } else {
        fail(c, -EINVAL, "unexpected break");
    }
}

static const struct cbor_callbacks callbacks = {
    .uint8 = cb_uint8,
    .uint16 = cb_uint16,
    .uint32 = cb_uint32,
    .uint64 = cb_uint,
    .negint8 = cb_negint8,
    .negint16 = cb_negint16,
    .negint32 = cb_negint32,
    .negint64 = cb_negint,
    .byte_string_start = cb_indef_string,
    .byte_string = cb_bytes,
    .string_start = cb_indef_string,
    .string = cb_text,
    .indef_array_start = cb_indef_array,
    .array_start = cb_array,
    .indef_map_start = cb_indef_map,
    .map_start = cb_map,
    .tag = cb_tag,
    .float2 = cb_float,
    .float4 = cb_float,
    .float8 = cb_double,
    .undefined = cb_other,
    .null = cb_other,
    .boolean = cb_bool,
    .indef_break = cb_break,
};

int gw_senml_cbor_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                         gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out)
{
    cdec_t c;
    memset(&c, 0, sizeof c);
    c.base = base;
    c.lookup = lookup;
    c.lookup_ctx = lookup_ctx;
    c.out = out;
    out->error[0] = '\0';
    size_t pos = 0;
    while (!c.rc && !c.done && pos < len) {
        struct cbor_decoder_result res = cbor_stream_decode(p + pos, len - pos, &callbacks, &c);
        if (res.status == CBOR_DECODER_NEDATA)
            fail(&c, -EINVAL, "truncated");
        else if (res.status != CBOR_DECODER_FINISHED || res.read == 0)
            fail(&c, -EINVAL, "malformed item");
        else
            pos += res.read;
    }
    if (!c.rc && !c.done)
        fail(&c, -EINVAL, len ? "truncated" : "empty payload");
    if (!c.rc && pos != len)
        fail(&c, -EINVAL, "bytes after the root array");
    return c.rc;
}
