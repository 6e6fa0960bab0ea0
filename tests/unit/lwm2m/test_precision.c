/*
 * tests/unit/lwm2m/test_precision.c - a value publishes at the precision of
 * its source (issue 8): a float32 288.1 and a register 1234 with scale 0.1
 * reach every content format as 288.1 and 123.4, without binary noise, and
 * the mapping's conversions keep a sensible precision.
 */
#include <errno.h>
#include <string.h>

#include "adapters/modbus/decode.h"
#include "gwtest.h"
#include "lwm2m/codec.h"
#include "lwm2m/precision.h"
#include "mapping/mapping.h"

static char *text_of(double x, char *buf, size_t size)
{
    gw_buf_t b = {0};
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = x};
    buf[0] = '\0';
    if (gw_value_to_text(&v, &b) == 0 && b.len < size) {
        memcpy(buf, b.data, b.len);
        buf[b.len] = '\0';
    }
    gw_buf_free(&b);
    return buf;
}

/* A float32 register holding 288.1 (0x43900CCD, big-endian words). */
static gw_value_t f32_288_1(int *dec)
{
    gw_config_modbus_reg_t r = {.field = "voltage", .table = GW_MODBUS_INPUT, .type = GW_MODBUS_F32,
                                .order = GW_MODBUS_ABCD, .count = 2, .scale = 1};
    const uint16_t w[2] = {0x4390, 0x0CCD};
    gw_value_t v = {0};
    CHECK_EQ_INT(gw_modbus_decode_prec(&r, w, 2, &v, NULL, 0, dec), 0);
    return v;
}

GW_TEST(float32_is_its_shortest_decimal)
{
    char t[64];
    int d = -1;
    float f = 288.1f;
    CHECK_EQ_STR(text_of((double)f, t, sizeof t), "288.1000061035156"); /* the noise */
    CHECK(gw_prec_float32(f, &d) == 288.1);
    CHECK_EQ_INT(d, 1);
    CHECK(gw_prec_float32(230.0f, &d) == 230.0);
    CHECK_EQ_INT(d, 0);
    CHECK(gw_prec_float32(0.1f, &d) == 0.1);
    CHECK_EQ_INT(d, 1);
    CHECK(gw_prec_float32(-0.0012345f, &d) == -0.0012345);
    CHECK_EQ_INT(d, 7);
    CHECK(gw_prec_float32(0.0f, &d) == 0.0);
    CHECK_EQ_INT(d, 0);
    /* Every float32 comes back as itself through its decimal. */
    const float hard[] = {16777216.0f, 3.4028235e38f, 1.17549435e-38f, 1e-45f, 0.3f, 123456.79f};
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++)
        CHECK((float)gw_prec_float32(hard[i], &d) == hard[i]);
}

GW_TEST(rounding_gives_the_nearest_double_of_the_decimal)
{
    char t[64];
    CHECK(gw_prec_round(2307 * 0.1, 1) == 230.7);
    CHECK_EQ_STR(text_of(2307 * 0.1, t, sizeof t), "230.70000000000002"); /* the noise */
    CHECK_EQ_STR(text_of(gw_prec_round(2307 * 0.1, 1), t, sizeof t), "230.7");
    CHECK_EQ_STR(text_of(gw_prec_round(2881 * 0.01, 2), t, sizeof t), "28.81");
    CHECK(gw_prec_round(0.07 * 3, 2) == 0.21);
    CHECK(gw_prec_round(-0.04, 1) == 0.0 && !signbit(gw_prec_round(-0.04, 1)));
    CHECK(gw_prec_round(0.06, 1) == 0.1);
    CHECK(gw_prec_round(-0.06, 1) == -0.1);
    CHECK(gw_prec_round(0.004, 1) == 0.0);
    CHECK(gw_prec_round(1550.0, -2) == 1600.0);
    CHECK(gw_prec_round(1e300, 5) == 1e300);
    CHECK(gw_prec_round(0.1 + 0.2, 30) == 0.1 + 0.2); /* finer than a double: unchanged */
    CHECK(isinf(gw_prec_round(INFINITY, 1)));
    CHECK(isnan(gw_prec_round(NAN, 1)));
}

