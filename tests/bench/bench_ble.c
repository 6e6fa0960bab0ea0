/*
 * tests/bench/bench_ble.c - the BLE adapter's two figures of issue 12:
 *
 *   BENCH ble_adverts_per_s <n> adverts/s
 *     advertisements decoded and mapped per second on one core: 1,000
 *     devices (half BTHome, half Ruuvi RAWv2), each advert handed to the
 *     adapter's advert entry point (what bluez.c calls once a
 *     PropertiesChanged is parsed; no D-Bus), decoded, de-duplicated and its
 *     readings (rssi, temperature, humidity, ...) stored through the mapping
 *     layer into a real store, as the daemon does. Every advert must be
 *     decoded and its readings stored, or the bench fails.
 *
 *   BENCH ble_dbus_signals_per_s <n> signals/s
 *     PropertiesChanged signals of org.bluez.Device1 handled per second by
 *     the adapter on the gateway's loop, sent by a peer process (holding
 *     the name org.bluez) on a private dbus-daemon. D-Bus itself (the
 *     daemon's routing, two socket hops) bounds this figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adapters/ble/ble_internal.h"
#include "gateway/log.h"
#include "mapping/config_internal.h"
#include "mapping/mapping.h"

#define DEVS 1000
#define PER_DEV 500
#define SIGNALS 100000

extern const gw_adapter_ops_t gw_adapter_ble;

static size_t failed;

static int on_reading(void *ctx, const gw_reading_t *r)
{
    int rc = ctx ? gw_mapping_reading(ctx, r) : 0;
    if (rc < 0)
        failed++;
    return rc;
}

static double since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static uint64_t mac_of(int i)
{
    return 0xC0FFEE000000ull + (uint64_t)i;
}

/* BTHome v2: packet id (the advert counter), temperature, humidity. */
static void bthome(uint8_t *b, size_t *n, unsigned k)
{
    uint8_t f[] = {0x40, 0x00, (uint8_t)k,         0x02, (uint8_t)(2000 + k % 100), 0x09,
                   0x03, (uint8_t)(k * 7), 0x13};
    memcpy(b, f, sizeof f);
    *n = sizeof f;
}

/* Ruuvi RAWv2 (the published valid frame) with a changing measurement
 * sequence number and temperature. */
static void ruuvi(uint8_t *b, size_t *n, unsigned k, uint64_t mac)
{
    static const uint8_t base[24] = {0x05, 0x12, 0xFC, 0x53, 0x94, 0xC3, 0x7C, 0x00,
                                     0x04, 0xFF, 0xFC, 0x04, 0x0C, 0xAC, 0x36, 0x42,
                                     0x00, 0xCD, 0xCB, 0xB8, 0x33, 0x4C, 0x88, 0x4F};
    memcpy(b, base, sizeof base);
    b[2] = (uint8_t)(k % 200);
    b[16] = (uint8_t)(k >> 8), b[17] = (uint8_t)k;
    for (int i = 0; i < 6; i++)
        b[18 + i] = (uint8_t)(mac >> (40 - 8 * i));
    *n = sizeof base;
}

