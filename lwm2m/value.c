/*
 * lwm2m/value.c - paths, typed values and their text form, byte buffers.
 */
#include "value.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

const char *gw_type_name(gw_type_t t)
{
    switch (t) {
    case GW_TYPE_NONE: return "none";
    case GW_TYPE_STRING: return "String";
    case GW_TYPE_INTEGER: return "Integer";
    case GW_TYPE_UNSIGNED: return "Unsigned Integer";
    case GW_TYPE_FLOAT: return "Float";
    case GW_TYPE_BOOLEAN: return "Boolean";
    case GW_TYPE_OPAQUE: return "Opaque";
    case GW_TYPE_TIME: return "Time";
    case GW_TYPE_OBJLNK: return "Objlnk";
    case GW_TYPE_CORELNK: return "Corelnk";
    }
    return "unknown";
}

/* ---- paths ---- */

int gw_path_parse(const char *s, gw_path_t *out)
{
    gw_path_t p = {.id = {GW_ID_NONE, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE}, .len = 0};
    if (!s || !out)
        return -EINVAL;
    if (*s == '/')
        s++;
    while (*s) {
        if (p.len == 4)
            return -EINVAL;
        uint32_t v = 0;
        const char *start = s;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (uint32_t)(*s - '0');
            if (v > 65534)
                return -EINVAL;
            s++;
        }
        /* Reject empty components ("/3//1", "/3/") and leading zeros that
         * would make two spellings of one path. */
        if (s == start || (s - start > 1 && *start == '0'))
            return -EINVAL;
        if (*s == '/') {
            s++;
            if (!*s)
                return -EINVAL;
        } else if (*s) {
            return -EINVAL;
        }
        p.id[p.len++] = (uint16_t)v;
    }
    *out = p;
    return 0;
}

char *gw_path_format(const gw_path_t *p, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    if (!p || p->len == 0) {
        snprintf(buf, size, "/");
        return buf;
    }
    size_t off = 0;
    for (uint8_t i = 0; i < p->len && i < 4; i++) {
        int n = snprintf(buf + off, size - off, "/%u", (unsigned)p->id[i]);
        if (n < 0 || (size_t)n >= size - off)
            break;
        off += (size_t)n;
    }
    return buf;
}

bool gw_path_has_prefix(const gw_path_t *p, const gw_path_t *prefix)
{
    if (p->len < prefix->len)
        return false;
    for (uint8_t i = 0; i < prefix->len; i++)
        if (p->id[i] != prefix->id[i])
            return false;
    return true;
}

int gw_path_cmp(const gw_path_t *a, const gw_path_t *b)
{
    uint8_t n = a->len < b->len ? a->len : b->len;
    for (uint8_t i = 0; i < n; i++) {
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    }
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return 0;
}

gw_path_t gw_path_make(uint16_t oid, uint16_t iid, uint16_t rid, uint16_t riid)
{
    gw_path_t p = {.id = {oid, iid, rid, riid}, .len = 0};
    while (p.len < 4 && p.id[p.len] != GW_ID_NONE)
        p.len++;
    for (uint8_t i = p.len; i < 4; i++)
        p.id[i] = GW_ID_NONE;
    return p;
}

/* ---- buffers ---- */

