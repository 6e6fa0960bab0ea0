/* Unit tests for lwm2m/store.c and lwm2m/intern.c. */
#include "gwtest.h"

#include "lwm2m/store.h"

#include <errno.h>
#include <time.h>

static gw_registry_t *reg;
static gw_store_t *st;

static void setup(void)
{
    reg = NULL;
    st = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    CHECK_EQ_INT(gw_store_new(reg, &st), 0);
}

static void teardown(void)
{
    gw_store_free(&st);
    CHECK(st == NULL);
    gw_registry_free(&reg);
}

static gw_path_t P3(uint16_t o, uint16_t i, uint16_t r)
{
    gw_path_t p = {{o, i, r, GW_ID_NONE}, 3};
    return p;
}

static gw_path_t P4(uint16_t o, uint16_t i, uint16_t r, uint16_t ri)
{
    gw_path_t p = {{o, i, r, ri}, 4};
    return p;
}

static gw_path_t PN(uint8_t len, uint16_t o, uint16_t i, uint16_t r, uint16_t ri)
{
    gw_path_t p = {{o, i, r, ri}, len};
    return p;
}

static gw_value_t vint(int64_t i)
{
    gw_value_t v = {.type = GW_TYPE_INTEGER, .v.i = i};
    return v;
}

static gw_value_t vflt(double f)
{
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = f};
    return v;
}

static gw_value_t vstr(const char *s)
{
    gw_value_t v = {.type = GW_TYPE_STRING};
    v.v.bytes.ptr = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return v;
}

static int set(gw_sclient_t *c, gw_path_t p, gw_value_t v)
{
    return gw_store_set(st, c, &p, &v, 1000);
}

GW_TEST(test_instances)
{
    setup();
    gw_sclient_t *c = NULL;
    int app;
    CHECK_EQ_INT(gw_store_client_new(st, &app, &c), 0);
    CHECK(gw_store_client_app(c) == &app);
    CHECK(gw_store_registry(st) == reg);
    CHECK_EQ_INT(gw_store_instance_count(c), 0);
    CHECK_EQ_INT(gw_store_instance_free_id(c, 3303), 0);

    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 1), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 1, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 3), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), -EEXIST);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), -EEXIST);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 1), -EPERM);
    CHECK(gw_registry_find(reg, 65000) == NULL);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 65000, 0), -ENOENT);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, GW_ID_NONE), -EINVAL);

    CHECK(gw_store_instance_exists(c, 3303, 1));
    CHECK(!gw_store_instance_exists(c, 3303, 2));
    CHECK(gw_store_object_exists(c, 1));
    CHECK(!gw_store_object_exists(c, 3304));
    CHECK(!gw_store_object_exists(c, 2));
    CHECK_EQ_INT(gw_store_instance_free_id(c, 3303), 2);
    CHECK_EQ_INT(gw_store_instance_free_id(c, 3304), 0);

    static const uint16_t want[][2] = {{1, 0}, {3, 0}, {3303, 0}, {3303, 1}, {3303, 3}};
    CHECK_EQ_INT(gw_store_instance_count(c), 5);
    for (size_t i = 0; i < 5; i++) {
        uint16_t o = 0, n = 0;
        CHECK_EQ_INT(gw_store_instance_at(c, i, &o, &n), 0);
        CHECK_EQ_INT(o, want[i][0]);
        CHECK_EQ_INT(n, want[i][1]);
    }
    CHECK_EQ_INT(gw_store_instance_at(c, 5, NULL, NULL), -ENOENT);

    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3303, 0), -ENOENT);
    CHECK_EQ_INT(gw_store_instance_free_id(c, 3303), 0);
    CHECK_EQ_INT(gw_store_instance_count(c), 4);
    /* Deleting the single instance of /3 allows a new one. */
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 1), 0);
    for (size_t i = 0; i < 4; i++) {
        uint16_t o, n;
        CHECK_EQ_INT(gw_store_instance_at(c, 0, &o, &n), 0);
        CHECK_EQ_INT(gw_store_instance_delete(st, c, o, n), 0);
    }
    CHECK_EQ_INT(gw_store_instance_count(c), 0);
    gw_store_client_free(st, &c);
    CHECK(c == NULL);
    teardown();
}

GW_TEST(test_types)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 1, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 5, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 25, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);

    gw_value_t v, out;
    int64_t ts = 0;
    /* STRING /3/0/0 */
    CHECK_EQ_INT(set(c, P3(3, 0, 0), vstr("Acme")), 0);
    CHECK_EQ_INT(gw_store_get(c, &(gw_path_t){{3, 0, 0, GW_ID_NONE}, 3}, &out, &ts), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_STRING);
    CHECK_EQ_MEM(out.v.bytes.ptr, out.v.bytes.len, "Acme", 4);
    CHECK_EQ_INT(ts, 1000);
    /* INTEGER /3/0/9 (negative too) */
    CHECK_EQ_INT(set(c, P3(3, 0, 9), vint(-7)), 0);
    gw_path_t p = P3(3, 0, 9);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_INTEGER);
    CHECK_EQ_INT(out.v.i, -7);
    /* UNSIGNED /1/0/11, full 64-bit range */
    v = (gw_value_t){.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX};
    CHECK_EQ_INT(set(c, P3(1, 0, 11), v), 0);
    p = P3(1, 0, 11);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_UNSIGNED);
    CHECK(out.v.u == UINT64_MAX);
    /* FLOAT /3303/0/5700 */
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(21.5)), 0);
    p = P3(3303, 0, 5700);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_FLOAT);
    CHECK(out.v.f == 21.5);
    /* BOOLEAN /1/0/6 */
    v = (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = true};
    CHECK_EQ_INT(set(c, P3(1, 0, 6), v), 0);
    p = P3(1, 0, 6);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_BOOLEAN);
    CHECK(out.v.b == true);
    /* OPAQUE /5/0/0 with embedded NULs */
    static const uint8_t blob[] = {0, 1, 0, 0xff, 0x80};
    v = (gw_value_t){.type = GW_TYPE_OPAQUE};
    v.v.bytes.ptr = blob;
    v.v.bytes.len = sizeof(blob);
    CHECK_EQ_INT(set(c, P3(5, 0, 0), v), 0);
    p = P3(5, 0, 0);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_OPAQUE);
    CHECK_EQ_MEM(out.v.bytes.ptr, out.v.bytes.len, blob, sizeof(blob));
    CHECK(out.v.bytes.ptr != blob); /* copied */
    /* Empty opaque is a value too. */
    v.v.bytes.ptr = NULL;
    v.v.bytes.len = 0;
    CHECK_EQ_INT(set(c, P3(5, 0, 0), v), 0);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.v.bytes.len, 0);
    /* TIME /3/0/13 */
    v = (gw_value_t){.type = GW_TYPE_TIME, .v.i = 1700000000};
    CHECK_EQ_INT(set(c, P3(3, 0, 13), v), 0);
    p = P3(3, 0, 13);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_TIME);
    CHECK_EQ_INT(out.v.i, 1700000000);
    /* OBJLNK /1/0/10 */
    v = (gw_value_t){.type = GW_TYPE_OBJLNK, .v.objlnk = {11, 65535}};
    CHECK_EQ_INT(set(c, P3(1, 0, 10), v), 0);
    p = P3(1, 0, 10);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_OBJLNK);
    CHECK_EQ_INT(out.v.objlnk.oid, 11);
    CHECK_EQ_INT(out.v.objlnk.iid, 65535);
    /* CORELNK /25/0/3 */
    v = vstr("</3303/0>,</3304/0>");
    v.type = GW_TYPE_CORELNK;
    CHECK_EQ_INT(set(c, P3(25, 0, 3), v), 0);
    p = P3(25, 0, 3);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.type, GW_TYPE_CORELNK);
    CHECK_EQ_MEM(out.v.bytes.ptr, out.v.bytes.len, "</3303/0>,</3304/0>", 19);

    /* A string replaced by a different one and read back. */
    CHECK_EQ_INT(set(c, P3(3, 0, 0), vstr("Other Corp")), 0);
    p = P3(3, 0, 0);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_MEM(out.v.bytes.ptr, out.v.bytes.len, "Other Corp", 10);

    gw_store_client_free(st, &c);
    teardown();
}

