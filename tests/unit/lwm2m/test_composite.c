/* Unit tests for lwm2m/composite.c: Read-Composite and Write-Composite on a
 * virtual client that exists only in the store (no server, no session). */
#include "gwtest.h"

#include "lwm2m/lwm2m_internal.h"
#include "lwm2m/store.h"

#include <errno.h>

#define C(x) COAP_RESPONSE_CODE(x)

static gw_registry_t *reg;
static struct gw_lwm2m m;
static struct gw_vclient *vc;
static struct gw_reg r;
static int refreshes;
static gw_buf_t body; /* the last answer: decoded records point into it */

static void count_refresh(void *ctx, gw_vclient_t *c, const gw_path_t *path)
{
    (void)ctx, (void)c, (void)path;
    refreshes++;
}

static gw_path_t P(const char *s)
{
    gw_path_t p;
    CHECK_EQ_INT(gw_path_parse(s, &p), 0);
    return p;
}

static void set_str(const char *path, const char *s)
{
    gw_value_t v = {.type = GW_TYPE_STRING};
    v.v.bytes.ptr = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    gw_path_t p = P(path);
    CHECK_EQ_INT(gw_store_set(m.store, vc->sc, &p, &v, 0), 0);
}

static void set_float(const char *path, double f)
{
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = f};
    gw_path_t p = P(path);
    CHECK_EQ_INT(gw_store_set(m.store, vc->sc, &p, &v, 0), 0);
}

