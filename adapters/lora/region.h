/*
 * adapters/lora/region.h - LoRaWAN regional parameters the adapter needs
 * (LoRaWAN Regional Parameters RP002-1.0.x: EU868 section 2.1, US915 2.2):
 * data rates, RX1 data rate and frequency from the uplink's, RX2 defaults,
 * receive delays. One table entry per region: a new region is a new entry
 * in region.c and nothing else.
 */
#ifndef GW_ADAPTERS_LORA_REGION_H
#define GW_ADAPTERS_LORA_REGION_H

#include <stddef.h>

#define LORA_MAX_DR 16

/* A grid of uplink channels: channel index first + k is at base + k*step
 * MHz, k < count. */
typedef struct lora_grid {
    double base_mhz, step_mhz;
    int count, first;
} lora_grid_t;

typedef struct lora_region {
    const char *name;                 /* "EU868", as configured */
    const char *dr[LORA_MAX_DR];      /* datr of each data rate, NULL: none */
    int rx1_dr[LORA_MAX_DR][8];       /* [uplink DR][RX1DROffset]: downlink DR, -1: none */
    /* RX1 frequency: the uplink's own (rx1_channels 0), or rx1_base +
     * rx1_step * (uplink channel % rx1_channels) with the uplink channel
     * found on up_grid[]. */
    lora_grid_t up_grid[2];
    double rx1_base_mhz, rx1_step_mhz;
    int rx1_channels;
    double rx2_mhz;
    int rx2_dr;
    int tx_power_dbm;                 /* downlink power the forwarder is asked for */
    int receive_delay1_s, join_accept_delay1_s;
} lora_region_t;

/* The region called name (case-insensitive), NULL when unknown. */
const lora_region_t *lora_region_find(const char *name);
/* Names for messages: "EU868, US915". */
const char *lora_region_names(void);

/* The data rate of an uplink's datr ("SF7BW125") among DRs up to 7 in
 * this region; -1 when the region has no such uplink data rate. */
int lora_region_up_dr(const lora_region_t *r, const char *datr);

/* RX1 of an uplink heard at up_mhz with datr: *freq (MHz) and *datr_out.
 * 0, or -EINVAL when the uplink's data rate or frequency does not belong
 * to the region. */
int lora_region_rx1(const lora_region_t *r, double up_mhz, const char *datr, int dr_offset,
                    double *freq, const char **datr_out);

/* The demodulation floor of a datr's spreading factor (dB SNR: SF7 -7.5 ..
 * SF12 -20), for LinkCheckAns's margin. */
double lora_required_snr(const char *datr);

#endif
