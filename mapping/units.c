/*
 * mapping/units.c - unit conversions from the spellings sensors and configs
 * use to the LwM2M (SenML, RFC 8428 section 12.1) units the objects carry.
 *
 * Symbols are case-sensitive ("mV" is not "MV"); spelled-out words
 * ("Fahrenheit", "kelvin") are not, because people type them both ways.
 */
#include <errno.h>
#include <stddef.h>
#include <strings.h>
#include <string.h>

#include "../lwm2m/precision.h"
#include "mapping.h"

typedef struct unit_rule {
    const char *to;   /* LwM2M unit */
    const char *from; /* a spelling a sensor or config uses */
    gw_unit_conv_t conv;
} unit_rule_t;

static const unit_rule_t rules[] = {
    {"Cel", "°C", GW_CONV_NONE},
    {"Cel", "C", GW_CONV_NONE},
    {"Cel", "degC", GW_CONV_NONE},
    {"Cel", "Celsius", GW_CONV_NONE},
    {"Cel", "F", GW_CONV_F_TO_C},
    {"Cel", "°F", GW_CONV_F_TO_C},
    {"Cel", "degF", GW_CONV_F_TO_C},
    {"Cel", "Fahrenheit", GW_CONV_F_TO_C},
    {"Cel", "K", GW_CONV_K_TO_C},
    {"Cel", "Kelvin", GW_CONV_K_TO_C},
    {"%RH", "%", GW_CONV_NONE},
    {"%RH", "RH", GW_CONV_NONE},
    {"kWh", "Wh", GW_CONV_WH_TO_KWH},
    {"hPa", "mbar", GW_CONV_NONE},
    {"hPa", "Pa", GW_CONV_PA_TO_HPA},
    {"hPa", "kPa", GW_CONV_KPA_TO_HPA},
    {"V", "mV", GW_CONV_MV_TO_V},
    {"mV", "V", GW_CONV_V_TO_MV},
    {"A", "mA", GW_CONV_MA_TO_A},
    {"kW", "W", GW_CONV_W_TO_KW},
};

/* A spelled-out word, as opposed to a symbol: compared case-insensitively. */
static bool is_word(const char *s)
{
    return strlen(s) > 4;
}

static bool same_unit(const char *rule, const char *given)
{
    if (is_word(rule))
        return strcasecmp(rule, given) == 0;
    return strcmp(rule, given) == 0;
}

int gw_unit_conv_find(const char *from, const char *to, gw_unit_conv_t *out)
{
    if (!from || !to || !out)
        return -EINVAL;
    if (strcmp(from, to) == 0) {
        *out = GW_CONV_NONE;
        return 0;
    }
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (strcmp(rules[i].to, to) == 0 && same_unit(rules[i].from, from)) {
            *out = rules[i].conv;
            return 0;
        }
    }
    return -EINVAL;
}

double gw_unit_conv_apply(gw_unit_conv_t c, double v)
{
    switch (c) {
    case GW_CONV_F_TO_C:
        return (v - 32.0) * 5.0 / 9.0;
    case GW_CONV_K_TO_C:
        return v - 273.15;
    case GW_CONV_WH_TO_KWH:
    case GW_CONV_MV_TO_V:
    case GW_CONV_MA_TO_A:
    case GW_CONV_W_TO_KW:
        return v / 1000.0;
    case GW_CONV_PA_TO_HPA:
        return v / 100.0;
    case GW_CONV_KPA_TO_HPA:
        return v * 10.0;
    case GW_CONV_V_TO_MV:
        return v * 1000.0;
    case GW_CONV_NONE:
        break;
    }
    return v;
}

int gw_unit_conv_decimals(gw_unit_conv_t c, int decimals)
{
    switch (c) {
    case GW_CONV_F_TO_C: return gw_prec_linear(gw_prec_linear(decimals, 1.0, -32.0), 5.0 / 9.0, 0.0);
    case GW_CONV_K_TO_C: return gw_prec_linear(decimals, 1.0, -273.15);
    case GW_CONV_WH_TO_KWH:
    case GW_CONV_MV_TO_V:
    case GW_CONV_MA_TO_A:
    case GW_CONV_W_TO_KW: return gw_prec_linear(decimals, 0.001, 0.0);
    case GW_CONV_PA_TO_HPA: return gw_prec_linear(decimals, 0.01, 0.0);
    case GW_CONV_KPA_TO_HPA: return gw_prec_linear(decimals, 10.0, 0.0);
    case GW_CONV_V_TO_MV: return gw_prec_linear(decimals, 1000.0, 0.0);
    case GW_CONV_NONE: break;
    }
    return decimals;
}
