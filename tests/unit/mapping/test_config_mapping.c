/* Unit tests for the configuration's mapping keys (issue 3): field
 * mappings, simulate, templates, endpoint patterns, fingerprints. */
#include <errno.h>
#include <unistd.h>

#include "gwtest.h"
#include "adapters/simulated/simulated.h"

/* A device's simulated part; an empty one for a device without. */
static const sim_part_t no_sims;
#define SIMS(d) ((d)->part && (d)->ops == gw_adapter_find("simulated") ? (const sim_part_t *)(d)->part : &no_sims)

#include "mapping/config.h"
#include "mapping/config_internal.h"

#include "config_fixture.h"

/* The file must fail with a first message starting with prefix at line,
 * and n messages in all. */
static void expect_prefix(const char *text, int n, int line, const char *prefix)
{
    diags_t d;
    gw_config_t *c = (gw_config_t *)1;
    CHECK_EQ_INT(load_text(text, &d, &c), -EINVAL);
    CHECK(c == NULL);
    CHECK_EQ_INT(d.n, n);
    if (d.n >= 1) {
        CHECK_EQ_INT(d.line[0], line);
        CHECK(strncmp(d.msg[0], prefix, strlen(prefix)) == 0);
    }
    if (d.n != n || (d.n && (d.line[0] != line || strncmp(d.msg[0], prefix, strlen(prefix)))))
        dump(&d);
}

