/*
 * adapters/modbus/config.h - the Modbus adapter's configuration: the buses
 * of `adapters.modbus` (its section) and a device's `bus`, `unit_id` and
 * `registers` (its part of a device entry), parsed by config.c through the
 * adapter configuration interface (adapters/adapter_config.h).
 */
#ifndef GW_ADAPTERS_MODBUS_CONFIG_H
#define GW_ADAPTERS_MODBUS_CONFIG_H

#include "../adapter.h"

/* A bus (`adapters.modbus = ( { name = "plc"; type = "tcp"; ... } )`). */
typedef struct gw_config_modbus_bus {
    char *name;
    bool rtu;                     /* type = "rtu" (serial) or "tcp" */
    char *host;                   /* tcp: host name or address */
    int32_t port;                 /* tcp: default 502 */
    char *device;                 /* rtu: serial device, e.g. "/dev/ttyUSB0" */
    int32_t baud;                 /* rtu: default 9600 */
    char parity;                  /* rtu: 'N' (default), 'E' or 'O' */
    int32_t data_bits, stop_bits; /* rtu: default 8 and 1 */
    int32_t timeout_ms;           /* reply timeout, default 500 */
    int32_t turnaround_ms;        /* pause between two requests, default 20 on rtu, 0 on tcp */
    int32_t max_gap;              /* registers allowed between two merged into one read, default 8 */
    int32_t backoff_max_ms;       /* retry delay cap after failures, default 30000 */
    int line;
    int32_t fail_threshold;       /* consecutive failures before a device is reported
                                     unavailable; 0 (default) = stays available */
} gw_config_modbus_bus_t;

/* Modbus tables, data types and word/byte orders of a register entry. */
enum { GW_MODBUS_COIL = 0, GW_MODBUS_DISCRETE, GW_MODBUS_INPUT, GW_MODBUS_HOLDING };
enum {
    GW_MODBUS_BOOL = 0, GW_MODBUS_U16, GW_MODBUS_S16, GW_MODBUS_U32, GW_MODBUS_S32,
    GW_MODBUS_U64, GW_MODBUS_S64, GW_MODBUS_F32, GW_MODBUS_F64, GW_MODBUS_STRING
};
/* Letters name the bytes of a 32-bit value, most significant first, as
 * they appear on the wire: ABCD big-endian, CDAB word-swapped, BADC
 * byte-swapped, DCBA little-endian (64-bit values extend the pattern). */
enum { GW_MODBUS_ABCD = 0, GW_MODBUS_CDAB, GW_MODBUS_BADC, GW_MODBUS_DCBA };

/* One register entry of a Modbus device
 * (`registers = ( { field = "voltage"; table = "input"; address = 0; type = "f32"; } )`). */
typedef struct gw_config_modbus_reg {
    char *field;                  /* reading field it feeds */
    uint8_t table;                /* GW_MODBUS_COIL.. */
    uint8_t type;                 /* GW_MODBUS_BOOL.. */
    uint8_t order;                /* GW_MODBUS_ABCD.. */
    uint16_t address;             /* 0-based protocol address */
    uint16_t count;               /* registers (or bits) it spans; string: length given */
    double scale, offset;         /* value = raw * scale + offset (default 1, 0) */
    int32_t interval_ms;          /* poll interval, default 5000 */
    bool writable;                /* LwM2M Write goes to the device (coil/holding only) */
    bool read_back;               /* a write succeeds only if reading it back gives the
                                     same registers (writable only) */
    int32_t pulse_ms;             /* writable coil: Execute switches it on for this long, then off */
    bool has_execute_value;       /* writable register: Execute writes execute_value */
    double execute_value;
    gw_path_t path;               /* len 0 = the field's mapping decides */
    int line;
} gw_config_modbus_reg_t;

/* A device's Modbus part (gw_adapter_device_t.conf). */
typedef struct gw_modbus_dev_conf {
    char *bus;                    /* name of an adapters.modbus entry */
    int32_t unit_id;              /* 1..255; 0 when not set */
    gw_config_modbus_reg_t *registers;
    size_t n_registers;
} gw_modbus_dev_conf_t;

/* The section adapters.modbus (the section pointer create gets). */
typedef struct gw_modbus_conf {
    gw_config_modbus_bus_t *buses;
    size_t n_buses;
} gw_modbus_conf_t;

/* The bus called name, NULL when none. */
const gw_config_modbus_bus_t *gw_modbus_conf_bus(const gw_modbus_conf_t *c, const char *name);

extern const gw_adapter_conf_ops_t gw_modbus_conf_ops;

#endif
