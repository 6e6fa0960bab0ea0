/*
 * adapters/ble/ruuvi.c - Ruuvi RAWv2 (data format 5), in ManufacturerData
 * of company 0x0499 (Ruuvi Innovations), 24 bytes, big-endian:
 *   0 format (5) | 1-2 temperature s16 x 0.005 Cel | 3-4 humidity u16
 *   x 0.0025 % | 5-6 pressure u16 + 50000 Pa | 7-12 acceleration x, y, z
 *   s16 mG | 13-14 power: 11 bits battery mV above 1600, 5 bits tx power
 *   -40 + 2n dBm | 15 movement counter u8 | 16-17 sequence u16 | 18-23 MAC.
 * Each quantity has a "not available" code (0x8000 signed, all ones
 * unsigned): such a value is left out of the reading set, never published
 * as a number (ruuvi docs, data format 5).
 */
#include <errno.h>
#include <string.h>

#include "decoder.h"

enum { S_TEMP, S_HUM, S_PRES, S_AX, S_AY, S_AZ, S_BATV, S_TX, S_MOVE, S_SEQ };

static const gw_ble_field_decl_t decls[] = {
    {"temperature", "Cel"}, {"humidity", "%RH"}, {"pressure", "hPa"},
    {"acceleration_x", "G"}, {"acceleration_y", "G"}, {"acceleration_z", "G"},
    {"battery_voltage", "V"},
};

static int16_t s16(const uint8_t *p)
{
    return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static int ruuvi_decode(const uint8_t *p, size_t n, gw_ble_decoded_t *out)
{
    if (!p || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (n < 1)
        return -EBADMSG;
    if (p[0] != 5)
        return -ENOTSUP; /* formats 3 (RAWv1), 8 (encrypted), C5, E1 */
    if (n < 24)
        return -EBADMSG;
    int16_t t = s16(p + 1);
    if (t != INT16_MIN)
        gw_ble_put_float(out, S_TEMP, "temperature", "Cel", t * 0.005, 3);
    uint16_t h = u16(p + 3);
    /* The format's range reaches 163.835 % and its published maximum
     * vector uses it: reported as sent (the mapping may clamp). */
    if (h != 0xFFFF)
        gw_ble_put_float(out, S_HUM, "humidity", "%RH", h * 0.0025, 4);
    uint16_t pr = u16(p + 5);
    if (pr != 0xFFFF)
        /* in hPa, the unit of the default map: a conversion by the
         * mapping would cost a decimal rounding per advert */
        gw_ble_put_float(out, S_PRES, "pressure", "hPa", ((int64_t)pr + 50000) / 100.0, 2);
    static const char *const axes[] = {"acceleration_x", "acceleration_y", "acceleration_z"};
    for (int i = 0; i < 3; i++) {
        int16_t a = s16(p + 7 + 2 * i);
        if (a != INT16_MIN)
            gw_ble_put_float(out, (uint8_t)(S_AX + i), axes[i], "G", a / 1000.0, 3);
    }
    uint16_t pw = u16(p + 13);
    if ((pw >> 5) != 0x7FF)
        gw_ble_put_float(out, S_BATV, "battery_voltage", "V", ((pw >> 5) + 1600) / 1000.0, 3);
    if ((pw & 0x1F) != 0x1F)
        gw_ble_put_int(out, S_TX, "tx_power", "dBm", -40 + 2 * (pw & 0x1F));
    if (p[15] != 0xFF)
        gw_ble_put_int(out, S_MOVE, "movement_counter", NULL, p[15]);
    uint16_t seq = u16(p + 16);
    if (seq != 0xFFFF) {
        gw_ble_put_int(out, S_SEQ, "measurement_sequence", NULL, seq);
        out->has_counter = true;
        out->counter = seq;
    }
    static const uint8_t no_mac[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    if (memcmp(p + 18, no_mac, 6) != 0) {
        memcpy(out->mac, p + 18, 6);
        out->has_mac = true;
    }
    return 0;
}

const gw_ble_decoder_t gw_ble_dec_ruuvi = {
    .name = "ruuvi",
    .src = GW_BLE_SRC_MFR,
    .id = 0x0499,
    .decls = decls,
    .n_decls = sizeof decls / sizeof decls[0],
    .decode = ruuvi_decode,
};
