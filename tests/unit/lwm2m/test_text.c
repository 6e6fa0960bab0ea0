/* tests/unit/lwm2m/test_text.c - text/plain and opaque codecs, dispatch. */
#include "gwtest.h"
#include "codec_fixture.h"

static gw_path_t P(const char *s)
{
    gw_path_t p = {{0}, 0};
    CHECK_EQ_INT(gw_path_parse(s, &p), 0);
    return p;
}

static int decode_text(const char *path, const char *text, gw_decoded_t *d)
{
    gw_path_t b = P(path);
    memset(d, 0, sizeof *d);
    return gw_text_decode(&b, (const uint8_t *)text, strlen(text), fx_lookup, NULL, d);
}

GW_TEST(text_every_type_round_trips)
{
    gw_record_t all[64];
    size_t n = fx_all_values(all, 64);
    for (size_t i = 0; i < n; i++) {
        CHECK(fx_roundtrip(GW_CF_TEXT, &all[i].path, &all[i], 1));
        gw_record_t ri = all[i];
        ri.path.id[3] = 2;
        ri.path.len = 4;
        CHECK(fx_roundtrip(GW_CF_TEXT, &ri.path, &ri, 1));
    }
}

GW_TEST(text_forms)
{
    struct {
        const char *path;
        gw_value_t v;
        const char *text;
    } cases[] = {
        {"/9999/0/0", {.type = GW_TYPE_FLOAT, .v.f = 21.5}, "21.5"},
        {"/9999/0/0", {.type = GW_TYPE_FLOAT, .v.f = 0.1}, "0.1"},
        {"/9999/0/0", {.type = GW_TYPE_FLOAT, .v.f = -0.5}, "-0.5"},
        {"/9999/0/1", {.type = GW_TYPE_BOOLEAN, .v.b = true}, "1"},
        {"/9999/0/3", {.type = GW_TYPE_OBJLNK, .v.objlnk = {3, 0}}, "3:0"},
        {"/9999/0/4", {.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX}, "18446744073709551615"},
        {"/9999/0/5", {.type = GW_TYPE_INTEGER, .v.i = INT64_MIN}, "-9223372036854775808"},
        {"/9999/0/2", {.type = GW_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"\0\1\2\3", 4}},
         "AAECAw=="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_record_t r = fx_rec(P(cases[i].path), cases[i].v);
        gw_buf_t b = {0};
        CHECK_EQ_INT(gw_text_encode(&r, &b), 0);
        CHECK_EQ_MEM(b.data, b.len, cases[i].text, strlen(cases[i].text));
        gw_buf_free(&b);
    }
    gw_decoded_t d;
    CHECK_EQ_INT(decode_text("/9999/0/1", "true", &d), 0);
    CHECK(d.n == 1 && d.recs[0].value.v.b);
    gw_decoded_free(&d);
    CHECK_EQ_INT(decode_text("/9999/0/2", "AAECAw", &d), 0); /* unpadded */
    CHECK(d.n == 1 && d.recs[0].value.v.bytes.len == 4);
    gw_decoded_free(&d);
    CHECK_EQ_INT(decode_text("/3/0/0", "", &d), 0); /* empty string */
    CHECK(d.n == 1 && d.recs[0].value.v.bytes.len == 0);
    gw_decoded_free(&d);
}

