/*
 * adapters/payload/layout.c - the declarative byte layout: per FPort, the
 * fields of a device's own binary format (offset, length, bit field,
 * type, endianness, scale and offset), and per downlink FPort the fields a
 * write puts into a frame.
 *
 * Overlapping fields are allowed on purpose: a status byte is often read
 * both whole and as bit flags. Every field must lie within the largest
 * LoRaWAN payload (GW_PAYLOAD_MAX_BYTES), which also bounds every read.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lwm2m/precision.h"
#include "payload_internal.h"

/* ---- decode / encode ------------------------------------------------------ */

static uint64_t read_bytes(const uint8_t *p, unsigned n, bool little)
{
    uint64_t u = 0;
    for (unsigned i = 0; i < n; i++)
        u = u << 8 | p[little ? n - 1 - i : i];
    return u;
}

static void write_bytes(uint8_t *p, unsigned n, bool little, uint64_t u)
{
    for (unsigned i = 0; i < n; i++)
        p[little ? i : n - 1 - i] = (uint8_t)(u >> (8 * i));
}

static uint64_t mask_of(unsigned bits)
{
    return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

static int64_t sign_extend(uint64_t u, unsigned bits)
{
    if (bits < 64 && (u >> (bits - 1)) & 1)
        u |= ~0ull << bits;
    return (int64_t)u;
}

static unsigned width_of(const gw_lay_field_t *f)
{
    return f->bit >= 0 ? f->bits : f->length * 8;
}

static int emit_field(const gw_lay_field_t *f, const uint8_t *b, gw_payload_emit_fn emit, void *ctx)
{
    gw_payload_field_t out = {.name = f->name, .unit = f->unit};
    uint64_t u = read_bytes(b + f->offset, f->length, f->little);
    if (f->bit >= 0)
        u = (u >> f->bit) & mask_of(f->bits);
    double x;
    int dec = 0;
    bool plain = f->scale == 1.0 && f->add == 0.0;
    switch (f->type) {
    case LAY_BOOL:
        out.value = (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = u != 0};
        return emit(ctx, &out);
    case LAY_FLOAT:
        if (f->length == 4) {
            uint32_t w = (uint32_t)u;
            float fl;
            memcpy(&fl, &w, sizeof fl);
            if (!isfinite(fl))
                return 0; /* a sensor's "no value" marker: nothing to report */
            x = gw_prec_float32(fl, &dec);
        } else {
            double d;
            memcpy(&d, &u, sizeof d);
            if (!isfinite(d))
                return 0;
            x = gw_prec_double(d, &dec);
        }
        break;
    case LAY_INT:
        if (plain) {
            out.value = (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = sign_extend(u, width_of(f))};
            return emit(ctx, &out);
        }
        x = (double)sign_extend(u, width_of(f));
        break;
    default:
        if (plain) {
            out.value = u > INT64_MAX ? (gw_value_t){.type = GW_TYPE_UNSIGNED, .v.u = u}
                                      : (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = (int64_t)u};
            return emit(ctx, &out);
        }
        x = (double)u;
        break;
    }
    dec = f->decimals >= 0 ? f->decimals : gw_prec_linear(dec, f->scale, f->add);
    x = gw_prec_round(x * f->scale + f->add, dec);
    out.value = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = x};
    out.has_decimals = dec >= -127 && dec <= 127;
    out.decimals = (int8_t)(out.has_decimals ? dec : 0);
    return emit(ctx, &out);
}

static const gw_lay_port_t *find_port(const gw_lay_port_t *p, size_t n, unsigned fport)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].fport == fport && !p[i].f[0].writable) /* an uplink port */
            return &p[i];
    return NULL;
}

