/*
 * tests/unit/adapters/test_modbus.c - Modbus register decoding and encoding
 * in every type and order, read merging, and the Modbus configuration
 * (examples, errors).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adapters/modbus/config.h"
#include "adapters/modbus/decode.h"
#include "gwtest.h"
#include "mapping/config.h"

static gw_config_modbus_reg_t reg(uint8_t type, uint8_t order, uint16_t count)
{
    return (gw_config_modbus_reg_t){.field = "x", .table = GW_MODBUS_HOLDING, .type = type,
                                    .order = order, .count = count, .scale = 1};
}

GW_TEST(decode_f32_in_every_order)
{
    /* 230.5f is 0x43668000 (IEEE 754). */
    const uint16_t w[4][2] = {{0x4366, 0x8000}, {0x8000, 0x4366}, {0x6643, 0x0080}, {0x0080, 0x6643}};
    for (uint8_t o = 0; o < 4; o++) {
        gw_config_modbus_reg_t r = reg(GW_MODBUS_F32, o, 2);
        gw_value_t v;
        CHECK_EQ_INT(gw_modbus_decode(&r, w[o], 2, &v, NULL, 0), 0);
        CHECK_EQ_INT(v.type, GW_TYPE_FLOAT);
        CHECK_NEAR(v.v.f, 230.5, 1e-9);
    }
}

