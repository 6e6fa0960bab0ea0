/*
 * lwm2m/request.c - the parse stage of server requests as pure functions
 * (see request.h). The dispatcher's handlers call the pieces on what
 * libcoap hands them; gw_req_parse strings them together the way the
 * dispatcher does, for the fuzz target, without a session or a store.
 */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "codec.h"
#include "lwm2m_internal.h"

#define CODE(n) (((n) / 100) << 5 | (n) % 100)

int gw_req_path_parse(const gw_req_seg_t *segs, size_t n, gw_path_t *out)
{
    gw_path_t p = {.id = {GW_ID_NONE, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE}, .len = 0};
    if (!out || (n && !segs) || n > 4)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = segs[i].p;
        size_t len = segs[i].len;
        /* One spelling per path: no empty segment, no leading zero (so a
         * digit string longer than 5 is refused before it can overflow). */
        if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
            return -EINVAL;
        uint32_t v = 0;
        for (size_t k = 0; k < len; k++) {
            if (s[k] < '0' || s[k] > '9')
                return -EINVAL;
            v = v * 10 + (uint32_t)(s[k] - '0');
        }
        if (v > 65534) /* 65535 is "no id" (LwM2M 1.1 Core 6.1) */
            return -EINVAL;
        p.id[p.len++] = (uint16_t)v;
    }
    *out = p;
    return 0;
}

int gw_req_attrs_parse(const uint8_t *query, size_t len, bool numeric, gw_attrs_t *a, char *why,
                       size_t why_size)
{
    static const struct {
        const char *k;
        int bit;
        bool num;
    } keys[] = {{"pmin", GW_ATTR_PMIN, false}, {"pmax", GW_ATTR_PMAX, false}, {"gt", GW_ATTR_GT, true},
                {"lt", GW_ATTR_LT, true},      {"st", GW_ATTR_ST, true},      {"epmin", GW_ATTR_EPMIN, false},
                {"epmax", GW_ATTR_EPMAX, false}};
    const size_t n_keys = sizeof keys / sizeof keys[0];
    const char *s = (const char *)query, *end = s ? s + len : s;
    unsigned given = 0; /* attributes this request names: each once */
    if (!a || (len && !query))
        return -EINVAL;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        size_t klen = (size_t)((eq ? eq : e) - s);
        const char *v = eq ? eq + 1 : NULL;
        size_t vlen = v ? (size_t)(e - v) : 0;
        size_t i = 0;
        while (i < n_keys && !(strlen(keys[i].k) == klen && memcmp(keys[i].k, s, klen) == 0))
            i++;
        if (i == n_keys) {
            snprintf(why, why_size, "unknown attribute; expected pmin, pmax, gt, lt, st, epmin, epmax");
            return -EINVAL;
        }
        /* gt=1&gt=2 has no meaning to pick: refused, not "the last wins". */
        if (given & (1u << i)) {
            snprintf(why, why_size, "attribute %s given twice, expected each attribute once", keys[i].k);
            return -EINVAL;
        }
        given |= 1u << i;
        if (keys[i].num && !numeric) {
            snprintf(why, why_size, "gt, lt and st apply to numeric resources only");
            return -EINVAL;
        }
        if (!v) {
            a->set &= (uint8_t)~keys[i].bit; /* "pmin" alone removes it */
        } else {
            double x;
            if (gw_attr_value_parse(keys[i].k, v, vlen, keys[i].num, &x, why, why_size) < 0)
                return -EINVAL;
            a->set |= (uint8_t)keys[i].bit;
            switch (keys[i].bit) {
            case GW_ATTR_PMIN: a->pmin = (int32_t)x; break;
            case GW_ATTR_PMAX: a->pmax = (int32_t)x; break;
            case GW_ATTR_EPMIN: a->epmin = (int32_t)x; break;
            case GW_ATTR_EPMAX: a->epmax = (int32_t)x; break;
            case GW_ATTR_GT: a->gt = x; break;
            case GW_ATTR_LT: a->lt = x; break;
            default: a->st = x;
            }
        }
        s = amp ? amp + 1 : end;
    }
    return 0;
}

