/*
 * tests/fuzz/fuzz_ble_adverts.c - advertisement payloads as any device in
 * range may send them: every decoder (adapters/ble/decoder.h) gets the same
 * bytes, through an exact-size copy so that a read past the end is caught.
 * Decoding must never crash; a refusal leaves no values; every value a
 * decoder yields is of a type and with a field it declares in its header.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/ble/decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    for (size_t k = 0; gw_ble_decoders[k]; k++) {
        gw_ble_decoded_t out;
        int rc = gw_ble_decoders[k]->decode(p, size, &out);
        if (rc < 0 && out.n != 0)
            abort();
        if (out.n > GW_BLE_MAX_VALS)
            abort();
        for (size_t i = 0; i < out.n; i++) {
            const gw_ble_val_t *v = &out.v[i];
            if (!v->field || v->slot >= GW_BLE_SLOTS)
                abort();
            if (v->value.type != GW_TYPE_FLOAT && v->value.type != GW_TYPE_INTEGER &&
                v->value.type != GW_TYPE_BOOLEAN)
                abort();
        }
    }
    /* the encrypted BTHome and MiBeacon paths: a frame that does not authenticate (any
     * fuzz input, almost surely) is refused without reading past its end */
    static const uint8_t key[16] = {0x23, 0x1d, 0x39, 0xc1, 0xd7, 0xcc, 0x1a, 0xb1,
                                    0xae, 0xe2, 0x24, 0xcd, 0x09, 0x6d, 0xb9, 0x32};
    static const uint8_t mac[6] = {0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5};
    uint8_t plain[GW_BLE_BTHOME_MAX_FRAME];
    size_t pn = 0;
    uint32_t ctr;
    int rc = gw_ble_bthome_decrypt(key, mac, p, size, plain, &pn, &ctr);
    if (rc == 0) {
        gw_ble_decoded_t out;
        if (pn >= size || gw_ble_dec_bthome.decode(plain, pn, &out) > 0)
            abort();
    } else if (rc != -EBADMSG && rc != -EACCES) {
        abort();
    }
    rc = gw_ble_mibeacon_decrypt(key, mac, p, size, plain, &pn, &ctr);
    if (rc == 0) {
        gw_ble_decoded_t out;
        if (pn >= size || gw_ble_dec_mibeacon.decode(plain, pn, &out) > 0)
            abort();
    } else if (rc != -EBADMSG && rc != -EACCES && rc != -ENOTSUP) {
        abort();
    }
    free(p);
    return 0;
}
