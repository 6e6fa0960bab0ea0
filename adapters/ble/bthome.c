/*
 * adapters/ble/bthome.c - BTHome v2 (bthome.io), ServiceData of UUID
 * 0xFCD2: one device-information byte (bit 0 encrypted, bit 2 trigger
 * based, bits 5-7 version = 2), then objects, each an object id and a
 * little-endian value whose size and factor the id fixes (0x53 text and
 * 0x54 raw carry a length byte first). An id the table does not know ends
 * the frame as -ENOTSUP: its size is unknown, so nothing after it can be
 * read safely. Encrypted frames (AES-CCM with a bind key) are refused with
 * -ENOTSUP here; the adapter decrypts them first (bthome_crypt.c) when the
 * device has a bindkey.
 */
#include <errno.h>
#include <string.h>

#include "decoder.h"

typedef enum { K_FLOAT, K_INT, K_BOOL, K_SKIP } kind_t;

typedef struct obj {
    uint8_t id;
    uint8_t len;     /* bytes of the value; 0: length-prefixed */
    bool is_signed;
    kind_t kind;
    int8_t decimals; /* factor 10^-decimals (FLOAT) */
    const char *field;
    const char *unit;
} obj_t;

/* Field names follow the gateway's kinds where one exists (temperature,
 * humidity, pressure in hPa, illuminance, voltage, current, power, energy,
 * co2, battery, distance), so the readings land on IPSO objects without a
 * resources entry; the others keep BTHome's name. */
