/* Unit tests for lwm2m/links.c: the Register payload (LwM2M 1.1 Core 6.2.1)
 * and the ver attribute of Discover. The expected payloads are ones every
 * common server accepts: Wakaama refuses a root link with ct=11542 (it takes
 * 110, 112 and 11543 there; an absent ct means TLV). */
#include "gwtest.h"

#include "lwm2m/codec.h"
#include "lwm2m/lwm2m_internal.h"

#include <errno.h>

static gw_registry_t *reg;
static gw_store_t *st;
static gw_sclient_t *cl;

static void setup(void)
{
    reg = NULL;
    st = NULL;
    cl = NULL;
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

static void add(uint16_t oid, uint16_t iid)
{
    int rc = gw_store_instance_create(st, cl, oid, iid);
    if (rc)
        fprintf(stderr, "  cannot create /%u/%u: %d\n", oid, iid, rc);
    CHECK_EQ_INT(rc, 0);
}

/* The payload as a NUL-terminated string (the caller frees it). */
static char *links(int cf)
{
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_lwm2m_registration_links(cl, reg, cf, &b), 0);
    CHECK_EQ_INT(gw_buf_append(&b, "", 1), 0);
    return (char *)b.data;
}

/* What the gateway's own endpoints and an IPSO sensor register with. */
GW_TEST(register_payload_default_tlv)
{
    setup();
    add(0, 0);
    add(1, 0);
    add(3, 0);
    add(3303, 0);
    add(3303, 1);
    add(3304, 0);
    char *s = links(GW_CF_LWM2M_TLV);
    /* No ct (TLV); Server and Device are the LwM2M 1.1 versions, which are
     * the enabler's defaults, so no ver; IPSO 3303/3304 are 1.1, not the
     * 1.0 default; Security is never listed. */
    CHECK_EQ_STR(s, "</>;rt=\"oma.lwm2m\",</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>,</3303/1>,"
                    "</3304>;ver=1.1,</3304/0>");
    free(s);
    teardown();
}

GW_TEST(register_payload_preferred_senml)
{
    setup();
    add(1, 0);
    add(3, 0);
    char *s = links(GW_CF_SENML_CBOR);
    CHECK_EQ_STR(s, "</>;rt=\"oma.lwm2m\";ct=112,</1/0>,</3/0>");
    free(s);
    s = links(GW_CF_SENML_JSON);
    CHECK_EQ_STR(s, "</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3/0>");
    free(s);
    teardown();
}

/* Each core object's ver against LwM2M 1.1.1 Appendix E (Access Control
 * 1.0, Connectivity Monitoring 1.2, Firmware Update 1.0, Location 1.0,
 * Connectivity Statistics 1.0) and the registry's versions (2: 1.1, 4: 1.3,
 * 5: 1.2, 6: 1.0, 7: 1.0); OSCORE (21) is never listed. */
GW_TEST(register_payload_core_object_versions)
{
    setup();
    add(2, 0);
    add(4, 0);
    add(5, 0);
    add(6, 0);
    add(7, 0);
    add(21, 0);
    char *s = links(GW_CF_LWM2M_TLV);
    CHECK_EQ_STR(s, "</>;rt=\"oma.lwm2m\",</2>;ver=1.1,</2/0>,</4>;ver=1.3,</4/0>,</5>;ver=1.2,"
                    "</5/0>,</6/0>,</7/0>");
    free(s);
    teardown();
}

/* Objects loaded from DDF files: 1.0 (given or absent) gets no ver, any
 * other version does. */
GW_TEST(register_payload_ddf_versions)
{
    static const char xml[] =
        "<LWM2M><Object><Name>A</Name><ObjectID>33000</ObjectID><ObjectVersion>1.0</ObjectVersion>"
        "<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>"
        "</Resources></Object>"
        "<Object><Name>B</Name><ObjectID>33001</ObjectID>"
        "<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>"
        "</Resources></Object>"
        "<Object><Name>C</Name><ObjectID>33002</ObjectID><ObjectVersion>2.3</ObjectVersion>"
        "<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>"
        "</Resources></Object></LWM2M>";
    reg = NULL;
    st = NULL;
    cl = NULL;
    CHECK_EQ_INT(gw_registry_new(&reg), 0);
    CHECK_EQ_INT(gw_registry_load_buffer(reg, "t.xml", xml, strlen(xml), NULL, NULL), 0);
    CHECK_EQ_INT(gw_store_new(reg, &st), 0);
    CHECK_EQ_INT(gw_store_client_new(st, NULL, &cl), 0);
    add(33000, 0);
    add(33001, 4);
    add(33002, 0);
    char *s = links(GW_CF_LWM2M_TLV);
    CHECK_EQ_STR(s, "</>;rt=\"oma.lwm2m\",</33000/0>,</33001/4>,</33002>;ver=2.3,</33002/0>");
    free(s);
    teardown();
}

/* Discover of an object names its version by the same rule. */
GW_TEST(discover_object_version)
{
    setup();
    add(3, 0);
    add(3303, 0);
    gw_buf_t b = {0};
    CHECK_EQ_INT(gw_links_discover(cl, 0, reg, &(gw_path_t){{3, 0, 0, 0}, 1}, &b), 0);
    CHECK_EQ_INT(gw_buf_append(&b, "", 1), 0);
    CHECK(strncmp((char *)b.data, "</3>,", 5) == 0);
    CHECK(strstr((char *)b.data, "ver=") == NULL);
    gw_buf_free(&b);
    CHECK_EQ_INT(gw_links_discover(cl, 0, reg, &(gw_path_t){{3303, 0, 0, 0}, 1}, &b), 0);
    CHECK_EQ_INT(gw_buf_append(&b, "", 1), 0);
    CHECK(strncmp((char *)b.data, "</3303>;ver=1.1,</3303/0>", 25) == 0);
    gw_buf_free(&b);
    teardown();
}

GW_TEST_MAIN(register_payload_default_tlv, register_payload_preferred_senml,
             register_payload_core_object_versions, register_payload_ddf_versions,
             discover_object_version)