static void setup(void)
{
    memset(&m, 0, sizeof m);
    memset(&r, 0, sizeof r);
    refreshes = 0;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    CHECK_EQ_INT(gw_store_new(reg, &m.store), 0);
    m.refresh = count_refresh;
    vc = calloc(1, sizeof *vc);
    vc->m = &m;
    vc->endpoint = "unit";
    CHECK_EQ_INT(gw_store_client_new(m.store, vc, &vc->sc), 0);
    r.vc = vc;
    CHECK_EQ_INT(gw_store_instance_create(m.store, vc->sc, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(m.store, vc->sc, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(m.store, vc->sc, 3303, 1), 0);
    set_str("/3/0/0", "Acme");
    set_str("/3/0/1", "T-100");
    set_float("/3303/0/5700", 21.5);
    set_str("/3303/0/5701", "Cel");
    set_str("/3303/0/5750", "boiler");
    set_float("/3303/1/5700", -4.25);
}

static void teardown(void)
{
    gw_buf_free(&body);
    gw_store_client_free(m.store, &vc->sc);
    free(vc);
    gw_store_free(&m.store);
    gw_registry_free(&reg);
}

/* Runs one request through gw_composite_handle. cf/accept -1 leave the
 * option out. The answer is decoded into out_dec when 2.05; its records
 * borrow `body`, valid until the next run. */
static int run(coap_pdu_code_t method, int cf, int accept, const void *payload, size_t len, gw_decoded_t *out_dec)
{
    coap_pdu_t *req = coap_pdu_init(COAP_MESSAGE_CON, method, 1, 2048);
    coap_pdu_t *resp = coap_pdu_init(COAP_MESSAGE_ACK, 0, 1, 2048);
    uint8_t b[4];
    int out_cf = -2;
    char diag[160] = "";
    gw_buf_free(&body);
    if (cf >= 0)
        coap_add_option(req, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof b, (unsigned)cf), b);
    if (accept >= 0)
        coap_add_option(req, COAP_OPTION_ACCEPT, coap_encode_var_safe(b, sizeof b, (unsigned)accept), b);
    int code = gw_composite_handle(&r, req, resp, payload, len, &body, &out_cf, diag, sizeof diag, NULL);
    if (code == C(205)) {
        const gw_path_t root = {{0, 0, 0, 0}, 0};
        CHECK(out_cf == GW_CF_SENML_JSON || out_cf == GW_CF_SENML_CBOR);
        CHECK_EQ_INT(out_cf, accept >= 0 ? accept : cf);
        if (out_dec)
            CHECK_EQ_INT(gw_codec_decode(out_cf, &root, body.data, body.len, NULL, NULL, out_dec), 0);
    } else {
        CHECK(code == C(204) || diag[0] != '\0'); /* every error says why */
        CHECK_EQ_INT(body.len, 0);
    }
    coap_delete_pdu(req);
    coap_delete_pdu(resp);
    return code;
}

static int fetch_json(const char *json, gw_decoded_t *dec)
{
    return run(COAP_REQUEST_CODE_FETCH, GW_CF_SENML_JSON, -1, json, strlen(json), dec);
}

static int ipatch_json(const char *json)
{
    return run(COAP_REQUEST_CODE_IPATCH, GW_CF_SENML_JSON, -1, json, strlen(json), NULL);
}

static const gw_record_t *find(const gw_decoded_t *d, const char *path)
{
    gw_path_t p = P(path);
    for (size_t i = 0; i < d->n; i++)
        if (gw_path_cmp(&d->recs[i].path, &p) == 0)
            return &d->recs[i];
    return NULL;
}

static bool str_is(const gw_record_t *rec, const char *s)
{
    return rec && rec->value.type == GW_TYPE_STRING && rec->value.v.bytes.len == strlen(s) &&
           memcmp(rec->value.v.bytes.ptr, s, strlen(s)) == 0;
}

static bool stored_str_is(const char *path, const char *s)
{
    gw_value_t v;
    gw_path_t p = P(path);
    return gw_store_get(vc->sc, &p, &v, NULL) == 0 && v.type == GW_TYPE_STRING && v.v.bytes.len == strlen(s) &&
           memcmp(v.v.bytes.ptr, s, strlen(s)) == 0;
}

GW_TEST(read_mixed_levels_leaves_out_missing_and_duplicates)
{
    gw_decoded_t d = {0};
    setup();
    CHECK_EQ_INT(fetch_json("[{\"bn\":\"/3303/\",\"n\":\"1\"},{\"n\":\"0/5750\"},{\"bn\":\"\",\"n\":\"/3/0/0\"},"
                            "{\"n\":\"/3303/1/5700\"},{\"n\":\"/3303/7\"},{\"n\":\"/9999\"},"
                            "{\"n\":\"/3/0/0/1\"},{\"n\":\"/3303/0/5601\"}]",
                            &d),
                 C(205));
    CHECK_EQ_INT(d.n, 3); /* /3/0/0, /3303/0/5750, /3303/1/5700 once */
    CHECK(str_is(find(&d, "/3/0/0"), "Acme"));
    CHECK(str_is(find(&d, "/3303/0/5750"), "boiler"));
    const gw_record_t *f = find(&d, "/3303/1/5700");
    CHECK(f && f->value.type == GW_TYPE_FLOAT && f->value.v.f == -4.25);
    CHECK(!find(&d, "/3303/0/5700") && !find(&d, "/3/0/1"));
    CHECK(refreshes >= 4);
    for (size_t i = 1; i < d.n; i++)
        CHECK(gw_path_cmp(&d.recs[i - 1].path, &d.recs[i].path) < 0);
    gw_decoded_free(&d);
    teardown();
}

GW_TEST(read_cbor_request_and_accept)
{
    /* [{0: "/3303/0"}] in SenML CBOR (RFC 8428 table 6: n = 0) */
    static const uint8_t req[] = {0x81, 0xa1, 0x00, 0x67, '/', '3', '3', '0', '3', '/', '0'};
    gw_decoded_t d = {0};
    setup();
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_SENML_CBOR, -1, req, sizeof req, &d), C(205));
    CHECK_EQ_INT(d.n, 3);
    CHECK(str_is(find(&d, "/3303/0/5701"), "Cel"));
    gw_decoded_free(&d);
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_SENML_CBOR, GW_CF_SENML_JSON, req, sizeof req, &d), C(205));
    CHECK_EQ_INT(d.n, 3);
    gw_decoded_free(&d);
    memset(&d, 0, sizeof d);
    static const char js[] = "[{\"n\":\"/3/0/1\"}]";
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_SENML_JSON, GW_CF_SENML_CBOR, js, strlen(js), &d), C(205));
    CHECK(str_is(find(&d, "/3/0/1"), "T-100"));
    gw_decoded_free(&d);
    teardown();
}

