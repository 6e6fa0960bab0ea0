/* Unit tests for mapping/config.c: a good file, every validation message
 * with its line, several errors at once, syntax errors, vendor objects. */
#include <errno.h>
#include <unistd.h>

#include "gwtest.h"
#include "lwm2m/codec.h"
#include "mapping/config.h"
#include "mapping/config_internal.h"

#include "config_fixture.h"

#define SERVER "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"
#define DEV_OPEN "devices = ( { endpoint = \"d1\"; adapter = \"static\";\n"

GW_TEST(good_file_loads_every_value)
{
    static const char text[] =
        "# a complete file\n"
        "gateway = { name = \"pi-gw-01\"; state_dir = \"/tmp/state\"; };\n"
        "servers = ( { uri = \"coaps://dm.example.com:5684\"; lifetime = 120; security = \"psk\";\n"
        "              psk_identity = \"gw-{endpoint}\"; psk_key = \"000102030405060708090a0b0c0d0e0f\";\n"
        "              registrations_per_second = 7; short_server_id = 9; default_pmin = 5;\n"
        "              default_pmax = 60; binding = \"UQ\"; content_format = \"senml-cbor\"; },\n"
        "            { uri = \"coap://[::1]\"; } );\n"
        "devices = ( { endpoint = \"boiler-room-temp\"; adapter = \"static\";\n"
        "              device = { manufacturer = \"Acme\"; model = \"T-100\"; serial = \"0001\"; firmware = \"1.0\"; };\n"
        "              psk_identity = \"boiler\"; psk_key = \"A0b1\";\n"
        "              resources = ( { path = \"/3303/0/5700\"; value = 21.5; },\n"
        "                            { path = \"/3303/0/5701\"; value = \"Cel\"; },\n"
        "                            { path = \"/3303/1/5700\"; value = 3; },\n"
        "                            { path = \"/3/0/6\"; value = [1, 5]; },\n"
        "                            { path = \"/3/0/7/3\"; value = 5000000000L; },\n"
        "                            { path = \"/3/0/13\"; value = -12; },\n"
        "                            { path = \"/1/0/11\"; value = 7; },\n"
        "                            { path = \"/1/0/6\"; value = true; },\n"
        "                            { path = \"/5/0/0\"; value = \"0x01aB\"; },\n"
        "                            { path = \"/3/0/22\"; value = [\"3303:1\", \"65535:65535\"]; } ); },\n"
        "            { endpoint = \"plain\"; adapter = \"static\"; } );\n";
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(text, &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    if (!c)
        return;
    CHECK_EQ_STR(c->file, tmp_path);
    CHECK_EQ_STR(c->name, "pi-gw-01");
    CHECK_EQ_STR(c->state_dir, "/tmp/state");
    CHECK_EQ_STR(c->objects_dir, "/etc/lwm2m-gateway/objects");
    CHECK_EQ_INT(c->n_servers, 2);
    const gw_config_server_t *s = &c->servers[0];
    CHECK_EQ_STR(s->uri, "coaps://dm.example.com:5684");
    CHECK_EQ_INT(s->lifetime, 120);
    CHECK_EQ_INT(s->security, GW_SEC_PSK);
    CHECK_EQ_STR(s->psk_identity, "gw-{endpoint}");
    static const uint8_t key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    CHECK_EQ_MEM(s->psk_key, s->psk_key_len, key, sizeof key);
    CHECK_EQ_INT(s->registrations_per_second, 7);
    CHECK_EQ_INT(s->short_server_id, 9);
    CHECK_EQ_INT(s->default_pmin, 5);
    CHECK_EQ_INT(s->default_pmax, 60);
    CHECK_EQ_STR(s->binding, "UQ");
    CHECK_EQ_INT(s->content_format, GW_CF_SENML_CBOR);
    CHECK_EQ_INT(s->line, 3);
    s = &c->servers[1]; /* defaults */
    CHECK_EQ_STR(s->uri, "coap://[::1]");
    CHECK_EQ_INT(s->lifetime, 300);
    CHECK_EQ_INT(s->security, GW_SEC_NOSEC);
    CHECK_EQ_STR(s->psk_identity, "{endpoint}");
    CHECK_EQ_INT(s->psk_key_len, 0);
    CHECK_EQ_INT(s->registrations_per_second, 50);
    CHECK_EQ_INT(s->short_server_id, 2);
    CHECK_EQ_INT(s->default_pmin, 0);
    CHECK_EQ_INT(s->default_pmax, 0);
    CHECK_EQ_STR(s->binding, "U");
    CHECK_EQ_INT(s->content_format, GW_CF_LWM2M_TLV); /* no ct in Register: every server takes it */
    CHECK_EQ_INT(c->n_devices, 2);
    const gw_config_device_t *dv = &c->devices[0];
    CHECK_EQ_STR(dv->endpoint, "boiler-room-temp");
    CHECK_EQ_STR(dv->adapter, "static");
    CHECK_EQ_STR(dv->manufacturer, "Acme");
    CHECK_EQ_STR(dv->model, "T-100");
    CHECK_EQ_STR(dv->serial, "0001");
    CHECK_EQ_STR(dv->firmware, "1.0");
    CHECK_EQ_STR(dv->psk_identity, "boiler");
    CHECK_EQ_MEM(dv->psk_key, dv->psk_key_len, "\xa0\xb1", 2);
    CHECK_EQ_INT(dv->line, 8);
    CHECK_EQ_INT(dv->n_resources, 12);
    if (dv->n_resources == 12) {
        const gw_config_resource_t *r = dv->resources;
        char buf[32];
        CHECK_EQ_STR(gw_path_format(&r[0].path, buf, sizeof buf), "/3303/0/5700");
        CHECK_EQ_INT(r[0].value.type, GW_TYPE_FLOAT);
        CHECK_NEAR(r[0].value.v.f, 21.5, 1e-12);
        CHECK_EQ_INT(r[0].line, 11);
        CHECK_EQ_INT(r[1].value.type, GW_TYPE_STRING);
        CHECK_EQ_MEM(r[1].value.v.bytes.ptr, r[1].value.v.bytes.len, "Cel", 3);
        CHECK_NEAR(r[2].value.v.f, 3.0, 1e-12); /* int accepted for Float */
        CHECK_EQ_STR(gw_path_format(&r[3].path, buf, sizeof buf), "/3/0/6/0");
        CHECK_EQ_INT(r[3].value.v.i, 1);
        CHECK_EQ_STR(gw_path_format(&r[4].path, buf, sizeof buf), "/3/0/6/1");
        CHECK_EQ_INT(r[4].value.v.i, 5);
        CHECK_EQ_STR(gw_path_format(&r[5].path, buf, sizeof buf), "/3/0/7/3");
        CHECK_EQ_INT(r[5].value.type, GW_TYPE_INTEGER);
        CHECK_EQ_INT(r[5].value.v.i, 5000000000LL);
        CHECK_EQ_INT(r[6].value.type, GW_TYPE_TIME);
        CHECK_EQ_INT(r[6].value.v.i, -12);
        CHECK_EQ_INT(r[7].value.type, GW_TYPE_UNSIGNED);
        CHECK_EQ_INT(r[7].value.v.u, 7);
        CHECK_EQ_INT(r[8].value.type, GW_TYPE_BOOLEAN);
        CHECK(r[8].value.v.b);
        CHECK_EQ_INT(r[9].value.type, GW_TYPE_OPAQUE);
        CHECK_EQ_MEM(r[9].value.v.bytes.ptr, r[9].value.v.bytes.len, "\x01\xab", 2);
        CHECK_EQ_INT(r[10].value.type, GW_TYPE_OBJLNK);
        CHECK_EQ_INT(r[10].value.v.objlnk.oid, 3303);
        CHECK_EQ_INT(r[10].value.v.objlnk.iid, 1);
        CHECK_EQ_INT(r[11].value.v.objlnk.oid, 65535);
        CHECK_EQ_INT(r[11].value.v.objlnk.iid, 65535);
    }
    dv = &c->devices[1];
    CHECK_EQ_STR(dv->endpoint, "plain");
    CHECK(dv->manufacturer == NULL && dv->psk_identity == NULL);
    CHECK_EQ_INT(dv->psk_key_len, 0);
    CHECK_EQ_INT(dv->n_resources, 0);
    gw_config_free(&c);
    CHECK(c == NULL);
    gw_config_free(&c); /* NULL is fine */
}

GW_TEST(minimal_file_uses_defaults)
{
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(SERVER, &d, &c), 0);
    if (!c)
        return;
    char host[256] = "";
    gethostname(host, sizeof host);
    host[64] = '\0';
    CHECK_EQ_STR(c->name, host);
    CHECK_EQ_STR(c->state_dir, "/var/lib/lwm2m-gateway");
    CHECK_EQ_STR(c->objects_dir, "/etc/lwm2m-gateway/objects");
    CHECK_EQ_INT(c->n_servers, 1);
    CHECK_EQ_INT(c->servers[0].short_server_id, 1);
    CHECK_EQ_INT(c->n_devices, 0);
    CHECK(c->devices == NULL);
    gw_config_free(&c);
}

