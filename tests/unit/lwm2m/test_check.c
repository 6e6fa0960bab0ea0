/* tests/unit/lwm2m/test_check.c - values from outside are checked before they
 * are stored: every codec, the registry's ranges, the Server object's rules,
 * Write-Attributes values and relations, Execute arguments, the store. */
#include "gwtest.h"
#include "codec_fixture.h"

#include "lwm2m/check.h"
#include "lwm2m/lwm2m_internal.h"
#include "lwm2m/store.h"

#include <errno.h>
#include <stdint.h>

static gw_path_t P(const char *s)
{
    gw_path_t p = {{0}, 0};
    CHECK_EQ_INT(gw_path_parse(s, &p), 0);
    return p;
}

#define BYTES(s) (const uint8_t *)(s), sizeof(s) - 1
#define TB(s) (s), sizeof(s) - 1

GW_TEST(utf8)
{
    static const struct {
        const char *s;
        size_t len;
        bool ok;
    } cases[] = {
        {"", 0, true},
        {"plain ASCII ~\x7f", 14, true},
        {"\xc3\xa9", 2, true},                 /* U+00E9 */
        {"\xe2\x82\xac", 3, true},             /* U+20AC */
        {"\xef\xbf\xbd", 3, true},             /* U+FFFD */
        {"\xf0\x9f\x98\x80", 4, true},         /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, true},         /* U+10FFFF, the last one */
        {"\xc3\xa9\xff", 3, false},            /* the case */
        {"\xff", 1, false},
        {"\x80", 1, false},                    /* a lone continuation */
        {"\xc3", 1, false},                    /* truncated */
        {"\xe2\x82", 2, false},
        {"\xc0\xaf", 2, false},                /* overlong '/' */
        {"\xc1\xbf", 2, false},
        {"\xe0\x9f\xbf", 3, false},            /* overlong below U+0800 */
        {"\xed\xa0\x80", 3, false},            /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, false},            /* surrogate U+DFFF */
        {"\xf0\x8f\xbf\xbf", 4, false},        /* overlong below U+10000 */
        {"\xf4\x90\x80\x80", 4, false},        /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, false},
        {"\xe2\x28\xa1", 3, false},            /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = gw_utf8_valid((const uint8_t *)cases[i].s, cases[i].len);
        if (got != cases[i].ok)
            fprintf(stderr, "  utf8 case %zu\n", i);
        CHECK(got == cases[i].ok);
    }
}

GW_TEST(value_types)
{
    gw_value_t v = {.type = GW_TYPE_FLOAT};
    char why[128];
    const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        v.v.f = bad[i];
        CHECK_EQ_INT(gw_value_check(&v, why, sizeof why), -EINVAL);
    }
    CHECK(strstr(why, "finite") != NULL);
    const double good[] = {0.0, -0.0, 1.7976931348623157e308, -1.7976931348623157e308, 4.9e-324};
    for (size_t i = 0; i < 5; i++) {
        v.v.f = good[i];
        CHECK_EQ_INT(gw_value_check(&v, why, sizeof why), 0);
    }
    gw_value_t s = {.type = GW_TYPE_STRING, .v.bytes = {BYTES("\xc3\xa9\xff")}};
    CHECK_EQ_INT(gw_value_check(&s, why, sizeof why), -EINVAL);
    CHECK(strstr(why, "UTF-8") != NULL);
    s.v.bytes.ptr = (const uint8_t *)"a\0b";
    CHECK_EQ_INT(gw_value_check(&s, why, sizeof why), -EINVAL);
    CHECK(strstr(why, "NUL") != NULL);
    s.type = GW_TYPE_CORELNK;
    CHECK_EQ_INT(gw_value_check(&s, NULL, 0), -EINVAL);
    s.type = GW_TYPE_OPAQUE; /* any bytes */
    CHECK_EQ_INT(gw_value_check(&s, NULL, 0), 0);
    s.type = GW_TYPE_STRING;
    s.v.bytes.ptr = (const uint8_t *)"caf\xc3\xa9";
    s.v.bytes.len = 5;
    CHECK_EQ_INT(gw_value_check(&s, NULL, 0), 0);
    s.v.bytes.len = 0;
    s.v.bytes.ptr = NULL;
    CHECK_EQ_INT(gw_value_check(&s, NULL, 0), 0);
    gw_value_t i = {.type = GW_TYPE_INTEGER, .v.i = INT64_MIN};
    CHECK_EQ_INT(gw_value_check(&i, NULL, 0), 0);
}

