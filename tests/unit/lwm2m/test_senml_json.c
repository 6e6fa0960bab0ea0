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

/* Fails with want and exactly the message msg. */
static int fails_with(const char *base, const char *json, int want, const char *msg)
{
    gw_path_t b = P(base);
    gw_decoded_t d;
    memset(&d, 0, sizeof d);
    int rc = gw_codec_decode(GW_CF_SENML_JSON, &b, (const uint8_t *)json, strlen(json), fx_lookup,
                             NULL, &d);
    int ok = rc == want && strcmp(d.error, msg) == 0;
    if (!ok)
        fprintf(stderr, "  %s\n  expected %d \"%s\"\n  got      %d \"%s\"\n", json, want, msg, rc,
                d.error);
    gw_decoded_free(&d);
    return ok;
}

/* RFC 8428 4.1: bv is added to each record's "v" (the case: bv 10,
 * v 4 is 14, never 4), exactly for integers, and carries over. */
GW_TEST(base_value_is_added)
{
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/9999/0", "[{\"bn\":\"/9999/0/\",\"bv\":10,\"n\":\"5\",\"v\":4},"
                                   "{\"n\":\"0\",\"v\":1.5},{\"n\":\"6\",\"vs\":\"x\"},"
                                   "{\"n\":\"4\",\"v\":-10}]",
                        &d),
                 0);
    CHECK_EQ_INT(d.n, 4);
    if (d.n == 4) {
        CHECK_EQ_INT(d.recs[0].value.v.i, 14);
        CHECK_NEAR(d.recs[1].value.v.f, 11.5, 0);
        CHECK_EQ_MEM(d.recs[2].value.v.bytes.ptr, d.recs[2].value.v.bytes.len, "x", 1);
        CHECK(d.recs[3].value.v.u == 0);
    }
    gw_decoded_free(&d);
    /* Past 2^53: no double in between. */
    CHECK_EQ_INT(decode("/9999/0", "[{\"bv\":9223372036854775800,\"n\":\"/9999/0/5\",\"v\":7},"
                                   "{\"bv\":18446744073709551610,\"n\":\"/9999/0/4\",\"v\":5},"
                                   "{\"bv\":9223372036854775808,\"n\":\"/9999/0/5\",\"v\":-1}]",
                        &d),
                 0);
    CHECK_EQ_INT(d.n, 3);
    if (d.n == 3) {
        CHECK(d.recs[0].value.v.i == INT64_MAX);
        CHECK(d.recs[1].value.v.u == UINT64_MAX);
        CHECK(d.recs[2].value.v.i == INT64_MAX);
    }
    gw_decoded_free(&d);
    CHECK(fails_with("/9999/0", "[{\"bn\":\"/9999/0/\",\"bv\":0.5,\"n\":\"5\",\"v\":4}]", -EINVAL,
                     "/9999/0/5: number out of range for Integer"));
    CHECK(fails_with("/9999/0", "[{\"bv\":9223372036854775807,\"n\":\"/9999/0/5\",\"v\":1}]",
                     -EINVAL, "/9999/0/5: number out of range for Integer"));
    CHECK(fails_with("/9999/0", "[{\"bv\":\"10\",\"n\":\"/9999/0/5\",\"v\":1}]", -EINVAL,
                     "/9999/0/5: SenML \"bv\" must be a number"));
}

/* RFC 8428 4.4: version 10 is what this client reads; one pack, one version. */
GW_TEST(base_version)
{
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/9999/0", "[{\"bver\":10,\"n\":\"/9999/0/5\",\"v\":1},"
                                   "{\"n\":\"/9999/0/6\",\"vs\":\"a\"}]",
                        &d),
                 0);
    gw_decoded_free(&d);
    CHECK(fails_with("/9999/0", "[{\"bver\":11,\"n\":\"/9999/0/5\",\"v\":1}]", -EINVAL,
                     "/9999/0/5: SenML version 11 is not supported (this client reads up to 10)"));
    CHECK(fails_with("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1,\"bver\":0}]", -EINVAL,
                     "/9999/0/5: SenML \"bver\" must be a positive integer"));
    CHECK(fails_with("/9999/0", "[{\"bver\":10.5,\"n\":\"/9999/0/5\",\"v\":1}]", -EINVAL,
                     "/9999/0/5: SenML \"bver\" must be a positive integer"));
    CHECK(fails_with("/9999/0", "[{\"bver\":9,\"n\":\"/9999/0/5\",\"v\":1},"
                                "{\"bver\":10,\"n\":\"/9999/0/6\",\"vs\":\"a\"}]",
                     -EINVAL, "/9999/0/6: SenML \"bver\" 10 differs from the pack's 9 (RFC 8428 4.4)"));
}

