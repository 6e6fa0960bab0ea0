/*
 * lwm2m/precision.c - decimals of a source and rounding to them.
 *
 * glibc's printf rounds the exact binary value correctly and strtod/strtof
 * return the nearest binary value, so a round trip through "%.*e" is the
 * exact decimal rounding this needs, without a decimal library.
 */
#include "precision.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fewest significant digits (at most maxsig) whose "%e" form reads
 * back as x (as a float when single); the decimals of that form in
 * *out_decimals, its digits in *out_sig; returns the double it reads as. */
static double shortest(double x, int maxsig, bool single, int *out_decimals, int *out_sig)
{
    char buf[64];
    int sig = 1;
    for (; sig < maxsig; sig++) {
        snprintf(buf, sizeof buf, "%.*e", sig - 1, x);
        if (single ? strtof(buf, NULL) == (float)x : strtod(buf, NULL) == x)
            break;
    }
    snprintf(buf, sizeof buf, "%.*e", sig - 1, x);
    const char *e = strchr(buf, 'e');
    int exp10 = e ? atoi(e + 1) : 0;
    *out_decimals = sig - 1 - exp10;
    *out_sig = sig;
    return strtod(buf, NULL);
}

static int clamp(int d)
{
    return d < GW_DECIMALS_MIN ? GW_DECIMALS_MIN : d > GW_DECIMALS_MAX ? GW_DECIMALS_MAX : d;
}

double gw_prec_float32(float f, int *out_decimals)
{
    int d = 0, sig;
    double x = 0;
    if (isfinite(f) && f != 0)
        x = shortest(f, 9, true, &d, &sig);
    else if (!isfinite(f))
        x = f;
    *out_decimals = d < 0 ? 0 : d;
    return x;
}

double gw_prec_double(double x, int *out_decimals)
{
    int d = 0, sig;
    double y = x;
    if (isfinite(x) && x != 0)
        y = shortest(x, 17, false, &d, &sig);
    else if (x == 0)
        y = 0;
    *out_decimals = d < 0 ? 0 : clamp(d);
    return y;
}

bool gw_prec_short_decimal(double x, int *out)
{
    if (!isfinite(x))
        return false;
    if (x == 0) {
        *out = 0;
        return true;
    }
    int d, sig;
    shortest(x, 17, false, &d, &sig);
    if (sig > 15)
        return false;
    *out = d;
    return true;
}

int gw_prec_linear(int decimals, double a, double b)
{
    int d = decimals, k;
    if (a != 1.0 && a != 0.0 && isfinite(a)) {
        if (gw_prec_short_decimal(a, &k))
            d += k;
        else
            /* One step of the source is |a| * 10^-d: enough digits to see
             * it, and one more so that a second rounding cannot bias it. */
            d += (int)ceil(-log10(fabs(a))) + 1;
    }
    if (b != 0.0 && gw_prec_short_decimal(b, &k) && k > d)
        d = k;
    return clamp(d);
}

double gw_prec_round(double x, int decimals)
{
    if (!isfinite(x) || x == 0)
        return x == 0 ? 0.0 : x;
    if (decimals > GW_DECIMALS_MAX || decimals < GW_DECIMALS_MIN)
        return x;
    char buf[64];
    snprintf(buf, sizeof buf, "%.16e", x);
    const char *e = strchr(buf, 'e');
    int mag = e ? atoi(e + 1) : 0; /* place of the leading digit */
    int sig = mag + 1 + decimals;
    double y;
    if (sig > 17)
        return x; /* finer than a double resolves: nothing to take away */
    if (sig >= 1) {
        snprintf(buf, sizeof buf, "%.*e", sig - 1, x);
        y = strtod(buf, NULL);
    } else if (sig == 0) {
        /* x lies in [0.1, 1) units of the last place: 0 or one unit. */
        snprintf(buf, sizeof buf, "1e%d", -decimals);
        double unit = strtod(buf, NULL);
        y = fabs(x) >= unit / 2 ? copysign(unit, x) : 0.0;
    } else {
        y = 0.0;
    }
    return y == 0 ? 0.0 : y;
}
