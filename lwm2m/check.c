/*
 * lwm2m/check.c - checks of values from outside before they are stored
 * (see check.h).
 *
 * Ranges are read from the registry's RangeEnumeration text when a value is
 * written rather than compiled into the table: writes from a server are
 * rare next to reads and notifications, the text is a few bytes, and the
 * same code then serves the built-in table and DDF files alike, with no
 * per-resource memory added to a table every virtual client shares.
 */
#include "check.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

static int refuse(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t size, const char *fmt, ...)
{
    if (why && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

bool gw_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong below U+0800 */
            else if (c == 0xED)
                hi = 0x9F; /* UTF-16 surrogates U+D800..DFFF */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong below U+10000 */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return false; /* a continuation byte, C0/C1 (overlong) or F5..FF */
        }
        if (len - i - 1 < n)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += n + 1;
    }
    return true;
}

static bool is_text(gw_type_t t)
{
    return t == GW_TYPE_STRING || t == GW_TYPE_CORELNK;
}

static bool is_bytes(gw_type_t t)
{
    return is_text(t) || t == GW_TYPE_OPAQUE;
}

int gw_value_check(const gw_value_t *v, char *why, size_t why_size)
{
    if (v->type == GW_TYPE_FLOAT && !isfinite(v->v.f))
        return refuse(why, why_size, "a Float must be a finite number (not NaN or infinity)");
    if (is_bytes(v->type) && v->v.bytes.len && !v->v.bytes.ptr)
        return refuse(why, why_size, "value without its bytes");
    if (is_text(v->type)) {
        if (!gw_utf8_valid(v->v.bytes.ptr, v->v.bytes.len))
            return refuse(why, why_size, "a %s must be valid UTF-8", gw_type_name(v->type));
        if (v->v.bytes.len && memchr(v->v.bytes.ptr, 0, v->v.bytes.len))
            return refuse(why, why_size, "a %s must not contain NUL", gw_type_name(v->type));
    }
    return 0;
}

/* ---- RangeEnumeration ---- */

#define MAX_SPANS 16

typedef struct span {
    double lo, hi;
} span_t;

typedef struct range {
    span_t s[MAX_SPANS];
    size_t n;
    bool lone; /* one plain number, no ".." */
} range_t;

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

/* A plain decimal: [-+]digits[.digits]. No exponent, hex, inf or nan. */
static int parse_num(const char **sp, double *out)
{
    const char *s = *sp, *start = s;
    char buf[48];
    if (*s == '-' || *s == '+')
        s++;
    const char *digits = s;
    while (*s >= '0' && *s <= '9')
        s++;
    if (s == digits)
        return -1;
    /* A '.' begins ".." (a range), not a fraction, unless a digit follows. */
    if (s[0] == '.' && s[1] >= '0' && s[1] <= '9') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    size_t len = (size_t)(s - start);
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, start, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    *sp = s;
    return isfinite(*out) ? 0 : -1;
}

static bool take_word(const char **sp, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(*sp, word, n) != 0)
        return false;
    *sp += n;
    return true;
}

/* 0 and r filled when text is one of the forms check.h lists, else -1. */
static int parse_range(const char *text, bool lengths, range_t *r)
{
    const char *s = skip_ws(text);
    bool ranged = false;
    r->n = 0;
    if (!*s)
        return -1;
    for (;;) {
        span_t sp;
        if (r->n == MAX_SPANS || parse_num(&s, &sp.lo))
            return -1;
        s = skip_ws(s);
        sp.hi = sp.lo;
        if (take_word(&s, "..")) {
            s = skip_ws(s);
            if (parse_num(&s, &sp.hi) || sp.hi < sp.lo)
                return -1;
            s = skip_ws(s);
            ranged = true;
        }
        r->s[r->n++] = sp;
        if (lengths && (take_word(&s, "bytes") || take_word(&s, "byte"))) {
            s = skip_ws(s);
            if (*s)
                return -1;
            break;
        }
        if (*s == ',') {
            s = skip_ws(s + 1);
            continue;
        }
        if (*s)
            return -1;
        break;
    }
    r->lone = r->n == 1 && !ranged;
    return 0;
}