GW_TEST(decimals_through_linear_conversions)
{
    int k = 99;
    CHECK(gw_prec_short_decimal(0.1, &k) && k == 1);
    CHECK(gw_prec_short_decimal(0.25, &k) && k == 2);
    CHECK(gw_prec_short_decimal(273.15, &k) && k == 2);
    CHECK(gw_prec_short_decimal(1000, &k) && k == -3);
    CHECK(!gw_prec_short_decimal(5.0 / 9.0, &k));
    CHECK(!gw_prec_short_decimal(NAN, &k));
    CHECK_EQ_INT(gw_prec_linear(0, 0.1, 0), 1);
    CHECK_EQ_INT(gw_prec_linear(0, 0.01, 0), 2);
    CHECK_EQ_INT(gw_prec_linear(1, 1000, 0), -2);
    CHECK_EQ_INT(gw_prec_linear(0, 1, -273.15), 2);
    CHECK_EQ_INT(gw_prec_linear(1, 5.0 / 9.0, 0), 3);
    CHECK_EQ_INT(gw_unit_conv_decimals(GW_CONV_F_TO_C, 1), 3);
    CHECK_EQ_INT(gw_unit_conv_decimals(GW_CONV_WH_TO_KWH, 0), 3);
    CHECK_EQ_INT(gw_unit_conv_decimals(GW_CONV_K_TO_C, 1), 2);
    CHECK_EQ_INT(gw_unit_conv_decimals(GW_CONV_NONE, 4), 4);
    /* 73.4 F as a float32: 23 Cel, not 23.000000000000004. */
    char t[64];
    int d;
    double f = gw_prec_float32(73.4f, &d);
    double c = gw_unit_conv_apply(GW_CONV_F_TO_C, f);
    CHECK_EQ_STR(text_of(c, t, sizeof t), "23.000000000000004");
    CHECK_EQ_STR(text_of(gw_prec_round(c, gw_unit_conv_decimals(GW_CONV_F_TO_C, d)), t, sizeof t),
                 "23");
    f = gw_prec_float32(71.3f, &d); /* 21.8333... Cel */
    c = gw_unit_conv_apply(GW_CONV_F_TO_C, f);
    CHECK_EQ_STR(text_of(gw_prec_round(c, gw_unit_conv_decimals(GW_CONV_F_TO_C, d)), t, sizeof t),
                 "21.833");
}

GW_TEST(scaled_s16_register_is_its_decimal)
{
    gw_config_modbus_reg_t r = {.field = "t", .table = GW_MODBUS_HOLDING, .type = GW_MODBUS_S16,
                                .order = GW_MODBUS_ABCD, .count = 1, .scale = 0.1};
    const uint16_t w[1] = {1234};
    gw_value_t v;
    int d = -1;
    char t[64];
    CHECK_EQ_INT(gw_modbus_decode_prec(&r, w, 1, &v, NULL, 0, &d), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_FLOAT);
    CHECK(v.v.f == 123.4);
    CHECK_EQ_INT(d, 1);
    CHECK_EQ_STR(text_of(v.v.f, t, sizeof t), "123.4");
    const uint16_t w1[1] = {2307}; /* 230.70000000000002 unrounded */
    CHECK_EQ_INT(gw_modbus_decode_prec(&r, w1, 1, &v, NULL, 0, &d), 0);
    CHECK_EQ_STR(text_of(v.v.f, t, sizeof t), "230.7");
    r.scale = 0.01;
    r.offset = -40;
    const uint16_t w2[1] = {6107}; /* 61.07 - 40 */
    CHECK_EQ_INT(gw_modbus_decode_prec(&r, w2, 1, &v, NULL, 0, &d), 0);
    CHECK_EQ_STR(text_of(v.v.f, t, sizeof t), "21.07");
    CHECK_EQ_INT(d, 2);
    /* A coil bit field scaled like a register. */
    gw_config_modbus_reg_t bits = {.field = "b", .table = GW_MODBUS_COIL, .type = GW_MODBUS_U16,
                                   .count = 3, .scale = 0.1};
    const uint16_t c[3] = {1, 1, 1}; /* 7 x 0.1 */
    CHECK_EQ_INT(gw_modbus_decode_prec(&bits, c, 3, &v, NULL, 0, &d), 0);
    CHECK_EQ_STR(text_of(v.v.f, t, sizeof t), "0.7");
}

