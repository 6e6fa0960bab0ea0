/* tests/unit/lwm2m/test_senml_json.c - SenML JSON encoder and decoder. */
#include "gwtest.h"
#include "codec_fixture.h"

/* Read of /3/0 as SenML JSON, OMA LwM2M 1.1 Core TS 7.4.5 example (the
 * spec prints it with line breaks; bytes here are without whitespace). */
static const char spec_example[] =
    "[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open Mobile Alliance\"},"
    "{\"n\":\"1\",\"vs\":\"Lightweight M2M Client\"},"
    "{\"n\":\"2\",\"vs\":\"345000123\"},"
    "{\"n\":\"3\",\"vs\":\"1.0\"},"
    "{\"n\":\"6/0\",\"v\":1},"
    "{\"n\":\"6/1\",\"v\":5},"
    "{\"n\":\"7/0\",\"v\":3800},"
    "{\"n\":\"7/1\",\"v\":5000},"
    "{\"n\":\"8/0\",\"v\":125},"
    "{\"n\":\"8/1\",\"v\":900},"
    "{\"n\":\"9\",\"v\":100},"
    "{\"n\":\"10\",\"v\":15},"
    "{\"n\":\"11/0\",\"v\":0},"
    "{\"n\":\"13\",\"v\":1367491215},"
    "{\"n\":\"14\",\"vs\":\"+02:00\"},"
    "{\"n\":\"16\",\"vs\":\"U\"}]";

static gw_path_t P(const char *s)
{
    gw_path_t p = {{0}, 0};
    CHECK_EQ_INT(gw_path_parse(s, &p), 0);
    return p;
}

static int decode(const char *base, const char *json, gw_decoded_t *d)
{
    gw_path_t b = P(base);
    memset(d, 0, sizeof *d);
    return gw_senml_json_decode(&b, (const uint8_t *)json, strlen(json), fx_lookup, NULL, d);
}

static int fails(const char *base, const char *json, int want)
{
    gw_path_t b = P(base);
    return fx_decode_fails(GW_CF_SENML_JSON, &b, json, strlen(json), want);
}

GW_TEST(spec_example_encodes_exactly)
{
    gw_record_t recs[32];
    size_t n = fx_device_records(recs);
    gw_path_t base = P("/3/0");
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_senml_json_encode(&base, recs, n, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, spec_example, strlen(spec_example));
    gw_buf_free(&b);
}

GW_TEST(spec_example_decodes)
{
    gw_record_t want[32];
    size_t nw = fx_device_records(want);
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/3/0", spec_example, &d), 0);
    CHECK(fx_recs_eq(want, nw, d.recs, d.n));
    gw_decoded_free(&d);
    /* The same at object level and at the root (Write-Composite). */
    CHECK_EQ_INT(decode("/3", spec_example, &d), 0);
    CHECK_EQ_INT(d.n, nw);
    gw_decoded_free(&d);
    CHECK_EQ_INT(decode("/", spec_example, &d), 0);
    CHECK_EQ_INT(d.n, nw);
    gw_decoded_free(&d);
    CHECK_EQ_INT(decode("/3/1", spec_example, &d), -EINVAL);
    CHECK(d.error[0]);
    gw_decoded_free(&d);
}

GW_TEST(single_resource_uses_bn_only)
{
    gw_path_t base = P("/3/0/9");
    gw_record_t r = fx_rec(base, fx_int(100));
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_senml_json_encode(&base, &r, 1, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, "[{\"bn\":\"/3/0/9\",\"v\":100}]", strlen("[{\"bn\":\"/3/0/9\",\"v\":100}]"));
    gw_buf_free(&b);
    gw_path_t root = P("/");
    CHECK_EQ_INT(gw_senml_json_encode(&root, &r, 1, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, "[{\"bn\":\"/\",\"n\":\"3/0/9\",\"v\":100}]", strlen("[{\"bn\":\"/\",\"n\":\"3/0/9\",\"v\":100}]"));
    gw_buf_free(&b);
}

GW_TEST(every_type_round_trips)
{
    gw_record_t all[64];
    size_t n = fx_all_values(all, 64);
    gw_path_t inst = P("/9999/0");
    for (size_t i = 0; i < n; i++) {
        CHECK(fx_roundtrip(GW_CF_SENML_JSON, &inst, &all[i], 1));
        CHECK(fx_roundtrip(GW_CF_SENML_JSON, &all[i].path, &all[i], 1));
        gw_record_t t = all[i];
        t.has_time = true;
        t.time = 1700000000.25;
        CHECK(fx_roundtrip(GW_CF_SENML_JSON, &inst, &t, 1));
    }
}

GW_TEST(base_time_and_names)
{
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/", "[{\"bn\":\"/9999/0/\",\"bt\":1000,\"n\":\"5\",\"v\":1,\"t\":-5},"
                             "{\"n\":\"0\",\"v\":2.5},{\"bn\":\"/3/0/9\",\"bt\":0,\"v\":7}]",
                        &d),
                 0);
    CHECK_EQ_INT(d.n, 3);
    if (d.n == 3) {
        CHECK(d.recs[0].has_time);
        CHECK_NEAR(d.recs[0].time, 995, 0);
        CHECK_NEAR(d.recs[1].time, 1000, 0);
        CHECK_EQ_INT(d.recs[1].value.type, GW_TYPE_FLOAT);
        CHECK(!d.recs[2].has_time);
        CHECK_EQ_INT(d.recs[2].path.len, 3);
        CHECK_EQ_INT(d.recs[2].value.v.i, 7);
    }
    gw_decoded_free(&d);
}

GW_TEST(records_without_value_are_none)
{
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/", "[{\"n\":\"/3/0/1\"},{\"n\":\"/3/0\"},{\"n\":\"/1\"}]", &d), 0);
    CHECK_EQ_INT(d.n, 3);
    if (d.n == 3) {
        CHECK_EQ_INT(d.recs[0].value.type, GW_TYPE_NONE);
        CHECK_EQ_INT(d.recs[1].path.len, 2);
        CHECK_EQ_INT(d.recs[2].path.len, 1);
    }
    gw_decoded_free(&d);
    /* Encoding them back gives names only. */
    gw_record_t r[2] = {fx_rec(P("/3/0/1"), (gw_value_t){.type = GW_TYPE_NONE}),
                        fx_rec(P("/5/0/3"), (gw_value_t){.type = GW_TYPE_NONE})};
    gw_path_t root = P("/");
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_senml_json_encode(&root, r, 2, &b), 0);
    CHECK_EQ_MEM(b.data, b.len, "[{\"bn\":\"/\",\"n\":\"3/0/1\"},{\"n\":\"5/0/3\"}]", strlen("[{\"bn\":\"/\",\"n\":\"3/0/1\"},{\"n\":\"5/0/3\"}]"));
    gw_buf_free(&b);
}