GW_TEST(read_of_many_paths)
{
    gw_buf_t many = {0};
    gw_decoded_t d = {0};
    setup();
    gw_buf_append(&many, "[", 1);
    for (int i = 0; i < 3 * GW_OBS_MAX_PATHS; i++)
        gw_buf_appendf(&many, "%s{\"n\":\"/3/0/%d\"}", i ? "," : "", i % 2);
    gw_buf_append(&many, "]", 1);
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_SENML_JSON, -1, many.data, many.len, &d), C(205));
    CHECK_EQ_INT(d.n, 2);
    gw_buf_free(&many);
    gw_decoded_free(&d);
    teardown();
}

GW_TEST(read_nothing_that_exists_is_an_empty_pack)
{
    gw_decoded_t d = {0};
    setup();
    CHECK_EQ_INT(fetch_json("[{\"n\":\"/3304/0\"}]", &d), C(205));
    CHECK_EQ_INT(d.n, 0);
    gw_decoded_free(&d);
    teardown();
}

/* LwM2M 1.1 6.3.x gives [{"n":"/"}] as an example: every readable value,
 * never the Security (0) or OSCORE (21) objects. */
GW_TEST(read_of_the_root_is_every_readable_value)
{
    gw_decoded_t d = {0};
    setup();
    CHECK_EQ_INT(gw_store_instance_create(m.store, vc->sc, 0, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(m.store, vc->sc, 21, 0), 0);
    set_str("/0/0/0", "coap://secret");
    gw_value_t key = {.type = GW_TYPE_OPAQUE};
    key.v.bytes.ptr = (const uint8_t *)"k";
    key.v.bytes.len = 1;
    gw_path_t kp = P("/21/0/2");
    CHECK_EQ_INT(gw_store_set(m.store, vc->sc, &kp, &key, 0), 0);
    CHECK_EQ_INT(fetch_json("[{\"n\":\"/\"}]", &d), C(205));
    CHECK_EQ_INT(d.n, 6);
    CHECK(str_is(find(&d, "/3/0/0"), "Acme") && str_is(find(&d, "/3/0/1"), "T-100"));
    CHECK(str_is(find(&d, "/3303/0/5750"), "boiler") && find(&d, "/3303/1/5700"));
    for (size_t i = 0; i < d.n; i++)
        CHECK(d.recs[i].path.id[0] != 0 && d.recs[i].path.id[0] != 21);
    gw_decoded_free(&d);
    /* a value on the root is no Read-Composite */
    CHECK_EQ_INT(fetch_json("[{\"n\":\"/\",\"v\":1}]", NULL), C(400));
    teardown();
}

/* The root as a record name survives an encode and a decode again (the
 * encoder once wrote it "//"). */
GW_TEST(root_record_round_trips)
{
    static const char *packs[] = {"[{\"n\":\"/\"}]", "[{\"n\":\"/\"},{\"n\":\"/3/0\"}]",
                                  "[{\"n\":\"/3/0\"},{\"n\":\"/3303/0/5700\"}]"};
    const gw_path_t root = {{GW_ID_NONE, GW_ID_NONE, GW_ID_NONE, GW_ID_NONE}, 0};
    static const int cfs[] = {GW_CF_SENML_JSON, GW_CF_SENML_CBOR};
    for (size_t k = 0; k < sizeof packs / sizeof packs[0]; k++) {
        for (size_t c = 0; c < 2; c++) {
            gw_decoded_t d = {0}, again = {0};
            gw_buf_t out = {0};
            CHECK_EQ_INT(gw_codec_decode(GW_CF_SENML_JSON, &root, (const uint8_t *)packs[k], strlen(packs[k]), NULL,
                                         NULL, &d), 0);
            CHECK_EQ_INT(gw_codec_encode(cfs[c], &root, d.recs, d.n, &out), 0);
            CHECK_EQ_INT(gw_codec_decode(cfs[c], &root, out.data, out.len, NULL, NULL, &again), 0);
            CHECK_EQ_INT(again.n, d.n);
            for (size_t i = 0; i < d.n && i < again.n; i++)
                CHECK_EQ_INT(gw_path_cmp(&d.recs[i].path, &again.recs[i].path), 0);
            gw_buf_free(&out);
            gw_decoded_free(&d);
            gw_decoded_free(&again);
        }
    }
}

GW_TEST(read_errors)
{
    static const char ok[] = "[{\"n\":\"/3/0/0\"}]";
    setup();
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, -1, -1, ok, strlen(ok), NULL), C(400));
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_TEXT, -1, ok, strlen(ok), NULL), C(415));
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_LWM2M_TLV, -1, ok, strlen(ok), NULL), C(415));
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_SENML_JSON, GW_CF_LWM2M_TLV, ok, strlen(ok), NULL), C(406));
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_FETCH, GW_CF_SENML_JSON, GW_CF_TEXT, ok, strlen(ok), NULL), C(406));
    CHECK_EQ_INT(fetch_json("", NULL), C(400));
    CHECK_EQ_INT(fetch_json("[]", NULL), C(400));
    CHECK_EQ_INT(fetch_json("[{\"n\":\"/3/0/0\"}", NULL), C(400));
    CHECK_EQ_INT(fetch_json("[{\"n\":\"/3/x\"}]", NULL), C(400));
    CHECK_EQ_INT(fetch_json("[{\"n\":\"/3/0/0\",\"vs\":\"a\"}]", NULL), C(400));
    CHECK_EQ_INT(fetch_json("[{\"n\":\"/0/0\"}]", NULL), C(401));
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_GET, GW_CF_SENML_JSON, -1, ok, strlen(ok), NULL), C(405));
    teardown();
}

