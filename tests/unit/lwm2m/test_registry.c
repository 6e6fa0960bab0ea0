/*
 * Object registry: the generated built-in table (facts from the OMA LwM2M
 * registry DDF files 3.xml, 1.xml, 4.xml, 6.xml, 3303.xml) and the DDF loader
 * with each of its validation errors.
 */
#include "gwtest.h"
#include "lwm2m/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- diagnostics collector ---- */

#define MAX_DIAGS 64
struct diags {
    int n;
    int line[MAX_DIAGS];
    char file[MAX_DIAGS][256];
    char msg[MAX_DIAGS][512];
};

static void collect(void *ctx, const char *file, int line, const char *msg)
{
    struct diags *d = ctx;
    if (d->n < MAX_DIAGS) {
        d->line[d->n] = line;
        snprintf(d->file[d->n], sizeof d->file[0], "%s", file ? file : "");
        snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg ? msg : "");
    }
    d->n++;
}

static void dump(const struct diags *d)
{
    for (int i = 0; i < d->n && i < MAX_DIAGS; i++)
        fprintf(stderr, "    diag %s:%d: %s\n", d->file[i], d->line[i], d->msg[i]);
}

static int load_str(gw_registry_t *r, const char *xml, struct diags *d)
{
    memset(d, 0, sizeof *d);
    return gw_registry_load_buffer(r, "test.xml", xml, strlen(xml), collect, d);
}

/* Expect exactly one diagnostic at line, whose message contains part. */
#define CHECK_ONE_DIAG(d, ln, part)                                   \
    do {                                                              \
        CHECK_EQ_INT((d).n, 1);                                       \
        CHECK_EQ_INT((d).line[0], (ln));                              \
        CHECK(strstr((d).msg[0], (part)) != NULL);                    \
        if ((d).n != 1 || (d).line[0] != (ln) || !strstr((d).msg[0], (part))) \
            dump(&(d));                                               \
    } while (0)

/* ---- built-in table ---- */

GW_TEST(builtin_sorted_and_complete)
{
    CHECK(gw_builtin_objects_count >= 100);
    for (size_t i = 0; i < gw_builtin_objects_count; i++) {
        const gw_objdef_t *o = &gw_builtin_objects[i];
        if (i > 0)
            CHECK(gw_builtin_objects[i - 1].id < o->id);
        CHECK(o->name && o->version && o->urn);
        for (uint16_t k = 0; k < o->n_res; k++) {
            if (k > 0)
                CHECK(o->res[k - 1].id < o->res[k].id);
            CHECK(o->res[k].name && o->res[k].units && o->res[k].range);
        }
    }
    static const uint16_t core[] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 19, 20, 21, 25};
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
        if (!gw_registry_find(NULL, core[i])) {
            fprintf(stderr, "  missing core object %u\n", core[i]);
            CHECK(0);
        }
    }
}

GW_TEST(builtin_device)
{
    gw_registry_t *r = NULL;
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    const gw_objdef_t *dev = gw_registry_find(r, 3);
    CHECK(dev != NULL);
    if (!dev)
        goto out;
    CHECK_EQ_STR(dev->name, "Device");
    CHECK(!dev->multiple);
    CHECK(dev->mandatory);
    CHECK_EQ_STR(dev->version, "1.2");
    CHECK_EQ_STR(dev->urn, "urn:oma:lwm2m:oma:3:1.2");

    const gw_resdef_t *m = gw_objdef_find_res(dev, 0);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ_STR(m->name, "Manufacturer");
        CHECK_EQ_INT(m->type, GW_TYPE_STRING);
        CHECK_EQ_INT(m->ops, GW_OP_R);
        CHECK(!m->multiple);
        CHECK_EQ_STR(m->units, "");
        CHECK_EQ_STR(m->range, "");
    }
    const gw_resdef_t *ec = gw_objdef_find_res(dev, 11);
    CHECK(ec != NULL);
    if (ec) {
        CHECK_EQ_STR(ec->name, "Error Code");
        CHECK_EQ_INT(ec->type, GW_TYPE_INTEGER);
        CHECK(ec->multiple);
        CHECK(ec->mandatory);
    }
    const gw_resdef_t *rb = gw_objdef_find_res(dev, 4);
    CHECK(rb != NULL);
    if (rb) {
        CHECK_EQ_STR(rb->name, "Reboot");
        CHECK_EQ_INT(rb->ops, GW_OP_E);
        CHECK_EQ_INT(rb->type, GW_TYPE_NONE);
    }
    const gw_resdef_t *bl = gw_objdef_find_res(dev, 9);
    CHECK(bl && strcmp(bl->units, "/100") == 0 && strcmp(bl->range, "0..100") == 0);
    CHECK(gw_objdef_find_res(dev, 9999) == NULL);
    CHECK(gw_objdef_find_res(NULL, 0) == NULL);
