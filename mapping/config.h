/*
 * mapping/config.h - the gateway's configuration file (libconfig syntax),
 * parsed and validated against the object registry.
 *
 * Every problem is reported as "file:line: what is wrong, what is expected"
 * through the diag callback; loading never stops at the first error, so
 * `--check` shows them all at once. Unknown keys are errors (with the nearest
 * valid key suggested), never ignored.
 *
 * The returned gw_config_t owns all its strings and arrays.
 */
#ifndef GW_MAPPING_CONFIG_H
#define GW_MAPPING_CONFIG_H

#include "../lwm2m/registry.h"
#include "../lwm2m/value.h"

typedef enum { GW_SEC_NOSEC = 0, GW_SEC_PSK } gw_security_t;

typedef struct gw_config_server {
    char *uri;                    /* coap://host:port or coaps://host:port */
    int32_t lifetime;             /* seconds, default 300 */
    gw_security_t security;       /* "nosec" (default) or "psk" */
    char *psk_identity;           /* pattern, "{endpoint}" expands; default "{endpoint}" */
    uint8_t psk_key[64];
    size_t psk_key_len;           /* key given as hex in the file */
    int32_t registrations_per_second; /* 0 = no pacing; default 50 */
    uint16_t short_server_id;     /* default 1 + index */
    int32_t default_pmin, default_pmax; /* /1/x/2 and /1/x/3, default 0 and 0 (none) */
    char *binding;                /* default "U" */
    bool confirmable_notifications; /* default false: NON, with a CON once a day */
    int content_format;           /* preferred format, a GW_CF_* code: "tlv" (default, 11542),
                                     "senml-json" (110) or "senml-cbor" (112) */
    int line;
} gw_config_server_t;

/* One initial resource value of a static device. Strings/opaque bytes are
 * owned by the config. */
typedef struct gw_config_resource {
    gw_path_t path;               /* 3 or 4 levels, checked against the registry */
    gw_value_t value;             /* converted to the resource's declared type */
    int line;
} gw_config_resource_t;

/* A field mapping: where one adapter field lands and how it is converted
 * (`resources = ( { field = "t_probe"; path = "/3303/1/5700"; scale = 0.1; } )`).
 * Order of conversion: unit -> *scale + offset -> clamp to min/max. */
typedef struct gw_config_field {
    char *field;                  /* adapter field name ("temperature", "t_probe") */
    gw_path_t path;               /* 3 levels; len 0 = from the default semantic map */
    double scale;                 /* default 1 */
    double offset;                /* default 0 */
    bool has_min, has_max;        /* clamping */
    double min, max;
    char *unit;                   /* unit the adapter reports in ("Fahrenheit", "Wh", "Pa"),
                                     NULL = already the object's unit */
    char *application_type;       /* 5750, NULL when absent */
    bool writable;                /* route LwM2M Write/Execute back to the adapter */
    int line;
} gw_config_field_t;

/* One generated field of a simulated device
 * (`simulate = ( { field = "temperature"; wave = "sine"; min = 18.0; max = 24.0;
 *                  period = 60.0; interval = 5.0; } )`). */
typedef struct gw_config_sim {
    char *field;
    char *wave;                   /* "sine" (default), "random_walk", "sawtooth", "square", "constant" */
    double min, max;              /* value range, default 0..100 */
    double period_s;              /* default 60 */
    double interval_s;            /* one reading every interval, default 5 */
    char *unit;                   /* unit of the generated values, NULL = the object's */
    int line;
} gw_config_sim_t;

/* issue 5: Modbus. A bus (`adapters.modbus = ( { name = "plc"; type = "tcp"; ... } )`). */
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

typedef struct gw_config_device {
    char *endpoint;
    char *adapter;                /* "static" for now */
    char *manufacturer, *model, *serial, *firmware; /* /3/0/0..3; NULL when absent */
    char *psk_identity;           /* per-client override, NULL when absent */
    uint8_t psk_key[64];
    size_t psk_key_len;           /* 0 when no per-client key */
    gw_config_resource_t *resources;
    size_t n_resources;
    /* issue 3: mapping */
    char *address;                /* adapter address (MAC, DevEUI, unit id, ...); default = endpoint */
    char *template_name;          /* the template applied, NULL when none (already merged in) */
    gw_config_field_t *fields;    /* field mappings, templates merged, config order */
    size_t n_fields;
    gw_config_sim_t *sims;        /* simulated adapter: generated fields */
    size_t n_sims;
    /* issue 4: reporting */
    bool report_send;             /* report = "send": push values with Send; default "observe" */
    int32_t send_interval_s;      /* send_interval: at most one Send per interval, default 10 */
    bool queue_mode;              /* binding = "UQ" */
    int32_t queue_time_s;         /* queue_time: reachable this long after speaking, default 93 */
    /* Hash of everything that defines this device once templates are
     * applied: a reload compares it to leave untouched devices alone. */
    uint64_t fingerprint;
    int line;
    /* issue 5: Modbus (adapter = "modbus") */
    char *bus;                    /* name of an adapters.modbus entry */
    int32_t unit_id;              /* 1..255; 0 when not set */
    gw_config_modbus_reg_t *registers;
    size_t n_registers;
} gw_config_device_t;

typedef struct gw_config {
    char *file;                   /* path as given */
    char *name;                   /* gateway endpoint name, default hostname */
    char *state_dir;              /* default "/var/lib/lwm2m-gateway" */
    int state_dir_line;           /* where state_dir is set, 0 for the default */
    char *state_dir_file;         /* the file that sets it when an @include, else NULL */
    char *objects_dir;            /* default "/etc/lwm2m-gateway/objects"; missing dir is fine */
    int32_t offline_store_max;    /* readings kept per client while it cannot report, default 1000 */
    char *endpoint_pattern;       /* for devices without endpoint; default
                                     "{gateway}-{adapter}-{address}" */
    gw_config_server_t *servers;
    size_t n_servers;
    gw_config_device_t *devices;
    size_t n_devices;
    gw_config_modbus_bus_t *buses; /* adapters.modbus */
    size_t n_buses;
} gw_config_t;

/* Parse and validate file. Extra object definitions from objects_dir are
 * loaded into reg before device resources are checked. Returns 0 with *out
 * set, or -EINVAL after reporting every error through diag (*out NULL),
 * or -ENOENT / -EIO when the file cannot be read (also reported). */
int gw_config_load(const char *file, gw_registry_t *reg, gw_diag_fn diag, void *diag_ctx,
                   gw_config_t **out);
void gw_config_free(gw_config_t **c);

/* Free a device's initial values and device strings (they live in the
 * resource store once the device runs); everything else, the fingerprint
 * included, stays. gw_config_free still works afterwards. */
void gw_config_device_shed(gw_config_device_t *d);

/* state_dir, for --check (create false) and the start (create true).
 * It must be a directory this user can write. At start a missing one is
 * created (mode 0700, parents too), as systemd's StateDirectory= would;
 * --check says whether that would work and sets *out_missing (may be NULL)
 * when it would be created. Problems are reported through diag at the
 * state_dir setting's file:line. Returns 0, -ENOTDIR (not a directory),
 * -EACCES (cannot be written or created), another -errno from mkdir, or
 * -ENOMEM. */
int gw_config_state_dir(const gw_config_t *c, bool create, gw_diag_fn diag, void *diag_ctx,
                        bool *out_missing);

/* Parse a hex key ("000102..."), at most max bytes. 0 or -EINVAL. */
int gw_config_parse_hex(const char *hex, uint8_t *out, size_t max, size_t *out_len);

#endif
