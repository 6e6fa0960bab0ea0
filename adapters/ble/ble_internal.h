/*
 * adapters/ble/ble_internal.h - the BLE adapter's state, shared by its
 * files: ble.c (devices, readings, absence, reload), bluez.c (the D-Bus
 * side: BlueZ's objects, discovery, signals).
 */
#ifndef GW_ADAPTERS_BLE_BLE_INTERNAL_H
#define GW_ADAPTERS_BLE_BLE_INTERNAL_H

#include <systemd/sd-bus.h>

#include "ble.h"

typedef struct ble_dev {
    gw_adapter_t *a;
    char *key;                    /* "ble:<address>", owned */
    const gw_ble_part_t *conf;    /* borrowed from the gateway */
    const gw_ble_decoder_t *dec;  /* NULL: any decoder */
    uint64_t mac;                 /* configured address, when it is a MAC */
    bool has_mac;
    uint64_t bound;               /* address found by match_name or identity, 0: none */
    int64_t last_seen_ms;         /* monotonic; start time before the first advert */
    bool absent;
    gw_timer_t absent_timer;
    /* counters, kept across reload */
    uint64_t adverts, decode_errors, duplicates;
    bool has_last_counter;
    uint32_t last_counter;
    const gw_ble_decoder_t *last_dec;
    /* slots the mapping refused (no object for the field): not emitted again */
    uint8_t refused[GW_BLE_SLOTS / 8];
    bool rssi_refused;
} ble_dev_t;

/* One advert's data as a D-Bus message carries it; pointers borrow from
 * the message. */
#define BLE_MAX_BLOBS 8
typedef struct ble_blob {
    gw_ble_src_t src;
    uint16_t id;
    const uint8_t *p;
    size_t n;
} ble_blob_t;

typedef struct ble_advert {
    bool has_rssi;
    int16_t rssi;
    const char *name;
    ble_blob_t blobs[BLE_MAX_BLOBS];
    size_t n_blobs;
} ble_advert_t;

struct gw_adapter {
    gw_adapter_env_t env;
    const gw_ble_section_t *sec;
    ble_dev_t **devs;
    size_t n_devs;
    /* address -> device: open addressing, keys mac+1 (0 = empty), no
     * allocation per lookup */
    uint64_t *hkeys;
    ble_dev_t **hvals;
    size_t hcap, hused;
    size_t n_matchers; /* devices found by name or payload MAC */
    bool started;
    /* D-Bus */
    sd_bus *bus;
    int fd;
    uint32_t fd_events;
    bool hook_added;
    bool more;             /* sd_bus_process left work for the next round */
    char ctl_path[32];     /* "/org/bluez/hci0" */
    char owner[128];       /* unique name of org.bluez, "" while it is away */
    bool ctl_present, powered, discovering, starting_discovery;
    gw_timer_t retry_timer; /* reconnect the bus or restart discovery */
    int64_t retry_delay_ms;
    uint64_t n_signals, n_unknown, n_discovery_starts;
};

/* ble.c */
ble_dev_t *gw_ble_lookup(gw_adapter_t *a, uint64_t mac);
/* An advert's properties for the device object at path (mac parsed from
 * it): finds the device (binding one configured by name or payload MAC
 * when needed), decodes and emits. */
void gw_ble_advert(gw_adapter_t *a, uint64_t mac, const ble_advert_t *adv);

/* bluez.c */
int gw_ble_bus_start(gw_adapter_t *a);
void gw_ble_bus_stop(gw_adapter_t *a);
/* Parse a Device1 property dictionary a{sv} at the message's read
 * position into *adv. 0 or a negative errno from sd-bus. */
int gw_ble_parse_device_props(sd_bus_message *m, ble_advert_t *adv);

#endif