GW_TEST(test_errors)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    gw_value_t out;

    /* Instance missing, resource undefined. */
    CHECK_EQ_INT(set(c, P3(3303, 1, 5700), vflt(1)), -ENOENT);
    CHECK_EQ_INT(set(c, P3(3304, 0, 5700), vflt(1)), -ENOENT);
    CHECK_EQ_INT(set(c, P3(3, 0, 999), vint(1)), -ENOENT);
    /* Type mismatch, in both directions and for near types. */
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vint(21)), -EINVAL);
    CHECK_EQ_INT(set(c, P3(3, 0, 0), vint(1)), -EINVAL);
    CHECK_EQ_INT(set(c, P3(3, 0, 9), vflt(1)), -EINVAL);
    gw_value_t t = {.type = GW_TYPE_TIME, .v.i = 5};
    CHECK_EQ_INT(set(c, P3(3, 0, 9), t), -EINVAL);
    /* Execute resource holds no value. */
    gw_value_t none = {.type = GW_TYPE_NONE};
    CHECK_EQ_INT(set(c, P3(3, 0, 4), none), -EINVAL);
    CHECK_EQ_INT(set(c, P3(3, 0, 4), vint(1)), -EINVAL);
    /* Path shape. */
    CHECK_EQ_INT(set(c, PN(2, 3, 0, 0, 0), vint(1)), -EINVAL);
    CHECK_EQ_INT(set(c, PN(5, 3, 0, 9, 0), vint(1)), -EINVAL);
    CHECK_EQ_INT(set(c, P4(3, 0, 9, 0), vint(1)), -EINVAL);    /* single as 4 */
    CHECK_EQ_INT(set(c, P3(3, 0, 11), vint(1)), -EINVAL);      /* multiple as 3 */
    CHECK_EQ_INT(set(c, P4(3, 0, 11, GW_ID_NONE), vint(1)), -EINVAL);
    /* Bytes with NULL pointer and a length. */
    gw_value_t bad = {.type = GW_TYPE_STRING};
    bad.v.bytes.len = 3;
    CHECK_EQ_INT(set(c, P3(3, 0, 0), bad), -EINVAL);
    /* Timestamp out of the 48-bit range. */
    gw_path_t p = P3(3, 0, 9);
    gw_value_t v = vint(1);
    CHECK_EQ_INT(gw_store_set(st, c, &p, &v, INT64_MAX), -EINVAL);
    CHECK_EQ_INT(gw_store_set(st, c, &p, &v, INT64_MIN), -EINVAL);
    /* Nothing got stored by the failures. */
    gw_record_t *r = NULL;
    size_t n = 99;
    gw_path_t root = {{0}, 0};
    CHECK_EQ_INT(gw_store_read(c, &root, &r, &n), 0);
    CHECK_EQ_INT(n, 0);
    free(r);
    /* get on unset / bad paths. */
    p = P3(3, 0, 9);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), -ENOENT);
    p = PN(2, 3, 0, 0, 0);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), -EINVAL);
    p = P3(3, 7, 9);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), -ENOENT);
    gw_store_client_free(st, &c);
    teardown();
}

GW_TEST(test_multiple_and_unset)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(set(c, P4(3, 0, 11, 1), vint(5)), 0);
    CHECK_EQ_INT(set(c, P4(3, 0, 11, 0), vint(0)), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 9), vint(80)), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 10), vint(1024)), 0);

    gw_value_t out;
    gw_path_t p = P4(3, 0, 11, 1);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.v.i, 5);
    p = P4(3, 0, 11, 0);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.v.i, 0);
    p = P4(3, 0, 11, 2);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), -ENOENT);
    p = P3(3, 0, 11);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), -EINVAL); /* needs a 4-level path */

    p = P3(3, 0, 11);
    CHECK(gw_store_has(c, &p));
    p = P4(3, 0, 11, 1);
    CHECK(gw_store_has(c, &p));
    p = P4(3, 0, 11, 7);
    CHECK(!gw_store_has(c, &p));
    p = P3(3, 0, 0);
    CHECK(!gw_store_has(c, &p));
    p = P3(3, 1, 9);
    CHECK(!gw_store_has(c, &p));
    p = PN(2, 3, 0, 0, 0);
    CHECK(!gw_store_has(c, &p));

    /* Unset one resource instance, then the whole multiple resource. */
    p = P4(3, 0, 11, 1);
    CHECK_EQ_INT(gw_store_unset(st, c, &p), 0);
    CHECK_EQ_INT(gw_store_unset(st, c, &p), -ENOENT);
    p = P3(3, 0, 11);
    CHECK(gw_store_has(c, &p));
    CHECK_EQ_INT(set(c, P4(3, 0, 11, 3), vint(3)), 0);
    CHECK_EQ_INT(gw_store_unset(st, c, &p), 0);
    CHECK(!gw_store_has(c, &p));
    CHECK_EQ_INT(gw_store_unset(st, c, &p), -ENOENT);
    /* Neighbours untouched. */
    p = P3(3, 0, 9);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.v.i, 80);
    p = P3(3, 0, 10);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, NULL), 0);
    CHECK_EQ_INT(out.v.i, 1024);
    CHECK_EQ_INT(gw_store_unset(st, c, &p), 0);
    p = P3(3, 0, 9);
    CHECK_EQ_INT(gw_store_unset(st, c, &p), 0);
    CHECK(!gw_store_has(c, &p));
    /* Bad shapes and missing instance. */
    p = PN(2, 3, 0, 0, 0);
    CHECK_EQ_INT(gw_store_unset(st, c, &p), -EINVAL);
    p = P3(3, 4, 9);
    CHECK_EQ_INT(gw_store_unset(st, c, &p), -ENOENT);
    /* The instance still exists and reads empty. */
    gw_record_t *r = NULL;
    size_t n = 9;
    p = PN(2, 3, 0, 0, 0);
    CHECK_EQ_INT(gw_store_read(c, &p, &r, &n), 0);
    CHECK_EQ_INT(n, 0);
    free(r);
    gw_store_client_free(st, &c);
    teardown();
}

