/* Unit tests for the files a configuration names (mapping/config_files.c and
 * the checks in config.c): a FIFO as the file, an @include or a DDF file is
 * refused at once instead of blocking; missing @include files, include loops,
 * duplicate settings, bad objects_dir and state_dir are reported at the
 * file:line that names them; two devices at one adapter address (a Modbus
 * bus and unit_id) are an error with both places. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gwtest.h"
#include "mapping/config.h"

#include "config_fixture.h"

#define SERVER "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"

static char dir[64];

/* A fresh directory for one test's files. */
static void new_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/gwcfgdirXXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static void put(const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_text(path, text);
}

static const char *in_dir(const char *name)
{
    static char path[4][PATH_MAX];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", dir, name);
    return p;
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* Load dir/name; diagnostics into d. */
static int load_file(const char *name, diags_t *d, gw_config_t **out)
{
    gw_registry_t *reg = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    memset(d, 0, sizeof *d);
    *out = NULL;
    int rc = gw_config_load(in_dir(name), reg, collect, d, out);
    gw_registry_free(&reg);
    return rc;
}

/* dir/name must fail with one message, at file:line. */
static void expect_one(const char *name, int rc_want, const char *file, int line, const char *msg)
{
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_file(name, &d, &c), rc_want);
    CHECK(c == NULL);
    gw_config_free(&c);
    CHECK_EQ_INT(d.n, 1);
    if (d.n >= 1) {
        CHECK_EQ_STR(d.file[0], file);
        CHECK_EQ_INT(d.line[0], line);
        CHECK_EQ_STR(d.msg[0], msg);
    }
    if (d.n != 1 || (d.n && (d.line[0] != line || strcmp(d.msg[0], msg))))
        dump(&d);
}

GW_TEST(fifo_as_the_file_is_refused_at_once)
{
    new_dir();
    CHECK_EQ_INT(mkfifo(in_dir("gw.conf"), 0600), 0);
    /* would block forever in open() before */
    expect_one("gw.conf", -EIO, in_dir("gw.conf"), 0,
               "configuration file is a FIFO, expected a regular file");
    rm_dir();
}

GW_TEST(directory_as_the_file_is_refused)
{
    new_dir();
    CHECK_EQ_INT(mkdir(in_dir("gw.conf"), 0700), 0);
    expect_one("gw.conf", -EIO, in_dir("gw.conf"), 0,
               "configuration file is a directory, expected a regular file");
    rm_dir();
}

GW_TEST(fifo_as_an_include_is_refused)
{
    new_dir();
    CHECK_EQ_INT(mkfifo(in_dir("servers.conf"), 0600), 0);
    put("gw.conf", "# servers elsewhere\n@include \"servers.conf\"\n");
    char msg[512];
    snprintf(msg, sizeof msg, "@include \"servers.conf\": \"%s\" is a FIFO, expected a regular "
                              "file", in_dir("servers.conf"));
    expect_one("gw.conf", -EINVAL, in_dir("gw.conf"), 2, msg);
    rm_dir();
}

GW_TEST(missing_include_of_an_include_is_at_its_line)
{
    new_dir();
    CHECK_EQ_INT(mkdir(in_dir("conf.d"), 0700), 0);
    put("conf.d/devices.conf", "\n\n  @include \"conf.d/more.conf\"\n");
    put("gw.conf", SERVER "@include \"conf.d/devices.conf\"\n");
    char msg[512];
    snprintf(msg, sizeof msg, "@include \"conf.d/more.conf\": cannot open \"%s\": No such file or "
                              "directory, expected a readable file (a relative path is taken from "
                              "the directory of the main configuration file)",
             in_dir("conf.d/more.conf"));
    expect_one("gw.conf", -EINVAL, in_dir("conf.d/devices.conf"), 3, msg);
    rm_dir();
}

GW_TEST(missing_absolute_include_is_at_its_line)
{
    expect_error(SERVER "\n@include \"/nonexistent/gw-part.conf\"\n", 3,
                 "@include \"/nonexistent/gw-part.conf\": cannot open \"/nonexistent/gw-part.conf\": "
                 "No such file or directory, expected a readable file (a relative path is taken "
                 "from the directory of the main configuration file)");
}

