/*
 * adapters/ble/ble_internal.h - the BLE adapter's state, shared by its
 * files: ble.c (devices, readings, absence, reload), bluez.c (the D-Bus
 * side: BlueZ's objects, discovery, signals).
 */
#ifndef GW_ADAPTERS_BLE_BLE_INTERNAL_H
#define GW_ADAPTERS_BLE_BLE_INTERNAL_H

#include <systemd/sd-bus.h>

#include "ble.h"

/* A GATT write waiting for the connection or for BlueZ's answer. */
typedef struct ble_write {
    struct ble_write *next;
    size_t ch;                 /* index in conf->chars */
    uint8_t bytes[GW_PAYLOAD_MAX_BYTES];
    size_t len;
    gw_write_done_fn done;
    void *done_ctx;
    sd_bus_slot *slot;         /* WriteValue under way, NULL while queued */
    struct ble_dev *d;
} ble_write_t;

typedef enum {
    G_IDLE = 0,   /* not connected; the timer brings the next cycle or attempt */
    G_QUEUED,     /* waiting for the controller's one connection attempt */
    G_CONNECTING, /* Device1.Connect under way */
    G_FINDING,    /* connected: waiting for ServicesResolved, then the characteristics */
    G_READY,      /* characteristics found: reads, notifications, writes */
} ble_gatt_state_t;

typedef struct ble_gatt_char {
    struct ble_dev *d;
    size_t i;             /* index in conf->chars */
    char *path;           /* its GattCharacteristic1 object, NULL: not found */
    sd_bus_slot *slot;    /* ReadValue or StartNotify under way */
} ble_gatt_char_t;

typedef struct ble_gatt {
    ble_gatt_state_t state;
    ble_gatt_char_t *ch;  /* conf->n_chars of them */
    sd_bus_slot *slot;    /* Connect or GetManagedObjects under way */
    gw_timer_t timer;     /* next cycle, back-off, or the resolve deadline */
    int64_t backoff_ms;
    int64_t next_cycle_ms;
    bool resolved;        /* Device1.ServicesResolved as last seen */
    size_t reads_left;    /* ReadValue calls of this cycle still under way */
    uint64_t notifying_done; /* bit i: StartNotify sent on chars[i] this connection */
    ble_write_t *writes;  /* queued and under way, oldest first */
    uint64_t connects, connect_failures, reads, read_errors, notifications, writes_done;
} ble_gatt_t;

typedef struct gw_ble_scan gw_ble_scan_t;

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
    uint64_t adverts, decode_errors, duplicates, codec_errors;
    bool has_last_counter;
    uint32_t last_counter;
    const gw_ble_decoder_t *last_dec;
    /* slots the mapping refused (no object for the field): not emitted again */
    uint8_t refused[GW_BLE_SLOTS / 8];
    bool rssi_refused;
    /* encrypted BTHome: the last accepted counter (replays are below or
     * equal), frames refused for their MIC or counter */
    bool has_codec_hash;          /* the last advert the codec read (repeats skipped) */
    uint64_t codec_hash;
    bool has_enc_counter;
    uint32_t enc_counter;
    uint64_t bad_mic, replays;
    ble_gatt_t g;                 /* used when conf->n_chars */
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
    bool has_connected, connected, has_resolved, resolved;
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
    ble_dev_t *connecting; /* the controller's one connection attempt, NULL: none */
    bool gatt_resetting;   /* gw_ble_gatt_reset_all under way */
    size_t connect_next;   /* where try_connect looks first (round robin) */
    gw_ble_scan_t *scan;   /* --scan-ble: every device heard is listed, borrowed */
};

/* ble.c */
ble_dev_t *gw_ble_lookup(gw_adapter_t *a, uint64_t mac);
/* An advert's properties for the device object at path (mac parsed from
 * it): finds the device (binding one configured by name or payload MAC
 * when needed), decodes and emits. */
void gw_ble_advert(gw_adapter_t *a, uint64_t mac, const ble_advert_t *adv);

/* ble.c: a reading of device d (a GATT value); decimals < 0: none given.
 * 0 or what emit returned. */
int gw_ble_emit(ble_dev_t *d, const char *field, gw_value_t v, const char *unit, int decimals);

/* ble.c: the device answered (an advert, a GATT value): not absent, its
 * absence timer counts from now. */
void gw_ble_heard(ble_dev_t *d);

/* gatt.c */
void gw_ble_gatt_init(ble_dev_t *d);
/* Start the device's cycle (its first connection attempt): at start and
 * when a reload adds it. */
void gw_ble_gatt_start(ble_dev_t *d);
/* Drop the connection state (calls under way cancelled, the connection
 * left to BlueZ); queued writes complete with err. */
void gw_ble_gatt_stop(ble_dev_t *d, int err);
/* Device1 Connected/ServicesResolved of a configured device. */
void gw_ble_gatt_device_props(ble_dev_t *d, const ble_advert_t *adv);
/* PropertiesChanged of a GattCharacteristic1 at path (m at its a{sv}). */
void gw_ble_gatt_char_props(gw_adapter_t *a, const char *path, sd_bus_message *m);
/* bluetoothd or the controller came back: every GATT device starts its
 * cycle again, queued devices may connect. */
void gw_ble_gatt_kick(gw_adapter_t *a);
/* bluetoothd, the controller or the bus went away: every connection state
 * is dropped, writes under way complete with err. */
void gw_ble_gatt_reset_all(gw_adapter_t *a, int err);
int gw_ble_gatt_write_check(gw_adapter_t *a, const char *key, const char *field,
                            const gw_value_t *v, const char *args);
int gw_ble_gatt_write_async(gw_adapter_t *a, const char *key, const char *field,
                            const gw_value_t *v, const char *args, gw_write_done_fn done,
                            void *done_ctx);
int gw_ble_gatt_write_range(gw_adapter_t *a, const char *key, const char *field, double *lo,
                            double *hi);
int gw_ble_gatt_write_step(gw_adapter_t *a, const char *key, const char *field, double *step);

/* scan.c: a device heard while scanning (a->scan set). */
void gw_ble_scan_seen(gw_adapter_t *a, uint64_t mac, const ble_advert_t *adv);

/* bluez.c */
/* Whether calls to org.bluez can be made now (bus up, owner known,
 * controller present and powered). */
bool gw_ble_bus_ready(const gw_adapter_t *a);
int gw_ble_bus_start(gw_adapter_t *a);
void gw_ble_bus_stop(gw_adapter_t *a);
/* Parse a Device1 property dictionary a{sv} at the message's read
 * position into *adv. 0 or a negative errno from sd-bus. */
int gw_ble_parse_device_props(sd_bus_message *m, ble_advert_t *adv);

#endif