static int bench_adverts(void)
{
    gw_log_set_level(LOG_ERR); /* the fields refused once per device */
    static gw_ble_part_t parts[DEVS];
    static gw_adapter_device_t devs[DEVS];
    static char keys[DEVS][32];
    for (int i = 0; i < DEVS; i++) {
        parts[i] = (gw_ble_part_t){.decoder = i % 2 ? "ruuvi" : "bthome",
                                   .absent_after_s = GW_BLE_ABSENT_DEFAULT_S};
        uint64_t m = mac_of(i);
        snprintf(keys[i], sizeof keys[i], "ble:%02X:%02X:%02X:%02X:%02X:%02X",
                 (unsigned)(m >> 40) & 0xFF, (unsigned)(m >> 32) & 0xFF,
                 (unsigned)(m >> 24) & 0xFF, (unsigned)(m >> 16) & 0xFF,
                 (unsigned)(m >> 8) & 0xFF, (unsigned)m & 0xFF);
        devs[i] = (gw_adapter_device_t){.key = keys[i], .endpoint = keys[i], .conf = &parts[i]};
    }
    gw_registry_t *reg = NULL;
    gw_store_t *st = NULL;
    gw_mapping_t *map = NULL;
    if (gw_registry_new(&reg) < 0 || gw_store_new(reg, &st) < 0 || gw_mapping_new(st, reg, &map) < 0)
        return 1;
    static gw_config_device_t cds[DEVS];
    static gw_sclient_t *cl[DEVS];
    for (int i = 0; i < DEVS; i++) {
        cds[i] = (gw_config_device_t){.endpoint = keys[i], .adapter = "ble"};
        if (gw_ble_conf_ops.declare(&parts[i], &cds[i].decls, &cds[i].n_decls) < 0 ||
            gw_store_client_new(st, NULL, &cl[i]) < 0 ||
            gw_mapping_add_device(map, keys[i], cl[i], &cds[i]) < 0) {
            fprintf(stderr, "bench_ble: cannot add device %d to the mapping\n", i);
            return 1;
        }
    }
    /* the frames first, so the timing is the adapter's and the mapping's */
    typedef struct {
        uint8_t b[24];
        size_t n;
    } frame_t;
    frame_t *fr = calloc((size_t)DEVS * PER_DEV, sizeof *fr);
    if (!fr)
        return 1;
    for (int k = 0; k < PER_DEV; k++)
        for (int i = 0; i < DEVS; i++) {
            frame_t *f = &fr[(size_t)k * DEVS + (size_t)i];
            if (i % 2)
                ruuvi(f->b, &f->n, (unsigned)k, mac_of(i));
            else
                bthome(f->b, &f->n, (unsigned)k);
        }
    gw_adapter_env_t env = {.emit = on_reading, .emit_ctx = map};
    gw_adapter_t *a = NULL;
    if (gw_adapter_ble.create(&env, NULL, devs, DEVS, &a) < 0 || gw_adapter_ble.start(a) < 0)
        return 1;
    gw_mapping_stats_t before;
    gw_mapping_get_stats(map, &before);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0; k < PER_DEV; k++)
        for (int i = 0; i < DEVS; i++) {
            const frame_t *f = &fr[(size_t)k * DEVS + (size_t)i];
            ble_advert_t adv = {.has_rssi = true, .rssi = (int16_t)(-40 - k % 50), .n_blobs = 1};
            adv.blobs[0] = (ble_blob_t){.src = i % 2 ? GW_BLE_SRC_MFR : GW_BLE_SRC_SVC,
                                        .id = i % 2 ? 0x0499 : 0xFCD2, .p = f->b, .n = f->n};
            gw_ble_advert(a, mac_of(i), &adv);
        }
    double s = since(&t0);
    gw_mapping_stats_t ms;
    gw_mapping_get_stats(map, &ms);
    uint64_t adverts = 0, errors = 0, dups = 0;
    for (size_t i = 0; i < a->n_devs; i++) {
        adverts += a->devs[i]->adverts;
        errors += a->devs[i]->decode_errors;
        dups += a->devs[i]->duplicates;
    }
    gw_adapter_ble.destroy(&a);
    free(fr);
    /* each advert: rssi, temperature, humidity at least, all stored */
    uint64_t stored = ms.readings - before.readings;
    int rc = 0;
    /* the fields no object takes (packet_id, tx_power, ...) are refused
     * once per device and not emitted again */
    if (adverts != (uint64_t)DEVS * PER_DEV || errors || dups || failed > 4 * DEVS ||
        stored < 3ull * DEVS * PER_DEV) {
        fprintf(stderr, "bench_ble: %llu adverts, %llu refused, %llu duplicates, %llu readings "
                "stored, %zu refused by the mapping, expected %d adverts\n",
                (unsigned long long)adverts, (unsigned long long)errors,
                (unsigned long long)dups, (unsigned long long)stored, failed, DEVS * PER_DEV);
        rc = 1;
    }
    gw_mapping_free(&map);
    for (int i = 0; i < DEVS; i++) {
        gw_store_client_free(st, &cl[i]);
        gw_field_decls_free(&cds[i].decls, &cds[i].n_decls);
    }
    gw_store_free(&st);
    gw_registry_free(&reg);
    if (rc == 0)
        printf("BENCH ble_adverts_per_s %.0f adverts/s\n", DEVS * PER_DEV / s);
    return rc;
}

/* ---- D-Bus signals ----------------------------------------------------- */

#define PEER_DEV "/org/bluez/hci0/dev_C0_FF_EE_00_00_00"

/* The peer: takes org.bluez, answers GetManagedObjects (an empty tree:
 * sd-bus's object manager), then sends SIGNALS PropertiesChanged with an
 * RSSI and a BTHome ServiceData each. */
