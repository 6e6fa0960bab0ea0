/*
 * adapters/payload/lpp.c - Cayenne Low Power Payload (myDevices CayenneLPP
 * README; the extended types as the CayenneLPP Arduino library defines
 * them): a payload is a sequence of [channel, type, value] with the value
 * big-endian; LPP type + 3200 is the IPSO object id, the channel becomes
 * the instance.
 *
 * The payload is walked twice: once to check that every triple is whole
 * and of a known type, once to emit. A truncated frame thus produces no
 * field at all rather than the first half of a measurement set.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload_internal.h"

#define NOAX {NULL, NULL, NULL}

/* Sizes, signedness and steps: CayenneLPP (myDevices) and the CayenneLPP
 * library's extended types. Resources: the IPSO objects' main value
 * (5700 Sensor Value, 5500/5550 digital states, 5600/5650 analog values,
 * 5702..5704 axes, 5705 compass direction, 5506 current time, 5706
 * colour, 6051/6052 numeric latitude/longitude of Location 3336). */
static const gw_lpp_type_t types[] = {
    {0, "digital_input", 1, 1, 1, false, 0, false, LPP_BOOL, NULL, {5500, 0, 0}, NOAX},
    {1, "digital_output", 1, 1, 1, false, 0, false, LPP_BOOL, NULL, {5550, 0, 0}, NOAX},
    {2, "analog_input", 2, 1, 2, true, 2, false, LPP_NUM, NULL, {5600, 0, 0}, NOAX},
    {3, "analog_output", 2, 1, 2, true, 2, false, LPP_NUM, NULL, {5650, 0, 0}, NOAX},
    {100, "generic", 4, 1, 4, false, 0, false, LPP_NUM, NULL, {5700, 0, 0}, NOAX},
    {101, "illuminance", 2, 1, 2, false, 0, false, LPP_NUM, "lx", {5700, 0, 0}, NOAX},
    {102, "presence", 1, 1, 1, false, 0, false, LPP_BOOL, NULL, {5500, 0, 0}, NOAX},
    {103, "temperature", 2, 1, 2, true, 1, false, LPP_NUM, "Cel", {5700, 0, 0}, NOAX},
    {104, "humidity", 1, 1, 1, false, 1, true, LPP_NUM, "%RH", {5700, 0, 0}, NOAX},
    {113, "accelerometer", 6, 3, 2, true, 3, false, LPP_NUM, "G", {5702, 5703, 5704},
     {"x", "y", "z"}},
    {115, "pressure", 2, 1, 2, false, 1, false, LPP_NUM, "hPa", {5700, 0, 0}, NOAX},
    {116, "voltage", 2, 1, 2, false, 2, false, LPP_NUM, "V", {5700, 0, 0}, NOAX},
    {117, "current", 2, 1, 2, false, 3, false, LPP_NUM, "A", {5700, 0, 0}, NOAX},
    {118, "frequency", 4, 1, 4, false, 0, false, LPP_NUM, "Hz", {5700, 0, 0}, NOAX},
    {120, "percentage", 1, 1, 1, false, 0, false, LPP_NUM, "%", {5700, 0, 0}, NOAX},
    {121, "altitude", 2, 1, 2, true, 0, false, LPP_NUM, "m", {5700, 0, 0}, NOAX},
    {125, "concentration", 2, 1, 2, false, 0, false, LPP_NUM, "ppm", {5700, 0, 0}, NOAX},
    {128, "power", 2, 1, 2, false, 0, false, LPP_NUM, "W", {5700, 0, 0}, NOAX},
    {130, "distance", 4, 1, 4, false, 3, false, LPP_NUM, "m", {5700, 0, 0}, NOAX},
    {131, "energy", 4, 1, 4, false, 3, false, LPP_NUM, "kWh", {5700, 0, 0}, NOAX},
    {132, "direction", 2, 1, 2, false, 0, false, LPP_NUM, "deg", {5705, 0, 0}, NOAX},
    {133, "unixtime", 4, 1, 4, false, 0, false, LPP_TIME, NULL, {5506, 0, 0}, NOAX},
    {134, "gyrometer", 6, 3, 2, true, 2, false, LPP_NUM, "deg/s", {5702, 5703, 5704},
     {"x", "y", "z"}},
    {135, "colour", 3, 1, 3, false, 0, false, LPP_COLOUR, NULL, {5706, 0, 0}, NOAX},
    /* Latitude and longitude 0.0001 deg, altitude 0.01 m, 3 bytes each,
     * signed. Location 3336 has no altitude resource: see gps_alt_path. */
    {136, "gps", 9, 3, 3, true, 4, false, LPP_NUM, NULL, {6051, 6052, 0},
     {"latitude", "longitude", "altitude"}},
    {142, "on_off", 1, 1, 1, false, 0, false, LPP_BOOL, NULL, {5500, 0, 0}, NOAX},
};
#define N_TYPES (sizeof types / sizeof types[0])