/* Sums have no place in LwM2M; units are the object's: "u" is read past. */
GW_TEST(sum_refused_unit_ignored)
{
    CHECK(fails_with("/9999/0", "[{\"n\":\"/9999/0/5\",\"s\":4}]", -EINVAL,
                     "/9999/0/5: SenML \"s\" (sum) is not used by LwM2M, expected the value in \"v\""));
    CHECK(fails_with("/9999/0", "[{\"bs\":1,\"n\":\"/9999/0/5\",\"v\":4}]", -EINVAL,
                     "/9999/0/5: SenML \"bs\" (sum) is not used by LwM2M, expected the value in \"v\""));
    gw_decoded_t d;
    CHECK_EQ_INT(decode("/9999/0", "[{\"bu\":\"V\",\"n\":\"/9999/0/0\",\"v\":1.5,\"u\":\"Cel\",\"ut\":5}]",
                        &d),
                 0);
    CHECK_EQ_INT(d.n, 1);
    gw_decoded_free(&d);
    CHECK(fails_with("/9999/0", "[{\"n\":\"/9999/0/0\",\"v\":1.5,\"u\":1}]", -EINVAL,
                     "/9999/0/0: SenML \"u\" must be a string"));
}

/* A field or a path twice is refused, never "the last one wins". */
GW_TEST(duplicates_refused)
{
    CHECK(fails_with("/9999/0", "[{\"n\":\"/9999/0/5\",\"n\":\"/9999/0/6\",\"v\":1}]", -EINVAL,
                     "/9999/0/5: SenML label \"n\" twice in one record"));
    CHECK(fails_with("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1,\"v\":2}]", -EINVAL,
                     "/9999/0/5: SenML label \"v\" twice in one record"));
    CHECK(fails_with("/9999/0", "[{\"bn\":\"/9999/0/\",\"bn\":\"/9999/1/\",\"n\":\"5\",\"v\":1}]",
                     -EINVAL, "/9999/0/5: SenML label \"bn\" twice in one record"));
    CHECK(fails_with("/9999/0", "[{\"bn\":\"/9999/0/\",\"n\":\"5\",\"v\":1},{\"n\":\"5\",\"v\":2}]",
                     -EINVAL, "/9999/0/5: two values for one path in one payload, expected each "
                              "resource (instance) once"));
    CHECK(fails_with("/3/0", "[{\"bn\":\"/3/0/\",\"n\":\"7/1\",\"v\":1},{\"n\":\"7/0\",\"v\":1},"
                             "{\"n\":\"7/1\",\"v\":2}]",
                     -EINVAL, "/3/0/7/1: two values for one path in one payload, expected each "
                              "resource (instance) once"));
    /* Names without values (a Read-Composite) may repeat. */
    gw_path_t root = P("/");
    gw_decoded_t d = {0};
    const char *paths = "[{\"n\":\"/3/0\"},{\"n\":\"/3/0\"}]";
    CHECK_EQ_INT(gw_codec_decode(GW_CF_SENML_JSON, &root, (const uint8_t *)paths, strlen(paths),
                                 fx_lookup, NULL, &d),
                 0);
    gw_decoded_free(&d);
}

/* Whatever the order of the labels, a record's problem names its path. */
GW_TEST(diagnostics_name_the_record)
{
    CHECK(fails_with("/9999/0", "[{\"v\":\"x\",\"n\":\"/9999/0/5\"}]", -EINVAL,
                     "/9999/0/5: SenML \"v\" must be a number"));
    CHECK(fails_with("/9999/0", "[{\"vs\":[1,2],\"n\":\"/9999/0/6\",\"t\":1}]", -EINVAL,
                     "/9999/0/6: SenML \"vs\" holds a nested structure"));
    CHECK(fails_with("/9999/0", "[{\"v\":1,\"vs\":\"a\",\"bn\":\"/9999/0/\",\"n\":\"5\"}]", -EINVAL,
                     "/9999/0/5: SenML record with more than one value (\"vs\")"));
    CHECK(fails_with("/9999/0", "[{\"x_\":1,\"n\":\"/9999/0/5\",\"v\":1}]", -EINVAL,
                     "/9999/0/5: SenML label \"x_\" is not supported"));
    CHECK(fails_with("/9999/0", "[{\"v\":1e999,\"n\":\"/9999/0/0\"}]", -EINVAL,
                     "/9999/0/0: SenML JSON: number 1e999 out of range"));
    CHECK(fails_with("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1},{\"v\":2}]", -EINVAL,
                     "SenML record 2: no name (\"bn\" and \"n\" are both empty)"));
    CHECK(fails_with("/9999/0", "[{\"n\":\"/9999/0/5\",\"v\":1},{\"v\":\"x\"}]", -EINVAL,
                     "SenML record 2: SenML \"v\" must be a number"));
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
             integer_rules, bad_input, base_value_is_added, base_version, sum_refused_unit_ignored,
             duplicates_refused, diagnostics_name_the_record, encoder_rejects_bad_input)