GW_TEST(decode_integers_and_scale)
{
    gw_config_modbus_reg_t r = reg(GW_MODBUS_S16, GW_MODBUS_ABCD, 1);
    uint16_t w[4] = {0xFB2E}; /* -1234 */
    gw_value_t v;
    CHECK_EQ_INT(gw_modbus_decode(&r, w, 1, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_INTEGER);
    CHECK_EQ_INT(v.v.i, -1234);
    r.scale = 0.1;
    CHECK_EQ_INT(gw_modbus_decode(&r, w, 1, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_FLOAT);
    CHECK_NEAR(v.v.f, -123.4, 1e-9);
    r = reg(GW_MODBUS_U32, GW_MODBUS_CDAB, 2);
    uint16_t w32[2] = {0x5678, 0x1234};
    CHECK_EQ_INT(gw_modbus_decode(&r, w32, 2, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.v.i, 0x12345678);
    r = reg(GW_MODBUS_S64, GW_MODBUS_DCBA, 4);
    uint16_t w64[4] = {0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF}; /* -2 little-endian */
    CHECK_EQ_INT(gw_modbus_decode(&r, w64, 4, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.v.i, -2);
    r = reg(GW_MODBUS_U64, GW_MODBUS_ABCD, 4);
    uint16_t wmax[4] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
    CHECK_EQ_INT(gw_modbus_decode(&r, wmax, 4, &v, NULL, 0), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_UNSIGNED);
    CHECK(v.v.u == UINT64_MAX);
}

GW_TEST(decode_rejects_bad_input)
{
    gw_config_modbus_reg_t r = reg(GW_MODBUS_F32, GW_MODBUS_ABCD, 2);
    uint16_t nan[2] = {0x7FC0, 0x0000};
    gw_value_t v;
    CHECK_EQ_INT(gw_modbus_decode(&r, nan, 2, &v, NULL, 0), -EINVAL);
    CHECK_EQ_INT(gw_modbus_decode(&r, nan, 1, &v, NULL, 0), -EINVAL); /* short */
    r = reg(GW_MODBUS_STRING, GW_MODBUS_ABCD, 2);
    uint16_t s[2] = {0x4142, 0x0143};
    char buf[8];
    CHECK_EQ_INT(gw_modbus_decode(&r, s, 2, &v, buf, sizeof buf), -EINVAL);
    uint16_t s2[2] = {0x4100, 0x4200}; /* text after the padding */
    CHECK_EQ_INT(gw_modbus_decode(&r, s2, 2, &v, buf, sizeof buf), -EINVAL);
    CHECK_EQ_INT(gw_modbus_decode(&r, s2, 2, &v, buf, 4), -ENOSPC);
}

GW_TEST(decode_string_and_bool)
{
    gw_config_modbus_reg_t r = reg(GW_MODBUS_STRING, GW_MODBUS_BADC, 3);
    uint16_t s[3] = {0x4453, 0x314D, 0x0020}; /* "SDM1" + " " byte-swapped */
    char buf[16];
    gw_value_t v;
    CHECK_EQ_INT(gw_modbus_decode(&r, s, 3, &v, buf, sizeof buf), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_STRING);
    CHECK_EQ_MEM(v.v.bytes.ptr, v.v.bytes.len, "SDM1", 4);
    r = reg(GW_MODBUS_BOOL, GW_MODBUS_ABCD, 1);
    uint16_t one = 1;
    CHECK_EQ_INT(gw_modbus_decode(&r, &one, 1, &v, NULL, 0), 0);
    CHECK(v.type == GW_TYPE_BOOLEAN && v.v.b);
}

GW_TEST(encode_is_the_inverse)
{
    const uint8_t types[] = {GW_MODBUS_U16, GW_MODBUS_S16, GW_MODBUS_U32, GW_MODBUS_S32,
                             GW_MODBUS_U64, GW_MODBUS_S64, GW_MODBUS_F32, GW_MODBUS_F64};
    const uint16_t counts[] = {1, 1, 2, 2, 4, 4, 2, 4};
    for (size_t t = 0; t < sizeof types; t++)
        for (uint8_t o = 0; o < 4; o++) {
            gw_config_modbus_reg_t r = reg(types[t], o, counts[t]);
            r.scale = 0.5;
            r.offset = 10;
            uint16_t w[4];
            CHECK_EQ_INT(gw_modbus_encode(&r, 60.5, w, 4), 0);
            gw_value_t v;
            CHECK_EQ_INT(gw_modbus_decode(&r, w, 4, &v, NULL, 0), 0);
            CHECK_NEAR(v.v.f, 60.5, 1e-6);
        }
    gw_config_modbus_reg_t r = reg(GW_MODBUS_U16, GW_MODBUS_ABCD, 1);
    uint16_t w[4];
    CHECK_EQ_INT(gw_modbus_encode(&r, 65536, w, 4), -ERANGE);
    CHECK_EQ_INT(gw_modbus_encode(&r, -1, w, 4), -ERANGE);
    CHECK_EQ_INT(gw_modbus_encode(&r, NAN, w, 4), -EINVAL);
    r = reg(GW_MODBUS_S16, GW_MODBUS_ABCD, 1);
    CHECK_EQ_INT(gw_modbus_encode(&r, -32768, w, 4), 0);
    CHECK_EQ_INT(w[0], 0x8000);
    r = reg(GW_MODBUS_U32, GW_MODBUS_CDAB, 2);
    CHECK_EQ_INT(gw_modbus_encode(&r, 0x12345678, w, 4), 0);
    CHECK(w[0] == 0x5678 && w[1] == 0x1234);
}

/* A value between two steps of an integer register is refused (-EDOM),
 * never rounded to a value the server did not write; the division's
 * binary noise is not a step. */
GW_TEST(encode_refuses_values_between_steps)
{
    uint16_t w[4] = {0};
    gw_config_modbus_reg_t r = reg(GW_MODBUS_S16, GW_MODBUS_ABCD, 1);
    r.scale = 0.1;
    CHECK_EQ_INT(gw_modbus_encode(&r, 12.34, w, 4), -EDOM);
    CHECK_EQ_INT(gw_modbus_encode(&r, 12.35, w, 4), -EDOM);
    CHECK_EQ_INT(gw_modbus_encode(&r, 12.3, w, 4), 0);
    CHECK_EQ_INT(w[0], 123);
    CHECK_EQ_INT(gw_modbus_encode(&r, -3276.8, w, 4), 0);
    CHECK_EQ_INT(w[0], 0x8000);
    CHECK_EQ_INT(gw_modbus_encode(&r, 4000, w, 4), -ERANGE); /* out of range first */
    double step;
    CHECK_EQ_INT(gw_modbus_step(&r, &step), 0);
    CHECK_NEAR(step, 0.1, 0);
    r.offset = -40; /* 21.5 Cel with offset -40: (61.5) / 0.1 is 615.0000000000001 */
    CHECK_EQ_INT(gw_modbus_encode(&r, 21.5, w, 4), 0);
    CHECK_EQ_INT(w[0], 615);
    r = reg(GW_MODBUS_U16, GW_MODBUS_ABCD, 1);
    CHECK_EQ_INT(gw_modbus_encode(&r, 1.5, w, 4), -EDOM);
    CHECK_EQ_INT(gw_modbus_encode(&r, 2, w, 4), 0);
    CHECK_EQ_INT(w[0], 2);
    r = reg(GW_MODBUS_U64, GW_MODBUS_ABCD, 4);
    r.scale = 0.001;
    CHECK_EQ_INT(gw_modbus_encode(&r, 4294967.295, w, 4), 0);
    CHECK(w[2] == 0xFFFF && w[3] == 0xFFFF);
    CHECK_EQ_INT(gw_modbus_encode(&r, 4294967.2955, w, 4), -EDOM);
    /* a coil bit field counts whole coils patterns */
    r = reg(GW_MODBUS_U16, GW_MODBUS_ABCD, 8);
    r.table = GW_MODBUS_COIL;
    CHECK_EQ_INT(gw_modbus_encode(&r, 2.5, w, 8), -EDOM);
    CHECK_EQ_INT(gw_modbus_step(&r, &step), 0);
    CHECK_NEAR(step, 1, 0);
    /* float registers take the nearest float: no steps */
    r = reg(GW_MODBUS_F32, GW_MODBUS_ABCD, 2);
    CHECK_EQ_INT(gw_modbus_encode(&r, 0.1, w, 4), 0);
    CHECK_EQ_INT(gw_modbus_step(&r, &step), -ENOTSUP);
}

GW_TEST(plan_merges_within_gap_and_limit)
{
    gw_config_modbus_reg_t r[6] = {
        reg(GW_MODBUS_F32, 0, 2), reg(GW_MODBUS_F32, 0, 2), reg(GW_MODBUS_F32, 0, 2),
        reg(GW_MODBUS_F32, 0, 2), reg(GW_MODBUS_F32, 0, 2), reg(GW_MODBUS_U16, 0, 1)};
    const uint16_t addr[6] = {0, 6, 12, 70, 342, 0};
    for (int i = 0; i < 6; i++) {
        r[i].address = addr[i];
        r[i].table = GW_MODBUS_INPUT;
    }
    r[5].table = GW_MODBUS_COIL;
    const gw_config_modbus_reg_t *p[6] = {&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]};
    gw_modbus_block_t b[6];
    /* SDM120's map: gap 8 -> 0..13, 70..71, 342..343; gap 64 -> 0..71, 342..343. */
    CHECK_EQ_INT(gw_modbus_plan(p, 5, 8, b, 6), 3);
    CHECK(b[0].start == 0 && b[0].count == 14 && b[0].n == 3);
    CHECK_EQ_INT(gw_modbus_plan(p, 5, 64, b, 6), 2);
    CHECK(b[0].count == 72 && b[1].start == 342 && b[1].first == 4);
    /* no read crosses 125 registers, even with a huge gap */
    CHECK_EQ_INT(gw_modbus_plan(p, 5, 1000 > 100 ? 100 : 1000, b, 6), 2);
    /* a different table is a new read */
    const gw_config_modbus_reg_t *q[2] = {&r[0], &r[5]};
    CHECK_EQ_INT(gw_modbus_plan(q, 2, 100, b, 6), 2);
    CHECK_EQ_INT(gw_modbus_plan(p, 5, 0, b, 2), -ENOSPC);
}

static int n_diags;
static char last_diag[512];

static void collect(void *ctx, const char *file, int line, const char *msg)
{
    (void)ctx;
    n_diags++;
    snprintf(last_diag, sizeof last_diag, "%s:%d: %s", file, line, msg);
}

static int load_text(const char *text, gw_config_t **out)
{
    char path[] = "/tmp/gw-test-modbus-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    gw_registry_t *reg = NULL;
    gw_registry_new(&reg);
    n_diags = 0;
    last_diag[0] = '\0';
    int rc = gw_config_load(path, reg, collect, NULL, out);
    remove(path);
    gw_registry_free(&reg);
    return rc;
}

GW_TEST(examples_load)
{
    const char *files[] = {"examples/modbus-sdm120.conf", "examples/modbus-th-rtu.conf"};
    for (size_t i = 0; i < 2; i++) {
        gw_registry_t *reg = NULL;
        CHECK_EQ_INT(gw_registry_new(&reg), 0);
        gw_config_t *c = NULL;
        CHECK_EQ_INT(gw_config_load(files[i], reg, collect, NULL, &c), 0);
        if (c) {
            const gw_modbus_conf_t *mc =
                c->sections[gw_config_adapter_index_of(gw_adapter_find("modbus"))];
            CHECK(mc && mc->n_buses == 1);
            CHECK(c->n_devices >= 1);
            CHECK_EQ_STR(c->devices[0].adapter, "modbus");
            const gw_modbus_dev_conf_t *md = c->devices[0].part;
            CHECK(md && md->n_registers >= 2);
            CHECK(md && md->unit_id == 1);
        }
        gw_config_free(&c);
        gw_registry_free(&reg);
    }
}

#define HEAD                                                                                      \
    "servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"                                       \
    "adapters = { modbus = ( { name = \"plc\"; type = \"tcp\"; host = \"127.0.0.1\"; } ); };\n"

GW_TEST(config_errors_name_line_and_expectation)
{
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(HEAD "devices = ( { endpoint = \"a\"; adapter = \"modbus\"; bus = \"plk\";\n"
                                " unit_id = 1; registers = ( { field = \"voltage\"; address = 0; } ); } );\n",
                           &c),
                 -EINVAL);
    CHECK(strstr(last_diag, ":3: unknown bus \"plk\", did you mean \"plc\"?") != NULL);
    CHECK_EQ_INT(load_text(HEAD "devices = ( { endpoint = \"a\"; adapter = \"modbus\"; bus = \"plc\";\n"
                                " unit_id = 1; } );\n", &c),
                 -EINVAL);
    CHECK(strstr(last_diag, "no registers") != NULL);
    CHECK_EQ_INT(load_text(HEAD "devices = ( { endpoint = \"a\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"
                                " registers = ( { field = \"voltage\"; address = 0;\n"
                                "   type = \"f23\"; } ); } );\n", &c),
                 -EINVAL);
    CHECK(strstr(last_diag, ":5: unknown type \"f23\", did you mean \"f32\"?") != NULL);
    CHECK_EQ_INT(load_text(HEAD "devices = ( { endpoint = \"a\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"
                                " registers = ( { field = \"voltage\"; table = \"input\"; address = 0; writable = true; } ); } );\n",
                           &c),
                 -EINVAL);
    CHECK(strstr(last_diag, "read-only") != NULL);
    CHECK_EQ_INT(load_text(HEAD "devices = ( { endpoint = \"a\"; adapter = \"modbus\"; bus = \"plc\"; unit_id = 1;\n"
                                " registers = ( { field = \"mystery\"; address = 0; } ); } );\n", &c),
                 -EINVAL);
    CHECK(strstr(last_diag, ":4: register field \"mystery\" lands nowhere") != NULL);
    CHECK_EQ_INT(load_text("servers = ( { uri = \"coap://127.0.0.1:5683\"; } );\n"
                           "adapters = { modbus = ( { name = \"s\"; type = \"rtu\"; } ); };\n", &c),
                 -EINVAL);
    CHECK(strstr(last_diag, ":2: rtu bus \"s\" needs device") != NULL);
    CHECK(c == NULL);
}

GW_TEST(template_merge_and_fingerprint)
{
    gw_config_t *c = NULL;
    CHECK_EQ_INT(load_text(HEAD "templates = ( { name = \"m\"; adapter = \"modbus\"; bus = \"plc\";\n"
                                " registers = ( { field = \"voltage\"; address = 0; type = \"f32\"; },\n"
                                "               { field = \"current\"; address = 2; type = \"f32\"; } ); } );\n"
                                "devices = ( { endpoint = \"a\"; template = \"m\"; unit_id = 3;\n"
                                "  registers = ( { field = \"current\"; address = 4; type = \"f32\"; scale = 0.001; } ); },\n"
                                "  { endpoint = \"b\"; template = \"m\"; unit_id = 4; } );\n",
                           &c),
                 0);
    if (!c)
        return;
    const gw_config_device_t *a = &c->devices[0], *b = &c->devices[1];
    const gw_modbus_dev_conf_t *am = a->part;
    CHECK_EQ_STR(am->bus, "plc");
    CHECK_EQ_INT(am->n_registers, 2);
    CHECK_EQ_INT(am->registers[1].address, 4);
    CHECK_NEAR(am->registers[1].scale, 0.001, 1e-12);
    CHECK_EQ_STR(a->address, "plc/3");
    CHECK_EQ_STR(b->address, "plc/4");
    CHECK(a->fingerprint != b->fingerprint);
    gw_config_free(&c);
}

/* Issue 8: 4000 does not fit a s16 with scale 0.1; the range says what does. */
GW_TEST(range_of_a_writable_register)
{
    gw_config_modbus_reg_t r = reg(GW_MODBUS_S16, GW_MODBUS_ABCD, 1);
    r.scale = 0.1;
    uint16_t w[4];
    CHECK_EQ_INT(gw_modbus_encode(&r, 4000, w, 4), -ERANGE);
    CHECK_EQ_INT(gw_modbus_encode(&r, 3276.7, w, 4), 0);
    CHECK_EQ_INT(w[0], 32767);
    double lo = 0, hi = 0;
    CHECK_EQ_INT(gw_modbus_range(&r, &lo, &hi), 0);
    CHECK(lo == -3276.8 && hi == 3276.7);
    r.scale = -0.5; /* a negative scale swaps the ends */
    r.offset = 10;
    CHECK_EQ_INT(gw_modbus_range(&r, &lo, &hi), 0);
    CHECK(lo == -16373.5 && hi == 16394.0);
    r = reg(GW_MODBUS_U16, GW_MODBUS_ABCD, 1);
    CHECK_EQ_INT(gw_modbus_range(&r, &lo, &hi), 0);
    CHECK(lo == 0 && hi == 65535);
    r.table = GW_MODBUS_COIL;
    r.count = 3;
    CHECK_EQ_INT(gw_modbus_range(&r, &lo, &hi), 0);
    CHECK(lo == 0 && hi == 7);
    r = reg(GW_MODBUS_F32, GW_MODBUS_ABCD, 2);
    CHECK_EQ_INT(gw_modbus_range(&r, &lo, &hi), 0);
    CHECK(hi == 3.4028234663852886e38 && lo == -hi);
    r = reg(GW_MODBUS_STRING, GW_MODBUS_ABCD, 4);
    CHECK_EQ_INT(gw_modbus_range(&r, &lo, &hi), -ENOTSUP);
    r = reg(GW_MODBUS_BOOL, GW_MODBUS_ABCD, 1);
    CHECK_EQ_INT(gw_modbus_range(&r, &lo, &hi), -ENOTSUP);
}

/* A failed request is named by its function code, table, address and count. */
GW_TEST(requests_are_described_for_the_logs)
{
    char b[128];
    gw_modbus_describe(GW_MODBUS_HOLDING, false, 100, 5, b, sizeof b);
    CHECK_EQ_STR(b, "FC03 read holding registers 100..104 (address 100, count 5)");
    gw_modbus_describe(GW_MODBUS_INPUT, false, 20, 2, b, sizeof b);
    CHECK_EQ_STR(b, "FC04 read input registers 20..21 (address 20, count 2)");
    gw_modbus_describe(GW_MODBUS_COIL, false, 0, 1, b, sizeof b);
    CHECK_EQ_STR(b, "FC01 read coil 0 (address 0, count 1)");
    gw_modbus_describe(GW_MODBUS_DISCRETE, false, 7, 3, b, sizeof b);
    CHECK_EQ_STR(b, "FC02 read discrete inputs 7..9 (address 7, count 3)");
    gw_modbus_describe(GW_MODBUS_COIL, true, 5, 1, b, sizeof b);
    CHECK_EQ_STR(b, "FC05 write coil 5 (address 5, count 1)");
    gw_modbus_describe(GW_MODBUS_COIL, true, 20, 10, b, sizeof b);
    CHECK_EQ_STR(b, "FC15 write coils 20..29 (address 20, count 10)");
    gw_modbus_describe(GW_MODBUS_HOLDING, true, 40, 1, b, sizeof b);
    CHECK_EQ_STR(b, "FC06 write holding register 40 (address 40, count 1)");
    gw_modbus_describe(GW_MODBUS_HOLDING, true, 65534, 2, b, sizeof b);
    CHECK_EQ_STR(b, "FC16 write holding registers 65534..65535 (address 65534, count 2)");
}

GW_TEST_MAIN(decode_f32_in_every_order, decode_integers_and_scale, decode_rejects_bad_input,
             decode_string_and_bool, encode_is_the_inverse, plan_merges_within_gap_and_limit,
             examples_load, config_errors_name_line_and_expectation, template_merge_and_fingerprint,
             range_of_a_writable_register, requests_are_described_for_the_logs,
             encode_refuses_values_between_steps)
