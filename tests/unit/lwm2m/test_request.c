/* Unit tests for lwm2m/request.c: the dispatcher's parse stage on bytes,
 * without a session: Uri-Path options, Write-Attributes queries,
 * Location-Path, and whole requests with the code each gets. */
#include "gwtest.h"

#include <errno.h>

#include "lwm2m/codec.h"
#include "lwm2m/request.h"

#define SEG(s) {(const uint8_t *)(s), sizeof(s) - 1}
#define CODE(n) (((n) / 100) << 5 | (n) % 100)

GW_TEST(path_from_options)
{
    gw_path_t p;
    gw_req_seg_t ok[] = {SEG("3303"), SEG("0"), SEG("5700")};
    CHECK_EQ_INT(gw_req_path_parse(ok, 3, &p), 0);
    CHECK(p.len == 3 && p.id[0] == 3303 && p.id[1] == 0 && p.id[2] == 5700);
    CHECK_EQ_INT(gw_req_path_parse(NULL, 0, &p), 0);
    CHECK_EQ_INT(p.len, 0);
    gw_req_seg_t four[] = {SEG("3"), SEG("0"), SEG("6"), SEG("65534")};
    CHECK_EQ_INT(gw_req_path_parse(four, 4, &p), 0);
    CHECK_EQ_INT(p.id[3], 65534);
    /* One option is one segment: never re-split at '/', never cut at NUL. */
    gw_req_seg_t slash[] = {SEG("3/0")};
    CHECK_EQ_INT(gw_req_path_parse(slash, 1, &p), -EINVAL);
    gw_req_seg_t nul[] = {SEG("3"), SEG("0\0x")};
    CHECK_EQ_INT(gw_req_path_parse(nul, 2, &p), -EINVAL);
    gw_req_seg_t bad[][1] = {{SEG("")}, {SEG("03")}, {SEG("65535")}, {SEG("999999")}, {SEG("-1")},
                             {SEG("3 ")}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(gw_req_path_parse(bad[i], 1, &p), -EINVAL);
    gw_req_seg_t five[] = {SEG("3"), SEG("0"), SEG("6"), SEG("0"), SEG("1")};
    CHECK_EQ_INT(gw_req_path_parse(five, 5, &p), -EINVAL);
}

static int attrs(const char *q, bool numeric, gw_attrs_t *a, char *why)
{
    return gw_req_attrs_parse((const uint8_t *)q, strlen(q), numeric, a, why, 128);
}

GW_TEST(write_attributes_query)
{
    char why[128];
    gw_attrs_t a = {0};
    CHECK_EQ_INT(attrs("pmin=10&pmax=60&gt=20.5&lt=-3&st=0.5", true, &a, why), 0);
    CHECK(a.set == (GW_ATTR_PMIN | GW_ATTR_PMAX | GW_ATTR_GT | GW_ATTR_LT | GW_ATTR_ST));
    CHECK(a.pmin == 10 && a.pmax == 60 && a.gt == 20.5 && a.lt == -3 && a.st == 0.5);
    /* a bare name removes the attribute */
    CHECK_EQ_INT(attrs("gt&pmin", true, &a, why), 0);
    CHECK(a.set == (GW_ATTR_PMAX | GW_ATTR_LT | GW_ATTR_ST));
    CHECK_EQ_INT(attrs("gt=1&gt=2", true, &a, why), -EINVAL);
    CHECK(strstr(why, "twice") != NULL);
    CHECK_EQ_INT(attrs("gt=1", false, &a, why), -EINVAL);
    CHECK(strstr(why, "numeric") != NULL);
    CHECK_EQ_INT(attrs("foo=1", true, &a, why), -EINVAL);
    CHECK(strstr(why, "expected pmin") != NULL);
    CHECK_EQ_INT(attrs("pmin=nan", true, &a, why), -EINVAL);
    CHECK_EQ_INT(attrs("gt=inf", true, &a, why), -EINVAL);
    /* an empty key between separators is not an attribute */
    CHECK_EQ_INT(attrs("pmin=1&&pmax=2", true, &a, why), -EINVAL);
    /* a NUL inside a value is part of it, and refused */
    gw_attrs_t b = {0};
    CHECK_EQ_INT(gw_req_attrs_parse((const uint8_t *)"pmin=1\0" "0", 8, true, &b, why, sizeof why),
                 -EINVAL);
}

GW_TEST(location_path)
{
    char out[16];
    gw_req_seg_t rd[] = {SEG("rd"), SEG("5a3f")};
    CHECK_EQ_INT(gw_req_location_join(rd, 2, out, sizeof out), 0);
    CHECK_EQ_STR(out, "rd/5a3f");
    CHECK_EQ_INT(gw_req_location_join(NULL, 0, out, sizeof out), 0);
    CHECK_EQ_STR(out, "");
    /* node-coap: one option "/rd/5", or an empty segment first */
    gw_req_seg_t slash[] = {SEG("/rd/5")};
    CHECK_EQ_INT(gw_req_location_join(slash, 1, out, sizeof out), 0);
    CHECK_EQ_STR(out, "rd/5");
    gw_req_seg_t empty_first[] = {SEG(""), SEG("rd"), SEG("a/b")};
    CHECK_EQ_INT(gw_req_location_join(empty_first, 3, out, sizeof out), 0);
    CHECK_EQ_STR(out, "rd/a/b");
    gw_req_seg_t dot_inside[] = {SEG("rd/../x")};
    CHECK_EQ_INT(gw_req_location_join(dot_inside, 1, out, sizeof out), -EINVAL);
    gw_req_seg_t nul[] = {SEG("rd\0x")};
    CHECK_EQ_INT(gw_req_location_join(nul, 1, out, sizeof out), -EINVAL);
    gw_req_seg_t dots[][1] = {{SEG(".")}, {SEG("..")}};
    for (size_t i = 0; i < 2; i++)
        CHECK_EQ_INT(gw_req_location_join(dots[i], 1, out, sizeof out), -EINVAL);
    /* too long: refused, never cut (an Update would go elsewhere) */
    gw_req_seg_t longer[] = {SEG("rd"), SEG("0123456789abc")};
    CHECK_EQ_INT(gw_req_location_join(longer, 2, out, sizeof out), -ENOSPC);
    CHECK_EQ_STR(out, "");
    gw_req_seg_t fits[] = {SEG("rd"), SEG("0123456789ab")};
    CHECK_EQ_INT(gw_req_location_join(fits, 2, out, sizeof out), 0);
    CHECK_EQ_STR(out, "rd/0123456789ab");
}

static gw_registry_t *reg;

static int req(int method, const gw_req_seg_t *uri, size_t n, const char *query, int cf,
               const char *payload, size_t len, char *diag)
{
    gw_req_t r = {.method = method, .uri = uri, .n_uri = n,
                  .query = (const uint8_t *)query, .query_len = query ? strlen(query) : 0,
                  .cf = cf, .payload = (const uint8_t *)payload, .len = len};
    return gw_req_parse(reg, &r, diag, 160);
}

static size_t len_of(const char *s)
{
    return s ? strlen(s) : 0;
}

#define REQ(m, uri, q, cf, body) req(m, uri, sizeof uri / sizeof uri[0], q, cf, body, len_of(body), diag)

GW_TEST(whole_requests)
{
    char diag[160];
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    gw_req_seg_t dev[] = {SEG("3"), SEG("0")};
    gw_req_seg_t sec[] = {SEG("0"), SEG("0")};
    gw_req_seg_t temp[] = {SEG("3303"), SEG("0"), SEG("5700")};
    gw_req_seg_t app[] = {SEG("3303"), SEG("0"), SEG("5750")};
    gw_req_seg_t inst[] = {SEG("3303"), SEG("0")};
    gw_req_seg_t reboot[] = {SEG("3"), SEG("0"), SEG("4")};
    gw_req_seg_t nores[] = {SEG("3303"), SEG("0"), SEG("1")};
    gw_req_seg_t nul[] = {SEG("3"), SEG("0\0")};
    CHECK_EQ_INT(REQ(GW_REQ_GET, dev, NULL, -1, NULL), 0);
    CHECK_EQ_INT(REQ(GW_REQ_GET, nul, NULL, -1, NULL), CODE(404));
    CHECK_EQ_INT(REQ(GW_REQ_GET, sec, NULL, -1, NULL), CODE(401));
    CHECK_EQ_INT(REQ(GW_REQ_GET, nores, NULL, -1, NULL), CODE(404));
    CHECK_EQ_INT(REQ(GW_REQ_PUT, temp, "pmin=10&gt=20", -1, NULL), 0);
    CHECK_EQ_INT(REQ(GW_REQ_PUT, temp, "pmin=10&pmax=5", -1, NULL), CODE(400)); /* judged as a set */
    CHECK_EQ_INT(REQ(GW_REQ_PUT, inst, "gt=20", -1, NULL), CODE(400));
    CHECK(diag[0] != '\0');
    CHECK_EQ_INT(REQ(GW_REQ_POST, reboot, NULL, -1, "0='a',1"), 0);
    CHECK_EQ_INT(REQ(GW_REQ_POST, reboot, NULL, -1, "0='a',0"), CODE(400));
    CHECK_EQ_INT(REQ(GW_REQ_POST, temp, NULL, -1, NULL), CODE(405)); /* not executable */
    CHECK_EQ_INT(REQ(GW_REQ_PUT, app, NULL, -1, "hall"), 0);         /* text without cf */
    CHECK_EQ_INT(REQ(GW_REQ_PUT, app, NULL, GW_CF_LWM2M_JSON, "{}"), CODE(415));
    CHECK_EQ_INT(REQ(GW_REQ_PUT, inst, NULL, -1, "x"), CODE(400)); /* cf missing */
    CHECK_EQ_INT(REQ(GW_REQ_PUT, inst, NULL, GW_CF_SENML_JSON,
                     "[{\"bn\":\"/3303/0/\",\"n\":\"5750\",\"vs\":\"hall\"}]"),
                 0);
    CHECK_EQ_INT(REQ(GW_REQ_PUT, inst, NULL, GW_CF_SENML_JSON, "[{\"n\":\"/3/0/0\",\"vs\":\"x\"}]"),
                 CODE(400)); /* outside the path */
    gw_req_seg_t none[1];
    const char *fetch = "[{\"n\":\"/3/0/0\"},{\"n\":\"/3303/0\"}]";
    CHECK_EQ_INT(req(GW_REQ_FETCH, none, 0, NULL, GW_CF_SENML_JSON, fetch, strlen(fetch), diag), 0);
    const char *fsec = "[{\"n\":\"/0/0\"}]";
    CHECK_EQ_INT(req(GW_REQ_FETCH, none, 0, NULL, GW_CF_SENML_JSON, fsec, strlen(fsec), diag), CODE(401));
    const char *fval = "[{\"n\":\"/3/0/0\",\"vs\":\"x\"}]";
    CHECK_EQ_INT(req(GW_REQ_FETCH, none, 0, NULL, GW_CF_SENML_JSON, fval, strlen(fval), diag), CODE(400));
    const char *wc = "[{\"n\":\"/3303/0/5750\",\"vs\":\"x\"}]";
    CHECK_EQ_INT(req(GW_REQ_IPATCH, none, 0, NULL, GW_CF_SENML_JSON, wc, strlen(wc), diag), 0);
    const char *wcnone = "[{\"n\":\"/3303/0/5750\"}]";
    CHECK_EQ_INT(req(GW_REQ_IPATCH, none, 0, NULL, GW_CF_SENML_JSON, wcnone, strlen(wcnone), diag),
                 CODE(400));
    CHECK_EQ_INT(req(GW_REQ_IPATCH, none, 0, NULL, GW_CF_TEXT, "x", 1, diag), CODE(415));
    gw_registry_free(&reg);
}

GW_TEST_MAIN(path_from_options, write_attributes_query, location_path, whole_requests)
