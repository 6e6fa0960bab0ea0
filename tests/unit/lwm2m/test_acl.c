/* Unit tests for lwm2m/acl.c: the rights decision of LwM2M 1.1.1 Core 7.3
 * as a table, the Access Control instances in the store, the check of
 * values servers write to object 2, and the registration payload narrowed
 * to what one server may see. */
#include "gwtest.h"

#include "lwm2m/acl.h"
#include "lwm2m/check.h"
#include "lwm2m/codec.h"
#include "lwm2m/links.h"
#include "lwm2m/lwm2m.h"

#include <errno.h>

/* Short Server IDs of the table: 101 owns, 102 and 103 are others. */
enum { OWNER = 101, OTHER = 102, THIRD = 103 };

GW_TEST(decide_table)
{
    static const struct {
        const char *name;
        size_t n_servers;
        uint16_t ssid;
        gw_acl_view_t v;
        uint8_t want;
    } cases[] = {
        {"one server: everything, no instance needed", 1, OTHER, {0}, GW_ACL_ALL},
        {"one server: everything, even if an ACL says less", 1, OTHER, {true, OWNER, true, 0, true, 0}, GW_ACL_ALL},
        {"no server configured yet", 0, OTHER, {0}, GW_ACL_ALL},
        {"two servers, no Access Control instance: nothing", 2, OWNER, {0}, 0},
        {"owner without an ACL entry: everything", 2, OWNER, {true, OWNER, false, 0, false, 0}, GW_ACL_ALL},
        {"owner with its own entry: that entry", 2, OWNER, {true, OWNER, true, GW_ACL_R, false, 0}, GW_ACL_R},
        {"owner ignores the default", 2, OWNER, {true, OWNER, false, 0, true, GW_ACL_R}, GW_ACL_ALL},
        {"other server: its entry", 2, OTHER, {true, OWNER, true, GW_ACL_R | GW_ACL_W, true, GW_ACL_ALL},
         GW_ACL_R | GW_ACL_W},
        {"other server: entry 0 grants nothing, default not used", 2, OTHER, {true, OWNER, true, 0, true, GW_ACL_R},
         0},
        {"other server without entry: the default", 2, THIRD, {true, OWNER, false, 0, true, GW_ACL_R | GW_ACL_E},
         GW_ACL_R | GW_ACL_E},
        {"other server, no entry, no default: nothing", 2, THIRD, {true, OWNER, false, 0, false, 0}, 0},
        {"bootstrap-owned (65535): no server is owner", 3, OTHER, {true, GW_ACL_MAX_ID, false, 0, false, 0}, 0},
        {"reserved bits dropped", 2, OTHER, {true, OWNER, true, 0xff, false, 0}, GW_ACL_ALL},
        {"SSID 0 is never the owner", 2, 0, {true, 0, false, 0, false, 0}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t got = gw_acl_decide(cases[i].n_servers, cases[i].ssid, &cases[i].v);
        if (got != cases[i].want)
            fprintf(stderr, "  case \"%s\": got %u, want %u\n", cases[i].name, got, cases[i].want);
        CHECK_EQ_INT(got, cases[i].want);
    }
    CHECK_EQ_INT(gw_acl_decide(2, OWNER, NULL), 0);
}

GW_TEST(op_table)
{
    static const struct {
        uint8_t rights;
        gw_acl_op_t op;
        bool want;
    } cases[] = {
        {GW_ACL_R, GW_ACL_OP_READ, true},          {GW_ACL_R, GW_ACL_OP_OBSERVE, true},
        {GW_ACL_R, GW_ACL_OP_WRITE_ATTRS, true},   {GW_ACL_R, GW_ACL_OP_DISCOVER, true},
        {GW_ACL_R, GW_ACL_OP_WRITE, false},        {GW_ACL_R, GW_ACL_OP_EXECUTE, false},
        {GW_ACL_W, GW_ACL_OP_WRITE, true},         {GW_ACL_W, GW_ACL_OP_READ, false},
        {GW_ACL_W, GW_ACL_OP_WRITE_ATTRS, false},  {GW_ACL_W, GW_ACL_OP_DISCOVER, true},
        {GW_ACL_E, GW_ACL_OP_EXECUTE, true},       {GW_ACL_E, GW_ACL_OP_DELETE, false},
        {GW_ACL_D, GW_ACL_OP_DELETE, true},        {GW_ACL_D, GW_ACL_OP_CREATE, false},
        {GW_ACL_C, GW_ACL_OP_CREATE, true},        {GW_ACL_C, GW_ACL_OP_WRITE, false},
        {0, GW_ACL_OP_DISCOVER, true},             {0, GW_ACL_OP_READ, false},
        {GW_ACL_ALL, GW_ACL_OP_DELETE, true},      {GW_ACL_ALL, GW_ACL_OP_CREATE, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = gw_acl_op_allowed(cases[i].rights, cases[i].op);
        if (got != cases[i].want)
            fprintf(stderr, "  case %zu (rights %u, op %d): got %d\n", i, cases[i].rights, cases[i].op, got);
        CHECK(got == cases[i].want);
    }
}

static gw_registry_t *reg;
static gw_store_t *st;
static gw_sclient_t *cl;

static void setup(void)
{
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    CHECK_EQ_INT(gw_store_new(reg, &st), 0);
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &cl), 0);
}

