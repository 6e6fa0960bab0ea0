/*
 * libFuzzer target for the senml json decoder (lwm2m/senml_json.c): the first byte
 * picks the request path, the rest is the payload; what decodes is encoded
 * again and must decode again.
 */
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(GW_CF_SENML_JSON, data, size, true);
    return 0;
}
