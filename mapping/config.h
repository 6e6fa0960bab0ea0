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
#include "../adapters/adapter_config.h"
#include "../lwm2m/dtls.h"
#include "../lwm2m/value.h"

typedef enum { GW_SEC_NOSEC = 0, GW_SEC_PSK, GW_SEC_RPK, GW_SEC_X509 } gw_security_t;

/* The DTLS keys of a server or a device/template group (security = "rpk" or
 * "x509", cert_file, key_file, server_cert_file, ca_file, verify,
 * server_name; docs/configuration.md): the files read and checked at load
 * (mapping/config_security.c) into creds (lwm2m/dtls.h), which the
 * Security object /0 then holds. A device that sets any of these keys
 * replaces its template's set as a whole. */
typedef struct gw_config_dtls {
    bool set;                     /* security "rpk"/"x509" here: creds hold the loaded files */
    gw_dtls_creds_t creds;        /* mode, own public key or certificate, private key, pinned
                                     server key/certificate or CA certificates, server_name */
    char *key_file;               /* path as opened (relative ones resolved), for the
                                     readable-by-others check (gateway/keyfile.c) */
    unsigned given;               /* which keys the group has (config_security.c's bits) */
    char *path[4];                /* while loading: cert_file, key_file, server_cert_file, ca_file */
    const void *at[6];            /* while loading: their settings, then security's, verify's */
    int line;                     /* security's line */
} gw_config_dtls_t;

