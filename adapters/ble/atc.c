/*
 * adapters/ble/atc.c - Xiaomi LYWSD03MMC thermometers running the custom
 * firmware of ATC1441 or pvvx, advertising on ServiceData UUID 0x181A
 * (Environmental Sensing). The two layouts are told apart by length:
 *   ATC1441, 13 bytes, big-endian: MAC[6] (display order) | temperature
 *     s16 x 0.1 Cel | humidity u8 % | battery u8 % | battery mV u16 |
 *     frame counter u8;
 *   pvvx "custom", 15 bytes, little-endian: MAC[6] (reversed) |
 *     temperature s16 x 0.01 Cel | humidity u16 x 0.01 % | battery mV
 *     u16 | battery u8 % | measurement counter u8 | flags u8.
 * Other lengths (pvvx's encrypted 8/11-byte formats, BTHome on its own
 * UUID) are not these.
 */
#include <errno.h>
#include <string.h>

#include "decoder.h"

enum { S_TEMP, S_HUM, S_BAT, S_BATV, S_CNT };

static const gw_ble_field_decl_t decls[] = {
    {"temperature", "Cel"}, {"humidity", "%RH"}, {"battery", "%"}, {"battery_voltage", "V"},
};

static int atc1441(const uint8_t *p, gw_ble_decoded_t *out)
{
    memcpy(out->mac, p, 6);
    int16_t t = (int16_t)(uint16_t)(p[6] << 8 | p[7]);
    if (p[8] > 100 || p[9] > 100)
        return -EBADMSG;
    gw_ble_put_float(out, S_TEMP, "temperature", "Cel", t / 10.0, 1);
    gw_ble_put_float(out, S_HUM, "humidity", "%RH", p[8], 0);
    gw_ble_put_int(out, S_BAT, "battery", "%", p[9]);
    gw_ble_put_float(out, S_BATV, "battery_voltage", "V", (p[10] << 8 | p[11]) / 1000.0, 3);
    out->counter = p[12];
    return 0;
}

static int pvvx(const uint8_t *p, gw_ble_decoded_t *out)
{
    for (int i = 0; i < 6; i++)
        out->mac[i] = p[5 - i];
    int16_t t = (int16_t)(uint16_t)(p[6] | p[7] << 8);
    uint16_t h = (uint16_t)(p[8] | p[9] << 8);
    if (h > 10000 || p[12] > 100)
        return -EBADMSG;
    gw_ble_put_float(out, S_TEMP, "temperature", "Cel", t / 100.0, 2);
    gw_ble_put_float(out, S_HUM, "humidity", "%RH", h / 100.0, 2);
    gw_ble_put_int(out, S_BAT, "battery", "%", p[12]);
    gw_ble_put_float(out, S_BATV, "battery_voltage", "V", (p[10] | p[11] << 8) / 1000.0, 3);
    out->counter = p[13];
    return 0;
}

static int atc_decode(const uint8_t *p, size_t n, gw_ble_decoded_t *out)
{
    if (!p || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    int rc;
    if (n == 13)
        rc = atc1441(p, out);
    else if (n == 15)
        rc = pvvx(p, out);
    else
        return n == 8 || n == 11 ? -ENOTSUP : -EBADMSG;
    if (rc < 0) {
        out->n = 0;
        return rc;
    }
    gw_ble_put_int(out, S_CNT, "frame_counter", NULL, out->counter);
    out->has_mac = true;
    out->has_counter = true;
    return 0;
}

const gw_ble_decoder_t gw_ble_dec_atc = {
    .name = "atc",
    .src = GW_BLE_SRC_SVC,
    .id = 0x181A,
    .decls = decls,
    .n_decls = sizeof decls / sizeof decls[0],
    .decode = atc_decode,
};