out:
    gw_registry_free(&r);
    CHECK(r == NULL);
}

GW_TEST(builtin_other_core_objects)
{
    const gw_resdef_t *lt = gw_objdef_find_res(gw_registry_find(NULL, 1), 1);
    CHECK(lt && strcmp(lt->name, "Lifetime") == 0 && lt->type == GW_TYPE_INTEGER &&
          lt->ops == (GW_OP_R | GW_OP_W) && strcmp(lt->units, "s") == 0);
    const gw_resdef_t *rssi = gw_objdef_find_res(gw_registry_find(NULL, 4), 2);
    CHECK(rssi && strcmp(rssi->name, "Radio Signal Strength") == 0 && rssi->type == GW_TYPE_INTEGER &&
          strcmp(rssi->units, "dBm") == 0);
    const gw_resdef_t *lat = gw_objdef_find_res(gw_registry_find(NULL, 6), 0);
    CHECK(lat && strcmp(lat->name, "Latitude") == 0 && lat->type == GW_TYPE_FLOAT);
    const gw_objdef_t *gwo = gw_registry_find(NULL, 25);
    CHECK(gwo && strcmp(gwo->version, "2.0") == 0);
}

GW_TEST(builtin_ipso)
{
    const gw_objdef_t *t = gw_registry_find(NULL, 3303);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_EQ_STR(t->name, "Temperature");
    CHECK(t->multiple);
    const gw_resdef_t *sv = gw_objdef_find_res(t, 5700);
    CHECK(sv && strcmp(sv->name, "Sensor Value") == 0 && sv->type == GW_TYPE_FLOAT && sv->ops == GW_OP_R &&
          sv->mandatory);
    const gw_resdef_t *su = gw_objdef_find_res(t, 5701);
    CHECK(su && su->type == GW_TYPE_STRING);
    const gw_resdef_t *rst = gw_objdef_find_res(t, 5605);
    CHECK(rst && rst->ops == GW_OP_E && rst->type == GW_TYPE_NONE);
    for (uint16_t id = 3200; id <= 3203; id++)
        CHECK(gw_registry_find(NULL, id) != NULL);
    CHECK(gw_registry_find(NULL, 3331) != NULL);
    CHECK(gw_registry_find(NULL, 3410) != NULL);
    CHECK(gw_registry_find(NULL, 9999) == NULL);
    CHECK(gw_registry_find(NULL, 3351) == NULL); /* outside the shipped ranges */
}

GW_TEST(find_by_name)
{
    const gw_objdef_t *t = gw_registry_find(NULL, 3303);
    const gw_resdef_t *a = gw_objdef_find_res_by_name(t, "sensor value");
    CHECK(a && a->id == 5700);
    CHECK(gw_objdef_find_res_by_name(t, "SENSOR UNITS") && gw_objdef_find_res_by_name(t, "SENSOR UNITS")->id == 5701);
    CHECK(gw_objdef_find_res_by_name(t, "Sensor") == NULL);
    CHECK(gw_objdef_find_res_by_name(NULL, "x") == NULL);
    CHECK(gw_objdef_find_res_by_name(t, NULL) == NULL);
}

/* ---- loading ---- */