int gw_req_location_join(const gw_req_seg_t *segs, size_t n, char *out, size_t size)
{
    size_t w = 0;
    if (!out || size == 0 || (n && !segs))
        return -EINVAL;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = segs[i].p;
        size_t len = segs[i].len;
        if (len && memchr(s, '\0', len))
            return -EINVAL;
        /* Servers on node-coap send "/rd/5" as one option, or an empty
         * first segment: the pieces between '/' are what they match an
         * Update against, so each becomes a segment of its own and empty
         * ones are dropped. "." or ".." would name another resource (RFC
         * 3986 5.2.4): refused. */
        size_t a = 0;
        while (a <= len) {
            const uint8_t *e = a < len ? memchr(s + a, '/', len - a) : NULL;
            size_t b = e ? (size_t)(e - s) : len;
            size_t pl = b - a;
            const uint8_t *piece = s + a;
            if ((pl == 1 && piece[0] == '.') || (pl == 2 && piece[0] == '.' && piece[1] == '.'))
                return -EINVAL;
            if (pl) {
                if (w + (w ? 1 : 0) + pl >= size) {
                    out[0] = '\0';
                    return -ENOSPC;
                }
                if (w)
                    out[w++] = '/';
                memcpy(out + w, piece, pl);
                w += pl;
                out[w] = '\0';
            }
            a = b + 1;
        }
    }
    return 0;
}

/* ---- the dispatcher's parse stage, strung together ---- */

static int fail(char *diag, size_t size, int code, const char *what, const char *ps)
{
    snprintf(diag, size, "%s%s%s", ps ? ps : "", ps ? ": " : "", what);
    return code;
}

static bool numeric_type(uint8_t t)
{
    return t == GW_TYPE_INTEGER || t == GW_TYPE_FLOAT || t == GW_TYPE_UNSIGNED;
}

static int decode_at(const gw_registry_t *reg, const gw_req_t *req, const gw_path_t *base,
                     const gw_resdef_t *d, gw_decoded_t *dec, char *diag, size_t size)
{
    int cf = req->cf;
    if (cf < 0) {
        /* Only a single value may come without a Content-Format (text). */
        if (!(base->len == 4 || (base->len == 3 && d && !d->multiple)))
            return fail(diag, size, CODE(400), "Content-Format missing", NULL);
        cf = GW_CF_TEXT;
    }
    int rc = gw_codec_decode(cf, base, req->payload, req->len, gw_dm_type_lookup, (void *)reg, dec);
    if (rc == -EPROTONOSUPPORT)
        return fail(diag, size, CODE(415), "Content-Format not supported: use 0, 42, 110, 112 or 11542",
                    NULL);
    if (rc == -ENOENT)
        return fail(diag, size, CODE(404), dec->error, NULL);
    if (rc < 0)
        return fail(diag, size, rc == -ENOMEM ? CODE(500) : CODE(400),
                    dec->error[0] ? dec->error : "malformed payload", NULL);
    return 0;
}

/* Records of a Write, Create or Write-Composite: every one a resource (or
 * resource instance) the registry defines, with a value of its type that
 * the type allows. base: the request's path, which a Write's records stay
 * under; NULL for a composite, whose records may be anywhere but in the
 * Security object. */
static int check_records(const gw_registry_t *reg, const gw_path_t *base, const gw_decoded_t *dec,
                         char *diag, size_t size)
{
    for (size_t i = 0; i < dec->n; i++) {
        const gw_record_t *rec = &dec->recs[i];
        char ps[32];
        gw_path_format(&rec->path, ps, sizeof ps);
        if (rec->path.len < 3 || (base && !gw_path_has_prefix(&rec->path, base)))
            return fail(diag, size, CODE(400), "payload names a path outside the request or not a resource",
                        ps);
        if (!base && rec->path.id[0] == 0)
            return fail(diag, size, CODE(401), "the Security object is not accessible", ps);
        const gw_objdef_t *o = gw_registry_find(reg, rec->path.id[0]);
        const gw_resdef_t *d = o ? gw_objdef_find_res(o, rec->path.id[2]) : NULL;
        if (!d)
            return fail(diag, size, CODE(404), "resource not defined in this object", ps);
        if (d->multiple != (rec->path.len == 4))
            return fail(diag, size, CODE(400),
                        d->multiple ? "multiple-instance resources need instances"
                                    : "a single resource has no instances",
                        ps);
        if (rec->value.type == GW_TYPE_NONE)
            return fail(diag, size, CODE(400), "no value", ps);
        if (rec->value.type != (gw_type_t)d->type)
            return fail(diag, size, CODE(400), "value of the wrong type", ps);
        if (gw_value_check_res(d, &rec->path, &rec->value, diag, size) < 0)
            return CODE(400);
    }
    return 0;
}

