/*
 * adapters/ble/ess.c - the GATT characteristic formats the adapter knows
 * by UUID (Bluetooth SIG GATT Specification Supplement): Environmental
 * Sensing temperature 0x2A6E (sint16, 0.01 degC, 0x8000 "not known"),
 * humidity 0x2A6F (uint16, 0.01 %, 0xFFFF "not known"), pressure 0x2A6D
 * (uint32, 0.1 Pa) and Battery Level 0x2A19 (uint8, 0..100 %). All are
 * little-endian.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "gatt.h"

static const gw_ble_ess_t table[] = {
    {0x2A6E, "temperature", "Cel", 2, true, 0.01, 2, -327.67, 327.67, true, 0x8000},
    {0x2A6F, "humidity", "%RH", 2, false, 0.01, 2, 0.0, 100.0, true, 0xFFFF},
    {0x2A6D, "pressure", "Pa", 4, false, 0.1, 1, 0.0, 429496729.5, false, 0},
    {0x2A19, "battery", "%", 1, false, 1.0, 0, 0.0, 100.0, false, 0},
};

const gw_ble_ess_t *gw_ble_ess_find(int uuid16)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].uuid == uuid16)
            return &table[i];
    return NULL;
}

int gw_ble_ess_decode(const gw_ble_ess_t *f, const uint8_t *p, size_t n, gw_value_t *out)
{
    if (!f || !p || !out)
        return -EINVAL;
    if (n != f->len)
        return -EBADMSG;
    uint32_t u = 0;
    for (unsigned i = 0; i < f->len; i++)
        u |= (uint32_t)p[i] << (8 * i);
    if (f->has_unknown && u == f->unknown)
        return -ENODATA;
    double v = f->is_signed ? (double)(int16_t)(uint16_t)u : (double)u;
    v *= f->scale;
    if (v < f->lo || v > f->hi)
        return -EBADMSG; /* a humidity of 101 % or a battery of 200 %: a broken sensor */
    if (f->decimals == 0)
        *out = (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = (int64_t)u};
    else
        *out = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = v};
    return 0;
}

int gw_ble_ess_encode(const gw_ble_ess_t *f, const gw_value_t *v, uint8_t *out, size_t *out_len)
{
    double x;
    if (!f || !v || !out || !out_len)
        return -EINVAL;
    switch (v->type) {
    case GW_TYPE_FLOAT: x = v->v.f; break;
    case GW_TYPE_INTEGER: x = (double)v->v.i; break;
    case GW_TYPE_UNSIGNED: x = (double)v->v.u; break;
    default: return -EINVAL;
    }
    if (!isfinite(x))
        return -EINVAL;
    if (x < f->lo || x > f->hi)
        return -ERANGE;
    double steps = x / f->scale, r = nearbyint(steps);
    /* 21.37 / 0.01 is 2136.9999...: a step is what lies within float
     * noise of an integer, anything else is between two steps. */
    if (fabs(steps - r) > 1e-6 * fmax(1.0, fabs(r)))
        return -EDOM;
    int64_t raw = (int64_t)r;
    uint32_t u = f->is_signed ? (uint32_t)(uint16_t)(int16_t)raw : (uint32_t)raw;
    if (f->has_unknown && u == f->unknown)
        return -ERANGE;
    for (unsigned i = 0; i < f->len; i++)
        out[i] = (uint8_t)(u >> (8 * i));
    *out_len = f->len;
    return 0;
}