GW_TEST(integer_rules)
{
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":-9223372036854775808},"
                                   "{\"n\":\"/9999/0/4\",\"v\":18446744073709551615},"
                                   "{\"n\":\"/9999/0/5\",\"v\":1e3},"
                                   "{\"n\":\"/9999/0/5\",\"v\":12.0}]",
                        &d),
                 0);
    CHECK_EQ_INT(d.n, 4);
    if (d.n == 4) {
        CHECK(d.recs[0].value.v.i == INT64_MIN);
        CHECK(d.recs[1].value.v.u == UINT64_MAX);
        CHECK_EQ_INT(d.recs[2].value.v.i, 1000);
        CHECK_EQ_INT(d.recs[3].value.v.i, 12);
    }
    gw_decoded_free(&d);
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1.5}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":9223372036854775808}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1e300}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/0\",\"v\":-1e999}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/0\",\"v\":1,\"t\":1e999}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/4\",\"v\":-1}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/4\",\"v\":18446744073709551616}]", -EINVAL));
}

GW_TEST(bad_input)
{
    CHECK(fails("/3/0", "", -EINVAL));
    CHECK(fails("/3/0", "[", -EINVAL));
    CHECK(fails("/3/0", "[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"x\"}", -EINVAL));
    CHECK(fails("/3/0", "[{\"n\":\"/3/0/0\",\"vs\":\"x\"}] x", -EINVAL));
    CHECK(fails("/3/0", "{\"n\":\"/3/0/0\",\"vs\":\"x\"}", -EINVAL));
    CHECK(fails("/3/0", "[1]", -EINVAL));
    CHECK(fails("/3/0", "[{\"n\":\"/3/0/0\",\"vs\":[1]}]", -EINVAL));
    CHECK(fails("/3/0", "[{\"n\":\"/3/0/0\",\"v\":1}]", -EINVAL));   /* v for a String */
    CHECK(fails("/3/0", "[{\"n\":\"/3/0/9\",\"vs\":\"1\"}]", -EINVAL)); /* vs for an Integer */
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/0\",\"vs\":\"1.5\"}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/1\",\"v\":1}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/2\",\"vd\":\"***\"}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/3\",\"vlo\":\"3\"}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/20\",\"v\":1}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1,\"vs\":\"1\"}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1,\"x_\":1}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/1/5\",\"v\":1}]", -EINVAL)); /* outside base */
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0\",\"v\":1}]", -EINVAL));   /* not a resource */
    CHECK(fails("/9999/0", "[{\"n\":\"9999/0/x\",\"v\":1}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"v\":1}]", -EINVAL));                     /* no name */
    CHECK(fails("/9999/0", "[{\"n\":5,\"v\":1}]", -EINVAL));
    CHECK(fails("/9999/0", "[{\"n\":\"/9999/0/99\",\"v\":1}]", -ENOENT));
    CHECK(fails("/9999/0", "[{\"bn\":\"/9999/0/\",\"n\":\"5\",\"v\":1},{\"n\":\"/1\",\"v\":1}]",
                -EINVAL));
    /* An unknown plain label is ignored. */
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1,\"u\":\"Cel\"}]", &d), 0);
    gw_decoded_free(&d);
    /* Very deep nesting is refused without a crash. */
    char deep[5000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    CHECK(fails("/3/0", deep, -EINVAL));
}

GW_TEST(encoder_rejects_bad_input)
{
    gw_path_t base = P("/9999/0");
    gw_buf_t b = {0};
    gw_record_t inf = fx_rec(P("/9999/0/0"), (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = INFINITY});
    gw_record_t out = fx_rec(P("/9999/1/0"), fx_int(1));
    CHECK_EQ_INT(gw_senml_json_encode(&base, &inf, 1, &b), -EINVAL);
    CHECK_EQ_INT(gw_senml_json_encode(&base, &out, 1, &b), -EINVAL);
    CHECK_EQ_INT(b.len, 0);
    gw_buf_free(&b);
}

GW_TEST_MAIN(spec_example_encodes_exactly, spec_example_decodes, single_resource_uses_bn_only,
             every_type_round_trips, base_time_and_names, records_without_value_are_none,
             integer_rules, bad_input, encoder_rejects_bad_input)
