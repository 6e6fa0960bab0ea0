/*
 * lwm2m/precision.h - how finely a value's source resolves it, counted in
 * decimals, and rounding a double to that.
 *
 * A sensor's number is a decimal to the person who reads it: a meter's
 * float32 288.1 V, a register 2307 with scale 0.1 (230.7). As a double it is
 * 288.1000061035156 and 230.70000000000002, which the shortest-round-trip
 * encoders (text, SenML JSON) would publish as such. Rounding the double
 * once, where the value is made (the adapter, then the mapping after its
 * conversions), to the double nearest the decimal the source meant makes
 * every encoder, the store, notifications, Send and the offline store carry
 * that decimal, at no cost in the store (no per-value hint is kept).
 *
 * "decimals" is the place of the last significant digit: 1 for tenths, 0
 * for units, -3 for thousands. Pure functions; no allocation.
 */
#ifndef GW_LWM2M_PRECISION_H
#define GW_LWM2M_PRECISION_H

#include <stdbool.h>

/* Decimals beyond which rounding is pointless or the arithmetic unsafe. */
#define GW_DECIMALS_MIN (-300)
#define GW_DECIMALS_MAX 40

/* The shortest decimal that reads back (strtof) as f, and its decimals:
 * 288.1f gives 288.1 (the double nearest it) and 1. A whole number gives 0
 * decimals, never fewer: its trailing zeros may be significant (230.0f is
 * 230 V to the unit, not to the ten). f must be finite; 0 gives 0. */
double gw_prec_float32(float f, int *out_decimals);

/* The same for a double (at most 17 significant digits). */
double gw_prec_double(double x, int *out_decimals);

/* When x is a short decimal (at most 15 significant digits: 0.1, 0.25,
 * 273.15, 1000), true and its decimals in *out (1, 2, 2, -3); false for
 * 5/9, NaN, infinities. 0 is a short decimal with 0 decimals. */
bool gw_prec_short_decimal(double x, int *out);

/* Decimals of a * x + b for x with `decimals` decimals: a decimal factor
 * adds its own (x0.001 adds 3, x1000 removes 3); a factor that is no short
 * decimal (5/9) adds what shows one step of the source, plus one digit; b
 * never leaves fewer decimals than it has itself (-273.15: at least 2).
 * Clamped to GW_DECIMALS_MIN..GW_DECIMALS_MAX. */
int gw_prec_linear(int decimals, double a, double b);

/* x rounded to `decimals` decimals, as the double nearest that decimal;
 * x itself when it is not finite or already has fewer significant digits
 * than a double resolves. -0 comes back as 0. */
double gw_prec_round(double x, int decimals);

#endif
