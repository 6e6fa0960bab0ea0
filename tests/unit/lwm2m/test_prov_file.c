/*
 * Unit tests for lwm2m/prov_file.c: the provisioning file's round trip and
 * every kind of bad file refused whole with a reason.
 */
#include <errno.h>
#include <string.h>

#include "gwtest.h"
#include "lwm2m/prov_file.h"

static gw_registry_t *reg;

static gw_record_t rec_int(uint16_t oid, uint16_t iid, uint16_t rid, int64_t v)
{
    gw_record_t r = {.path = gw_path_make(oid, iid, rid, GW_ID_NONE)};
    r.value.type = GW_TYPE_INTEGER;
    r.value.v.i = v;
    return r;
}

static gw_record_t rec_bytes(uint16_t oid, uint16_t iid, uint16_t rid, gw_type_t t, const char *s)
{
    gw_record_t r = {.path = gw_path_make(oid, iid, rid, GW_ID_NONE)};
    r.value.type = t;
    r.value.v.bytes.ptr = (const uint8_t *)s;
    r.value.v.bytes.len = strlen(s);
    return r;
}

/* A usable account: /0/1 NoSec to a server and /1/1 with lifetime 60. */
static void sample(gw_buf_t *out)
{
    gw_record_t recs[6];
    recs[0] = rec_bytes(0, 1, 0, GW_TYPE_STRING, "coap://127.0.0.1:5683");
    recs[1] = (gw_record_t){.path = gw_path_make(0, 1, 1, GW_ID_NONE), .value = {.type = GW_TYPE_BOOLEAN}};
    recs[2] = rec_int(0, 1, 2, 3);
    recs[3] = rec_bytes(0, 1, 5, GW_TYPE_OPAQUE, "\x01\x02secret");
    recs[4] = rec_int(1, 1, 0, 101);
    recs[5] = rec_int(1, 1, 1, 60);
    CHECK_EQ_INT(gw_prov_encode(recs, 6, out), 0);
}

static int parse(const gw_buf_t *b, size_t *n, char *why)
{
    gw_record_t *recs = NULL;
    int rc = gw_prov_parse(b->data, b->len, reg, &recs, n, why, 160);
    free(recs);
    return rc;
}

GW_TEST(test_round_trip)
{
    gw_buf_t b = {0};
    sample(&b);
    gw_record_t *recs = NULL;
    size_t n = 0;
    char why[160] = "";
    CHECK_EQ_INT(gw_prov_parse(b.data, b.len, reg, &recs, &n, why, sizeof why), 0);
    CHECK_EQ_INT(n, 6);
    if (n == 6) {
        /* sorted by path */
        CHECK_EQ_INT(recs[0].path.id[2], 0);
        CHECK_EQ_MEM(recs[0].value.v.bytes.ptr, recs[0].value.v.bytes.len, "coap://127.0.0.1:5683", 21);
        CHECK_EQ_INT(recs[3].value.v.bytes.len, 8);
        CHECK_EQ_INT(recs[5].value.v.i, 60);
    }
    /* encoding the parsed records again gives the same file */
    gw_buf_t again = {0};
    CHECK_EQ_INT(gw_prov_encode(recs, n, &again), 0);
    CHECK_EQ_MEM(again.data, again.len, b.data, b.len);
    free(recs);
    gw_buf_free(&b);
    gw_buf_free(&again);
}

GW_TEST(test_cut_short_or_damaged_is_refused)
{
    gw_buf_t b = {0};
    sample(&b);
    char why[160];
    size_t n;
    for (size_t len = 0; len < b.len; len++) {
        gw_buf_t cut = {.data = b.data, .len = len};
        why[0] = '\0';
        CHECK_EQ_INT(parse(&cut, &n, why), -EINVAL);
        CHECK(why[0] != '\0');
    }
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x40;
        CHECK_EQ_INT(parse(&b, &n, why), -EINVAL);
        b.data[i] ^= 0x40;
    }
    CHECK_EQ_INT(parse(&b, &n, why), 0);
    gw_buf_free(&b);
}

/* A record the checksum vouches for but the format refuses. */
static int parse_one(const gw_record_t *r, char *why)
{
    gw_buf_t b = {0};
    size_t n;
    int rc = gw_prov_encode(r, 1, &b);
    if (rc == 0)
        rc = parse(&b, &n, why);
    gw_buf_free(&b);
    return rc;
}

GW_TEST(test_bad_records_are_refused_with_a_reason)
{
    char why[160];
    gw_record_t r = rec_int(3, 0, 1, 5); /* not object 0, 1 or 2 */
    CHECK_EQ_INT(parse_one(&r, why), -EINVAL);
    r = rec_int(1, 0, 999, 5); /* not a resource of /1 */
    CHECK_EQ_INT(parse_one(&r, why), -EINVAL);
    CHECK(strstr(why, "not defined") != NULL);
    r = rec_bytes(1, 0, 1, GW_TYPE_STRING, "60"); /* lifetime is an Integer */
    CHECK_EQ_INT(parse_one(&r, why), -EINVAL);
    CHECK(strstr(why, "type") != NULL);
    r = rec_bytes(0, 0, 0, GW_TYPE_STRING, "bad\xff"); /* not UTF-8 */
    CHECK_EQ_INT(parse_one(&r, why), -EINVAL);
    r = rec_int(0, 0, 2, 9); /* security mode 0..4 */
    CHECK_EQ_INT(parse_one(&r, why), -EINVAL);
    r = rec_int(1, 0, 1, 60);
    CHECK_EQ_INT(parse_one(&r, why), 0);
}

GW_TEST(test_a_path_twice_is_refused)
{
    gw_record_t recs[2] = {rec_int(1, 0, 1, 60), rec_int(1, 0, 1, 61)};
    gw_buf_t b = {0};
    char why[160];
    size_t n;
    CHECK_EQ_INT(gw_prov_encode(recs, 2, &b), 0);
    CHECK_EQ_INT(parse(&b, &n, why), -EINVAL);
    CHECK(strstr(why, "twice") != NULL);
    gw_buf_free(&b);
}

GW_TEST(test_registry)
{
    /* first: every test after it needs the registry */
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
}

GW_TEST(test_registry_free)
{
    gw_registry_free(&reg);
    CHECK(reg == NULL);
}

GW_TEST_MAIN(test_registry, test_round_trip, test_cut_short_or_damaged_is_refused,
             test_bad_records_are_refused_with_a_reason, test_a_path_twice_is_refused, test_registry_free)