GW_TEST(text_bad_input)
{
    static const char *bad[][2] = {
        {"/3/0/9", ""},          {"/3/0/9", "12a"},        {"/3/0/9", " 12"},
        {"/3/0/9", "9223372036854775808"}, {"/9999/0/4", "-1"}, {"/9999/0/4", "18446744073709551616"},
        {"/9999/0/0", "nan"},    {"/9999/0/0", "1e999"},   {"/9999/0/0", "0x10"},
        {"/9999/0/1", "2"},      {"/9999/0/1", "TRUE"},    {"/9999/0/3", "3"},
        {"/9999/0/3", "3:65536"}, {"/9999/0/3", ":0"},     {"/9999/0/2", "A"},
        {"/9999/0/2", "AA=A"},   {"/9999/0/2", "AB=="},    {"/9999/0/20", "1"},
        {"/3/0", "1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_path_t b = P(bad[i][0]);
        CHECK(fx_decode_fails(GW_CF_TEXT, &b, bad[i][1], strlen(bad[i][1]), -EINVAL));
    }
    gw_path_t unknown = P("/9999/0/99");
    CHECK(fx_decode_fails(GW_CF_TEXT, &unknown, "1", 1, -ENOENT));
}

GW_TEST(opaque_format)
{
    static const uint8_t bin[] = {0, 0xFF, 0, 1};
    gw_path_t p = P("/9999/0/2");
    gw_record_t r = fx_rec(p, fx_str(GW_TYPE_OPAQUE, (const char *)bin, sizeof bin));
    CHECK(fx_roundtrip(GW_CF_OPAQUE, &p, &r, 1));
    gw_record_t empty = fx_rec(p, fx_str(GW_TYPE_OPAQUE, "", 0));
    CHECK(fx_roundtrip(GW_CF_OPAQUE, &p, &empty, 1));
    gw_buf_t b = {0};
    gw_record_t s = fx_rec(P("/3/0/0"), fx_str(GW_TYPE_STRING, "x", 1));
    CHECK_EQ_INT(gw_opaque_encode(&s, &b), -EINVAL);
    gw_buf_free(&b);
    gw_path_t str = P("/3/0/0");
    CHECK(fx_decode_fails(GW_CF_OPAQUE, &str, "x", 1, -EINVAL));
    gw_path_t inst = P("/9999/0");
    CHECK(fx_decode_fails(GW_CF_OPAQUE, &inst, "x", 1, -EINVAL));
}

GW_TEST(dispatch)
{
    gw_path_t p = P("/3/0/9");
    gw_record_t r[2] = {fx_rec(p, fx_int(1)), fx_rec(p, fx_int(2))};
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_codec_encode(GW_CF_LWM2M_JSON, &p, r, 1, &b), -EPROTONOSUPPORT);
    CHECK_EQ_INT(gw_codec_encode(GW_CF_LINK, &p, r, 1, &b), -EPROTONOSUPPORT);
    CHECK_EQ_INT(gw_codec_encode(GW_CF_TEXT, &p, r, 2, &b), -EPROTONOSUPPORT);
    CHECK_EQ_INT(gw_codec_encode(GW_CF_TEXT, &p, r, 1, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, "1", 1);
    gw_buf_free(&b);
    CHECK(fx_decode_fails(GW_CF_LWM2M_JSON, &p, "{}", 2, -EPROTONOSUPPORT));
}

GW_TEST(base64)
{
    /* RFC 4648 section 10 test vectors. */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    gw_buf_t z = {0};
    CHECK_EQ_INT(gw_base64_encode(NULL, 0, false, &z), 0);
    CHECK_EQ_INT(z.len, 0);
    CHECK_EQ_INT(gw_base64_decode("", 0, &z), 0);
    CHECK_EQ_INT(z.len, 0);
    gw_buf_free(&z);
    for (size_t i = 1; i < 7; i++) {
        gw_buf_t b = {0}, d = {0}, e = {0};
        CHECK_EQ_INT(gw_base64_encode((const uint8_t *)in[i], strlen(in[i]), false, &b), 0);
        CHECK_EQ_MEM(b.data, b.len, std[i], strlen(std[i]));
        CHECK_EQ_INT(gw_base64_encode((const uint8_t *)in[i], strlen(in[i]), true, &e), 0);
        CHECK_EQ_MEM(e.data, e.len, url[i], strlen(url[i]));
        CHECK_EQ_INT(gw_base64_decode(std[i], strlen(std[i]), &d), 0);
        CHECK_EQ_MEM(d.data, d.len, in[i], strlen(in[i]));
        d.len = 0;
        CHECK_EQ_INT(gw_base64_decode(url[i], strlen(url[i]), &d), 0);
        CHECK_EQ_MEM(d.data, d.len, in[i], strlen(in[i]));
        gw_buf_free(&b);
        gw_buf_free(&d);
        gw_buf_free(&e);
    }
    gw_buf_t d = {0};
    static const uint8_t fb[] = {0xFB, 0xFF};
    CHECK_EQ_INT(gw_base64_decode("-_8", 3, &d), 0);
    CHECK_EQ_MEM(d.data, d.len, fb, 2);
    d.len = 0;
    CHECK_EQ_INT(gw_base64_decode("+/8=", 4, &d), 0);
    CHECK_EQ_MEM(d.data, d.len, fb, 2);
    CHECK_EQ_INT(gw_base64_decode("Zg=", 3, &d), -EINVAL);
    CHECK_EQ_INT(gw_base64_decode("Z===", 4, &d), -EINVAL);
    CHECK_EQ_INT(gw_base64_decode("Zm 9v", 5, &d), -EINVAL);
    CHECK_EQ_INT(gw_base64_decode("Zh==", 4, &d), -EINVAL);
    gw_buf_free(&d);
}

GW_TEST_MAIN(text_every_type_round_trips, text_forms, text_bad_input, opaque_format, dispatch, base64)
