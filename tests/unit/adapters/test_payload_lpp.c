/*
 * tests/unit/adapters/test_payload_lpp.c - Cayenne LPP: the published
 * vectors, every type, malformed payloads, the output encoder (rounding,
 * ranges), declared fields and configuration errors.
 */
#include <errno.h>

#include "gwtest.h"
#include "payload_test.h"

static gw_payload_codec_t *lpp(void)
{
    pt_diags_t d;
    return pt_parse("codec = \"lpp\";", &d, NULL);
}

/* Vectors: myDevices CayenneLPP README (copied from
 * ../shared/test-vectors/README.md, "Cayenne LPP"). */
GW_TEST(test_published_vectors)
{
    gw_payload_codec_t *c = lpp();
    CHECK(c != NULL);
    pt_fields_t o = {0};
    const uint8_t v1[] = {0x03, 0x67, 0x01, 0x10, 0x05, 0x67, 0x00, 0xFF};
    CHECK_EQ_INT(gw_payload_decode(c, 1, v1, sizeof v1, pt_emit, &o, NULL, 0), 0);
    CHECK_EQ_INT(o.n, 2);
    CHECK_EQ_STR(o.name[0], "temperature_3");
    CHECK(o.v[0].type == GW_TYPE_FLOAT && o.v[0].v.f == 27.2);
    CHECK_EQ_INT(o.dec[0], 1);
    CHECK_EQ_STR(o.name[1], "temperature_5");
    CHECK(o.v[1].v.f == 25.5);

    o = (pt_fields_t){0};
    const uint8_t v2[] = {0x01, 0x67, 0xFF, 0xD7};
    CHECK_EQ_INT(gw_payload_decode(c, 1, v2, sizeof v2, pt_emit, &o, NULL, 0), 0);
    CHECK(o.n == 1 && o.v[0].v.f == -4.1);

    o = (pt_fields_t){0};
    const uint8_t v3[] = {0x06, 0x71, 0x04, 0xD2, 0xFB, 0x2E, 0x00, 0x00};
    CHECK_EQ_INT(gw_payload_decode(c, 1, v3, sizeof v3, pt_emit, &o, NULL, 0), 0);
    CHECK_EQ_INT(o.n, 3);
    CHECK_EQ_STR(o.name[0], "accelerometer_6_x");
    CHECK_EQ_STR(o.name[2], "accelerometer_6_z");
    CHECK(o.v[0].v.f == 1.234 && o.v[1].v.f == -1.234 && o.v[2].v.f == 0);

    o = (pt_fields_t){0};
    const uint8_t v4[] = {0x01, 0x88, 0x06, 0x76, 0x5F, 0xF2, 0x96, 0x0A, 0x00, 0x03, 0xE8};
    CHECK_EQ_INT(gw_payload_decode(c, 1, v4, sizeof v4, pt_emit, &o, NULL, 0), 0);
    CHECK_EQ_INT(o.n, 3);
    CHECK_EQ_STR(o.name[0], "gps_1_latitude");
    CHECK(o.v[0].v.f == 42.3519 && o.v[1].v.f == -87.9094 && o.v[2].v.f == 10);
    CHECK_EQ_INT(o.dec[0], 4);
    CHECK_EQ_INT(o.dec[2], 2);
    gw_payload_free(&c);
    CHECK(c == NULL);
}

/* One frame with every type on its own channel; values chosen so that
 * signedness and scale both show. */