static const char *const type_names[N_TYPES] = {
    "digital_input", "digital_output", "analog_input", "analog_output", "generic", "illuminance",
    "presence", "temperature", "humidity", "accelerometer", "pressure", "voltage", "current",
    "frequency", "percentage", "altitude", "concentration", "power", "distance", "energy",
    "direction", "unixtime", "gyrometer", "colour", "gps", "on_off",
};

const gw_lpp_type_t *gw_lpp_type_find(uint8_t type)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (types[i].type == type)
            return &types[i];
    return NULL;
}

const gw_lpp_type_t *gw_lpp_type_by_name(const char *name)
{
    for (size_t i = 0; name && i < N_TYPES; i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

const char *const *gw_lpp_type_names(size_t *n)
{
    *n = N_TYPES;
    return type_names;
}

static int64_t be_value(const uint8_t *p, unsigned width, bool is_signed)
{
    uint64_t u = 0;
    for (unsigned i = 0; i < width; i++)
        u = u << 8 | p[i];
    if (is_signed && width < 8 && (u >> (width * 8 - 1)) & 1)
        u |= ~0ull << (width * 8);
    return (int64_t)u;
}

static const double pow10_tab[] = {1, 10, 100, 1000, 10000};

/* The decimals of value k of type t: GPS altitude is 0.01 m beside its
 * 0.0001 deg coordinates. */
static int value_decimals(const gw_lpp_type_t *t, unsigned k)
{
    return t->type == 136 && k == 2 ? 2 : t->decimals;
}

static void field_name(char *buf, size_t size, const gw_lpp_type_t *t, unsigned ch, unsigned k)
{
    if (t->n_vals > 1)
        snprintf(buf, size, "%s_%u_%s", t->name, ch, t->axis[k]);
    else
        snprintf(buf, size, "%s_%u", t->name, ch);
}

static int emit_value(const gw_lpp_type_t *t, unsigned ch, unsigned k, const uint8_t *p,
                      gw_payload_emit_fn emit, void *ctx)
{
    char name[48], colour[8];
    field_name(name, sizeof name, t, ch, k);
    gw_payload_field_t f = {.name = name};
    int64_t raw = be_value(p, t->width, t->is_signed);
    switch (t->form) {
    case LPP_BOOL:
        f.value = (gw_value_t){.type = GW_TYPE_BOOLEAN, .v.b = raw != 0};
        break;
    case LPP_TIME:
        f.value = (gw_value_t){.type = GW_TYPE_TIME, .v.i = raw};
        break;
    case LPP_COLOUR:
        snprintf(colour, sizeof colour, "#%02X%02X%02X", p[0], p[1], p[2]);
        f.value = (gw_value_t){.type = GW_TYPE_STRING,
                               .v.bytes = {(const uint8_t *)colour, strlen(colour)}};
        break;
    case LPP_NUM: {
        int dec = value_decimals(t, k);
        if (t->half) {
            f.value = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = (double)raw * 0.5};
        } else if (dec == 0) {
            f.value = (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = raw};
        } else {
            /* A division by a power of ten gives the double nearest the
             * decimal (27.2), a multiplication by 0.1 may not. */
            f.value = (gw_value_t){.type = GW_TYPE_FLOAT, .v.f = (double)raw / pow10_tab[dec]};
        }
        if (f.value.type == GW_TYPE_FLOAT) {
            f.has_decimals = true;
            f.decimals = (int8_t)dec;
        }
        break;
    }
    }
    return emit(ctx, &f);
}

int gw_lpp_decode(const gw_lpp_conf_t *l, const uint8_t *b, size_t len, gw_payload_emit_fn emit,
                  void *ctx, char *msg, size_t size)
{
    (void)l;
    for (size_t i = 0; i < len;) {
        if (len - i < 2)
            return gw_payload_msg(-EBADMSG, msg, size,
                                  "LPP: 1 byte left at offset %zu, expected a channel and a type", i);
        const gw_lpp_type_t *t = gw_lpp_type_find(b[i + 1]);
        if (!t)
            return gw_payload_msg(-EBADMSG, msg, size,
                                  "LPP: channel %u has unknown type %u at offset %zu", b[i],
                                  b[i + 1], i + 1);
        if (len - i - 2 < t->size)
            return gw_payload_msg(-EBADMSG, msg, size,
                                  "LPP: channel %u type %u (%s) needs %u bytes, %zu left", b[i],
                                  t->type, t->name, t->size, len - i - 2);
        i += 2u + t->size;
    }
    for (size_t i = 0; i < len;) {
        const gw_lpp_type_t *t = gw_lpp_type_find(b[i + 1]);
        for (unsigned k = 0; k < t->n_vals; k++) {
            int rc = emit_value(t, b[i], k, b + i + 2 + k * t->width, emit, ctx);
            if (rc < 0)
                return rc;
        }
        i += 2u + t->size;
    }
    if (msg && size)
        msg[0] = '\0';
    return 0;
}

/* "digital_output_3" -> type, channel 3. */
static const gw_lpp_type_t *parse_output(const char *field, unsigned *out_ch)
{
    static const uint8_t outs[] = {1, 3};
    for (size_t i = 0; field && i < sizeof outs; i++) {
        const gw_lpp_type_t *t = gw_lpp_type_find(outs[i]);
        size_t n = strlen(t->name);
        if (strncmp(field, t->name, n) != 0 || field[n] != '_')
            continue;
        const char *d = field + n + 1;
        unsigned ch = 0;
        size_t k = 0;
        for (; d[k] >= '0' && d[k] <= '9' && k < 4; k++)
            ch = ch * 10 + (unsigned)(d[k] - '0');
        if (k == 0 || d[k] != '\0' || ch > 255 || (k > 1 && d[0] == '0'))
            return NULL;
        *out_ch = ch;
        return t;
    }
    return NULL;
}

int gw_lpp_encode(const gw_lpp_conf_t *l, const char *field, const gw_value_t *v, unsigned *out_fport,
                  uint8_t *out, size_t cap, size_t *out_len, char *msg, size_t size)
{
    unsigned ch = 0;
    const gw_lpp_type_t *t = parse_output(field, &ch);
    if (!t)
        return gw_payload_msg(-ENOENT, msg, size,
                              "LPP: \"%s\" is not an output, expected digital_output_<channel> or "
                              "analog_output_<channel> (channel 0..255)",
                              field ? field : "");
    double x;
    if (gw_payload_number(v, &x) < 0)
        return gw_payload_msg(-EINVAL, msg, size, "LPP: %s takes a finite number or a boolean",
                              field);
    long long raw;
    if (t->type == 1) {
        raw = llround(x);
        if (raw < 0 || raw > 255)
            return gw_payload_msg(-ERANGE, msg, size, "LPP: %s %g is outside 0..255", field, x);
    } else {
        /* Rounded to the nearest 0.01 (half away from zero), never cut:
         * 1.005 sent as 1.00 would be a different setpoint. */
        double scaled = x * 100.0;
        if (!(scaled > -32768.5 && scaled < 32767.5))
            return gw_payload_msg(-ERANGE, msg, size, "LPP: %s %g is outside -327.68..327.67",
                                  field, x);
        raw = llround(scaled);
        if (raw < -32768 || raw > 32767)
            return gw_payload_msg(-ERANGE, msg, size, "LPP: %s %g is outside -327.68..327.67",
                                  field, x);
    }
    size_t n = 2u + t->size;
    if (cap < n)
        return gw_payload_msg(-ENOSPC, msg, size, "LPP: %zu bytes needed, room for %zu", n, cap);
    out[0] = (uint8_t)ch;
    out[1] = t->type;
    if (t->size == 1) {
        out[2] = (uint8_t)raw;
    } else {
        uint16_t u = (uint16_t)(int16_t)raw;
        out[2] = (uint8_t)(u >> 8);
        out[3] = (uint8_t)u;
    }
    *out_len = n;
    *out_fport = l ? l->fport : 1;
    if (msg && size)
        msg[0] = '\0';
    return 0;
}

int gw_lpp_declare(const gw_lpp_conf_t *l, gw_field_decl_t **decls, size_t *n)
{
    /* Location 3336 has no altitude: the lowest GPS channel's altitude goes
     * to the single Location object's /6/0/2, the others are not declared
     * (their readings are counted as unknown by the mapping). */
    bool alt_taken = false;
    for (size_t i = 0; i < l->n; i++) {
        const gw_lpp_type_t *t = gw_lpp_type_find(l->ch[i].type);
        for (unsigned k = 0; t && k < t->n_vals; k++) {
            char name[48];
            field_name(name, sizeof name, t, l->ch[i].channel, k);
            gw_path_t p = gw_path_make((uint16_t)(3200 + t->type), l->ch[i].channel, t->rid[k],
                                       GW_ID_NONE);
            const char *unit = t->unit;
            if (t->type == 136) {
                if (k == 2) {
                    if (alt_taken)
                        continue;
                    alt_taken = true;
                    p = gw_path_make(6, 0, 2, GW_ID_NONE);
                    unit = "m";
                } else {
                    unit = k == 0 ? "lat" : "lon";
                }
            }
            bool writable = t->type == 1 || t->type == 3;
            int rc = gw_field_decl_add(decls, n, name, &p, unit, writable, l->ch[i].line);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* ---- configuration ------------------------------------------------------- */

enum { C_TYPE, C_CHANNELS, C_FPORT, C_N };
enum { H_CHANNEL, H_TYPE, H_N };

static const gw_cfg_key_t lpp_keys[] = {
    {"type", GW_CFG_STRING, "\"lpp\", \"layout\" or \"js\"", true, NULL, C_TYPE, 0, 0},
    {"channels", GW_CFG_LIST,
     "a list of groups { channel = 3; type = \"temperature\"; } (the channels the device sends)",
     false, NULL, C_CHANNELS, 0, 0},
    {"downlink_fport", GW_CFG_INT, "an integer (FPort of downlinks, 1..223)", false, NULL, C_FPORT,
     1, 223},
};

static const gw_cfg_key_t chan_keys[] = {
    {"channel", GW_CFG_INT, "an integer (LPP channel, 0..255)", true, NULL, H_CHANNEL, 0, 255},
    {"type", GW_CFG_STRING, "an LPP type name such as \"temperature\"", true, NULL, H_TYPE, 0, 0},
};

int gw_lpp_parse(gw_cfg_ctx_t *ctx, const config_setting_t *s, const char *where, gw_lpp_conf_t *l)
{
    const config_setting_t *set[C_N] = {0};
    l->fport = 1;
    if (config_setting_is_group(s)) {
        int rc = gw_config_walk(ctx, s, where, lpp_keys, C_N, set, NULL);
        if (rc < 0)
            return rc;
    }
    long long v;
    if (set[C_FPORT] && gw_payload_int_in(ctx, set[C_FPORT], &lpp_keys[C_FPORT], &v))
        l->fport = (unsigned)v;
    const config_setting_t *list = set[C_CHANNELS];
    int n = list ? config_setting_length(list) : 0;
    if (n > 0) {
        l->ch = calloc((size_t)n, sizeof(*l->ch));
        if (!l->ch)
            return -ENOMEM;
    }
    gw_cfg_list_t it = {.list = list, .prefix = where, .name = "channels",
                        .shape = "{ channel = 3; type = \"temperature\"; }",
                        .phrase = GW_CFG_LIST_EXPECTED};
    while (gw_config_list_next(ctx, &it)) {
        const config_setting_t *g = it.group;
        const char *w = it.where;
        const config_setting_t *c[H_N] = {0};
        int rc = gw_config_walk(ctx, g, w, chan_keys, H_N, c, NULL);
        if (rc < 0)
            return rc;
        if (!c[H_CHANNEL] || !c[H_TYPE] || !gw_payload_int_in(ctx, c[H_CHANNEL], &chan_keys[H_CHANNEL], &v))
            continue;
        const char *tn = config_setting_get_string(c[H_TYPE]);
        const gw_lpp_type_t *t = gw_lpp_type_by_name(tn);
        if (!t) {
            char q[GW_CFG_QUOTE_SIZE];
            const char *best = gw_config_suggest(tn, type_names, N_TYPES);
            if (best)
                gw_config_error(ctx, c[H_TYPE], "%s: unknown LPP type %s, did you mean \"%s\"?", w,
                                gw_config_quote(tn, q, sizeof q), best);
            else
                gw_config_error(ctx, c[H_TYPE], "%s: unknown LPP type %s, expected one of "
                                "temperature, humidity, pressure, digital_output, analog_input, "
                                "gps, ... (docs/lora.md)", w, gw_config_quote(tn, q, sizeof q));
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < l->n; j++)
            if (l->ch[j].channel == v && l->ch[j].type == t->type) {
                gw_config_error(ctx, g, "%s: channel %lld of type %s is listed twice (line %d), "
                                "expected each channel and type once", w, v, t->name,
                                l->ch[j].line);
                dup = true;
            }
        if (dup)
            continue;
        l->ch[l->n++] = (gw_lpp_chan_t){(uint8_t)v, t->type, config_setting_source_line(g)};
    }
    return 0;
}

void gw_lpp_free(gw_lpp_conf_t *l)
{
    free(l->ch);
    *l = (gw_lpp_conf_t){0};
}
