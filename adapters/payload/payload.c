/*
 * adapters/payload/payload.c - the codec object: built from the `codec`
 * group of a device entry, shared by reference, and the dispatch of
 * decode/encode/declare to its kind (lpp.c, layout.c, js.c).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "payload_internal.h"

int gw_payload_msg(int rc, char *msg, size_t size, const char *fmt, ...)
{
    if (msg && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int gw_payload_number(const gw_value_t *v, double *out)
{
    switch (v->type) {
    case GW_TYPE_FLOAT:
        *out = v->v.f;
        break;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        *out = (double)v->v.i;
        break;
    case GW_TYPE_UNSIGNED:
        *out = (double)v->v.u;
        break;
    case GW_TYPE_BOOLEAN:
        *out = v->v.b ? 1 : 0;
        break;
    default:
        return -EINVAL;
    }
    return isfinite(*out) ? 0 : -EINVAL;
}

bool gw_payload_int_in(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                       long long *out)
{
    long long v = config_setting_get_int64(s);
    if (v < k->min || v > k->max) {
        gw_config_error(ctx, s, "%s %lld is out of range, expected %s", k->name, v, k->expect);
        return false;
    }
    *out = v;
    return true;
}

static const char *const kinds[] = {"lpp", "layout", "js"};

int gw_payload_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where,
                     gw_payload_codec_t **out)
{
    *out = NULL;
    const char *type = NULL;
    char q[GW_CFG_QUOTE_SIZE];
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        type = config_setting_get_string(s);
        if (strcmp(type, "lpp") != 0) {
            gw_config_error(ctx, s, "%s = %s: only \"lpp\" needs no settings, expected \"lpp\" or "
                            "a group { type = \"%s\"; ... }", where, gw_config_quote(type, q, sizeof q),
                            strcmp(type, "js") == 0 || strcmp(type, "layout") == 0 ? type : "layout");
            return 0;
        }
    } else if (config_setting_is_group(s)) {
        const config_setting_t *t = config_setting_get_member(s, "type");
        if (!t) {
            gw_config_error(ctx, s, "%s has no type, expected type = \"lpp\", \"layout\" or \"js\"",
                            where);
            return 0;
        }
        if (config_setting_type(t) != CONFIG_TYPE_STRING) {
            gw_config_error(ctx, t, "%s.type is %s, expected \"lpp\", \"layout\" or \"js\"", where,
                            gw_config_type_desc(t));
            return 0;
        }
        type = config_setting_get_string(t);
    } else {
        gw_config_error(ctx, s, "%s is %s, expected %s", where, gw_config_type_desc(s),
                        GW_PAYLOAD_CODEC_EXPECT);
        return 0;
    }
    gw_payload_codec_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->refs = 1;
    c->line = config_setting_source_line(s);
    int before = gw_config_errors(ctx), rc = 0;
    if (strcmp(type, "lpp") == 0) {
        c->kind = GW_PAYLOAD_LPP;
        rc = gw_lpp_parse(ctx, s, where, &c->lpp);
    } else if (strcmp(type, "layout") == 0) {
        c->kind = GW_PAYLOAD_LAYOUT;
        rc = gw_lay_parse(ctx, s, where, &c->lay);
    } else if (strcmp(type, "js") == 0) {
        c->kind = GW_PAYLOAD_JS;
        rc = gw_js_parse(ctx, s, where, &c->js);
    } else {
        const char *best = gw_config_suggest(type, kinds, 3);
        gw_config_error(ctx, config_setting_get_member(s, "type"),
                        "%s: unknown codec type %s, %s%s%s", where, gw_config_quote(type, q, sizeof q),
                        best ? "did you mean \"" : "expected \"lpp\", \"layout\" or \"js\"",
                        best ? best : "", best ? "\"?" : "");
    }
    if (rc < 0 || gw_config_errors(ctx) != before) {
        gw_payload_free(&c);
        return rc < 0 ? rc : 0;
    }
    *out = c;
    return 0;
}

gw_payload_codec_t *gw_payload_ref(gw_payload_codec_t *c)
{
    if (c)
        c->refs++;
    return c;
}

void gw_payload_free(gw_payload_codec_t **pc)
{
    if (!pc || !*pc)
        return;
    gw_payload_codec_t *c = *pc;
    *pc = NULL;
    if (--c->refs > 0)
        return;
    gw_lpp_free(&c->lpp);
    gw_lay_free(&c->lay);
    gw_js_free(&c->js);
    free(c);
}

gw_payload_kind_t gw_payload_kind(const gw_payload_codec_t *c)
{
    return c ? c->kind : 0;
}

static void fnv_u(uint64_t *h, uint64_t v)
{
    gw_fnv_bytes(h, &v, sizeof v);
}

static void fnv_path(uint64_t *h, const gw_path_t *p)
{
    fnv_u(h, p->len);
    for (unsigned i = 0; i < p->len && i < 4; i++)
        fnv_u(h, p->id[i]);
}

void gw_payload_fingerprint(const gw_payload_codec_t *c, uint64_t *h)
{
    if (!c) {
        fnv_u(h, 0);
        return;
    }
    fnv_u(h, c->kind);
    switch (c->kind) {
    case GW_PAYLOAD_LPP:
        fnv_u(h, c->lpp.fport);
        fnv_u(h, c->lpp.n);
        for (size_t i = 0; i < c->lpp.n; i++) {
            fnv_u(h, c->lpp.ch[i].channel);
            fnv_u(h, c->lpp.ch[i].type);
        }
        break;
    case GW_PAYLOAD_LAYOUT:
        fnv_u(h, c->lay.n);
        for (size_t i = 0; i < c->lay.n; i++) {
            const gw_lay_port_t *p = &c->lay.ports[i];
            fnv_u(h, p->fport);
            fnv_u(h, p->n);
            for (size_t j = 0; j < p->n; j++) {
                const gw_lay_field_t *f = &p->f[j];
                gw_fnv_str(h, f->name);
                gw_fnv_str(h, f->unit);
                fnv_path(h, &f->path);
                uint64_t w[] = {f->offset, f->length, (uint64_t)f->bit, f->bits, f->type,
                                f->little, (uint64_t)f->decimals, f->writable};
                gw_fnv_bytes(h, w, sizeof w);
                gw_fnv_bytes(h, &f->scale, sizeof f->scale);
                gw_fnv_bytes(h, &f->add, sizeof f->add);
            }
        }
        break;
    case GW_PAYLOAD_JS:
        gw_fnv_str(h, c->js.source);
        fnv_u(h, c->js.timeout_ms);
        fnv_u(h, c->js.memory_kb);
        fnv_u(h, c->js.n_fields);
        for (size_t i = 0; i < c->js.n_fields; i++) {
            gw_fnv_str(h, c->js.fields[i].name);
            gw_fnv_str(h, c->js.fields[i].unit);
            fnv_path(h, &c->js.fields[i].path);
            fnv_u(h, c->js.fields[i].writable);
        }
        break;
    }
}

int gw_payload_decode(gw_payload_codec_t *c, unsigned fport, const uint8_t *bytes, size_t len,
                      gw_payload_emit_fn emit, void *ctx, char *msg, size_t msg_size)
{
    if (!c || !emit || (!bytes && len))
        return gw_payload_msg(-EINVAL, msg, msg_size, "no codec, emitter or bytes");
    switch (c->kind) {
    case GW_PAYLOAD_LPP:
        return gw_lpp_decode(&c->lpp, bytes, len, emit, ctx, msg, msg_size);
    case GW_PAYLOAD_LAYOUT:
        return gw_lay_decode(&c->lay, fport, bytes, len, emit, ctx, msg, msg_size);
    case GW_PAYLOAD_JS:
        return gw_js_decode(&c->js, fport, bytes, len, emit, ctx, msg, msg_size);
    }
    return gw_payload_msg(-EINVAL, msg, msg_size, "codec of unknown kind");
}

int gw_payload_encode(gw_payload_codec_t *c, const char *field, const gw_value_t *value,
                      unsigned *out_fport, uint8_t *out, size_t cap, size_t *out_len, char *msg,
                      size_t msg_size)
{
    if (!c || !field || !value || !out_fport || (!out && cap) || !out_len)
        return gw_payload_msg(-EINVAL, msg, msg_size, "no codec, field, value or output");
    switch (c->kind) {
    case GW_PAYLOAD_LPP:
        return gw_lpp_encode(&c->lpp, field, value, out_fport, out, cap, out_len, msg, msg_size);
    case GW_PAYLOAD_LAYOUT:
        return gw_lay_encode(&c->lay, field, value, out_fport, out, cap, out_len, msg, msg_size);
    case GW_PAYLOAD_JS:
        return gw_js_encode(&c->js, field, value, out_fport, out, cap, out_len, msg, msg_size);
    }
    return gw_payload_msg(-EINVAL, msg, msg_size, "codec of unknown kind");
}

int gw_payload_declare(const gw_payload_codec_t *c, gw_field_decl_t **decls, size_t *n)
{
    if (!c)
        return 0;
    int rc = 0;
    switch (c->kind) {
    case GW_PAYLOAD_LPP:
        return gw_lpp_declare(&c->lpp, decls, n);
    case GW_PAYLOAD_LAYOUT:
        for (size_t i = 0; rc == 0 && i < c->lay.n; i++)
            for (size_t j = 0; rc == 0 && j < c->lay.ports[i].n; j++) {
                const gw_lay_field_t *f = &c->lay.ports[i].f[j];
                bool seen = false;
                /* A field read from an uplink and written by a downlink
                 * (a set point) is declared once, and writable. */
                for (size_t k = 0; k < *n; k++)
                    if (strcmp((*decls)[k].field, f->name) == 0) {
                        seen = true;
                        (*decls)[k].writable |= f->writable;
                    }
                if (!seen)
                    rc = gw_field_decl_add(decls, n, f->name, &f->path, f->unit, f->writable,
                                           f->line);
            }
        return rc;
    case GW_PAYLOAD_JS:
        for (size_t i = 0; rc == 0 && i < c->js.n_fields; i++) {
            const gw_js_decl_t *f = &c->js.fields[i];
            rc = gw_field_decl_add(decls, n, f->name, &f->path, f->unit, f->writable, f->line);
        }
        return rc;
    }
    return 0;
}