static int rec_order(const gw_path_t *a, const gw_path_t *b)
{
    uint8_t n = a->len < b->len ? a->len : b->len;
    for (uint8_t i = 0; i < n; i++)
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    return a->len == b->len ? 0 : (a->len < b->len ? -1 : 1);
}

/* Reads path and compares the paths of the result with want[0..nwant). */
static void check_read(gw_sclient_t *c, gw_path_t p, const gw_path_t *want, size_t nwant)
{
    gw_record_t *r = NULL;
    size_t n = 0;
    CHECK_EQ_INT(gw_store_read(c, &p, &r, &n), 0);
    CHECK_EQ_INT(n, nwant);
    for (size_t i = 0; i < n && i < nwant; i++) {
        CHECK(rec_order(&r[i].path, &want[i]) == 0);
        CHECK(!r[i].has_time);
        if (i)
            CHECK(rec_order(&r[i - 1].path, &r[i].path) < 0);
    }
    free(r);
}

GW_TEST(test_read_levels)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    /* Created and filled out of order on purpose. */
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 1), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3304, 0), 0); /* stays empty */
    CHECK_EQ_INT(set(c, P3(3303, 1, 5701), vstr("Cel")), 0);
    CHECK_EQ_INT(set(c, P3(3303, 1, 5700), vflt(3.5)), 0);
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(20)), 0);
    CHECK_EQ_INT(set(c, P4(3, 0, 11, 2), vint(2)), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 9), vint(80)), 0);
    CHECK_EQ_INT(set(c, P4(3, 0, 11, 0), vint(0)), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 0), vstr("Acme")), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 13), ((gw_value_t){.type = GW_TYPE_TIME, .v.i = 9})), 0);

    const gw_path_t all[] = {P3(3, 0, 0),       P3(3, 0, 9),       P4(3, 0, 11, 0),
                             P4(3, 0, 11, 2),   P3(3, 0, 13),      P3(3303, 0, 5700),
                             P3(3303, 1, 5700), P3(3303, 1, 5701)};
    check_read(c, PN(0, 0, 0, 0, 0), all, 8);
    check_read(c, PN(1, 3, 0, 0, 0), all, 5);
    check_read(c, PN(2, 3, 0, 0, 0), all, 5);
    check_read(c, PN(3, 3, 0, 11, 0), all + 2, 2);
    check_read(c, P4(3, 0, 11, 2), all + 3, 1);
    check_read(c, PN(1, 3303, 0, 0, 0), all + 5, 3);
    check_read(c, PN(2, 3303, 1, 0, 0), all + 6, 2);
    check_read(c, P3(3303, 1, 5701), all + 7, 1);
    check_read(c, PN(1, 3304, 0, 0, 0), NULL, 0); /* instance exists, no values */
    check_read(c, PN(2, 3304, 0, 0, 0), NULL, 0);

    /* Values come through the read. */
    gw_record_t *r = NULL;
    size_t n = 0;
    gw_path_t p = P3(3303, 1, 5701);
    CHECK_EQ_INT(gw_store_read(c, &p, &r, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(r[0].value.type, GW_TYPE_STRING);
        CHECK_EQ_MEM(r[0].value.v.bytes.ptr, r[0].value.v.bytes.len, "Cel", 3);
    }
    free(r);

    /* Not there. */
    gw_path_t missing[] = {PN(1, 3305, 0, 0, 0), PN(1, 1, 0, 0, 0), PN(2, 3303, 2, 0, 0),
                           P3(3303, 0, 5701) /* defined, unset */, P3(3303, 0, 9999),
                           P4(3, 0, 11, 1), P3(3304, 0, 5700)};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        r = (gw_record_t *)&n;
        n = 5;
        CHECK_EQ_INT(gw_store_read(c, &missing[i], &r, &n), -ENOENT);
        CHECK(r == NULL);
        CHECK_EQ_INT(n, 0);
    }
    p = PN(5, 3, 0, 0, 0);
    CHECK_EQ_INT(gw_store_read(c, &p, &r, &n), -EINVAL);

    /* An empty client reads empty at the root, -ENOENT below it. */
    gw_sclient_t *e = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &e), 0);
    check_read(e, PN(0, 0, 0, 0, 0), NULL, 0);
    p = PN(1, 3, 0, 0, 0);
    CHECK_EQ_INT(gw_store_read(e, &p, &r, &n), -ENOENT);
    gw_store_client_free(st, &e);
    gw_store_client_free(st, &c);
    teardown();
}

struct hook_log {
    int calls;
    bool changed;
    gw_path_t path;
    gw_value_t value;
    char text[32];
    gw_sclient_t *client;
};

static void hook(void *ctx, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *value,
                 bool changed)
{
    struct hook_log *l = ctx;
    l->calls++;
    l->changed = changed;
    l->path = *path;
    l->value = *value;
    l->client = c;
    l->text[0] = 0;
    if (value->type == GW_TYPE_STRING && value->v.bytes.len < sizeof(l->text)) {
        memcpy(l->text, value->v.bytes.ptr, value->v.bytes.len);
        l->text[value->v.bytes.len] = 0;
    }
}

