/* tests/unit/lwm2m/test_value.c - paths, buffers, values as text. */
#include <errno.h>
#include <stdint.h>

#include "gwtest.h"
#include "lwm2m/value.h"

GW_TEST(path_parse_and_format)
{
    static const struct {
        const char *in;
        int len;
        const char *out;
    } ok[] = {
        {"/3/0/1", 3, "/3/0/1"}, {"3/0/1", 3, "/3/0/1"}, {"/", 0, "/"},
        {"", 0, "/"},            {"/65534/65534/65534/65534", 4, "/65534/65534/65534/65534"},
        {"/0", 1, "/0"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        gw_path_t p;
        char buf[32];
        CHECK_EQ_INT(gw_path_parse(ok[i].in, &p), 0);
        CHECK_EQ_INT(p.len, ok[i].len);
        CHECK_EQ_STR(gw_path_format(&p, buf, sizeof buf), ok[i].out);
    }
    static const char *const bad[] = {"/3/", "//", "/3//0", "/65535", "/3/0/1/2/5", "/a",
                                      "/3/0x1", "/-1",  "/3 ",   "/01",   "/99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_path_t p;
        CHECK_EQ_INT(gw_path_parse(bad[i], &p), -EINVAL);
    }
    CHECK_EQ_INT(gw_path_parse(NULL, NULL), -EINVAL);
    /* A short buffer truncates, never overflows. */
    gw_path_t p = gw_path_make(65534, 65534, 65534, 65534);
    char small[8];
    gw_path_format(&p, small, sizeof small);
    CHECK(strlen(small) < sizeof small);
}

GW_TEST(path_make_cmp_prefix)
{
    gw_path_t a = gw_path_make(3, 0, GW_ID_NONE, GW_ID_NONE);
    gw_path_t b = gw_path_make(3, 0, 1, GW_ID_NONE);
    gw_path_t c = gw_path_make(3, 0, 1, 2);
    gw_path_t d = gw_path_make(3, 1, GW_ID_NONE, GW_ID_NONE);
    gw_path_t root = gw_path_make(GW_ID_NONE, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE);
    CHECK_EQ_INT(a.len, 2);
    CHECK_EQ_INT(c.len, 4);
    CHECK_EQ_INT(root.len, 0);
    CHECK(gw_path_cmp(&a, &b) < 0);
    CHECK(gw_path_cmp(&b, &c) < 0);
    CHECK(gw_path_cmp(&c, &d) < 0);
    CHECK(gw_path_cmp(&d, &a) > 0);
    CHECK_EQ_INT(gw_path_cmp(&c, &c), 0);
    CHECK(gw_path_cmp(&root, &a) < 0);
    CHECK(gw_path_has_prefix(&c, &a));
    CHECK(gw_path_has_prefix(&a, &a));
    CHECK(gw_path_has_prefix(&a, &root));
    CHECK(!gw_path_has_prefix(&a, &c));
    CHECK(!gw_path_has_prefix(&d, &a));
    /* Make stops at the first absent level. */
    gw_path_t gap = gw_path_make(3, GW_ID_NONE, 5, GW_ID_NONE);
    CHECK_EQ_INT(gap.len, 1);
}

GW_TEST(buffers)
{
    gw_buf_t b = {0};
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(gw_buf_appendf(&b, "%d,", i), 0);
    CHECK(b.len > 3000);
    CHECK(memcmp(b.data, "0,1,2,", 6) == 0);
    CHECK_EQ_INT(gw_buf_append(&b, NULL, 0), 0);
    size_t len = b.len;
    CHECK_EQ_INT(gw_buf_append(&b, "xyz", 3), 0);
    CHECK_EQ_INT(b.len, len + 3);
    CHECK_EQ_INT(gw_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    gw_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    gw_buf_free(&b);
}

static const char *to_text(gw_value_t v, gw_buf_t *b)
{
    b->len = 0;
    if (gw_value_to_text(&v, b) || gw_buf_append(b, "", 1))
        return "(error)";
    return (const char *)b->data;
}

GW_TEST(value_to_text)
{
    gw_buf_t b = {0};
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 21.5}, &b), "21.5");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 0.1}, &b), "0.1");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1e300}, &b), "1e+300");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = -0.5}, &b), "-0.5");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 100}, &b), "100");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1e16}, &b), "10000000000000000");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1e17}, &b), "1e+17");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = -2500}, &b), "-2500");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1e-7}, &b), "1e-07");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1.0 / 3}, &b),
                 "0.3333333333333333");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_INTEGER, .v.i = INT64_MIN}, &b),
                 "-9223372036854775808");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX}, &b),
                 "18446744073709551615");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_TIME, .v.i = 1367491215}, &b), "1367491215");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = true}, &b), "1");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = false}, &b), "0");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_OBJLNK, .v.objlnk = {3, 0}}, &b), "3:0");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_STRING,
                                      .v.bytes = {(const uint8_t *)"abc", 2}},
                         &b),
                 "ab");
    CHECK_EQ_STR(to_text((gw_value_t){.type = GW_TYPE_OPAQUE,
                                      .v.bytes = {(const uint8_t *)"foob", 4}},
                         &b),
                 "Zm9vYg==");
    b.len = 0;
    gw_value_t inf = {.type = GW_TYPE_FLOAT, .v.f = INFINITY};
    gw_value_t nan_ = {.type = GW_TYPE_FLOAT, .v.f = NAN};
    gw_value_t none = {.type = GW_TYPE_NONE};
    CHECK_EQ_INT(gw_value_to_text(&inf, &b), -EINVAL);
    CHECK_EQ_INT(gw_value_to_text(&nan_, &b), -EINVAL);
    CHECK_EQ_INT(gw_value_to_text(&none, &b), -EINVAL);
    gw_buf_free(&b);
}

