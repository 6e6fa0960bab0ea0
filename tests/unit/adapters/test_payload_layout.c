/*
 * tests/unit/adapters/test_payload_layout.c - the declarative byte layout:
 * types, endianness, bit fields, scale/add, short payloads, the downlink
 * encoder and the configuration errors --check reports.
 */
#include <errno.h>

#include "gwtest.h"
#include "payload_test.h"

static const char *conf =
    "codec = { type = \"layout\";\n"
    "  uplinks = ( { fport = 2; fields = (\n"
    "    { name = \"temperature\"; offset = 0; length = 2; type = \"int\"; scale = 0.01; unit = \"Cel\"; },\n"
    "    { name = \"humidity\"; offset = 2; length = 1; scale = 0.5; },\n"
    "    { name = \"door\"; offset = 3; bit = 7; type = \"bool\"; },\n"
    "    { name = \"mode\"; offset = 3; bit = 0; bits = 3; },\n"
    "    { name = \"status\"; offset = 3; },\n"
    "    { name = \"counter\"; offset = 4; length = 4; endian = \"little\"; },\n"
    "    { name = \"level\"; offset = 8; length = 4; type = \"float\"; },\n"
    "    { name = \"delta\"; offset = 12; length = 2; bit = 4; bits = 8; type = \"int\"; } ); } );\n"
    "  downlinks = ( { fport = 10; fields = (\n"
    "    { name = \"setpoint\"; offset = 1; length = 2; type = \"int\"; scale = 0.1; add = 5; path = \"/3308/0/5900\"; } ); } );\n"
    "};";

GW_TEST(test_decode)
{
    pt_diags_t d;
    gw_payload_codec_t *c = pt_parse(conf, &d, NULL);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s", d.text);
        return;
    }
    /* -12.34 Cel, 40.5 %, status 0x85, counter 0x01020304 LE, 288.1f BE,
     * delta bits 4..11 of 0x0F80 = 0xF8 = -8 */
    const uint8_t b[] = {0xFB, 0x2E, 81, 0x85, 0x04, 0x03, 0x02, 0x01,
                         0x43, 0x90, 0x0C, 0xCD, 0x0F, 0x80};
    pt_fields_t o = {0};
    CHECK_EQ_INT(gw_payload_decode(c, 2, b, sizeof b, pt_emit, &o, NULL, 0), 0);
    CHECK_EQ_INT(o.n, 8);
    CHECK(o.v[0].type == GW_TYPE_FLOAT && o.v[0].v.f == -12.34 && o.dec[0] == 2);
    CHECK_EQ_STR(o.unit[0], "Cel");
    CHECK(o.v[1].v.f == 40.5);
    CHECK(o.v[2].type == GW_TYPE_BOOLEAN && o.v[2].v.b);
    CHECK(o.v[3].type == GW_TYPE_INTEGER && o.v[3].v.i == 5);
    CHECK(o.v[4].v.i == 0x85);
    CHECK(o.v[5].v.i == 0x01020304);
    CHECK(o.v[6].type == GW_TYPE_FLOAT && o.v[6].v.f == 288.1 && o.dec[6] == 1);
    CHECK(o.v[7].v.i == -8);
    char msg[128];
    o = (pt_fields_t){0};
    CHECK_EQ_INT(gw_payload_decode(c, 2, b, 13, pt_emit, &o, msg, sizeof msg), -EBADMSG);
    CHECK(strstr(msg, "needs at least 14 bytes, got 13") != NULL);
    CHECK_EQ_INT(o.n, 0);
    CHECK_EQ_INT(gw_payload_decode(c, 3, b, sizeof b, pt_emit, &o, msg, sizeof msg), -ENOENT);
    CHECK_EQ_INT(gw_payload_decode(c, 10, b, sizeof b, pt_emit, &o, msg, sizeof msg), -ENOENT);
    gw_payload_free(&c);
}

GW_TEST(test_encode_and_declare)
{
    pt_diags_t d;
    gw_payload_codec_t *c = pt_parse(conf, &d, NULL);
    unsigned fp = 0;
    uint8_t out[8];
    size_t n = 0;
    /* (21.56 - 5) / 0.1 = 165.6 -> 166 (rounded, not cut) */
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = 21.56};
    CHECK_EQ_INT(gw_payload_encode(c, "setpoint", &v, &fp, out, sizeof out, &n, NULL, 0), 0);
    CHECK_EQ_MEM(out, n, "\x00\x00\xA6", 3);
    CHECK_EQ_INT(fp, 10);
    v.v.f = 5000;
    CHECK_EQ_INT(gw_payload_encode(c, "setpoint", &v, &fp, out, sizeof out, &n, NULL, 0), -ERANGE);
    CHECK_EQ_INT(gw_payload_encode(c, "temperature", &v, &fp, out, sizeof out, &n, NULL, 0),
                 -ENOENT);
    gw_field_decl_t *decls = NULL;
    size_t nd = 0;
    CHECK_EQ_INT(gw_payload_declare(c, &decls, &nd), 0);
    CHECK_EQ_INT(nd, 9);
    CHECK(decls[8].writable && decls[8].path.id[0] == 3308 && !decls[0].writable);
    CHECK_EQ_INT(decls[0].line, 3);
    gw_field_decls_free(&decls, &nd);
    gw_payload_free(&c);
}

GW_TEST(test_config_errors)
{
    pt_diags_t d;
    gw_payload_codec_t *c = pt_parse(
        "codec = { type = \"layout\";\n"
        "  uplinks = ( { fport = 2; fields = (\n"
        "    { name = \"a\"; offset = 0; length = 9; },\n"
        "    { name = \"b\"; offset = 0; length = 1; bit = 6; bits = 4; },\n"
        "    { name = \"c\"; offset = 241; length = 2; },\n"
        "    { name = \"d\"; offset = 0; length = 2; type = \"float\"; },\n"
        "    { name = \"e\"; ofset = 0; },\n"
        "    { name = \"f\"; offset = 0; type = \"unit\"; endian = \"middle\"; scale = 0; },\n"
        "    { name = \"a\"; offset = 1; } ); } ); };",
        &d, NULL);
    CHECK(c == NULL);
    CHECK(strstr(d.text, "t.conf:3: length 9 is out of range, expected an integer (bytes, 1..8)"));
    CHECK(strstr(d.text, "t.conf:4: devices[0].codec.uplinks[0].fields[1]: bits 6..9 lie past the "
                         "1 byte(s) of the field"));
    CHECK(strstr(d.text, "t.conf:5: devices[0].codec.uplinks[0].fields[2]: bytes 241..242 lie past "
                         "the largest payload"));
    CHECK(strstr(d.text, "t.conf:6: devices[0].codec.uplinks[0].fields[3]: a float is 2 byte(s) "
                         "long, expected length = 4 or 8"));
    CHECK(strstr(d.text, "t.conf:7:") && strstr(d.text, "did you mean \"offset\""));
    CHECK(strstr(d.text, "unknown type \"unit\", did you mean \"uint\"?"));
    CHECK(strstr(d.text, "endian \"middle\", expected \"big\" or \"little\""));
    CHECK(strstr(d.text, "scale 0, expected a finite number other than 0"));
    CHECK(strstr(d.text, "t.conf:9:") && strstr(d.text, "field \"a\" appears twice"));
    c = pt_parse("codec = { type = \"layout\"; };", &d, NULL);
    CHECK(c == NULL && strstr(d.text, "without uplinks or downlinks"));
}

GW_TEST_MAIN(test_decode, test_encode_and_declare, test_config_errors)