int gw_lay_decode(const gw_lay_conf_t *l, unsigned fport, const uint8_t *b, size_t len,
                  gw_payload_emit_fn emit, void *ctx, char *msg, size_t size)
{
    const gw_lay_port_t *p = find_port(l->ports, l->n, fport);
    if (!p)
        return gw_payload_msg(-ENOENT, msg, size, "layout: no uplink layout for FPort %u", fport);
    if (len < p->min_len)
        return gw_payload_msg(-EBADMSG, msg, size,
                              "layout: FPort %u needs at least %zu bytes, got %zu", fport,
                              p->min_len, len);
    for (size_t i = 0; i < p->n; i++) {
        int rc = emit_field(&p->f[i], b, emit, ctx);
        if (rc < 0)
            return rc;
    }
    if (msg && size)
        msg[0] = '\0';
    return 0;
}

int gw_lay_encode(const gw_lay_conf_t *l, const char *field, const gw_value_t *v, unsigned *out_fport,
                  uint8_t *out, size_t cap, size_t *out_len, char *msg, size_t size)
{
    const gw_lay_port_t *port = NULL;
    const gw_lay_field_t *f = NULL;
    for (size_t i = 0; !f && i < l->n; i++)
        for (size_t j = 0; !f && j < l->ports[i].n; j++)
            if (l->ports[i].f[j].writable && strcmp(l->ports[i].f[j].name, field) == 0) {
                port = &l->ports[i];
                f = &port->f[j];
            }
    if (!f)
        return gw_payload_msg(-ENOENT, msg, size, "layout: \"%s\" is not a downlink field", field);
    double x;
    if (gw_payload_number(v, &x) < 0)
        return gw_payload_msg(-EINVAL, msg, size, "layout: %s takes a finite number or a boolean",
                              field);
    if (port->min_len > cap)
        return gw_payload_msg(-ENOSPC, msg, size, "layout: %zu bytes needed, room for %zu",
                              port->min_len, cap);
    uint64_t u;
    double raw = (x - f->add) / f->scale;
    unsigned w = width_of(f);
    if (f->type == LAY_FLOAT) {
        if (f->length == 4) {
            float fl = (float)raw;
            uint32_t b32;
            memcpy(&b32, &fl, sizeof b32);
            u = b32;
        } else {
            memcpy(&u, &raw, sizeof u);
        }
    } else {
        /* Rounded to the nearest step, as the device cannot hold more. */
        double r = round(raw);
        double lo = f->type == LAY_INT ? -ldexp(1, (int)w - 1) : 0;
        double hi = f->type == LAY_INT ? ldexp(1, (int)w - 1) - 1 : ldexp(1, (int)w) - 1;
        if (f->type == LAY_BOOL) {
            lo = 0;
            hi = 1;
            r = raw != 0;
        }
        if (!(r >= lo && r <= hi))
            return gw_payload_msg(-ERANGE, msg, size, "layout: %s %g is outside %g..%g", field, x,
                                  lo * f->scale + f->add, hi * f->scale + f->add);
        u = r < 0 ? (uint64_t)(int64_t)r : (uint64_t)r;
    }
    /* One write is one frame: the other bytes of the port are zero. */
    memset(out, 0, port->min_len);
    if (f->bit >= 0)
        u = (u & mask_of(f->bits)) << f->bit;
    else
        u &= mask_of(f->length * 8);
    write_bytes(out + f->offset, f->length, f->little, u);
    *out_len = port->min_len;
    *out_fport = port->fport;
    if (msg && size)
        msg[0] = '\0';
    return 0;
}

/* ---- configuration ------------------------------------------------------- */

enum { C_TYPE, C_UP, C_DOWN, C_N };
enum { P_FPORT, P_FIELDS, P_N };
enum { F_NAME, F_OFFSET, F_LENGTH, F_TYPE, F_ENDIAN, F_BIT, F_BITS, F_SCALE, F_ADD, F_DEC, F_UNIT,
       F_PATH, F_N };

static const gw_cfg_key_t codec_keys[] = {
    {"type", GW_CFG_STRING, "\"lpp\", \"layout\" or \"js\"", true, NULL, C_TYPE, 0, 0},
    {"uplinks", GW_CFG_LIST, "a list of groups { fport = 2; fields = (...); }", false, NULL, C_UP,
     0, 0},
    {"downlinks", GW_CFG_LIST, "a list of groups { fport = 10; fields = (...); }", false, NULL,
     C_DOWN, 0, 0},
};