/* Each codec, each way a value can be one no resource may hold. The fixture
 * object 9999: 0 Float, 6 String, 8 Corelnk, 7 Time. */
GW_TEST(every_codec_refuses)
{
    static const struct {
        int cf;
        const char *path;
        const char *p;
        size_t len;
        int rc;
    } cases[] = {
        /* text/plain */
        {GW_CF_TEXT, "/9999/0/0", TB("nan"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/0", TB("inf"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/0", TB("-inf"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/0", TB("1e999"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/0", TB("1.7976931348623157e308"), 0},
        {GW_CF_TEXT, "/9999/0/0", TB("-0"), 0},
        {GW_CF_TEXT, "/9999/0/6", TB("\xc3\xa9\xff"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/6", TB("a\0b"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/6", TB("\xed\xa0\x80"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/6", TB("\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"), 0},
        {GW_CF_TEXT, "/9999/0/6", TB(""), 0},
        {GW_CF_TEXT, "/9999/0/8", TB("</3/0>\xff"), -EINVAL},
        {GW_CF_TEXT, "/9999/0/8", TB("</3/0>"), 0},
        /* TLV: a resource TLV (type 0xC0 | length) with id 0 or 6 */
        {GW_CF_LWM2M_TLV, "/9999/0/0", TB("\xc4\x00\x7f\xc0\x00\x00"), -EINVAL},          /* f32 NaN */
        {GW_CF_LWM2M_TLV, "/9999/0/0", TB("\xc4\x00\xff\x80\x00\x00"), -EINVAL},          /* f32 -Inf */
        {GW_CF_LWM2M_TLV, "/9999/0/0", TB("\xc8\x00\x08\x7f\xf0\0\0\0\0\0\0"), -EINVAL},      /* f64 +Inf */
        {GW_CF_LWM2M_TLV, "/9999/0/0", TB("\xc8\x00\x08\x7f\xf8\0\0\0\0\0\x01"), -EINVAL},    /* f64 NaN */
        {GW_CF_LWM2M_TLV, "/9999/0/0", TB("\xc8\x00\x08\x7f\xef\xff\xff\xff\xff\xff\xff"), 0}, /* max */
        {GW_CF_LWM2M_TLV, "/9999/0/0", TB("\xc4\x00\x7f\x7f\xff\xff"), 0},                 /* f32 max */
        {GW_CF_LWM2M_TLV, "/9999/0/6", TB("\xc3\x06\xc3\xa9\xff"), -EINVAL},
        {GW_CF_LWM2M_TLV, "/9999/0/6", TB("\xc3\x06\x61\x00\x62"), -EINVAL},
        {GW_CF_LWM2M_TLV, "/9999/0/6", TB("\xc2\x06\xc3\xa9"), 0},
        /* a multiple-resource's instance in an instance payload: /9999/0 */
        {GW_CF_LWM2M_TLV, "/9999/0", TB("\xc1\x01\x01\xc4\x00\x7f\xc0\x00\x00"), -EINVAL},
        /* SenML JSON */
        {GW_CF_SENML_JSON, "/9999/0/0", TB("[{\"bn\":\"/9999/0/0\",\"v\":1e999}]"), -EINVAL},
        {GW_CF_SENML_JSON, "/9999/0/0", TB("[{\"bn\":\"/9999/0/0\",\"v\":-1e999}]"), -EINVAL},
        {GW_CF_SENML_JSON, "/9999/0/0", TB("[{\"bn\":\"/9999/0/0\",\"v\":NaN}]"), -EINVAL},
        {GW_CF_SENML_JSON, "/9999/0/0", TB("[{\"bn\":\"/9999/0/0\",\"v\":1.7976931348623157e308}]"), 0},
        {GW_CF_SENML_JSON, "/9999/0/6", TB("[{\"bn\":\"/9999/0/6\",\"vs\":\"\xc3\xa9\xff\"}]"), -EINVAL},
        {GW_CF_SENML_JSON, "/9999/0/6", TB("[{\"bn\":\"/9999/0/6\",\"vs\":\"a\\u0000b\"}]"), -EINVAL},
        {GW_CF_SENML_JSON, "/9999/0/6", TB("[{\"bn\":\"/9999/0/6\",\"vs\":\"\\ud800\"}]"), -EINVAL},
        {GW_CF_SENML_JSON, "/9999/0/6", TB("[{\"bn\":\"/9999/0/6\",\"vs\":\"\\u00e9\\\\u0000\"}]"), 0},
        {GW_CF_SENML_JSON, "/9999/0/6", TB("[{\"bn\":\"/9999/0/6\",\"vs\":\"\xc3\xa9\"}]"), 0},
        {GW_CF_SENML_JSON, "/9999/0/0", TB("[{\"bn\":\"/9999/0/0\",\"bt\":1e308,\"t\":1e308,\"v\":1}]"),
         -EINVAL}, /* bt + t overflows */
        /* SenML CBOR: [{0: name, 2: v}] / {0: name, 3: vs} / {0: name, 6: t, 2: v} */
        {GW_CF_SENML_CBOR, "/9999/0/0", TB("\x81\xa2\x00\x69/9999/0/0\x02\xf9\x7e\x00"), -EINVAL},
        {GW_CF_SENML_CBOR, "/9999/0/0", TB("\x81\xa2\x00\x69/9999/0/0\x02\xf9\x7c\x00"), -EINVAL},
        {GW_CF_SENML_CBOR, "/9999/0/0", TB("\x81\xa2\x00\x69/9999/0/0\x02\xfa\xff\x80\x00\x00"), -EINVAL},
        {GW_CF_SENML_CBOR, "/9999/0/0", TB("\x81\xa2\x00\x69/9999/0/0\x02\xfb\x7f\xf8\0\0\0\0\0\0"), -EINVAL},
        {GW_CF_SENML_CBOR, "/9999/0/0", TB("\x81\xa2\x00\x69/9999/0/0\x02\xfb\x7f\xef\xff\xff\xff\xff\xff\xff"), 0},
        {GW_CF_SENML_CBOR, "/9999/0/0", TB("\x81\xa3\x00\x69/9999/0/0\x06\xf9\x7e\x00\x02\x01"), -EINVAL},
        {GW_CF_SENML_CBOR, "/9999/0/6", TB("\x81\xa2\x00\x69/9999/0/6\x03\x63\xc3\xa9\xff"), -EINVAL},
        {GW_CF_SENML_CBOR, "/9999/0/6", TB("\x81\xa2\x00\x69/9999/0/6\x03\x63\x61\x00\x62"), -EINVAL},
        {GW_CF_SENML_CBOR, "/9999/0/6", TB("\x81\xa2\x00\x69/9999/0/6\x03\x62\xc3\xa9"), 0},
        /* opaque: any bytes are an Opaque value */
        {GW_CF_OPAQUE, "/9999/0/2", TB("\xc3\xa9\xff\x00"), 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gw_path_t base = P(cases[i].path);
        gw_decoded_t d;
        memset(&d, 0, sizeof d);
        int rc = gw_codec_decode(cases[i].cf, &base, (const uint8_t *)cases[i].p, cases[i].len, fx_lookup,
                                 NULL, &d);
        if (rc != cases[i].rc)
            fprintf(stderr, "  codec case %zu (cf %d): rc %d, error \"%s\"\n", i, cases[i].cf, rc, d.error);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc == 0)
            CHECK(d.n >= 1);
        else
            CHECK(d.error[0] != '\0');
        gw_decoded_free(&d);
    }
}

GW_TEST(codec_error_names_the_path)
{
    gw_path_t base = P("/9999/0/6");
    gw_decoded_t d;
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(gw_text_decode(&base, BYTES("\xc3\xa9\xff"), fx_lookup, NULL, &d), -EINVAL);
    CHECK(strstr(d.error, "/9999/0/6") != NULL && strstr(d.error, "UTF-8") != NULL);
    gw_decoded_free(&d);
}

GW_TEST(registry_ranges)
{
#define I(x) {.type = GW_TYPE_INTEGER, .v.i = (x)}
#define U(x) {.type = GW_TYPE_UNSIGNED, .v.u = (x)}
#define F(x) {.type = GW_TYPE_FLOAT, .v.f = (x)}
#define S(n) {.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)big, (n)}}
#define O(n) {.type = GW_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)big, (n)}}
    static char big[300];
    memset(big, 'x', sizeof big);
    const struct {
        const char *range;
        gw_value_t v;
        int rc;
    } cases[] = {
        {"0..100", I(0), 0},
        {"0..100", I(100), 0},
        {"0..100", I(101), -EINVAL},
        {"0..100", I(-1), -EINVAL},
        {"0..100", I(INT64_MIN), -EINVAL},
        {"1..65534", I(65535), -EINVAL},
        {"1..65534", I(0), -EINVAL},
        {"0..65535", U(65535), 0},
        {"0..65535", U(65536), -EINVAL},
        {"0..65535", U(UINT64_MAX), -EINVAL},
        {"0..1", F(0.5), 0},
        {"0..1", F(1.0), 0},
        {"0..1", F(1.0000001), -EINVAL},
        {"-1..1", F(-1.0), 0},
        {"-1..1", F(-1.5), -EINVAL},
        {"1.5..2.5", F(2.5), 0},
        {"1.5..2.5", F(2.6), -EINVAL},
        {" 0 .. 23 ", I(23), 0},
        {" 0 .. 23 ", I(24), -EINVAL},
        {"0,1,5", I(5), 0},
        {"0,1,5", I(3), -EINVAL},
        {"1..3, 7", I(7), 0},
        {"1..3, 7", I(5), -EINVAL},
        /* text the client cannot read as a range constrains nothing */
        {"", I(-99), 0},
        {"255", I(1000), 0},
        {"8-Bits", I(1000), 0},
        {"2 bytes", I(70000), 0},
        {"ON;OFF", F(5), 0},
        {"..5", I(9), 0},
        {"5..1", I(9), 0},
        {"0x10..0x20", I(99), 0},
        {"The possible values are those listed in the LwM2M Core Specification", S(3), 0},
        /* lengths of strings and opaque values */
        {"0..255", S(255), 0},
        {"0..255", S(256), -EINVAL},
        {"0..255 bytes", S(0), 0},
        {"0..255 bytes", S(256), -EINVAL},
        {"32 bytes", S(32), 0},
        {"32 bytes", S(33), -EINVAL},
        {"6", O(6), 0},
        {"6", O(7), -EINVAL},
        {"16,32,48", O(32), 0},
        {"16,32,48", O(20), -EINVAL},
        /* Boolean and Objlnk take no range */
        {"0..0", {.type = GW_TYPE_BOOLEAN, .v.b = true}, 0},
        {"0..0", {.type = GW_TYPE_OBJLNK, .v.objlnk = {3, 0}}, 0},
    };
#undef I
#undef U
#undef F
#undef S
#undef O
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[128] = "";
        int rc = gw_range_check(cases[i].range, &cases[i].v, why, sizeof why);
        if (rc != cases[i].rc)
            fprintf(stderr, "  range case %zu \"%s\": rc %d %s\n", i, cases[i].range, rc, why);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc)
            CHECK(strstr(why, cases[i].range) != NULL);
    }
}

static int check_res(const char *path, gw_value_t v, char *why, size_t size)
{
    gw_path_t p = P(path);
    const gw_objdef_t *o = gw_registry_find(NULL, p.id[0]);
    const gw_resdef_t *d = gw_objdef_find_res(o, p.id[2]);
    CHECK(d != NULL);
    if (!d)
        return -ENOENT;
    why[0] = '\0';
    return gw_value_check_res(d, &p, &v, why, size);
}

GW_TEST(server_object_and_registry_resources)
{
#define I(x) ((gw_value_t){.type = GW_TYPE_INTEGER, .v.i = (x)})
#define F(x) ((gw_value_t){.type = GW_TYPE_FLOAT, .v.f = (x)})
#define STR(s) ((gw_value_t){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)(s), sizeof(s) - 1}})
    const struct {
        const char *path;
        gw_value_t v;
        int rc;
    } cases[] = {
        /* Lifetime: the 0, -5 and 2^32, and the edges */
        {"/1/0/1", I(0), -EINVAL},
        {"/1/0/1", I(-5), -EINVAL},
        {"/1/0/1", I(4294967296LL), -EINVAL},
        {"/1/0/1", I(2147483648LL), -EINVAL},
        {"/1/0/1", I(1), 0},
        {"/1/0/1", I(86400), 0},
        {"/1/0/1", I(2147483647), 0},
        {"/1/0/1", F(60), -EINVAL}, /* wrong type */
        /* default periods and disable timeout: not negative */
        {"/1/0/2", I(-1), -EINVAL},
        {"/1/0/2", I(0), 0},
        {"/1/0/3", I(-1), -EINVAL},
        {"/1/0/3", I(2147483647), 0},
        {"/1/0/5", I(-1), -EINVAL},
        /* Binding */
        {"/1/0/7", STR("ZZZ"), -EINVAL},
        {"/1/0/7", STR(""), -EINVAL},
        {"/1/0/7", STR("u"), -EINVAL},
        {"/1/0/7", STR("UU"), -EINVAL},
        {"/1/0/7", STR("U "), -EINVAL},
        {"/1/0/7", STR("UQX"), -EINVAL},
        {"/1/0/7", STR("U\0"), -EINVAL},
        {"/1/0/7", STR("UTSNQU"), -EINVAL},
        {"/1/0/7", STR("U"), 0},
        {"/1/0/7", STR("UQ"), 0},
        {"/1/0/7", STR("T"), 0},
        {"/1/0/7", STR("NQ"), 0},
        {"/1/0/7", STR("UTSNQ"), 0},
        /* registry ranges of resources a server writes */
        {"/1/0/26", I(2), -EINVAL}, /* Default Notification Mode 0..1 */
        {"/1/0/26", I(1), 0},
        {"/3311/0/5851", I(101), -EINVAL}, /* Dimmer 0..100 */
        {"/3311/0/5851", I(100), 0},
        {"/3203/0/5650", F(1.5), -EINVAL}, /* Analog Output Current Value 0..1 */
        {"/3203/0/5650", F(0.25), 0},
        {"/3203/0/5650", F(NAN), -EINVAL},
        {"/3/0/15", STR("Europe/Paris\xff"), -EINVAL},
        {"/3/0/15", STR("Europe/Paris"), 0},
    };
#undef I
#undef F
#undef STR
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[160];
        int rc = check_res(cases[i].path, cases[i].v, why, sizeof why);
        if (rc != cases[i].rc)
            fprintf(stderr, "  resource case %zu %s: rc %d %s\n", i, cases[i].path, rc, why);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc)
            CHECK(strncmp(why, cases[i].path, strlen(cases[i].path)) == 0);
    }
    char why[160];
    check_res("/1/0/1", (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = 0}, why, sizeof why);
    CHECK_EQ_STR(why, "/1/0/1: lifetime must be 1..2147483647 s, got 0");
    check_res("/1/0/7", (gw_value_t){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"ZZZ", 3}}, why,
              sizeof why);
    CHECK(strstr(why, "/1/0/7: binding must be letters from U, T, S, N, Q") == why && strstr(why, "\"ZZZ\""));
}

