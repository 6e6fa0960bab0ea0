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

#include "config.h"

/* Accepted libconfig setting types of a key, as a bit set. */
#define GW_CFG_T(t) (1u << (t))
#define GW_CFG_INT (GW_CFG_T(CONFIG_TYPE_INT) | GW_CFG_T(CONFIG_TYPE_INT64))
#define GW_CFG_NUMBER (GW_CFG_INT | GW_CFG_T(CONFIG_TYPE_FLOAT))
#define GW_CFG_STRING GW_CFG_T(CONFIG_TYPE_STRING)
#define GW_CFG_BOOL GW_CFG_T(CONFIG_TYPE_BOOL)
#define GW_CFG_GROUP GW_CFG_T(CONFIG_TYPE_GROUP)
#define GW_CFG_LIST GW_CFG_T(CONFIG_TYPE_LIST)
#define GW_CFG_ARRAY GW_CFG_T(CONFIG_TYPE_ARRAY)
#define GW_CFG_ANY 0xFFFFu

/* Keys per group are few; a walk remembers which ones it saw in a bit set. */
#define GW_CFG_MAX_KEYS 64

typedef struct gw_cfg_diag_entry {
    char *file; /* NULL: the main file */
    int line;
    unsigned seq;
    char *msg;
} gw_cfg_diag_entry_t;

typedef struct gw_cfg_ctx {
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
    int objects_dir_line; /* 0 when objects_dir was not configured */
} gw_cfg_ctx_t;

typedef struct gw_cfg_key gw_cfg_key_t;

/* Handlers report problems through gw_config_error and return 0; a negative
 * return (-ENOMEM) aborts the load. obj is the struct the group fills. */
typedef int (*gw_cfg_handler_fn)(gw_cfg_ctx_t *ctx, const config_setting_t *s,
                                 const gw_cfg_key_t *k, void *obj);

struct gw_cfg_key {
    const char *name;
    unsigned types;         /* GW_CFG_* bit set of accepted setting types */
    const char *expect;     /* "an integer (seconds)", for type errors */
    bool required;
    gw_cfg_handler_fn handler;
    size_t offset;          /* field of obj, for the generic handlers */
    long long min, max;     /* range, for gw_config_h_int32 */
};

/* Report a problem at setting s (file and line taken from it; s may be NULL
 * for "no line"). Counts the error. printf-style. */
void gw_config_error(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same with an explicit line in the main file. */
void gw_config_error_at(gw_cfg_ctx_t *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Forwarding sink for other loaders (the registry): counts and passes on. */
void gw_config_diag_forward(void *ctx, const char *file, int line, const char *msg);
/* Emit the collected messages, sorted, and free them. */
void gw_config_flush_diags(gw_cfg_ctx_t *ctx);

/* Quote untrusted text for a message: "..." with non-printable bytes as \xNN,
 * cut after about 60 characters. Returns buf. */
char *gw_config_quote(const char *s, char *buf, size_t size);
#define GW_CFG_QUOTE_SIZE 256

/* "a string", "an integer", ... for "got ..." in messages. */
const char *gw_config_type_desc(const config_setting_t *s);

/* Check every setting of group against keys[0..n), call handlers. where
 * names the group in messages ("servers[0]"). *out_seen (may be NULL) gets
 * a bit per key index that was present with the right type. Returns 0 or
 * -ENOMEM. */
int gw_config_walk(gw_cfg_ctx_t *ctx, const config_setting_t *group, const char *where,
                   const gw_cfg_key_t *keys, size_t n, void *obj, uint64_t *out_seen);
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

/* Check an endpoint name: printable ASCII without ' ', '&', '?', 1..64
 * bytes. Reports at s with what ("endpoint", "gateway name"). true if ok. */
bool gw_config_check_endpoint(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *what,
                              const char *ep);

/* The devices list (config_device.c). Needs ctx->cfg->name and the registry
 * with objects_dir loaded. Returns 0 or -ENOMEM. */
int gw_config_parse_devices(gw_cfg_ctx_t *ctx, const config_setting_t *list);
void gw_config_free_device(gw_config_device_t *d);

/* Nearest candidate to word by edit distance (case-insensitive, adjacent
 * transpositions count as one edit), or NULL when none is close enough to be
 * a plausible typo. (suggest.c) */
const char *gw_config_suggest(const char *word, const char *const *candidates, size_t n);
/* Edit distance as above, capped: returns a value > cap as soon as it is
 * known to exceed cap. */
size_t gw_config_edit_distance(const char *a, const char *b, size_t cap);

#endif