GW_TEST(parse_hex)
{
    uint8_t b[4];
    size_t n = 0;
    CHECK_EQ_INT(gw_config_parse_hex("00ff7A", b, sizeof b, &n), 0);
    CHECK_EQ_MEM(b, n, "\x00\xff\x7a", 3);
    CHECK_EQ_INT(gw_config_parse_hex("0102030405", b, sizeof b, &n), -EINVAL);
    CHECK_EQ_INT(gw_config_parse_hex("abc", b, sizeof b, &n), -EINVAL);
    CHECK_EQ_INT(gw_config_parse_hex("zz", b, sizeof b, &n), -EINVAL);
    CHECK_EQ_INT(gw_config_parse_hex("", b, sizeof b, &n), -EINVAL);
    CHECK_EQ_INT(gw_config_parse_hex(NULL, b, sizeof b, &n), -EINVAL);
    CHECK_EQ_INT(gw_config_parse_hex("0x12", b, sizeof b, &n), -EINVAL);
}

GW_TEST(suggest_nearest_key)
{
    static const char *const keys[] = {"uri", "lifetime", "security", "psk_key", "binding"};
    CHECK_EQ_STR(gw_config_suggest("lifetme", keys, 5), "lifetime");
    CHECK_EQ_STR(gw_config_suggest("lifeitme", keys, 5), "lifetime");
    CHECK_EQ_STR(gw_config_suggest("Security", keys, 5), "security");
    CHECK_EQ_STR(gw_config_suggest("url", keys, 5), "uri");
    CHECK(gw_config_suggest("colour", keys, 5) == NULL);
    CHECK(gw_config_suggest("x", keys, 5) == NULL);
    CHECK_EQ_INT(gw_config_edit_distance("kitten", "sitting", 5), 3);
}

