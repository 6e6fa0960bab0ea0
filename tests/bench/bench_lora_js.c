/*
 * tests/bench/bench_lora_js.c - decode calls per second through a small JS
 * codec (TTN/ChirpStack decodeUplink: two fields from four bytes), the cost
 * a LoRa uplink with a JavaScript codec adds on the loop thread.
 * Prints "BENCH lora_js_decode_per_s <n> calls/s".
 */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "adapters/payload/payload.h"
#include "mapping/config_internal.h"

#define CALLS 100000

static int emit(void *ctx, const gw_payload_field_t *f)
{
    (void)f;
    (*(size_t *)ctx)++;
    return 0;
}

int main(void)
{
    config_t cf;
    config_init(&cf);
    if (!config_read_string(&cf, "codec = { type = \"js\"; source = \"function decodeUplink(input) "
                                 "{ var b = input.bytes; return { data: { temperature: "
                                 "((b[0] << 8 | b[1]) << 16 >> 16) / 100, humidity: b[2] / 2, "
                                 "battery: b[3] } }; }\"; };"))
        return 1;
    gw_cfg_ctx_t ctx = {.file = "bench"};
    gw_payload_codec_t *c = NULL;
    gw_payload_parse(&ctx, config_lookup(&cf, "codec"), "codec", &c);
    gw_config_flush_diags(&ctx);
    config_destroy(&cf);
    if (!c)
        return 1;
    uint8_t b[4] = {0x09, 0x29, 0x61, 87};
    size_t fields = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < CALLS; i++) {
        b[1] = (uint8_t)i;
        if (gw_payload_decode(c, 1, b, sizeof b, emit, &fields, NULL, 0) < 0)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    gw_payload_free(&c);
    if (fields != 3u * CALLS)
        return 1;
    printf("BENCH lora_js_decode_per_s %.0f calls/s\n", CALLS / s);
    return 0;
}
