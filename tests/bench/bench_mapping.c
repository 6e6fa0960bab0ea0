/*
 * tests/bench/bench_mapping.c - the mapping hot path: readings pushed
 * round-robin into 10,000 configured devices (temperature + humidity, with
 * scale/offset) of a real store. Prints
 *   BENCH mapping_readings_per_s <n> readings/s
 * Every reading is checked (a failing one aborts the bench): the number is
 * for readings really stored, with their 5601/5602/5518 housekeeping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/log.h"
#include "mapping/mapping.h"

enum { N_DEVICES = 10000, N_READINGS = 5000000 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    gw_registry_t *reg = NULL;
    gw_store_t *st = NULL;
    gw_mapping_t *map = NULL;
    gw_log_set_level(LOG_WARNING);
    if (gw_registry_new(&reg) < 0 || gw_store_new(reg, &st) < 0 || gw_mapping_new(st, reg, &map) < 0) {
        fprintf(stderr, "bench_mapping: setup failed\n");
        return 1;
    }
    gw_config_field_t fields[2] = {
        {.field = "temperature", .scale = 0.1, .offset = -40, .line = 1},
        {.field = "humidity", .scale = 0.5, .offset = 0, .line = 2},
    };
    gw_config_device_t dev = {.endpoint = "x", .adapter = "simulated", .fields = fields,
                              .n_fields = 2};
    gw_sclient_t **cl = calloc(N_DEVICES, sizeof(*cl));
    char (*keys)[32] = calloc(N_DEVICES, sizeof(*keys));
    if (!cl || !keys)
        return 1;
    for (int i = 0; i < N_DEVICES; i++) {
        snprintf(keys[i], sizeof keys[i], "simulated:sensor-%05d", i);
        if (gw_store_client_new(st, NULL, &cl[i]) < 0 ||
            gw_mapping_add_device(map, keys[i], cl[i], &dev) < 0) {
            fprintf(stderr, "bench_mapping: cannot add device %d\n", i);
            return 1;
        }
    }
    static const char *names[2] = {"temperature", "humidity"};
    gw_reading_t r = {.value = {.type = GW_TYPE_FLOAT}, .ts_ms = 1700000000000};
    double t0 = now_s();
    for (long i = 0; i < N_READINGS; i++) {
        r.device_key = keys[i % N_DEVICES];
        r.field = names[(i / N_DEVICES) & 1];
        r.value.v.f = (double)(500 + (i * 7) % 200);
        r.ts_ms++;
        if (gw_mapping_reading(map, &r) < 0) {
            fprintf(stderr, "bench_mapping: reading %ld failed\n", i);
            return 1;
        }
    }
    double dt = now_s() - t0;
    gw_mapping_stats_t s;
    gw_mapping_get_stats(map, &s);
    if (s.readings != N_READINGS) {
        fprintf(stderr, "bench_mapping: %llu readings stored, expected %d\n",
                (unsigned long long)s.readings, N_READINGS);
        return 1;
    }
    printf("BENCH mapping_readings_per_s %.0f readings/s\n", N_READINGS / dt);
    gw_mapping_free(&map);
    for (int i = 0; i < N_DEVICES; i++)
        gw_store_client_free(st, &cl[i]);
    free(cl);
    free(keys);
    gw_store_free(&st);
    gw_registry_free(&reg);
    return 0;
}