GW_TEST(commented_include_is_not_followed)
{
    new_dir();
    put("gw.conf", SERVER "/* old:\n@include \"gone.conf\"\n*/\n# @include \"gone.conf\"\n");
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_file("gw.conf", &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    gw_config_free(&c);
    rm_dir();
}

GW_TEST(include_loop_is_named)
{
    new_dir();
    put("gw.conf", SERVER "@include \"a.conf\"\n");
    put("a.conf", "# a\n@include \"b.conf\"\n");
    put("b.conf", "@include \"a.conf\"\n");
    char msg[1024];
    snprintf(msg, sizeof msg, "@include \"a.conf\" is an include loop (%s -> %s -> %s -> %s), "
                              "expected each file once along a chain of includes",
             in_dir("gw.conf"), in_dir("a.conf"), in_dir("b.conf"), in_dir("a.conf"));
    expect_one("gw.conf", -EINVAL, in_dir("b.conf"), 1, msg);
    /* the main file including itself */
    put("self.conf", SERVER "\n@include \"self.conf\"\n");
    snprintf(msg, sizeof msg, "@include \"self.conf\" is an include loop (%s -> %s), expected "
                              "each file once along a chain of includes",
             in_dir("self.conf"), in_dir("self.conf"));
    expect_one("self.conf", -EINVAL, in_dir("self.conf"), 3, msg);
    rm_dir();
}

GW_TEST(duplicate_setting_in_an_include_is_at_its_file_and_line)
{
    new_dir();
    CHECK_EQ_INT(mkdir(in_dir("sub"), 0700), 0);
    put("sub/gw.conf", "gateway = { name = \"a\";\n\n  name = \"b\"; };\n");
    put("gw.conf", SERVER "@include \"sub/gw.conf\"\n");
    expect_one("gw.conf", -EINVAL, in_dir("sub/gw.conf"), 3,
               "duplicate setting name: this name is already set in the same group, expected "
               "each setting once per group");
    rm_dir();
}

GW_TEST(unknown_key_in_an_include_names_the_include)
{
    new_dir();
    CHECK_EQ_INT(mkdir(in_dir("sub"), 0700), 0);
    put("sub/gw.conf", "gateway = {\n  nmae = \"a\"; };\n");
    put("gw.conf", SERVER "@include \"sub/gw.conf\"\n");
    expect_one("gw.conf", -EINVAL, in_dir("sub/gw.conf"), 2,
               "unknown key \"nmae\" in gateway, did you mean \"name\"?");
    rm_dir();
}

GW_TEST(objects_dir_that_is_a_file_is_at_its_line)
{
    new_dir();
    put("objects", "not a directory\n");
    char text[512];
    snprintf(text, sizeof text, SERVER "gateway = {\n  objects_dir = \"%s\"; };\n",
             in_dir("objects"));
    put("gw.conf", text);
    char msg[512];
    snprintf(msg, sizeof msg, "objects_dir \"%s\" is a regular file, expected a directory of DDF "
                              ".xml files", in_dir("objects"));
    expect_one("gw.conf", -EINVAL, in_dir("gw.conf"), 3, msg);
    /* the same in an included file: its file and line */
    snprintf(text, sizeof text, "\ngateway = { objects_dir = \"%s\"; };\n", in_dir("objects"));
    put("gw-part.conf", text);
    put("gw2.conf", SERVER "@include \"gw-part.conf\"\n");
    expect_one("gw2.conf", -EINVAL, in_dir("gw-part.conf"), 2, msg);
    rm_dir();
}

GW_TEST(fifo_in_objects_dir_is_refused)
{
    new_dir();
    CHECK_EQ_INT(mkdir(in_dir("objects"), 0700), 0);
    CHECK_EQ_INT(mkfifo(in_dir("objects/9999.xml"), 0600), 0);
    char text[512];
    snprintf(text, sizeof text, SERVER "gateway = { objects_dir = \"%s\"; };\n",
             in_dir("objects"));
    put("gw.conf", text);
    expect_one("gw.conf", -EINVAL, in_dir("objects/9999.xml"), 0,
               "not a regular file, expected a DDF XML file");
    rm_dir();
}

GW_TEST(state_dir_that_is_a_file_is_at_its_line)
{
    new_dir();
    put("state", "x\n");
    char text[512], msg[512];
    snprintf(text, sizeof text, SERVER "gateway = { name = \"g\";\n  state_dir = \"%s\"; };\n",
             in_dir("state"));
    put("gw.conf", text);
    snprintf(msg, sizeof msg, "state_dir \"%s\" is a regular file, expected a directory (it is "
                              "created when missing)", in_dir("state"));
    expect_one("gw.conf", -EINVAL, in_dir("gw.conf"), 3, msg);
    rm_dir();
}

static gw_config_t *load_state_dir(const char *state_dir)
{
    char text[512];
    snprintf(text, sizeof text, SERVER "\ngateway = { state_dir = \"%s\"; };\n", state_dir);
    put("gw.conf", text);
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_file("gw.conf", &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    return c;
}

GW_TEST(missing_state_dir_is_checked_then_created_0700)
{
    new_dir();
    gw_config_t *c = load_state_dir(in_dir("var/state"));
    if (!c)
        return;
    CHECK_EQ_INT(c->state_dir_line, 3);
    diags_t d = {0};
    bool missing = false;
    /* --check: nothing is created, but it says it would be */
    CHECK_EQ_INT(gw_config_state_dir(c, false, collect, &d, &missing), 0);
    CHECK(missing);
    CHECK_EQ_INT(d.n, 0);
    struct stat st;
    CHECK(stat(in_dir("var"), &st) < 0);
    /* start: created, parents too, mode 0700 */
    CHECK_EQ_INT(gw_config_state_dir(c, true, collect, &d, NULL), 0);
    CHECK_EQ_INT(d.n, 0);
    CHECK(stat(in_dir("var/state"), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    CHECK(stat(in_dir("var"), &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    /* then it is there */
    CHECK_EQ_INT(gw_config_state_dir(c, false, collect, &d, &missing), 0);
    CHECK(!missing);
    gw_config_free(&c);
    rm_dir();
}

GW_TEST(state_dir_under_a_file_cannot_be_created)
{
    new_dir();
    put("file", "x\n");
    char want[512];
    gw_config_t *c = load_state_dir(in_dir("file/state"));
    if (!c)
        return;
    diags_t d = {0};
    bool missing = true;
    CHECK_EQ_INT(gw_config_state_dir(c, false, collect, &d, &missing), -ENOTDIR);
    CHECK(!missing);
    CHECK_EQ_INT(d.n, 1);
    snprintf(want, sizeof want, "state_dir \"%s\" cannot be created: \"%s\" is not a directory, "
                                "expected a directory the gateway can write",
             in_dir("file/state"), in_dir("file"));
    CHECK_EQ_STR(d.msg[0], want);
    CHECK_EQ_STR(d.file[0], in_dir("gw.conf"));
    CHECK_EQ_INT(d.line[0], 3);
    memset(&d, 0, sizeof d);
    CHECK(gw_config_state_dir(c, true, collect, &d, NULL) < 0);
    CHECK_EQ_INT(d.n, 1);
    snprintf(want, sizeof want, "state_dir \"%s\" does not exist and cannot be created: Not a "
                                "directory, expected a directory the gateway can write",
             in_dir("file/state"));
    CHECK_EQ_STR(d.msg[0], want);
    gw_config_free(&c);
    rm_dir();
}

#define MODBUS_BUS "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\"; } ); };\n"
#define MB_REGS "registers = ( { field = \"voltage\"; table = \"input\"; address = 0; type = \"f32\"; } );"

GW_TEST(two_modbus_devices_on_one_unit_are_an_error)
{
    new_dir();
    put("gw.conf", SERVER MODBUS_BUS
        "devices = (\n"                                                         /* 3 */
        "  { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\";\n"          /* 4 */
        "    unit_id = 7; " MB_REGS " },\n"                                     /* 5 */
        "  { endpoint = \"m2\"; adapter = \"modbus\"; bus = \"plc\"; " MB_REGS "\n" /* 6 */
        "    unit_id = 7; } );\n");                                             /* 7 */
    expect_one("gw.conf", -EINVAL, in_dir("gw.conf"), 7,
               "duplicate Modbus unit (bus/unit_id) \"plc/7\" (first defined at line 5), "
               "expected one device per bus and unit_id");
    /* named apart with address, still one unit on the bus */
    put("gw2.conf", SERVER MODBUS_BUS
        "devices = (\n"
        "  { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\"; address = \"a\";\n"
        "    unit_id = 7; " MB_REGS " },\n"
        "  { endpoint = \"m2\"; adapter = \"modbus\"; bus = \"plc\"; address = \"b\"; " MB_REGS "\n"
        "    unit_id = 7; } );\n");
    expect_one("gw2.conf", -EINVAL, in_dir("gw2.conf"), 7,
               "duplicate Modbus unit (bus/unit_id) \"plc/7\" (first defined at line 5), "
               "expected one device per bus and unit_id");
    /* the same unit id on two buses is two devices */
    put("gw3.conf", SERVER
        "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\"; },\n"
        "                        { name = \"b2\"; type = \"tcp\"; host = \"127.0.0.2\"; } ); };\n"
        "devices = (\n"
        "  { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 7; " MB_REGS " },\n"
        "  { endpoint = \"m2\"; adapter = \"modbus\"; bus = \"b2\"; unit_id = 7; " MB_REGS " } );\n");
    diags_t d;
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_file("gw3.conf", &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    gw_config_free(&c);
    /* two buses that reach one TCP server (host names without case) */
    put("gw4.conf", SERVER
        "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"Meter.local\"; },\n"
        "                        { name = \"b2\"; type = \"tcp\"; host = \"meter.local\"; port = 502; } ); };\n"
        "devices = (\n"                                                                        /* 4 */
        "  { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 7; " MB_REGS " },\n"
        "  { endpoint = \"m2\"; adapter = \"modbus\"; bus = \"b2\"; unit_id = 7; " MB_REGS " } );\n");
    expect_one("gw4.conf", -EINVAL, in_dir("gw4.conf"), 6,
               "duplicate Modbus unit on another bus \"tcp meter.local:502 unit 7\" (first defined "
               "at line 5), expected one device per unit_id on one Modbus TCP server (host:port) "
               "or serial device, whichever bus names it");
    /* the same port on another host, or another port: other devices */
    put("gw5.conf", SERVER
        "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\"; },\n"
        "                        { name = \"b2\"; type = \"tcp\"; host = \"127.0.0.1\"; port = 503; } ); };\n"
        "devices = (\n"
        "  { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 7; " MB_REGS " },\n"
        "  { endpoint = \"m2\"; adapter = \"modbus\"; bus = \"b2\"; unit_id = 7; " MB_REGS " } );\n");
    CHECK_EQ_INT(load_file("gw5.conf", &d, &c), 0);
    CHECK_EQ_INT(d.n, 0);
    dump(&d);
    gw_config_free(&c);
    /* two serial buses on one line, one named through a link */
    put("tty", "");
    CHECK_EQ_INT(symlink(in_dir("tty"), in_dir("by-id")), 0);
    char conf[2048];
    snprintf(conf, sizeof conf, SERVER
             "adapters = { modbus = ( { name = \"r1\"; type = \"rtu\"; device = \"%s\"; },\n"
             "                        { name = \"r2\"; type = \"rtu\"; device = \"%s\"; } ); };\n"
             "devices = (\n"
             "  { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"r1\"; unit_id = 3; " MB_REGS " },\n"
             "  { endpoint = \"m2\"; adapter = \"modbus\"; bus = \"r2\"; unit_id = 3; " MB_REGS " } );\n",
             in_dir("tty"), in_dir("by-id"));
    put("gw6.conf", conf);
    char want[1024];
    snprintf(want, sizeof want, "duplicate Modbus unit on another bus \"rtu %s unit 3\" (first "
             "defined at line 5), expected one device per unit_id on one Modbus TCP server "
             "(host:port) or serial device, whichever bus names it", in_dir("tty"));
    expect_one("gw6.conf", -EINVAL, in_dir("gw6.conf"), 6, want);
    unlink(in_dir("by-id"));
    unlink(in_dir("tty"));
    rm_dir();
}

GW_TEST(duplicate_in_another_file_names_both_files)
{
    new_dir();
    /* @include is textual: a list can take entries from another file */
    put("more.conf", "\n  { endpoint = \"m2\"; adapter = \"modbus\"; bus = \"plc\";\n"
                     "    unit_id = 7; " MB_REGS " }\n");
    put("gw.conf", SERVER MODBUS_BUS
        "devices = (\n"                                                           /* 3 */
        "  { endpoint = \"m1\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 7; " MB_REGS " },\n"
        "@include \"more.conf\"\n"
        ");\n");
    char msg[512];
    snprintf(msg, sizeof msg, "duplicate Modbus unit (bus/unit_id) \"plc/7\" (first defined at "
                              "%s:4), expected one device per bus and unit_id", in_dir("gw.conf"));
    expect_one("gw.conf", -EINVAL, in_dir("more.conf"), 3, msg);
    rm_dir();
}

GW_TEST(same_static_address_twice_is_an_error)
{
    new_dir();
    put("gw.conf", SERVER "devices = (\n"
                          "  { endpoint = \"s1\"; adapter = \"static\"; address = \"x\"; },\n"
                          "  { endpoint = \"s2\"; adapter = \"static\"; address = \"x\"; } );\n");
    expect_one("gw.conf", -EINVAL, in_dir("gw.conf"), 4,
               "duplicate device (adapter:address) \"static:x\" (first defined at line 3)");
    rm_dir();
}

GW_TEST_MAIN(fifo_as_the_file_is_refused_at_once, directory_as_the_file_is_refused,
             fifo_as_an_include_is_refused, missing_include_of_an_include_is_at_its_line,
             missing_absolute_include_is_at_its_line,
             commented_include_is_not_followed, include_loop_is_named,
             duplicate_setting_in_an_include_is_at_its_file_and_line,
             unknown_key_in_an_include_names_the_include, objects_dir_that_is_a_file_is_at_its_line,
             fifo_in_objects_dir_is_refused, state_dir_that_is_a_file_is_at_its_line,
             missing_state_dir_is_checked_then_created_0700,
             state_dir_under_a_file_cannot_be_created, two_modbus_devices_on_one_unit_are_an_error,
             duplicate_in_another_file_names_both_files, same_static_address_twice_is_an_error)
