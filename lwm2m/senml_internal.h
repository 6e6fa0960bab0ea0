/*
 * lwm2m/senml_internal.h - what the SenML JSON and SenML CBOR codecs share:
 * names relative to a base, and turning one parsed record into a typed
 * gw_record_t (RFC 8428, OMA LwM2M 1.1 Core 7.4.5 and 7.4.6).
 */
#ifndef GW_LWM2M_SENML_INTERNAL_H
#define GW_LWM2M_SENML_INTERNAL_H

#include "codec.h"

/* Longest name accepted: "/65534/65534/65534/65534" plus slack. */
#define GW_SENML_NAME_MAX 64

/* A SenML number as the wire gave it. KIND_I: i holds it; KIND_U: u holds a
 * value above INT64_MAX; KIND_F: f (also for integers outside both). */
enum { GW_SENML_NUM_I, GW_SENML_NUM_U, GW_SENML_NUM_F };
typedef struct gw_senml_num {
    int kind;
    int64_t i;
    uint64_t u;
    double f;
} gw_senml_num_t;

/* Which value field a record carried. */
enum {
    GW_SENML_V_NONE,
    GW_SENML_V_NUM,    /* "v" */
    GW_SENML_V_STR,    /* "vs" */
    GW_SENML_V_BOOL,   /* "vb" */
    GW_SENML_V_DATA64, /* "vd" as base64 text (JSON) */
    GW_SENML_V_DATA,   /* "vd" as raw bytes (CBOR) */
    GW_SENML_V_OBJLNK, /* "vlo" text */
};

/* The labels of RFC 8428 Table 4 (and LwM2M's "vlo"), as bits of
 * gw_senml_rec_t.seen: a label twice in one record is refused, never
 * "the last one wins". */
enum {
    GW_SENML_L_BVER, GW_SENML_L_BN, GW_SENML_L_BT, GW_SENML_L_BU, GW_SENML_L_BV, GW_SENML_L_BS,
    GW_SENML_L_N, GW_SENML_L_U, GW_SENML_L_V, GW_SENML_L_VS, GW_SENML_L_VB, GW_SENML_L_S,
    GW_SENML_L_T, GW_SENML_L_UT, GW_SENML_L_VD, GW_SENML_L_VLO,
};

/* The SenML version this client reads (RFC 8428 4.4: the default of bver).
 * A pack that declares a higher one is refused. */
#define GW_SENML_VERSION 10

/* Base fields carry over from record to record. */
typedef struct gw_senml_base {
    char bn[GW_SENML_NAME_MAX];
    size_t bn_len;
    double bt;
    bool has_bv;
    gw_senml_num_t bv; /* RFC 8428 4.1: added to each record's "v" */
    int64_t bver;      /* 0 until a record declares one */
} gw_senml_base_t;

typedef struct gw_senml_rec {
    size_t idx;    /* 1 for the pack's first record: names records without a path */
    uint32_t seen; /* 1 << GW_SENML_L_* */
    const char *n; /* borrowed, n_len bytes */
    size_t n_len;
    bool has_t;
    double t;
    int vkind;          /* GW_SENML_V_* */
    gw_senml_num_t num; /* NUM */
    bool b;             /* BOOL */
    const uint8_t *s;   /* STR, DATA64, DATA, OBJLNK: borrowed */
    size_t s_len;
    /* The record's first problem. Labels come in any order (the name may
     * follow a bad value), so it is reported by gw_senml_emit, after the
     * name is known: every diagnostic about a record names its path. */
    char err[96];
} gw_senml_rec_t;

/* Keeps the first problem of a record (see err). */
void gw_senml_rec_err(gw_senml_rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks label as seen in r; false (and r->err set) when it was already:
 * the record then carries one field twice. name is the label as written. */
bool gw_senml_label_once(gw_senml_rec_t *r, int label, const char *name);

/* Takes a "bver": a positive integer no higher than GW_SENML_VERSION, the
 * same in every record of the pack (RFC 8428 4.4). Problems go to r->err. */
void gw_senml_set_bver(gw_senml_base_t *b, gw_senml_rec_t *r, const gw_senml_num_t *num);

/* Sets the base name; -EINVAL (with dec->error) when too long. */
int gw_senml_set_bn(gw_senml_base_t *b, const char *s, size_t len, size_t idx, gw_decoded_t *dec);

/* Resolves the name, reports r->err under it, applies the base value,
 * checks the name against base, converts the value to the looked-up type
 * and appends the record. copy_strings: the string bytes do
 * not outlive the parse (cJSON) and must be copied into dec. */
int gw_senml_emit(const gw_path_t *base, const gw_senml_base_t *b, const gw_senml_rec_t *r,
                  bool copy_strings, gw_type_lookup_fn lookup, void *lookup_ctx,
                  gw_decoded_t *dec);

/* Encoder naming: bn for the first record (NULL when none is written) and
 * n for record r ("" when none). Writes into the caller's buffers of
 * GW_SENML_NAME_MAX bytes. */
void gw_senml_names(const gw_path_t *base, const gw_record_t *recs, size_t n, size_t idx,
                    char *out_bn, char *out_n);

#endif
