/* tests/unit/lwm2m/test_senml_cbor.c - SenML CBOR encoder and decoder. */
#include "gwtest.h"
#include "codec_fixture.h"

/* The OMA LwM2M 1.1 Core 7.4.5 Read of /3/0 example, with the RFC 8428
 * section 6 integer labels (bn -2, n 0, v 2, vs 3), encoded independently
 * with Python's cbor2 5.4 (definite lengths, shortest integers). */
static const uint8_t spec_cbor[] = {
    0x90, 0xA3, 0x21, 0x65, 0x2F, 0x33, 0x2F, 0x30, 0x2F, 0x00, 0x61, 0x30, 0x03, 0x74, 0x4F, 0x70,
    0x65, 0x6E, 0x20, 0x4D, 0x6F, 0x62, 0x69, 0x6C, 0x65, 0x20, 0x41, 0x6C, 0x6C, 0x69, 0x61, 0x6E,
    0x63, 0x65, 0xA2, 0x00, 0x61, 0x31, 0x03, 0x76, 0x4C, 0x69, 0x67, 0x68, 0x74, 0x77, 0x65, 0x69,
    0x67, 0x68, 0x74, 0x20, 0x4D, 0x32, 0x4D, 0x20, 0x43, 0x6C, 0x69, 0x65, 0x6E, 0x74, 0xA2, 0x00,
    0x61, 0x32, 0x03, 0x69, 0x33, 0x34, 0x35, 0x30, 0x30, 0x30, 0x31, 0x32, 0x33, 0xA2, 0x00, 0x61,
    0x33, 0x03, 0x63, 0x31, 0x2E, 0x30, 0xA2, 0x00, 0x63, 0x36, 0x2F, 0x30, 0x02, 0x01, 0xA2, 0x00,
    0x63, 0x36, 0x2F, 0x31, 0x02, 0x05, 0xA2, 0x00, 0x63, 0x37, 0x2F, 0x30, 0x02, 0x19, 0x0E, 0xD8,
    0xA2, 0x00, 0x63, 0x37, 0x2F, 0x31, 0x02, 0x19, 0x13, 0x88, 0xA2, 0x00, 0x63, 0x38, 0x2F, 0x30,
    0x02, 0x18, 0x7D, 0xA2, 0x00, 0x63, 0x38, 0x2F, 0x31, 0x02, 0x19, 0x03, 0x84, 0xA2, 0x00, 0x61,
    0x39, 0x02, 0x18, 0x64, 0xA2, 0x00, 0x62, 0x31, 0x30, 0x02, 0x0F, 0xA2, 0x00, 0x64, 0x31, 0x31,
    0x2F, 0x30, 0x02, 0x00, 0xA2, 0x00, 0x62, 0x31, 0x33, 0x02, 0x1A, 0x51, 0x82, 0x42, 0x8F, 0xA2,
    0x00, 0x62, 0x31, 0x34, 0x03, 0x66, 0x2B, 0x30, 0x32, 0x3A, 0x30, 0x30, 0xA2, 0x00, 0x62, 0x31,
    0x36, 0x03, 0x61, 0x55,
};

static gw_path_t P(const char *s)
{
    gw_path_t p = {{0}, 0};
    CHECK_EQ_INT(gw_path_parse(s, &p), 0);
    return p;
}

