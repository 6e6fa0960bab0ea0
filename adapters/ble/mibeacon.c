/*
 * adapters/ble/mibeacon.c - Xiaomi MiBeacon v2 to v5, ServiceData of UUID
 * 0xFE95, little-endian:
 *   0-1 frame control: bit 3 encrypted, bit 4 MAC included, bit 5
 *       capability included, bit 6 objects included, bits 12-15 version |
 *   2-3 product id | 4 frame counter | [6 bytes MAC, reversed] |
 *   [capability, and 2 I/O bytes when its bit 5 is set] | objects: each a
 *   2-byte type, a length byte and that many bytes.
 * Encrypted v4/v5 frames end with a 3-byte extension of the counter and a
 * 4-byte MIC; the objects are AES-128-CCM encrypted with the device's bind
 * key, nonce = MAC as in the frame (reversed) + product id + frame counter
 * + counter extension, associated data the one byte 0x11. Encrypted v2/v3
 * frames use another scheme and are refused (-ENOTSUP), as are encrypted
 * frames given to the plain decoder. An object type the table does not
 * know is skipped (its length is in the frame).
 */
#include <errno.h>
#include <string.h>

#include <mbedtls/ccm.h>

#include "decoder.h"

enum {
    S_TEMP, S_HUM, S_BAT, S_ILLUM, S_MOIST, S_COND, S_FORM, S_POWER, S_CONS, S_LEAK, S_SMOKE,
    S_NOMOTION, S_LIGHT, S_DOOR, S_MOTION
};

#define FC_ENCRYPTED 0x0008
#define FC_MAC 0x0010
#define FC_CAP 0x0020
#define FC_OBJ 0x0040