GW_TEST(err_unknown_key_suggests)
{
    expect_error("servers = ( { uri = \"coap://h\";\n lifetme = 30; } );\n", 2,
                 "unknown key \"lifetme\" in servers[0], did you mean \"lifetime\"?");
}

GW_TEST(err_unknown_key_lists_keys)
{
    expect_error(SERVER "gateway = { colour = \"red\"; };\n", 2,
                 "unknown key \"colour\" in gateway, expected one of: name, state_dir, objects_dir, "
                 "offline_store_max, endpoint_pattern, refuse_readable_keys, bootstrap_all, access, access_owner");
}

GW_TEST(err_type_mismatch)
{
    expect_error("servers = ( { uri = \"coap://h\";\n\n lifetime = \"300\"; } );\n", 3,
                 "\"lifetime\" must be an integer (seconds), got a string");
}

GW_TEST(err_int_range)
{
    expect_error("servers = ( { uri = \"coap://h\";\n lifetime = 0; } );\n", 2,
                 "\"lifetime\" must be at least 1, got 0");
}

GW_TEST(err_int_too_big_without_L)
{
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/9\";\n value = 5000000000; } ); } );\n",
                 4, "integer 5000000000 does not fit in 32 bits, expected the 64-bit form "
                    "5000000000L");
}

