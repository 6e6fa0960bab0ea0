/* Unit tests for mapping/resolve.c and mapping/mapping.c: devices are
 * configured by filling gw_config_device_t by hand. */
#include "gwtest.h"

#include "mapping/mapping.h"

#include <errno.h>

static gw_registry_t *reg;
static gw_store_t *st;
static gw_mapping_t *map;
static gw_sclient_t *cl;

static void setup(void)
{
    reg = NULL;
    st = NULL;
    map = NULL;
    cl = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    CHECK_EQ_INT(gw_store_new(reg, &st), 0);
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &cl), 0);
    CHECK_EQ_INT(gw_mapping_new(st, reg, &map), 0);
}

static void teardown(void)
{
    gw_mapping_free(&map);
    CHECK(map == NULL);
    gw_store_client_free(st, &cl);
    gw_store_free(&st);
    gw_registry_free(&reg);
}

static gw_config_field_t field(const char *name, const char *path)
{
    gw_config_field_t f = {.field = (char *)name, .scale = 1.0, .line = 10};
    if (path)
        CHECK_EQ_INT(gw_path_parse(path, &f.path), 0);
    return f;
}

static gw_config_device_t device(gw_config_field_t *f, size_t n)
{
    gw_config_device_t d = {.endpoint = "dev1", .adapter = "static", .fields = f, .n_fields = n};
    return d;
}

static char *pathstr(const gw_path_t *p)
{
    static char buf[4][32];
    static int i;
    i = (i + 1) % 4;
    return gw_path_format(p, buf[i], sizeof buf[i]);
}

static double get_f(uint16_t o, uint16_t i, uint16_t r)
{
    gw_value_t v;
    if (gw_store_get(cl, &(gw_path_t){{o, i, r, GW_ID_NONE}, 3}, &v, NULL) < 0)
        return -99999;
    if (v.type == GW_TYPE_FLOAT)
        return v.v.f;
    if (v.type == GW_TYPE_INTEGER || v.type == GW_TYPE_TIME)
        return (double)v.v.i;
    if (v.type == GW_TYPE_BOOLEAN)
        return v.v.b;
    return -88888;
}

static bool get_s(uint16_t o, uint16_t i, uint16_t r, const char *want)
{
    gw_value_t v;
    if (gw_store_get(cl, &(gw_path_t){{o, i, r, GW_ID_NONE}, 3}, &v, NULL) < 0)
        return false;
    return v.type == GW_TYPE_STRING && v.v.bytes.len == strlen(want) &&
           memcmp(v.v.bytes.ptr, want, v.v.bytes.len) == 0;
}

static int reading_f(const char *key, const char *fieldname, double x, const char *unit)
{
    gw_reading_t r = {.device_key = key, .field = fieldname, .unit = unit,
                      .value = {.type = GW_TYPE_FLOAT, .v.f = x}, .ts_ms = 1700000000123};
    return gw_mapping_reading(map, &r);
}

GW_TEST(test_resolve_explicit_and_defaults)
{
    setup();
    gw_config_field_t f[4] = {field("temperature", NULL), field("t_probe", "/3303/0/5700"),
                              field("temperature_2", NULL), field("humidity", NULL)};
    f[1].unit = "Fahrenheit";
    gw_config_device_t d = device(f, 4);
    gw_map_target_t *t = NULL;
    size_t n = 0;
    char err[200];
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), 0);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        /* explicit /3303/0 first; the kinds take the next free ids in order */
        CHECK_EQ_STR(pathstr(&t[0].path), "/3303/1/5700");
        CHECK_EQ_STR(pathstr(&t[1].path), "/3303/0/5700");
        CHECK_EQ_INT(t[1].conv, GW_CONV_F_TO_C);
        CHECK_EQ_STR(t[1].lwm2m_unit, "Cel");
        CHECK_EQ_INT(t[1].line, 10);
        CHECK_EQ_STR(pathstr(&t[2].path), "/3303/2/5700");
        CHECK_EQ_STR(pathstr(&t[3].path), "/3304/0/5700");
        CHECK_EQ_STR(t[3].lwm2m_unit, "%RH");
        CHECK_EQ_INT(t[3].type, GW_TYPE_FLOAT);
        CHECK_EQ_INT(t[0].line, 10);
    }
    free(t);
    teardown();
}