GW_TEST(value_from_text)
{
    gw_value_t v;
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "-9223372036854775808", 20, &v), 0);
    CHECK(v.v.i == INT64_MIN);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "9223372036854775807", 19, &v), 0);
    CHECK(v.v.i == INT64_MAX);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "+5", 2, &v), 0);
    CHECK_EQ_INT(v.v.i, 5);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "9223372036854775808", 19, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "-9223372036854775809", 20, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "12x", 3, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "-", 1, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "", 0, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "1.0", 3, &v), -EINVAL);
    /* len bounds the text: the "9" after it is not read. */
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_INTEGER, "129", 2, &v), 0);
    CHECK_EQ_INT(v.v.i, 12);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_UNSIGNED, "18446744073709551615", 20, &v), 0);
    CHECK(v.v.u == UINT64_MAX);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_UNSIGNED, "18446744073709551616", 20, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_UNSIGNED, "-1", 2, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_FLOAT, "21.5", 4, &v), 0);
    CHECK(v.v.f == 21.5);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_FLOAT, "-1e-3", 5, &v), 0);
    CHECK(v.v.f == -1e-3);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_FLOAT, "inf", 3, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_FLOAT, "1e400", 5, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_FLOAT, "1.5.", 4, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_FLOAT, "", 0, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_BOOLEAN, "true", 4, &v), 0);
    CHECK(v.v.b);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_BOOLEAN, "0", 1, &v), 0);
    CHECK(!v.v.b);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_BOOLEAN, "yes", 3, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_OBJLNK, "65535:0", 7, &v), 0);
    CHECK_EQ_INT(v.v.objlnk.oid, 65535);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_OBJLNK, "3:", 2, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_OBJLNK, "3:0:1", 5, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_STRING, "abc", 3, &v), 0);
    CHECK_EQ_INT(v.v.bytes.len, 3);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_OPAQUE, "abc", 3, &v), -EINVAL);
    CHECK_EQ_INT(gw_value_from_text(GW_TYPE_NONE, "", 0, &v), -EINVAL);
}

GW_TEST(float_text_round_trips)
{
    /* Shortest text must read back bit for bit, for a spread of doubles. */
    uint64_t x = 88172645463325252ull;
    gw_buf_t b = {0};
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = d}, back;
        b.len = 0;
        CHECK_EQ_INT(gw_value_to_text(&v, &b), 0);
        CHECK_EQ_INT(gw_value_from_text(GW_TYPE_FLOAT, (const char *)b.data, b.len, &back), 0);
        CHECK(memcmp(&back.v.f, &d, sizeof d) == 0);
    }
    gw_buf_free(&b);
}

GW_TEST(type_names)
{
    CHECK_EQ_STR(gw_type_name(GW_TYPE_UNSIGNED), "Unsigned Integer");
    CHECK_EQ_STR(gw_type_name(GW_TYPE_OBJLNK), "Objlnk");
    CHECK_EQ_STR(gw_type_name(GW_TYPE_CORELNK), "Corelnk");
    CHECK_EQ_STR(gw_type_name(GW_TYPE_TIME), "Time");
    CHECK_EQ_STR(gw_type_name((gw_type_t)99), "unknown");
}

GW_TEST_MAIN(path_parse_and_format, path_make_cmp_prefix, buffers, value_to_text, value_from_text,
             float_text_round_trips, type_names)
