/*
 * tests/fuzz/fuzz_lora_udp.c - datagrams as anything on the network may
 * send them to the LoRaWAN adapter's UDP port: the Semtech header, the
 * PUSH_DATA JSON (rxpk, stat), TX_ACK JSON, base64, then the frames inside
 * through the adapter itself (one ABP and one OTAA device, no socket, no
 * de-duplication window). Nothing may crash or leak; counters only grow.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/lora/lora.h"
#include "adapters/lora/semtech.h"
#include "gateway/log.h"

extern const gw_adapter_ops_t gw_adapter_lora;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_reading(void *ctx, const gw_reading_t *r)
{
    (void)ctx;
    if (!r->device_key || !r->field)
        abort();
    return 0;
}

static gw_adapter_t *adapter(void)
{
    static gw_adapter_t *a;
    static lora_section_t sec;
    static lora_part_t abp, otaa;
    static gw_adapter_device_t devs[2];
    static char dir[] = "/tmp/fuzz-lora-XXXXXX";
    if (a)
        return a;
    gw_log_set_level(-1);
    if (!mkdtemp(dir) || gw_lora_section_defaults(&sec) < 0)
        abort();
    free(sec.state_dir);
    sec.state_dir = dir;
    sec.dedup_ms = 0;
    sec.flush_ms = 600000;
    abp.has_dev_addr = abp.has_nwk = abp.has_app = true;
    abp.dev_addr = 0x49BE7DF1;
    lora_hex_parse("44024241ed4ce9a68c6a8bc055233fd3", abp.nwk_skey, 16);
    lora_hex_parse("ec925802ae430ca77fd3dd73cb2cc588", abp.app_skey, 16);
    otaa.has_dev_eui = otaa.has_join_eui = otaa.has_app_key = true;
    otaa.dev_eui = 0x0004A30B001C0530ull;
    otaa.join_eui = 0x70B3D57ED0000001ull;
    lora_hex_parse("B6B53F4A168A7A88BDF7EA135CE9CFCA", otaa.app_key, 16);
    devs[0] = (gw_adapter_device_t){.key = "lora:49be7df1", .endpoint = "abp", .conf = &abp};
    devs[1] = (gw_adapter_device_t){.key = "lora:0004a30b001c0530", .endpoint = "otaa",
                                    .conf = &otaa};
    static gw_adapter_env_t env = {.emit = on_reading};
    if (gw_adapter_lora.create(&env, &sec, devs, 2, &a) < 0)
        abort();
    return a;
}

static void rx(void *ctx, const sem_rxpk_t *pk)
{
    (void)ctx;
    if (pk->size > sizeof pk->data)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    sem_hdr_t h;
    const char *why = NULL;
    if (sem_parse_header(p, size, &h, &why) == 0 && h.json_len) {
        sem_push_cb_t cb = {.rxpk = rx};
        sem_parse_push(h.json, h.json_len, &cb, &why);
        char err[32];
        sem_parse_tx_ack(h.json, h.json_len, err, sizeof err);
    }
    uint8_t out[300];
    sem_b64_decode((const char *)p, size, out, sizeof out);
    gw_lora_datagram(adapter(), p, size, NULL, 0);
    free(p);
    return 0;
}