/* Sets and returns the changed flag the hook saw (-1 when not called). */
static int set_changed(struct hook_log *l, gw_sclient_t *c, gw_path_t p, gw_value_t v)
{
    int before = l->calls;
    if (set(c, p, v) != 0 || l->calls != before + 1)
        return -1;
    return l->changed ? 1 : 0;
}

GW_TEST(test_hook)
{
    setup();
    struct hook_log l = {0};
    CHECK_EQ_INT(gw_store_listen(st, hook, &l), 0);
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);

    CHECK_EQ_INT(set_changed(&l, c, P3(3303, 0, 5700), vflt(20.5)), 1);
    CHECK(l.client == c);
    CHECK(rec_order(&l.path, &(gw_path_t){{3303, 0, 5700, GW_ID_NONE}, 3}) == 0);
    CHECK(l.value.type == GW_TYPE_FLOAT && l.value.v.f == 20.5);
    CHECK_EQ_INT(set_changed(&l, c, P3(3303, 0, 5700), vflt(20.5)), 0);
    CHECK_EQ_INT(set_changed(&l, c, P3(3303, 0, 5700), vflt(20.25)), 1);
    /* Signed zeros are equal; NaN is refused (no content format carries
     * it) and fires no hook. */
    CHECK_EQ_INT(set_changed(&l, c, P3(3303, 0, 5700), vflt(0.0)), 1);
    CHECK_EQ_INT(set_changed(&l, c, P3(3303, 0, 5700), vflt(-0.0)), 0);
    CHECK_EQ_INT(set_changed(&l, c, P3(3303, 0, 5700), vflt(0.0)), 0);
    int before_nan = l.calls;
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(NAN)), -EINVAL);
    CHECK_EQ_INT(l.calls, before_nan);
    CHECK_EQ_INT(set_changed(&l, c, P3(3303, 0, 5700), vflt(1e-300)), 1);

    /* Strings compare by bytes, not by the caller's pointer. */
    char a[] = "Acme", b[] = "Acme";
    CHECK_EQ_INT(set_changed(&l, c, P3(3, 0, 0), vstr(a)), 1);
    CHECK_EQ_STR(l.text, "Acme");
    CHECK(l.value.v.bytes.ptr != (const uint8_t *)a); /* the store's copy */
    CHECK_EQ_INT(set_changed(&l, c, P3(3, 0, 0), vstr(b)), 0);
    CHECK_EQ_INT(set_changed(&l, c, P3(3, 0, 0), vstr("Acmf")), 1);
    CHECK_EQ_INT(set_changed(&l, c, P3(3, 0, 0), vstr("")), 1);
    CHECK_EQ_INT(set_changed(&l, c, P3(3, 0, 0), vstr("")), 0);

    /* Multiple resources: the hook sees the 4-level path. */
    CHECK_EQ_INT(set_changed(&l, c, P4(3, 0, 11, 1), vint(3)), 1);
    CHECK(rec_order(&l.path, &(gw_path_t){{3, 0, 11, 1}, 4}) == 0);
    CHECK_EQ_INT(set_changed(&l, c, P4(3, 0, 11, 1), vint(3)), 0);
    CHECK_EQ_INT(set_changed(&l, c, P4(3, 0, 11, 0), vint(3)), 1);

    /* Booleans and object links. */
    gw_value_t t = {.type = GW_TYPE_TIME, .v.i = 100};
    CHECK_EQ_INT(set_changed(&l, c, P3(3, 0, 13), t), 1);
    CHECK_EQ_INT(set_changed(&l, c, P3(3, 0, 13), t), 0);

    /* A failed set does not call the hook. */
    int calls = l.calls;
    CHECK_EQ_INT(set(c, P3(3, 0, 0), vint(1)), -EINVAL);
    CHECK_EQ_INT(l.calls, calls);

    /* A listener may be removed. */
    CHECK_EQ_INT(gw_store_unlisten(st, hook, &l), 0);
    CHECK_EQ_INT(gw_store_unlisten(st, hook, &l), -ENOENT);
    CHECK_EQ_INT(set(c, P3(3, 0, 0), vstr("x")), 0);
    CHECK_EQ_INT(l.calls, calls);
    gw_store_client_free(st, &c);
    teardown();
}

/* ---- several listeners ---- */

enum { MAX_TRACE = 64 };
struct trace {
    char order[MAX_TRACE]; /* the listeners' tags, in call order */
    size_t n;
};

struct listener {
    struct trace *t;
    char tag;
    int calls;
    gw_store_hook_fn fn;     /* its own fn, to unsubscribe itself */
    struct listener *drop;   /* unsubscribed from inside the first call */
    struct listener *add;    /* subscribed from inside the first call */
    gw_sclient_t *nested_c;  /* set a value from inside the first call */
};

static void on_listener(void *ctx, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *value,
                        bool changed)
{
    (void)c;
    (void)path;
    (void)value;
    (void)changed;
    struct listener *l = ctx;
    if (l->t->n < MAX_TRACE - 1)
        l->t->order[l->t->n++] = l->tag;
    if (l->calls++ > 0)
        return;
    if (l->drop)
        CHECK_EQ_INT(gw_store_unlisten(st, l->drop->fn, l->drop), 0);
    if (l->add)
        CHECK_EQ_INT(gw_store_listen(st, l->add->fn, l->add), 0);
    if (l->nested_c)
        CHECK_EQ_INT(set(l->nested_c, P3(3303, 0, 5701), vstr("Cel")), 0);
}

/* A second kind of listener (another module's fn) with the same ctx. */
static void on_listener_b(void *ctx, gw_sclient_t *c, const gw_path_t *path,
                          const gw_value_t *value, bool changed)
{
    on_listener(ctx, c, path, value, changed);
}

static void listeners_setup(struct trace *t, struct listener *ls, size_t n, gw_sclient_t **c)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++)
        ls[i] = (struct listener){.t = t, .tag = (char)('a' + i), .fn = on_listener};
    CHECK_EQ_INT(gw_store_client_new(st, NULL, c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, *c, 3303, 0), 0);
}