GW_TEST(write_applies_every_record)
{
    setup();
    CHECK_EQ_INT(ipatch_json("[{\"bn\":\"/3303/\",\"n\":\"0/5750\",\"vs\":\"kitchen\"},"
                             "{\"n\":\"1/5750\",\"vs\":\"cellar\"},{\"bn\":\"/3/0/\",\"n\":\"15\",\"vs\":\"UTC\"}]"),
                 C(204));
    CHECK(stored_str_is("/3303/0/5750", "kitchen"));
    CHECK(stored_str_is("/3303/1/5750", "cellar"));
    CHECK(stored_str_is("/3/0/15", "UTC"));
    /* SenML CBOR: [{0: "/3303/0/5750", 3: "attic"}] */
    static const uint8_t cb[] = {0x81, 0xa2, 0x00, 0x6c, '/', '3', '3', '0', '3', '/', '0', '/', '5', '7', '5',
                                 '0', 0x03, 0x65, 'a',  't', 't', 'i', 'c'};
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_IPATCH, GW_CF_SENML_CBOR, -1, cb, sizeof cb, NULL), C(204));
    CHECK(stored_str_is("/3303/0/5750", "attic"));
    teardown();
}

GW_TEST(write_is_atomic)
{
    static const struct {
        const char *json;
        int code;
    } bad[] = {
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3303/1/5750\",\"v\":1}]", C(400)},  /* type */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3303/1/5750\"}]", C(400)},         /* no value */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3303/4/5750\",\"vs\":\"y\"}]", C(404)}, /* instance */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3303/0/1\",\"vs\":\"y\"}]", C(404)},  /* resource */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3304/0/5750\",\"vs\":\"y\"}]", C(404)}, /* instance */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3303/0/5700\",\"v\":1.5}]", C(405)},  /* read-only */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3/0/7/0\",\"v\":1}]", C(405)},       /* read-only */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/3/0/14/0\",\"vs\":\"y\"}]", C(400)},  /* single */
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},{\"n\":\"/0/0/0\",\"vs\":\"y\"}]", C(401)},
        {"[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"},", C(400)},
        {"[]", C(400)},
    };
    setup();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int code = ipatch_json(bad[i].json);
        if (code != bad[i].code)
            fprintf(stderr, "  case %zu: %d.%02d\n", i, code >> 5, code & 31);
        CHECK_EQ_INT(code, bad[i].code);
        CHECK(stored_str_is("/3303/0/5750", "boiler"));
    }
    static const char js[] = "[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"}]";
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_IPATCH, GW_CF_TEXT, -1, js, strlen(js), NULL), C(415));
    CHECK_EQ_INT(run(COAP_REQUEST_CODE_IPATCH, -1, -1, js, strlen(js), NULL), C(400));
    CHECK(stored_str_is("/3303/0/5750", "boiler"));
    teardown();
}