static const obj_t objs[] = {
    {0x00, 1, false, K_INT, 0, "packet_id", NULL},
    {0x01, 1, false, K_INT, 0, "battery", "%"},
    {0x02, 2, true, K_FLOAT, 2, "temperature", "Cel"},
    {0x03, 2, false, K_FLOAT, 2, "humidity", "%RH"},
    {0x04, 3, false, K_FLOAT, 2, "pressure", "hPa"},
    {0x05, 3, false, K_FLOAT, 2, "illuminance", "lx"},
    {0x06, 2, false, K_FLOAT, 2, "mass", "kg"},
    {0x07, 2, false, K_FLOAT, 2, "mass_lb", "lb"},
    {0x08, 2, true, K_FLOAT, 2, "dewpoint", "Cel"},
    {0x09, 1, false, K_INT, 0, "count", NULL},
    {0x0A, 3, false, K_FLOAT, 3, "energy", "kWh"},
    {0x0B, 3, false, K_FLOAT, 2, "power", "W"},
    {0x0C, 2, false, K_FLOAT, 3, "voltage", "V"},
    {0x0D, 2, false, K_INT, 0, "pm2_5", "ug/m3"},
    {0x0E, 2, false, K_INT, 0, "pm10", "ug/m3"},
    {0x0F, 1, false, K_BOOL, 0, "generic_boolean", NULL},
    {0x10, 1, false, K_BOOL, 0, "power_on", NULL},
    {0x11, 1, false, K_BOOL, 0, "opening", NULL},
    {0x12, 2, false, K_INT, 0, "co2", "ppm"},
    {0x13, 2, false, K_INT, 0, "tvoc", "ug/m3"},
    {0x14, 2, false, K_FLOAT, 2, "moisture", "%"},
    {0x15, 1, false, K_BOOL, 0, "battery_low", NULL},
    {0x16, 1, false, K_BOOL, 0, "battery_charging", NULL},
    {0x17, 1, false, K_BOOL, 0, "carbon_monoxide", NULL},
    {0x18, 1, false, K_BOOL, 0, "cold", NULL},
    {0x19, 1, false, K_BOOL, 0, "connectivity", NULL},
    {0x1A, 1, false, K_BOOL, 0, "door", NULL},
    {0x1B, 1, false, K_BOOL, 0, "garage_door", NULL},
    {0x1C, 1, false, K_BOOL, 0, "gas_detected", NULL},
    {0x1D, 1, false, K_BOOL, 0, "heat", NULL},
    {0x1E, 1, false, K_BOOL, 0, "light", NULL},
    {0x1F, 1, false, K_BOOL, 0, "lock", NULL},
    {0x20, 1, false, K_BOOL, 0, "moisture_detected", NULL},
    {0x21, 1, false, K_BOOL, 0, "motion", NULL},
    {0x22, 1, false, K_BOOL, 0, "moving", NULL},
    {0x23, 1, false, K_BOOL, 0, "occupancy", NULL},
    {0x24, 1, false, K_BOOL, 0, "plug", NULL},
    {0x25, 1, false, K_BOOL, 0, "presence", NULL},
    {0x26, 1, false, K_BOOL, 0, "problem", NULL},
    {0x27, 1, false, K_BOOL, 0, "running", NULL},
    {0x28, 1, false, K_BOOL, 0, "safety", NULL},
    {0x29, 1, false, K_BOOL, 0, "smoke", NULL},
    {0x2A, 1, false, K_BOOL, 0, "sound", NULL},
    {0x2B, 1, false, K_BOOL, 0, "tamper", NULL},
    {0x2C, 1, false, K_BOOL, 0, "vibration", NULL},
    {0x2D, 1, false, K_BOOL, 0, "window", NULL},
    {0x2E, 1, false, K_FLOAT, 0, "humidity", "%RH"},
    {0x2F, 1, false, K_FLOAT, 0, "moisture", "%"},
    {0x3A, 1, false, K_INT, 0, "button", NULL},
    {0x3C, 2, false, K_INT, 0, "dimmer", NULL},
    {0x3D, 2, false, K_INT, 0, "count", NULL},
    {0x3E, 4, false, K_INT, 0, "count", NULL},
    {0x3F, 2, true, K_FLOAT, 1, "rotation", "deg"},
    {0x40, 2, false, K_FLOAT, 3, "distance", "m"}, /* mm, as m with 3 decimals */
    {0x41, 2, false, K_FLOAT, 1, "distance", "m"},
    {0x42, 3, false, K_FLOAT, 3, "duration", "s"},
    {0x43, 2, false, K_FLOAT, 3, "current", "A"},
    {0x44, 2, false, K_FLOAT, 2, "speed", "m/s"},
    {0x45, 2, true, K_FLOAT, 1, "temperature", "Cel"},
    {0x46, 1, false, K_FLOAT, 1, "uv_index", NULL},
    {0x47, 2, false, K_FLOAT, 1, "volume", "L"},
    {0x48, 2, false, K_FLOAT, 3, "volume", "L"}, /* mL, as L with 3 decimals */
    {0x49, 2, false, K_FLOAT, 3, "volume_flow_rate", "m3/h"},
    {0x4A, 2, false, K_FLOAT, 1, "voltage", "V"},
    {0x4B, 3, false, K_FLOAT, 3, "gas", "m3"},
    {0x4C, 4, false, K_FLOAT, 3, "gas", "m3"},
    {0x4D, 4, false, K_FLOAT, 3, "energy", "kWh"},
    {0x4E, 4, false, K_FLOAT, 3, "volume", "L"},
    {0x4F, 4, false, K_FLOAT, 3, "water", "L"},
    {0x50, 4, false, K_INT, 0, "timestamp", "s"},
    {0x51, 2, false, K_FLOAT, 3, "acceleration", "m/s2"},
    {0x52, 2, false, K_FLOAT, 3, "gyroscope", "deg/s"},
    {0x53, 0, false, K_SKIP, 0, "text", NULL},
    {0x54, 0, false, K_SKIP, 0, "raw", NULL},
    {0x55, 4, false, K_FLOAT, 3, "volume_storage", "L"},
    {0x56, 2, false, K_INT, 0, "conductivity", "uS/cm"},
    {0x57, 1, true, K_FLOAT, 0, "temperature", "Cel"},
    {0x58, 1, true, K_FLOAT, 2, "temperature", "Cel"}, /* factor 0.35: see scale() */
    {0x59, 1, true, K_INT, 0, "count", NULL},
    {0x5A, 2, true, K_INT, 0, "count", NULL},
    {0x5B, 4, true, K_INT, 0, "count", NULL},
    {0x5C, 4, true, K_FLOAT, 2, "power", "W"},
    {0x5D, 2, true, K_FLOAT, 3, "current", "A"},
    {0x5E, 2, false, K_FLOAT, 2, "direction", "deg"},
    {0x5F, 2, false, K_FLOAT, 1, "precipitation", "mm"},
    {0x60, 1, false, K_INT, 0, "channel", NULL},
    {0xF0, 2, false, K_INT, 0, "device_type_id", NULL},
    {0xF1, 4, false, K_SKIP, 0, "firmware_version", NULL},
    {0xF2, 3, false, K_SKIP, 0, "firmware_version", NULL},
};
#define N_OBJS (sizeof objs / sizeof objs[0])

