/* Unit tests: strings of the configuration file are UTF-8, as the String
 * resources, Register queries and logs they reach (issue 8, section 4); the
 * store would refuse them at run time, so --check says so with file:line. */
#include <errno.h>
#include <unistd.h>

#include "gwtest.h"
#include "mapping/config.h"

#include "config_fixture.h"

#define HEAD                                                                                 \
    "gateway = { name = \"gw\"; state_dir = \"/tmp\"; };\n"                                   \
    "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"

GW_TEST(device_strings_must_be_utf8)
{
    expect_error(HEAD "devices = ( { endpoint = \"d1\"; adapter = \"static\";\n"
                      "  device = { manufacturer = \"Acm\xe9\"; }; } );\n",
                 4, "\"manufacturer\" is not valid UTF-8, expected a string (/3/0/0)");
    expect_error(HEAD "devices = ( { endpoint = \"d1\"; adapter = \"static\";\n"
                      "  device = { model = \"T\xed\xa0\x80\"; }; } );\n",
                 4, "\"model\" is not valid UTF-8, expected a string (/3/0/1)");
}

GW_TEST(resource_strings_must_be_utf8)
{
    expect_error(HEAD "devices = ( { endpoint = \"d1\"; adapter = \"static\";\n"
                      "  resources = ( { path = \"/3303/0/5750\"; value = \"bo\xc3\xa9\xffiler\"; } ); } );\n",
                 4, "value for /3303/0/5750 (Application Type, String) must be valid UTF-8");
}

GW_TEST(utf8_strings_are_fine)
{
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(HEAD "devices = ( { endpoint = \"chaufferie\"; adapter = \"static\";\n"
                                "  device = { manufacturer = \"Acm\xc3\xa9 \xe2\x82\xac\"; };\n"
                                "  resources = ( { path = \"/3303/0/5750\"; value = \"\xf0\x9f\x94\xa5\"; } ); } );\n",
                           &d, &c),
                 0);
    if (d.n)
        dump(&d);
    CHECK_EQ_INT(d.n, 0);
    gw_config_free(&c);
}

GW_TEST_MAIN(device_strings_must_be_utf8, resource_strings_must_be_utf8, utf8_strings_are_fine)
