/*
 * adapters/payload/payload_internal.h - what the codec kinds share inside
 * adapters/payload/ (not for adapters: they use payload.h).
 */
#ifndef GW_ADAPTERS_PAYLOAD_INTERNAL_H
#define GW_ADAPTERS_PAYLOAD_INTERNAL_H

#include "payload.h"

/* ---- LPP ---------------------------------------------------------------- */

/* The value an LPP type carries, beyond plain numbers. */
typedef enum { LPP_NUM, LPP_BOOL, LPP_TIME, LPP_COLOUR } gw_lpp_form_t;

typedef struct gw_lpp_type {
    uint8_t type;          /* LPP data type; the IPSO object is type + 3200 */
    const char *name;      /* field name stem, a default-map kind where one exists */
    uint8_t size;          /* bytes of the value */
    uint8_t n_vals;        /* values of `width` bytes each (3 for an accelerometer) */
    uint8_t width;
    bool is_signed;
    uint8_t decimals;      /* the step is 10^-decimals ... */
    bool half;             /* ... or 0.5 (humidity) */
    gw_lpp_form_t form;
    const char *unit;      /* NULL: none */
    uint16_t rid[3];       /* resource of each value */
    const char *axis[3];   /* suffix of each value's name when n_vals > 1 */
} gw_lpp_type_t;

const gw_lpp_type_t *gw_lpp_type_find(uint8_t type);
const gw_lpp_type_t *gw_lpp_type_by_name(const char *name);
/* Every type name, for "did you mean" and the docs; n entries. */
const char *const *gw_lpp_type_names(size_t *n);

typedef struct gw_lpp_chan {
    uint8_t channel, type;
    int line;
} gw_lpp_chan_t;

typedef struct gw_lpp_conf {
    gw_lpp_chan_t *ch;
    size_t n;
    unsigned fport;        /* downlinks */
} gw_lpp_conf_t;

/* ---- byte layout -------------------------------------------------------- */

typedef enum { LAY_UINT, LAY_INT, LAY_FLOAT, LAY_BOOL } gw_lay_type_t;

typedef struct gw_lay_field {
    char *name;
    char *unit;
    gw_path_t path;
    unsigned offset;       /* byte offset */
    unsigned length;       /* bytes (1..8; 4 or 8 for float) */
    int bit;               /* -1: whole bytes; else first bit (0 = LSB) ... */
    unsigned bits;         /* ... and count, within `length` bytes read as one integer */
    gw_lay_type_t type;
    bool little;
    double scale, add;
    int decimals;          /* -1: derived from scale */
    bool writable;
    int line;
} gw_lay_field_t;

typedef struct gw_lay_port {
    unsigned fport;
    gw_lay_field_t *f;
    size_t n;
    size_t min_len;        /* bytes a payload needs */
    int line;
} gw_lay_port_t;

typedef struct gw_lay_conf {
    gw_lay_port_t *ports;
    size_t n;
} gw_lay_conf_t;

/* ---- JavaScript --------------------------------------------------------- */

typedef struct gw_js gw_js_t;

typedef struct gw_js_decl {
    char *name, *unit;
    gw_path_t path;
    bool writable;
    int line;
} gw_js_decl_t;

typedef struct gw_js_conf {
    char *source;          /* the script text */
    char *origin;          /* file name or "inline", for messages */
    unsigned timeout_ms, memory_kb;
    gw_js_decl_t *fields;
    size_t n_fields;
    unsigned fport;        /* downlinks whose encoder names no fPort */
    gw_js_t *engine;
} gw_js_conf_t;

/* ---- the codec ---------------------------------------------------------- */

struct gw_payload_codec {
    int refs;
    gw_payload_kind_t kind;
    int line;
    gw_lpp_conf_t lpp;
    gw_lay_conf_t lay;
    gw_js_conf_t js;
};

/* printf into msg when msg is not NULL; returns rc (for `return fail(...)`). */
int gw_payload_msg(int rc, char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A value a downlink encodes as a number: integers, times and booleans (0
 * or 1) as a double. 0, or -EINVAL for other types and for NaN and the
 * infinities, which no field of a frame holds. */
int gw_payload_number(const gw_value_t *v, double *out);

/* The integer setting s within k's min..max: true with *out set, or false
 * once "file:line: <key> <v> is out of range, expected <k->expect>" is
 * reported (the key tables' walk checks only the type). */
bool gw_payload_int_in(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                       long long *out);

int gw_lpp_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where, gw_lpp_conf_t *l);
int gw_lpp_decode(const gw_lpp_conf_t *l, const uint8_t *b, size_t len, gw_payload_emit_fn emit,
                  void *ctx, char *msg, size_t size);
int gw_lpp_encode(const gw_lpp_conf_t *l, const char *field, const gw_value_t *v, unsigned *out_fport,
                  uint8_t *out, size_t cap, size_t *out_len, char *msg, size_t size);
int gw_lpp_declare(const gw_lpp_conf_t *l, gw_field_decl_t **decls, size_t *n);
void gw_lpp_free(gw_lpp_conf_t *l);

int gw_lay_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where, gw_lay_conf_t *l);
int gw_lay_decode(const gw_lay_conf_t *l, unsigned fport, const uint8_t *b, size_t len,
                  gw_payload_emit_fn emit, void *ctx, char *msg, size_t size);
int gw_lay_encode(const gw_lay_conf_t *l, const char *field, const gw_value_t *v, unsigned *out_fport,
                  uint8_t *out, size_t cap, size_t *out_len, char *msg, size_t size);
void gw_lay_free(gw_lay_conf_t *l);

int gw_js_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where, gw_js_conf_t *j);
int gw_js_decode(gw_js_conf_t *j, unsigned fport, const uint8_t *b, size_t len,
                 gw_payload_emit_fn emit, void *ctx, char *msg, size_t size);
int gw_js_encode(gw_js_conf_t *j, const char *field, const gw_value_t *v, unsigned *out_fport,
                 uint8_t *out, size_t cap, size_t *out_len, char *msg, size_t size);
void gw_js_free(gw_js_conf_t *j);

/* The engine alone (js_engine.c), for tests and the bench through
 * gw_js_conf_t: compile source (origin names it in messages) with the
 * limits; 0, -EINVAL (msg: the engine's error) or -ENOMEM. */
int gw_js_engine_new(const char *source, const char *origin, unsigned timeout_ms, unsigned memory_kb,
                     gw_js_t **out, char *msg, size_t size);
void gw_js_engine_free(gw_js_t **e);
bool gw_js_engine_has(gw_js_t *e, const char *fn);

#endif