GW_TEST(test_every_type)
{
    gw_payload_codec_t *c = lpp();
    const uint8_t b[] = {
        0, 0, 1,                   /* digital input 1 */
        1, 1, 0,                   /* digital output 0 */
        2, 2, 0xFF, 0x9C,          /* analog input -1.00 */
        3, 3, 0x01, 0x2C,          /* analog output 3.00 */
        4, 100, 0, 1, 0, 0,        /* generic 65536 */
        5, 101, 0x01, 0xF4,        /* illuminance 500 */
        6, 102, 1,                 /* presence */
        7, 103, 0xFF, 0x9C,        /* temperature -10.0 */
        8, 104, 0x61,              /* humidity 48.5 */
        9, 113, 0, 1, 0, 2, 0xFF, 0xFF, /* accel 0.001 0.002 -0.001 */
        10, 115, 0x27, 0x9F,       /* pressure 1014.3 */
        11, 116, 0x01, 0x4A,       /* voltage 3.30 */
        12, 117, 0x03, 0xE8,       /* current 1.000 */
        13, 118, 0, 0, 0x03, 0xE8, /* frequency 1000 */
        14, 120, 99,               /* percentage 99 */
        15, 121, 0xFF, 0xF6,       /* altitude -10 */
        16, 125, 0x01, 0x90,       /* concentration 400 */
        17, 128, 0x00, 0x64,       /* power 100 */
        18, 130, 0, 0, 0x30, 0x39, /* distance 12.345 */
        19, 131, 0, 0, 0x04, 0xD2, /* energy 1.234 */
        20, 132, 0x01, 0x0E,       /* direction 270 */
        21, 133, 0x65, 0x00, 0x00, 0x00, /* unixtime 1694498816 */
        22, 134, 0x00, 0x64, 0xFF, 0x38, 0x00, 0x00, /* gyro 1.00 -2.00 0 */
        23, 135, 0xFF, 0x80, 0x00, /* colour */
        24, 136, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0, 0, 0x64, /* gps 0.0001 -0.0001 1.00 */
        25, 142, 1,                /* switch on */
    };
    pt_fields_t o = {0};
    char msg[128];
    CHECK_EQ_INT(gw_payload_decode(c, 1, b, sizeof b, pt_emit, &o, msg, sizeof msg), 0);
    CHECK_EQ_INT(o.n, 32);
    const struct {
        const char *name;
        gw_type_t type;
        double v;
    } want[] = {
        {"digital_input_0", GW_TYPE_BOOLEAN, 1}, {"digital_output_1", GW_TYPE_BOOLEAN, 0},
        {"analog_input_2", GW_TYPE_FLOAT, -1.0}, {"analog_output_3", GW_TYPE_FLOAT, 3.0},
        {"generic_4", GW_TYPE_INTEGER, 65536},   {"illuminance_5", GW_TYPE_INTEGER, 500},
        {"presence_6", GW_TYPE_BOOLEAN, 1},      {"temperature_7", GW_TYPE_FLOAT, -10.0},
        {"humidity_8", GW_TYPE_FLOAT, 48.5},     {"accelerometer_9_x", GW_TYPE_FLOAT, 0.001},
        {"accelerometer_9_y", GW_TYPE_FLOAT, 0.002}, {"accelerometer_9_z", GW_TYPE_FLOAT, -0.001},
        {"pressure_10", GW_TYPE_FLOAT, 1014.3},  {"voltage_11", GW_TYPE_FLOAT, 3.3},
        {"current_12", GW_TYPE_FLOAT, 1.0},      {"frequency_13", GW_TYPE_INTEGER, 1000},
        {"percentage_14", GW_TYPE_INTEGER, 99},  {"altitude_15", GW_TYPE_INTEGER, -10},
        {"concentration_16", GW_TYPE_INTEGER, 400}, {"power_17", GW_TYPE_INTEGER, 100},
        {"distance_18", GW_TYPE_FLOAT, 12.345},  {"energy_19", GW_TYPE_FLOAT, 1.234},
        {"direction_20", GW_TYPE_INTEGER, 270},  {"unixtime_21", GW_TYPE_TIME, 1694498816},
        {"gyrometer_22_x", GW_TYPE_FLOAT, 1.0},  {"gyrometer_22_y", GW_TYPE_FLOAT, -2.0},
        {"gyrometer_22_z", GW_TYPE_FLOAT, 0},    {"colour_23", GW_TYPE_STRING, 0},
        {"gps_24_latitude", GW_TYPE_FLOAT, 0.0001}, {"gps_24_longitude", GW_TYPE_FLOAT, -0.0001},
        {"gps_24_altitude", GW_TYPE_FLOAT, 1.0}, {"on_off_25", GW_TYPE_BOOLEAN, 1},
    };
    for (int i = 0; i < o.n && i < 32; i++) {
        CHECK_EQ_STR(o.name[i], want[i].name);
        CHECK_EQ_INT(o.v[i].type, want[i].type);
        if (want[i].type != GW_TYPE_STRING && pt_num(&o, i) != want[i].v)
            fprintf(stderr, "  %s: %.17g, expected %.17g\n", o.name[i], pt_num(&o, i), want[i].v),
                gwt_failed_checks++;
    }
    CHECK_EQ_STR(o.str[27], "#FF8000");
    gw_payload_free(&c);
}