static gw_config_t *load_ok(const char *text)
{
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(text, &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    return c;
}

#define SERVER "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"
#define DEV_OPEN "devices = ( { endpoint = \"d1\"; adapter = \"static\";\n"
#define SIM_OPEN "devices = ( { endpoint = \"s1\"; adapter = \"simulated\";\n"
#define GW "gateway = { name = \"gw\"; };\n"


/* ---- field mappings ---------------------------------------------------- */

GW_TEST(field_mapping_loads)
{
    gw_config_t *c = load_ok(
        SERVER DEV_OPEN
        "resources = ( { field = \"t_probe\"; path = \"/3303/1/5700\"; scale = 0.1; offset = -40.0;\n"
        "                min = -40; max = 125.5; unit = \"Fahrenheit\"; application_type = \"boiler\"; },\n"
        "              { field = \"humidity\"; },\n"
        "              { field = \"relay\"; path = \"/3342/0/5500\"; },\n"
        "              { field = \"switch\"; path = \"/3201/0/5550\"; writable = true; },\n"
        "              { path = \"/3303/1/5701\"; value = \"Cel\"; } ); } );\n");
    if (!c)
        return;
    CHECK_EQ_INT(c->n_devices, 1);
    const gw_config_device_t *d = &c->devices[0];
    CHECK_EQ_INT(d->n_fields, 4);
    CHECK_EQ_INT(d->n_resources, 1);
    CHECK_EQ_INT(SIMS(d)->n_sims, 0);
    CHECK_EQ_STR(d->address, "d1");
    CHECK(d->template_name == NULL);
    if (d->n_fields == 4) {
        const gw_config_field_t *f = &d->fields[0];
        CHECK_EQ_STR(f->field, "t_probe");
        CHECK_EQ_INT(f->path.len, 3);
        CHECK_EQ_INT(f->path.id[0], 3303);
        CHECK_EQ_INT(f->path.id[1], 1);
        CHECK_EQ_INT(f->path.id[2], 5700);
        CHECK_NEAR(f->scale, 0.1, 1e-12);
        CHECK_NEAR(f->offset, -40.0, 1e-12);
        CHECK(f->has_min && f->has_max);
        CHECK_NEAR(f->min, -40.0, 1e-12);
        CHECK_NEAR(f->max, 125.5, 1e-12);
        CHECK_EQ_STR(f->unit, "Fahrenheit");
        CHECK_EQ_STR(f->application_type, "boiler");
        CHECK(!f->writable);
        CHECK_EQ_INT(f->line, 3);
        f = &d->fields[1];
        CHECK_EQ_STR(f->field, "humidity");
        CHECK_EQ_INT(f->path.len, 0);
        CHECK_NEAR(f->scale, 1.0, 0);
        CHECK_NEAR(f->offset, 0.0, 0);
        CHECK(!f->has_min && !f->has_max && !f->unit && !f->application_type);
        CHECK(d->fields[3].writable);
    }
    gw_config_free(&c);
}

GW_TEST(err_field_kind)
{
    expect_error(SERVER DEV_OPEN "resources = (\n { field = \"temprature\"; } ); } );\n", 4,
                 "field \"temprature\" has no path and is not a known kind, did you mean "
                 "\"temperature\"? (or give path = \"/object/instance/resource\")");
    expect_prefix(SERVER DEV_OPEN "resources = (\n { field = \"xyzzy\"; } ); } );\n", 1, 4,
                  "field \"xyzzy\" has no path and is not a known kind, expected path = "
                  "\"/object/instance/resource\" or one of: temperature, humidity, pressure");
}

GW_TEST(err_field_unit)
{
    expect_prefix(SERVER DEV_OPEN "resources = ( { field = \"t\"; path = \"/3303/0/5700\";\n"
                                  " unit = \"furlong\"; } ); } );\n", 1, 4,
                  "cannot convert \"furlong\" to \"Cel\" (the unit of /3303/0/5700), expected one "
                  "of \"Cel\", ");
    expect_prefix(SERVER DEV_OPEN "resources = ( { field = \"energy\";\n unit = \"Pa\"; } ); } );\n",
                  1, 4, "cannot convert \"Pa\" to \"kWh\" (the unit of /3331/x/5700), expected one "
                        "of \"kWh\", \"Wh\"");
    /* A convertible unit is fine. */
    gw_config_t *c = load_ok(SERVER DEV_OPEN "resources = ( { field = \"pressure\"; unit = \"Pa\"; },\n"
                                             "{ field = \"energy\"; unit = \"Wh\"; } ); } );\n");
    gw_config_free(&c);
}

/* A field names an instance of a multiple resource (/3/0/7/0 Power Source
 * Voltage, mV), and its unit is checked against that resource's. */
GW_TEST(field_resource_instance)
{
    gw_config_t *c = load_ok(SERVER DEV_OPEN
                             "resources = ( { field = \"battery_voltage\"; unit = \"V\"; },\n"
                             "              { field = \"supply\"; path = \"/3/0/7/1\"; unit = \"V\"; } ); } );\n");
    if (c && c->n_devices == 1 && c->devices[0].n_fields == 2) {
        const gw_config_field_t *f = &c->devices[0].fields[1];
        CHECK_EQ_INT(f->path.len, 4);
        CHECK_EQ_INT(f->path.id[2], 7);
        CHECK_EQ_INT(f->path.id[3], 1);
    }
    gw_config_free(&c);
    expect_prefix(SERVER DEV_OPEN "resources = ( { field = \"b\"; path = \"/3/0/7/0\";\n"
                                  " unit = \"Cel\"; } ); } );\n", 1, 4,
                  "cannot convert \"Cel\" to \"mV\" (the unit of /3/0/7/0)");
    expect_prefix(SERVER DEV_OPEN "resources = ( { field = \"battery_voltage\";\n"
                                  " unit = \"A\"; } ); } );\n", 1, 4,
                  "cannot convert \"A\" to \"mV\" (the unit of /3/x/7/0)");
    /* An adapter's own field (a Modbus register, its value taken in the
     * resource's mV) names the instance too. */
#define MB_BUS "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\"; } ); };\n"
    c = load_ok(SERVER MB_BUS
                "devices = ( { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"
                " registers = ( { field = \"vbat\"; table = \"input\"; address = 0; type = \"u16\";\n"
                "                 path = \"/3/0/7/0\"; } ); } );\n");
    if (c && c->n_devices == 1 && c->devices[0].n_decls == 1) {
        const gw_field_decl_t *s = &c->devices[0].decls[0];
        CHECK_EQ_INT(s->path.len, 4);
        CHECK_EQ_INT(s->path.id[3], 0);
    }
    gw_config_free(&c);
    diags_t d;
    c = NULL;
    CHECK_EQ_INT(load_text(SERVER MB_BUS
                           "devices = ( { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"
                           " registers = ( { field = \"vbat\"; table = \"input\"; address = 0;\n"
                           "                 type = \"u16\"; path = \"/3/0/9/0\"; } ); } );\n",
                           &d, &c), -EINVAL);
    CHECK(c == NULL);
    CHECK(d.n >= 1 && strstr(d.msg[0], "/3/0/9/0 (Battery Level) is a single") != NULL);
    if (d.n < 1 || !strstr(d.msg[0], "/3/0/9/0 (Battery Level) is a single"))
        dump(&d);
#undef MB_BUS
}

GW_TEST(err_field_path_and_resource)
{
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"t\";\n path = \"/3303/0/5700/1\"; } ); } );\n",
                 4, "/3303/0/5700/1 (Sensor Value) is a single-instance resource, expected "
                    "/object/instance/resource without a resource instance");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"t\";\n path = \"/3303/0\"; } ); } );\n",
                 4, "bad path \"/3303/0\" for field t, expected /object/instance/resource[/instance]");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"t\"; path = \"/3303/0/5700\";\n"
                                 " writable = true; } ); } );\n",
                 4, "/3303/0/5700 (Sensor Value) is read-only, writable needs a resource with the "
                    "W or E operation");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"t\"; path = \"/3303/0/5750\";\n"
                                 " scale = 2.0; } ); } );\n",
                 4, "\"scale\" applies to numeric resources, /3303/0/5750 (Application Type) is "
                    "String");
    expect_error(SERVER DEV_OPEN "resources = (\n { field = \"t\"; path = \"/9999/0/1\"; } ); } );\n",
                 4, "unknown object 9999 in path \"/9999/0/1\": not in the registry or objects_dir");
    expect_error(SERVER DEV_OPEN "resources = (\n { field = \"t\"; path = \"/1/0/1\"; } ); } );\n",
                 4, "/1/0/1 (Lifetime) belongs to object 1 (LwM2M Server), which the gateway "
                    "manages itself, expected a sensor object such as /3303/0/5700");
    expect_error(SERVER DEV_OPEN "resources = (\n { field = \"t\"; path = \"/3/0/4\"; } ); } );\n",
                 4, "/3/0/4 (Reboot) is executable, expected a Float, Integer, Unsigned, Boolean "
                    "or String resource for a field");
    expect_error(SERVER DEV_OPEN "resources = (\n { field = \"t\"; path = \"/3/0/6\"; } ); } );\n",
                 4, "/3/0/6 (Available Power Sources) has multiple instances, expected a "
                    "single-instance resource or one instance such as /3/0/6/0 for a field");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"t\"; path = \"/3/0/9\";\n"
                                 " application_type = \"x\"; } ); } );\n",
                 4, "application_type needs resource 5750 (Application Type), which object 3 "
                    "(Device) does not have");
}

