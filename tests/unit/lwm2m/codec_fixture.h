/*
 * tests/unit/lwm2m/codec_fixture.h - a small type table and round-trip
 * helpers shared by the codec unit tests (header-only, static).
 */
#ifndef GW_TESTS_CODEC_FIXTURE_H
#define GW_TESTS_CODEC_FIXTURE_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lwm2m/codec.h"

/* Object 3 (Device) types as OMA's registry defines them, and a made-up
 * object 9999 with one resource of each other type. */
static inline int fx_lookup(void *ctx, const gw_path_t *p, gw_type_t *out_type)
{
    (void)ctx;
    if (p->len < 3)
        return -ENOENT;
    uint16_t rid = p->id[2];
    if (p->id[0] == 3) {
        switch (rid) {
        case 0: case 1: case 2: case 3: case 14: case 15: case 16:
            *out_type = GW_TYPE_STRING;
            return 0;
        case 6: case 7: case 8: case 9: case 10: case 11:
            *out_type = GW_TYPE_INTEGER;
            return 0;
        case 13:
            *out_type = GW_TYPE_TIME;
            return 0;
        }
        return -ENOENT;
    }
    if (p->id[0] == 9999) {
        static const gw_type_t t[] = {GW_TYPE_FLOAT,  GW_TYPE_BOOLEAN, GW_TYPE_OPAQUE,
                                      GW_TYPE_OBJLNK, GW_TYPE_UNSIGNED, GW_TYPE_INTEGER,
                                      GW_TYPE_STRING, GW_TYPE_TIME,    GW_TYPE_CORELNK};
        if (rid < sizeof t / sizeof t[0]) {
            *out_type = t[rid];
            return 0;
        }
        if (rid == 20) { /* an Execute resource */
            *out_type = GW_TYPE_NONE;
            return 0;
        }
    }
    return -ENOENT;
}

static inline gw_record_t fx_rec(gw_path_t p, gw_value_t v)
{
    gw_record_t r;
    memset(&r, 0, sizeof r);
    r.path = p;
    r.value = v;
    return r;
}

static inline gw_value_t fx_str(gw_type_t t, const char *s, size_t len)
{
    gw_value_t v = {.type = t, .v.bytes = {.ptr = (const uint8_t *)s, .len = len}};
    return v;
}
static inline gw_value_t fx_int(int64_t i)
{
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = i};
    return v;
}

static inline int fx_value_eq(const gw_value_t *a, const gw_value_t *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME: return a->v.i == b->v.i;
    case GW_TYPE_UNSIGNED: return a->v.u == b->v.u;
    case GW_TYPE_FLOAT: return memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0;
    case GW_TYPE_BOOLEAN: return a->v.b == b->v.b;
    case GW_TYPE_OBJLNK:
        return a->v.objlnk.oid == b->v.objlnk.oid && a->v.objlnk.iid == b->v.objlnk.iid;
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        return a->v.bytes.len == b->v.bytes.len &&
               (a->v.bytes.len == 0 || memcmp(a->v.bytes.ptr, b->v.bytes.ptr, a->v.bytes.len) == 0);
    default: return 1;
    }
}

static inline int fx_recs_eq(const gw_record_t *a, size_t na, const gw_record_t *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (gw_path_cmp(&a[i].path, &b[i].path) != 0 || !fx_value_eq(&a[i].value, &b[i].value))
            return 0;
        if (a[i].has_time != b[i].has_time || (a[i].has_time && a[i].time != b[i].time))
            return 0;
    }
    return 1;
}

#define FX_S(s) fx_str(GW_TYPE_STRING, s, sizeof(s) - 1)
/* Read of /3/0 in the OMA LwM2M Core TS examples (TLV and SenML JSON). */
static inline size_t fx_device_records(gw_record_t *r)
{
    size_t n = 0;
    r[n++] = fx_rec(gw_path_make(3, 0, 0, GW_ID_NONE), FX_S("Open Mobile Alliance"));
    r[n++] = fx_rec(gw_path_make(3, 0, 1, GW_ID_NONE), FX_S("Lightweight M2M Client"));
    r[n++] = fx_rec(gw_path_make(3, 0, 2, GW_ID_NONE), FX_S("345000123"));
    r[n++] = fx_rec(gw_path_make(3, 0, 3, GW_ID_NONE), FX_S("1.0"));
    r[n++] = fx_rec(gw_path_make(3, 0, 6, 0), fx_int(1));
    r[n++] = fx_rec(gw_path_make(3, 0, 6, 1), fx_int(5));
    r[n++] = fx_rec(gw_path_make(3, 0, 7, 0), fx_int(3800));
    r[n++] = fx_rec(gw_path_make(3, 0, 7, 1), fx_int(5000));
    r[n++] = fx_rec(gw_path_make(3, 0, 8, 0), fx_int(125));
    r[n++] = fx_rec(gw_path_make(3, 0, 8, 1), fx_int(900));
    r[n++] = fx_rec(gw_path_make(3, 0, 9, GW_ID_NONE), fx_int(100));
    r[n++] = fx_rec(gw_path_make(3, 0, 10, GW_ID_NONE), fx_int(15));
    r[n++] = fx_rec(gw_path_make(3, 0, 11, 0), fx_int(0));
    gw_value_t t = {.type = GW_TYPE_TIME, .v.i = 1367491215};
    r[n++] = fx_rec(gw_path_make(3, 0, 13, GW_ID_NONE), t);
    r[n++] = fx_rec(gw_path_make(3, 0, 14, GW_ID_NONE), FX_S("+02:00"));
    r[n++] = fx_rec(gw_path_make(3, 0, 16, GW_ID_NONE), FX_S("U"));
    return n;
}