/* Outside bytes never crash the handler: mutations of valid requests. */
GW_TEST(garbage_never_crashes)
{
    static const char *seeds[] = {
        "[{\"bn\":\"/3303/\",\"n\":\"0/5750\",\"vs\":\"kitchen\"},{\"n\":\"1\"}]",
        "[{\"n\":\"/3/0\"},{\"n\":\"/3303/0/5700\",\"v\":1e5}]",
    };
    uint8_t buf[256];
    uint32_t x = 12345;
    setup();
    for (int round = 0; round < 4000; round++) {
        const char *s = seeds[round % 2];
        size_t len = strlen(s);
        memcpy(buf, s, len);
        for (int k = 0; k < 3; k++) {
            x = x * 1103515245u + 12345u;
            buf[(x >> 8) % len] = (uint8_t)(x >> 20);
        }
        x = x * 1103515245u + 12345u;
        size_t cut = (x >> 16) % (len + 1);
        coap_pdu_code_t method = round & 4 ? COAP_REQUEST_CODE_IPATCH : COAP_REQUEST_CODE_FETCH;
        int cf = round & 8 ? GW_CF_SENML_CBOR : GW_CF_SENML_JSON;
        int code = run(method, cf, -1, buf, cut, NULL);
        CHECK(code == C(205) || code == C(204) || code == C(400) || code == C(401) || code == C(404) ||
              code == C(405));
    }
    teardown();
}

GW_TEST(observation_covers_its_member_paths)
{
    struct gw_obs *o = calloc(1, sizeof *o + 2 * sizeof o->members[0]);
    o->composite = true;
    o->n_members = 2;
    o->members[0].path = P("/3303/0/5700");
    o->members[1].path = P("/3/0");
    gw_path_t a = P("/3303/0/5700"), b = P("/3/0/13"), c = P("/3303/0/5701"), d = P("/3303/1/5700");
    CHECK(gw_obs_covers(o, &a));
    CHECK(gw_obs_covers(o, &b));
    CHECK(!gw_obs_covers(o, &c));
    CHECK(!gw_obs_covers(o, &d));
    o->composite = false;
    o->n_members = 1;
    o->members[0].path = P("/3303");
    CHECK(gw_obs_covers(o, &c) && gw_obs_covers(o, &d) && !gw_obs_covers(o, &b));
    free(o);
}

GW_TEST_MAIN(read_mixed_levels_leaves_out_missing_and_duplicates, read_cbor_request_and_accept, read_of_many_paths,
             read_nothing_that_exists_is_an_empty_pack, read_errors, write_applies_every_record, write_is_atomic,
             garbage_never_crashes, observation_covers_its_member_paths,
             read_of_the_root_is_every_readable_value, root_record_round_trips)