GW_TEST(err_field_entry_keys)
{
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"temperature\";\n value = 1; } ); } );\n",
                 4, "\"value\" cannot be combined with field, expected a separate { path = ...; "
                    "value = ...; } entry for an initial value");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3303/0/5700\"; value = 1.0;\n"
                                 " scale = 2; } ); } );\n",
                 4, "\"scale\" belongs to a field mapping, expected field = \"...\" in this entry");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"temperature\";\n sclae = 2; } ); } );\n",
                 4, "unknown key \"sclae\" in resources[0], did you mean \"scale\"?");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"temperature\"; min = 5;\n max = 1; } ); } );\n",
                 4, "max (1) must be at least min (5)");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"temperature\";\n scale = 0; } ); } );\n",
                 4, "\"scale\" must not be 0, expected a factor such as 0.1");
    expect_error(SERVER DEV_OPEN "resources = ( { field = \"temperature\"; },\n"
                                 " { field = \"temperature\"; } ); } );\n",
                 4, "duplicate field \"temperature\" (first mapped at line 3)");
    expect_error(SERVER DEV_OPEN "resources = (\n { value = 1; } ); } );\n", 4,
                 "resources[0] is missing required key \"path\" (a string "
                 "\"/object/instance/resource[/instance]\")");
}

GW_TEST(err_resolve_reported_at_device)
{
    /* Two fields on one resource: the mapping layer's check, at the
     * device's line. */
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(SERVER "devices = (\n { endpoint = \"d1\"; adapter = \"static\";\n"
                                  "   resources = ( { field = \"a\"; path = \"/3303/0/5700\"; },\n"
                                  "                 { field = \"b\"; path = \"/3303/0/5700\"; } ); } );\n",
                           &d, &c), -EINVAL);
    CHECK_EQ_INT(d.n, 1);
    if (d.n == 1) {
        CHECK_EQ_INT(d.line[0], 3);
        CHECK(strstr(d.msg[0], "\"a\"") && strstr(d.msg[0], "\"b\"") &&
              strstr(d.msg[0], "/3303/0/5700"));
    } else {
        dump(&d);
    }
}