static const gw_cfg_key_t port_keys[] = {
    {"fport", GW_CFG_INT, "an integer (FPort, 1..223; 0 for BLE)", true, NULL, P_FPORT, 0, 223},
    {"fields", GW_CFG_LIST, "a list of groups { name = \"temperature\"; offset = 0; length = 2; }",
     true, NULL, P_FIELDS, 0, 0},
};

static const gw_cfg_key_t field_keys[] = {
    {"name", GW_CFG_STRING, "a string (the field it produces, e.g. \"temperature\")", true, NULL,
     F_NAME, 0, 0},
    {"offset", GW_CFG_INT, "an integer (first byte, 0..241)", true, NULL, F_OFFSET, 0,
     GW_PAYLOAD_MAX_BYTES - 1},
    {"length", GW_CFG_INT, "an integer (bytes, 1..8)", false, NULL, F_LENGTH, 1, 8},
    {"type", GW_CFG_STRING, "\"uint\", \"int\" (signed), \"float\" or \"bool\"", false, NULL,
     F_TYPE, 0, 0},
    {"endian", GW_CFG_STRING, "\"big\" or \"little\"", false, NULL, F_ENDIAN, 0, 0},
    {"bit", GW_CFG_INT, "an integer (lowest bit of a bit field, 0 = least significant, 0..63)",
     false, NULL, F_BIT, 0, 63},
    {"bits", GW_CFG_INT, "an integer (width of a bit field, 1..64)", false, NULL, F_BITS, 1, 64},
    {"scale", GW_CFG_NUMBER, "a number (value = raw * scale + add, not 0)", false, NULL, F_SCALE,
     0, 0},
    {"add", GW_CFG_NUMBER, "a number (value = raw * scale + add)", false, NULL, F_ADD, 0, 0},
    {"decimals", GW_CFG_INT, "an integer (decimals of the value, 0..15)", false, NULL, F_DEC, 0,
     15},
    {"unit", GW_CFG_STRING, "a string (unit of the value, e.g. \"Cel\")", false, NULL, F_UNIT, 0,
     0},
    {"path", GW_CFG_STRING, "a string (resource path such as \"/3303/0/5700\")", false, NULL,
     F_PATH, 0, 0},
};

static double num(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                         : (double)config_setting_get_int64(s);
}

static const char *const type_names[] = {"uint", "int", "float", "bool"};

