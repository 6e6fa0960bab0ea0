/* Unit tests for the lists of groups in the configuration (gw_config_list_next):
 * an element that is not a group is reported at its own line with its
 * list's name and index, in the list's wording, and the others are still
 * read (a good entry after it loads, a bad one after it is reported). */
#include <errno.h>
#include <unistd.h>

#include "gwtest.h"
#include "mapping/config.h"
#include "mapping/config_internal.h"

#include "config_fixture.h"

#define SERVER "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"
#define LORA_DEV                                                                                   \
    "devices = ( { endpoint = \"l\"; adapter = \"lora\"; dev_eui = \"0011223344556677\";\n"        \
    " join_eui = \"0000000000000000\"; app_key = \"000102030405060708090a0b0c0d0e0f\";\n"

/* The file fails with exactly the messages want[0..n), each at its line. */
static void expect_errors(const char *text, int n, const int *lines, const char *const *want)
{
    diags_t d;
    gw_config_t *c = (gw_config_t *)1;
    CHECK_EQ_INT(load_text(text, &d, &c), -EINVAL);
    CHECK(c == NULL);
    CHECK_EQ_INT(d.n, n);
    for (int i = 0; i < n && i < d.n; i++) {
        CHECK_EQ_INT(d.line[i], lines[i]);
        CHECK_EQ_STR(d.msg[i], want[i]);
    }
    if (d.n != n)
        dump(&d);
}

GW_TEST(templates_and_devices)
{
    expect_error(SERVER "templates = (\n 5 );\n", 3,
               "templates[0] must be a group { name = ...; adapter = ...; }, got an integer");
    /* the next device is still read: its mistake is reported too */
    static const int lines[] = {3, 4};
    static const char *const want[] = {
        "devices[0] must be a group { endpoint = ...; adapter = ...; }, got a string",
        "unknown key \"adaptr\" in devices[1], did you mean \"adapter\"?",
    };
    expect_errors(SERVER "devices = (\n \"x\",\n { endpoint = \"e\"; adaptr = \"static\"; } );\n",
                  2, lines, want);
}

GW_TEST(resources)
{
    expect_error(SERVER "devices = ( { endpoint = \"d\"; adapter = \"static\";\n"
                      " resources = ( { path = \"/3/0/9\"; value = 5; },\n [1, 2] ); } );\n",
               4, "resources[1] must be a group { path = ...; value = ...; }, got an array [ ]");
}

GW_TEST(modbus_buses_and_registers)
{
    expect_error(SERVER "adapters = { modbus = (\n true,\n"
                      " { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\"; } ); };\n",
               3, "adapters.modbus[0] must be a group { name = ...; type = ...; }, got a boolean");
    expect_error(SERVER "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"h\"; } ); };\n"
                      "devices = ( { endpoint = \"m\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"
                      " registers = ( { field = \"voltage\"; address = 0; },\n 7 ); } );\n",
               5, "registers[1] must be a group { field = ...; address = ...; }, got an integer");
}

GW_TEST(simulate)
{
    expect_error(SERVER "devices = ( { endpoint = \"s\"; adapter = \"simulated\";\n"
                      " simulate = (\n \"sine\", { field = \"temperature\"; wave = \"sine\"; } ); } );\n",
               4, "simulate[0] must be a group { field = ...; wave = ...; }, got a string");
}

GW_TEST(ble_gatt)
{
    expect_error(SERVER "devices = ( { endpoint = \"b\"; adapter = \"ble\"; address = \"C0:FF:EE:00:00:01\";\n"
                      " gatt = ( { uuid = \"2a6e\"; },\n 3 ); } );\n",
               4, "gatt[1] is an integer, expected a group { uuid = \"2a6e\"; }");
}

GW_TEST(codec_lists)
{
    expect_error(SERVER LORA_DEV " codec = { type = \"lpp\"; channels = (\n 3 ); }; } );\n", 5,
               "codec.channels[0] is an integer, expected a group { channel = 3; "
               "type = \"temperature\"; }");
    expect_error(SERVER LORA_DEV " codec = { type = \"layout\"; uplinks = (\n 2 ); }; } );\n", 5,
               "codec.uplinks[0] is an integer, expected a group { fport = 2; "
               "fields = (...); }");
    expect_error(SERVER LORA_DEV " codec = { type = \"layout\"; uplinks = ( { fport = 2; fields = (\n"
                               " { name = \"t\"; offset = 0; },\n \"u\" ); } ); }; } );\n",
               6, "codec.uplinks[0].fields[1] is a string, expected a group { name = "
                  "\"temperature\"; offset = 0; length = 2; }");
}

GW_TEST_MAIN(templates_and_devices, resources, modbus_buses_and_registers, simulate, ble_gatt,
             codec_lists)