/* ---- simulate ---------------------------------------------------------- */

GW_TEST(simulate_loads)
{
    gw_config_t *c = load_ok(
        SERVER SIM_OPEN
        "simulate = ( { field = \"temperature\"; wave = \"sine\"; min = 18.0; max = 24.0;\n"
        "               period = 60.0; interval = 5.0; unit = \"Cel\"; },\n"
        "             { field = \"humidity\"; },\n"
        "             { field = \"energy\"; wave = \"constant\"; min = 7; unit = \"Wh\"; },\n"
        "             { field = \"boiler\"; wave = \"square\"; interval = 0.01; } );\n"
        "resources = ( { field = \"boiler\"; path = \"/3303/3/5700\"; } ); } );\n");
    if (!c)
        return;
    const gw_config_device_t *d = &c->devices[0];
    CHECK_EQ_INT(SIMS(d)->n_sims, 4);
    if (SIMS(d)->n_sims == 4) {
        CHECK_EQ_STR(SIMS(d)->sims[0].field, "temperature");
        CHECK_EQ_STR(SIMS(d)->sims[0].wave, "sine");
        CHECK_NEAR(SIMS(d)->sims[0].min, 18.0, 0);
        CHECK_NEAR(SIMS(d)->sims[0].max, 24.0, 0);
        CHECK_NEAR(SIMS(d)->sims[0].period_s, 60.0, 0);
        CHECK_NEAR(SIMS(d)->sims[0].interval_s, 5.0, 0);
        CHECK_EQ_STR(SIMS(d)->sims[0].unit, "Cel");
        CHECK_EQ_INT(SIMS(d)->sims[0].line, 3);
        CHECK_EQ_STR(SIMS(d)->sims[1].wave, "sine");
        CHECK_NEAR(SIMS(d)->sims[1].min, 0, 0);
        CHECK_NEAR(SIMS(d)->sims[1].max, 100, 0);
        CHECK_NEAR(SIMS(d)->sims[1].period_s, 60, 0);
        CHECK_NEAR(SIMS(d)->sims[1].interval_s, 5, 0);
        CHECK(SIMS(d)->sims[1].unit == NULL);
        CHECK_NEAR(SIMS(d)->sims[2].min, 7, 0);
        CHECK_NEAR(SIMS(d)->sims[2].max, 7, 0);
        CHECK_NEAR(SIMS(d)->sims[3].interval_s, 0.01, 1e-12);
    }
    gw_config_free(&c);
}

GW_TEST(err_simulate)
{
    expect_error(SERVER SIM_OPEN "simulate = ( { field = \"temperature\";\n wave = \"sin\"; } ); } );\n",
                 4, "unknown wave \"sin\", did you mean \"sine\"?");
    expect_error(SERVER SIM_OPEN "simulate = ( { field = \"temperature\";\n wave = \"chaos\"; } ); } );\n",
                 4, "unknown wave \"chaos\", expected one of: sine, random_walk, sawtooth, square, "
                    "constant");
    expect_error(SERVER SIM_OPEN "simulate = ( { field = \"temperature\"; min = 5;\n max = 5; } ); } );\n",
                 4, "max (5) must be greater than min (5) for wave \"sine\"");
    expect_error(SERVER SIM_OPEN "simulate = ( { field = \"temperature\";\n period = 0; } ); } );\n",
                 4, "\"period\" must be greater than 0 seconds, got 0");
    expect_error(SERVER SIM_OPEN "simulate = ( { field = \"temperature\";\n interval = 0.001; } ); } );\n",
                 4, "\"interval\" must be at least 0.01 seconds, got 0.001");
    expect_error(SERVER SIM_OPEN "simulate = ( { field = \"temperature\";\n peroid = 2; } ); } );\n",
                 4, "unknown key \"peroid\" in simulate[0], did you mean \"period\"?");
    expect_error(SERVER SIM_OPEN "simulate = ( { field = \"temperature\"; },\n"
                                 " { field = \"temperature\"; } ); } );\n",
                 4, "duplicate simulated field \"temperature\" (first at line 3)");
    expect_error(SERVER SIM_OPEN "simulate = (\n { wave = \"sine\"; } ); } );\n", 4,
                 "simulate[0] is missing required key \"field\" (a string (the field generated, "
                 "e.g. \"temperature\"))");
    expect_prefix(SERVER SIM_OPEN "simulate = (\n { field = \"wobble\"; } ); } );\n", 1, 4,
                  "simulated field \"wobble\" lands nowhere, expected a resources entry { field = "
                  "\"wobble\"; path = ...; } or one of: temperature, ");
    expect_prefix(SERVER SIM_OPEN "simulate = (\n { field = \"temperature\"; unit = \"hPa\"; } ); } );\n",
                  1, 4, "cannot convert \"hPa\" to \"Cel\" (the unit of /3303/x/5700), expected "
                        "one of \"Cel\"");
}

