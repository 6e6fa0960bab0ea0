/*
 * adapters/ble/decoders.c - the table of advertisement decoders and the
 * helpers they share. A new format is one file and one line here.
 */
#include <math.h>
#include <string.h>

#include "../../lwm2m/precision.h"
#include "decoder.h"

const gw_ble_decoder_t *const gw_ble_decoders[] = {&gw_ble_dec_bthome, &gw_ble_dec_ruuvi,
                                                   &gw_ble_dec_atc, &gw_ble_dec_mibeacon, NULL};

const gw_ble_decoder_t *gw_ble_decoder_find(const char *name)
{
    for (size_t i = 0; name && gw_ble_decoders[i]; i++)
        if (strcmp(gw_ble_decoders[i]->name, name) == 0)
            return gw_ble_decoders[i];
    return NULL;
}

const char *gw_ble_decoder_names(void)
{
    return "\"bthome\", \"ruuvi\", \"atc\" or \"mibeacon\"";
}

static gw_ble_val_t *slot_next(gw_ble_decoded_t *out, uint8_t slot, const char *field,
                               const char *unit)
{
    if (out->n >= GW_BLE_MAX_VALS)
        return NULL;
    gw_ble_val_t *v = &out->v[out->n++];
    v->field = field;
    v->unit = unit;
    v->slot = slot;
    v->decimals = 0;
    return v;
}

/* The value is rounded once here to the decimal the source meant (25.5 as
 * 2550 x 0.01, not 25.500000000000004). */
/* x rounded to `decimals` places, as the double nearest that decimal.
 * The common case needs no printf: a decoder's raw integer times its step
 * lies well away from a tie, and r / 10^d (two exact doubles, one IEEE
 * division) is the double nearest the decimal r * 10^-d, which is what
 * gw_prec_round's printf/strtod round trip returns. Near a tie, or where
 * r or 10^d is not exact, that slow path decides. It is half the cost of
 * an advert otherwise (bench_ble). */
static double round_dec(double x, int d)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    if (d >= 0 && d <= 15 && isfinite(x)) {
        double s = x * p10[d], r = nearbyint(s);
        if (fabs(r) < 4503599627370496.0 && fabs(s - r) < 0.25)
            return r == 0 ? 0.0 : r / p10[d];
    }
    return gw_prec_round(x, d);
}

bool gw_ble_put_float(gw_ble_decoded_t *out, uint8_t slot, const char *field, const char *unit,
                      double x, int decimals)
{
    gw_ble_val_t *v = slot_next(out, slot, field, unit);
    if (!v)
        return false;
    v->value.type = GW_TYPE_FLOAT;
    v->value.v.f = round_dec(x, decimals);
    v->decimals = (int8_t)decimals;
    return true;
}

bool gw_ble_put_int(gw_ble_decoded_t *out, uint8_t slot, const char *field, const char *unit,
                    int64_t x)
{
    gw_ble_val_t *v = slot_next(out, slot, field, unit);
    if (!v)
        return false;
    v->value.type = GW_TYPE_INTEGER;
    v->value.v.i = x;
    return true;
}

bool gw_ble_put_bool(gw_ble_decoded_t *out, uint8_t slot, const char *field, bool x)
{
    gw_ble_val_t *v = slot_next(out, slot, field, NULL);
    if (!v)
        return false;
    v->value.type = GW_TYPE_BOOLEAN;
    v->value.v.b = x;
    return true;
}
