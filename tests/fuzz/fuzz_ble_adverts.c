/*
 * tests/fuzz/fuzz_ble_adverts.c - advertisement payloads as any device in
 * range may send them: every decoder (adapters/ble/decoder.h) gets the same
 * bytes, through an exact-size copy so that a read past the end is caught.
 * Decoding must never crash; a refusal leaves no values; every value a
 * decoder yields is of a type and with a field it declares in its header.
 */
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
    free(p);
    return 0;
}
