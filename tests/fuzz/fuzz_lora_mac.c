/*
 * tests/fuzz/fuzz_lora_mac.c - PHYPayloads as any radio in range may send
 * them: the data frame and Join-Request parsers, then the MIC and the
 * decryption over what they found, through an exact-size copy so that a
 * read past the end is caught. A parsed frame's parts must lie inside it.
 */
#include <stdlib.h>
#include <string.h>

#include "adapters/lora/mac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    lora_frame_t f;
    if (lora_frame_parse(p, size, &f) == 0) {
        if (f.msg_len + 4 != size || f.fopts + f.fopts_len > p + size ||
            (f.frm && f.frm + f.frm_len > p + size - 4))
            abort();
        uint8_t mic[4], clear[LORA_MAX_PHY];
        if (size <= LORA_MAX_PHY) {
            lora_data_mic(key, 0, f.devaddr, f.fcnt16, p, f.msg_len, mic);
            if (f.frm_len)
                lora_payload_crypt(key, 0, f.devaddr, f.fcnt16, f.frm, f.frm_len, clear);
        }
    }
    lora_join_req_t jr;
    if (lora_join_req_parse(p, size, &jr) == 0) {
        uint8_t mic[4];
        lora_join_mic(key, p, 19, mic);
    }
    free(p);
    return 0;
}