GW_TEST(big_literals_in_strings_comments_floats_are_fine)
{
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text("# 99999999999\n/* 88888888888 */ // 77777777777\n" SERVER
                           "gateway = { name = \"g99999999999\"; };\n" DEV_OPEN
                           "resources = ( { path = \"/3303/0/5700\"; value = 12345678901.5; },\n"
                           " { path = \"/3303/0/5601\"; value = 0.99999999999; },\n"
                           " { path = \"/3303/0/5602\"; value = -2147483648; } ); } );\n",
                           &d, &c), 0);
    dump(&d);
    if (c) {
        CHECK_NEAR(c->devices[0].resources[0].value.v.f, 12345678901.5, 1e-3);
        CHECK_NEAR(c->devices[0].resources[2].value.v.f, -2147483648.0, 0);
    }
    gw_config_free(&c);
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/9\";\n value = -2147483649; } ); } );\n",
                 4, "integer -2147483649 does not fit in 32 bits, expected the 64-bit form "
                    "-2147483649L");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/9\";\n value = 99999999999999999999L; } ); } );\n",
                 4, "integer 99999999999999999999 is out of range, expected a value that fits in "
                    "64 bits (with the L suffix)");
}

GW_TEST(err_duplicate_endpoint)
{
    expect_error(SERVER "devices = (\n { endpoint = \"x\"; adapter = \"static\"; },\n"
                        " { adapter = \"static\";\n   endpoint = \"x\"; } );\n",
                 5, "duplicate endpoint \"x\" (first defined at line 3)");
}

GW_TEST(err_unknown_object)
{
    expect_error(SERVER DEV_OPEN "resources = (\n { path = \"/9999/0/1\"; value = 1; } ); } );\n",
                 4, "unknown object 9999 in path \"/9999/0/1\": not in the registry or objects_dir");
}

GW_TEST(err_unknown_resource)
{
    expect_error(SERVER DEV_OPEN "resources = (\n { path = \"/3303/0/5799\"; value = 1; } ); } );\n",
                 4, "resource 5799 is not defined in object 3303 (Temperature)");
}

GW_TEST(err_value_type)
{
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3303/0/5700\";\n value = \"hot\"; } ); } );\n",
                 4, "value for /3303/0/5700 (Sensor Value, Float) must be a number, got a string");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3303/0/5700\";\n value = true; } ); } );\n",
                 4, "value for /3303/0/5700 (Sensor Value, Float) must be a number, got a boolean");
}

GW_TEST(err_value_other_types)
{
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/1/0/11\"; value = -1; } ); } );\n", 3,
                 "value for /1/0/11 (TLS-DTLS Alert Code, Unsigned Integer) must be an integer >= "
                 "0, got -1");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/9\"; value = 1.5; } ); } );\n", 3,
                 "value for /3/0/9 (Battery Level, Integer) must be an integer, got a float");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/1/0/6\"; value = 1; } ); } );\n", 3,
                 "value for /1/0/6 (Notification Storing When Disabled or Offline, Boolean) must "
                 "be true or false, got an integer");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/5/0/0\"; value = \"0x1\"; } ); } );\n", 3,
                 "value for /5/0/0 (Package, Opaque) must be a string \"0x\" followed by hex "
                 "digits, e.g. \"0x01ab\", got \"0x1\"");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/1/0/10\"; value = \"3/0\"; } ); } );\n", 3,
                 "value for /1/0/10 (APN Link, Objlnk) must be a string \"oid:iid\", e.g. \"3:0\", "
                 "got \"3/0\"");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/14\"; value = 3; } ); } );\n", 3,
                 "value for /3/0/14 (UTC Offset, String) must be a string, got an integer");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/6\";\n value = [1,\n \"a\"]; } ); } );\n",
                 5, "mismatched element type in array");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/6\";\n value = (1,\n \"a\"); } ); } );\n",
                 5, "value[1] for /3/0/6 (Available Power Sources, Integer) must be an integer, "
                    "got a string");
}

GW_TEST(err_executable)
{
    expect_error(SERVER DEV_OPEN "resources = (\n { path = \"/3/0/4\"; value = 1; } ); } );\n", 4,
                 "/3/0/4 (Reboot) is executable and takes no value");
}