GW_TEST(test_resolve_single_instance_and_sims)
{
    setup();
    gw_config_field_t f[2] = {field("battery", NULL), field("acceleration_x", NULL)};
    /* What the simulated adapter declares for three simulate entries. */
    gw_field_decl_t s[3] = {{.field = "acceleration_y"},
                            {.field = "battery"},
                            {.field = "pressure", .unit = "Pa", .line = 7}};
    gw_config_device_t d = device(f, 2);
    d.adapter = "simulated";
    d.decls = s;
    d.n_decls = 3;
    gw_map_target_t *t = NULL;
    size_t n = 0;
    char err[200];
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), 0);
    CHECK_EQ_INT(n, 4); /* battery is both configured and simulated: once */
    if (n == 4) {
        CHECK_EQ_STR(pathstr(&t[0].path), "/3/0/9");
        CHECK_EQ_INT(t[0].type, GW_TYPE_INTEGER);
        CHECK_EQ_STR(pathstr(&t[1].path), "/3313/0/5702");
        CHECK_EQ_STR(pathstr(&t[2].path), "/3313/0/5703");
        CHECK_EQ_STR(pathstr(&t[3].path), "/3315/0/5700");
        CHECK_EQ_INT(t[3].conv, GW_CONV_PA_TO_HPA);
        CHECK_EQ_INT(t[3].line, 7);
    }
    free(t);
    teardown();
}

GW_TEST(test_resolve_errors)
{
    setup();
    gw_map_target_t *t = NULL;
    size_t n = 0;
    char err[200];
    gw_config_field_t f[2] = {field("a", "/3303/0/5700"), field("b", "/3303/0/5700")};
    gw_config_device_t d = device(f, 2);
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK_EQ_STR(err, "fields \"a\" and \"b\" both land on /3303/0/5700");
    CHECK(t == NULL);

    f[0] = field("temperature", NULL);
    f[1] = field("x", "/3303/0/5700");
    d = device(f, 2);
    /* the kind avoids the explicit instance: no clash */
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), 0);
    free(t);
    t = NULL;

    f[0] = field("mystery", NULL);
    d = device(f, 1);
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "\"mystery\"") != NULL);

    f[0] = field("x", "/3303/0/9999");
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "no resource 9999") != NULL);

    f[0] = field("x", "/3/1/9");
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "single-instance") != NULL);

    f[0] = field("x", "/3/0/7"); /* multiple resource */
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);

    f[0] = field("x", "/1/0/1"); /* the gateway's own */
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);

    f[0] = field("x", "/3303/0/5605"); /* Execute, not writable */
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);

    f[0] = field("temperature", NULL);
    f[0].unit = "furlong";
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "furlong") != NULL);

    f[0] = field("temperature", NULL);
    f[1] = field("temperature", "/3303/4/5700");
    d = device(f, 2);
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "mapped twice") != NULL);
    teardown();
}