static int parse_composite(const gw_registry_t *reg, const gw_req_t *req, bool fetch, char *diag,
                           size_t size)
{
    const gw_path_t root = {{0, 0, 0, 0}, 0};
    gw_decoded_t dec = {0};
    int code = 0;
    if (req->cf != GW_CF_SENML_JSON && req->cf != GW_CF_SENML_CBOR) {
        code = fail(diag, size, CODE(415), "composite operations take SenML JSON or SenML CBOR", NULL);
        goto out;
    }
    int rc = gw_codec_decode(req->cf, &root, req->payload, req->len, gw_dm_type_lookup, (void *)reg, &dec);
    if (rc < 0) {
        code = fail(diag, size, rc == -ENOMEM ? CODE(500) : rc == -ENOENT ? CODE(404) : CODE(400),
                    dec.error[0] ? dec.error : "malformed payload", NULL);
        goto out;
    }
    if (dec.n == 0) {
        code = fail(diag, size, CODE(400), fetch ? "Read-Composite names no path" : "Write-Composite without records",
                    NULL);
        goto out;
    }
    if (!fetch) {
        code = check_records(reg, NULL, &dec, diag, size);
        goto out;
    }
    for (size_t i = 0; i < dec.n; i++) {
        char ps[32];
        gw_path_format(&dec.recs[i].path, ps, sizeof ps);
        if (dec.recs[i].value.type != GW_TYPE_NONE)
            code = fail(diag, size, CODE(400), "Read-Composite names paths without values", ps);
        else if (dec.recs[i].path.len >= 1 && dec.recs[i].path.id[0] == 0)
            code = fail(diag, size, CODE(401), "the Security object is not accessible", ps);
        if (code)
            goto out;
    }
out:
    gw_decoded_free(&dec);
    return code;
}

int gw_req_parse(const gw_registry_t *reg, const gw_req_t *req, char *diag, size_t size)
{
    gw_path_t path;
    if (!reg || !req || !diag || size == 0)
        return CODE(500);
    diag[0] = '\0';
    if (gw_req_path_parse(req->uri, req->n_uri, &path) < 0)
        return fail(diag, size, CODE(404), "not an LwM2M path", NULL);
    if (path.len >= 1 && path.id[0] == 0)
        return fail(diag, size, CODE(401), "the Security object is not accessible", NULL);
    if (req->method == GW_REQ_FETCH || req->method == GW_REQ_IPATCH)
        return parse_composite(reg, req, req->method == GW_REQ_FETCH, diag, size);
    if (path.len == 0)
        return fail(diag, size, CODE(405), "operation not allowed on /", NULL);
    const gw_objdef_t *o = gw_registry_find(reg, path.id[0]);
    const gw_resdef_t *d = o && path.len >= 3 ? gw_objdef_find_res(o, path.id[2]) : NULL;
    if (!o)
        return fail(diag, size, CODE(404), "object not supported", NULL);
    if (path.len >= 3 && !d)
        return fail(diag, size, CODE(404), "resource not defined in this object", NULL);
    if (path.len == 4 && !d->multiple)
        return fail(diag, size, CODE(404), "resource is single-instance", NULL);
    gw_decoded_t dec = {0};
    int code = 0;
    switch (req->method) {
    case GW_REQ_GET:
    case GW_REQ_DELETE:
        return path.len == 2 || req->method == GW_REQ_GET
                   ? 0
                   : fail(diag, size, CODE(405), "Delete needs an object instance path", NULL);
    case GW_REQ_PUT:
        if (req->len == 0 && req->query_len) {
            gw_attrs_t a = {0};
            bool numeric = path.len >= 3 && numeric_type(d->type);
            if (gw_req_attrs_parse(req->query, req->query_len, numeric, &a, diag, size) < 0 ||
                gw_attrs_check(&a, diag, size) < 0)
                return CODE(400);
            return 0;
        }
        if (path.len < 2)
            return fail(diag, size, CODE(405), "Write needs an instance or resource path", NULL);
        break;
    case GW_REQ_POST:
        if (path.len == 3) {
            if (!(d->ops & GW_OP_E))
                return fail(diag, size, CODE(405), "resource is not executable", NULL);
            if (gw_exec_args_validate(req->payload, req->len) < 0)
                return fail(diag, size, CODE(400),
                            "bad Execute arguments; expected e.g. 0='abc',1 (each digit once)", NULL);
            return 0;
        }
        if (path.len == 2 && req->len == 0)
            return fail(diag, size, CODE(400), "partial update without payload", NULL);
        if (path.len == 4)
            return fail(diag, size, CODE(405), "operation not allowed on a resource instance", NULL);
        break;
    default:
        return fail(diag, size, CODE(405), "method not allowed", NULL);
    }
    /* Write, partial update or Create: the payload at the path. */
    code = decode_at(reg, req, &path, d, &dec, diag, size);
    if (!code)
        code = check_records(reg, &path, &dec, diag, size);
    gw_decoded_free(&dec);
    return code;
}
