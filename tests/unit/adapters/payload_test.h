/*
 * tests/unit/adapters/payload_test.h - helpers of the payload codec tests:
 * a codec parsed from configuration text through the real diagnostics, and
 * a collector of decoded fields.
 */
#ifndef GW_TESTS_PAYLOAD_TEST_H
#define GW_TESTS_PAYLOAD_TEST_H

#include <libconfig.h>

#include "adapters/payload/payload.h"
#include "mapping/config_internal.h"

typedef struct {
    char text[4096];  /* every diagnostic, one per line */
    int n;
} pt_diags_t;

static inline void pt_diag(void *ctx, const char *file, int line, const char *msg)
{
    pt_diags_t *d = ctx;
    size_t at = strlen(d->text);
    snprintf(d->text + at, sizeof d->text - at, "%s:%d: %s\n", file ? file : "?", line, msg);
    d->n++;
}

/* Parse `codec = ...;` from text (file name "t.conf" in messages; a file
 * in dir when dir is set, so relative scripts resolve). Returns the codec
 * or NULL, with the diagnostics in *d. */
static inline gw_payload_codec_t *pt_parse(const char *text, pt_diags_t *d, const char *dir)
{
    config_t cf;
    config_init(&cf);
    memset(d, 0, sizeof *d);
    char path[512];
    int ok;
    if (dir) {
        snprintf(path, sizeof path, "%s/t.conf", dir);
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        ok = config_read_file(&cf, path);
    } else {
        ok = config_read_string(&cf, text);
    }
    if (!ok) {
        fprintf(stderr, "  config syntax: %s line %d\n", config_error_text(&cf),
                config_error_line(&cf));
        config_destroy(&cf);
        return NULL;
    }
    gw_cfg_ctx_t ctx = {.file = "t.conf", .diag = pt_diag, .diag_ctx = d};
    gw_payload_codec_t *c = NULL;
    int rc = gw_payload_parse(&ctx, config_lookup(&cf, "codec"), "devices[0].codec", &c);
    gw_config_flush_diags(&ctx);
    if (rc < 0)
        fprintf(stderr, "  parse returned %d\n", rc);
    config_destroy(&cf);
    return c;
}

typedef struct {
    char name[64][128];
    gw_value_t v[64];
    char str[64][64];
    char unit[64][16];
    int dec[64]; /* -1 when no decimals */
    int n;
} pt_fields_t;

static inline int pt_emit(void *ctx, const gw_payload_field_t *f)
{
    pt_fields_t *o = ctx;
    if (o->n >= 64)
        return -ENOSPC;
    snprintf(o->name[o->n], sizeof o->name[0], "%s", f->name);
    o->v[o->n] = f->value;
    if (f->value.type == GW_TYPE_STRING) {
        snprintf(o->str[o->n], sizeof o->str[0], "%.*s", (int)f->value.v.bytes.len,
                 (const char *)f->value.v.bytes.ptr);
        o->v[o->n].v.bytes.ptr = (const uint8_t *)o->str[o->n];
    }
    snprintf(o->unit[o->n], sizeof o->unit[0], "%s", f->unit ? f->unit : "");
    o->dec[o->n] = f->has_decimals ? f->decimals : -1;
    o->n++;
    return 0;
}

/* The number of field i whatever its numeric type. */
static inline double pt_num(const pt_fields_t *o, int i)
{
    switch (o->v[i].type) {
    case GW_TYPE_FLOAT:
        return o->v[i].v.f;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        return (double)o->v[i].v.i;
    case GW_TYPE_UNSIGNED:
        return (double)o->v[i].v.u;
    case GW_TYPE_BOOLEAN:
        return o->v[i].v.b;
    default:
        return NAN;
    }
}

#endif