GW_TEST(test_add_device_creates_instances)
{
    setup();
    gw_config_field_t f[3] = {field("temperature", NULL), field("battery", NULL),
                              field("on_off", NULL)};
    f[0].application_type = "boiler";
    gw_config_device_t d = device(f, 3);
    CHECK_EQ_INT(gw_store_instance_create(st, cl, 3, 0), 0); /* as the gateway does */
    CHECK_EQ_INT(gw_mapping_add_device(map, "static:dev1", cl, &d), 0);
    CHECK_EQ_INT(gw_mapping_add_device(map, "static:dev1", cl, &d), -EEXIST);
    CHECK(gw_store_instance_exists(cl, 3303, 0));
    CHECK(gw_store_instance_exists(cl, 3342, 0));
    CHECK(get_s(3303, 0, 5701, "Cel"));
    CHECK(get_s(3303, 0, 5750, "boiler"));
    const gw_map_target_t *t;
    size_t n;
    CHECK_EQ_INT(gw_mapping_targets(map, "static:dev1", &t, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(gw_mapping_targets(map, "static:nope", &t, &n), -ENOENT);

    const char *key = NULL;
    const gw_map_target_t *ft = NULL;
    gw_path_t p = {{3342, 0, 5500, GW_ID_NONE}, 3};
    CHECK_EQ_INT(gw_mapping_find_path(map, cl, &p, &key, &ft), 0);
    CHECK_EQ_STR(key, "static:dev1");
    CHECK_EQ_STR(ft ? ft->field : NULL, "on_off");
    p.id[2] = 5501;
    CHECK_EQ_INT(gw_mapping_find_path(map, cl, &p, &key, &ft), -ENOENT);

    CHECK_EQ_INT(gw_mapping_remove_device(map, "static:dev1"), 0);
    CHECK_EQ_INT(gw_mapping_remove_device(map, "static:dev1"), -ENOENT);
    CHECK_EQ_INT(reading_f("static:dev1", "temperature", 1, NULL), -ENOENT);
    teardown();
}

GW_TEST(test_reading_scale_offset_clamp_units)
{
    setup();
    gw_config_field_t f[3] = {field("t_raw", "/3303/0/5700"), field("energy", NULL),
                              field("humidity", NULL)};
    f[0].scale = 0.1;
    f[0].offset = -5;
    f[2].has_min = f[2].has_max = true;
    f[2].min = 0;
    f[2].max = 100;
    f[1].unit = "Wh";
    gw_config_device_t d = device(f, 3);
    CHECK_EQ_INT(gw_mapping_add_device(map, "static:dev1", cl, &d), 0);
    CHECK_EQ_INT(reading_f("static:dev1", "t_raw", 255, NULL), 0);
    CHECK_NEAR(get_f(3303, 0, 5700), 20.5, 1e-9);
    /* the reading's own unit wins over the configured one */
    CHECK_EQ_INT(reading_f("static:dev1", "t_raw", 523.15, "K"), 0);
    CHECK_NEAR(get_f(3303, 0, 5700), 250 * 0.1 - 5, 1e-9);
    CHECK_EQ_INT(reading_f("static:dev1", "energy", 1500, NULL), 0);
    CHECK_NEAR(get_f(3331, 0, 5700), 1.5, 1e-9);
    CHECK_EQ_INT(reading_f("static:dev1", "energy", 2.5, "kWh"), 0);
    CHECK_NEAR(get_f(3331, 0, 5700), 2.5, 1e-9);
    CHECK_EQ_INT(reading_f("static:dev1", "energy", 2.5, "furlong"), -EINVAL);
    CHECK_EQ_INT(reading_f("static:dev1", "humidity", 104, NULL), 0);
    CHECK_NEAR(get_f(3304, 0, 5700), 100, 1e-9);
    CHECK_EQ_INT(reading_f("static:dev1", "humidity", -3, NULL), 0);
    CHECK_NEAR(get_f(3304, 0, 5700), 0, 1e-9);
    gw_mapping_stats_t s;
    gw_mapping_get_stats(map, &s);
    CHECK_EQ_INT(s.readings, 6);
    CHECK_EQ_INT(s.rejected, 1);
    teardown();
}

/* Issue 8: a reading that tells its decimals keeps them through the
 * mapping's conversions; one that does not is converted as a double. */
GW_TEST(test_reading_keeps_the_source_precision)
{
    setup();
    gw_config_field_t f[3] = {field("t_f", "/3303/0/5700"), field("energy", NULL),
                              field("t_k", "/3303/1/5700")};
    f[0].unit = "F";
    f[1].unit = "Wh";
    f[2].unit = "K";
    f[2].offset = 0.5;
    gw_config_device_t d = device(f, 3);
    CHECK_EQ_INT(gw_mapping_add_device(map, "static:dev1", cl, &d), 0);
    gw_reading_t r = {.device_key = "static:dev1", .field = "t_f", .has_decimals = true, .decimals = 1,
                      .value = {.type = GW_TYPE_FLOAT, .v.f = 73.4}, .ts_ms = 1700000000123};
    CHECK(gw_unit_conv_apply(GW_CONV_F_TO_C, 73.4) != 23.0); /* the noise this removes */
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_f(3303, 0, 5700) == 23.0);
    r.value.v.f = 71.3; /* 21.8333... */
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_f(3303, 0, 5700) == 21.833);
    r.field = "energy"; /* 1234.7 Wh: 3 more decimals in kWh */
    r.value.v.f = 1234.7;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_f(3331, 0, 5700) == 1.2347);
    r.field = "t_k"; /* 293.2 K + 0.5 = 20.55 Cel */
    r.value.v.f = 293.2;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_f(3303, 1, 5700) == 20.55);
    /* An integer reading has no decimals: 72 F is 22.22 Cel. */
    r = (gw_reading_t){.device_key = "static:dev1", .field = "t_f",
                       .value = {.type = GW_TYPE_INTEGER, .v.i = 72}, .ts_ms = 1700000000123};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_f(3303, 0, 5700) == 22.22);
    /* Without decimals the double is converted as it is. */
    CHECK_EQ_INT(reading_f("static:dev1", "t_f", 72.5, NULL), 0);
    CHECK(get_f(3303, 0, 5700) == gw_unit_conv_apply(GW_CONV_F_TO_C, 72.5));
    teardown();
}