static unsigned le(const uint8_t *p, size_t n)
{
    unsigned v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* One object; false when its length does not fit its type (a broken
 * frame: the whole frame is refused). */
static bool object(unsigned type, const uint8_t *v, size_t len, gw_ble_decoded_t *out)
{
    switch (type) {
    case 0x1004: /* temperature, sint16 0.1 Cel */
        if (len != 2)
            return false;
        gw_ble_put_float(out, S_TEMP, "temperature", "Cel", (int16_t)le(v, 2) / 10.0, 1);
        return true;
    case 0x1006: /* humidity, uint16 0.1 % */
        if (len != 2 || le(v, 2) > 1000)
            return false;
        gw_ble_put_float(out, S_HUM, "humidity", "%RH", le(v, 2) / 10.0, 1);
        return true;
    case 0x100D: /* temperature and humidity */
        if (len != 4 || le(v + 2, 2) > 1000)
            return false;
        gw_ble_put_float(out, S_TEMP, "temperature", "Cel", (int16_t)le(v, 2) / 10.0, 1);
        gw_ble_put_float(out, S_HUM, "humidity", "%RH", le(v + 2, 2) / 10.0, 1);
        return true;
    case 0x100A: /* battery, uint8 % */
        if (len != 1 || v[0] > 100)
            return false;
        gw_ble_put_int(out, S_BAT, "battery", "%", v[0]);
        return true;
    case 0x1007: /* illuminance, uint24 lx */
        if (len != 3)
            return false;
        gw_ble_put_float(out, S_ILLUM, "illuminance", "lx", le(v, 3), 0);
        return true;
    case 0x1008: /* soil moisture, uint8 % */
        if (len != 1 || v[0] > 100)
            return false;
        gw_ble_put_int(out, S_MOIST, "moisture", "%", v[0]);
        return true;
    case 0x1009: /* soil conductivity, uint16 uS/cm */
        if (len != 2)
            return false;
        gw_ble_put_int(out, S_COND, "conductivity", "uS/cm", le(v, 2));
        return true;
    case 0x1010: /* formaldehyde, uint16 0.01 mg/m3 */
        if (len != 2)
            return false;
        gw_ble_put_float(out, S_FORM, "formaldehyde", "mg/m3", le(v, 2) / 100.0, 2);
        return true;
    case 0x1012: /* power switch */
        if (len != 1)
            return false;
        gw_ble_put_bool(out, S_POWER, "power_on", v[0] != 0);
        return true;
    case 0x1013: /* consumable, uint8 % */
        if (len != 1 || v[0] > 100)
            return false;
        gw_ble_put_int(out, S_CONS, "consumable", "%", v[0]);
        return true;
    case 0x1014: /* water leak */
        if (len != 1)
            return false;
        gw_ble_put_bool(out, S_LEAK, "moisture_detected", v[0] != 0);
        return true;
    case 0x1015: /* smoke */
        if (len != 1)
            return false;
        gw_ble_put_bool(out, S_SMOKE, "smoke", v[0] != 0);
        return true;
    case 0x1017: /* seconds without motion, uint32 */
        if (len != 4)
            return false;
        gw_ble_put_int(out, S_NOMOTION, "no_motion_time", "s", le(v, 4));
        return true;
    case 0x1018: /* light */
        if (len != 1)
            return false;
        gw_ble_put_bool(out, S_LIGHT, "light", v[0] != 0);
        return true;
    case 0x1019: /* door: 0 open, 1 closed, 2 open too long, 3 opened by force */
        if (len != 1 || v[0] > 3)
            return false;
        gw_ble_put_bool(out, S_DOOR, "door", v[0] != 1);
        return true;
    case 0x000F: /* motion, with illuminance uint24 lx */
        if (len != 3)
            return false;
        gw_ble_put_bool(out, S_MOTION, "motion", true);
        gw_ble_put_float(out, S_ILLUM, "illuminance", "lx", le(v, 3), 0);
        return true;
    default:
        return true; /* known length, unknown meaning: skipped */
    }
}

/* The header's length (through MAC and capability) or -EBADMSG. */
static int header(const uint8_t *p, size_t n, unsigned fc, gw_ble_decoded_t *out)
{
    size_t i = 5;
    if (fc & FC_MAC) {
        if (n < i + 6)
            return -EBADMSG;
        if (out) {
            for (int k = 0; k < 6; k++)
                out->mac[k] = p[i + 5 - (size_t)k];
            out->has_mac = true;
        }
        i += 6;
    }
    if (fc & FC_CAP) {
        if (n < i + 1)
            return -EBADMSG;
        i += (p[i] & 0x20) ? 3 : 1;
        if (n < i)
            return -EBADMSG;
    }
    return (int)i;
}

static int mibeacon_decode(const uint8_t *p, size_t n, gw_ble_decoded_t *out)
{
    if (!p || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (n < 5)
        return -EBADMSG;
    unsigned fc = le(p, 2), version = fc >> 12;
    if (version < 2 || version > 5)
        return -ENOTSUP;
    if (fc & FC_ENCRYPTED)
        return -ENOTSUP; /* gw_ble_mibeacon_decrypt first */
    int i = header(p, n, fc, out);
    if (i < 0)
        goto bad;
    out->has_counter = true;
    out->counter = p[4];
    if (!(fc & FC_OBJ))
        return 0; /* a beacon without readings (pairing, presence) */
    for (size_t k = (size_t)i; k < n;) {
        if (n - k < 3 || p[k + 2] > n - k - 3)
            goto bad;
        size_t len = p[k + 2];
        if (!object(le(p + k, 2), p + k + 3, len, out))
            goto bad;
        k += 3 + len;
    }
    return 0;
bad:
    out->n = 0;
    return -EBADMSG;
}

int gw_ble_mibeacon_decrypt(const uint8_t key[16], const uint8_t mac[6], const uint8_t *p,
                            size_t n, uint8_t *out, size_t *out_n, uint32_t *out_counter)
{
    if (!key || !mac || !p || !out || !out_n || !out_counter)
        return -EINVAL;
    if (n < 5 || n > GW_BLE_MIBEACON_MAX_FRAME)
        return -EBADMSG;
    unsigned fc = le(p, 2), version = fc >> 12;
    if (!(fc & FC_ENCRYPTED))
        return -EBADMSG;
    if (version < 4 || version > 5)
        return -ENOTSUP;
    int h = header(p, n, fc, NULL);
    if (h < 0 || n < (size_t)h + 7)
        return -EBADMSG;
    size_t clen = n - (size_t)h - 7;
    const uint8_t *ext = p + h + clen, *mic = ext + 3;
    uint8_t nonce[12];
    if (fc & FC_MAC) {
        memcpy(nonce, p + 5, 6);
    } else {
        for (int k = 0; k < 6; k++)
            nonce[k] = mac[5 - k];
    }
    memcpy(nonce + 6, p + 2, 3); /* product id, frame counter */
    memcpy(nonce + 9, ext, 3);
    static const uint8_t aad = 0x11;
    mbedtls_ccm_context ccm;
    mbedtls_ccm_init(&ccm);
    int rc = mbedtls_ccm_setkey(&ccm, MBEDTLS_CIPHER_ID_AES, key, 128);
    if (rc == 0)
        rc = mbedtls_ccm_auth_decrypt(&ccm, clen, nonce, sizeof nonce, &aad, 1, p + h,
                                      out + h, mic, 4);
    mbedtls_ccm_free(&ccm);
    if (rc != 0) {
        memset(out, 0, n);
        return -EACCES;
    }
    memcpy(out, p, (size_t)h);
    out[0] = (uint8_t)(p[0] & ~FC_ENCRYPTED);
    *out_n = (size_t)h + clen;
    *out_counter = (uint32_t)le(ext, 3) << 8 | p[4];
    return 0;
}

/* Battery is what every MiBeacon sensor reports; the other object types
 * land on their first arrival (a device sends few of them), like BTHome. */
static const gw_ble_field_decl_t decls[] = {{"battery", "%"}};

const gw_ble_decoder_t gw_ble_dec_mibeacon = {
    .name = "mibeacon",
    .src = GW_BLE_SRC_SVC,
    .id = 0xFE95,
    .decls = decls,
    .n_decls = sizeof decls / sizeof decls[0],
    .decode = mibeacon_decode,
};