static bool in_spans(const range_t *r, double x)
{
    for (size_t i = 0; i < r->n; i++)
        if (x >= r->s[i].lo && x <= r->s[i].hi)
            return true;
    return false;
}

int gw_range_check(const char *range, const gw_value_t *v, char *why, size_t why_size)
{
    range_t r;
    if (!range || !*range)
        return 0;
    if (is_bytes(v->type)) {
        if (parse_range(range, true, &r))
            return 0;
        if (r.lone) { /* "N bytes": a size limit */
            r.s[0].hi = r.s[0].lo;
            r.s[0].lo = 0;
        }
        if (!in_spans(&r, (double)v->v.bytes.len))
            return refuse(why, why_size, "%zu bytes; the registry allows lengths %s", v->v.bytes.len,
                          range);
        return 0;
    }
    double x;
    char got[40];
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        x = (double)v->v.i;
        snprintf(got, sizeof got, "%" PRId64, v->v.i);
        break;
    case GW_TYPE_UNSIGNED:
        x = (double)v->v.u;
        snprintf(got, sizeof got, "%" PRIu64, v->v.u);
        break;
    case GW_TYPE_FLOAT:
        x = v->v.f;
        snprintf(got, sizeof got, "%.17g", v->v.f);
        break;
    default:
        return 0;
    }
    if (parse_range(range, false, &r) || r.lone)
        return 0;
    if (!in_spans(&r, x))
        return refuse(why, why_size, "%s is outside the registry range %s", got, range);
    return 0;
}

/* ---- the Server object (LwM2M 1.1 Core, Appendix E.2) ---- */

enum { SRV_OID = 1, SRV_LIFETIME = 1, SRV_BINDING = 7 };

/* Periods in seconds. The registry gives no range; negative periods mean
 * nothing, a lifetime of 0 is not a lifetime in 1.1 (1.2 made it "infinite",
 * which this client does not implement), and the registration and observe
 * engines keep seconds in 32 bits, as the configuration file does. */
static const struct {
    uint16_t rid;
    int64_t lo, hi;
    const char *what;
} server_rules[] = {
    {SRV_LIFETIME, 1, INT32_MAX, "lifetime"},
    {2, 0, INT32_MAX, "default minimum period"},
    {3, 0, INT32_MAX, "default maximum period"},
    {5, 0, INT32_MAX, "disable timeout"},
};

/* Binding (Core 6.2.1.1): U (UDP), T (TCP), S (SMS), N (Non-IP), Q (queue
 * mode), case-sensitive, each at most once, at least one. */
static int check_binding(const gw_value_t *v, char *why, size_t why_size)
{
    const uint8_t *p = v->v.bytes.ptr;
    size_t n = v->v.bytes.len;
    bool ok = n > 0 && n <= 5;
    for (size_t i = 0; ok && i < n; i++)
        ok = p[i] && strchr("UTSNQ", p[i]) && !memchr(p + i + 1, p[i], n - i - 1);
    if (ok)
        return 0;
    char got[24];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < sizeof got; i++)
        got[k++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? (char)p[i] : '?';
    got[k] = '\0';
    return refuse(why, why_size,
                  "binding must be letters from U, T, S, N, Q, each at most once (e.g. \"U\" or \"UQ\"), "
                  "got \"%s%s\"",
                  got, k < n ? "..." : "");
}

static int check_server(const gw_path_t *path, const gw_value_t *v, char *why, size_t why_size)
{
    uint16_t rid = path->id[2];
    if (rid == SRV_BINDING && v->type == GW_TYPE_STRING)
        return check_binding(v, why, why_size);
    for (size_t i = 0; i < sizeof server_rules / sizeof server_rules[0]; i++) {
        if (server_rules[i].rid != rid || v->type != GW_TYPE_INTEGER)
            continue;
        if (v->v.i < server_rules[i].lo || v->v.i > server_rules[i].hi)
            return refuse(why, why_size, "%s must be %" PRId64 "..%" PRId64 " s, got %" PRId64,
                          server_rules[i].what, server_rules[i].lo, server_rules[i].hi, v->v.i);
    }
    return 0;
}

