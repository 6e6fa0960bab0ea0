/*
 * tests/bench/bench_store.c - store throughput and memory per virtual client.
 *
 * 10,000 clients shaped like a typical thermo-hygrometer behind the gateway:
 * /1/0 (6 values), /3/0 (10 values incl. Error Code /3/0/11/0, a unique
 * serial number), /3303/0 and /3304/0 (5700, 5701, 5601, 5602 each).
 *
 *   BENCH store_set_per_s <n> ops/s          sensor updates through gw_store_set
 *   BENCH store_bytes_per_client <n> bytes   mean of gw_store_client_bytes
 *   BENCH store_heap_per_client <n> bytes    malloc'd heap growth / clients
 *                                            (includes the intern table)
 */
#include "lwm2m/store.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_CLIENTS 10000
#define N_UPDATES 4000000

static unsigned long hook_calls;

static void hook(void *ctx, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *value,
                 bool changed)
{
    (void)ctx;
    (void)c;
    (void)path;
    (void)value;
    hook_calls += changed;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set(gw_store_t *s, gw_sclient_t *c, uint16_t o, uint16_t i, uint16_t r, uint16_t ri,
               gw_value_t v)
{
    gw_path_t p = {{o, i, r, ri}, ri == GW_ID_NONE ? 3 : 4};
    return gw_store_set(s, c, &p, &v, 1700000000000LL);
}

static gw_value_t vint(int64_t i)
{
    return (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = i};
}

static gw_value_t vflt(double f)
{
    return (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = f};
}

static gw_value_t vstr(const char *s)
{
    gw_value_t v = {.type = GW_TYPE_STRING};
    v.v.bytes.ptr = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return v;
}

static int fill(gw_store_t *s, gw_sclient_t *c, unsigned serial)
{
    char sn[24];
    snprintf(sn, sizeof(sn), "SN-%08u", serial);
    const uint16_t N = GW_ID_NONE;
    int rc = 0;
    rc |= gw_store_instance_create(s, c, 1, 0);
    rc |= gw_store_instance_create(s, c, 3, 0);
    rc |= gw_store_instance_create(s, c, 3303, 0);
    rc |= gw_store_instance_create(s, c, 3304, 0);
    rc |= set(s, c, 1, 0, 0, N, vint(1));
    rc |= set(s, c, 1, 0, 1, N, vint(300));
    rc |= set(s, c, 1, 0, 2, N, vint(1));
    rc |= set(s, c, 1, 0, 3, N, vint(60));
    rc |= set(s, c, 1, 0, 6, N, (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = false});
    rc |= set(s, c, 1, 0, 7, N, vstr("U"));
    rc |= set(s, c, 3, 0, 0, N, vstr("Acme Sensors"));
    rc |= set(s, c, 3, 0, 1, N, vstr("TH-100"));
    rc |= set(s, c, 3, 0, 2, N, vstr(sn));
    rc |= set(s, c, 3, 0, 3, N, vstr("1.4.2"));
    rc |= set(s, c, 3, 0, 9, N, vint(87));
    rc |= set(s, c, 3, 0, 11, 0, vint(0));
    rc |= set(s, c, 3, 0, 13, N, (gw_value_t){.type = GW_TYPE_TIME, .v.i = 1700000000});
    rc |= set(s, c, 3, 0, 16, N, vstr("U"));
    rc |= set(s, c, 3, 0, 17, N, vstr("thermo-hygrometer"));
    static const uint16_t ipso[] = {3303, 3304};
    for (int i = 0; i < 2; i++) {
        rc |= set(s, c, ipso[i], 0, 5700, N, vflt(20.0 + serial % 10));
        rc |= set(s, c, ipso[i], 0, 5701, N, vstr(i ? "%RH" : "Cel"));
        rc |= set(s, c, ipso[i], 0, 5601, N, vflt(-5));
        rc |= set(s, c, ipso[i], 0, 5602, N, vflt(35));
    }
    return rc;
}

int main(void)
{
    gw_registry_t *reg = NULL;
    gw_store_t *st = NULL;
    gw_sclient_t **cs = calloc(N_CLIENTS, sizeof(*cs));
    int ret = 1;
    if (!cs || gw_registry_new(&reg) < 0 || gw_store_new(reg, &st) < 0) {
        fprintf(stderr, "bench_store: setup failed\n");
        goto out;
    }
    if (gw_store_listen(st, hook, NULL) < 0) {
        fprintf(stderr, "bench_store: cannot add its listener\n");
        goto out;
    }

    struct mallinfo2 m0 = mallinfo2();
    for (unsigned i = 0; i < N_CLIENTS; i++) {
        if (gw_store_client_new(st, NULL, &cs[i]) < 0 || fill(st, cs[i], i) != 0) {
            fprintf(stderr, "bench_store: populating client %u failed\n", i);
            goto out;
        }
    }
    struct mallinfo2 m1 = mallinfo2();
    size_t sum = 0;
    for (unsigned i = 0; i < N_CLIENTS; i++)
        sum += gw_store_client_bytes(cs[i]);

    /* The hot path: sensor readings landing on random clients' IPSO values,
     * two thirds of them changes, a third repeats. */
    uint32_t rnd = 12345;
    double t0 = now_s();
    for (unsigned long k = 0; k < N_UPDATES; k++) {
        rnd = rnd * 1664525u + 1013904223u;
        gw_sclient_t *c = cs[(rnd >> 8) % N_CLIENTS];
        uint16_t oid = (rnd & 1) ? 3304 : 3303;
        double val = 20.0 + (double)((rnd >> 4) % 3);
        if (set(st, c, oid, 0, 5700, GW_ID_NONE, vflt(val)) != 0) {
            fprintf(stderr, "bench_store: set failed\n");
            goto out;
        }
    }
    double dt = now_s() - t0;

    printf("BENCH store_set_per_s %.0f ops/s\n", N_UPDATES / dt);
    printf("BENCH store_bytes_per_client %zu bytes\n", sum / N_CLIENTS);
    printf("BENCH store_heap_per_client %zu bytes\n",
           (m1.uordblks - m0.uordblks) / N_CLIENTS);
    fflush(stdout);
    fprintf(stderr, "bench_store: %lu changed of %d updates\n", hook_calls, N_UPDATES);
    ret = 0;
out:
    if (cs)
        for (unsigned i = 0; i < N_CLIENTS; i++)
            gw_store_client_free(st, &cs[i]);
    free(cs);
    gw_store_free(&st);
    gw_registry_free(&reg);
    return ret;
}
