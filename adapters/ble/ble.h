/*
 * adapters/ble/ble.h - what the BLE adapter's files share with each other
 * and with its tests: the parsed configuration and the address helpers.
 * The adapter talks to BlueZ (bluetoothd) over D-Bus; nothing outside
 * adapters/ble names it.
 */
#ifndef GW_ADAPTERS_BLE_BLE_H
#define GW_ADAPTERS_BLE_BLE_H

#include "../adapter.h"
#include "decoder.h"
#include "gatt.h"

/* adapters.ble = { controller = "hci0"; bus = "unix:path=..."; } */
typedef struct gw_ble_section {
    char *controller; /* "hci0" by default; BlueZ object /org/bluez/<controller> */
    char *bus;        /* D-Bus address; NULL: $DBUS_SYSTEM_BUS_ADDRESS or the system bus */
} gw_ble_section_t;

/* A device's BLE keys (gw_adapter_device_t.conf). */
typedef struct gw_ble_part {
    char *decoder;          /* NULL: any decoder that recognises the advert */
    char *name;             /* match_name: match the advertised name (random addresses) */
    bool identity;          /* match the MAC the payload carries (Ruuvi, ATC) */
    double absent_after_s;  /* silence after which the device is absent, default 600 */
    bool absent_deregister; /* absent also de-registers its client (default false:
                               only /3/0/11 = 7) */
    gw_ble_char_conf_t *chars; /* gatt: characteristics read, notified or written */
    size_t n_chars;
    double gatt_interval_s;  /* seconds between reads of the read characteristics */
    bool stay_connected;     /* keep the connection between reads (true when a
                                characteristic is notified) */
    /* A payload codec (its uplinks of fport 0) for the ManufacturerData of
     * company adv_id (adv_src MFR) or the ServiceData of UUID adv_id (SVC):
     * devices no built-in decoder knows. */
    gw_payload_codec_t *adv_codec; /* owned reference */
    gw_ble_src_t adv_src;          /* 0: none configured */
    uint16_t adv_id;
    int codec_line;
    uint8_t bindkey[16];     /* encrypted BTHome: AES-128 key */
    bool has_bindkey;
    unsigned set;           /* P_* bits: keys given (template merging) */
    int line;
} gw_ble_part_t;

enum {
    P_DECODER = 1, P_NAME = 2, P_IDENTITY = 4, P_ABSENT = 8, P_DEREG = 16, P_GATT = 32,
    P_INTERVAL = 64, P_STAY = 128, P_BINDKEY = 256, P_CODEC = 512, P_ADVSRC = 1024
};

#define GW_BLE_ABSENT_DEFAULT_S 600.0

extern const gw_adapter_conf_ops_t gw_ble_conf_ops;

/* "AA:BB:CC:DD:EE:FF" (either case) into its 48-bit value, mac[0] in the
 * high byte. 0 or -EINVAL. */
int gw_ble_mac_parse(const char *s, uint64_t *out);
/* The address of a BlueZ device object path ".../dev_AA_BB_CC_DD_EE_FF",
 * without allocating. 0 or -EINVAL (not a device path). */
int gw_ble_path_mac(const char *path, uint64_t *out);
/* 6 bytes in display order into the same 48-bit value. */
uint64_t gw_ble_mac_from_bytes(const uint8_t *b);

/* --scan-ble: discovery on controller (NULL: "hci0") over the D-Bus
 * address bus (NULL: $DBUS_SYSTEM_BUS_ADDRESS or the system bus) for
 * seconds, then every device heard (address, name, RSSI, the decoder that
 * recognises it and its values, a configuration entry) printed to out.
 * Blocks for the time given (its own loop; not for the daemon's). Returns 0,
 * -ENODEV when discovery never ran (no bus, no bluetoothd, controller off;
 * what was heard is printed all the same), or -ENOMEM. */
int gw_ble_scan_run(const char *bus, const char *controller, double seconds, FILE *out);

/* The 16-bit UUID of a Bluetooth base UUID string
 * "0000XXXX-0000-1000-8000-00805f9b34fb", -1 for any other. */
int gw_ble_uuid16(const char *uuid);

#endif