static int peer(const char *address, int ready_fd)
{
    sd_bus *b = NULL;
    int r = sd_bus_new(&b);
    if (r >= 0)
        r = sd_bus_set_address(b, address);
    if (r >= 0)
        r = sd_bus_set_bus_client(b, 1);
    if (r >= 0)
        r = sd_bus_start(b);
    if (r >= 0)
        r = sd_bus_add_object_manager(b, NULL, "/");
    if (r >= 0)
        r = sd_bus_request_name(b, "org.bluez", 0);
    if (r < 0) {
        fprintf(stderr, "bench_ble: peer: %s\n", strerror(-r));
        return 1;
    }
    char go;
    if (write(ready_fd, "r", 1) != 1 || read(ready_fd, &go, 1) != 1)
        return 1;
    for (unsigned k = 0; k < SIGNALS; k++) {
        sd_bus_message *m = NULL;
        uint8_t f[9];
        size_t n;
        bthome(f, &n, k);
        r = sd_bus_message_new_signal(b, &m, PEER_DEV, "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged");
        if (r >= 0)
            r = sd_bus_message_append(m, "s", "org.bluez.Device1");
        if (r >= 0)
            r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
            r = sd_bus_message_append(m, "{sv}", "RSSI", "n", (int16_t)-50);
        if (r >= 0)
            r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
            r = sd_bus_message_append(m, "s", "ServiceData");
        if (r >= 0)
            r = sd_bus_message_open_container(m, 'v', "a{sv}");
        if (r >= 0)
            r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
            r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
            r = sd_bus_message_append(m, "s", "0000fcd2-0000-1000-8000-00805f9b34fb");
        if (r >= 0)
            r = sd_bus_message_open_container(m, 'v', "ay");
        if (r >= 0)
            r = sd_bus_message_append_array(m, 'y', f, n);
        for (int c = 0; r >= 0 && c < 6; c++)
            r = sd_bus_message_close_container(m);
        if (r >= 0)
            r = sd_bus_message_append(m, "as", 0);
        if (r >= 0)
            r = sd_bus_send(b, m, NULL);
        sd_bus_message_unref(m);
        /* keep the queue short: the daemon takes what it can route */
        if (r >= 0 && k % 64 == 63)
            r = sd_bus_flush(b);
        if (r < 0) {
            fprintf(stderr, "bench_ble: peer: signal %u: %s\n", k, strerror(-r));
            return 1;
        }
    }
    sd_bus_flush(b);
    /* stay on the bus until the parent is done (it kills us) */
    if (read(ready_fd, &go, 1) < 0)
        return 1;
    sd_bus_flush_close_unref(b);
    return 0;
}

static int bench_signals(void)
{
    int out[2];
    if (pipe(out) < 0)
        return 1;
    pid_t daemon = fork();
    if (daemon == 0) {
        dup2(out[1], 1);
        close(out[0]);
        /* its complaint about the fd limit it may not raise is no news */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2);
        execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--print-address=1",
               (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char address[512];
    ssize_t n = read(out[0], address, sizeof address - 1);
    if (n <= 0) {
        fprintf(stderr, "bench_ble: dbus-daemon gave no address\n");
        return 1;
    }
    address[n] = '\0';
    address[strcspn(address, "\n")] = '\0';
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 1;
    pid_t p = fork();
    if (p == 0) {
        close(sv[0]);
        _exit(peer(address, sv[1]));
    }
    close(sv[1]);
    char c;
    if (read(sv[0], &c, 1) != 1)
        return 1;
    gw_loop_t *loop = NULL;
    if (gw_loop_new(&loop) < 0)
        return 1;
    gw_ble_section_t sec = {.controller = "hci0", .bus = address};
    gw_ble_part_t part = {.decoder = "bthome", .absent_after_s = GW_BLE_ABSENT_DEFAULT_S};
    gw_adapter_device_t dev = {.key = "ble:C0:FF:EE:00:00:00", .endpoint = "b", .conf = &part};
    gw_adapter_env_t env = {.loop = loop, .emit = on_reading};
    gw_adapter_t *a = NULL;
    if (gw_adapter_ble.create(&env, &sec, &dev, 1, &a) < 0 || gw_adapter_ble.start(a) < 0)
        return 1;
    /* wait (bounded) until the adapter knows org.bluez's owner: the signals
     * it checks come from that sender */
    for (int i = 0; i < 1000 && !a->owner[0]; i++)
        gw_loop_run_once(loop, 10);
    int rc = 1;
    if (!a->owner[0]) {
        fprintf(stderr, "bench_ble: the adapter did not see org.bluez\n");
        goto out;
    }
    gw_log_set_level(LOG_WARNING);
    uint64_t base = a->n_signals;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (write(sv[0], "g", 1) != 1)
        goto out;
    /* bounded: the signals arrive or the 60 s guard fails the bench */
    while (a->n_signals - base < SIGNALS && since(&t0) < 60)
        gw_loop_run_once(loop, 100);
    double s = since(&t0);
    uint64_t got = a->n_signals - base, adverts = a->devs[0]->adverts;
    if (got < SIGNALS || adverts < SIGNALS) {
        fprintf(stderr, "bench_ble: %llu of %d signals handled (%llu adverts) in %.1f s\n",
                (unsigned long long)got, SIGNALS, (unsigned long long)adverts, s);
        goto out;
    }
    printf("BENCH ble_dbus_signals_per_s %.0f signals/s\n", SIGNALS / s);
    rc = 0;
out:
    gw_adapter_ble.destroy(&a);
    gw_loop_free(&loop);
    kill(p, SIGTERM);
    kill(daemon, SIGTERM);
    waitpid(p, NULL, 0);
    waitpid(daemon, NULL, 0);
    return rc;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int rc = bench_adverts();
    rc |= bench_signals();
    return rc;
}