static int fails(const char *base, const uint8_t *p, size_t len, int want)
{
    gw_path_t b = P(base);
    /* An exact-size heap copy, so ASan catches any over-read. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    int ok = fx_decode_fails(GW_CF_SENML_CBOR, &b, copy, len, want);
    free(copy);
    return ok;
}
#define FAILS(base, want, ...)                                                                   \
    do {                                                                                         \
        static const uint8_t in_[] = {__VA_ARGS__};                                              \
        CHECK(fails(base, in_, sizeof in_, want));                                               \
    } while (0)

GW_TEST(spec_example_encodes_exactly)
{
    gw_record_t recs[32];
    size_t n = fx_device_records(recs);
    gw_path_t base = P("/3/0");
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_senml_cbor_encode(&base, recs, n, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, spec_cbor, sizeof spec_cbor);
    gw_buf_free(&b);
}

GW_TEST(spec_example_decodes)
{
    gw_record_t want[32];
    size_t nw = fx_device_records(want);
    gw_path_t base = P("/3/0");
    gw_decoded_t d = {0};
    CHECK_EQ_INT(gw_senml_cbor_decode(&base, spec_cbor, sizeof spec_cbor, fx_lookup, NULL, &d), 0);
    CHECK(fx_recs_eq(want, nw, d.recs, d.n));
    gw_decoded_free(&d);
}

GW_TEST(indefinite_lengths_accepted)
{
    /* [_ {_ -2: "/3/0/", 0: "9", 2: 100, break}, {0: "10", 2: 15}, break] */
    static const uint8_t in[] = {0x9F, 0xBF, 0x21, 0x65, '/', '3', '/', '0', '/', 0x00, 0x61, '9',
                                 0x02, 0x18, 0x64, 0xFF, 0xA2, 0x00, 0x62, '1', '0', 0x02, 0x0F,
                                 0xFF};
    gw_path_t base = P("/3/0");
    gw_decoded_t d = {0};
    CHECK_EQ_INT(gw_senml_cbor_decode(&base, in, sizeof in, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    if (d.n == 2) {
        CHECK_EQ_INT(d.recs[0].path.id[2], 9);
        CHECK_EQ_INT(d.recs[0].value.v.i, 100);
        CHECK_EQ_INT(d.recs[1].path.id[2], 10);
        CHECK_EQ_INT(d.recs[1].value.v.i, 15);
    }
    gw_decoded_free(&d);
}

GW_TEST(floats_use_the_shortest_exact_width)
{
    struct {
        double f;
        uint8_t bytes[9];
        size_t len;
    } cases[] = {
        {21.5, {0xF9, 0x4D, 0x60}, 3},
        {-0.0, {0xF9, 0x80, 0x00}, 3},
        {65504.0, {0xF9, 0x7B, 0xFF}, 3},
        {6.103515625e-05, {0xF9, 0x04, 0x00}, 3},
        {5.960464477539063e-08, {0xF9, 0x00, 0x01}, 3},
        {100000.5, {0xFA, 0x47, 0xC3, 0x50, 0x40}, 5},
        {0.1, {0xFB, 0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A}, 9},
    };
    gw_path_t base = P("/9999/0/0");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_record_t r = fx_rec(base, (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = cases[i].f});
        gw_buf_t b = {0};
        CHECK_EQ_INT(gw_senml_cbor_encode(&base, &r, 1, &b), 0);
        /* [{-2: "/9999/0/0", 2: <float>}]: the float is last. */
        CHECK(b.len > cases[i].len);
        if (b.len > cases[i].len)
            CHECK_EQ_MEM(b.data + b.len - cases[i].len, cases[i].len, cases[i].bytes, cases[i].len);
        gw_buf_free(&b);
        CHECK(fx_roundtrip(GW_CF_SENML_CBOR, &base, &r, 1));
    }
}

GW_TEST(big_integers_match_cbor2)
{
    /* cbor2: [{-2: "/9999/0/5", 2: -2^63}] and [{-2: "/9999/0/4", 2: 2^64-1}] */
    static const uint8_t imin[] = {0x81, 0xA2, 0x21, 0x69, '/', '9', '9', '9', '9', '/', '0', '/',
                                   '5', 0x02, 0x3B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    static const uint8_t umax[] = {0x81, 0xA2, 0x21, 0x69, '/', '9', '9', '9', '9', '/', '0', '/',
                                   '4', 0x02, 0x1B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    gw_record_t r = fx_rec(P("/9999/0/5"), fx_int(INT64_MIN));
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_senml_cbor_encode(&r.path, &r, 1, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, imin, sizeof imin);
    gw_buf_free(&b);
    r = fx_rec(P("/9999/0/4"), (gw_value_t){.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX});
    CHECK_EQ_INT(gw_senml_cbor_encode(&r.path, &r, 1, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, umax, sizeof umax);
    gw_buf_free(&b);
}

GW_TEST(every_type_round_trips)
{
    gw_record_t all[64];
    size_t n = fx_all_values(all, 64);
    gw_path_t inst = P("/9999/0");
    gw_path_t root = P("/");
    for (size_t i = 0; i < n; i++) {
        CHECK(fx_roundtrip(GW_CF_SENML_CBOR, &inst, &all[i], 1));
        CHECK(fx_roundtrip(GW_CF_SENML_CBOR, &all[i].path, &all[i], 1));
        gw_record_t t = all[i];
        t.has_time = true;
        t.time = (i % 2) ? 1700000000.25 : -10;
        CHECK(fx_roundtrip(GW_CF_SENML_CBOR, &root, &t, 1));
    }
}

GW_TEST(records_without_value_are_none)
{
    /* [{0: "/3/0/1"}, {0: "/5"}] */
    static const uint8_t in[] = {0x82, 0xA1, 0x00, 0x66, '/', '3', '/', '0', '/', '1',
                                 0xA1, 0x00, 0x62, '/', '5'};
    gw_path_t root = P("/");
    gw_decoded_t d = {0};
    CHECK_EQ_INT(gw_senml_cbor_decode(&root, in, sizeof in, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    if (d.n == 2) {
        CHECK_EQ_INT(d.recs[0].value.type, GW_TYPE_NONE);
        CHECK_EQ_INT(d.recs[1].path.len, 1);
    }
    gw_decoded_free(&d);
}

GW_TEST(bad_input)
{
    FAILS("/3/0", -EINVAL, 0x80, 0x00);                               /* trailing garbage */
    FAILS("/3/0", -EINVAL, 0xA0);                                     /* root is a map */
    FAILS("/3/0", -EINVAL, 0x01);                                     /* root is an int */
    FAILS("/3/0", -EINVAL, 0x81);                                     /* truncated */
    FAILS("/3/0", -EINVAL, 0x9F, 0xA0);                               /* no break */
    FAILS("/3/0", -EINVAL, 0x81, 0x81, 0xA0);                         /* array in array */
    FAILS("/3/0", -EINVAL, 0x81, 0xA1, 0x00, 0x81, 0x00);             /* array in record */
    FAILS("/3/0", -EINVAL, 0x81, 0xA1, 0x00, 0xC1, 0x00);             /* tag */
    FAILS("/3/0", -EINVAL, 0x81, 0xA1, 0x00, 0x7F, 0x61, 'a', 0xFF);  /* indef string */
    FAILS("/3/0", -EINVAL, 0x81, 0xA1, 0xF6, 0x00);                   /* null key */
    FAILS("/3/0", -EINVAL, 0x9A, 0xFF, 0xFF, 0xFF, 0xFF);             /* 2^32 items, no data */
    FAILS("/3/0", -EINVAL, 0x81, 0xBA, 0xFF, 0xFF, 0xFF, 0xFF);       /* huge map */
    FAILS("/3/0", -EINVAL, 0x81, 0xA1, 0x00, 0x1C);                   /* reserved info */
    FAILS("/3/0", -EINVAL, 0xFF);                                     /* lone break */
    FAILS("/3/0", -EINVAL, 0x81, 0xA1, 0x00, 0x69, '/', '3');         /* text past end */
    /* "v" for a String resource, "vs" for an Integer one. */
    FAILS("/3/0", -EINVAL, 0x81, 0xA2, 0x00, 0x66, '/', '3', '/', '0', '/', '0', 0x02, 0x01);
    FAILS("/3/0", -EINVAL, 0x81, 0xA2, 0x00, 0x66, '/', '3', '/', '0', '/', '9', 0x03, 0x61, '1');
    /* A name outside the base, an unknown resource, a non-integral Integer. */
    FAILS("/3/0", -EINVAL, 0x81, 0xA2, 0x00, 0x66, '/', '3', '/', '1', '/', '9', 0x02, 0x01);
    FAILS("/3/0", -ENOENT, 0x81, 0xA2, 0x00, 0x66, '/', '3', '/', '0', '/', '5', 0x02, 0x01);
    FAILS("/3/0", -EINVAL, 0x81, 0xA2, 0x00, 0x66, '/', '3', '/', '0', '/', '9', 0x02, 0xF9, 0x3E,
          0x00);
    /* "vd" must be a byte string, "vb" a boolean, and only one value. */
    FAILS("/9999/0", -EINVAL, 0x81, 0xA2, 0x00, 0x69, '/', '9', '9', '9', '9', '/', '0', '/', '2',
          0x08, 0x61, 'a');
    FAILS("/9999/0", -EINVAL, 0x81, 0xA2, 0x00, 0x69, '/', '9', '9', '9', '9', '/', '0', '/', '1',
          0x04, 0x01);
    FAILS("/9999/0", -EINVAL, 0x81, 0xA3, 0x00, 0x69, '/', '9', '9', '9', '9', '/', '0', '/', '5',
          0x02, 0x01, 0x02, 0x02);
    FAILS("/", -EINVAL, 0x80, 0x80);
    CHECK(fails("/", spec_cbor, 0, -EINVAL)); /* empty payload */
    /* Deep nesting: refused at the third level, whatever follows. */
    uint8_t deep[20000];
    memset(deep, 0x81, sizeof deep);
    CHECK(fails("/3/0", deep, sizeof deep, -EINVAL));
    memset(deep, 0x9F, sizeof deep);
    CHECK(fails("/3/0", deep, sizeof deep, -EINVAL));
    /* An empty array is fine. */
    gw_path_t b = P("/3/0");
    gw_decoded_t d = {0};
    static const uint8_t empty[] = {0x80};
    CHECK_EQ_INT(gw_senml_cbor_decode(&b, empty, 1, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 0);
    gw_decoded_free(&d);
}

/* Fails with want and exactly the message msg. */
static int fails_with(const char *base, const uint8_t *p, size_t len, int want, const char *msg)
{
    gw_path_t b = P(base);
    gw_decoded_t d;
    memset(&d, 0, sizeof d);
    int rc = gw_codec_decode(GW_CF_SENML_CBOR, &b, p, len, fx_lookup, NULL, &d);
    int ok = rc == want && strcmp(d.error, msg) == 0;
    if (!ok)
        fprintf(stderr, "  expected %d \"%s\"\n  got      %d \"%s\"\n", want, msg, rc, d.error);
    gw_decoded_free(&d);
    return ok;
}
#define FAILS_WITH(base, want, msg, ...)                                                         \
    do {                                                                                         \
        static const uint8_t in_[] = {__VA_ARGS__};                                              \
        CHECK(fails_with(base, in_, sizeof in_, want, msg));                                     \
    } while (0)

/* "/9999/0/5" as a CBOR text string. */
#define N9995 0x69, '/', '9', '9', '9', '9', '/', '0', '/', '5'

/* The numeric labels of RFC 8428 Table 6: bv (-5) is added to v, bver (-1)
 * above 10 is refused, s (5) and bs (-6) are refused, u (1) is read past. */
GW_TEST(base_fields_by_number)
{
    /* [{-2: "/9999/0/", -5: 10, 0: "5", 2: 4}, {0: "0", 2: 1.5}]: 14 and 11.5 */
    static const uint8_t bv[] = {0x82, 0xA4, 0x21, 0x68, '/', '9', '9', '9', '9', '/', '0', '/',
                                 0x24, 0x0A, 0x00, 0x61, '5', 0x02, 0x04, 0xA2, 0x00, 0x61, '0',
                                 0x02, 0xF9, 0x3E, 0x00};
    gw_path_t b = P("/9999/0");
    gw_decoded_t d = {0};
    CHECK_EQ_INT(gw_codec_decode(GW_CF_SENML_CBOR, &b, bv, sizeof bv, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    if (d.n == 2) {
        CHECK_EQ_INT(d.recs[0].value.v.i, 14);
        CHECK_NEAR(d.recs[1].value.v.f, 11.5, 0);
    }
    gw_decoded_free(&d);
    /* {-1: 10, 0: "/9999/0/0", 2: 1.5, 1: "Cel", -4: "V", 7: 5} */
    static const uint8_t unit[] = {0x81, 0xA6, 0x20, 0x0A, 0x00, 0x69, '/', '9', '9', '9', '9', '/',
                                   '0', '/', '0', 0x02, 0xF9, 0x3E, 0x00, 0x01, 0x63, 'C', 'e', 'l',
                                   0x23, 0x61, 'V', 0x07, 0x05};
    CHECK_EQ_INT(gw_codec_decode(GW_CF_SENML_CBOR, &b, unit, sizeof unit, fx_lookup, NULL, &d), 0);
    CHECK_EQ_INT(d.n, 1);
    gw_decoded_free(&d);
    FAILS_WITH("/9999/0", -EINVAL,
               "/9999/0/5: SenML version 11 is not supported (this client reads up to 10)", 0x81,
               0xA3, 0x20, 0x0B, 0x00, N9995, 0x02, 0x01);
    FAILS_WITH("/9999/0", -EINVAL,
               "/9999/0/5: SenML \"s\" (sum) is not used by LwM2M, expected the value in \"v\"", 0x81,
               0xA2, 0x00, N9995, 0x05, 0x04);
    FAILS_WITH("/9999/0", -EINVAL,
               "/9999/0/5: SenML \"bs\" (sum) is not used by LwM2M, expected the value in \"v\"",
               0x81, 0xA3, 0x25, 0x01, 0x00, N9995, 0x02, 0x04);
    FAILS_WITH("/9999/0", -EINVAL, "/9999/0/5: SenML \"bv\" must be a number", 0x81, 0xA3, 0x24,
               0x61, '1', 0x00, N9995, 0x02, 0x04);
}

GW_TEST(duplicates_and_named_diagnostics)
{
    /* {0: "/9999/0/5", 0: "/9999/0/6", 2: 1}: the second name is not taken */
    FAILS_WITH("/9999/0", -EINVAL, "/9999/0/5: SenML label \"n\" twice in one record", 0x81, 0xA3,
               0x00, N9995, 0x00, 0x69, '/', '9', '9', '9', '9', '/', '0', '/', '6', 0x02, 0x01);
    FAILS_WITH("/9999/0", -EINVAL,
               "/9999/0/5: two values for one path in one payload, expected each resource "
               "(instance) once",
               0x82, 0xA2, 0x00, N9995, 0x02, 0x01, 0xA2, 0x00, N9995, 0x02, 0x02);
    /* The value comes before the name: the message still names the record. */
    FAILS_WITH("/9999/0", -EINVAL, "/9999/0/5: SenML \"v\" must be a number", 0x81, 0xA2, 0x02,
               0x61, 'x', 0x00, N9995);
    FAILS_WITH("/9999/0", -EINVAL, "/9999/0/5: SenML record with more than one value", 0x81, 0xA3,
               0x02, 0x01, 0x03, 0x61, 'a', 0x00, N9995);
    FAILS_WITH("/9999/0", -EINVAL, "/9999/0/5: SenML label \"x_\" is not supported", 0x81, 0xA3,
               0x62, 'x', '_', 0x01, 0x00, N9995, 0x02, 0x01);
    FAILS_WITH("/9999/0", -EINVAL, "SenML record 2: no name (\"bn\" and \"n\" are both empty)", 0x82,
               0xA2, 0x00, N9995, 0x02, 0x01, 0xA1, 0x02, 0x01);
    FAILS_WITH("/9999/0", -EINVAL, "SenML CBOR record 1: nested array or map inside a record", 0x81,
               0xA2, 0x00, N9995, 0x02, 0x81, 0x01);
}

GW_TEST(truncated_spec_example_at_every_length)
{
    for (size_t len = 0; len < sizeof spec_cbor; len++)
        CHECK(fails("/3/0", spec_cbor, len, -EINVAL));
}

GW_TEST_MAIN(spec_example_encodes_exactly, spec_example_decodes, indefinite_lengths_accepted,
             floats_use_the_shortest_exact_width, big_integers_match_cbor2, every_type_round_trips,
             records_without_value_are_none, bad_input, base_fields_by_number,
             duplicates_and_named_diagnostics, truncated_spec_example_at_every_length)