GW_TEST(test_malformed_emits_nothing)
{
    gw_payload_codec_t *c = lpp();
    const struct {
        uint8_t b[8];
        size_t n;
        const char *why;
    } bad[] = {
        {{0x03, 0x67, 0x01, 0x10, 0x05, 0x67, 0x00}, 7, "needs 2 bytes, 1 left"},
        {{0x03}, 1, "1 byte left"},
        {{0x03, 0x67, 0x01, 0x10, 0x05, 0x07, 0x00}, 7, "unknown type 7"},
        {{0x01, 0x88, 0x06}, 3, "needs 9 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_fields_t o = {0};
        char msg[128] = "";
        CHECK_EQ_INT(gw_payload_decode(c, 1, bad[i].b, bad[i].n, pt_emit, &o, msg, sizeof msg),
                     -EBADMSG);
        CHECK_EQ_INT(o.n, 0);
        CHECK(strstr(msg, bad[i].why) != NULL);
    }
    pt_fields_t o = {0};
    CHECK_EQ_INT(gw_payload_decode(c, 1, NULL, 0, pt_emit, &o, NULL, 0), 0);
    CHECK_EQ_INT(o.n, 0);
    gw_payload_free(&c);
}

static int encode(gw_payload_codec_t *c, const char *field, gw_value_t v, uint8_t *out,
                  size_t *n, unsigned *fport)
{
    return gw_payload_encode(c, field, &v, fport, out, 16, n, NULL, 0);
}

GW_TEST(test_encode_outputs_round_trip)
{
    pt_diags_t d;
    gw_payload_codec_t *c = pt_parse("codec = { type = \"lpp\"; downlink_fport = 99; };", &d, NULL);
    CHECK(c != NULL);
    uint8_t b[16];
    size_t n = 0;
    unsigned fp = 0;
    gw_value_t on = {.type = GW_TYPE_BOOLEAN, .v.b = true};
    CHECK_EQ_INT(encode(c, "digital_output_4", on, b, &n, &fp), 0);
    CHECK_EQ_MEM(b, n, "\x04\x01\x01", 3);
    CHECK_EQ_INT(fp, 99);
    /* 1.005 * 100 is 100.49999999999999 in binary: the encoder rounds the
     * decimal value the user wrote, half away from zero, never truncates. */
    const struct {
        double in;
        uint8_t hi, lo;
        double back;
    } a[] = {{12.345, 0x04, 0xD3, 12.35}, {-1.236, 0xFF, 0x84, -1.24}, {0.004, 0, 0, 0},
             {0.006, 0, 1, 0.01}, {327.67, 0x7F, 0xFF, 327.67}, {-327.68, 0x80, 0x00, -327.68}};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = a[i].in};
        CHECK_EQ_INT(encode(c, "analog_output_2", v, b, &n, &fp), 0);
        CHECK_EQ_INT(n, 4);
        CHECK(b[0] == 2 && b[1] == 3 && b[2] == a[i].hi && b[3] == a[i].lo);
        pt_fields_t o = {0};
        CHECK_EQ_INT(gw_payload_decode(c, 1, b, n, pt_emit, &o, NULL, 0), 0);
        CHECK(o.n == 1 && pt_num(&o, 0) == a[i].back);
    }
    gw_value_t big = {.type = GW_TYPE_FLOAT, .v.f = 327.676};
    CHECK_EQ_INT(encode(c, "analog_output_2", big, b, &n, &fp), -ERANGE);
    gw_value_t nan = {.type = GW_TYPE_FLOAT, .v.f = NAN};
    CHECK_EQ_INT(encode(c, "analog_output_2", nan, b, &n, &fp), -EINVAL);
    gw_value_t s = {.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"x", 1}};
    CHECK_EQ_INT(encode(c, "digital_output_1", s, b, &n, &fp), -EINVAL);
    gw_value_t i300 = {.type = GW_TYPE_INTEGER, .v.i = 300};
    CHECK_EQ_INT(encode(c, "digital_output_1", i300, b, &n, &fp), -ERANGE);
    CHECK_EQ_INT(encode(c, "temperature_1", on, b, &n, &fp), -ENOENT);
    CHECK_EQ_INT(encode(c, "digital_output_256", on, b, &n, &fp), -ENOENT);
    CHECK_EQ_INT(encode(c, "digital_output_01", on, b, &n, &fp), -ENOENT);
    CHECK_EQ_INT(gw_payload_encode(c, "digital_output_1", &on, &fp, b, 2, &n, NULL, 0), -ENOSPC);
    gw_payload_free(&c);
}