/* A vendor object, line numbers matter to the tests below. */
static const char vendor_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"         /* 1 */
    "<LWM2M>\n"                                            /* 2 */
    "  <Object ObjectType=\"MODefinition\">\n"             /* 3 */
    "    <Name>Acme Valve</Name>\n"                        /* 4 */
    "    <Description1><![CDATA[A valve <b>]]></Description1>\n"
    "    <ObjectID>33000</ObjectID>\n"                     /* 6 */
    "    <ObjectURN>urn:oma:lwm2m:x:33000</ObjectURN>\n"   /* 7 */
    "    <MultipleInstances>Multiple</MultipleInstances>\n"
    "    <Mandatory>Optional</Mandatory>\n"                /* 9 */
    "    <Resources>\n"                                    /* 10 */
    "      <Item ID=\"7\"><Name>Open</Name><Operations>E</Operations>"
    "<MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>"
    "<Type></Type><RangeEnumeration/><Units/><Description>x</Description></Item>\n" /* 11 */
    "      <Item ID=\"2\">\n"                              /* 12 */
    "        <Name> Flow &amp; Rate </Name>\n"             /* 13 */
    "        <Operations>RW</Operations>\n"                /* 14 */
    "        <MultipleInstances>Multiple</MultipleInstances>\n"
    "        <Mandatory>Mandatory</Mandatory>\n"           /* 16 */
    "        <Type>Unsigned Integer</Type>\n"              /* 17 */
    "        <RangeEnumeration>0..100</RangeEnumeration>\n" /* 18 */
    "        <Units>l/min</Units>\n"                       /* 19 */
    "        <Description>How much, \xc2\xb0 <i>not</i> kept</Description>\n"
    "      </Item>\n"                                      /* 21 */
    "    </Resources>\n"
    "    <Description2></Description2>\n"
    "  </Object>\n"
    "</LWM2M>\n";

static void check_vendor(const gw_objdef_t *o)
{
    CHECK(o != NULL);
    if (!o)
        return;
    CHECK_EQ_INT(o->id, 33000);
    CHECK_EQ_STR(o->name, "Acme Valve");
    CHECK_EQ_STR(o->version, "1.0"); /* default when absent */
    CHECK_EQ_STR(o->urn, "urn:oma:lwm2m:x:33000");
    CHECK(o->multiple);
    CHECK(!o->mandatory);
    CHECK_EQ_INT(o->n_res, 2);
    if (o->n_res != 2)
        return;
    CHECK_EQ_INT(o->res[0].id, 2); /* sorted although given 7 first */
    CHECK_EQ_STR(o->res[0].name, "Flow & Rate");
    CHECK_EQ_INT(o->res[0].type, GW_TYPE_UNSIGNED);
    CHECK_EQ_INT(o->res[0].ops, GW_OP_R | GW_OP_W);
    CHECK(o->res[0].multiple);
    CHECK(o->res[0].mandatory);
    CHECK_EQ_STR(o->res[0].units, "l/min");
    CHECK_EQ_STR(o->res[0].range, "0..100");
    CHECK_EQ_INT(o->res[1].id, 7);
    CHECK_EQ_INT(o->res[1].type, GW_TYPE_NONE);
    CHECK_EQ_INT(o->res[1].ops, GW_OP_E);
    CHECK_EQ_STR(o->res[1].units, "");
    CHECK_EQ_STR(o->res[1].range, "");
}

static char tmpdir[] = "/tmp/gw_test_registry_XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name);
        if (unlink(path) < 0)
            rmdir(path);
    }
    closedir(d);
    rmdir(tmpdir);
}

GW_TEST(load_vendor_file_from_dir)
{
    CHECK(mkdtemp(tmpdir) != NULL);
    write_file("acme.xml", vendor_xml);
    write_file("notes.txt", "not xml at all");
    write_file(".#acme.xml", "editor lock file, ignored");
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub.xml", tmpdir);
    CHECK_EQ_INT(mkdir(sub, 0700), 0); /* a directory named *.xml is skipped */

    gw_registry_t *r = NULL;
    struct diags d = {0};
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    CHECK_EQ_INT(gw_registry_load_dir(r, tmpdir, collect, &d), 0);
    CHECK_EQ_INT(d.n, 0);
    if (d.n)
        dump(&d);
    check_vendor(gw_registry_find(r, 33000));
    CHECK(gw_registry_find(r, 3) != NULL); /* built-ins still there */
    gw_registry_free(&r);
    remove_tmpdir();
}