GW_TEST(test_listeners_all_called_in_order)
{
    setup();
    struct trace t;
    struct listener ls[3];
    gw_sclient_t *c = NULL;
    listeners_setup(&t, ls, 3, &c);
    /* Subscribed b, a, c: called in that order, each with its own ctx. */
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &ls[1]), 0);
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &ls[0]), 0);
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &ls[2]), 0);
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &ls[0]), -EEXIST);
    CHECK_EQ_INT(gw_store_listen(st, NULL, &ls[0]), -EINVAL);
    /* the same ctx with another fn is another listener */
    struct listener other = {.t = &t, .tag = 'x', .fn = on_listener_b};
    CHECK_EQ_INT(gw_store_listen(st, on_listener_b, &other), 0);
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(1)), 0);
    CHECK_EQ_STR(t.order, "bacx");
    /* equal value: still every listener (changed = false) */
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(1)), 0);
    CHECK_EQ_STR(t.order, "bacxbacx");
    /* a failed set calls none */
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vint(1)), -EINVAL);
    CHECK_EQ_INT(t.n, 8);
    /* unsubscribing one leaves the others, in order */
    CHECK_EQ_INT(gw_store_unlisten(st, on_listener, &ls[0]), 0);
    CHECK_EQ_INT(gw_store_unlisten(st, on_listener, &other), -ENOENT); /* other fn */
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(2)), 0);
    CHECK_EQ_STR(t.order, "bacxbacxbcx");
    gw_store_client_free(st, &c);
    teardown(); /* the store forgets listeners still subscribed */
}

GW_TEST(test_listener_unsubscribes_inside_callback)
{
    setup();
    struct trace t;
    struct listener ls[4];
    gw_sclient_t *c = NULL;
    listeners_setup(&t, ls, 4, &c);
    /* a drops itself, b drops c (after it, not yet called), d stays */
    ls[0].drop = &ls[0];
    ls[1].drop = &ls[2];
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(gw_store_listen(st, on_listener, &ls[i]), 0);
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(1)), 0);
    /* c not called, d neither skipped nor repeated */
    CHECK_EQ_STR(t.order, "abd");
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(2)), 0);
    CHECK_EQ_STR(t.order, "abdbd");
    /* a listener that drops one before it: the one after is still called once */
    memset(&t, 0, sizeof t);
    CHECK_EQ_INT(gw_store_unlisten(st, on_listener, &ls[1]), 0);
    CHECK_EQ_INT(gw_store_unlisten(st, on_listener, &ls[3]), 0);
    struct listener e = {.t = &t, .tag = 'e', .fn = on_listener};
    struct listener f = {.t = &t, .tag = 'f', .fn = on_listener, .drop = &e};
    struct listener g = {.t = &t, .tag = 'g', .fn = on_listener};
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &e), 0);
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &f), 0);
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &g), 0);
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(3)), 0);
    CHECK_EQ_STR(t.order, "efg");
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(4)), 0);
    CHECK_EQ_STR(t.order, "efgfg");
    CHECK_EQ_INT(gw_store_unlisten(st, on_listener, &e), -ENOENT);
    gw_store_client_free(st, &c);
    teardown();
}

GW_TEST(test_listener_subscribes_and_sets_inside_callback)
{
    setup();
    struct trace t;
    struct listener ls[3];
    gw_sclient_t *c = NULL;
    listeners_setup(&t, ls, 3, &c);
    /* a subscribes c (called from the next set on, the nested one
     * included) and sets another value: a nested dispatch calls a, b, c
     * for it, then the outer one goes on with b (not c: it began without) */
    ls[0].add = &ls[2];
    ls[0].nested_c = c;
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &ls[0]), 0);
    CHECK_EQ_INT(gw_store_listen(st, on_listener, &ls[1]), 0);
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(1)), 0);
    CHECK_EQ_STR(t.order, "aabcb");
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(2)), 0);
    CHECK_EQ_STR(t.order, "aabcbabc");
    /* many listeners: the array grows */
    enum { MANY = 100 };
    static struct listener many[MANY];
    memset(&t, 0, sizeof t);
    for (int i = 0; i < MANY; i++) {
        many[i] = (struct listener){.t = &t, .tag = 'm', .fn = on_listener};
        CHECK_EQ_INT(gw_store_listen(st, on_listener, &many[i]), 0);
    }
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(3)), 0);
    int called = 0;
    for (int i = 0; i < MANY; i++)
        called += many[i].calls;
    CHECK_EQ_INT(called, MANY);
    gw_store_client_free(st, &c);
    teardown();
}

GW_TEST(test_timestamps)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    gw_path_t p = P3(3303, 0, 5700);
    gw_value_t v = vflt(1), out;
    int64_t ts = 0;
    static const int64_t stamps[] = {1, -1, 1700000000123LL, -86400000LL, ((int64_t)1 << 47) - 1,
                                     -((int64_t)1 << 47)};
    for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
        CHECK_EQ_INT(gw_store_set(st, c, &p, &v, stamps[i]), 0);
        CHECK_EQ_INT(gw_store_get(c, &p, &out, &ts), 0);
        CHECK_EQ_INT(ts, stamps[i]);
    }
    CHECK_EQ_INT(gw_store_set(st, c, &p, &v, (int64_t)1 << 47), -EINVAL);
    /* 0 means now. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    CHECK_EQ_INT(gw_store_set(st, c, &p, &v, 0), 0);
    CHECK_EQ_INT(gw_store_get(c, &p, &out, &ts), 0);
    CHECK(ts >= now_ms && ts < now_ms + 5000);
    gw_store_client_free(st, &c);
    teardown();
}

/* The shape of a typical virtual client (see tests/bench/bench_store.c). */
static void fill_client(gw_sclient_t *c, unsigned serial)
{
    char sn[24];
    snprintf(sn, sizeof(sn), "SN-%08u", serial);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 1, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3304, 0), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 0), vint(1)), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 1), vint(300)), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 2), vint(1)), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 3), vint(60)), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 6), ((gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = false})), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 7), vstr("U")), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 0), vstr("Acme Sensors")), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 1), vstr("TH-100")), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 2), vstr(sn)), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 3), vstr("1.4.2")), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 9), vint(87)), 0);
    CHECK_EQ_INT(set(c, P4(3, 0, 11, 0), vint(0)), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 13), ((gw_value_t){.type = GW_TYPE_TIME, .v.i = 1700000000})),
                 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 16), vstr("U")), 0);
    CHECK_EQ_INT(set(c, P3(3, 0, 17), vstr("thermo-hygrometer")), 0);
    static const uint16_t ipso[] = {3303, 3304};
    for (size_t i = 0; i < 2; i++) {
        CHECK_EQ_INT(set(c, P3(ipso[i], 0, 5700), vflt(20.0 + serial % 10)), 0);
        CHECK_EQ_INT(set(c, P3(ipso[i], 0, 5701), vstr(i ? "%RH" : "Cel")), 0);
        CHECK_EQ_INT(set(c, P3(ipso[i], 0, 5601), vflt(-5)), 0);
        CHECK_EQ_INT(set(c, P3(ipso[i], 0, 5602), vflt(35)), 0);
    }
}

