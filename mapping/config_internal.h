/*
 * mapping/config_internal.h - what the configuration loader's files share:
 * the load context (error collection), the key tables that describe each
 * group of the file, and the nearest-key suggestion.
 *
 * Every group of the file (gateway, servers[i], devices[i], ...) is described
 * by a table of gw_cfg_key_t; gw_config_walk() checks each setting of the group
 * against it (unknown keys, wrong types, missing required keys) and calls the
 * key's handler. Adding a key to the file format is one table entry.
 */
#ifndef GW_MAPPING_CONFIG_INTERNAL_H
#define GW_MAPPING_CONFIG_INTERNAL_H

#include <libconfig.h>

#include "../adapters/adapter.h"
#include "config.h"

/* Adapters compiled in, at most (the table in adapters/adapters.c). */
#define GW_CFG_MAX_ADAPTERS 16

typedef struct gw_cfg_diag_entry {
    char *file; /* NULL: the main file */
    int line;
    unsigned seq;
    char *msg;
} gw_cfg_diag_entry_t;

struct gw_cfg_ctx {
    const char *file;    /* main file name, for messages */
    gw_diag_fn diag;     /* caller's sink, may be NULL */
    void *diag_ctx;
    gw_registry_t *reg;
    gw_config_t *cfg;    /* being filled */
    int errors;          /* problems found so far */
    bool oom;            /* an allocation failed: stop, return -ENOMEM */
    /* Messages about the configuration are collected and emitted sorted by
     * line at the end, because checks run in phases (gateway and servers
     * before devices, cross-entry checks last) and users read top-down. */
    gw_cfg_diag_entry_t *msgs;
    size_t n_msgs, cap_msgs;
    const config_setting_t *objects_dir_s; /* NULL when objects_dir was not configured */
    char *include_dir;   /* where libconfig looks for relative @include paths, NULL: the
                            current directory */
    struct gw_cfg_tmpl *tmpl; /* templates list (config_template.c) */
    size_t n_tmpl;
};

/* Same at file:line, file named as it should be shown (an @include's path
 * resolved). */
/* A finding that does not stop the load: "warning: " and the text, at the
 * main file's line (sorted with the errors). */