typedef struct gw_config_server {
    char *uri;                    /* coap://host:port or coaps://host:port */
    int32_t lifetime;             /* seconds, default 300 */
    gw_security_t security;       /* "nosec" (default) or "psk" */
    char *psk_identity;           /* pattern, "{endpoint}" expands; default "{endpoint}" */
    uint8_t psk_key[64];
    size_t psk_key_len;           /* key given as hex in the file */
    gw_config_dtls_t dtls;        /* security "rpk"/"x509" (and server_name, verify) */
    int32_t registrations_per_second; /* 0 = no pacing; default 50 */
    uint16_t short_server_id;     /* default 1 + index */
    int32_t default_pmin, default_pmax; /* /1/x/2 and /1/x/3, default 0 and 0 (none) */
    char *binding;                /* default "U" */
    bool confirmable_notifications; /* default false: NON, with a CON once a day */
    int content_format;           /* preferred format, a GW_CF_* code: "tlv" (default, 11542),
                                     "senml-json" (110) or "senml-cbor" (112) */
    int32_t finish_timeout;       /* bootstrap_server only: seconds to wait for Bootstrap-Finish
                                     after the last bootstrap request, 1..86400, default 247 */
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

/* One Access Control instance (object 2, LwM2M 1.1.1 Core 7.3) a device
 * starts with: `access = ( { object = 3303; instance = 0; owner = 101;
 * acl = { s101 = "RWE"; default = "R"; }; } )` (docs/configuration.md). */
#define GW_CONFIG_ACL_MAX 16
typedef struct gw_config_access {
    uint16_t object;              /* 1..65534, not 2 */
    uint16_t instance;            /* 0..65534; 65535: the Create rights on the object */
    uint16_t owner;               /* Short Server ID 1..65534, or 65535 (no server may change it) */
    size_t n_acl;
    uint16_t ssid[GW_CONFIG_ACL_MAX];  /* 0: the default entry */
    uint8_t rights[GW_CONFIG_ACL_MAX]; /* R=1 W=2 E=4 D=8 C=16 */
    int line;
} gw_config_access_t;

typedef struct gw_config_device {
    char *endpoint;
    char *adapter;                /* the adapter's name, e.g. "static" */
    char *manufacturer, *model, *serial, *firmware; /* /3/0/0..3; NULL when absent */
    char *psk_identity;           /* per-client override, NULL when absent */
    uint8_t psk_key[64];
    size_t psk_key_len;           /* 0 when no per-client key */
    gw_config_dtls_t *dtls;       /* the client's own RPK/X.509 credentials, NULL: none (owned;
                                     out of line: 10,000 devices mostly have none) */
    gw_config_resource_t *resources;
    size_t n_resources;
    /* issue 3: mapping */
    char *address;                /* adapter address (MAC, DevEUI, unit id, ...); default = endpoint */
    char *template_name;          /* the template applied, NULL when none (already merged in) */
    gw_config_field_t *fields;    /* field mappings, templates merged, config order */
    size_t n_fields;
    /* The device's adapter (its table entry), its own part of the entry
     * (opaque, owned: ops->conf->free_part) and the fields it declares the
     * device produces (owned). */
    const struct gw_adapter_ops *ops;
    void *part;
    gw_field_decl_t *decls;
    size_t n_decls;
    /* issue 4: reporting */
    bool report_send;             /* report = "send": push values with Send; default "observe" */
    int32_t send_interval_s;      /* send_interval: at most one Send per interval, default 10 */
    bool queue_mode;              /* binding = "UQ" */
    int32_t queue_time_s;         /* queue_time: reachable this long after speaking, default 93 */
    bool bootstrap;               /* bootstrap = true: servers from the bootstrap_server */
    /* Hash of everything that defines this device once templates are
     * applied: a reload compares it to leave untouched devices alone. */
    uint64_t fingerprint;
    int line;
    /* issue 15: Access Control instances, config order (a device's list
     * replaces its template's) */
    gw_config_access_t *access;
    size_t n_access;
    /* access_owner: the Short Server ID that owns every object instance no
     * access entry names (1..65534; 0: none), and its line */
    int32_t access_owner;
    int access_owner_line;
} gw_config_device_t;

/* The `mqtt` section (docs/mqtt.md): mirror of every value to a broker.
 * Strings owned; NULL when absent. */
typedef enum { GW_MQTT_FORMAT_VALUE = 0, GW_MQTT_FORMAT_SENML_JSON } gw_mqtt_format_t;
typedef struct gw_config_mqtt {
    bool enabled;                 /* default true once the section is there */
    char *uri;                    /* tcp://host:port, ssl://host:port (mqtts:// too); required */
    char *client_id;              /* pattern, "{gateway}" expands; default "{gateway}" */
    char *username, *password;
    char *ca_file, *cert_file, *key_file; /* tls = { ... } */
    bool verify;                  /* tls.verify: check the broker's certificate, default true */
    int32_t qos;                  /* 0..2, default 1 */
    bool retain;                  /* retained values, default true */
    char *topic_prefix;           /* default "lwm2m" */
    gw_mqtt_format_t format;      /* "value" (default) or "senml-json" */
    int32_t keepalive;            /* seconds, default 30 */
    int32_t buffer_max;           /* messages held while the broker is away, default 10000 */
    bool homeassistant;           /* discovery configs, default false */
    bool commands;                /* <topic>/set handled as a Write, default false */
    int line;
} gw_config_mqtt_t;

typedef struct gw_config {
    char *file;                   /* path as given */
    char *name;                   /* gateway endpoint name, default hostname */
    char *state_dir;              /* default "/var/lib/lwm2m-gateway" */
    int state_dir_line;           /* where state_dir is set, 0 for the default */
    char *state_dir_file;         /* the file that sets it when an @include, else NULL */
    char *objects_dir;            /* default "/etc/lwm2m-gateway/objects"; missing dir is fine */
    int32_t offline_store_max;    /* readings kept per client while it cannot report, default 1000 */
    bool refuse_readable_keys;    /* a psk_key in a file others can read stops the start */
    char *endpoint_pattern;       /* for devices without endpoint; default
                                     "{gateway}-{adapter}-{address}" */
    gw_config_server_t *servers;
    size_t n_servers;
    gw_config_server_t *bootstrap_server; /* bootstrap_server = { ... }, NULL when absent */
    bool bootstrap_all;           /* gateway.bootstrap_all: every client bootstraps (also the gateway's) */
    gw_config_device_t *devices;
    size_t n_devices;
    /* Each adapter's `adapters.<name>` section, indexed like gw_adapters[]
     * (NULL when it has none; opaque, owned: conf->free_section), and its
     * fingerprint. */
    void **sections;
    uint64_t *section_fps;
    size_t n_sections;
    gw_config_mqtt_t *mqtt;       /* NULL when the file has no mqtt section */
    /* gateway.access and gateway.access_owner: the gateway's own endpoint's
     * Access Control instances, as a device's (access, n_access,
     * access_owner and their lines used; the rest zero) */
    gw_config_device_t self_access;
} gw_config_t;

/* Parse and validate file. Extra object definitions from objects_dir are
 * loaded into reg before device resources are checked. Returns 0 with *out
 * set, or -EINVAL after reporting every error through diag (*out NULL),
 * or -ENOENT / -EIO when the file cannot be read (also reported). */
int gw_config_load(const char *file, gw_registry_t *reg, gw_diag_fn diag, void *diag_ctx,
                   gw_config_t **out);
void gw_config_free(gw_config_t **c);

/* Whether two DTLS key sets say the same (mode, keys, checks). */
bool gw_config_dtls_equal(const gw_config_dtls_t *a, const gw_config_dtls_t *b);

/* With more than one server in c, the virtual clients (the gateway's own
 * endpoint included) whose object instances at start include some that no
 * `access` entry names and no `access_owner` covers: no server may reach
 * those (LwM2M Core 7.3, 4.01 on everything). Returns how many clients,
 * *out_instances (may be NULL) how many instances in all; 0 with one
 * server. Instances a device makes at run time are not counted. */
size_t gw_config_access_gaps(const gw_config_t *c, size_t *out_instances);

/* Whether two mqtt sections (either may be NULL) say the same. */
bool gw_config_mqtt_equal(const gw_config_mqtt_t *a, const gw_config_mqtt_t *b);

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

/* "<adapter>:<address>" (the endpoint when no address) into buf: the key
 * readings carry. 0, -EINVAL (no adapter or address), -ENOSPC. */
int gw_config_device_key(const gw_config_device_t *d, char *buf, size_t size);

/* The devices of c whose adapter is ops, as that adapter's create takes
 * them: *out (keys owned by the array, conf and endpoint borrowed from c),
 * freed with gw_config_adapter_devices_free. 0 or -ENOMEM. */
struct gw_adapter_device;
int gw_config_adapter_devices(const gw_config_t *c, const struct gw_adapter_ops *ops,
                              struct gw_adapter_device **out, size_t *out_n);
void gw_config_adapter_devices_free(struct gw_adapter_device **v, size_t n);

/* The index of an adapter in gw_adapters[] (and so in cfg->sections), -1
 * when it is not there. */
int gw_config_adapter_index_of(const struct gw_adapter_ops *ops);

/* Parse a hex key ("000102..."), at most max bytes. 0 or -EINVAL. */
int gw_config_parse_hex(const char *hex, uint8_t *out, size_t max, size_t *out_len);

#endif