static void teardown(void)
{
    gw_store_client_free(st, &cl);
    gw_store_free(&st);
    gw_registry_free(&reg);
}

GW_TEST(instances_in_store)
{
    setup();
    static const uint16_t ssid[] = {OTHER, 0};
    static const uint8_t rights[] = {GW_ACL_R | GW_ACL_W, GW_ACL_R};
    uint16_t x = 7;
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 3303, 0, OWNER, ssid, rights, 2, &x), 0);
    CHECK_EQ_INT(x, 0);
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 3303, 1, OTHER, NULL, NULL, 0, &x), 0);
    CHECK_EQ_INT(x, 1);
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 3303, 0, OWNER, NULL, NULL, 0, NULL), -EEXIST);
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 2, 0, OWNER, NULL, NULL, 0, NULL), -EINVAL);
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 0, 0, OWNER, NULL, NULL, 0, NULL), -EINVAL);
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 3304, 0, 0, NULL, NULL, 0, NULL), -EINVAL);
    static const uint8_t too_big[] = {32};
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 3304, 0, OWNER, ssid, too_big, 1, NULL), -EINVAL);

    /* The resources are the object's: /2/0/0 Object ID, /2/0/1 Instance, /2/0/2/s ACL, /2/0/3 Owner. */
    gw_value_t v;
    CHECK_EQ_INT(gw_store_get(cl, &(gw_path_t){{2, 0, 0, 0}, 3}, &v, NULL), 0);
    CHECK_EQ_INT(v.v.i, 3303);
    CHECK_EQ_INT(gw_store_get(cl, &(gw_path_t){{2, 0, 2, OTHER}, 4}, &v, NULL), 0);
    CHECK_EQ_INT(v.v.i, GW_ACL_R | GW_ACL_W);
    CHECK_EQ_INT(gw_store_get(cl, &(gw_path_t){{2, 0, 3, 0}, 3}, &v, NULL), 0);
    CHECK_EQ_INT(v.v.i, OWNER);

    gw_acl_view_t view;
    uint16_t aco;
    CHECK_EQ_INT(gw_acl_lookup(cl, 3303, 0, OTHER, &view, &aco), 0);
    CHECK(view.found && view.has_own && view.own == (GW_ACL_R | GW_ACL_W) && view.has_default && view.dflt == GW_ACL_R);
    CHECK_EQ_INT(view.owner, OWNER);
    CHECK_EQ_INT(aco, 0);
    CHECK_EQ_INT(gw_acl_decide(2, OTHER, &view), GW_ACL_R | GW_ACL_W);
    CHECK_EQ_INT(gw_acl_lookup(cl, 3303, 0, THIRD, &view, NULL), 0);
    CHECK_EQ_INT(gw_acl_decide(2, THIRD, &view), GW_ACL_R);
    CHECK_EQ_INT(gw_acl_lookup(cl, 3303, 1, OTHER, &view, NULL), 0);
    CHECK_EQ_INT(gw_acl_decide(2, OTHER, &view), GW_ACL_ALL); /* the owner */
    CHECK_EQ_INT(gw_acl_lookup(cl, 3304, 0, OTHER, &view, &aco), -ENOENT);
    CHECK(!view.found);
    CHECK_EQ_INT(aco, GW_ID_NONE);
    teardown();
}

static void set_i(uint16_t oid, uint16_t iid, uint16_t rid, int64_t x)
{
    gw_value_t v = {.type = GW_TYPE_INTEGER};
    v.v.i = x;
    CHECK_EQ_INT(gw_store_set(st, cl, &(gw_path_t){{oid, iid, rid, 0}, 3}, &v, 0), 0);
}