GW_TEST(test_reading_housekeeping)
{
    setup();
    gw_config_field_t f[1] = {field("temperature", NULL)};
    gw_config_device_t d = device(f, 1);
    CHECK_EQ_INT(gw_mapping_add_device(map, "static:dev1", cl, &d), 0);
    CHECK(!gw_store_has(cl, &(gw_path_t){{3303, 0, 5601, GW_ID_NONE}, 3}));
    CHECK_EQ_INT(reading_f("static:dev1", "temperature", 20, NULL), 0);
    CHECK_NEAR(get_f(3303, 0, 5601), 20, 1e-9);
    CHECK_NEAR(get_f(3303, 0, 5602), 20, 1e-9);
    CHECK_EQ_INT(reading_f("static:dev1", "temperature", 25, NULL), 0);
    CHECK_EQ_INT(reading_f("static:dev1", "temperature", 18, NULL), 0);
    CHECK_EQ_INT(reading_f("static:dev1", "temperature", 21, NULL), 0);
    CHECK_NEAR(get_f(3303, 0, 5601), 18, 1e-9);
    CHECK_NEAR(get_f(3303, 0, 5602), 25, 1e-9);
    CHECK_NEAR(get_f(3303, 0, 5700), 21, 1e-9);
    CHECK_EQ_INT(get_f(3303, 0, 5518), 1700000000);
    /* a reset (5605) rewrites min/max in the store: they follow from there */
    gw_value_t v = {.type = GW_TYPE_FLOAT, .v.f = 21};
    CHECK_EQ_INT(gw_store_set(st, cl, &(gw_path_t){{3303, 0, 5601, GW_ID_NONE}, 3}, &v, 0), 0);
    CHECK_EQ_INT(gw_store_set(st, cl, &(gw_path_t){{3303, 0, 5602, GW_ID_NONE}, 3}, &v, 0), 0);
    CHECK_EQ_INT(reading_f("static:dev1", "temperature", 22, NULL), 0);
    CHECK_NEAR(get_f(3303, 0, 5601), 21, 1e-9);
    CHECK_NEAR(get_f(3303, 0, 5602), 22, 1e-9);
    teardown();
}