GW_TEST(err_simulate_adapter)
{
    expect_error(SERVER DEV_OPEN "simulate = (\n { field = \"temperature\"; } ); } );\n", 3,
                 "simulate is only for adapter = \"simulated\", got adapter = \"static\"");
    expect_error(SERVER "devices = (\n { endpoint = \"s\"; adapter = \"simulated\"; } );\n", 3,
                 "devices[0] has adapter = \"simulated\" but no simulate entry, expected simulate "
                 "= ( { field = ...; wave = ...; } )");
}

/* ---- endpoint patterns and addresses ------------------------------------ */

GW_TEST(endpoint_pattern)
{
    gw_config_t *c = load_ok(
        SERVER GW "templates = ( { name = \"t\"; adapter = \"static\"; } );\n"
        "devices = ( { adapter = \"static\"; address = \"7\"; },\n"
        "            { endpoint = \"named\"; adapter = \"static\"; },\n"
        "            { template = \"t\"; address = \"8\"; } );\n");
    if (c) {
        CHECK_EQ_STR(c->endpoint_pattern, "{gateway}-{adapter}-{address}");
        CHECK_EQ_INT(c->n_devices, 3);
        if (c->n_devices == 3) {
            CHECK_EQ_STR(c->devices[0].endpoint, "gw-static-7");
            CHECK_EQ_STR(c->devices[0].address, "7");
            CHECK_EQ_STR(c->devices[1].endpoint, "named");
            CHECK_EQ_STR(c->devices[1].address, "named");
            CHECK_EQ_STR(c->devices[2].endpoint, "gw-static-8");
            CHECK_EQ_STR(c->devices[2].template_name, "t");
        }
        gw_config_free(&c);
    }
    c = load_ok(SERVER "gateway = { name = \"gw\"; endpoint_pattern = \"{template}.{address}@{gateway}\"; };\n"
                       "templates = ( { name = \"sdm\"; adapter = \"static\"; } );\n"
                       "devices = ( { template = \"sdm\"; address = \"1\"; } );\n");
    if (c) {
        CHECK_EQ_STR(c->devices[0].endpoint, "sdm.1@gw");
        gw_config_free(&c);
    }
}

GW_TEST(err_endpoint_pattern)
{
    expect_error(SERVER "gateway = {\n endpoint_pattern = \"{gateway}-{adress}\"; };\n", 3,
                 "endpoint_pattern \"{gateway}-{adress}\" has an unknown placeholder \"{adress}\", "
                 "expected {gateway}, {adapter}, {address} or {template}");
    expect_error(SERVER "gateway = { endpoint_pattern = \"{template}-{address}\"; };\n"
                        "devices = (\n { adapter = \"static\"; address = \"1\"; } );\n", 4,
                 "endpoint_pattern uses {template} but the device has no template, expected an "
                 "explicit endpoint = \"...\"");
    expect_error(SERVER GW "devices = (\n { adapter = \"static\"; address = \"a b\"; } );\n", 4,
                 "endpoint built from endpoint_pattern \"gw-static-a b\" contains ' ', expected "
                 "printable ASCII without ' ', '&' and '?'");
    expect_error(SERVER GW "devices = ( { adapter = \"static\"; address = \"1\"; },\n"
                           "  { endpoint = \"gw-static-1\";\n adapter = \"simulated\"; address = \"x\";\n"
                           "    simulate = ( { field = \"temperature\"; } ); } );\n",
                 4, "duplicate endpoint \"gw-static-1\" (first defined at line 3)");
    expect_error(SERVER "devices = ( { endpoint = \"a\"; adapter = \"static\"; address = \"7\"; },\n"
                        " { endpoint = \"b\"; adapter = \"static\";\n address = \"7\"; } );\n",
                 4, "duplicate device (adapter:address) \"static:7\" (first defined at line 2)");
    expect_error(SERVER "devices = ( { endpoint = \"a\"; adapter = \"static\";\n address = \"\"; } );\n",
                 3, "\"address\" must not be empty, expected a string (the device's address for "
                    "its adapter)");
}

