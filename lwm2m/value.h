/*
 * lwm2m/value.h - the vocabulary shared by every LwM2M module: paths, typed
 * values, records (path + value) and a growable byte buffer.
 *
 * Nothing here allocates except gw_buf_*; values only *borrow* the bytes of
 * strings and opaque data, so a decoder's records point into the payload it
 * was given and a store's records point into its own interned strings.
 */
#ifndef GW_LWM2M_VALUE_H
#define GW_LWM2M_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Resource data types of the LwM2M 1.1 object model (DDF <Type>). */
typedef enum gw_type {
    GW_TYPE_NONE = 0, /* Execute-only resources carry no value */
    GW_TYPE_STRING,
    GW_TYPE_INTEGER,
    GW_TYPE_UNSIGNED,
    GW_TYPE_FLOAT,
    GW_TYPE_BOOLEAN,
    GW_TYPE_OPAQUE,
    GW_TYPE_TIME, /* seconds since the epoch, signed */
    GW_TYPE_OBJLNK,
    GW_TYPE_CORELNK,
} gw_type_t;

/* Name as the DDF spells it ("String", "Unsigned Integer", ...). */
const char *gw_type_name(gw_type_t t);

/* An LwM2M path: /oid/iid/rid/riid, len = number of levels present (0..4).
 * len 0 is the root "/". */
#define GW_ID_NONE 0xFFFFu
typedef struct gw_path {
    uint16_t id[4];
    uint8_t len;
} gw_path_t;

/* Parse "/3/0/1" (also "3/0/1", "/" and "") into out. Every id must be a
 * decimal in 0..65534. Returns 0 or -EINVAL. */
int gw_path_parse(const char *s, gw_path_t *out);
/* Write "/3/0/1" into buf (at least 24 bytes). Returns buf. */
char *gw_path_format(const gw_path_t *p, char *buf, size_t size);
/* True when p equals prefix or lies below it. */
bool gw_path_has_prefix(const gw_path_t *p, const gw_path_t *prefix);
/* Total order: by ids, level by level, a shorter path before its children. */
int gw_path_cmp(const gw_path_t *a, const gw_path_t *b);
/* Convenience constructor. Pass GW_ID_NONE for absent trailing levels. */
gw_path_t gw_path_make(uint16_t oid, uint16_t iid, uint16_t rid, uint16_t riid);

/* A typed value. For STRING, OPAQUE and CORELNK, bytes.ptr is borrowed and is
 * not NUL-terminated (len bytes). */
typedef struct gw_value {
    gw_type_t type;
    union {
        int64_t i;    /* INTEGER, TIME */
        uint64_t u;   /* UNSIGNED */
        double f;     /* FLOAT */
        bool b;       /* BOOLEAN */
        struct {
            uint16_t oid, iid;
        } objlnk;     /* OBJLNK */
        struct {
            const uint8_t *ptr;
            size_t len;
        } bytes;      /* STRING, OPAQUE, CORELNK */
    } v;
} gw_value_t;

/* One resource (instance) value at a full path, as codecs produce and take
 * them. has_time/time carry a SenML timestamp (seconds, may be fractional). */
typedef struct gw_record {
    gw_path_t path;
    gw_value_t value;
    bool has_time;
    double time;
} gw_record_t;

/* Growable byte buffer. Zero-initialise; free with gw_buf_free. */
typedef struct gw_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} gw_buf_t;

int gw_buf_reserve(gw_buf_t *b, size_t extra); /* 0 or -ENOMEM */
int gw_buf_append(gw_buf_t *b, const void *p, size_t n);
int gw_buf_appendf(gw_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gw_buf_free(gw_buf_t *b);

/* Render a value as LwM2M text/plain would (floats with the shortest form
 * that round-trips, booleans as 0/1, objlnk as "3:0", opaque as base64).
 * Appends to out. Returns 0 or -ENOMEM / -EINVAL. */
int gw_value_to_text(const gw_value_t *v, gw_buf_t *out);

/* Convert text (len bytes, not NUL-terminated) to a value of type t. STRING
 * and CORELNK borrow text; OPAQUE is not accepted here (base64 decoding
 * needs storage: see gw_text_decode in codec.h). Returns 0 or -EINVAL. */
int gw_value_from_text(gw_type_t t, const char *text, size_t len, gw_value_t *out);

#endif
