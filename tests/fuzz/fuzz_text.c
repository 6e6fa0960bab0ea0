/*
 * libFuzzer target for text/plain and opaque (lwm2m/text.c, lwm2m/value.c,
 * lwm2m/base64.c): the top bit of the first byte picks the format, the rest of it
 * the path and resource (and so the type); what decodes is encoded again.
 */
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int cf = (data[0] & 0x80) ? GW_CF_OPAQUE : GW_CF_TEXT;
    fz_run(cf, data, size, true);
    return 0;
}