GW_TEST(test_interning_shared)
{
    setup();
    enum { N = 1000 };
    gw_sclient_t **cs = calloc(N, sizeof(*cs));
    CHECK(cs != NULL);
    if (!cs) {
        teardown();
        return;
    }
    size_t first = 0, last = 0;
    for (unsigned i = 0; i < N; i++) {
        CHECK_EQ_INT(gw_store_client_new(st, NULL, &cs[i]), 0);
        fill_client(cs[i], i);
        if (i == 0)
            first = gw_store_client_bytes(cs[0]);
    }
    last = gw_store_client_bytes(cs[N - 1]);
    /* Sharing can only make clients cheaper; every later client costs the
     * same structure plus its own serial number. */
    CHECK(last <= first);
    CHECK(gw_store_client_bytes(cs[0]) == last);
    CHECK(gw_store_client_bytes(cs[N / 2]) == last);
    CHECK(last < 1024);
    fprintf(stderr, "  client bytes: alone %zu, in a fleet of %d %zu\n", first, N, last);

    /* Same text, same storage. */
    gw_path_t p = P3(3, 0, 0);
    gw_value_t a, b;
    CHECK_EQ_INT(gw_store_get(cs[1], &p, &a, NULL), 0);
    CHECK_EQ_INT(gw_store_get(cs[N - 1], &p, &b, NULL), 0);
    CHECK(a.v.bytes.ptr == b.v.bytes.ptr);
    p = P3(3, 0, 2);
    CHECK_EQ_INT(gw_store_get(cs[1], &p, &a, NULL), 0);
    CHECK_EQ_INT(gw_store_get(cs[2], &p, &b, NULL), 0);
    CHECK(a.v.bytes.ptr != b.v.bytes.ptr);
    CHECK_EQ_MEM(a.v.bytes.ptr, a.v.bytes.len, "SN-00000001", 11);

    /* Changing one client's string leaves the others alone. */
    CHECK_EQ_INT(set(cs[1], P3(3, 0, 0), vstr("Renamed")), 0);
    p = P3(3, 0, 0);
    CHECK_EQ_INT(gw_store_get(cs[2], &p, &b, NULL), 0);
    CHECK_EQ_MEM(b.v.bytes.ptr, b.v.bytes.len, "Acme Sensors", 12);

    /* Freeing all but one keeps the survivor's strings valid. */
    for (unsigned i = 1; i < N; i++)
        gw_store_client_free(st, &cs[i]);
    CHECK_EQ_INT(gw_store_get(cs[0], &p, &b, NULL), 0);
    CHECK_EQ_MEM(b.v.bytes.ptr, b.v.bytes.len, "Acme Sensors", 12);
    CHECK_EQ_INT(gw_store_client_bytes(cs[0]), first);
    gw_store_client_free(st, &cs[0]);
    free(cs);
    teardown();
}

GW_TEST(test_client_bytes)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    size_t empty = gw_store_client_bytes(c);
    CHECK(empty > 0 && empty <= 64);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    size_t one = gw_store_client_bytes(c);
    CHECK(one > empty);
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(1)), 0);
    size_t val = gw_store_client_bytes(c);
    CHECK(val > one);
    /* Updating in place allocates nothing. */
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), vflt(2)), 0);
    CHECK_EQ_INT(gw_store_client_bytes(c), val);
    /* An unshared string is charged in full. */
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    CHECK_EQ_INT(set(c, P3(3303, 0, 5701), vstr(big)), 0);
    CHECK(gw_store_client_bytes(c) >= val + 199);
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_client_bytes(c), empty);
    gw_store_client_free(st, &c);
    teardown();
}

/* One configured server's /0 and /1 instance, as every client gets it. */
static void fill_account(gw_sclient_t *c, int64_t lifetime)
{
    gw_value_t t = {.type = GW_TYPE_BOOLEAN, .v.b = false};
    CHECK_EQ_INT(gw_store_instance_create(st, c, 0, 0), 0);
    CHECK_EQ_INT(set(c, P3(0, 0, 0), vstr("coap://127.0.0.1:5683")), 0);
    CHECK_EQ_INT(set(c, P3(0, 0, 1), t), 0);
    CHECK_EQ_INT(set(c, P3(0, 0, 2), vint(3)), 0);
    CHECK_EQ_INT(set(c, P3(0, 0, 10), vint(1)), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 1, 0), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 0), vint(1)), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 1), vint(lifetime)), 0);
    CHECK_EQ_INT(set(c, P3(1, 0, 7), vstr("U")), 0);
}

static int64_t get_int(gw_sclient_t *c, gw_path_t p)
{
    gw_value_t v;
    CHECK_EQ_INT(gw_store_get(c, &p, &v, NULL), 0);
    return v.v.i;
}

