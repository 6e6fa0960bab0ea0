/*
 * lwm2m/tlv.c - OMA-TLV (application/vnd.oma.lwm2m+tlv, 11542),
 * OMA LwM2M 1.1 Core TS section 7.4.3.
 *
 * Type byte: bits 7-6 kind (00 object instance, 01 resource instance,
 * 10 multiple resource, 11 resource with value), bit 5 = 16-bit id,
 * bits 4-3 = size of the length field (0..3 bytes), bits 2-0 = the length
 * itself when bits 4-3 are 0.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "codec.h"

enum { KIND_OBJ_INST = 0, KIND_RES_INST = 1, KIND_MULTI_RES = 2, KIND_RES = 3 };

/* Largest header: type, 2-byte id, 3-byte length. */
#define TLV_HDR_MAX 6

/* ---------------------------------------------------------------- encode */

static size_t put_header(uint8_t *w, int kind, uint16_t id, size_t len)
{
    size_t n = 1;
    uint8_t t = (uint8_t)(kind << 6);
    if (id > 0xFF) {
        t |= 0x20;
        w[n++] = (uint8_t)(id >> 8);
    }
    w[n++] = (uint8_t)id;
    if (len < 8) {
        t |= (uint8_t)len;
    } else if (len <= 0xFF) {
        t |= 0x08;
        w[n++] = (uint8_t)len;
    } else if (len <= 0xFFFF) {
        t |= 0x10;
        w[n++] = (uint8_t)(len >> 8);
        w[n++] = (uint8_t)len;
    } else {
        t |= 0x18;
        w[n++] = (uint8_t)(len >> 16);
        w[n++] = (uint8_t)(len >> 8);
        w[n++] = (uint8_t)len;
    }
    w[0] = t;
    return n;
}

/* Contents are written after a placeholder of TLV_HDR_MAX bytes; once their
 * length is known the real header goes in front and the contents move back.
 * One buffer, no per-level temporaries. */
static int open_tlv(gw_buf_t *out, size_t *mark)
{
    int rc = gw_buf_reserve(out, TLV_HDR_MAX);
    if (rc)
        return rc;
    *mark = out->len;
    out->len += TLV_HDR_MAX;
    return 0;
}

static int close_tlv(gw_buf_t *out, size_t mark, int kind, uint16_t id)
{
    size_t body = out->len - mark - TLV_HDR_MAX;
    if (body > 0xFFFFFF)
        return -EMSGSIZE;
    uint8_t hdr[TLV_HDR_MAX];
    size_t h = put_header(hdr, kind, id, body);
    memmove(out->data + mark + h, out->data + mark + TLV_HDR_MAX, body);
    memcpy(out->data + mark, hdr, h);
    out->len = mark + h + body;
    return 0;
}

static size_t put_be(uint8_t *w, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

static size_t int_size(int64_t i)
{
    if (i >= INT8_MIN && i <= INT8_MAX)
        return 1;
    if (i >= INT16_MIN && i <= INT16_MAX)
        return 2;
    if (i >= INT32_MIN && i <= INT32_MAX)
        return 4;
    return 8;
}

static int put_value(gw_buf_t *out, const gw_value_t *v)
{
    uint8_t b[8];
    size_t n;
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        n = put_be(b, (uint64_t)v->v.i, int_size(v->v.i));
        break;
    case GW_TYPE_UNSIGNED:
        /* The shortest size whose top bit is clear, so a reader that takes
         * it as signed still sees the value; above INT64_MAX only the
         * declared type can tell, and 8 bytes is all TLV has. */
        if (v->v.u <= INT8_MAX)
            n = 1;
        else if (v->v.u <= INT16_MAX)
            n = 2;
        else if (v->v.u <= INT32_MAX)
            n = 4;
        else
            n = 8;
        n = put_be(b, v->v.u, n);
        break;
    case GW_TYPE_FLOAT: {
        float f = (float)v->v.f;
        if ((double)f == v->v.f || isinf(v->v.f)) {
            uint32_t u;
            memcpy(&u, &f, 4);
            n = put_be(b, u, 4);
        } else {
            uint64_t u;
            memcpy(&u, &v->v.f, 8);
            n = put_be(b, u, 8);
        }
        break;
    }
    case GW_TYPE_BOOLEAN:
        b[0] = v->v.b ? 1 : 0;
        n = 1;
        break;
    case GW_TYPE_OBJLNK:
        put_be(b, v->v.objlnk.oid, 2);
        n = 2 + put_be(b + 2, v->v.objlnk.iid, 2);
        break;
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        if (v->v.bytes.len && !v->v.bytes.ptr)
            return -EINVAL;
        return gw_buf_append(out, v->v.bytes.ptr, v->v.bytes.len);
    default:
        return -EINVAL;
    }
    return gw_buf_append(out, b, n);
}