GW_TEST(test_reading_types)
{
    setup();
    gw_config_field_t f[5] = {field("battery", NULL), field("rssi", NULL), field("presence", NULL),
                              field("label", "/3341/0/5527"), field("count", "/3200/0/5501")};
    gw_config_device_t d = device(f, 5);
    CHECK_EQ_INT(gw_mapping_add_device(map, "static:dev1", cl, &d), 0);
    CHECK_EQ_INT(reading_f("static:dev1", "battery", 86.6, NULL), 0);
    CHECK_EQ_INT(get_f(3, 0, 9), 87);
    CHECK_EQ_INT(reading_f("static:dev1", "battery", 86.4, NULL), 0);
    CHECK_EQ_INT(get_f(3, 0, 9), 86);
    CHECK_EQ_INT(reading_f("static:dev1", "battery", 101, NULL), -EINVAL); /* range 0..100 */
    CHECK_EQ_INT(get_f(3, 0, 9), 86);
    CHECK_EQ_INT(reading_f("static:dev1", "rssi", -71.5, NULL), 0);
    CHECK_EQ_INT(get_f(4, 0, 2), -72);
    gw_reading_t r = {.device_key = "static:dev1", .field = "rssi",
                      .value = {.type = GW_TYPE_INTEGER, .v.i = -90}};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK_EQ_INT(get_f(4, 0, 2), -90);
    r.value = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1e300};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), -EINVAL);
    r.field = "presence";
    r.value = (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = true};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK_EQ_INT(get_f(3302, 0, 5500), 1);
    r.value = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 0};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK_EQ_INT(get_f(3302, 0, 5500), 0);
    r.field = "label";
    r.value.type = GW_TYPE_STRING;
    r.value.v.bytes.ptr = (const uint8_t *)"hello";
    r.value.v.bytes.len = 5;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_s(3341, 0, 5527, "hello"));
    r.field = "battery"; /* a string into an integer */
    CHECK_EQ_INT(gw_mapping_reading(map, &r), -EINVAL);
    r.field = "label";
    r.value = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = 1};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), -EINVAL);
    r.field = "count";
    r.value = (gw_value_t){.type = GW_TYPE_UNSIGNED, .v.u = 42};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK_EQ_INT(get_f(3200, 0, 5501), 42);
    CHECK_EQ_INT(get_f(3200, 0, 5518) > 1600000000, 1); /* ts 0 = now */
    r.value = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = NAN};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), -EINVAL);
    teardown();
}

GW_TEST(test_reading_unknown)
{
    setup();
    gw_config_field_t f[1] = {field("temperature", NULL)};
    gw_config_device_t d = device(f, 1);
    CHECK_EQ_INT(gw_mapping_add_device(map, "static:dev1", cl, &d), 0);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(reading_f("static:ghost", "temperature", 1, NULL), -ENOENT);
        CHECK_EQ_INT(reading_f("static:dev1", "flux_capacitor", 1, NULL), -ENOENT);
    }
    gw_reading_t r = {.device_key = NULL, .field = "x"};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), -EINVAL);
    gw_mapping_stats_t s;
    gw_mapping_get_stats(map, &s);
    CHECK_EQ_INT(s.unknown, 10);
    CHECK_EQ_INT(s.readings, 0);
    CHECK_EQ_INT(s.rejected, 1);
    teardown();
}

static int hook_calls;
static gw_sclient_t *hook_client;

static void objects_hook(void *ctx, gw_sclient_t *c)
{
    CHECK(ctx == &hook_calls);
    hook_calls++;
    hook_client = c;
}

GW_TEST(test_reading_dynamic_field)
{
    setup();
    hook_calls = 0;
    gw_config_field_t f[1] = {field("temperature", NULL)};
    gw_config_device_t d = device(f, 1);
    gw_mapping_set_objects_hook(map, objects_hook, &hook_calls);
    CHECK_EQ_INT(gw_mapping_add_device(map, "ble:aa", cl, &d), 0);
    CHECK_EQ_INT(reading_f("ble:aa", "temperature_2", 19.5, NULL), 0);
    CHECK_EQ_INT(hook_calls, 1);
    CHECK(hook_client == cl);
    CHECK(gw_store_instance_exists(cl, 3303, 1));
    CHECK_NEAR(get_f(3303, 1, 5700), 19.5, 1e-9);
    CHECK(get_s(3303, 1, 5701, "Cel"));
    /* known from now on: no second instance */
    CHECK_EQ_INT(reading_f("ble:aa", "temperature_2", 19.7, NULL), 0);
    CHECK_EQ_INT(hook_calls, 1);
    CHECK(!gw_store_instance_exists(cl, 3303, 2));
    CHECK_EQ_INT(reading_f("ble:aa", "humidity", 55, "%"), 0);
    CHECK_EQ_INT(hook_calls, 2);
    CHECK_NEAR(get_f(3304, 0, 5700), 55, 1e-9);
    /* two axes share one accelerometer instance: one new instance */
    CHECK_EQ_INT(reading_f("ble:aa", "acceleration_x", 0.5, NULL), 0);
    CHECK_EQ_INT(reading_f("ble:aa", "acceleration_y", -0.5, NULL), 0);
    CHECK_EQ_INT(hook_calls, 3);
    CHECK_NEAR(get_f(3313, 0, 5703), -0.5, 1e-9);
    const gw_map_target_t *t;
    size_t n;
    CHECK_EQ_INT(gw_mapping_targets(map, "ble:aa", &t, &n), 0);
    CHECK_EQ_INT(n, 5);
    teardown();
}

