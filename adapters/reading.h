/*
 * adapters/reading.h - the reading: one value a sensor reported, as an
 * adapter hands it to the gateway. The one type adapters and the mapping
 * layer both see, so that neither includes the other.
 */
#ifndef GW_ADAPTERS_READING_H
#define GW_ADAPTERS_READING_H

#include <stdbool.h>
#include <stdint.h>

#include "../lwm2m/value.h"

/* All pointers are borrowed for the duration of the emit call. */
typedef struct gw_reading {
    const char *device_key; /* "<adapter>:<address>", e.g. "simulated:boiler-1" */
    const char *field;      /* "temperature", "humidity", "battery", ... or decoder-specific */
    gw_value_t value;       /* usually FLOAT; INTEGER/BOOLEAN/STRING as the sensor gives */
    const char *unit;       /* unit the value is in ("Cel", "Fahrenheit", "Wh", "Pa", "%RH"),
                               NULL when the field's usual unit */
    int64_t ts_ms;          /* wall clock when the sensor measured it; 0 = now */
    /* How finely the source resolves a FLOAT value (lwm2m/precision.h):
     * has_decimals says the value is a decimal with `decimals` decimals (a
     * register scaled by 0.1: 1; a float32 288.1: 1), already rounded to
     * them, so that it publishes as 288.1, not 288.1000061035156; the
     * mapping keeps that precision through its conversions. Unset (zero):
     * the double is the value (INTEGER/UNSIGNED count as 0 decimals). */
    bool has_decimals;
    int8_t decimals;
} gw_reading_t;

#endif
