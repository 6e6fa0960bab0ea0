/*
 * libFuzzer target for the offline readings file parser (lwm2m/offline.c):
 * whatever parses is encoded again and must give the same bytes back.
 */
#include <stdlib.h>
#include <string.h>

#include "lwm2m/offline.h"

static int reencode(void *ctx, const gw_path_t *path, const gw_value_t *v, int64_t ts_ms)
{
    if (gw_offline_encode(path, v, ts_ms, ctx) != 0)
        abort(); /* every parsed reading must be encodable */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_buf_t out = {0};
    char err[128];
    size_t good = 0;
    uint16_t ssid = 0;
    /* The header as parsed: version 1 (no server id) or 2. */
    if (size >= GW_OFFLINE_HEADER_LEN && memcmp(data, GW_OFFLINE_MAGIC, sizeof GW_OFFLINE_MAGIC - 1) == 0)
        gw_offline_encode_header((uint16_t)(data[8] << 8 | data[9]), &out);
    else
        gw_buf_append(&out, GW_OFFLINE_MAGIC_V1, sizeof GW_OFFLINE_MAGIC_V1 - 1);
    int rc = gw_offline_parse(data, size, &ssid, reencode, &out, &good, err, sizeof err);
    if (rc == 0 && ssid && ssid != (uint16_t)(data[8] << 8 | data[9]))
        abort();
    /* Floats are copied bit for bit, so a good file is its own encoding
     * and a bad one starts with the encoding of its good readings. */
    if (rc == 0 && (out.len != size || memcmp(out.data, data, size) != 0))
        abort();
    if (rc != 0 && good > 0 && (out.len > size || memcmp(out.data, data, out.len) != 0))
        abort();
    gw_buf_free(&out);
    return 0;
}