/* ---- templates ---------------------------------------------------------- */

static const char fleet[] =
    SERVER GW
    "templates = (\n"                                                               /* 3 */
    " { name = \"base\"; adapter = \"static\";\n"                                    /* 4 */
    "   device = { manufacturer = \"Eastron\"; model = \"generic\"; };\n"            /* 5 */
    "   resources = ( { field = \"voltage\"; scale = 0.1; },\n"                      /* 6 */
    "                 { path = \"/3/0/13\"; value = 1; } ); },\n"                    /* 7 */
    " { name = \"sdm120\"; template = \"base\";\n"                                   /* 8 */
    "   device = { model = \"SDM120\"; };\n"                                         /* 9 */
    "   resources = ( { field = \"energy\"; unit = \"Wh\"; },\n"                     /* 10 */
    "                 { field = \"power\"; } ); } );\n"                              /* 11 */
    "devices = (\n"                                                                 /* 12 */
    " { template = \"sdm120\"; address = \"1\"; },\n"                               /* 13 */
    " { template = \"sdm120\"; address = \"2\"; device = { serial = \"S2\"; };\n"   /* 14 */
    "   resources = ( { field = \"voltage\"; scale = 0.01; },\n"                     /* 15 */
    "                 { field = \"current\"; },\n"                                   /* 16 */
    "                 { path = \"/3/0/13\"; value = 2; } ); } );\n";                 /* 17 */

GW_TEST(templates_nested_merge_override)
{
    gw_config_t *c = load_ok(fleet);
    if (!c)
        return;
    CHECK_EQ_INT(c->n_devices, 2);
    if (c->n_devices != 2) {
        gw_config_free(&c);
        return;
    }
    const gw_config_device_t *a = &c->devices[0], *b = &c->devices[1];
    CHECK_EQ_STR(a->template_name, "sdm120");
    CHECK_EQ_STR(a->adapter, "static");
    CHECK_EQ_STR(a->endpoint, "gw-static-1");
    CHECK_EQ_STR(a->manufacturer, "Eastron");
    CHECK_EQ_STR(a->model, "SDM120");
    CHECK(a->serial == NULL);
    CHECK_EQ_INT(a->line, 13);
    /* The parent's entries first, then the child's. */
    CHECK_EQ_INT(a->n_fields, 3);
    if (a->n_fields == 3) {
        CHECK_EQ_STR(a->fields[0].field, "voltage");
        CHECK_NEAR(a->fields[0].scale, 0.1, 1e-12);
        CHECK_EQ_INT(a->fields[0].line, 6);
        CHECK_EQ_STR(a->fields[1].field, "energy");
        CHECK_EQ_STR(a->fields[1].unit, "Wh");
        CHECK_EQ_STR(a->fields[2].field, "power");
    }
    CHECK_EQ_INT(a->n_resources, 1);
    if (a->n_resources == 1)
        CHECK_EQ_INT(a->resources[0].value.v.i, 1);
    /* The device's entry with the same field replaces the template's in
     * place; new ones follow; the same path replaces the value. */
    CHECK_EQ_STR(b->serial, "S2");
    CHECK_EQ_STR(b->model, "SDM120");
    CHECK_EQ_INT(b->n_fields, 4);
    if (b->n_fields == 4) {
        CHECK_EQ_STR(b->fields[0].field, "voltage");
        CHECK_NEAR(b->fields[0].scale, 0.01, 1e-12);
        CHECK_EQ_INT(b->fields[0].line, 15);
        CHECK_EQ_STR(b->fields[1].field, "energy");
        CHECK_EQ_STR(b->fields[3].field, "current");
    }
    CHECK_EQ_INT(b->n_resources, 1);
    if (b->n_resources == 1) {
        CHECK_EQ_INT(b->resources[0].value.v.i, 2);
        CHECK_EQ_INT(b->resources[0].line, 17);
    }
    CHECK(a->fingerprint != b->fingerprint);
    gw_config_free(&c);
}

