/*
 * adapters/lora/region.c - the regional parameters table (region.h).
 * Facts from LoRaWAN Regional Parameters RP002-1.0.x.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "region.h"

static const lora_region_t regions[] = {
    {
        .name = "EU868",
        .dr = {"SF12BW125", "SF11BW125", "SF10BW125", "SF9BW125", "SF8BW125", "SF7BW125",
               "SF7BW250"},
        .rx1_dr = {{0, 0, 0, 0, 0, 0, -1, -1},
                   {1, 0, 0, 0, 0, 0, -1, -1},
                   {2, 1, 0, 0, 0, 0, -1, -1},
                   {3, 2, 1, 0, 0, 0, -1, -1},
                   {4, 3, 2, 1, 0, 0, -1, -1},
                   {5, 4, 3, 2, 1, 0, -1, -1},
                   {6, 5, 4, 3, 2, 1, -1, -1}},
        .rx1_channels = 0,
        .rx2_mhz = 869.525,
        .rx2_dr = 0,
        .tx_power_dbm = 14,
        .receive_delay1_s = 1,
        .join_accept_delay1_s = 5,
    },
    {
        .name = "US915",
        .dr = {"SF10BW125", "SF9BW125", "SF8BW125", "SF7BW125", "SF8BW500", NULL, NULL, NULL,
               "SF12BW500", "SF11BW500", "SF10BW500", "SF9BW500", "SF8BW500", "SF7BW500"},
        .rx1_dr = {{10, 9, 8, 8, -1, -1, -1, -1},
                   {11, 10, 9, 8, -1, -1, -1, -1},
                   {12, 11, 10, 9, -1, -1, -1, -1},
                   {13, 12, 11, 10, -1, -1, -1, -1},
                   {13, 13, 12, 11, -1, -1, -1, -1}},
        .up_grid = {{902.3, 0.2, 64, 0}, {903.0, 1.6, 8, 64}},
        .rx1_base_mhz = 923.3,
        .rx1_step_mhz = 0.6,
        .rx1_channels = 8,
        .rx2_mhz = 923.3,
        .rx2_dr = 8,
        .tx_power_dbm = 20,
        .receive_delay1_s = 1,
        .join_accept_delay1_s = 5,
    },
};

#define N_REGIONS (sizeof regions / sizeof regions[0])

const lora_region_t *lora_region_find(const char *name)
{
    for (size_t i = 0; name && i < N_REGIONS; i++)
        if (strcasecmp(regions[i].name, name) == 0)
            return &regions[i];
    return NULL;
}

const char *lora_region_names(void)
{
    return "EU868, US915";
}

int lora_region_up_dr(const lora_region_t *r, const char *datr)
{
    /* Uplink data rates are DR0..7; US915's DR8+ are downlink only (and
     * SF8BW500 is both its DR4 and DR12). */
    for (int i = 0; r && datr && i < 8; i++)
        if (r->dr[i] && strcmp(r->dr[i], datr) == 0)
            return i;
    return -1;
}

int lora_region_rx1(const lora_region_t *r, double up_mhz, const char *datr, int dr_offset,
                    double *freq, const char **datr_out)
{
    int up = lora_region_up_dr(r, datr);
    if (up < 0 || dr_offset < 0 || dr_offset > 7)
        return -EINVAL;
    int down = r->rx1_dr[up][dr_offset];
    if (down < 0 || down >= LORA_MAX_DR || !r->dr[down])
        return -EINVAL;
    if (r->rx1_channels == 0) {
        *freq = up_mhz;
    } else {
        int ch = -1;
        for (int g = 0; g < 2 && ch < 0; g++) {
            const lora_grid_t *gr = &r->up_grid[g];
            if (!gr->count)
                continue;
            double k = round((up_mhz - gr->base_mhz) / gr->step_mhz);
            if (k >= 0 && k < gr->count && fabs(gr->base_mhz + k * gr->step_mhz - up_mhz) < 0.01)
                ch = gr->first + (int)k;
        }
        if (ch < 0)
            return -EINVAL;
        *freq = r->rx1_base_mhz + r->rx1_step_mhz * (ch % r->rx1_channels);
    }
    *datr_out = r->dr[down];
    return 0;
}

double lora_required_snr(const char *datr)
{
    int sf = datr && strncmp(datr, "SF", 2) == 0 ? atoi(datr + 2) : 0;
    return sf >= 7 && sf <= 12 ? -7.5 - 2.5 * (sf - 7) : -7.5;
}