GW_TEST(err_bad_path)
{
    expect_error(SERVER DEV_OPEN "resources = (\n { path = \"/3303/x/5700\"; value = 1; } ); } );\n",
                 4, "bad path \"/3303/x/5700\", expected /object/instance/resource[/instance]");
    expect_error(SERVER DEV_OPEN "resources = (\n { path = \"/3303/0\"; value = 1; } ); } );\n", 4,
                 "bad path \"/3303/0\", expected /object/instance/resource[/instance]");
}

GW_TEST(err_instances)
{
    expect_error(SERVER DEV_OPEN "resources = (\n { path = \"/3/1/0\"; value = \"x\"; } ); } );\n", 4,
                 "object 3 (Device) is single-instance, expected instance 0 in path \"/3/1/0\"");
    expect_error(SERVER DEV_OPEN "resources = (\n { path = \"/3/0/9/0\"; value = 1; } ); } );\n", 4,
                 "/3/0/9/0 (Battery Level) is a single-instance resource, expected the path /3/0/9");
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/6\";\n value = 1; } ); } );\n", 4,
                 "/3/0/6 (Available Power Sources, Integer) has multiple instances, expected a list "
                 "value = [ ... ] or a path /3/0/6/<instance>");
}

GW_TEST(err_duplicate_path)
{
    expect_error(SERVER DEV_OPEN "resources = ( { path = \"/3/0/9\"; value = 1; },\n"
                                 " { path = \"/3/0/9\"; value = 2; } ); } );\n",
                 4, "duplicate path /3/0/9 (first set at line 3)");
    expect_error(SERVER DEV_OPEN "device = { model = \"m\"; };\n"
                                 "resources = ( { path = \"/3/0/1\"; value = \"n\"; } ); } );\n",
                 4, "/3/0/1 is already set by device.model (line 3), set it only once");
}

GW_TEST(err_psk_key)
{
    expect_error("servers = ( { uri = \"coaps://h\"; security = \"psk\";\n psk_key = \"0g\"; } );\n",
                 2, "psk_key must be hex (even number of 0-9a-f digits), up to 64 bytes");
    char big[400];
    snprintf(big, sizeof big, SERVER DEV_OPEN "psk_key = \"%0130d\"; } );\n", 0);
    expect_error(big, 3, "psk_key must be hex (even number of 0-9a-f digits), up to 64 bytes");
}

GW_TEST(err_psk_needs_key)
{
    expect_error("servers = ( { uri = \"coaps://h:5684\";\n security = \"psk\"; } );\n", 2,
                 "security \"psk\" needs psk_key (hex, up to 64 bytes)");
}

GW_TEST(err_uri)
{
    expect_error("servers = ( { uri = \"http://h\"; } );\n", 1,
                 "uri \"http://h\" must start with coap:// or coaps://");
    expect_error("servers = ( { uri = \"coap://:5683\"; } );\n", 1,
                 "uri \"coap://:5683\" has no host, expected coap://host[:port]");
    expect_error("servers = ( { uri = \"coap://h:70000\"; } );\n", 1,
                 "uri \"coap://h:70000\" has a bad port, expected 1 to 65535");
    expect_error("servers = ( { uri = \"coap://h:\"; } );\n", 1,
                 "uri \"coap://h:\" has a bad port, expected 1 to 65535");
    expect_error("servers = ( { uri = \"coap://h:56/x\"; } );\n", 1,
                 "uri \"coap://h:56/x\" has a path, expected coap://host[:port] only");
}

GW_TEST(err_bootstrap)
{
    expect_error("servers = ( { uri = \"coap://h\"; } );\ndevices = ( { endpoint = \"d\"; adapter = \"static\";\n"
                 " bootstrap = true; } );\n",
                 2, "device \"d\" has bootstrap = true but there is no bootstrap_server = { uri = ...; }");
    expect_error("gateway = { bootstrap_all = true; };\nbootstrap_server = {\n uri = \"coaps://h\"; };\n", 2,
                 "bootstrap_server: uri \"coaps://h\" needs security = \"psk\"");
    expect_error("gateway = { bootstrap_all = true; };\nbootstrap_server = { uri = \"coap://h\";\n finish_timeout = 0; };\n",
                 3, "\"finish_timeout\" must be between 1 and 86400, got 0");
    expect_error("servers = ( { uri = \"coap://h:0\"; } );\n", 1,
                 "uri \"coap://h:0\" has a bad port, expected 1 to 65535");
    /* No servers, no devices: the gateway's own endpoint bootstraps
     * (docs/configuration.md, bootstrap_all), so the file is fine. */
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text("gateway = { name = \"gw\"; };\nbootstrap_server = { uri = \"coap://h\"; };\n", &d, &c),
                 0);
    CHECK_EQ_INT(d.n, 0);
    if (d.n)
        dump(&d);
    gw_config_free(&c);
}