void gw_config_warn_at(gw_cfg_ctx_t *ctx, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void gw_config_error_file(gw_cfg_ctx_t *ctx, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The name to show for a file libconfig names (a setting's or an error's
 * source file): libconfig before 1.7 gives an @include's path as written,
 * relative to the include directory, later ones the path it opened. Returns
 * file itself or a string in buf. */
const char *gw_config_shown_file(const gw_cfg_ctx_t *ctx, const char *file, char *buf,
                                 size_t size);
/* Forwarding sink for other loaders (the registry): counts and passes on. */
void gw_config_diag_forward(void *ctx, const char *file, int line, const char *msg);
/* Emit the collected messages, sorted, and free them. */
void gw_config_flush_diags(gw_cfg_ctx_t *ctx);

/* Bit of key name in a walk's seen set, 0 if name is not in keys. */
uint64_t gw_config_key_bit(const gw_cfg_key_t *keys, size_t n, const char *name);

/* Generic handlers using k->offset. */
int gw_config_h_string(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                       void *obj); /* char *, replaces (frees) a default */
int gw_config_h_nonempty_string(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                                const gw_cfg_key_t *k, void *obj);
int gw_config_h_int32(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj); /* int32_t in [k->min, k->max] */
/* Parse the hex psk_key at s into key (64 bytes) and *len; reports a bad
 * key. */
void gw_config_psk_key(gw_cfg_ctx_t *ctx, const config_setting_t *s, uint8_t *key, size_t *len);

/* DTLS keys beyond PSK (config_security.c). The handlers find the
 * gw_config_dtls_t at k->offset in obj; GW_CFG_DTLS_KEYS(off) are the table
 * entries (security itself is the caller's: a server's h_security calls
 * gw_config_dtls_security, a device group uses gw_config_h_dtls_security).
 * gw_config_dtls_finish checks the combination for mode (GW_DTLS_MODE_*;
 * -1: as the group's own security says, psk when it says none) and reads
 * the files (errors at their keys' lines, else at security's or
 * group's); 0 or -ENOMEM. */
int gw_config_h_dtls_file(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj);
int gw_config_h_dtls_verify(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj);
int gw_config_h_dtls_name(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj);
int gw_config_h_dtls_security(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj);
void gw_config_dtls_security(gw_config_dtls_t *d, int mode, const config_setting_t *s);
int gw_config_dtls_finish(gw_cfg_ctx_t *ctx, const config_setting_t *group, gw_config_dtls_t *d, int mode);
bool gw_config_dtls_given(const gw_config_dtls_t *d);
void gw_config_dtls_free(gw_config_dtls_t *d);
int gw_config_dtls_copy(gw_config_dtls_t *dst, const gw_config_dtls_t *src);
#define GW_CFG_DTLS_KEYS(off)                                                                             \
    {"cert_file", GW_CFG_STRING, "a string (PEM or DER: the client's certificate, or its public key for "  \
     "rpk)", false, gw_config_h_dtls_file, (off), 0, 0},                                                  \
        {"key_file", GW_CFG_STRING, "a string (PEM or DER file of the client's private key)", false,      \
         gw_config_h_dtls_file, (off), 0, 0},                                                             \
        {"server_cert_file", GW_CFG_STRING, "a string (PEM or DER: the server's certificate, or its "     \
         "public key for rpk)", false, gw_config_h_dtls_file, (off), 0, 0},                               \
        {"ca_file", GW_CFG_STRING, "a string (PEM file of the CA certificates that sign the server's)",  \
         false, gw_config_h_dtls_file, (off), 0, 0},                                                      \
        {"verify", GW_CFG_BOOL, "true or false", false, gw_config_h_dtls_verify, (off), 0, 0},            \
        {"server_name", GW_CFG_STRING, "a string (the server's host name, checked in its certificate)",   \
         false, gw_config_h_dtls_name, (off), 0, 0}

/* Check an endpoint name: printable ASCII without ' ', '&', '?', 1..64
 * bytes. Reports at s with what ("endpoint", "gateway name"). true if ok. */
bool gw_config_check_endpoint(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *what,
                              const char *ep);

/* Scalar keys a device or template group set: a device's own keys override
 * its template's one by one. */
enum {
    GW_CFG_SET_ADAPTER = 1u << 0,
    GW_CFG_SET_ENDPOINT = 1u << 1,
    GW_CFG_SET_ADDRESS = 1u << 2,
    GW_CFG_SET_INFO0 = 1u << 3, /* manufacturer; model, serial, firmware follow */
    GW_CFG_SET_PSK_IDENTITY = 1u << 7,
    GW_CFG_SET_PSK_KEY = 1u << 8,
    GW_CFG_SET_REPORT = 1u << 9,
    GW_CFG_SET_SEND_INTERVAL = 1u << 10,
    GW_CFG_SET_BINDING = 1u << 11,
    GW_CFG_SET_QUEUE_TIME = 1u << 12,
    GW_CFG_SET_ACCESS = 1u << 13,
    GW_CFG_SET_BOOTSTRAP = 1u << 14,
    GW_CFG_SET_ACCESS_OWNER = 1u << 15,
};

/* A device or template group as written, before templates are applied.
 * dev owns everything in it; the setting pointers borrow from libconfig. */
typedef struct gw_cfg_parts {
    gw_config_device_t dev;
    gw_config_dtls_t dtls;    /* the group's DTLS keys; a device holds a copy when given */
    unsigned set;             /* GW_CFG_SET_* */
    gw_path_t *res_entry;     /* per dev.resources[i]: the path as written (a list value
                                 expands into several records of one entry) */
    size_t cap_res, cap_fields;
    /* Per adapter (gw_adapters[] index): its part of this group, NULL when
     * the group has none of its keys (dev.part is unused until the device
     * is finished), and the first of its keys in the group. */
    void *parts[GW_CFG_MAX_ADAPTERS];
    const config_setting_t *part_s[GW_CFG_MAX_ADAPTERS];
    const config_setting_t *group;
    const config_setting_t *info[4]; /* device.manufacturer..firmware */
    const config_setting_t *endpoint_s, *address_s, *adapter_s, *template_s;
    char *name;               /* templates: the template's own name */
    char *template_ref;       /* `template = "..."`, NULL when none */
    bool bad;                 /* an error was reported inside this group */
} gw_cfg_parts_t;

/* Walk a device group (is_template false) or a template group into p
 * (zeroed by the caller). 0 or -ENOMEM. (config_device.c) */
int gw_config_parse_parts(gw_cfg_ctx_t *ctx, const config_setting_t *g, const char *where,
                          bool is_template, gw_cfg_parts_t *p);
void gw_config_free_parts(gw_cfg_parts_t *p);
/* Convert and add one { path; value; } entry to p. (config_device.c) */
int gw_config_add_value(gw_cfg_ctx_t *ctx, gw_cfg_parts_t *p, const config_setting_t *path_s,
                        const config_setting_t *value_s);
/* Deep copies for merging; 0 or -ENOMEM. (config_device.c) */
int gw_config_copy_value(gw_value_t *dst, const gw_value_t *src);
void gw_config_free_value(gw_value_t *v);

/* The access list (config_access.c): Access Control instances. The
 * handler's obj is the gw_cfg_parts_t; a list replaces an earlier one. */
int gw_config_h_access(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k, void *obj);
/* access_owner = <short_server_id> (1..65534); obj is the gw_cfg_parts_t. */
int gw_config_h_access_owner(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj);
/* The same two for the gateway section: obj is the gw_config_t. */
int gw_config_h_gateway_access(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                               void *obj);
int gw_config_h_gateway_access_owner(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                                     void *obj);
/* access_owner values that name no configured server (with no bootstrap
 * server to name one later): reported at their lines. */
/* Every access entry's owner and acl keys, and each access_owner, name a
 * configured server (file:line errors); with a bootstrap_server, which may
 * provision that server, warnings instead. */
void gw_config_check_access_owners(gw_cfg_ctx_t *ctx, const gw_config_t *c);
int gw_config_copy_access(gw_config_device_t *dst, const gw_config_device_t *src); /* 0 or -ENOMEM */
void gw_config_free_access(gw_config_device_t *d);
/* h mixed with d's access entries (the device fingerprint's part). */
uint64_t gw_config_access_hash(const gw_config_device_t *d, uint64_t h);

/* The resources list (config_field.c). */
int gw_config_h_resources(gw_cfg_ctx_t *ctx, const config_setting_t *list, const gw_cfg_key_t *k,
                          void *obj);
/* Checks of device d once templates are applied: each field its adapter
 * declares has a destination and a convertible unit. Reported at the
 * entry's line when own (what the device's group itself declares) has it,
 * else at the device's line. */
void gw_config_check_decls(gw_cfg_ctx_t *ctx, const gw_field_decl_t *own, size_t n_own,
                           const gw_config_device_t *d);
int gw_config_copy_field(gw_config_field_t *dst, const gw_config_field_t *src);
void gw_config_free_field(gw_config_field_t *f);

/* Templates (config_template.c): parse the top-level list once, before the
 * devices; apply a device's template chain to its parts into *out (zeroed by
 * the caller; a copy of own when it names no template). */
int gw_config_parse_templates(gw_cfg_ctx_t *ctx, const config_setting_t *list);
int gw_config_apply_template(gw_cfg_ctx_t *ctx, const gw_cfg_parts_t *own, gw_cfg_parts_t *out);
void gw_config_free_templates(gw_cfg_ctx_t *ctx);
/* base's entries, then over's (replacing base's of the same field or path),
 * over's scalars where over set them. *out zeroed by the caller. */
int gw_config_merge_parts(const gw_cfg_parts_t *base, const gw_cfg_parts_t *over,
                          gw_cfg_parts_t *out);

/* Endpoints and identity (config_identity.c). */
/* gateway.endpoint_pattern: only {gateway} {adapter} {address} {template}. */
bool gw_config_check_pattern(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *pattern);
/* Expand the pattern for d into a malloc'd string (*out), or report at line
 * and return -EINVAL; -ENOMEM. */
int gw_config_expand_pattern(gw_cfg_ctx_t *ctx, const gw_config_device_t *d, int line,
                             char **out);
/* FNV-1a over everything that defines d, no line numbers. */
uint64_t gw_config_fingerprint(const gw_config_device_t *d);

/* The devices list (config_device.c). Needs ctx->cfg->name and the registry
 * with objects_dir loaded. Returns 0 or -ENOMEM. */
int gw_config_parse_devices(gw_cfg_ctx_t *ctx, const config_setting_t *list);
void gw_config_free_device(gw_config_device_t *d);

/* Adapters' own configuration (config_adapters.c). */
/* The top-level `adapters` group: each adapter's parse_section. */
int gw_config_h_adapters(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                         void *obj);
/* Sections of the adapters that have one and were not in the file. */
int gw_config_sections_finish(gw_cfg_ctx_t *ctx);
/* The device and template keys of every adapter, for the walk of a group
 * (appended to the common keys in keys[*n..]); their handler fills
 * p->parts. 0 or -EINVAL when they do not fit in max. */
int gw_config_adapter_keys(gw_cfg_key_t *keys, size_t *n, size_t max);
/* Report adapter parts of a group (own) or a merged device (m, from
 * templates too) whose adapter is another one. */
void gw_config_check_foreign_parts(gw_cfg_ctx_t *ctx, const gw_cfg_parts_t *own,
                                   const gw_cfg_parts_t *m, const char *adapter);
int gw_config_merge_adapter_parts(const gw_cfg_parts_t *base, const gw_cfg_parts_t *over,
                                  gw_cfg_parts_t *out);
void gw_config_free_adapter_parts(gw_cfg_parts_t *p);
/* Index of ops in gw_adapters[], -1 when none. */
int gw_config_adapter_index(const gw_adapter_ops_t *ops);
/* The device's adapter finishes its part (checks, default address) and
 * declares its fields into d->decls; own declarations into *own (freed by
 * the caller). 0 or -ENOMEM. */
int gw_config_finish_adapter(gw_cfg_ctx_t *ctx, const gw_cfg_parts_t *own, gw_cfg_parts_t *m,
                             const char *where, gw_field_decl_t **own_decls, size_t *n_own);
void gw_config_free_sections(gw_config_t *c);

/* The top-level `mqtt` group (config_mqtt.c). */
int gw_config_h_mqtt(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj);
void gw_config_free_mqtt(gw_config_mqtt_t **m);

/* Files (config_files.c). */
struct stat;
/* Open path for reading, never blocking (a FIFO, a device): 0 with *out_fd
 * and *out_st for a regular file, 1 with *out_st when it is something else,
 * -errno when it cannot be opened. */
int gw_config_open_regular(const char *path, int *out_fd, struct stat *out_st);
/* "a directory", "a FIFO", ... for messages. */
const char *gw_config_file_type(unsigned mode);
/* Read the regular file fd (closed here) named name into *out_text (NUL
 * terminated, owned by the caller); problems are reported at name. 0,
 * -EIO or -ENOMEM. (config.c) */
int gw_config_read_fd(gw_cfg_ctx_t *ctx, const char *name, int fd, const struct stat *st,
                      char **out_text);
/* Check every @include of the main file's text, recursively, before
 * libconfig opens them: regular files only, no loops, missing ones at the
 * line of their @include. 0 (problems reported) or -ENOMEM. */
int gw_config_check_includes(gw_cfg_ctx_t *ctx, const char *text, const struct stat *main_st);

/* Edit distance as above, capped: returns a value > cap as soon as it is
 * known to exceed cap. */
size_t gw_config_edit_distance(const char *a, const char *b, size_t cap);

#endif
