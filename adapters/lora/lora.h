/*
 * adapters/lora/lora.h - what the LoRaWAN adapter's files share with each
 * other and with its tests: the configuration (adapters.lora section and a
 * device's part), the adapter's test hooks, and the codec bridge.
 */
#ifndef GW_ADAPTERS_LORA_LORA_H
#define GW_ADAPTERS_LORA_LORA_H

#include <stdint.h>

#include "../adapter.h"
#include "../payload/payload.h"
#include "mac.h"
#include "region.h"

/* adapters.lora = { listen = "0.0.0.0:1700"; region = "EU868"; ... } */
typedef struct lora_section {
    char *listen;             /* "host:port", default 0.0.0.0:1700 */
    const lora_region_t *region;
    char *state_dir;          /* counters, DevNonces, session keys; default
                                 /var/lib/lwm2m-gateway/lora */
    int dedup_ms;             /* window in which copies of one frame are merged, default 200 */
    int flush_ms;             /* counters written at most this late, default 1000 */
    int downlink_timeout_s;   /* a queued write fails -ETIMEDOUT after this, default 600 */
    uint32_t net_id;          /* 24 bits, default 0 */
    int rx1_dr_offset;        /* default 0 */
    bool rx2;                 /* downlinks in RX2 instead of RX1 (rx_window = "rx2") */
    int line;
} lora_section_t;

/* A device's part: ABP (dev_addr, nwk_skey, app_skey) or OTAA (dev_eui,
 * join_eui, app_key). */
typedef struct lora_part {
    bool has_dev_eui, has_join_eui, has_app_key, has_dev_addr, has_nwk, has_app;
    uint64_t dev_eui, join_eui;
    uint8_t app_key[LORA_KEY_LEN];
    uint32_t dev_addr;
    uint8_t nwk_skey[LORA_KEY_LEN], app_skey[LORA_KEY_LEN];
    int absent_after_s;       /* 0: never judged absent */
    bool deregister_absent;   /* absence also takes the client off the servers */
    gw_payload_codec_t *codec; /* NULL: none (FRMPayload not decoded) */
    int line, codec_line;
} lora_part_t;

extern const gw_adapter_conf_ops_t gw_lora_conf_ops;

/* Fill c with the defaults of a missing section (allocates its strings);
 * 0 or -ENOMEM. */
int gw_lora_section_defaults(lora_section_t *c);
/* Fingerprint of a part's LoRaWAN identity (EUIs, DevAddr, keys): a
 * device whose identity is unchanged keeps its session across reloads and
 * restarts. */
uint64_t gw_lora_identity_fingerprint(const lora_part_t *p);

/* Whether a part is an OTAA device (else ABP). */
static inline bool lora_part_otaa(const lora_part_t *p)
{
    return p->has_app_key;
}

/* Counters the adapter keeps, for tests and the log. */
typedef struct lora_counters {
    uint64_t datagrams, bad_datagrams, bad_rxpk, crc_bad, uplinks, duplicates, unknown_devaddr,
        bad_mic, replays, bad_frames, joins, join_rejected, downlinks, tx_ack_errors,
        decode_errors;
} lora_counters_t;

/* For tests: the adapter's counters (NULL a gives zeros). */
lora_counters_t gw_lora_counters(const gw_adapter_t *a);
/* For tests and the bench: handle one datagram as if it came from the
 * socket, from address from (len fromlen). */
void gw_lora_datagram(gw_adapter_t *a, const uint8_t *p, size_t n, const void *from,
                      unsigned fromlen);

#endif