/* Encode in cf at base, decode again with fx_lookup: 1 when equal. */
static inline int fx_roundtrip(int cf, const gw_path_t *base, const gw_record_t *recs, size_t n)
{
    gw_buf_t b = {0};
    gw_decoded_t d;
    memset(&d, 0, sizeof d);
    int ok = 0;
    int rc = gw_codec_encode(cf, base, recs, n, &b);
    if (rc) {
        fprintf(stderr, "  encode cf %d failed: %d\n", cf, rc);
        goto out;
    }
    rc = gw_codec_decode(cf, base, b.data, b.len, fx_lookup, NULL, &d);
    if (rc) {
        fprintf(stderr, "  decode cf %d failed: %d %s (%.*s)\n", cf, rc, d.error, (int)b.len,
                (const char *)b.data);
        goto out;
    }
    ok = fx_recs_eq(recs, n, d.recs, d.n);
    if (!ok)
        fprintf(stderr, "  cf %d round trip differs (%zu -> %zu records)\n", cf, n, d.n);
out:
    gw_decoded_free(&d);
    gw_buf_free(&b);
    return ok;
}

/* Decode expecting failure rc with a message; 1 when so. */
static inline int fx_decode_fails(int cf, const gw_path_t *base, const void *p, size_t len, int want)
{
    gw_decoded_t d;
    memset(&d, 0, sizeof d);
    int rc = gw_codec_decode(cf, base, p, len, fx_lookup, NULL, &d);
    int ok = rc == want && d.error[0] != '\0';
    if (!ok)
        fprintf(stderr, "  expected %d with a message, got %d \"%s\"\n", want, rc, d.error);
    gw_decoded_free(&d);
    return ok;
}

/* One value of every type with its edge cases, all in object 9999. */
static inline size_t fx_all_values(gw_record_t *out, size_t max)
{
    static const uint8_t bin[] = {0x00, 0x01, 0x00, 0xFF, 0x80, 0x00};
    static const char str[] = "h\xC3\xA9llo \"q\" \\ \n\t\x01/";
    const double floats[] = {0.1, 1e300, -0.5, 21.5, 0.0, -0.0, 5e-324, 3.4028234663852886e38,
                             1.0 / 3, 65504.0, 6.103515625e-05, 1e-7, -123456789.125};
    const int64_t ints[] = {0, -1, 1, 127, 128, -128, -129, 32767, 32768, -32769, INT32_MAX,
                            (int64_t)INT32_MAX + 1, INT32_MIN, INT64_MIN, INT64_MAX};
    const uint64_t uints[] = {0, 127, 128, 255, 65535, 65536, 0x80000000u,
                              (uint64_t)INT64_MAX + 1, UINT64_MAX};
    size_t n = 0;
#define FX_ADD(rid, val)                                                             \
    do {                                                                             \
        if (n < max)                                                                 \
            out[n++] = fx_rec(gw_path_make(9999, 0, (rid), GW_ID_NONE), (val));      \
    } while (0)
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        FX_ADD(0, ((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = floats[i]}));
    FX_ADD(1, ((gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = true}));
    FX_ADD(1, ((gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = false}));
    FX_ADD(2, fx_str(GW_TYPE_OPAQUE, (const char *)bin, sizeof bin));
    FX_ADD(2, fx_str(GW_TYPE_OPAQUE, "", 0));
    FX_ADD(2, fx_str(GW_TYPE_OPAQUE, "\0", 1));
    FX_ADD(3, ((gw_value_t){.type = GW_TYPE_OBJLNK, .v.objlnk = {3, 0}}));
    FX_ADD(3, ((gw_value_t){.type = GW_TYPE_OBJLNK, .v.objlnk = {65535, 65535}}));
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++)
        FX_ADD(4, ((gw_value_t){.type = GW_TYPE_UNSIGNED, .v.u = uints[i]}));
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        FX_ADD(5, fx_int(ints[i]));
    FX_ADD(6, fx_str(GW_TYPE_STRING, "", 0));
    FX_ADD(6, fx_str(GW_TYPE_STRING, str, sizeof str - 1));
    FX_ADD(7, ((gw_value_t){.type = GW_TYPE_TIME, .v.i = 1367491215}));
    FX_ADD(7, ((gw_value_t){.type = GW_TYPE_TIME, .v.i = INT64_MIN}));
    FX_ADD(8, fx_str(GW_TYPE_CORELNK, "</3/0>;ver=1.1", 14));
#undef FX_ADD
    return n;
}

#endif