static int put_leaf(gw_buf_t *out, int kind, uint16_t id, const gw_value_t *v)
{
    size_t mark;
    int rc = open_tlv(out, &mark);
    if (!rc)
        rc = put_value(out, v);
    if (!rc)
        rc = close_tlv(out, mark, kind, id);
    return rc;
}

/* Records of one instance from *i on, as resource / multiple-resource TLVs.
 * Stops at the first record of another instance. */
static int put_resources(gw_buf_t *out, const gw_record_t *recs, size_t n, size_t *i)
{
    const gw_record_t *first = &recs[*i];
    while (*i < n && recs[*i].path.id[0] == first->path.id[0] &&
           recs[*i].path.id[1] == first->path.id[1]) {
        const gw_record_t *r = &recs[*i];
        int rc;
        if (r->path.len == 3) {
            rc = put_leaf(out, KIND_RES, r->path.id[2], &r->value);
            (*i)++;
        } else if (r->path.len == 4) {
            size_t mark;
            uint16_t rid = r->path.id[2];
            rc = open_tlv(out, &mark);
            while (!rc && *i < n && recs[*i].path.len == 4 &&
                   recs[*i].path.id[0] == r->path.id[0] && recs[*i].path.id[1] == r->path.id[1] &&
                   recs[*i].path.id[2] == rid) {
                rc = put_leaf(out, KIND_RES_INST, recs[*i].path.id[3], &recs[*i].value);
                (*i)++;
            }
            if (!rc)
                rc = close_tlv(out, mark, KIND_MULTI_RES, rid);
        } else {
            rc = -EINVAL;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int gw_tlv_encode(const gw_path_t *base, const gw_record_t *recs, size_t n, gw_buf_t *out)
{
    size_t start = out->len;
    int rc = 0;
    if (base->len < 1 || base->len > 4)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (recs[i].path.len < 3 || !gw_path_has_prefix(&recs[i].path, base))
            return -EINVAL;

    size_t i = 0;
    if (base->len == 1) {
        while (!rc && i < n) {
            size_t mark;
            uint16_t iid = recs[i].path.id[1];
            rc = open_tlv(out, &mark);
            if (!rc)
                rc = put_resources(out, recs, n, &i);
            if (!rc)
                rc = close_tlv(out, mark, KIND_OBJ_INST, iid);
        }
    } else if (base->len == 2 || base->len == 3) {
        /* At resource level the same code gives one resource TLV, or one
         * multiple-resource TLV holding the instances. */
        if (n > 0)
            rc = put_resources(out, recs, n, &i);
    } else {
        for (; !rc && i < n; i++)
            rc = put_leaf(out, KIND_RES_INST, recs[i].path.id[3], &recs[i].value);
    }
    if (rc)
        out->len = start;
    return rc;
}

/* ---------------------------------------------------------------- decode */

typedef struct tlv {
    int kind;
    uint16_t id;
    const uint8_t *val;
    size_t len;
} tlv_t;

typedef struct dec {
    gw_decoded_t *out;
    gw_type_lookup_fn lookup;
    void *ctx;
} dec_t;

static const char *const kind_names[] = {"object instance", "resource instance",
                                         "multiple resource", "resource"};

/* Reads one TLV at p[*pos..len). Every length is checked against what is
 * left, so nothing is read past len. */
static int next_tlv(dec_t *d, const uint8_t *p, size_t len, size_t *pos, tlv_t *t)
{
    size_t at = *pos;
    if (len - at < 2)
        return gw_decoded_fail(d->out, -EINVAL, "TLV header truncated at byte %zu", at);
    uint8_t type = p[at++];
    size_t id_len = (type & 0x20) ? 2 : 1;
    size_t len_len = (type >> 3) & 3;
    if (len - at < id_len + len_len)
        return gw_decoded_fail(d->out, -EINVAL, "TLV header truncated at byte %zu", *pos);
    t->kind = type >> 6;
    t->id = p[at++];
    if (id_len == 2)
        t->id = (uint16_t)(t->id << 8 | p[at++]);
    if (t->id == GW_ID_NONE)
        return gw_decoded_fail(d->out, -EINVAL, "TLV id 65535 is reserved");
    size_t vlen = len_len ? 0 : (type & 7);
    for (size_t k = 0; k < len_len; k++)
        vlen = vlen << 8 | p[at++];
    if (vlen > len - at)
        return gw_decoded_fail(d->out, -EINVAL,
                               "TLV %s %u: length %zu runs past the payload (%zu bytes left)",
                               kind_names[t->kind], t->id, vlen, len - at);
    t->val = p + at;
    t->len = vlen;
    *pos = at + vlen;
    return 0;
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int convert(dec_t *d, const gw_path_t *path, const tlv_t *t)
{
    gw_record_t r;
    memset(&r, 0, sizeof r);
    r.path = *path;
    gw_type_t type = GW_TYPE_OPAQUE;
    char ps[32];
    if (d->lookup) {
        int rc = d->lookup(d->ctx, path, &type);
        if (rc)
            return gw_decoded_fail(d->out, rc == -ENOENT ? -ENOENT : rc, "%s: unknown resource",
                                   gw_path_format(path, ps, sizeof ps));
    }
    r.value.type = type;
    size_t n = t->len;
    switch (type) {
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        r.value.v.bytes.ptr = t->val;
        r.value.v.bytes.len = n;
        break;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
    case GW_TYPE_UNSIGNED: {
        if (n != 1 && n != 2 && n != 4 && n != 8)
            return gw_decoded_fail(d->out, -EINVAL, "%s: %s of %zu bytes (1, 2, 4 or 8 expected)",
                                   gw_path_format(path, ps, sizeof ps), gw_type_name(type), n);
        uint64_t u = get_be(t->val, n);
        if (type == GW_TYPE_UNSIGNED) {
            r.value.v.u = u;
        } else {
            /* Sign-extend from n bytes. */
            if (n < 8 && (u >> (8 * n - 1)) & 1)
                u |= ~(uint64_t)0 << (8 * n);
            r.value.v.i = (int64_t)u;
        }
        break;
    }
    case GW_TYPE_FLOAT:
        if (n == 4) {
            uint32_t u = (uint32_t)get_be(t->val, 4);
            float f;
            memcpy(&f, &u, 4);
            r.value.v.f = f;
        } else if (n == 8) {
            uint64_t u = get_be(t->val, 8);
            memcpy(&r.value.v.f, &u, 8);
        } else {
            return gw_decoded_fail(d->out, -EINVAL, "%s: Float of %zu bytes (4 or 8 expected)",
                                   gw_path_format(path, ps, sizeof ps), n);
        }
        break;
    case GW_TYPE_BOOLEAN:
        if (n != 1 || t->val[0] > 1)
            return gw_decoded_fail(d->out, -EINVAL, "%s: Boolean must be one byte 0 or 1",
                                   gw_path_format(path, ps, sizeof ps));
        r.value.v.b = t->val[0] == 1;
        break;
    case GW_TYPE_OBJLNK:
        if (n != 4)
            return gw_decoded_fail(d->out, -EINVAL, "%s: Objlnk of %zu bytes (4 expected)",
                                   gw_path_format(path, ps, sizeof ps), n);
        r.value.v.objlnk.oid = (uint16_t)get_be(t->val, 2);
        r.value.v.objlnk.iid = (uint16_t)get_be(t->val + 2, 2);
        break;
    default:
        return gw_decoded_fail(d->out, -EINVAL, "%s: resource takes no value",
                               gw_path_format(path, ps, sizeof ps));
    }
    int rc = gw_decoded_push(d->out, &r);
    return rc == -ENOMEM ? gw_decoded_fail(d->out, rc, "out of memory") : rc; /* else push said why */
}

/* Resource instances inside a multiple resource (or bare ones at resource
 * level): path is /oid/iid/rid. */
static int dec_instances(dec_t *d, const gw_path_t *res, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        tlv_t t;
        int rc = next_tlv(d, p, len, &pos, &t);
        if (rc)
            return rc;
        if (t.kind != KIND_RES_INST)
            return gw_decoded_fail(d->out, -EINVAL,
                                   "a %s TLV inside a multiple resource (resource instances only)",
                                   kind_names[t.kind]);
        gw_path_t path = gw_path_make(res->id[0], res->id[1], res->id[2], t.id);
        if ((rc = convert(d, &path, &t)))
            return rc;
    }
    return 0;
}

static int dec_resource(dec_t *d, uint16_t oid, uint16_t iid, const tlv_t *t)
{
    gw_path_t path = gw_path_make(oid, iid, t->id, GW_ID_NONE);
    if (t->kind == KIND_RES)
        return convert(d, &path, t);
    if (t->kind == KIND_MULTI_RES)
        return dec_instances(d, &path, t->val, t->len);
    return gw_decoded_fail(d->out, -EINVAL, "a %s TLV where resources are expected",
                           kind_names[t->kind]);
}

/* Resource / multiple-resource TLVs of one instance. */
static int dec_resources(dec_t *d, uint16_t oid, uint16_t iid, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        tlv_t t;
        int rc = next_tlv(d, p, len, &pos, &t);
        if (!rc)
            rc = dec_resource(d, oid, iid, &t);
        if (rc)
            return rc;
    }
    return 0;
}

static int dec_object(dec_t *d, uint16_t oid, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        tlv_t t;
        int rc = next_tlv(d, p, len, &pos, &t);
        if (rc)
            return rc;
        if (t.kind != KIND_OBJ_INST)
            return gw_decoded_fail(d->out, -EINVAL,
                                   "a %s TLV at object level (object instances expected)",
                                   kind_names[t.kind]);
        if ((rc = dec_resources(d, oid, t.id, t.val, t.len)))
            return rc;
    }
    return 0;
}

static int dec_instance(dec_t *d, const gw_path_t *base, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    tlv_t t;
    if (len == 0)
        return 0;
    /* Servers may wrap the resources in the instance they write to. */
    if ((p[0] >> 6) == KIND_OBJ_INST) {
        int rc = next_tlv(d, p, len, &pos, &t);
        if (rc)
            return rc;
        if (t.id != base->id[1])
            return gw_decoded_fail(d->out, -EINVAL, "object instance %u in a request for /%u/%u",
                                   t.id, base->id[0], base->id[1]);
        if (pos != len)
            return gw_decoded_fail(d->out, -EINVAL, "bytes after the object instance TLV");
        return dec_resources(d, base->id[0], base->id[1], t.val, t.len);
    }
    return dec_resources(d, base->id[0], base->id[1], p, len);
}

static int dec_single_resource(dec_t *d, const gw_path_t *base, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    tlv_t t;
    /* Nothing, or bare instances: what the encoder writes for a multiple
     * resource with no (or some) instances. */
    if (len == 0 || (p[0] >> 6) == KIND_RES_INST)
        return dec_instances(d, base, p, len);
    int rc = next_tlv(d, p, len, &pos, &t);
    if (rc)
        return rc;
    if (t.id != base->id[2])
        return gw_decoded_fail(d->out, -EINVAL, "resource %u in a request for resource %u", t.id,
                               base->id[2]);
    if (pos != len)
        return gw_decoded_fail(d->out, -EINVAL, "bytes after the resource TLV");
    return dec_resource(d, base->id[0], base->id[1], &t);
}

static int dec_resource_instance(dec_t *d, const gw_path_t *base, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    tlv_t t;
    int rc = next_tlv(d, p, len, &pos, &t);
    if (rc)
        return rc;
    if (t.kind != KIND_RES_INST || t.id != base->id[3])
        return gw_decoded_fail(d->out, -EINVAL, "a %s TLV %u in a request for resource instance %u",
                               kind_names[t.kind], t.id, base->id[3]);
    if (pos != len)
        return gw_decoded_fail(d->out, -EINVAL, "bytes after the resource instance TLV");
    return convert(d, base, &t);
}

int gw_tlv_decode(const gw_path_t *base, const uint8_t *p, size_t len,
                  gw_type_lookup_fn lookup, void *lookup_ctx, gw_decoded_t *out)
{
    dec_t d = {.out = out, .lookup = lookup, .ctx = lookup_ctx};
    int rc;
    out->error[0] = '\0';
    if (!p && len)
        return gw_decoded_fail(out, -EINVAL, "no payload");
    switch (base->len) {
    case 1: rc = dec_object(&d, base->id[0], p, len); break;
    case 2: rc = dec_instance(&d, base, p, len); break;
    case 3: rc = dec_single_resource(&d, base, p, len); break;
    case 4: rc = dec_resource_instance(&d, base, p, len); break;
    default: rc = gw_decoded_fail(out, -EINVAL, "TLV needs an object, instance or resource path");
    }
    return rc;
}