GW_TEST(attribute_values)
{
    const struct {
        const char *text;
        bool is_float;
        int rc;
        double want;
    } cases[] = {
        {"21.5", true, 0, 21.5},
        {"-0", true, 0, 0},
        {"-40", true, 0, -40},
        {"1e3", true, 0, 1000},
        {"+5", true, 0, 5},
        {"1.7976931348623157e308", true, 0, 1.7976931348623157e308},
        {"nan", true, -EINVAL, 0},
        {"NaN", true, -EINVAL, 0},
        {"inf", true, -EINVAL, 0},
        {"-inf", true, -EINVAL, 0},
        {"infinity", true, -EINVAL, 0},
        {"1e999", true, -EINVAL, 0},
        {"-1e999", true, -EINVAL, 0},
        {"0x10", true, -EINVAL, 0},
        {" 5", true, -EINVAL, 0},
        {"5 ", true, -EINVAL, 0},
        {"1,5", true, -EINVAL, 0},
        {"", true, -EINVAL, 0},
        {"0", false, 0, 0},
        {"60", false, 0, 60},
        {"2147483647", false, 0, 2147483647.0},
        {"-1", false, -EINVAL, 0},
        {"2147483648", false, -EINVAL, 0},
        {"1.5", false, -EINVAL, 0},
        {"1e3", false, -EINVAL, 0},
        {"nan", false, -EINVAL, 0},
        {"", false, -EINVAL, 0},
        {" 1", false, -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double x = -12345;
        char why[128] = "";
        int rc = gw_attr_value_parse(cases[i].is_float ? "gt" : "pmin", cases[i].text, strlen(cases[i].text),
                                     cases[i].is_float, &x, why, sizeof why);
        if (rc != cases[i].rc)
            fprintf(stderr, "  attribute case %zu \"%s\": rc %d\n", i, cases[i].text, rc);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc == 0)
            CHECK(x == cases[i].want);
        else
            CHECK(strncmp(why, cases[i].is_float ? "gt must be" : "pmin must be", 10) == 0);
    }
}

