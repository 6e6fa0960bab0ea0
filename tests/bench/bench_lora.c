/*
 * tests/bench/bench_lora.c - LoRaWAN uplinks per second through the
 * adapter on one core: PUSH_DATA datagrams (one rxpk each, as a forwarder
 * sends them) from 1,000 ABP devices with Cayenne LPP payloads, each parsed
 * (header, JSON, base64), its MIC checked and payload decrypted (two AES
 * passes), its counter checked, the LPP decoded into readings and those
 * stored through the mapping layer (the fields the adapter declares: rssi
 * /4/0/2, snr /4/0/3, temperature_3 /3303/3/5700) into a real store, as the
 * daemon does. Prints
 *   BENCH lora_uplinks_per_s <n> uplinks/s
 * (uplinks turned into store values per second). Datagrams are handed to
 * the adapter's datagram entry point (no socket, no de-duplication window,
 * counters written at the end); every reading must be stored (the mapping
 * layer's count is checked), or the bench fails.
 */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapters/lora/lora.h"
#include "adapters/lora/semtech.h"
#include "gateway/log.h"
#include "mapping/config_internal.h"
#include "mapping/mapping.h"

#define DEVS 1000
#define PER_DEV 50

extern const gw_adapter_ops_t gw_adapter_lora;

static size_t failed;

static int on_reading(void *ctx, const gw_reading_t *r)
{
    int rc = gw_mapping_reading(ctx, r);
    if (rc < 0)
        failed++;
    return rc;
}

typedef struct dgram {
    uint8_t b[400];
    size_t n;
} dgram_t;

