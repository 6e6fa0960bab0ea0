/*
 * adapters/ble/gatt.h - GATT characteristics of a BLE device: their
 * configuration (a device's `gatt` list) and the formats known by UUID.
 */
#ifndef GW_ADAPTERS_BLE_GATT_H
#define GW_ADAPTERS_BLE_GATT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../lwm2m/value.h"
#include "../payload/payload.h"

/* A characteristic format fixed by its 16-bit UUID (ess.c). */
typedef struct gw_ble_ess {
    uint16_t uuid;
    const char *field;  /* default field name */
    const char *unit;
    unsigned len;       /* bytes, little-endian */
    bool is_signed;
    double scale;       /* value = raw * scale */
    int decimals;       /* 0: an INTEGER value */
    double lo, hi;      /* what a reading or a write may be */
    bool has_unknown;   /* raw == unknown means "value is not known" */
    uint32_t unknown;
} gw_ble_ess_t;

/* The format of a 16-bit characteristic UUID, NULL when none. */
const gw_ble_ess_t *gw_ble_ess_find(int uuid16);
/* The value p[0..n) carries. 0, -EBADMSG (not f->len bytes, a value out
 * of the characteristic's range), -ENODATA (the "not known" code), -EINVAL. */
int gw_ble_ess_decode(const gw_ble_ess_t *f, const uint8_t *p, size_t n, gw_value_t *out);
/* The bytes of a write of *v into out (f->len bytes, at most 4). 0,
 * -EINVAL (not a number, NaN), -ERANGE (outside lo..hi), -EDOM (between two
 * steps of f->scale: refused, never rounded). */
int gw_ble_ess_encode(const gw_ble_ess_t *f, const gw_value_t *v, uint8_t *out, size_t *out_len);

/* gatt = ( { uuid = "2a6e"; notify = true; }, { uuid = "..."; codec = {...}; } ) */
typedef struct gw_ble_char_conf {
    char uuid[37];               /* lower-case 128-bit form */
    const gw_ble_ess_t *ess;     /* NULL: codec decodes it */
    char *field;                 /* ESS: field name (default the format's) */
    const char *unit;            /* ESS: unit of its readings, NULL: none (the target's);
                                    the format's unit unless `unit` says otherwise */
    char *unit_own;              /* `unit` as configured, owned */
    gw_payload_codec_t *codec;   /* owned reference; byte layout (fport 0), LPP or JS */
    gw_path_t path;              /* ESS: explicit path, len 0: the mapping decides */
    bool notify;                 /* StartNotify instead of reads */
    bool writable;               /* ESS: LwM2M Writes become WriteValue */
    int line;
} gw_ble_char_conf_t;

#define GW_BLE_GATT_INTERVAL_DEFAULT_S 60.0
#define GW_BLE_MAX_CHARS 32 /* per device */

#endif