GW_TEST(test_reading_error_code_goes_to_device_object)
{
    setup();
    gw_config_field_t f[1] = {field("temperature", NULL)};
    gw_config_device_t d = device(f, 1);
    int crc = gw_store_instance_create(st, cl, 3, 0);
    CHECK(crc == 0 || crc == -EEXIST);
    CHECK_EQ_INT(gw_mapping_add_device(map, "modbus:m1", cl, &d), 0);
    gw_reading_t r = {.device_key = "modbus:m1", .field = "error_code", .value = {.type = GW_TYPE_INTEGER}};
    r.value.v.i = 7;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    gw_value_t v;
    CHECK_EQ_INT(gw_store_get(cl, &(gw_path_t){{3, 0, 11, 0}, 4}, &v, NULL), 0);
    CHECK_EQ_INT(v.v.i, 7);
    r.value.v.i = 0;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK_EQ_INT(gw_store_get(cl, &(gw_path_t){{3, 0, 11, 0}, 4}, &v, NULL), 0);
    CHECK_EQ_INT(v.v.i, 0);
    r.value.type = GW_TYPE_STRING;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), -EINVAL);
    teardown();
}

GW_TEST(test_many_devices)
{
    setup();
    enum { N = 300 };
    gw_sclient_t *cs[N];
    gw_config_field_t f[2] = {field("temperature", NULL), field("humidity", NULL)};
    gw_config_device_t d = device(f, 2);
    char key[32];
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(gw_store_client_new(st, NULL, &cs[i]), 0);
        snprintf(key, sizeof key, "simulated:s%d", i);
        CHECK_EQ_INT(gw_mapping_add_device(map, key, cs[i], &d), 0);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "simulated:s%d", i);
        CHECK_EQ_INT(reading_f(key, "humidity", i % 100, NULL), 0);
        gw_value_t v;
        CHECK_EQ_INT(gw_store_get(cs[i], &(gw_path_t){{3304, 0, 5700, GW_ID_NONE}, 3}, &v, NULL), 0);
        CHECK_NEAR(v.v.f, i % 100, 1e-9);
        const char *k;
        CHECK_EQ_INT(gw_mapping_find_path(map, cs[i], &(gw_path_t){{3304, 0, 5700, GW_ID_NONE}, 3}, &k, NULL), 0);
        CHECK_EQ_STR(k, key);
    }
    for (int i = 0; i < N; i += 2) {
        snprintf(key, sizeof key, "simulated:s%d", i);
        CHECK_EQ_INT(gw_mapping_remove_device(map, key), 0);
    }
    CHECK_EQ_INT(reading_f("simulated:s1", "temperature", 1, NULL), 0);
    CHECK_EQ_INT(reading_f("simulated:s2", "temperature", 1, NULL), -ENOENT);
    gw_mapping_free(&map);
    for (int i = 0; i < N; i++)
        gw_store_client_free(st, &cs[i]);
    teardown();
}

GW_TEST(test_device_key)
{
    gw_config_device_t d = {.endpoint = "ep", .adapter = "simulated"};
    char buf[64];
    CHECK_EQ_INT(gw_config_device_key(&d, buf, sizeof buf), 0);
    CHECK_EQ_STR(buf, "simulated:ep");
    d.address = "boiler-1";
    CHECK_EQ_INT(gw_config_device_key(&d, buf, sizeof buf), 0);
    CHECK_EQ_STR(buf, "simulated:boiler-1");
    CHECK_EQ_INT(gw_config_device_key(&d, buf, 5), -ENOSPC);
    d.address = d.endpoint = NULL;
    CHECK_EQ_INT(gw_config_device_key(&d, buf, sizeof buf), -EINVAL);
}