int gw_buf_reserve(gw_buf_t *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return -ENOMEM;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int gw_buf_append(gw_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = gw_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int gw_buf_appendf(gw_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    /* +1 for vsnprintf's NUL, which is not counted in len. */
    int rc = gw_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void gw_buf_free(gw_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- text form ---- */

/* Shortest "%.Ng" that reads back to the same double: the text a person
 * expects (21.5, 0.1) while staying exact for every value. */
static int format_double(double f, char *buf, size_t size)
{
    if (!isfinite(f))
        return -EINVAL;
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, size, "%.*g", prec, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    /* %g turns 100 into "1e+02" once the digits run out; below 1e17 the
     * plain form is as exact and what people write. */
    double a = fabs(f);
    if (a >= 1 && a < 1e17) {
        int digits = (int)floor(log10(a)) + 1;
        if (digits > prec)
            prec = digits;
    }
    snprintf(buf, size, "%.*g", prec, f);
    return 0;
}

int gw_value_to_text(const gw_value_t *v, gw_buf_t *out)
{
    char tmp[40];
    switch (v->type) {
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        if (v->v.bytes.len && !v->v.bytes.ptr)
            return -EINVAL;
        return gw_buf_append(out, v->v.bytes.ptr, v->v.bytes.len);
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        return gw_buf_appendf(out, "%" PRId64, v->v.i);
    case GW_TYPE_UNSIGNED:
        return gw_buf_appendf(out, "%" PRIu64, v->v.u);
    case GW_TYPE_FLOAT:
        if (format_double(v->v.f, tmp, sizeof tmp))
            return -EINVAL;
        return gw_buf_append(out, tmp, strlen(tmp));
    case GW_TYPE_BOOLEAN:
        return gw_buf_append(out, v->v.b ? "1" : "0", 1);
    case GW_TYPE_OBJLNK:
        return gw_buf_appendf(out, "%u:%u", (unsigned)v->v.objlnk.oid, (unsigned)v->v.objlnk.iid);
    case GW_TYPE_OPAQUE:
        if (v->v.bytes.len && !v->v.bytes.ptr)
            return -EINVAL;
        return gw_base64_encode(v->v.bytes.ptr, v->v.bytes.len, false, out);
    case GW_TYPE_NONE:
        break;
    }
    return -EINVAL;
}

/* Strict decimal parsers: no sign for unsigned, no spaces, no empty text,
 * no overflow (strtoll would clamp and accept " 12abc"). */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_i64(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    uint64_t u;
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        len--;
    }
    if (parse_u64(s, len, &u))
        return -EINVAL;
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1)
            return -EINVAL;
        *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > (uint64_t)INT64_MAX)
            return -EINVAL;
        *out = (int64_t)u;
    }
    return 0;
}

static bool text_is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static int parse_double(const char *s, size_t len, double *out)
{
    char buf[400];
    if (len == 0 || len >= sizeof buf)
        return -EINVAL;
    /* strtod also takes hex, "inf", "nan" and leading spaces: only the
     * decimal syntax numbers are written in is a Float here. */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' ||
              c == 'E'))
            return -EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + len || !isfinite(d))
        return -EINVAL;
    *out = d;
    return 0;
}

int gw_value_from_text(gw_type_t t, const char *text, size_t len, gw_value_t *out)
{
    gw_value_t v;
    memset(&v, 0, sizeof v);
    v.type = t;
    if (!text && len)
        return -EINVAL;
    switch (t) {
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        v.v.bytes.ptr = (const uint8_t *)text;
        v.v.bytes.len = len;
        break;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        if (parse_i64(text, len, &v.v.i))
            return -EINVAL;
        break;
    case GW_TYPE_UNSIGNED:
        if (len > 0 && text[0] == '+') {
            text++;
            len--;
        }
        if (parse_u64(text, len, &v.v.u))
            return -EINVAL;
        break;
    case GW_TYPE_FLOAT:
        if (parse_double(text, len, &v.v.f))
            return -EINVAL;
        break;
    case GW_TYPE_BOOLEAN:
        if (text_is(text, len, "1") || text_is(text, len, "true"))
            v.v.b = true;
        else if (text_is(text, len, "0") || text_is(text, len, "false"))
            v.v.b = false;
        else
            return -EINVAL;
        break;
    case GW_TYPE_OBJLNK: {
        const char *colon = len ? memchr(text, ':', len) : NULL;
        uint64_t oid, iid;
        if (!colon || parse_u64(text, (size_t)(colon - text), &oid) ||
            parse_u64(colon + 1, len - (size_t)(colon - text) - 1, &iid) || oid > 65535 ||
            iid > 65535)
            return -EINVAL;
        v.v.objlnk.oid = (uint16_t)oid;
        v.v.objlnk.iid = (uint16_t)iid;
        break;
    }
    case GW_TYPE_OPAQUE:
    case GW_TYPE_NONE:
    default:
        return -EINVAL;
    }
    *out = v;
    return 0;
}