GW_TEST(err_uri_security)
{
    expect_error("servers = ( { uri = \"coaps://h\"; } );\n", 1,
                 "uri \"coaps://...\" needs security = \"psk\", \"rpk\" or \"x509\", got \"nosec\"");
    expect_error("servers = ( { uri = \"coap://h\";\n security = \"psk\"; psk_key = \"00\"; } );\n",
                 2, "uri \"coap://...\" is unencrypted and needs security = \"nosec\"; use "
                    "coaps:// for \"psk\"");
    expect_error("servers = ( { uri = \"coap://h\"; security = \"dtls\"; } );\n", 1,
                 "security must be \"nosec\", \"psk\", \"rpk\" or \"x509\", got \"dtls\"");
}

GW_TEST(err_content_format)
{
    expect_error("servers = ( { uri = \"coap://h\";\n content_format = \"json\"; } );\n", 2,
                 "content_format must be \"tlv\", \"senml-json\" or \"senml-cbor\", got \"json\"");
    expect_error("servers = ( { uri = \"coap://h\";\n\n content_format = \"11542\"; } );\n", 3,
                 "content_format must be \"tlv\", \"senml-json\" or \"senml-cbor\", got \"11542\"");
}

GW_TEST(err_missing_required)
{
    expect_error("gateway = { name = \"g\"; };\n", 0,
                 "the top level is missing required key \"servers\" (a list of groups ( { uri = "
                 "...; }, ... ), or a bootstrap_server = { uri = ...; } that provisions them)");
    expect_error("servers = (\n { lifetime = 30; } );\n", 2,
                 "servers[0] is missing required key \"uri\" (coap://host[:port] or "
                 "coaps://host[:port])");
    expect_error("servers = ( );\n", 1, "servers is empty, expected at least one server with a uri");
    expect_error(SERVER "devices = (\n { adapter = \"static\"; } );\n", 3,
                 "devices[0] has neither endpoint nor address, expected endpoint = \"...\" or an "
                 "address to build it from gateway.endpoint_pattern");
    expect_error(SERVER "devices = (\n { endpoint = \"e\"; } );\n", 3,
                 "devices[0] has no adapter, expected adapter = \"...\" in the device or its "
                 "template (one of: static, simulated, modbus, ble, lora)");
}

GW_TEST(err_unknown_adapter)
{
    expect_error(SERVER "devices = ( { endpoint = \"e\";\n adapter = \"x\"; } );\n", 3,
                 "unknown adapter \"x\", expected one of: static, simulated, modbus, ble, lora");
}

GW_TEST(err_endpoint_chars)
{
    expect_error(SERVER "devices = ( { adapter = \"static\";\n endpoint = \"a&b\"; } );\n", 3,
                 "endpoint \"a&b\" contains '&', expected printable ASCII without ' ', '&' and "
                 "'?'");
    expect_error(SERVER "devices = ( { adapter = \"static\";\n endpoint = \"a b\"; } );\n", 3,
                 "endpoint \"a b\" contains ' ', expected printable ASCII without ' ', '&' and "
                 "'?'");
    expect_error(SERVER "devices = ( { adapter = \"static\";\n endpoint = \"a?\"; } );\n", 3,
                 "endpoint \"a?\" contains '?', expected printable ASCII without ' ', '&' and "
                 "'?'");
    expect_error(SERVER "devices = ( { adapter = \"static\";\n endpoint = \"a\\x01\"; } );\n", 3,
                 "endpoint \"a\\x01\" contains \\x01, expected printable ASCII without ' ', '&' "
                 "and '?'");
    expect_error(SERVER "devices = ( { adapter = \"static\";\n endpoint = \"\"; } );\n", 3,
                 "endpoint must not be empty, expected 1 to 64 printable ASCII characters");
    char text[300];
    snprintf(text, sizeof text, SERVER "devices = ( { adapter = \"static\";\n endpoint = \"%065d\"; } );\n", 0);
    expect_error(text, 3, "endpoint \"000000000000000000000000000000000000000000000000000000000000..."
                          "\" is 65 bytes long, at most 64 are allowed");
}