/* One field; false when a problem was reported. */
static int parse_field(gw_cfg_ctx_t *ctx, const config_setting_t *g, const char *w, bool writable,
                       gw_lay_field_t *f, bool *ok)
{
    const config_setting_t *s[F_N] = {0};
    char q[GW_CFG_QUOTE_SIZE];
    int before = gw_config_errors(ctx);
    int rc = gw_config_walk(ctx, g, w, field_keys, F_N, s, NULL);
    if (rc < 0)
        return rc;
    *f = (gw_lay_field_t){.length = 1, .bit = -1, .scale = 1, .decimals = -1, .writable = writable,
                          .line = config_setting_source_line(g)};
    long long v;
    if (s[F_OFFSET] && gw_payload_int_in(ctx, s[F_OFFSET], &field_keys[F_OFFSET], &v))
        f->offset = (unsigned)v;
    if (s[F_LENGTH] && gw_payload_int_in(ctx, s[F_LENGTH], &field_keys[F_LENGTH], &v))
        f->length = (unsigned)v;
    if (s[F_TYPE]) {
        const char *t = config_setting_get_string(s[F_TYPE]);
        size_t i = 0;
        while (i < 4 && strcmp(t, type_names[i]) != 0)
            i++;
        if (i == 4) {
            const char *best = gw_config_suggest(t, type_names, 4);
            gw_config_error(ctx, s[F_TYPE], "%s: unknown type %s, %s%s%s", w,
                            gw_config_quote(t, q, sizeof q),
                            best ? "did you mean \"" : "expected \"uint\", \"int\", \"float\" or \"bool\"",
                            best ? best : "", best ? "\"?" : "");
        } else {
            f->type = (gw_lay_type_t)i;
        }
    }
    if (s[F_ENDIAN]) {
        const char *e = config_setting_get_string(s[F_ENDIAN]);
        if (strcmp(e, "little") == 0)
            f->little = true;
        else if (strcmp(e, "big") != 0)
            gw_config_error(ctx, s[F_ENDIAN], "%s: endian %s, expected \"big\" or \"little\"", w,
                            gw_config_quote(e, q, sizeof q));
    }
    if (s[F_BIT] && gw_payload_int_in(ctx, s[F_BIT], &field_keys[F_BIT], &v))
        f->bit = (int)v;
    if (s[F_BITS] && gw_payload_int_in(ctx, s[F_BITS], &field_keys[F_BITS], &v))
        f->bits = (unsigned)v;
    if (s[F_BIT] && !s[F_BITS])
        f->bits = 1;
    if (s[F_BITS] && !s[F_BIT])
        f->bit = 0;
    if (f->bit >= 0 && (unsigned)f->bit + f->bits > f->length * 8)
        gw_config_error(ctx, s[F_BIT] ? s[F_BIT] : s[F_BITS],
                        "%s: bits %d..%u lie past the %u byte(s) of the field, expected bit + bits "
                        "<= %u (or a larger length)", w, f->bit, (unsigned)f->bit + f->bits - 1,
                        f->length, f->length * 8);
    if (f->type == LAY_FLOAT && (f->length != 4 && f->length != 8))
        gw_config_error(ctx, s[F_LENGTH] ? s[F_LENGTH] : g,
                        "%s: a float is %u byte(s) long, expected length = 4 or 8", w, f->length);
    if (f->type == LAY_FLOAT && f->bit >= 0)
        gw_config_error(ctx, s[F_BIT] ? s[F_BIT] : s[F_BITS],
                        "%s: a float cannot be a bit field, expected no bit/bits", w);
    if (f->offset + f->length > GW_PAYLOAD_MAX_BYTES)
        gw_config_error(ctx, s[F_OFFSET], "%s: bytes %u..%u lie past the largest payload, expected "
                        "offset + length <= %d", w, f->offset, f->offset + f->length - 1,
                        GW_PAYLOAD_MAX_BYTES);
    if (s[F_SCALE]) {
        f->scale = num(s[F_SCALE]);
        if (f->scale == 0 || !isfinite(f->scale))
            gw_config_error(ctx, s[F_SCALE], "%s: scale %g, expected a finite number other than 0",
                            w, f->scale);
    }
    if (s[F_ADD]) {
        f->add = num(s[F_ADD]);
        if (!isfinite(f->add))
            gw_config_error(ctx, s[F_ADD], "%s: add is not finite, expected a number", w);
    }
    if (s[F_DEC] && gw_payload_int_in(ctx, s[F_DEC], &field_keys[F_DEC], &v))
        f->decimals = (int)v;
    if (s[F_PATH]) {
        const char *p = config_setting_get_string(s[F_PATH]);
        if (gw_path_parse(p, &f->path) < 0 || f->path.len < 3)
            gw_config_error(ctx, s[F_PATH], "%s: path %s, expected /object/instance/resource"
                            "[/instance] such as \"/3303/0/5700\"", w, gw_config_quote(p, q, sizeof q));
    }
    if (s[F_NAME]) {
        const char *n = config_setting_get_string(s[F_NAME]);
        if (!n[0])
            gw_config_error(ctx, s[F_NAME], "%s: empty name, expected a field name", w);
        f->name = strdup(n);
        if (!f->name)
            return -ENOMEM;
    }
    if (s[F_UNIT] && !(f->unit = strdup(config_setting_get_string(s[F_UNIT]))))
        return -ENOMEM;
    *ok = gw_config_errors(ctx) == before && f->name;
    return 0;
}

static void port_free(gw_lay_port_t *p)
{
    for (size_t j = 0; j < p->n; j++) {
        free(p->f[j].name);
        free(p->f[j].unit);
    }
    free(p->f);
}