static bool get_i4(uint16_t o, uint16_t i, uint16_t r, uint16_t ri, int64_t *out)
{
    gw_value_t v;
    if (gw_store_get(cl, &(gw_path_t){{o, i, r, ri}, 4}, &v, NULL) < 0 || v.type != GW_TYPE_INTEGER)
        return false;
    *out = v.v.i;
    return true;
}

/* A field may name an instance of a multiple resource: a battery voltage
 * in V lands on /3/0/7/0 (Power Source Voltage, Integer mV), and /3/0/6/0
 * says the source is the internal battery (1). */
GW_TEST(test_resource_instance_targets)
{
    setup();
    gw_config_field_t f[3] = {field("battery_voltage", NULL), field("supply", "/3/0/7/1"),
                              field("battery", NULL)};
    f[0].unit = "V";
    f[1].unit = "V";
    gw_config_device_t d = device(f, 3);
    gw_map_target_t *t = NULL;
    size_t n = 0;
    char err[200];
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), 0);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(pathstr(&t[0].path), "/3/0/7/0");
        CHECK_EQ_INT(t[0].type, GW_TYPE_INTEGER);
        CHECK_EQ_STR(t[0].lwm2m_unit, "mV");
        CHECK_EQ_INT(t[0].conv, GW_CONV_V_TO_MV);
        CHECK_EQ_STR(pathstr(&t[1].path), "/3/0/7/1");
        CHECK_EQ_STR(t[1].lwm2m_unit, "mV");
        CHECK_EQ_INT(t[1].conv, GW_CONV_V_TO_MV);
        CHECK_EQ_STR(pathstr(&t[2].path), "/3/0/9");
    }
    free(t);

    CHECK_EQ_INT(gw_mapping_add_device(map, "ble:r1", cl, &d), 0);
    int64_t x = 0;
    CHECK(get_i4(3, 0, 6, 0, &x) && x == 1);
    /* /3/0/7/1 is some other supply: its kind is unknown, /3/0/6/1 stays unset. */
    CHECK(!gw_store_has(cl, &(gw_path_t){{3, 0, 6, 1}, 4}));
    gw_reading_t r = {.device_key = "ble:r1", .field = "battery_voltage", .unit = "V",
                      .value = {.type = GW_TYPE_FLOAT, .v.f = 3.007}, .has_decimals = true,
                      .decimals = 3, .ts_ms = 1700000000123};
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_i4(3, 0, 7, 0, &x) && x == 3007);
    r.unit = "mV";
    r.value.v.f = 2950;
    r.decimals = 0;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_i4(3, 0, 7, 0, &x) && x == 2950);
    r.field = "supply";
    r.unit = NULL;
    r.value.v.f = 12.25;
    r.decimals = 2;
    CHECK_EQ_INT(gw_mapping_reading(map, &r), 0);
    CHECK(get_i4(3, 0, 7, 1, &x) && x == 12250);
    CHECK(get_i4(3, 0, 7, 0, &x) && x == 2950);

    const char *key = NULL;
    const gw_map_target_t *ft = NULL;
    CHECK_EQ_INT(gw_mapping_find_path(map, cl, &(gw_path_t){{3, 0, 7, 0}, 4}, &key, &ft), 0);
    CHECK(ft && strcmp(ft->field, "battery_voltage") == 0);
    CHECK_EQ_INT(gw_mapping_find_path(map, cl, &(gw_path_t){{3, 0, 7, 2}, 4}, &key, &ft), -ENOENT);
    CHECK_EQ_INT(gw_mapping_remove_device(map, "ble:r1"), 0);

    /* A /3/0/6 the configuration set first is left alone (0 = DC power). */
    gw_value_t dc = {.type = GW_TYPE_INTEGER, .v.i = 0};
    CHECK_EQ_INT(gw_store_set(st, cl, &(gw_path_t){{3, 0, 6, 0}, 4}, &dc, 0), 0);
    CHECK_EQ_INT(gw_mapping_add_device(map, "ble:r1", cl, &d), 0);
    CHECK(get_i4(3, 0, 6, 0, &x) && x == 0);
    teardown();
}