static void set_b(uint16_t oid, uint16_t iid, uint16_t rid, bool b)
{
    gw_value_t v = {.type = GW_TYPE_BOOLEAN};
    v.v.b = b;
    CHECK_EQ_INT(gw_store_set(st, cl, &(gw_path_t){{oid, iid, rid, 0}, 3}, &v, 0), 0);
}

/* A /0 + /1 pair, as accounts.c writes one (bootstrap: no SSID in /0). */
static void account(uint16_t iid, uint16_t ssid, bool bootstrap)
{
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 0, iid), 0);
    set_b(0, iid, 1, bootstrap);
    if (!bootstrap)
        set_i(0, iid, 10, ssid);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 1, iid), 0);
    set_i(1, iid, 0, ssid);
}

/* "Several servers" counts management server accounts: a bootstrap
 * server's /0 (and the /1 a bootstrapping client keeps for it) does not
 * turn Access Control on. */
GW_TEST(server_accounts)
{
    setup();
    CHECK_EQ_INT(gw_acl_server_accounts(cl), 0);
    account(0, 1, true); /* the bootstrap server, /1/0 with SSID 1 */
    CHECK_EQ_INT(gw_acl_server_accounts(cl), 0);
    account(1, OWNER, false);
    CHECK_EQ_INT(gw_acl_server_accounts(cl), 1);
    /* A /1 instance no /0 names is no account. */
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 1, 5), 0);
    set_i(1, 5, 0, THIRD);
    CHECK_EQ_INT(gw_acl_server_accounts(cl), 1);
    account(2, OTHER, false);
    CHECK_EQ_INT(gw_acl_server_accounts(cl), 2);
    teardown();
}

/* access_owner: every instance without a /2 instance gets one of the
 * owner's, /1 instances their own server's, multiple-instance objects the
 * owner's Create right; what is already there stays. */
GW_TEST(fill_owner)
{
    setup();
    account(0, OWNER, false);
    account(1, OTHER, false);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3303, 1), 0);
    static const uint16_t ssid[] = {OTHER};
    static const uint8_t rights[] = {GW_ACL_R};
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 3303, 1, OTHER, ssid, rights, 1, NULL), 0);
    size_t added = 99;
    CHECK_EQ_INT(gw_acl_fill_owner(st, cl, OWNER, &added), 0);
    /* /1/0 /1/1 /3/0 /3303/0 and /3303/65535 (3 is single-instance) */
    CHECK_EQ_INT(added, 5);
    gw_acl_view_t v;
    CHECK_EQ_INT(gw_acl_lookup(cl, 3303, 0, OTHER, &v, NULL), 0);
    CHECK_EQ_INT(v.owner, OWNER);
    CHECK(!v.has_own && !v.has_default);
    CHECK_EQ_INT(gw_acl_decide(2, OWNER, &v), GW_ACL_ALL);
    CHECK_EQ_INT(gw_acl_decide(2, OTHER, &v), 0);
    CHECK_EQ_INT(gw_acl_lookup(cl, 3303, 1, OTHER, &v, NULL), 0);
    CHECK_EQ_INT(v.owner, OTHER); /* kept */
    CHECK_EQ_INT(gw_acl_lookup(cl, 1, 1, OTHER, &v, NULL), 0);
    CHECK_EQ_INT(v.owner, OTHER); /* each server owns its own account */
    CHECK_EQ_INT(gw_acl_lookup(cl, 3, 0, OWNER, &v, NULL), 0);
    CHECK_EQ_INT(v.owner, OWNER);
    CHECK_EQ_INT(gw_acl_lookup(cl, 3303, GW_ACL_MAX_ID, OWNER, &v, NULL), 0);
    CHECK_EQ_INT(v.owner, GW_ACL_MAX_ID);
    CHECK(v.has_own && v.own == GW_ACL_C);
    CHECK_EQ_INT(gw_acl_decide(2, OWNER, &v), GW_ACL_C);
    CHECK_EQ_INT(gw_acl_lookup(cl, 3, GW_ACL_MAX_ID, OWNER, &v, NULL), -ENOENT);
    /* Again: nothing new. */
    CHECK_EQ_INT(gw_acl_fill_owner(st, cl, OWNER, &added), 0);
    CHECK_EQ_INT(added, 0);
    CHECK_EQ_INT(gw_acl_fill_owner(st, cl, 0, NULL), -EINVAL);
    CHECK_EQ_INT(gw_acl_fill_owner(st, cl, GW_ACL_MAX_ID, NULL), -EINVAL);
    teardown();
}