/* The float32 288.1 in each content format a server reads. */
GW_TEST(float32_in_every_content_format)
{
    int d = -1;
    gw_value_t v = f32_288_1(&d);
    CHECK_EQ_INT(v.type, GW_TYPE_FLOAT);
    CHECK(v.v.f == 288.1);
    CHECK_EQ_INT(d, 1);
    gw_record_t rec = {.path = gw_path_make(3316, 0, 5700, GW_ID_NONE), .value = v};
    gw_path_t base = gw_path_make(3316, 0, GW_ID_NONE, GW_ID_NONE);
    gw_buf_t b = {0};

    CHECK_EQ_INT(gw_text_encode(&rec, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, "288.1", 5);
    b.len = 0;

    CHECK_EQ_INT(gw_senml_json_encode(&base, &rec, 1, &b), 0);
    CHECK_EQ_INT(gw_buf_append(&b, "", 1), 0);
    CHECK(strstr((char *)b.data, "\"v\":288.1}") != NULL);
    CHECK(strstr((char *)b.data, "0000") == NULL);
    b.len = 0;

    /* CBOR: the double 288.1 (0xfb 407201999999999a), which a server that
     * holds doubles shows as 288.1; a single-precision 288.1f would reach
     * it as 288.1000061035156. */
    static const uint8_t dbl[] = {0xfb, 0x40, 0x72, 0x01, 0x99, 0x99, 0x99, 0x99, 0x9a};
    CHECK_EQ_INT(gw_senml_cbor_encode(&base, &rec, 1, &b), 0);
    CHECK(b.len >= sizeof dbl && memcmp(b.data + b.len - sizeof dbl, dbl, sizeof dbl) == 0);
    b.len = 0;

    /* TLV: the 8-byte float of 288.1, for the same reason. */
    CHECK_EQ_INT(gw_tlv_encode(&base, &rec, 1, &b), 0);
    CHECK(b.len >= 8 && memcmp(b.data + b.len - 8, dbl + 1, 8) == 0);
    gw_buf_free(&b);
}

/* A value exact as a float32 keeps the short encodings. */
GW_TEST(exact_values_keep_short_encodings)
{
    gw_config_modbus_reg_t r = {.field = "x", .table = GW_MODBUS_INPUT, .type = GW_MODBUS_F32,
                                .order = GW_MODBUS_ABCD, .count = 2, .scale = 1};
    const uint16_t w[2] = {0x4366, 0x8000}; /* 230.5f */
    gw_value_t v;
    int d;
    CHECK_EQ_INT(gw_modbus_decode_prec(&r, w, 2, &v, NULL, 0, &d), 0);
    CHECK(v.v.f == 230.5);
    gw_record_t rec = {.path = gw_path_make(3316, 0, 5700, GW_ID_NONE), .value = v};
    gw_path_t base = gw_path_make(3316, 0, GW_ID_NONE, GW_ID_NONE);
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_tlv_encode(&base, &rec, 1, &b), 0);
    static const uint8_t f4[] = {0x43, 0x66, 0x80, 0x00};
    CHECK(b.len >= 4 && memcmp(b.data + b.len - 4, f4, 4) == 0);
    b.len = 0;
    CHECK_EQ_INT(gw_senml_cbor_encode(&base, &rec, 1, &b), 0);
    static const uint8_t half[] = {0xf9, 0x5b, 0x34}; /* 230.5 as a half */
    CHECK(b.len >= 3 && memcmp(b.data + b.len - 3, half, 3) == 0);
    gw_buf_free(&b);
}

GW_TEST_MAIN(float32_is_its_shortest_decimal, rounding_gives_the_nearest_double_of_the_decimal,
             decimals_through_linear_conversions, scaled_s16_register_is_its_decimal,
             float32_in_every_content_format, exact_values_keep_short_encodings)