GW_TEST(test_declared_channels)
{
    pt_diags_t d;
    gw_payload_codec_t *c = pt_parse(
        "codec = { type = \"lpp\";\n"
        "  channels = ( { channel = 3; type = \"temperature\"; },\n"
        "               { channel = 1; type = \"gps\"; },\n"
        "               { channel = 4; type = \"analog_output\"; } ); };",
        &d, NULL);
    CHECK(c != NULL);
    gw_field_decl_t *decls = NULL;
    size_t n = 0;
    CHECK_EQ_INT(gw_payload_declare(c, &decls, &n), 0);
    CHECK_EQ_INT(n, 5);
    char p[24];
    CHECK_EQ_STR(decls[0].field, "temperature_3");
    CHECK_EQ_STR(gw_path_format(&decls[0].path, p, sizeof p), "/3303/3/5700");
    CHECK_EQ_STR(decls[0].unit, "Cel");
    CHECK_EQ_INT(decls[0].line, 2);
    CHECK_EQ_STR(gw_path_format(&decls[1].path, p, sizeof p), "/3336/1/6051");
    CHECK_EQ_STR(gw_path_format(&decls[3].path, p, sizeof p), "/6/0/2");
    CHECK_EQ_STR(decls[4].field, "analog_output_4");
    CHECK_EQ_STR(gw_path_format(&decls[4].path, p, sizeof p), "/3203/4/5650");
    CHECK(decls[4].writable && !decls[0].writable);
    gw_field_decls_free(&decls, &n);
    uint64_t h1 = GW_FNV_OFFSET, h2 = GW_FNV_OFFSET;
    gw_payload_fingerprint(c, &h1);
    gw_payload_codec_t *c2 = lpp();
    gw_payload_fingerprint(c2, &h2);
    CHECK(h1 != h2);
    gw_payload_codec_t *r = gw_payload_ref(c);
    gw_payload_free(&c);
    CHECK_EQ_INT(gw_payload_kind(r), GW_PAYLOAD_LPP);
    gw_payload_free(&r);
    gw_payload_free(&c2);
}

GW_TEST(test_config_errors)
{
    pt_diags_t d;
    gw_payload_codec_t *c = pt_parse(
        "codec = { type = \"lpp\";\n"
        "  channels = ( { channel = 300; type = \"temperature\"; },\n"
        "               { channel = 1; type = \"temprature\"; },\n"
        "               { channel = 2; type = \"humidity\"; chanel = 3; } );\n"
        "  downlink_fport = 0; };",
        &d, NULL);
    CHECK(c == NULL);
    CHECK(strstr(d.text, "t.conf:2: channel 300 is out of range, expected an integer (LPP "
                         "channel, 0..255)") != NULL);
    CHECK(strstr(d.text, "t.conf:3: devices[0].codec.channels[1]: unknown LPP type \"temprature\", "
                         "did you mean \"temperature\"?") != NULL);
    CHECK(strstr(d.text, "t.conf:4:") && strstr(d.text, "chanel"));
    CHECK(strstr(d.text, "t.conf:5: downlink_fport 0 is out of range") != NULL);
    c = pt_parse("codec = { type = \"lp\"; };", &d, NULL);
    CHECK(c == NULL && strstr(d.text, "unknown codec type \"lp\", did you mean \"lpp\"?"));
    c = pt_parse("codec = \"js\";", &d, NULL);
    CHECK(c == NULL && strstr(d.text, "t.conf:1:"));
    c = pt_parse("codec = 3;", &d, NULL);
    CHECK(c == NULL && strstr(d.text, "expected a group"));
}

GW_TEST_MAIN(test_published_vectors, test_every_type, test_malformed_emits_nothing,
             test_encode_outputs_round_trip, test_declared_channels, test_config_errors)