GW_TEST(attribute_relations)
{
    const struct {
        gw_attrs_t a;
        int rc;
    } cases[] = {
        {{.set = GW_ATTR_PMIN | GW_ATTR_PMAX, .pmin = 10, .pmax = 5}, -EINVAL},
        {{.set = GW_ATTR_PMIN | GW_ATTR_PMAX, .pmin = 5, .pmax = 5}, 0},
        {{.set = GW_ATTR_PMIN | GW_ATTR_PMAX, .pmin = 0, .pmax = 0}, 0},
        {{.set = GW_ATTR_EPMIN | GW_ATTR_EPMAX, .epmin = 3, .epmax = 2}, -EINVAL},
        /* Core 5.1.2: pmax >= pmin, but epmax MUST be greater than epmin */
        {{.set = GW_ATTR_EPMIN | GW_ATTR_EPMAX, .epmin = 2, .epmax = 2}, -EINVAL},
        {{.set = GW_ATTR_EPMIN | GW_ATTR_EPMAX, .epmin = 0, .epmax = 0}, -EINVAL},
        {{.set = GW_ATTR_EPMIN | GW_ATTR_EPMAX, .epmin = 2, .epmax = 3}, 0},
        {{.set = GW_ATTR_PMIN, .pmin = -1}, -EINVAL},
        {{.set = GW_ATTR_EPMAX, .epmax = -1}, -EINVAL},
        {{.set = GW_ATTR_LT | GW_ATTR_GT, .lt = 10, .gt = 10}, -EINVAL},
        {{.set = GW_ATTR_LT | GW_ATTR_GT, .lt = 11, .gt = 10}, -EINVAL},
        {{.set = GW_ATTR_LT | GW_ATTR_GT, .lt = 9.5, .gt = 10}, 0},
        {{.set = GW_ATTR_LT | GW_ATTR_GT | GW_ATTR_ST, .lt = 5, .gt = 10, .st = 2.5}, -EINVAL},
        {{.set = GW_ATTR_LT | GW_ATTR_GT | GW_ATTR_ST, .lt = 5, .gt = 10, .st = 2.4}, 0},
        {{.set = GW_ATTR_LT | GW_ATTR_GT | GW_ATTR_ST, .lt = -1e308, .gt = 1e308, .st = 1e308}, -EINVAL},
        {{.set = GW_ATTR_ST, .st = 0}, -EINVAL},
        {{.set = GW_ATTR_ST, .st = -1}, -EINVAL},
        {{.set = GW_ATTR_ST, .st = 0.001}, 0},
        {{.set = GW_ATTR_GT, .gt = NAN}, -EINVAL},
        {{.set = GW_ATTR_LT, .lt = INFINITY}, -EINVAL},
        {{.set = GW_ATTR_ST, .st = INFINITY}, -EINVAL},
        {{.set = GW_ATTR_GT, .gt = 1}, 0},
        {{.set = 0, .gt = NAN, .pmin = -1}, 0}, /* values of attributes not set are ignored */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[128] = "";
        int rc = gw_attrs_check(&cases[i].a, why, sizeof why);
        if (rc != cases[i].rc)
            fprintf(stderr, "  relation case %zu: rc %d %s\n", i, rc, why);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc)
            CHECK(why[0] != '\0');
    }
}