GW_TEST(err_endpoint_is_gateway_name)
{
    expect_error(SERVER "gateway = { name = \"gw\"; };\n"
                        "devices = ( { adapter = \"static\";\n endpoint = \"gw\"; } );\n",
                 4, "endpoint \"gw\" is the gateway's own name (gateway.name), expected a different "
                    "endpoint");
}

GW_TEST(err_objects_dir_missing)
{
    expect_error(SERVER "gateway = {\n objects_dir = \"/nonexistent/gw-objects\"; };\n", 3,
                 "objects_dir \"/nonexistent/gw-objects\" does not exist, expected a directory of "
                 "DDF .xml files");
}

GW_TEST(five_errors_all_reported)
{
    static const char text[] =
        "servers = ( { uri = \"coap://h\";\n"              /* 1 */
        "  lifetme = 30;\n"                                /* 2 */
        "  binding = \"X\"; } );\n"                        /* 3 */
        "devices = ( { endpoint = \"a\"; adapter = \"mqtt\";\n" /* 4 */
        "  resources = ( { path = \"/3303/0/5700\"; value = \"x\"; },\n" /* 5 */
        "                { path = \"/3/0/4\"; value = 1; } ); },\n"      /* 6 */
        "  { endpoint = \"a\"; adapter = \"static\"; } );\n";            /* 7 */
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(text, &d, &c), -EINVAL);
    CHECK(c == NULL);
    CHECK_EQ_INT(d.n, 6);
    static const int lines[] = {2, 3, 4, 5, 6, 7};
    for (int i = 0; i < d.n && i < 6; i++)
        CHECK_EQ_INT(d.line[i], lines[i]);
    if (d.n == 6) {
        CHECK_EQ_STR(d.msg[0], "unknown key \"lifetme\" in servers[0], did you mean \"lifetime\"?");
        CHECK_EQ_STR(d.msg[1], "binding must be letters from U, T, S, N, Q (e.g. \"U\" or \"UQ\"), "
                               "got \"X\"");
        CHECK_EQ_STR(d.msg[2], "unknown adapter \"mqtt\", expected one of: static, simulated, modbus, ble, lora");
        CHECK_EQ_STR(d.msg[3], "value for /3303/0/5700 (Sensor Value, Float) must be a number, got "
                               "a string");
        CHECK_EQ_STR(d.msg[4], "/3/0/4 (Reboot) is executable and takes no value");
        CHECK_EQ_STR(d.msg[5], "duplicate endpoint \"a\" (first defined at line 4)");
    } else {
        dump(&d);
    }
}

GW_TEST(syntax_error_line)
{
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(SERVER "gateway = {\n name = \"x\";\n state_dir = ; };\n", &d, &c),
                 -EINVAL);
    CHECK(c == NULL);
    gw_config_free(&c);
    CHECK_EQ_INT(d.n, 1);
    CHECK_EQ_INT(d.line[0], 4);
    CHECK_EQ_STR(d.file[0], tmp_path);
    CHECK(strncmp(d.msg[0], "syntax error, expected libconfig syntax", 39) == 0);
    expect_error("a = 1;\n\na = 2;\n", 3,
                 "duplicate setting name: this name is already set in the same group, expected "
                 "each setting once per group");
}

GW_TEST(missing_file)
{
    gw_registry_t *reg = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    diags_t d = {0};
    gw_config_t *c = NULL;
    CHECK_EQ_INT(gw_config_load("/nonexistent/gw.conf", reg, collect, &d, &c), -ENOENT);
    CHECK(c == NULL);
    CHECK_EQ_INT(d.n, 1);
    CHECK_EQ_STR(d.msg[0], "cannot open configuration file: No such file or directory");
    CHECK_EQ_INT(gw_config_load("/nonexistent/gw.conf", reg, NULL, NULL, &c), -ENOENT);
    CHECK_EQ_INT(gw_config_load("/", reg, NULL, NULL, &c), -EIO);
    gw_registry_free(&reg);
}

