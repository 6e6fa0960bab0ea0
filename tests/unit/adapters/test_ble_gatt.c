/* Unit tests for the GATT characteristic formats known by UUID
 * (adapters/ble/ess.c): the GATT Specification Supplement's encodings of
 * ESS temperature, humidity, pressure and Battery Level, their extremes and
 * "not known" codes, wrong lengths, and writes refused by type, range and
 * step (never rounded). */
#include "gwtest.h"

#include "adapters/ble/gatt.h"

#include <errno.h>
#include <math.h>

static gw_value_t num(double x)
{
    return (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = x};
}

GW_TEST(test_table)
{
    CHECK(gw_ble_ess_find(0x2A6E) && gw_ble_ess_find(0x2A6F) && gw_ble_ess_find(0x2A6D) &&
          gw_ble_ess_find(0x2A19));
    CHECK(!gw_ble_ess_find(0x2A1C));
    CHECK(!gw_ble_ess_find(-1));
    CHECK_EQ_STR(gw_ble_ess_find(0x2A6E)->field, "temperature");
    CHECK_EQ_STR(gw_ble_ess_find(0x2A19)->field, "battery");
}

GW_TEST(test_decode)
{
    gw_value_t v;
    const gw_ble_ess_t *t = gw_ble_ess_find(0x2A6E), *h = gw_ble_ess_find(0x2A6F),
                       *p = gw_ble_ess_find(0x2A6D), *b = gw_ble_ess_find(0x2A19);
    /* 0x0859 = 2137 -> 21.37 degC; 0xFE00 = -512 -> -5.12 */
    CHECK_EQ_INT(gw_ble_ess_decode(t, (const uint8_t[]){0x59, 0x08}, 2, &v), 0);
    CHECK_NEAR(v.v.f, 21.37, 1e-9);
    CHECK_EQ_INT(gw_ble_ess_decode(t, (const uint8_t[]){0x00, 0xFE}, 2, &v), 0);
    CHECK_NEAR(v.v.f, -5.12, 1e-9);
    CHECK_EQ_INT(gw_ble_ess_decode(t, (const uint8_t[]){0x01, 0x80}, 2, &v), 0);
    CHECK_NEAR(v.v.f, -327.67, 1e-9);
    CHECK_EQ_INT(gw_ble_ess_decode(t, (const uint8_t[]){0xFF, 0x7F}, 2, &v), 0);
    CHECK_NEAR(v.v.f, 327.67, 1e-9);
    CHECK_EQ_INT(gw_ble_ess_decode(t, (const uint8_t[]){0x00, 0x80}, 2, &v), -ENODATA);
    /* humidity 0..100.00 %, 0xFFFF not known, 100.01 a broken sensor */
    CHECK_EQ_INT(gw_ble_ess_decode(h, (const uint8_t[]){0x10, 0x27}, 2, &v), 0);
    CHECK_NEAR(v.v.f, 100.0, 1e-9);
    CHECK_EQ_INT(gw_ble_ess_decode(h, (const uint8_t[]){0x11, 0x27}, 2, &v), -EBADMSG);
    CHECK_EQ_INT(gw_ble_ess_decode(h, (const uint8_t[]){0xFF, 0xFF}, 2, &v), -ENODATA);
    /* pressure 0.1 Pa: 1013250 = 101325.0 Pa */
    CHECK_EQ_INT(gw_ble_ess_decode(p, (const uint8_t[]){0x02, 0x76, 0x0F, 0x00}, 4, &v), 0);
    CHECK_NEAR(v.v.f, 101325.0, 1e-6);
    CHECK_EQ_INT(gw_ble_ess_decode(p, (const uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF}, 4, &v), 0);
    CHECK_NEAR(v.v.f, 429496729.5, 1e-3);
    /* battery: an integer 0..100 */
    CHECK_EQ_INT(gw_ble_ess_decode(b, (const uint8_t[]){87}, 1, &v), 0);
    CHECK_EQ_INT(v.type, GW_TYPE_INTEGER);
    CHECK_EQ_INT(v.v.i, 87);
    CHECK_EQ_INT(gw_ble_ess_decode(b, (const uint8_t[]){101}, 1, &v), -EBADMSG);
    /* lengths other than the format's */
    uint8_t one = 0;
    CHECK_EQ_INT(gw_ble_ess_decode(t, &one, 1, &v), -EBADMSG);
    CHECK_EQ_INT(gw_ble_ess_decode(t, (const uint8_t[]){1, 2, 3}, 3, &v), -EBADMSG);
    CHECK_EQ_INT(gw_ble_ess_decode(b, &one, 0, &v), -EBADMSG);
    CHECK_EQ_INT(gw_ble_ess_decode(NULL, &one, 1, &v), -EINVAL);
}

GW_TEST(test_encode)
{
    uint8_t out[4];
    size_t n;
    const gw_ble_ess_t *t = gw_ble_ess_find(0x2A6E), *b = gw_ble_ess_find(0x2A19);
    gw_value_t v = num(21.37);
    CHECK_EQ_INT(gw_ble_ess_encode(t, &v, out, &n), 0);
    CHECK_EQ_MEM(out, n, ((const uint8_t[]){0x59, 0x08}), 2);
    v = num(-327.67);
    CHECK_EQ_INT(gw_ble_ess_encode(t, &v, out, &n), 0);
    CHECK_EQ_MEM(out, n, ((const uint8_t[]){0x01, 0x80}), 2);
    v = num(-327.68); /* the "not known" code is no value to write */
    CHECK_EQ_INT(gw_ble_ess_encode(t, &v, out, &n), -ERANGE);
    v = num(400);
    CHECK_EQ_INT(gw_ble_ess_encode(t, &v, out, &n), -ERANGE);
    v = num(21.375); /* between two steps of 0.01: refused, not rounded */
    CHECK_EQ_INT(gw_ble_ess_encode(t, &v, out, &n), -EDOM);
    v = num(NAN);
    CHECK_EQ_INT(gw_ble_ess_encode(t, &v, out, &n), -EINVAL);
    v = (gw_value_t){.type = GW_TYPE_STRING};
    CHECK_EQ_INT(gw_ble_ess_encode(t, &v, out, &n), -EINVAL);
    v = (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = 100};
    CHECK_EQ_INT(gw_ble_ess_encode(b, &v, out, &n), 0);
    CHECK_EQ_MEM(out, n, ((const uint8_t[]){100}), 1);
    v.v.i = 101;
    CHECK_EQ_INT(gw_ble_ess_encode(b, &v, out, &n), -ERANGE);
    v = num(50.5);
    CHECK_EQ_INT(gw_ble_ess_encode(b, &v, out, &n), -EDOM);
}

GW_TEST_MAIN(test_table, test_decode, test_encode)