static int build(dgram_t *d, const lora_part_t *p, uint32_t fcnt, uint32_t tmst)
{
    uint8_t lpp[4] = {0x03, 0x67, (uint8_t)(fcnt >> 8), (uint8_t)fcnt};
    uint8_t phy[64];
    size_t n = 0;
    phy[n++] = 0x40;
    phy[n++] = (uint8_t)p->dev_addr;
    phy[n++] = (uint8_t)(p->dev_addr >> 8);
    phy[n++] = (uint8_t)(p->dev_addr >> 16);
    phy[n++] = (uint8_t)(p->dev_addr >> 24);
    phy[n++] = 0;
    phy[n++] = (uint8_t)fcnt;
    phy[n++] = (uint8_t)(fcnt >> 8);
    phy[n++] = 1;
    if (lora_payload_crypt(p->app_skey, 0, p->dev_addr, fcnt, lpp, sizeof lpp, phy + n) < 0)
        return -1;
    n += sizeof lpp;
    if (lora_data_mic(p->nwk_skey, 0, p->dev_addr, fcnt, phy, n, phy + n) < 0)
        return -1;
    n += 4;
    char b64[128];
    sem_b64_encode(phy, n, b64, sizeof b64);
    static const uint8_t hdr[12] = {2, 0x12, 0x34, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(d->b, hdr, 12);
    int k = snprintf((char *)d->b + 12, sizeof d->b - 12,
                     "{\"rxpk\":[{\"tmst\":%u,\"chan\":2,\"rfch\":0,\"freq\":868.5,\"stat\":1,"
                     "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"lsnr\":7.2,"
                     "\"rssi\":-61,\"size\":%zu,\"data\":\"%s\"}]}", tmst, n, b64);
    d->n = 12 + (size_t)k;
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/bench-lora-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    config_t cf;
    config_init(&cf);
    if (!config_read_string(&cf, "codec = { type = \"lpp\"; channels = ( { channel = 3; type = "
                                 "\"temperature\"; } ); };"))
        return 1;
    gw_cfg_ctx_t ctx = {.file = "bench"};
    gw_payload_codec_t *codec = NULL;
    gw_payload_parse(&ctx, config_lookup(&cf, "codec"), "codec", &codec);
    gw_config_flush_diags(&ctx);
    config_destroy(&cf);
    if (!codec)
        return 1;
    lora_section_t sec = {0};
    if (gw_lora_section_defaults(&sec) < 0)
        return 1;
    free(sec.state_dir);
    sec.state_dir = dir;
    sec.dedup_ms = 0;
    sec.flush_ms = 600000;
    static lora_part_t parts[DEVS];
    static gw_adapter_device_t devs[DEVS];
    static char keys[DEVS][32];
    for (int i = 0; i < DEVS; i++) {
        lora_part_t *p = &parts[i];
        p->has_dev_addr = p->has_nwk = p->has_app = true;
        p->dev_addr = 0x26000000u + (uint32_t)i * 7919u;
        for (int k = 0; k < 16; k++) {
            p->nwk_skey[k] = (uint8_t)(i * 31 + k);
            p->app_skey[k] = (uint8_t)(i * 17 + k * 3);
        }
        p->codec = codec;
        snprintf(keys[i], sizeof keys[i], "lora:%08x", p->dev_addr);
        devs[i] = (gw_adapter_device_t){.key = keys[i], .endpoint = keys[i], .conf = p};
    }
    /* The daemon's path: a store client per device, its declared fields
     * resolved by the mapping layer. */
    gw_log_set_level(LOG_WARNING);
    gw_registry_t *reg = NULL;
    gw_store_t *st = NULL;
    gw_mapping_t *map = NULL;
    if (gw_registry_new(&reg) < 0 || gw_store_new(reg, &st) < 0 || gw_mapping_new(st, reg, &map) < 0)
        return 1;
    static gw_config_device_t cds[DEVS];
    static gw_sclient_t *cl[DEVS];
    for (int i = 0; i < DEVS; i++) {
        cds[i] = (gw_config_device_t){.endpoint = keys[i], .adapter = "lora"};
        if (gw_lora_conf_ops.declare(&parts[i], &cds[i].decls, &cds[i].n_decls) < 0 ||
            gw_store_client_new(st, NULL, &cl[i]) < 0 ||
            gw_mapping_add_device(map, keys[i], cl[i], &cds[i]) < 0) {
            fprintf(stderr, "bench_lora: cannot add device %d to the mapping\n", i);
            return 1;
        }
    }
    dgram_t *dg = calloc((size_t)DEVS * PER_DEV, sizeof *dg);
    if (!dg)
        return 1;
    for (int f = 0; f < PER_DEV; f++)
        for (int i = 0; i < DEVS; i++)
            if (build(&dg[f * DEVS + i], &parts[i], (uint32_t)f + 1, (uint32_t)(f * DEVS + i)) < 0)
                return 1;
    gw_adapter_env_t env = {.emit = on_reading, .emit_ctx = map};
    gw_adapter_t *a = NULL;
    if (gw_adapter_lora.create(&env, &sec, devs, DEVS, &a) < 0)
        return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t k = 0; k < (size_t)DEVS * PER_DEV; k++)
        gw_lora_datagram(a, dg[k].b, dg[k].n, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    lora_counters_t c = gw_lora_counters(a);
    gw_mapping_stats_t ms;
    gw_mapping_get_stats(map, &ms);
    gw_adapter_lora.destroy(&a);
    free(dg);
    free(sec.listen);
    gw_payload_free(&codec);
    /* rssi, snr and the temperature of every uplink, stored */
    if (c.uplinks != (uint64_t)DEVS * PER_DEV || failed ||
        ms.readings != 3ull * DEVS * PER_DEV) {
        fprintf(stderr, "bench_lora: %llu uplinks accepted, %llu readings stored, %zu refused, "
                "expected %d uplinks\n", (unsigned long long)c.uplinks,
                (unsigned long long)ms.readings, failed, DEVS * PER_DEV);
        return 1;
    }
    gw_mapping_free(&map);
    for (int i = 0; i < DEVS; i++) {
        gw_store_client_free(st, &cl[i]);
        gw_field_decls_free(&cds[i].decls, &cds[i].n_decls);
    }
    gw_store_free(&st);
    gw_registry_free(&reg);
    for (int i = 0; i < DEVS; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%08x.lora", dir, parts[i].dev_addr);
        unlink(path);
    }
    rmdir(dir);
    printf("BENCH lora_uplinks_per_s %.0f uplinks/s\n", DEVS * PER_DEV / s);
    return 0;
}