int gw_value_check_res(const gw_resdef_t *d, const gw_path_t *path, const gw_value_t *v, char *why,
                       size_t why_size)
{
    char ps[32], msg[160];
    int rc;
    gw_path_format(path, ps, sizeof ps);
    if ((gw_type_t)d->type != v->type) {
        rc = refuse(msg, sizeof msg, "a %s value for a %s resource", gw_type_name(v->type),
                    gw_type_name((gw_type_t)d->type));
    } else if ((rc = gw_value_check(v, msg, sizeof msg)) == 0 &&
               (path->id[0] != SRV_OID || (rc = check_server(path, v, msg, sizeof msg)) == 0) &&
               (rc = gw_acl_value_check(path, v, msg, sizeof msg)) == 0) {
        rc = gw_range_check(d->range, v, msg, sizeof msg);
    }
    if (rc)
        refuse(why, why_size, "%s: %s", ps, msg);
    return rc;
}

/* ---- Write-Attributes ---- */

int gw_attr_value_parse(const char *name, const char *text, size_t len, bool is_float, double *out,
                        char *why, size_t why_size)
{
    gw_value_t x;
    char got[28];
    size_t k = 0;
    if (is_float && gw_value_from_text(GW_TYPE_FLOAT, text, len, &x) == 0) {
        *out = x.v.f;
        return 0;
    }
    if (!is_float && gw_value_from_text(GW_TYPE_INTEGER, text, len, &x) == 0 && x.v.i >= 0 &&
        x.v.i <= INT32_MAX) {
        *out = (double)x.v.i;
        return 0;
    }
    /* The query is outside bytes: quote it printable and short. */
    for (size_t i = 0; i < len && k + 4 < sizeof got; i++)
        got[k++] = text[i] > 0x20 && text[i] < 0x7f && text[i] != '"' ? text[i] : '?';
    got[k] = '\0';
    return refuse(why, why_size, "%s must be %s, got \"%s%s\"", name,
                  is_float ? "a finite decimal number" : "whole seconds 0..2147483647", got,
                  k < len ? "..." : "");
}

int gw_attrs_check(const gw_attrs_t *a, char *why, size_t why_size)
{
    static const struct {
        uint8_t bit;
        const char *name;
    } floats[] = {{GW_ATTR_GT, "gt"}, {GW_ATTR_LT, "lt"}, {GW_ATTR_ST, "st"}};
    const double fv[] = {a->gt, a->lt, a->st};
    for (size_t i = 0; i < 3; i++)
        if ((a->set & floats[i].bit) && !isfinite(fv[i]))
            return refuse(why, why_size, "%s must be a finite number", floats[i].name);
    if (((a->set & GW_ATTR_PMIN) && a->pmin < 0) || ((a->set & GW_ATTR_PMAX) && a->pmax < 0) ||
        ((a->set & GW_ATTR_EPMIN) && a->epmin < 0) || ((a->set & GW_ATTR_EPMAX) && a->epmax < 0))
        return refuse(why, why_size, "periods must not be negative");
    if ((a->set & GW_ATTR_ST) && !(a->st > 0))
        return refuse(why, why_size, "st must be greater than 0, got %g", a->st);
    if ((a->set & GW_ATTR_PMIN) && (a->set & GW_ATTR_PMAX) && a->pmax < a->pmin)
        return refuse(why, why_size, "pmax (%d) must not be less than pmin (%d)", (int)a->pmax,
                      (int)a->pmin);
    /* LwM2M 1.1 Core 5.1.2: pmax may equal pmin (pmax >= pmin), but epmax
     * MUST be greater than epmin. */
    if ((a->set & GW_ATTR_EPMIN) && (a->set & GW_ATTR_EPMAX) && a->epmax <= a->epmin)
        return refuse(why, why_size, "epmax (%d) must be greater than epmin (%d)", (int)a->epmax,
                      (int)a->epmin);
    if ((a->set & GW_ATTR_LT) && (a->set & GW_ATTR_GT)) {
        double st = (a->set & GW_ATTR_ST) ? a->st : 0;
        if (!(a->lt + 2 * st < a->gt))
            return refuse(why, why_size, "need lt + 2*st < gt, got lt=%g st=%g gt=%g", a->lt, st,
                          a->gt);
    }
    return 0;
}
