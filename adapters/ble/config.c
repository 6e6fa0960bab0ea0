/*
 * adapters/ble/config.c - the BLE adapter's configuration: the
 * `adapters.ble` section (controller, bus address) and a device's keys
 * (decoder, match_name, identity, absent_after, absent_deregister, an
 * advert_codec with company_id or service_data, bindkey, the gatt list,
 * gatt_interval, stay_connected), through the adapter configuration
 * interface (adapters/adapter_config.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ble.h"

/* ---- section ----------------------------------------------------------- */

enum { S_CONTROLLER, S_BUS, S_N };

static const gw_cfg_key_t section_keys[] = {
    {"controller", GW_CFG_STRING, "a string (the BlueZ controller, e.g. \"hci0\")", false, NULL,
     S_CONTROLLER, 0, 0},
    {"bus", GW_CFG_STRING, "a string (a D-Bus address, e.g. \"unix:path=/run/dbus/system_bus_socket\")",
     false, NULL, S_BUS, 0, 0},
};

static void free_section(void *section)
{
    gw_ble_section_t *c = section;
    if (!c)
        return;
    free(c->controller);
    free(c->bus);
    free(c);
}

/* A controller is an object path element under /org/bluez: "hci" and
 * digits, as bluetoothd names them. */
static bool controller_ok(const char *s)
{
    if (strncmp(s, "hci", 3) != 0 || !s[3] || strlen(s) > 8)
        return false;
    for (s += 3; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int parse_section(gw_cfg_ctx_t *ctx, const config_setting_t *s, void **out)
{
    char q[GW_CFG_QUOTE_SIZE];
    *out = NULL;
    gw_ble_section_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    const config_setting_t *e[S_N] = {0};
    if (s && config_setting_type(s) != CONFIG_TYPE_GROUP) {
        gw_config_error(ctx, s, "\"ble\" must be a group { controller = \"hci0\"; }, got %s",
                        gw_config_type_desc(s));
    } else if (s) {
        int rc = gw_config_walk(ctx, s, "adapters.ble", section_keys, S_N, e, NULL);
        if (rc < 0) {
            free_section(c);
            return rc;
        }
    }
    const char *ctl = e[S_CONTROLLER] ? config_setting_get_string(e[S_CONTROLLER]) : "hci0";
    if (!controller_ok(ctl))
        gw_config_error(ctx, e[S_CONTROLLER], "controller %s is not a BlueZ controller name, "
                                              "expected \"hci\" and a number such as \"hci0\"",
                        gw_config_quote(ctl, q, sizeof q));
    if (e[S_BUS] && !strchr(config_setting_get_string(e[S_BUS]), ':'))
        gw_config_error(ctx, e[S_BUS], "bus %s is not a D-Bus address, expected e.g. "
                                       "\"unix:path=/run/dbus/system_bus_socket\"",
                        gw_config_quote(config_setting_get_string(e[S_BUS]), q, sizeof q));
    c->controller = strdup(ctl);
    c->bus = e[S_BUS] ? strdup(config_setting_get_string(e[S_BUS])) : NULL;
    if (!c->controller || (e[S_BUS] && !c->bus)) {
        free_section(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

static uint64_t section_fingerprint(const void *section)
{
    const gw_ble_section_t *c = section;
    uint64_t h = GW_FNV_OFFSET;
    gw_fnv_str(&h, c ? c->controller : NULL);
    gw_fnv_str(&h, c ? c->bus : NULL);
    return h;
}

/* ---- device keys ------------------------------------------------------- */

static int h_decoder(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    char q[GW_CFG_QUOTE_SIZE];
    const char *v = config_setting_get_string(s);
    if (!gw_ble_decoder_find(v)) {
        const char *names[16];
        size_t n = 0;
        while (n < 16 && gw_ble_decoders[n]) {
            names[n] = gw_ble_decoders[n]->name;
            n++;
        }
        const char *best = gw_config_suggest(v, names, n);
        if (best)
            gw_config_error(ctx, s, "unknown decoder %s, did you mean \"%s\"?",
                            gw_config_quote(v, q, sizeof q), best);
        else
            gw_config_error(ctx, s, "unknown decoder %s, expected %s",
                            gw_config_quote(v, q, sizeof q), gw_ble_decoder_names());
        return 0;
    }
    free(p->decoder);
    p->decoder = strdup(v);
    p->set |= P_DECODER;
    return p->decoder ? 0 : -ENOMEM;
}

static int h_name(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    const char *v = config_setting_get_string(s);
    if (!*v) {
        gw_config_error(ctx, s, "\"match_name\" must not be empty, expected the name the device "
                                "advertises");
        return 0;
    }
    free(p->name);
    p->name = strdup(v);
    p->set |= P_NAME;
    return p->name ? 0 : -ENOMEM;
}

static int h_identity(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj)
{
    (void)ctx, (void)k;
    gw_ble_part_t *p = obj;
    p->identity = config_setting_get_bool(s);
    p->set |= P_IDENTITY;
    return 0;
}

static int h_absent(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                    void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    double v = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                           : (double)config_setting_get_int64(s);
    if (!isfinite(v) || v < 0.2 || v > 7 * 86400.0) {
        gw_config_error(ctx, s, "\"absent_after\" must be 0.2 to 604800 seconds, got %g", v);
        return 0;
    }
    p->absent_after_s = v;
    p->set |= P_ABSENT;
    return 0;
}

static int h_dereg(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx, (void)k;
    gw_ble_part_t *p = obj;
    p->absent_deregister = config_setting_get_bool(s);
    p->set |= P_DEREG;
    return 0;
}


/* ---- gatt = ( ... ) ----------------------------------------------------- */

enum { C_UUID, C_FIELD, C_PATH, C_UNIT, C_NOTIFY, C_WRITABLE, C_CODEC, C_N };

static const gw_cfg_key_t char_keys[] = {
    {"uuid", GW_CFG_STRING, "a string (a characteristic UUID, \"2a6e\" or "
                            "\"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\")", true, NULL, C_UUID, 0, 0},
    {"field", GW_CFG_STRING, "a string (the reading's field name)", false, NULL, C_FIELD, 0, 0},
    {"path", GW_CFG_STRING, "a string (\"/oid/iid/rid\")", false, NULL, C_PATH, 0, 0},
    {"unit", GW_CFG_STRING, "a string (the unit of the values, \"\" for none)", false, NULL,
     C_UNIT, 0, 0},
    {"notify", GW_CFG_BOOL, "true or false (StartNotify instead of reads)", false, NULL,
     C_NOTIFY, 0, 0},
    {"writable", GW_CFG_BOOL, "true or false (LwM2M Writes become GATT writes)", false, NULL,
     C_WRITABLE, 0, 0},
    {"codec", GW_CFG_GROUP | GW_CFG_STRING, GW_PAYLOAD_CODEC_EXPECT, false, NULL, C_CODEC, 0, 0},
};

static void chars_free(gw_ble_char_conf_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].field);
        free(c[i].unit_own);
        gw_payload_free(&c[i].codec);
    }
    free(c);
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "2a6e", "0x2A6E" or the 128-bit form into the lower-case 128-bit form. */
static int uuid_norm(const char *s, char out[37])
{
    size_t n = strlen(s);
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2, n -= 2;
    if (n == 4) {
        for (size_t i = 0; i < 4; i++)
            if (!is_hex(s[i]))
                return -EINVAL;
        snprintf(out, 37, "0000%.4s-0000-1000-8000-00805f9b34fb", s);
    } else if (n == 36) {
        for (size_t i = 0; i < 36; i++)
            if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !is_hex(s[i]))
                return -EINVAL;
        memcpy(out, s, 37);
    } else {
        return -EINVAL;
    }
    for (size_t i = 0; out[i]; i++)
        if (out[i] >= 'A' && out[i] <= 'F')
            out[i] = (char)(out[i] - 'A' + 'a');
    return 0;
}

static int parse_char(gw_cfg_ctx_t *ctx, const config_setting_t *g, const char *w,
                      gw_ble_char_conf_t *c)
{
    char q[GW_CFG_QUOTE_SIZE];
    const config_setting_t *e[C_N] = {0};
    int before = gw_config_errors(ctx);
    int rc = gw_config_walk(ctx, g, w, char_keys, C_N, e, NULL);
    if (rc < 0 || gw_config_errors(ctx) != before || !e[C_UUID])
        return rc;
    c->line = (int)config_setting_source_line(g);
    const char *u = config_setting_get_string(e[C_UUID]);
    if (uuid_norm(u, c->uuid) < 0) {
        gw_config_error(ctx, e[C_UUID], "%s.uuid %s is not a UUID, expected \"2a6e\" or "
                                        "\"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\"",
                        w, gw_config_quote(u, q, sizeof q));
        return 0;
    }
    c->ess = gw_ble_ess_find(gw_ble_uuid16(c->uuid));
    c->notify = e[C_NOTIFY] && config_setting_get_bool(e[C_NOTIFY]);
    c->writable = e[C_WRITABLE] && config_setting_get_bool(e[C_WRITABLE]);
    if (e[C_CODEC]) {
        char cw[GW_CFG_WHERE_SIZE + sizeof ".codec"];
        snprintf(cw, sizeof cw, "%s.codec", w);
        rc = gw_payload_parse(ctx, e[C_CODEC], cw, &c->codec);
        if (rc < 0)
            return rc;
        const config_setting_t *own = e[C_FIELD]      ? e[C_FIELD]
                                      : e[C_PATH]     ? e[C_PATH]
                                      : e[C_UNIT]     ? e[C_UNIT]
                                                      : e[C_WRITABLE];
        if (own)
            gw_config_error(ctx, own,
                            "%s: field, path, unit and writable are for a characteristic decoded "
                            "by its UUID; with a codec its fields say them (the fields of its "
                            "downlinks are writable)", w);
        return 0;
    }
    if (!c->ess) {
        gw_config_error(ctx, g, "%s: characteristic %s has no format known by its UUID, expected "
                                "uuid 2a6e, 2a6f, 2a6d or 2a19, or codec = { type = \"layout\"; "
                                "uplinks = ( { fport = 0; fields = (...); } ); }", w, c->uuid);
        return 0;
    }
    c->field = strdup(e[C_FIELD] ? config_setting_get_string(e[C_FIELD]) : c->ess->field);
    if (!c->field)
        return -ENOMEM;
    c->unit = c->ess->unit;
    if (e[C_UNIT]) {
        if (!(c->unit_own = strdup(config_setting_get_string(e[C_UNIT]))))
            return -ENOMEM;
        /* "": the values are taken as in the target resource's unit (a set
         * point without one) */
        c->unit = c->unit_own[0] ? c->unit_own : NULL;
    }
    if (e[C_PATH] && gw_path_parse(config_setting_get_string(e[C_PATH]), &c->path) < 0)
        gw_config_error(ctx, e[C_PATH], "%s.path %s is not an LwM2M path, expected "
                                        "\"/oid/iid/rid\" or \"/oid/iid/rid/riid\"", w,
                        gw_config_quote(config_setting_get_string(e[C_PATH]), q, sizeof q));
    return 0;
}

static int h_gatt(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    int n = config_setting_length(s);
    if (n > GW_BLE_MAX_CHARS) {
        gw_config_error(ctx, s, "gatt has %d characteristics, expected at most %d", n,
                        GW_BLE_MAX_CHARS);
        return 0;
    }
    gw_ble_char_conf_t *c = calloc(n ? (size_t)n : 1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = 0;
    gw_cfg_list_t it = {.list = s, .name = "gatt", .shape = "{ uuid = \"2a6e\"; }",
                        .phrase = GW_CFG_LIST_EXPECTED};
    while (rc == 0 && gw_config_list_next(ctx, &it)) {
        int i = it.index;
        rc = parse_char(ctx, it.group, it.where, &c[i]);
        for (int j = 0; rc == 0 && j < i; j++)
            if (c[i].uuid[0] && strcmp(c[i].uuid, c[j].uuid) == 0)
                gw_config_error(ctx, it.group, "%s: characteristic %s is already in gatt[%d] "
                                               "(line %d), expected each characteristic once",
                                it.where, c[i].uuid, j, c[j].line);
    }
    if (rc < 0) {
        chars_free(c, (size_t)n);
        return rc;
    }
    chars_free(p->chars, p->n_chars);
    p->chars = c;
    p->n_chars = (size_t)n;
    p->set |= P_GATT;
    return 0;
}

static int h_interval(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                      void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    double v = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                           : (double)config_setting_get_int64(s);
    if (!isfinite(v) || v < 0.2 || v > 86400.0) {
        gw_config_error(ctx, s, "\"gatt_interval\" must be 0.2 to 86400 seconds, got %g", v);
        return 0;
    }
    p->gatt_interval_s = v;
    p->set |= P_INTERVAL;
    return 0;
}

static int h_stay(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx, (void)k;
    gw_ble_part_t *p = obj;
    p->stay_connected = config_setting_get_bool(s);
    p->set |= P_STAY;
    return 0;
}

static int h_bindkey(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    const char *v = config_setting_get_string(s);
    bool ok = strlen(v) == 32;
    for (size_t i = 0; ok && i < 32; i++)
        ok = is_hex(v[i]);
    if (!ok) {
        /* the value is a secret: not repeated in the message */
        gw_config_error(ctx, s, "\"bindkey\" must be 32 hexadecimal digits (the device's "
                                "16-byte AES key), got %zu characters%s",
                        strlen(v), strlen(v) == 32 ? " with a non-hex digit" : "");
        return 0;
    }
    for (size_t i = 0; i < 16; i++) {
        unsigned b;
        sscanf(v + 2 * i, "%2x", &b);
        p->bindkey[i] = (uint8_t)b;
    }
    p->has_bindkey = true;
    p->set |= P_BINDKEY;
    return 0;
}

/* advert_codec = {...}, with company_id or service_data saying where */
static int h_codec(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    gw_payload_free(&p->adv_codec);
    p->codec_line = (int)config_setting_source_line(s);
    p->set |= P_CODEC;
    return gw_payload_parse(ctx, s, "advert_codec", &p->adv_codec);
}

static int h_company(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    long long v = config_setting_get_int64(s);
    if (v < 0 || v > 0xFFFF) {
        gw_config_error(ctx, s, "\"company_id\" must be 0 to 0xFFFF (a Bluetooth SIG company "
                                "identifier), got %lld", v);
        return 0;
    }
    p->adv_src = GW_BLE_SRC_MFR;
    p->adv_id = (uint16_t)v;
    p->set |= P_ADVSRC;
    return 0;
}

static int h_service(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k,
                     void *obj)
{
    (void)k;
    gw_ble_part_t *p = obj;
    char q[GW_CFG_QUOTE_SIZE], full[37];
    const char *v = config_setting_get_string(s);
    int u = uuid_norm(v, full) == 0 ? gw_ble_uuid16(full) : -1;
    if (u < 0) {
        gw_config_error(ctx, s, "\"service_data\" %s is not a 16-bit service UUID, expected "
                                "e.g. \"181a\"", gw_config_quote(v, q, sizeof q));
        return 0;
    }
    p->adv_src = GW_BLE_SRC_SVC;
    p->adv_id = (uint16_t)u;
    p->set |= P_ADVSRC;
    return 0;
}

static const gw_cfg_key_t dev_keys[] = {
    {"decoder", GW_CFG_STRING, "a string (\"bthome\", \"ruuvi\", \"atc\" or \"mibeacon\")", false,
     h_decoder,
     0, 0, 0},
    {"match_name", GW_CFG_STRING, "a string (the advertised name to match)", false, h_name, 0, 0, 0},
    {"identity", GW_CFG_BOOL, "true or false (match the MAC inside the payload)", false,
     h_identity, 0, 0, 0},
    {"absent_after", GW_CFG_NUMBER, "a number (seconds of silence before the device is absent)",
     false, h_absent, 0, 0, 0},
    {"absent_deregister", GW_CFG_BOOL, "true or false (an absent device leaves the servers)",
     false, h_dereg, 0, 0, 0},
    {"gatt", GW_CFG_LIST, "a list of groups { uuid = \"2a6e\"; notify = false; }", false, h_gatt,
     0, 0, 0},
    /* not "codec": a device key names one adapter, and lora's is "codec" */
    {"advert_codec", GW_CFG_GROUP | GW_CFG_STRING, GW_PAYLOAD_CODEC_EXPECT, false, h_codec, 0, 0,
     0},
    {"company_id", GW_CFG_INT, "an integer (the ManufacturerData company id the codec reads, "
                               "e.g. 0x0499)", false, h_company, 0, 0, 0},
    {"service_data", GW_CFG_STRING, "a string (the 16-bit ServiceData UUID the codec reads, "
                                    "e.g. \"181a\")", false, h_service, 0, 0, 0},
    {"bindkey", GW_CFG_STRING, "a string (32 hex digits: the BTHome or MiBeacon key)", false,
     h_bindkey, 0, 0, 0},
    {"gatt_interval", GW_CFG_NUMBER, "a number (seconds between GATT reads)", false, h_interval,
     0, 0, 0},
    {"stay_connected", GW_CFG_BOOL, "true or false (keep the GATT connection between reads)",
     false, h_stay, 0, 0, 0},
};

static int new_part(void **out)
{
    gw_ble_part_t *p = calloc(1, sizeof *p);
    if (p) {
        p->absent_after_s = GW_BLE_ABSENT_DEFAULT_S;
        p->gatt_interval_s = GW_BLE_GATT_INTERVAL_DEFAULT_S;
    }
    *out = p;
    return p ? 0 : -ENOMEM;
}

static void free_part(void *part)
{
    gw_ble_part_t *p = part;
    if (!p)
        return;
    free(p->decoder);
    free(p->name);
    chars_free(p->chars, p->n_chars);
    gw_payload_free(&p->adv_codec);
    free(p);
}

static int chars_copy(const gw_ble_char_conf_t *src, size_t n, gw_ble_char_conf_t **out)
{
    gw_ble_char_conf_t *c = calloc(n ? n : 1, sizeof *c);
    if (!c)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i] = src[i];
        c[i].codec = gw_payload_ref(src[i].codec);
        c[i].field = c[i].unit_own = NULL;
        if ((src[i].field && !(c[i].field = strdup(src[i].field))) ||
            (src[i].unit_own && !(c[i].unit_own = strdup(src[i].unit_own)))) {
            chars_free(c, i + 1);
            return -ENOMEM;
        }
        if (src[i].unit_own)
            c[i].unit = c[i].unit_own[0] ? c[i].unit_own : NULL;
    }
    *out = c;
    return 0;
}

/* Each key from over when the entry gives it, else from the template. */
static int merge_part(const void *base, const void *over, void **out)
{
    const gw_ble_part_t *b = base, *o = over;
    gw_ble_part_t *d;
    int rc = new_part((void **)&d);
    *out = d;
    if (rc < 0)
        return rc;
    const gw_ble_part_t *src[2] = {b, o};
    for (int i = 0; i < 2; i++) {
        const gw_ble_part_t *s = src[i];
        if (!s)
            continue;
        if (s->set & P_DECODER) {
            free(d->decoder);
            if (!(d->decoder = strdup(s->decoder)))
                return -ENOMEM;
        }
        if (s->set & P_NAME) {
            free(d->name);
            if (!(d->name = strdup(s->name)))
                return -ENOMEM;
        }
        if (s->set & P_IDENTITY)
            d->identity = s->identity;
        if (s->set & P_ABSENT)
            d->absent_after_s = s->absent_after_s;
        if (s->set & P_DEREG)
            d->absent_deregister = s->absent_deregister;
        if (s->set & P_GATT) {
            chars_free(d->chars, d->n_chars);
            d->chars = NULL, d->n_chars = 0;
            if (chars_copy(s->chars, s->n_chars, &d->chars) < 0)
                return -ENOMEM;
            d->n_chars = s->n_chars;
        }
        if (s->set & P_INTERVAL)
            d->gatt_interval_s = s->gatt_interval_s;
        if (s->set & P_CODEC) {
            gw_payload_free(&d->adv_codec);
            d->adv_codec = gw_payload_ref(s->adv_codec);
            d->codec_line = s->codec_line;
        }
        if (s->set & P_ADVSRC)
            d->adv_src = s->adv_src, d->adv_id = s->adv_id;
        if (s->set & P_BINDKEY) {
            memcpy(d->bindkey, s->bindkey, sizeof d->bindkey);
            d->has_bindkey = true;
        }
        if (s->set & P_STAY)
            d->stay_connected = s->stay_connected;
        d->set |= s->set;
    }
    return 0;
}

static int finish_part(gw_cfg_ctx_t *ctx, const void *section, void *part,
                       gw_adapter_conf_dev_t *dev)
{
    (void)section;
    gw_ble_part_t *p = part;
    char q[GW_CFG_QUOTE_SIZE];
    uint64_t mac;
    const char *name = p ? p->name : NULL;
    if (p)
        p->line = dev->line;
    if (!dev->address) {
        if (!name) {
            gw_config_error(ctx, dev->group, "%s has adapter = \"ble\" but no address, expected "
                                             "address = \"AA:BB:CC:DD:EE:FF\" (or match_name = ... "
                                             "for a device with a random address)",
                            dev->where);
            return 0;
        }
        dev->default_address = strdup(name);
        return dev->default_address ? 0 : -ENOMEM;
    }
    if (gw_ble_mac_parse(dev->address, &mac) < 0 && !name)
        gw_config_error(ctx, dev->group, "%s: address %s is not a Bluetooth address, expected "
                                         "\"AA:BB:CC:DD:EE:FF\" (or match_name = ... to match)",
                        dev->where, gw_config_quote(dev->address, q, sizeof q));
    if (p && p->identity && !p->decoder)
        gw_config_error(ctx, dev->group, "%s: identity = true needs the decoder whose payload "
                                         "carries the MAC, expected decoder = \"ruuvi\", "
                                         "\"atc\" or \"mibeacon\"",
                        dev->where);
    if (p && (p->set & P_CODEC) && !(p->set & P_ADVSRC))
        gw_config_error_at(ctx, p->codec_line, "%s: advert_codec needs the advert data it reads, "
                                               "expected company_id = 0x... (ManufacturerData) or "
                                               "service_data = \"181a\" (ServiceData)",
                           dev->where);
    else if (p && (p->set & P_ADVSRC) && !(p->set & P_CODEC))
        gw_config_error(ctx, dev->group, "%s: company_id and service_data say where an "
                                         "advert_codec reads, expected advert_codec = { type = "
                                         "\"layout\"; ... }",
                        dev->where);
    if (p && p->adv_codec) {
        /* adverts go one way: a writable field would have nowhere to go */
        gw_field_decl_t *decls = NULL;
        size_t nd = 0;
        int rc = gw_payload_declare(p->adv_codec, &decls, &nd);
        bool writable = false;
        for (size_t i = 0; i < nd; i++)
            writable |= decls[i].writable;
        gw_field_decls_free(&decls, &nd);
        if (rc < 0)
            return rc;
        if (writable)
            gw_config_error_at(ctx, p->codec_line, "%s: advert_codec has writable fields "
                                                   "(downlinks), which adverts cannot carry; "
                                                   "expected uplinks only (writes go to a gatt "
                                                   "characteristic)", dev->where);
    }
    if (p && p->has_bindkey && p->decoder && strcmp(p->decoder, "bthome") != 0 &&
        strcmp(p->decoder, "mibeacon") != 0)
        gw_config_error(ctx, dev->group, "%s: bindkey is for encrypted BTHome and MiBeacon frames, "
                                         "expected decoder = \"bthome\" or \"mibeacon\" (or no "
                                         "decoder)", dev->where);
    bool notify = false;
    for (size_t i = 0; p && i < p->n_chars; i++)
        notify |= p->chars[i].notify;
    if (notify && (p->set & P_STAY) && !p->stay_connected)
        gw_config_error(ctx, dev->group, "%s: stay_connected = false but a gatt characteristic "
                                         "has notify = true, which needs the connection kept; "
                                         "expected stay_connected = true or notify = false",
                        dev->where);
    else if (notify)
        p->stay_connected = true;
    if (p && !p->n_chars && (p->set & (P_INTERVAL | P_STAY)))
        gw_config_error(ctx, dev->group, "%s: gatt_interval and stay_connected need a gatt "
                                         "list, expected gatt = ( { uuid = \"2a6e\"; } )",
                        dev->where);
    return 0;
}

/* A decoder's own fields, and the signal strength of every advert. */
static int declare(const void *part, gw_field_decl_t **out, size_t *out_n)
{
    const gw_ble_part_t *p = part;
    int rc = gw_field_decl_add(out, out_n, "rssi", NULL, "dBm", false, p ? p->line : 0);
    const gw_ble_decoder_t *d = p ? gw_ble_decoder_find(p->decoder) : NULL;
    for (size_t i = 0; rc == 0 && d && i < d->n_decls; i++)
        rc = gw_field_decl_add(out, out_n, d->decls[i].field, NULL, d->decls[i].unit, false,
                               p->line);
    if (rc == 0 && p && p->adv_codec)
        rc = gw_payload_declare(p->adv_codec, out, out_n);
    for (size_t i = 0; rc == 0 && p && i < p->n_chars; i++) {
        const gw_ble_char_conf_t *c = &p->chars[i];
        if (c->codec)
            rc = gw_payload_declare(c->codec, out, out_n);
        else if (c->ess)
            rc = gw_field_decl_add(out, out_n, c->field, &c->path, c->unit, c->writable,
                                   c->line);
    }
    return rc;
}

static uint64_t part_fingerprint(const void *part)
{
    const gw_ble_part_t *p = part;
    uint64_t h = GW_FNV_OFFSET;
    if (!p)
        return h;
    gw_fnv_str(&h, p->decoder);
    gw_fnv_str(&h, p->name);
    gw_fnv_bytes(&h, &p->identity, sizeof p->identity);
    gw_fnv_bytes(&h, &p->absent_after_s, sizeof p->absent_after_s);
    gw_fnv_bytes(&h, &p->absent_deregister, sizeof p->absent_deregister);
    gw_fnv_bytes(&h, &p->gatt_interval_s, sizeof p->gatt_interval_s);
    gw_fnv_bytes(&h, &p->adv_src, sizeof p->adv_src);
    gw_fnv_bytes(&h, &p->adv_id, sizeof p->adv_id);
    if (p->adv_codec)
        gw_payload_fingerprint(p->adv_codec, &h);
    gw_fnv_bytes(&h, &p->has_bindkey, sizeof p->has_bindkey);
    gw_fnv_bytes(&h, p->bindkey, sizeof p->bindkey);
    gw_fnv_bytes(&h, &p->stay_connected, sizeof p->stay_connected);
    for (size_t i = 0; i < p->n_chars; i++) {
        const gw_ble_char_conf_t *c = &p->chars[i];
        gw_fnv_str(&h, c->uuid);
        gw_fnv_str(&h, c->field);
        gw_fnv_str(&h, c->unit);
        gw_fnv_bytes(&h, &c->path, sizeof c->path);
        uint8_t b[2] = {c->notify, c->writable};
        gw_fnv_bytes(&h, b, sizeof b);
        if (c->codec)
            gw_payload_fingerprint(c->codec, &h);
    }
    return h;
}

static void describe_part(const void *part, FILE *out)
{
    const gw_ble_part_t *p = part;
    fprintf(out, "    ble decoder %s%s%s%s, absent after %.15g s%s\n",
            p && p->decoder ? p->decoder : "(any)", p && p->name ? ", name " : "",
            p && p->name ? p->name : "", p && p->identity ? ", by payload MAC" : "",
            p ? p->absent_after_s : GW_BLE_ABSENT_DEFAULT_S,
            p && p->absent_deregister ? " (then de-registered)" : "");
    if (p && p->has_bindkey)
        fprintf(out, "    encrypted BTHome/MiBeacon frames decrypted with its bindkey\n");
    if (p && p->adv_codec) {
        fprintf(out, "    adverts: %s 0x%04X through the codec\n",
                p->adv_src == GW_BLE_SRC_MFR ? "ManufacturerData of company" : "ServiceData of UUID",
                p->adv_id);
        gw_payload_describe(p->adv_codec, out);
    }
    for (size_t i = 0; p && i < p->n_chars; i++) {
        const gw_ble_char_conf_t *c = &p->chars[i];
        if (c->notify)
            fprintf(out, "    gatt %s %s, notified%s\n", c->uuid, c->field ? c->field : "(codec)",
                    c->writable ? ", writable" : "");
        else
            fprintf(out, "    gatt %s %s, read every %.15g s%s%s\n", c->uuid,
                    c->field ? c->field : "(codec)", p->gatt_interval_s,
                    p->stay_connected ? " (connection kept)" : "", c->writable ? ", writable" : "");
        if (c->codec)
            gw_payload_describe(c->codec, out);
    }
}

const gw_adapter_conf_ops_t gw_ble_conf_ops = {
    .keys = dev_keys,
    .n_keys = sizeof dev_keys / sizeof dev_keys[0],
    .keys_text = "decoder, match_name, identity, absent_after, absent_deregister, advert_codec, "
                 "company_id, service_data, bindkey, gatt, "
                 "gatt_interval and stay_connected",
    .parse_section = parse_section,
    .free_section = free_section,
    .section_fingerprint = section_fingerprint,
    .new_part = new_part,
    .merge_part = merge_part,
    .finish_part = finish_part,
    .declare = declare,
    .part_fingerprint = part_fingerprint,
    .describe_part = describe_part,
    .free_part = free_part,
    .field_noun = "BLE field",
    .decl_paths = true,
};