GW_TEST(vendor_object_from_objects_dir)
{
    char dir[] = "/tmp/gwobjXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char xml[128];
    snprintf(xml, sizeof xml, "%s/vendor.xml", dir);
    write_text(xml, "<LWM2M><Object ObjectType=\"MODefinition\"><Name>Gizmo</Name>"
                    "<ObjectID>33001</ObjectID><MultipleInstances>Multiple</MultipleInstances>"
                    "<Resources><Item ID=\"1\"><Name>Level</Name><Operations>R</Operations>"
                    "<MultipleInstances>Single</MultipleInstances><Type>Float</Type></Item>"
                    "</Resources></Object></LWM2M>\n");
    char text[512];
    snprintf(text, sizeof text,
             "devices = ( { endpoint = \"g\"; adapter = \"static\";\n"
             "  resources = ( { path = \"/33001/0/1\"; value = 2; } ); } );\n"
             "gateway = { objects_dir = \"%s\"; };\n" SERVER, dir);
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(text, &d, &c), 0);
    dump(&d);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_STR(c->objects_dir, dir);
        CHECK_EQ_INT(c->devices[0].n_resources, 1);
        CHECK_NEAR(c->devices[0].resources[0].value.v.f, 2.0, 0);
        gw_config_free(&c);
    }
    /* The same path without the objects_dir is an unknown object. */
    expect_error("devices = ( { endpoint = \"g\"; adapter = \"static\";\n"
                 "  resources = ( { path = \"/33001/0/1\"; value = 2; } ); } );\n" SERVER,
                 2, "unknown object 33001 in path \"/33001/0/1\": not in the registry or objects_dir");
    unlink(xml);
    rmdir(dir);
}

static void load_example(const char *path)
{
    gw_registry_t *reg = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    diags_t d = {0};
    gw_config_t *c = NULL;
    CHECK_EQ_INT(gw_config_load(path, reg, collect, &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    CHECK(c != NULL);
    gw_config_free(&c);
    gw_registry_free(&reg);
}

GW_TEST(examples_load)
{
    /* Tests run from the repository root (make check). Not
     * examples/dtls-x509.conf: its keys are made by
     * tools/make-test-certs.sh, which test_config_files.py runs before
     * checking it (test_dtls_x509_example_checks_once_its_test_keys_are_made). */
    load_example("examples/demo.conf");
    load_example("examples/gateway.conf");
    gw_registry_t *reg = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    gw_config_t *c = NULL;
    CHECK_EQ_INT(gw_config_load("examples/demo.conf", reg, NULL, NULL, &c), 0);
    if (c) {
        CHECK_EQ_STR(c->name, "demo-gw");
        CHECK_EQ_INT(c->n_servers, 1);
        CHECK_EQ_STR(c->servers[0].uri, "coap://127.0.0.1:5683");
        CHECK_EQ_INT(c->servers[0].lifetime, 60);
        CHECK_EQ_INT(c->n_devices, 3);
        gw_config_free(&c);
    }
    gw_registry_free(&reg);
}

GW_TEST_MAIN(good_file_loads_every_value, minimal_file_uses_defaults, parse_hex,
             suggest_nearest_key, err_unknown_key_suggests, err_unknown_key_lists_keys,
             err_type_mismatch, err_int_range, err_int_too_big_without_L,
             big_literals_in_strings_comments_floats_are_fine, err_duplicate_endpoint,
             err_unknown_object, err_unknown_resource, err_value_type, err_value_other_types,
             err_executable, err_bad_path, err_instances, err_duplicate_path, err_psk_key,
             err_psk_needs_key, err_uri, err_uri_security, err_content_format, err_missing_required, err_bootstrap,
             err_unknown_adapter, err_endpoint_chars, err_endpoint_is_gateway_name,
             err_objects_dir_missing, five_errors_all_reported, syntax_error_line, missing_file,
             vendor_object_from_objects_dir, examples_load)