GW_TEST(templates_simulated_and_list_values)
{
    gw_config_t *c = load_ok(
        SERVER GW "templates = ( { name = \"demo\"; adapter = \"simulated\";\n"
        "  simulate = ( { field = \"temperature\"; min = 10; max = 20; },\n"
        "               { field = \"humidity\"; wave = \"random_walk\"; } );\n"
        "  resources = ( { path = \"/3/0/6\"; value = [1, 5, 7]; } ); } );\n"
        "devices = ( { template = \"demo\"; address = \"a\";\n"
        "  simulate = ( { field = \"temperature\"; min = 30; max = 40; } );\n"
        "  resources = ( { path = \"/3/0/6\"; value = [2]; } ); } );\n");
    if (!c)
        return;
    const gw_config_device_t *d = &c->devices[0];
    CHECK_EQ_INT(SIMS(d)->n_sims, 2);
    if (SIMS(d)->n_sims == 2) {
        CHECK_EQ_STR(SIMS(d)->sims[0].field, "temperature");
        CHECK_NEAR(SIMS(d)->sims[0].min, 30, 0);
        CHECK_EQ_STR(SIMS(d)->sims[1].wave, "random_walk");
    }
    /* A list value replaces the whole list, not instance by instance. */
    CHECK_EQ_INT(d->n_resources, 1);
    if (d->n_resources == 1) {
        CHECK_EQ_INT(d->resources[0].path.len, 4);
        CHECK_EQ_INT(d->resources[0].value.v.i, 2);
    }
    gw_config_free(&c);
}

GW_TEST(err_template_cycle_and_unknown)
{
    expect_error(SERVER "templates = ( { name = \"a\"; template = \"b\"; },\n"
                        " { name = \"b\";\n template = \"a\"; } );\n",
                 4, "template cycle: a -> b -> a, expected templates that do not include "
                    "themselves");
    expect_error(SERVER "templates = (\n { name = \"a\"; template = \"a\"; } );\n", 3,
                 "template cycle: a -> a, expected templates that do not include themselves");
    expect_error(SERVER "templates = ( { name = \"sdm120\"; adapter = \"static\"; } );\n"
                        "devices = (\n { template = \"sdm12\"; address = \"1\"; } );\n",
                 4, "unknown template \"sdm12\", did you mean \"sdm120\"?");
    expect_error(SERVER "templates = ( { name = \"sdm120\"; adapter = \"static\"; } );\n"
                        "devices = (\n { template = \"zzz\"; address = \"1\"; } );\n",
                 4, "unknown template \"zzz\", expected one of: sdm120");
    expect_error(SERVER "templates = ( { name = \"x\"; adapter = \"static\"; },\n"
                        " {\n name = \"x\"; adapter = \"static\"; } );\n",
                 4, "duplicate template \"x\" (first defined at line 2)");
    expect_error(SERVER "templates = ( { name = \"x\"; adapter = \"static\";\n endpoint = \"e\"; } );\n",
                 3, "\"endpoint\" is not allowed in a template, expected it in each device that "
                    "uses the template");
    expect_error(SERVER "templates = ( { name = \"x\";\n adaptor = \"static\"; } );\n", 3,
                 "unknown key \"adaptor\" in templates[0], did you mean \"adapter\"?");
    expect_error(SERVER "templates = (\n { adapter = \"static\"; } );\n", 3,
                 "templates[0] is missing required key \"name\" (a string (the template's name))");
}

GW_TEST(err_in_template_reported_once)
{
    expect_error(SERVER "templates = ( { name = \"t\"; adapter = \"static\";\n"
                        "  resources = ( { field = \"temperature\"; unit = \"furlong\"; } ); } );\n"
                        "devices = ( { template = \"t\"; address = \"1\"; },\n"
                        "            { template = \"t\"; address = \"2\"; },\n"
                        "            { template = \"t\"; address = \"3\"; } );\n",
                 3, "cannot convert \"furlong\" to \"Cel\" (the unit of /3303/x/5700), expected "
                    "one of \"Cel\", \"°C\", \"C\", \"degC\", \"Celsius\", \"F\", \"°F\", "
                    "\"degF\", \"Fahrenheit\", \"K\", \"Kelvin\"");
    /* Combined with a device, a problem is the device's. */
    expect_error(SERVER GW "templates = ( { name = \"t\"; adapter = \"static\"; } );\n"
                           "devices = ( { template = \"t\"; address = \"1\";\n"
                           "  simulate = ( { field = \"temperature\"; } ); } );\n",
                 5, "simulate is only for adapter = \"simulated\", got adapter = \"static\"");
}