GW_TEST(load_dir_reports_bad_file_keeps_good)
{
    strcpy(tmpdir, "/tmp/gw_test_registry_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    write_file("a_good.xml", vendor_xml);
    write_file("b_bad.xml", "<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID>\n"
                            "<Resources><Item ID=\"1\"><Name>A</Name><Type>Flaot</Type></Item>"
                            "</Resources></Object></LWM2M>\n");
    gw_registry_t *r = NULL;
    struct diags d = {0};
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    CHECK_EQ_INT(gw_registry_load_dir(r, tmpdir, collect, &d), -EINVAL);
    CHECK_EQ_INT(d.n, 1);
    CHECK(strstr(d.file[0], "b_bad.xml") != NULL);
    CHECK_EQ_INT(d.line[0], 2);
    CHECK(gw_registry_find(r, 33000) != NULL);
    CHECK(gw_registry_find(r, 33001) == NULL); /* a bad file loads nothing */

    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", tmpdir);
    CHECK_EQ_INT(gw_registry_load_dir(r, missing, collect, &d), -ENOENT);
    CHECK_EQ_INT(mkdir(missing, 0700), 0);
    CHECK_EQ_INT(gw_registry_load_dir(r, missing, collect, &d), 0); /* empty is fine */
    rmdir(missing);
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(gw_registry_load_file(r, missing, collect, &d), -EINVAL);
    CHECK_EQ_INT(d.n, 1);
    CHECK(strstr(d.msg[0], "cannot open") != NULL);
    gw_registry_free(&r);
    remove_tmpdir();
}

GW_TEST(override_builtin)
{
    static const char xml1[] =
        "<LWM2M><Object><Name>My Temperature</Name><ObjectID>3303</ObjectID>"
        "<ObjectVersion>9.0</ObjectVersion><Resources>"
        "<Item ID=\"5700\"><Name>Sensor Value</Name><Operations>RW</Operations><Type>Integer</Type></Item>"
        "</Resources></Object></LWM2M>";
    static const char xml2[] =
        "<LWM2M><Object><Name>Second</Name><ObjectID>3303</ObjectID><Resources>"
        "<Item ID=\"1\"><Name>Only</Name><Operations>R</Operations><Type>Time</Type></Item>"
        "</Resources></Object>"
        "<Object><Name>Tiny</Name><ObjectID>0</ObjectID><Resources/></Object></LWM2M>";
    gw_registry_t *r = NULL;
    struct diags d;
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    const gw_objdef_t *builtin = gw_registry_find(r, 3303);
    CHECK_EQ_INT(load_str(r, xml1, &d), 0);
    const gw_objdef_t *o1 = gw_registry_find(r, 3303);
    CHECK(o1 != NULL && o1 != builtin);
    CHECK_EQ_STR(o1->name, "My Temperature");
    CHECK_EQ_STR(o1->version, "9.0");
    CHECK_EQ_INT(o1->n_res, 1);
    CHECK(gw_objdef_find_res(o1, 5700) && gw_objdef_find_res(o1, 5700)->type == GW_TYPE_INTEGER);
    CHECK(gw_objdef_find_res(o1, 5701) == NULL);

    CHECK_EQ_INT(load_str(r, xml2, &d), 0);
    const gw_objdef_t *o2 = gw_registry_find(r, 3303);
    CHECK(o2 && strcmp(o2->name, "Second") == 0);
    CHECK(gw_objdef_find_res(o2, 1) && gw_objdef_find_res(o2, 1)->type == GW_TYPE_TIME);
    /* The replaced definition stays readable until the registry is freed. */
    CHECK_EQ_STR(o1->name, "My Temperature");
    const gw_objdef_t *sec = gw_registry_find(r, 0);
    CHECK(sec && strcmp(sec->name, "Tiny") == 0 && sec->n_res == 0);
    /* Other built-ins are untouched, and a fresh registry has the original. */
    const gw_objdef_t *hum = gw_registry_find(r, 3304);
    CHECK(hum >= gw_builtin_objects && hum < gw_builtin_objects + gw_builtin_objects_count);
    gw_registry_t *r2 = NULL;
    CHECK_EQ_INT(gw_registry_new(&r2), 0);
    CHECK(gw_registry_find(r2, 3303) == builtin);
    gw_registry_free(&r2);
    gw_registry_free(&r);
    gw_registry_free(&r); /* NULL is fine */
}

/* Lenient spellings vendor files use: case, surrounding whitespace,
 * several objects per file, a missing Type for Execute. */
GW_TEST(lenient_spellings)
{
    static const char xml[] =
        "<LWM2M>\n"
        "<Object><Name>A</Name><ObjectID> 40000 </ObjectID><Resources>\n"
        "<Item ID=\"0\"><Name>x</Name><Operations>rw</Operations><Type>unsigned integer</Type>"
        "<MultipleInstances> multiple </MultipleInstances></Item>\n"
        "<Item ID=\"1\"><Name>go</Name><Operations>E</Operations></Item>\n"
        "</Resources></Object>\n"
        "<Object><Name>B</Name><ObjectID>40001</ObjectID><Resources>\n"
        "<Item ID=\"65534\"><Name>max</Name><Operations/><Type>Corelnk</Type></Item>\n"
        "</Resources></Object>\n"
        "</LWM2M>\n";
    gw_registry_t *r = NULL;
    struct diags d;
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    CHECK_EQ_INT(load_str(r, xml, &d), 0);
    if (d.n)
        dump(&d);
    const gw_objdef_t *a = gw_registry_find(r, 40000);
    CHECK(a && a->n_res == 2);
    if (a && a->n_res == 2) {
        CHECK_EQ_INT(a->res[0].type, GW_TYPE_UNSIGNED);
        CHECK_EQ_INT(a->res[0].ops, GW_OP_R | GW_OP_W);
        CHECK(a->res[0].multiple);
        CHECK_EQ_INT(a->res[1].type, GW_TYPE_NONE);
        CHECK_EQ_INT(a->res[1].ops, GW_OP_E);
    }
    const gw_resdef_t *m = gw_objdef_find_res(gw_registry_find(r, 40001), 65534);
    CHECK(m && m->type == GW_TYPE_CORELNK && m->ops == GW_OP_NONE);
    gw_registry_free(&r);
}

/* ---- validation: each error once, at its line ---- */

struct bad_case {
    const char *xml;
    int line;
    const char *part;
};

static const struct bad_case bad_cases[] = {
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID>\n<Resources><Item ID=\"1\">\n"
     "<Name>A</Name><Type>Flaot</Type></Item></Resources></Object></LWM2M>",
     3,
     "unknown resource Type \"Flaot\", expected one of String, Integer, Unsigned Integer, Float, "
     "Boolean, Opaque, Time, Objlnk, Corelnk, or empty for Execute"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID>\n<Resources>\n<Item ID=\"1\">"
     "<Name>A</Name>\n\n<Operations>RWX</Operations></Item></Resources></Object></LWM2M>",
     5, "unknown resource Operations \"RWX\", expected one of R, W, RW, E, or empty"},
    {"<LWM2M><Object><Name>X</Name>\n<ObjectID>70000</ObjectID><Resources/></Object></LWM2M>", 2,
     "ObjectID \"70000\" is not valid, expected a decimal number 0..65534"},
    {"<LWM2M><Object><Name>X</Name>\n<ObjectID>65535</ObjectID><Resources/></Object></LWM2M>", 2,
     "ObjectID \"65535\""},
    {"<LWM2M><Object><Name>X</Name>\n\n<ObjectID>-1</ObjectID><Resources/></Object></LWM2M>", 3,
     "ObjectID \"-1\""},
    {"<LWM2M>\n<Object><Name>X</Name><Resources/></Object></LWM2M>", 2,
     "<Object> has no <ObjectID>"},
    {"<LWM2M>\n\n<Object><ObjectID>5</ObjectID><Resources/></Object></LWM2M>", 3,
     "<Object> has no <Name>, expected a non-empty name"},
    {"<LWM2M><Object><Name> </Name><ObjectID>5</ObjectID><Resources/></Object></LWM2M>", 1,
     "<Object> has no <Name>"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID><Resources>\n"
     "<Item ID=\"1\"><Name>A</Name></Item>\n<Item ID=\"2\"><Name>B</Name></Item>\n"
     "<Item ID=\"1\"><Name>C</Name></Item>\n</Resources></Object></LWM2M>",
     4, "duplicate resource ID 1, expected each ID once per object"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID><Resources>\n\n"
     "<Item ID=\"65535\"><Name>A</Name></Item></Resources></Object></LWM2M>",
     3, "resource ID \"65535\" is not valid, expected a decimal number 0..65534"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID><Resources>\n"
     "<Item><Name>A</Name></Item></Resources></Object></LWM2M>",
     2, "<Item> has no ID attribute"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID><Resources>\n"
     "<Item ID=\"3\"><Operations>R</Operations></Item></Resources></Object></LWM2M>",
     2, "<Item> has no <Name>, expected a non-empty name"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID>\n"
     "<MultipleInstances>Many</MultipleInstances><Resources/></Object></LWM2M>",
     2, "unknown object MultipleInstances \"Many\", expected Single or Multiple"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID>\n<Mandatory>Yes</Mandatory>"
     "<Resources/></Object></LWM2M>",
     2, "unknown object Mandatory \"Yes\", expected Mandatory or Optional"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID><Resources>\n<Item ID=\"1\"><Name>A</Name>"
     "\n<MultipleInstances>2</MultipleInstances></Item></Resources></Object></LWM2M>",
     3, "unknown resource MultipleInstances \"2\""},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID><Resources>\n<Item ID=\"1\"><Name>A</Name>"
     "<Mandatory>must</Mandatory></Item></Resources></Object></LWM2M>",
     2, "unknown resource Mandatory \"must\""},
    {"<LWM2M><Object><Name>X</Name>\n<Name>Y</Name><ObjectID>1</ObjectID><Resources/></Object></LWM2M>",
     2, "<Name> given twice in one <Object>, expected it once"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID>\n<Resources>\n"
     "<Item ID=\"1\"><Name>A</Name><Type>String</Type>\n<Type>Float</Type></Item></Resources></Object></LWM2M>",
     4, "<Type> given twice in one <Item>"},
    {"<?xml version=\"1.0\"?>\n<Objects><Object><Name>X</Name><ObjectID>1</ObjectID></Object></Objects>", 2,
     "root element <Objects>, expected <LWM2M>"},
    {"<?xml version=\"1.0\"?>\n\n<LWM2M></LWM2M>", 3, "no <Object> found, expected at least one"},
    {"<LWM2M><Object>\n<Name>X</Name>\n<ObjectID>1</ObjectID>\n</Objekt></LWM2M>", 4,
     "malformed XML: mismatched tag"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>1\n", 2, "malformed XML: "},
    {"", 1, "malformed XML: no element found"},
    {"<LWM2M><Object><Name>\x01</Name></Object></LWM2M>", 1, "malformed XML: not well-formed"},
    {"<LWM2M><Object><Name>X</Name><ObjectID>1</ObjectID>&bogus;</Object></LWM2M>", 1,
     "malformed XML: undefined entity"},
    /* Billion laughs: refused before any entity is expanded. */
    {"<?xml version=\"1.0\"?>\n<!DOCTYPE LWM2M [<!ENTITY a \"aaaaaaaaaa\">"
     "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>\n"
     "<LWM2M><Object><Name>&c;</Name><ObjectID>1</ObjectID></Object></LWM2M>",
     2, "<!DOCTYPE> found, expected plain XML without a DTD"},
};