GW_TEST(test_instance_share_copy_on_write)
{
    setup();
    enum { N = 100 };
    gw_sclient_t *cs[N] = {0};
    size_t alone = 0;
    for (unsigned i = 0; i < N; i++) {
        CHECK_EQ_INT(gw_store_client_new(st, NULL, &cs[i]), 0);
        fill_account(cs[i], i == N - 1 ? 300 : 600);
        if (i == 0)
            alone = gw_store_client_bytes(cs[0]);
        CHECK_EQ_INT(gw_store_instance_share(st, cs[i], 0, 0), 0);
        CHECK_EQ_INT(gw_store_instance_share(st, cs[i], 1, 0), 0);
        CHECK_EQ_INT(gw_store_instance_share(st, cs[i], 1, 0), 0); /* already shared */
    }
    CHECK_EQ_INT(gw_store_instance_share(st, cs[0], 1, 9), -ENOENT);
    size_t shared = gw_store_client_bytes(cs[1]);
    fprintf(stderr, "  /0 and /1 bytes: own %zu, shared by %d %zu\n", alone, N - 1, shared);
    CHECK(shared + 150 < alone);
    /* The odd one out (another lifetime) shares its /0 only. */
    CHECK(gw_store_client_bytes(cs[N - 1]) > shared);
    CHECK_EQ_INT(get_int(cs[N - 1], P3(1, 0, 1)), 300);
    CHECK_EQ_INT(get_int(cs[5], P3(1, 0, 1)), 600);

    /* A write reaches that client only, the rest of its instance kept. */
    CHECK_EQ_INT(set(cs[1], P3(1, 0, 1), vint(60)), 0);
    CHECK_EQ_INT(get_int(cs[1], P3(1, 0, 1)), 60);
    CHECK_EQ_INT(get_int(cs[1], P3(1, 0, 0)), 1);
    CHECK_EQ_INT(get_int(cs[2], P3(1, 0, 1)), 600);
    gw_value_t v;
    gw_path_t bp = P3(1, 0, 7);
    CHECK_EQ_INT(gw_store_get(cs[1], &bp, &v, NULL), 0);
    CHECK_EQ_MEM(v.v.bytes.ptr, v.v.bytes.len, "U", 1);
    CHECK(gw_store_client_bytes(cs[1]) > shared);
    /* New resources and unsets too. */
    CHECK_EQ_INT(set(cs[3], P3(0, 0, 3), (gw_value_t){.type = GW_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"id", 2}}),
                 0);
    gw_path_t idp = P3(0, 0, 3), urip = P3(0, 0, 0);
    CHECK(gw_store_has(cs[3], &idp));
    CHECK(!gw_store_has(cs[4], &idp));
    CHECK_EQ_INT(gw_store_unset(st, cs[4], &urip), 0);
    CHECK(!gw_store_has(cs[4], &urip));
    CHECK(gw_store_has(cs[5], &urip));
    CHECK_EQ_INT(gw_store_unset(st, cs[6], &idp), -ENOENT);
    /* Deleting one client's instance leaves the others'. */
    CHECK_EQ_INT(gw_store_instance_delete(st, cs[7], 1, 0), 0);
    CHECK(!gw_store_instance_exists(cs[7], 1, 0));
    CHECK_EQ_INT(get_int(cs[8], P3(1, 0, 1)), 600);
    /* Back to the common values, shared again. */
    CHECK_EQ_INT(set(cs[1], P3(1, 0, 1), vint(600)), 0);
    CHECK_EQ_INT(gw_store_instance_share(st, cs[1], 1, 0), 0);
    CHECK_EQ_INT(gw_store_client_bytes(cs[1]), gw_store_client_bytes(cs[2]));
    /* Reads see the shared values like their own. */
    gw_record_t *r = NULL;
    size_t n = 0;
    gw_path_t one = PN(1, 1, 0, 0, 0);
    CHECK_EQ_INT(gw_store_read(cs[9], &one, &r, &n), 0);
    CHECK_EQ_INT(n, 3);
    free(r);
    /* Freed in any order; the last user frees the array (ASan, valgrind). */
    for (unsigned i = 0; i < N; i += 2)
        gw_store_client_free(st, &cs[i]);
    CHECK_EQ_INT(get_int(cs[N - 3], P3(1, 0, 1)), 600);
    for (unsigned i = 1; i < N; i += 2)
        gw_store_client_free(st, &cs[i]);
    teardown();
}

GW_TEST(test_attrs)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    size_t before = gw_store_client_bytes(c);

    gw_attrs_t a = {.set = GW_ATTR_PMIN | GW_ATTR_GT, .pmin = 10, .gt = 25.5}, out;
    gw_path_t res = P3(3303, 0, 5700), inst = PN(2, 3303, 0, 0, 0), obj = PN(1, 3303, 0, 0, 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &res, &a), 0);
    CHECK(gw_store_client_bytes(c) > before);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &res, &out), 0);
    CHECK_EQ_INT(out.set, GW_ATTR_PMIN | GW_ATTR_GT);
    CHECK_EQ_INT(out.pmin, 10);
    CHECK(out.gt == 25.5);
    /* Attributes are per exact path. */
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &inst, &out), -ENOENT);
    gw_attrs_t b = {.set = GW_ATTR_PMAX, .pmax = 300};
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &obj, &b), 0);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &inst, &(gw_attrs_t){.set = GW_ATTR_ST, .st = 0.5}),
                 0);
    gw_path_t ri = P4(3, 0, 11, 0);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &ri, &(gw_attrs_t){.set = GW_ATTR_EPMIN, .epmin = 1}),
                 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &obj, &out), 0);
    CHECK_EQ_INT(out.pmax, 300);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &inst, &out), 0);
    CHECK(out.st == 0.5);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &ri, &out), 0);
    CHECK_EQ_INT(out.epmin, 1);
    /* Unused trailing ids of the caller's path do not matter. */
    gw_path_t inst_noise = PN(2, 3303, 0, 77, 88);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &inst_noise, &out), 0);
    /* Replace: the whole set. */
    gw_attrs_t r2 = {.set = GW_ATTR_LT, .lt = -1};
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &res, &r2), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &res, &out), 0);
    CHECK_EQ_INT(out.set, GW_ATTR_LT);
    CHECK(out.lt == -1);
    /* Remove. */
    gw_attrs_t none = {0};
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &res, &none), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &res, &none), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &obj, &out), 0);
    /* Bad targets. */
    gw_path_t bad[] = {PN(1, 65000, 0, 0, 0), PN(2, 3303, 5, 0, 0), P3(3303, 0, 9999),
                       P4(3303, 0, 5700, 0)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &bad[i], &a), -ENOENT);
    gw_path_t root = PN(0, 0, 0, 0, 0), five = PN(5, 3, 0, 0, 0);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &root, &a), -EINVAL);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &five, &a), -EINVAL);
    /* Deleting an instance drops the attributes below it, not the object's. */
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &res, &a), 0);
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &inst, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &obj, &out), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &ri, &out), 0);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &obj, &none), 0);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &ri, &none), 0);
    CHECK_EQ_INT(gw_store_client_bytes(c) <= before, 1); /* the attribute array went */
    gw_store_client_free(st, &c);
    teardown();
}

/* Each server's attributes are its own (Core 5.1.2): one server's set,
 * replace and remove never reach another's on the same path; removing a
 * server's account forgets its attributes only; the key costs no memory. */