/* ---- fingerprint ------------------------------------------------------- */

static uint64_t fingerprint_of(const char *text, size_t index)
{
    gw_config_t *c = load_ok(text);
    uint64_t fp = 0;
    if (c && index < c->n_devices)
        fp = c->devices[index].fingerprint;
    CHECK(c && index < c->n_devices);
    gw_config_free(&c);
    return fp;
}

#define FP_DEV_A "{ endpoint = \"a\"; adapter = \"static\"; resources = ( { path = \"/3303/0/5700\"; value = 1.5; } ); }"
#define FP_DEV_B                                                                               \
    "{ endpoint = \"b\"; adapter = \"simulated\"; simulate = ( { field = \"temperature\"; } );\n" \
    "  resources = ( { field = \"temperature\"; scale = 2.0; } ); }"

GW_TEST(fingerprint_stable_and_sensitive)
{
    uint64_t a1 = fingerprint_of(SERVER "devices = ( " FP_DEV_A ", " FP_DEV_B " );\n", 0);
    uint64_t b1 = fingerprint_of(SERVER "devices = ( " FP_DEV_A ", " FP_DEV_B " );\n", 1);
    /* Moved, commented, blank lines: the same devices. */
    uint64_t a2 = fingerprint_of(SERVER "# comment\n\n\ndevices = (\n" FP_DEV_B ",\n # x\n"
                                        FP_DEV_A " );\n", 1);
    uint64_t b2 = fingerprint_of(SERVER "# comment\n\n\ndevices = (\n" FP_DEV_B ",\n # x\n"
                                        FP_DEV_A " );\n", 0);
    CHECK(a1 != 0 && b1 != 0 && a1 != b1);
    CHECK(a1 == a2);
    CHECK(b1 == b2);
    /* A changed value, scale or simulate option changes it. */
    CHECK(a1 != fingerprint_of(SERVER "devices = ( { endpoint = \"a\"; adapter = \"static\"; "
                                      "resources = ( { path = \"/3303/0/5700\"; value = 1.6; } ); } );\n",
                               0));
    CHECK(b1 != fingerprint_of(SERVER "devices = ( { endpoint = \"b\"; adapter = \"simulated\"; "
                                      "simulate = ( { field = \"temperature\"; } );\n resources = ( "
                                      "{ field = \"temperature\"; scale = 3.0; } ); } );\n",
                               0));
    CHECK(b1 != fingerprint_of(SERVER "devices = ( { endpoint = \"b\"; adapter = \"simulated\"; "
                                      "simulate = ( { field = \"temperature\"; period = 61.0; } );\n"
                                      "resources = ( { field = \"temperature\"; scale = 2.0; } ); } );\n",
                               0));
    /* A template gives the same device as writing its keys out. */
    CHECK(b1 == fingerprint_of(SERVER "templates = ( { name = \"t\"; adapter = \"simulated\";\n"
                                      "  simulate = ( { field = \"temperature\"; } ); } );\n"
                                      "devices = ( { endpoint = \"b\"; template = \"t\";\n"
                                      "  resources = ( { field = \"temperature\"; scale = 2.0; } ); } );\n",
                               0));
}

/* ---- examples ---------------------------------------------------------- */

static void load_example(const char *path, size_t n_devices)
{
    gw_registry_t *reg = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    diags_t d = {0};
    gw_config_t *c = NULL;
    CHECK_EQ_INT(gw_config_load(path, reg, collect, &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    if (c)
        CHECK_EQ_INT(c->n_devices, n_devices);
    gw_config_free(&c);
    gw_registry_free(&reg);
}

GW_TEST(examples_load)
{
    /* Tests run from the repository root (make check). */
    load_example("examples/demo.conf", 3);
    load_example("examples/templates.conf", 7);
}

GW_TEST_MAIN(field_mapping_loads, field_resource_instance, err_field_kind, err_field_unit, err_field_path_and_resource,
             err_field_entry_keys, err_resolve_reported_at_device, simulate_loads, err_simulate,
             err_simulate_adapter, endpoint_pattern, err_endpoint_pattern,
             templates_nested_merge_override, templates_simulated_and_list_values,
             err_template_cycle_and_unknown, err_in_template_reported_once,
             fingerprint_stable_and_sensitive, examples_load)