/* An adapter's declared field with a resource-instance path, and a
 * battery_voltage no one declared (a decoder's new output). */
GW_TEST(test_resource_instance_declared_and_dynamic)
{
    setup();
    gw_field_decl_t decl = {.field = "vbat", .unit = "V", .line = 3};
    CHECK_EQ_INT(gw_path_parse("/3/0/7/0", &decl.path), 0);
    gw_config_device_t d = device(NULL, 0);
    d.decls = &decl;
    d.n_decls = 1;
    gw_map_target_t *t = NULL;
    size_t n = 0;
    char err[200];
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_STR(pathstr(&t[0].path), "/3/0/7/0");
        CHECK_EQ_INT(t[0].conv, GW_CONV_V_TO_MV);
    }
    free(t);
    CHECK_EQ_INT(gw_mapping_add_device(map, "ble:d1", cl, &d), 0);
    CHECK_EQ_INT(reading_f("ble:d1", "vbat", 3.1, "V"), 0);
    int64_t x = 0;
    CHECK(get_i4(3, 0, 7, 0, &x) && x == 3100);
    /* vbat is not the battery_voltage kind: /3/0/6 is not the mapping's to fill. */
    CHECK(!gw_store_has(cl, &(gw_path_t){{3, 0, 6, 0}, 4}));
    /* battery_voltage would land on /3/0/7/0 too, which vbat holds. */
    CHECK_EQ_INT(reading_f("ble:d1", "battery_voltage", 3.0, "V"), -EINVAL);
    CHECK_EQ_INT(gw_mapping_remove_device(map, "ble:d1"), 0);

    gw_config_field_t f[1] = {field("temperature", NULL)};
    d = device(f, 1);
    CHECK_EQ_INT(gw_mapping_add_device(map, "ble:d2", cl, &d), 0);
    CHECK_EQ_INT(reading_f("ble:d2", "battery_voltage", 2.875, "V"), 0);
    CHECK(get_i4(3, 0, 7, 0, &x) && x == 2875);
    CHECK(get_i4(3, 0, 6, 0, &x) && x == 1);
    teardown();
}

/* A multiple resource needs its instance, a single one refuses one. */
GW_TEST(test_resource_instance_errors)
{
    setup();
    gw_map_target_t *t = NULL;
    size_t n = 0;
    char err[200];
    gw_config_field_t f[2] = {field("x", "/3/0/7"), field("y", NULL)};
    gw_config_device_t d = device(f, 1);
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK_EQ_STR(err, "field \"x\": /3/0/7 (Power Source Voltage) has multiple instances, expected "
                      "one of them such as /3/0/7/0");
    f[0] = field("x", "/3/0/9/0");
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK_EQ_STR(err, "field \"x\": /3/0/9/0 (Battery Level) is a single resource, expected /3/0/9 "
                      "without an instance");
    f[0] = field("x", "/3/0/7/0");
    f[1] = field("battery_voltage", NULL);
    d = device(f, 2);
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), -EINVAL);
    CHECK_EQ_STR(err, "fields \"x\" and \"battery_voltage\" both land on /3/0/7/0");
    f[1] = field("y", "/3/0/7/1");
    CHECK_EQ_INT(gw_mapping_resolve(&d, reg, &t, &n, err, sizeof err), 0);
    free(t);
    teardown();
}

GW_TEST_MAIN(test_resolve_explicit_and_defaults, test_resolve_single_instance_and_sims,
             test_resolve_errors, test_add_device_creates_instances,
             test_reading_scale_offset_clamp_units, test_reading_keeps_the_source_precision,
             test_reading_housekeeping, test_reading_types,
             test_reading_unknown, test_reading_dynamic_field, test_reading_error_code_goes_to_device_object,
             test_many_devices, test_device_key, test_resource_instance_targets,
             test_resource_instance_declared_and_dynamic, test_resource_instance_errors)