GW_TEST(validation_errors_with_lines)
{
    gw_registry_t *r = NULL;
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct diags d;
        int rc = load_str(r, bad_cases[i].xml, &d);
        int before = gwt_failed_checks;
        CHECK_EQ_INT(rc, -EINVAL);
        CHECK_ONE_DIAG(d, bad_cases[i].line, bad_cases[i].part);
        if (d.n >= 1)
            CHECK_EQ_STR(d.file[0], "test.xml");
        if (gwt_failed_checks != before)
            fprintf(stderr, "  ^ in bad case %zu\n", i);
    }
    /* Nothing from any rejected file was kept. */
    CHECK(gw_registry_find(r, 33001) == NULL);
    CHECK(gw_registry_find(r, 1) == &gw_builtin_objects[1]);
    CHECK(gw_registry_find(r, 5) != NULL && strcmp(gw_registry_find(r, 5)->name, "Firmware Update") == 0);
    gw_registry_free(&r);
}

GW_TEST(several_errors_in_one_file)
{
    static const char xml[] =
        "<LWM2M><Object><Name>X</Name><ObjectID>33001</ObjectID><Resources>\n"
        "<Item ID=\"1\"><Name>A</Name><Type>Flaot</Type></Item>\n"
        "<Item ID=\"2\"><Name>B</Name><Operations>X</Operations></Item>\n"
        "<Item ID=\"1\"><Name>C</Name></Item>\n"
        "</Resources></Object></LWM2M>";
    gw_registry_t *r = NULL;
    struct diags d;
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    CHECK_EQ_INT(load_str(r, xml, &d), -EINVAL);
    CHECK_EQ_INT(d.n, 3);
    CHECK_EQ_INT(d.line[0], 2);
    CHECK_EQ_INT(d.line[1], 3);
    CHECK_EQ_INT(d.line[2], 4);
    CHECK(strstr(d.msg[2], "duplicate resource ID 1") != NULL);

    /* A flood of errors is cut short instead of reported forever. */
    size_t cap = 200 * 64 + 200;
    char *big = malloc(cap);
    CHECK(big != NULL);
    if (big) {
        size_t n = (size_t)snprintf(big, cap, "<LWM2M><Object><Name>X</Name><ObjectID>1</ObjectID><Resources>");
        for (int i = 0; i < 200; i++)
            n += (size_t)snprintf(big + n, cap - n, "<Item ID=\"%d\"><Name>a</Name><Type>?</Type></Item>", i);
        snprintf(big + n, cap - n, "</Resources></Object></LWM2M>");
        CHECK_EQ_INT(load_str(r, big, &d), -EINVAL);
        CHECK(d.n > 1 && d.n <= 60);
        free(big);
    }
    gw_registry_free(&r);
}