static int check_val(const gw_path_t *p, int64_t x, char *why, size_t size)
{
    const gw_objdef_t *o = gw_registry_find(reg, p->id[0]);
    const gw_resdef_t *d = o ? gw_objdef_find_res(o, p->id[2]) : NULL;
    gw_value_t v = {.type = GW_TYPE_INTEGER};
    v.v.i = x;
    why[0] = '\0';
    return d ? gw_value_check_res(d, p, &v, why, size) : -ENOENT;
}

/* What a server (or a bootstrap server) may write into object 2. */
GW_TEST(values_written)
{
    char why[160];
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    const gw_path_t acl = {{2, 0, 2, OTHER}, 4}, dflt = {{2, 0, 2, 0}, 4}, owner = {{2, 0, 3, 0}, 3},
                    obj = {{2, 0, 0, 0}, 3}, inst = {{2, 0, 1, 0}, 3};
    CHECK_EQ_INT(check_val(&acl, 0, why, sizeof why), 0);
    CHECK_EQ_INT(check_val(&acl, 31, why, sizeof why), 0);
    CHECK_EQ_INT(check_val(&acl, 32, why, sizeof why), -EINVAL);
    CHECK(strstr(why, "/2/0/2/102") != NULL);
    CHECK_EQ_INT(check_val(&acl, -1, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(check_val(&dflt, 1, why, sizeof why), 0);
    CHECK_EQ_INT(check_val(&owner, OTHER, why, sizeof why), 0);
    CHECK_EQ_INT(check_val(&owner, 65535, why, sizeof why), 0);
    CHECK_EQ_INT(check_val(&owner, 0, why, sizeof why), -EINVAL);
    CHECK(strstr(why, "Access Control Owner") != NULL);
    CHECK_EQ_INT(check_val(&owner, 65536, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(check_val(&obj, 3303, why, sizeof why), 0);
    CHECK_EQ_INT(check_val(&obj, 2, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(check_val(&obj, 0, why, sizeof why), -EINVAL);
    CHECK_EQ_INT(check_val(&inst, 65535, why, sizeof why), 0);
    CHECK_EQ_INT(check_val(&inst, 65536, why, sizeof why), -EINVAL);
    gw_registry_free(&reg);
}

static bool only_even(void *ctx, uint16_t oid, uint16_t iid)
{
    (void)ctx;
    return oid == 2 || iid % 2 == 0;
}

/* A server is told of the instances it has a right on; an object all of
 * whose instances are hidden is still listed alone. */
GW_TEST(registration_filtered)
{
    setup();
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 1, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3303, 0), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3303, 1), 0);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3304, 1), 0);
    CHECK_EQ_INT(gw_acl_instance_add(st, cl, 3303, 1, OWNER, NULL, NULL, 0, NULL), 0);
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_links_registration(cl, reg, GW_CF_LWM2M_TLV, only_even, NULL, &b), 0);
    CHECK_EQ_INT(gw_buf_append(&b, "", 1), 0);
    CHECK_EQ_STR((char *)b.data, "</>;rt=\"oma.lwm2m\",</1/0>,</2>;ver=1.1,</2/0>,</3/0>,</3303>;ver=1.1,</3303/0>,</3304>;ver=1.1");
    gw_buf_free(&b);
    CHECK_EQ_INT(gw_links_registration(cl, reg, GW_CF_LWM2M_TLV, NULL, NULL, &b), 0);
    CHECK_EQ_INT(gw_buf_append(&b, "", 1), 0);
    CHECK_EQ_STR((char *)b.data,
                 "</>;rt=\"oma.lwm2m\",</1/0>,</2>;ver=1.1,</2/0>,</3/0>,</3303>;ver=1.1,</3303/0>,</3303/1>,</3304>;ver=1.1,"
                 "</3304/1>");
    gw_buf_free(&b);
    /* Discover of an object lists the instances the filter keeps. */
    CHECK_EQ_INT(gw_links_discover_filtered(cl, 0, reg, &(gw_path_t){{3303, 0, 0, 0}, 1}, only_even, NULL, &b), 0);
    CHECK_EQ_INT(gw_buf_append(&b, "", 1), 0);
    CHECK(strstr((char *)b.data, "</3303/0>") != NULL);
    CHECK(strstr((char *)b.data, "</3303/1>") == NULL);
    gw_buf_free(&b);
    teardown();
}

GW_TEST_MAIN(decide_table, op_table, instances_in_store, server_accounts, fill_owner, values_written,
             registration_filtered)