static const char *const lay_type_names[] = {"uint", "int", "float", "bool"};

void gw_payload_describe(const gw_payload_codec_t *c, FILE *out)
{
    if (!c)
        return;
    switch (c->kind) {
    case GW_PAYLOAD_LPP:
        fprintf(out, "    codec lpp (line %d), downlinks on FPort %u\n", c->line, c->lpp.fport);
        for (size_t i = 0; i < c->lpp.n; i++) {
            const gw_lpp_type_t *t = gw_lpp_type_find(c->lpp.ch[i].type);
            fprintf(out, "    lpp channel %u: %s (type %u, object %u)\n", c->lpp.ch[i].channel,
                    t->name, t->type, 3200u + t->type);
        }
        break;
    case GW_PAYLOAD_LAYOUT:
        fprintf(out, "    codec layout (line %d)\n", c->line);
        for (size_t i = 0; i < c->lay.n; i++) {
            const gw_lay_port_t *p = &c->lay.ports[i];
            for (size_t j = 0; j < p->n; j++) {
                const gw_lay_field_t *f = &p->f[j];
                fprintf(out, "    fport %u %s: offset %u length %u", p->fport, f->name, f->offset,
                        f->length);
                if (f->bit >= 0)
                    fprintf(out, " bits %d..%u", f->bit, (unsigned)f->bit + f->bits - 1);
                fprintf(out, " %s %s scale %g offset %g%s\n", lay_type_names[f->type],
                        f->little ? "little" : "big", f->scale, f->add,
                        f->writable ? " writable" : "");
            }
        }
        break;
    case GW_PAYLOAD_JS:
        fprintf(out, "    codec js %s (line %d), %u ms and %u KiB per call\n", c->js.origin, c->line,
                c->js.timeout_ms, c->js.memory_kb);
        break;
    }
}