GW_TEST(size_limits)
{
    gw_registry_t *r = NULL;
    struct diags d = {0};
    CHECK_EQ_INT(gw_registry_new(&r), 0);

    /* Over 4 MiB in memory: refused before parsing. */
    size_t big = 4u * 1024u * 1024u + 1;
    char *buf = malloc(big);
    CHECK(buf != NULL);
    if (buf) {
        memset(buf, ' ', big);
        CHECK_EQ_INT(gw_registry_load_buffer(r, "big.xml", buf, big, collect, &d), -EINVAL);
        CHECK_EQ_INT(d.n, 1);
        CHECK(strstr(d.msg[0], "expected at most 4194304 bytes") != NULL);
        free(buf);
    }

    /* Over 4 MiB on disk: refused without reading it (sparse file). */
    strcpy(tmpdir, "/tmp/gw_test_registry_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/huge.xml", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_EQ_INT(ftruncate(fd, 64 * 1024 * 1024), 0);
        close(fd);
    }
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(gw_registry_load_file(r, path, collect, &d), -EINVAL);
    CHECK_EQ_INT(d.n, 1);
    CHECK(strstr(d.msg[0], "expected at most") != NULL);
    CHECK_EQ_INT(d.line[0], 0);
    remove_tmpdir();

    /* One field's text is bounded too. */
    size_t n = 70 * 1024;
    char *xml = malloc(n + 200);
    CHECK(xml != NULL);
    if (xml) {
        strcpy(xml, "<LWM2M><Object><Name>");
        size_t l = strlen(xml);
        memset(xml + l, 'n', n);
        strcpy(xml + l + n, "</Name><ObjectID>1</ObjectID></Object></LWM2M>");
        CHECK_EQ_INT(load_str(r, xml, &d), -EINVAL);
        CHECK(d.n >= 1 && strstr(d.msg[0], "text of <Name> is longer than") != NULL);
        free(xml);
    }
    gw_registry_free(&r);
}

