/*
 * adapters/adapter_config.h - what an adapter may use to read its own part
 * of the configuration file: the libconfig subtree, the key tables that
 * check a group (unknown keys with "did you mean", wrong types, missing
 * required keys) and the shared diagnostics, which report every problem as
 * "file:line: what is wrong, what is expected".
 *
 * The loader (mapping/config*.c) implements these; an adapter sees only
 * this header, never the common configuration's structures.
 */
#ifndef GW_ADAPTERS_ADAPTER_CONFIG_H
#define GW_ADAPTERS_ADAPTER_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lwm2m/value.h"

/* The load in progress (opaque): where diagnostics go. */
typedef struct gw_cfg_ctx gw_cfg_ctx_t;

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
    /* NULL: the walk only notes which setting the key is, storing it at
     * ((const config_setting_t **)obj)[offset], for groups whose keys mean
     * something together (a register needs its field and its address): obj
     * is then an array the caller zeroes, one pointer per key, borrowed
     * from the libconfig tree. */
    gw_cfg_handler_fn handler;
    size_t offset;          /* field of obj, for the generic handlers; index with no handler */
    long long min, max;     /* range, for gw_config_h_int32 */
};

/* Report a problem at setting s (file and line taken from it; s may be NULL
 * for "no line"). Counts the error. printf-style. */
void gw_config_error(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same with an explicit line in the main file. */
void gw_config_error_at(gw_cfg_ctx_t *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Errors reported so far in this load: an adapter compares it before and
 * after a check to know whether the check found something. */
int gw_config_errors(const gw_cfg_ctx_t *ctx);

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

/* How an element of a list of groups that is not a group is reported; two
 * wordings exist because users and tests already know each list's. */
typedef enum {
    GW_CFG_LIST_MUST_BE,  /* "<where> must be a group <shape>, got <type>" */
    GW_CFG_LIST_EXPECTED, /* "<where> is <type>, expected a group <shape>" */
} gw_cfg_list_phrase_t;

#define GW_CFG_WHERE_SIZE 192

/* A walk over a list of groups (`registers = ( { ... }, { ... } )`):
 *
 *     gw_cfg_list_t it = {.list = list, .name = "registers",
 *                         .shape = "{ field = ...; address = ...; }"};
 *     while (gw_config_list_next(ctx, &it))
 *         ... it.group, it.where, it.index ...
 *
 * The caller sets the first five fields (zeroing the rest); the strings are
 * borrowed for the walk. */
typedef struct gw_cfg_list {
    const config_setting_t *list;  /* a list or array setting; NULL walks nothing */
    const char *prefix;            /* NULL, or what the list belongs to: "devices[0].codec" */
    const char *name;              /* the list's key: elements are "<prefix>.<name>[i]" */
    const char *shape;             /* what a group looks like: "{ field = ...; }" */
    gw_cfg_list_phrase_t phrase;
    /* Set by gw_config_list_next for the element it returned: */
    const config_setting_t *group; /* the element, a group (borrowed from the tree) */
    int index;                     /* its position in the list, from 0 */
    char where[GW_CFG_WHERE_SIZE]; /* "registers[2]", for messages (cut if longer) */
    int next;                      /* position of the next element to look at */
} gw_cfg_list_t;

/* Step to the next element of it->list that is a group and return true, or
 * return false at the end. An element that is not a group is reported
 * through gw_config_error at its own line (file:line: registers[1] must be
 * a group { field = ...; address = ...; }, got an integer) and skipped, so
 * one bad entry does not hide the problems of the others. Allocates
 * nothing and cannot fail. */
bool gw_config_list_next(gw_cfg_ctx_t *ctx, gw_cfg_list_t *it);

/* Nearest candidate to word by edit distance (case-insensitive, adjacent
 * transpositions count as one edit), or NULL when none is close enough to be
 * a plausible typo. */
const char *gw_config_suggest(const char *word, const char *const *candidates, size_t n);

/* The parsed `adapters.<name>` section of the adapter called name in the
 * load in progress (what its parse_section returned), NULL when none. For a
 * device key handler that checks a reference into the section (a bus). */
const void *gw_config_section(const gw_cfg_ctx_t *ctx, const char *name);

/* A field an adapter declares a device produces (a Modbus register, a
 * simulated wave), so that the mapping layer fixes its instance before the
 * first reading and --print-mapping shows it. Strings are owned by the
 * array's owner (gw_field_decls_free). */
typedef struct gw_field_decl {
    char *field;                  /* the reading's field name */
    gw_path_t path;               /* len 0: the field's mapping (resources entry or default
                                     map) decides */
    char *unit;                   /* unit the readings come in, NULL: the object's */
    bool writable;                /* LwM2M Write/Execute reach the adapter */
    int line;                     /* config line of the entry that declares it */
} gw_field_decl_t;

/* Append a declaration (field and unit copied). 0 or -ENOMEM. */
int gw_field_decl_add(gw_field_decl_t **decls, size_t *n, const char *field,
                      const gw_path_t *path, const char *unit, bool writable, int line);
void gw_field_decls_free(gw_field_decl_t **decls, size_t *n);

/* 64-bit FNV-1a, for fingerprints of an adapter's configuration: start
 * with GW_FNV_OFFSET, feed bytes or strings (NULL differs from ""). */
#define GW_FNV_OFFSET 14695981039346656037ull
void gw_fnv_bytes(uint64_t *h, const void *p, size_t n);
void gw_fnv_str(uint64_t *h, const char *s);

#endif