GW_TEST(test_attrs_per_server)
{
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    CHECK_EQ_INT(set(c, P3(3303, 0, 5700), (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1}), 0);
    gw_path_t res = P3(3303, 0, 5700), obj = PN(1, 3303, 0, 0, 0);
    gw_attrs_t a = {.set = GW_ATTR_PMAX, .pmax = 1}, b = {.set = GW_ATTR_PMIN | GW_ATTR_GT, .pmin = 7, .gt = 3},
               out;
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 101, &res, &a), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_get(c, 101, &res, &out), 0);
    CHECK_EQ_INT(out.set, GW_ATTR_PMAX);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 102, &res, &b), 0);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 102, &obj, &a), 0);
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 7, &res, &b), 0); /* sorts before 101 */
    CHECK_EQ_INT(gw_store_attrs_get(c, 101, &res, &out), 0);
    CHECK_EQ_INT(out.set, GW_ATTR_PMAX);
    CHECK_EQ_INT(out.pmax, 1);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &res, &out), 0);
    CHECK_EQ_INT(out.set, GW_ATTR_PMIN | GW_ATTR_GT);
    CHECK_EQ_INT(out.pmin, 7);
    CHECK_EQ_INT(gw_store_attrs_get(c, 101, &obj, &out), -ENOENT);
    /* Removing 101's set leaves 102's and 7's. */
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 101, &res, &(gw_attrs_t){0}), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 101, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &res, &out), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 7, &res, &out), 0);
    /* Server 7's account goes: its attributes with it, 102's stay. */
    uint16_t keep[] = {101, 102};
    gw_store_attrs_keep_servers(c, keep, 2);
    CHECK_EQ_INT(gw_store_attrs_get(c, 7, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &res, &out), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &obj, &out), 0);
    /* An instance deleted drops what every server set below it. */
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 101, &res, &a), 0);
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 101, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &res, &out), -ENOENT);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &obj, &out), 0);
    gw_store_attrs_keep_servers(c, NULL, 0);
    CHECK_EQ_INT(gw_store_attrs_get(c, 102, &obj, &out), -ENOENT);
    gw_store_client_free(st, &c);
    teardown();
}

GW_TEST(test_many_values_order)
{
    /* Inserts in scrambled order end up sorted (exercises growth + memmove). */
    setup();
    gw_sclient_t *c = NULL;
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    enum { N = 500 };
    for (unsigned i = 0; i < N; i++) {
        uint16_t riid = (uint16_t)((i * 7919u) % N);
        CHECK_EQ_INT(set(c, P4(3, 0, 11, riid), vint(riid)), 0);
    }
    for (unsigned i = 0; i < 40; i++)
        CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, (uint16_t)((i * 13u) % 40)), 0);
    CHECK_EQ_INT(gw_store_instance_free_id(c, 3303), 40);
    gw_record_t *r = NULL;
    size_t n = 0;
    gw_path_t p = PN(3, 3, 0, 11, 0);
    CHECK_EQ_INT(gw_store_read(c, &p, &r, &n), 0);
    CHECK_EQ_INT(n, N);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(r[i].path.id[3], i);
        CHECK_EQ_INT(r[i].value.v.i, (int64_t)i);
    }
    free(r);
    for (size_t i = 0; i < 40; i++) {
        uint16_t o, n2;
        CHECK_EQ_INT(gw_store_instance_at(c, i + 1, &o, &n2), 0);
        CHECK_EQ_INT(o, 3303);
        CHECK_EQ_INT(n2, i);
    }
    gw_store_client_free(st, &c);
    teardown();
}

/* A supported object outlives its last instance (LwM2M 1.1 6.2.1): it is
 * still listed, reads as empty, and takes new instances. */
GW_TEST(test_kept_object_without_instances)
{
    setup();
    gw_sclient_t *c = NULL;
    gw_record_t *recs = NULL;
    size_t n = 99;
    uint16_t o, i;
    const gw_path_t val = P3(3300, 0, 5700), obj = PN(1, 3300, 0, 0, 0), inst = PN(2, 3300, 0, 0, 0);
    const gw_path_t root = PN(0, 0, 0, 0, 0);
    const gw_value_t one = vflt(1);
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &c), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3300, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_set(st, c, &val, &one, 0), 0);
    gw_attrs_t a = {.set = GW_ATTR_PMAX, .pmax = 7}, got;
    CHECK_EQ_INT(gw_store_attrs_set(st, c, 1, &obj, &a), 0);

    CHECK_EQ_INT(gw_store_object_keep(st, c, 3300), 0);
    CHECK_EQ_INT(gw_store_object_keep(st, c, 3300), 0); /* once is enough */
    CHECK_EQ_INT(gw_store_object_keep(st, c, 65000), -ENOENT);
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3300, 0), 0);
    CHECK(!gw_store_object_exists(c, 3300));
    CHECK(gw_store_object_supported(c, 3300));
    CHECK(!gw_store_object_supported(c, 3304));
    CHECK(!gw_store_instance_exists(c, 3300, GW_ID_NONE));
    /* listed as the object's own entry after its instances */
    CHECK_EQ_INT(gw_store_instance_count(c), 2);
    CHECK_EQ_INT(gw_store_instance_at(c, 0, &o, &i), 0);
    CHECK(o == 3300 && i == GW_ID_NONE);
    /* reads hold nothing, whole-client reads skip it */
    CHECK_EQ_INT(gw_store_read(c, &obj, &recs, &n), 0);
    CHECK(n == 0 && recs == NULL);
    CHECK_EQ_INT(gw_store_read(c, &root, &recs, &n), 0);
    CHECK_EQ_INT(n, 0);
    free(recs);
    CHECK_EQ_INT(gw_store_read(c, &inst, &recs, &n), -ENOENT);
    CHECK_EQ_INT(gw_store_set(st, c, &val, &one, 0),
                 -ENOENT);
    /* the object's attributes stay with it */
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &obj, &got), 0);
    CHECK_EQ_INT(got.pmax, 7);
    /* a new instance; the object stays kept when it goes again */
    CHECK_EQ_INT(gw_store_instance_free_id(c, 3300), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3300, 0), 0);
    CHECK(gw_store_object_exists(c, 3300));
    CHECK_EQ_INT(gw_store_instance_count(c), 3);
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3300, 0), 0);
    CHECK(gw_store_object_supported(c, 3300));
    /* the gateway's own removal (a reload) drops the keep and the attributes */
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3300, GW_ID_NONE), 0);
    CHECK(!gw_store_object_supported(c, 3300));
    CHECK_EQ_INT(gw_store_attrs_get(c, 1, &obj, &got), -ENOENT);
    CHECK_EQ_INT(gw_store_instance_delete(st, c, 3300, GW_ID_NONE), -ENOENT);
    /* a single-instance object kept empty takes its one instance again */
    CHECK_EQ_INT(gw_store_object_keep(st, c, 3), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, c, 3, 1), -EPERM);
    gw_store_client_free(st, &c);
    teardown();
}

GW_TEST_MAIN(test_instances, test_types, test_errors, test_multiple_and_unset, test_read_levels,
             test_hook, test_listeners_all_called_in_order,
             test_listener_unsubscribes_inside_callback,
             test_listener_subscribes_and_sets_inside_callback, test_timestamps, test_interning_shared, test_client_bytes,
             test_instance_share_copy_on_write, test_attrs, test_attrs_per_server,
             test_many_values_order, test_kept_object_without_instances)