static int parse_ports(gw_cfg_ctx_t *ctx, const config_setting_t *list, const char *where,
                       const char *key, bool writable, gw_lay_conf_t *l)
{
    gw_cfg_list_t it = {.list = list, .prefix = where, .name = key,
                        .shape = "{ fport = 2; fields = (...); }", .phrase = GW_CFG_LIST_EXPECTED};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *g = it.group;
        const char *w = it.where;
        const config_setting_t *s[P_N] = {0};
        int rc = gw_config_walk(ctx, g, w, port_keys, P_N, s, NULL);
        if (rc < 0)
            return rc;
        long long fport;
        if (!s[P_FPORT] || !s[P_FIELDS] || !gw_payload_int_in(ctx, s[P_FPORT], &port_keys[P_FPORT], &fport))
            continue;
        for (size_t j = 0; j < l->n; j++)
            if (l->ports[j].fport == fport && l->ports[j].f[0].writable == writable)
                gw_config_error(ctx, s[P_FPORT], "%s: FPort %lld is described twice (line %d), "
                                "expected one layout per FPort", w, fport, l->ports[j].line);
        int nf = config_setting_length(s[P_FIELDS]);
        if (nf == 0) {
            gw_config_error(ctx, s[P_FIELDS], "%s: no fields, expected at least one", w);
            continue;
        }
        gw_lay_port_t port = {.fport = (unsigned)fport, .line = config_setting_source_line(g)};
        port.f = calloc((size_t)nf, sizeof(*port.f));
        if (!port.f)
            return -ENOMEM;
        /* A port with any problem in its fields is left out whole. */
        int before = gw_config_errors(ctx);
        gw_cfg_list_t fit = {.list = s[P_FIELDS], .prefix = w, .name = "fields",
                             .shape = "{ name = \"temperature\"; offset = 0; length = 2; }",
                             .phrase = GW_CFG_LIST_EXPECTED};
        while (gw_config_list_next(ctx, &fit)) {
            bool ok = false;
            rc = parse_field(ctx, fit.group, fit.where, writable, &port.f[port.n], &ok);
            port.n++;
            if (rc < 0) {
                port_free(&port);
                return rc;
            }
            if (!ok)
                continue;
            const gw_lay_field_t *f = &port.f[port.n - 1];
            for (size_t m = 0; m + 1 < port.n; m++)
                if (port.f[m].name && strcmp(port.f[m].name, f->name) == 0)
                    gw_config_error(ctx, fit.group, "%s: field \"%s\" appears twice in FPort %lld "
                                    "(line %d), expected distinct names", fit.where, f->name,
                                    fport, port.f[m].line);
            if (f->offset + f->length > port.min_len)
                port.min_len = f->offset + f->length;
        }
        bool all_ok = gw_config_errors(ctx) == before;
        gw_lay_port_t *np = all_ok ? realloc(l->ports, (l->n + 1) * sizeof(*np)) : NULL;
        if (!np) {
            port_free(&port);
            if (all_ok)
                return -ENOMEM;
            continue;
        }
        l->ports = np;
        l->ports[l->n++] = port;
    }
    return 0;
}

int gw_lay_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where, gw_lay_conf_t *l)
{
    const config_setting_t *set[C_N] = {0};
    int rc = gw_config_walk(ctx, s, where, codec_keys, C_N, set, NULL);
    if (rc < 0)
        return rc;
    if (!set[C_UP] && !set[C_DOWN]) {
        gw_config_error(ctx, s, "%s: a layout codec without uplinks or downlinks, expected "
                        "uplinks = ({ fport = 2; fields = (...); })", where);
        return 0;
    }
    if (set[C_UP] && (rc = parse_ports(ctx, set[C_UP], where, "uplinks", false, l)) < 0)
        return rc;
    if (set[C_DOWN] && (rc = parse_ports(ctx, set[C_DOWN], where, "downlinks", true, l)) < 0)
        return rc;
    return 0;
}

void gw_lay_free(gw_lay_conf_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        port_free(&l->ports[i]);
    free(l->ports);
    *l = (gw_lay_conf_t){0};
}
