/*
 * adapters/ble/bthome_crypt.c - encrypted BTHome v2 frames (bthome.io,
 * "Encryption"): after the device-information byte (bit 0 set) come the
 * objects encrypted with AES-128-CCM, then the 4-byte counter and the
 * 4-byte MIC. The 13-byte nonce is the device's MAC (display order), the
 * UUID 0xFCD2 little-endian (D2 FC), the device-information byte and the
 * counter bytes as sent; there is no associated data.
 */
#include <errno.h>
#include <string.h>

#include <mbedtls/ccm.h>

#include "decoder.h"

int gw_ble_bthome_decrypt(const uint8_t key[16], const uint8_t mac[6], const uint8_t *p, size_t n,
                          uint8_t *out, size_t *out_n, uint32_t *out_counter)
{
    if (!key || !mac || !p || !out || !out_n || !out_counter)
        return -EINVAL;
    if (n < 1 + 8 || !(p[0] & 0x01))
        return -EBADMSG;
    if (n > GW_BLE_BTHOME_MAX_FRAME)
        return -EBADMSG;
    size_t clen = n - 1 - 8;
    const uint8_t *ctr = p + 1 + clen, *mic = ctr + 4;
    uint8_t nonce[13];
    memcpy(nonce, mac, 6);
    nonce[6] = 0xD2, nonce[7] = 0xFC;
    nonce[8] = p[0];
    memcpy(nonce + 9, ctr, 4);
    mbedtls_ccm_context ccm;
    mbedtls_ccm_init(&ccm);
    int rc = mbedtls_ccm_setkey(&ccm, MBEDTLS_CIPHER_ID_AES, key, 128);
    if (rc == 0)
        rc = mbedtls_ccm_auth_decrypt(&ccm, clen, nonce, sizeof nonce, NULL, 0, p + 1, out + 1,
                                      mic, 4);
    mbedtls_ccm_free(&ccm);
    if (rc != 0) {
        memset(out, 0, n);
        return -EACCES; /* the MIC does not verify: another key, or a forged frame */
    }
    out[0] = (uint8_t)(p[0] & ~0x01);
    *out_n = 1 + clen;
    *out_counter = (uint32_t)ctr[0] | (uint32_t)ctr[1] << 8 | (uint32_t)ctr[2] << 16 |
                   (uint32_t)ctr[3] << 24;
    return 0;
}