/* Hostile text quoted in a message cannot inject newlines into logs. */
GW_TEST(messages_are_sanitised)
{
    static const char xml[] =
        "<LWM2M><Object><Name>X</Name><ObjectID>1</ObjectID><Resources>"
        "<Item ID=\"1\"><Name>A</Name><Type>Fl&#10;oat then a very long tail that goes on and on and on</Type>"
        "</Item></Resources></Object></LWM2M>";
    gw_registry_t *r = NULL;
    struct diags d;
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    CHECK_EQ_INT(load_str(r, xml, &d), -EINVAL);
    CHECK_EQ_INT(d.n, 1);
    CHECK(strchr(d.msg[0], '\n') == NULL);
    CHECK(strstr(d.msg[0], "\"Fl?oat") != NULL);
    CHECK(strstr(d.msg[0], "...\"") != NULL);
    /* No diag callback at all is allowed. */
    CHECK_EQ_INT(gw_registry_load_buffer(r, NULL, xml, strlen(xml), NULL, NULL), -EINVAL);
    gw_registry_free(&r);
}

/* The loader and the generator read the same files the same way: every
 * object of the OMA registry loads cleanly and the shipped ones match the
 * generated table. Skipped when the shared folder is not around. */
GW_TEST(registry_folder_matches_table)
{
    const char *dir = "../shared/lwm2m-registry";
    DIR *probe = opendir(dir);
    if (!probe) {
        printf("SKIP registry_folder_matches_table: %s not found\n", dir);
        return;
    }
    closedir(probe);
    gw_registry_t *r = NULL;
    struct diags d = {0};
    CHECK_EQ_INT(gw_registry_new(&r), 0);
    CHECK_EQ_INT(gw_registry_load_dir(r, dir, collect, &d), 0);
    if (d.n)
        dump(&d);
    size_t compared = 0;
    for (size_t i = 0; i < gw_builtin_objects_count; i++) {
        const gw_objdef_t *b = &gw_builtin_objects[i];
        const gw_objdef_t *l = gw_registry_find(r, b->id);
        if (!l || l == b)
            continue;
        compared++;
        int before = gwt_failed_checks;
        CHECK_EQ_STR(l->name, b->name);
        CHECK_EQ_STR(l->version, b->version);
        CHECK_EQ_STR(l->urn, b->urn);
        CHECK(l->multiple == b->multiple && l->mandatory == b->mandatory);
        CHECK_EQ_INT(l->n_res, b->n_res);
        for (uint16_t k = 0; k < l->n_res && k < b->n_res; k++) {
            const gw_resdef_t *x = &l->res[k], *y = &b->res[k];
            CHECK(x->id == y->id && x->type == y->type && x->ops == y->ops && x->multiple == y->multiple &&
                  x->mandatory == y->mandatory);
            CHECK_EQ_STR(x->name, y->name);
            CHECK_EQ_STR(x->units, y->units);
            CHECK_EQ_STR(x->range, y->range);
        }
        if (gwt_failed_checks != before)
            fprintf(stderr, "  ^ object %u\n", b->id);
    }
    CHECK_EQ_INT(compared, gw_builtin_objects_count);
    gw_registry_free(&r);
}

GW_TEST_MAIN(builtin_sorted_and_complete, builtin_device, builtin_other_core_objects, builtin_ipso,
             find_by_name, load_vendor_file_from_dir, load_dir_reports_bad_file_keeps_good,
             override_builtin, lenient_spellings, validation_errors_with_lines,
             several_errors_in_one_file, size_limits, messages_are_sanitised,
             registry_folder_matches_table)