static const gw_ble_field_decl_t decls[] = {{"battery", "%"}};

static const obj_t *find_obj(uint8_t id, uint8_t *out_slot)
{
    /* objs[] is sorted by id (the unit test checks it): O(log n). */
    size_t lo = 0, hi = N_OBJS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (objs[mid].id == id) {
            *out_slot = (uint8_t)mid;
            return &objs[mid];
        }
        if (objs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int64_t le_value(const uint8_t *p, size_t len, bool is_signed)
{
    uint64_t u = 0;
    for (size_t i = 0; i < len; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (is_signed && len < 8 && (u >> (8 * len - 1)) & 1)
        u |= ~0ull << (8 * len);
    return (int64_t)u;
}

static double scale(const obj_t *o, int64_t raw)
{
    if (o->id == 0x58)
        return raw * 0.35;
    double f = 1;
    for (int i = 0; i < o->decimals; i++)
        f *= 10;
    return (double)raw / f;
}

static int bthome_decode(const uint8_t *p, size_t n, gw_ble_decoded_t *out)
{
    if (!p || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (n < 1)
        return -EBADMSG;
    uint8_t info = p[0];
    if ((info >> 5) != 2)
        return -ENOTSUP; /* BTHome v1 used other UUIDs; other versions unknown */
    if (info & 0x01)
        return -ENOTSUP; /* encrypted */
    size_t i = 1;
    while (i < n) {
        uint8_t slot;
        const obj_t *o = find_obj(p[i], &slot);
        if (!o) {
            out->n = 0;
            return -ENOTSUP;
        }
        i++;
        size_t len = o->len;
        if (len == 0) {
            if (i >= n)
                goto truncated;
            len = p[i++];
        }
        if (len > n - i)
            goto truncated;
        const uint8_t *v = p + i;
        i += len;
        if (o->kind == K_SKIP)
            continue;
        int64_t raw = le_value(v, len, o->is_signed);
        bool ok = true;
        if (o->id == 0x00) {
            out->has_counter = true;
            out->counter = (uint32_t)raw;
        }
        if (o->kind == K_BOOL) {
            if (raw > 1)
                goto bad;
            ok = gw_ble_put_bool(out, slot, o->field, raw != 0);
        } else if (o->kind == K_INT) {
            if (o->id == 0x01 && raw > 100)
                goto bad;
            ok = gw_ble_put_int(out, slot, o->field, o->unit, raw);
        } else {
            ok = gw_ble_put_float(out, slot, o->field, o->unit, scale(o, raw), o->decimals);
        }
        if (!ok)
            goto bad;
    }
    return 0;
truncated:
bad:
    out->n = 0;
    return -EBADMSG;
}

const gw_ble_decoder_t gw_ble_dec_bthome = {
    .name = "bthome",
    .src = GW_BLE_SRC_SVC,
    .id = 0xFCD2,
    .decls = decls,
    .n_decls = sizeof decls / sizeof decls[0],
    .decode = bthome_decode,
};