GW_TEST(execute_arguments)
{
    static const struct {
        const char *s;
        int rc;
    } cases[] = {
        {"", 0},
        {"0", 0},
        {"0,1,9", 0},
        {"0=''", 0},
        {"0='abc'", 0},
        {"0='now',1", 0},
        {"5='!#$%&()*+-./0:;<=>?@[]^_`{|}~'", 0},
        {"0='a b'", -EINVAL},     /* space is not a CHAR (5.4.5) */
        {"0='a\"b'", -EINVAL},
        {"0='a\\b'", -EINVAL},
        {"0='\xc3\xa9'", -EINVAL},
        {"0='\t'", -EINVAL},
        {"0='x", -EINVAL},
        {"0=abc", -EINVAL},
        {"0=", -EINVAL},
        {"a", -EINVAL},
        {"10", -EINVAL},
        {"0,", -EINVAL},
        {",0", -EINVAL},
        {"0='x'1", -EINVAL},
        {"0 ", -EINVAL},
        {"0,0", -EINVAL},
        {"1='a',2,1='b'", -EINVAL},
        {"0,1,2,3,4,5,6,7,8,9", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = gw_exec_args_validate((const uint8_t *)cases[i].s, strlen(cases[i].s));
        if (rc != cases[i].rc)
            fprintf(stderr, "  execute case %zu \"%s\": rc %d\n", i, cases[i].s, rc);
        CHECK_EQ_INT(rc, cases[i].rc);
    }
}

/* The store is the last guard: whatever the writer, such a value is not
 * kept and the old one stays. */
GW_TEST(store_refuses)
{
    gw_registry_t *reg = NULL;
    gw_store_t *st = NULL;
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    CHECK_EQ_INT(gw_store_new(reg, &st), 0);
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    gw_path_t temp = P("/3303/0/5700"), mfr = P("/3/0/0");
    gw_value_t f = {.type = GW_TYPE_FLOAT, .v.f = 21.5}, got;
    CHECK_EQ_INT(gw_store_set(st, c, &temp, &f, 0), 0);
    f.v.f = NAN;
    CHECK_EQ_INT(gw_store_set(st, c, &temp, &f, 0), -EINVAL);
    f.v.f = -INFINITY;
    CHECK_EQ_INT(gw_store_set(st, c, &temp, &f, 0), -EINVAL);
    CHECK_EQ_INT(gw_store_get(c, &temp, &got, NULL), 0);
    CHECK(got.v.f == 21.5);
    gw_value_t s = {.type = GW_TYPE_STRING, .v.bytes = {BYTES("Acme")}};
    CHECK_EQ_INT(gw_store_set(st, c, &mfr, &s, 0), 0);
    s.v.bytes.ptr = (const uint8_t *)"\xc3\xa9\xff";
    s.v.bytes.len = 3;
    CHECK_EQ_INT(gw_store_set(st, c, &mfr, &s, 0), -EINVAL);
    CHECK_EQ_INT(gw_store_get(c, &mfr, &got, NULL), 0);
    CHECK_EQ_MEM(got.v.bytes.ptr, got.v.bytes.len, "Acme", 4);

    gw_attrs_t a = {.set = GW_ATTR_GT, .gt = NAN};
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &temp, &a), -EINVAL);
    a.gt = INFINITY;
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &temp, &a), -EINVAL);
    a = (gw_attrs_t){.set = GW_ATTR_PMIN, .pmin = -1};
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &temp, &a), -EINVAL);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &temp, &a), -ENOENT);
    a = (gw_attrs_t){.set = GW_ATTR_GT, .gt = 30};
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &temp, &a), 0);
    gw_store_client_free(st, &c);
    gw_store_free(&st);
    gw_registry_free(&reg);
}

GW_TEST_MAIN(utf8, value_types, every_codec_refuses, codec_error_names_the_path, registry_ranges,
             server_object_and_registry_resources, attribute_values, attribute_relations, execute_arguments,
             store_refuses)
