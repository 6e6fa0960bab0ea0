/*
 * adapters/lora/config.c - the LoRaWAN adapter's configuration: the
 * adapters.lora section (listen address, region, state_dir, windows) and a
 * device's keys (ABP: dev_addr, nwk_skey, app_skey; OTAA: dev_eui,
 * join_eui, app_key; uplink_timeout; codec), through adapters/adapter_config.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "lora.h"

/* ---- section -------------------------------------------------------------- */

enum { S_LISTEN, S_REGION, S_STATE_DIR, S_DEDUP, S_FLUSH, S_DL_TIMEOUT, S_NET_ID, S_RX1_OFF,
       S_RX_WINDOW, S_N };

static const gw_cfg_key_t section_keys[] = {
    {"listen", GW_CFG_STRING, "a string \"host:port\" (where forwarders send, e.g. \"0.0.0.0:1700\")",
     false, NULL, S_LISTEN, 0, 0},
    {"region", GW_CFG_STRING, "a string (\"EU868\" or \"US915\")", false, NULL, S_REGION, 0, 0},
    {"state_dir", GW_CFG_STRING, "a string (directory for frame counters and session keys)", false,
     NULL, S_STATE_DIR, 0, 0},
    {"dedup_ms", GW_CFG_INT, "an integer (milliseconds, 0..2000)", false, NULL, S_DEDUP, 0, 0},
    {"flush_ms", GW_CFG_INT, "an integer (milliseconds, 0..60000)", false, NULL, S_FLUSH, 0, 0},
    {"downlink_timeout", GW_CFG_INT, "an integer (seconds, 1..86400)", false, NULL,
     S_DL_TIMEOUT, 0, 0},
    {"net_id", GW_CFG_INT, "an integer (NetID, 0..0xFFFFFF)", false, NULL, S_NET_ID, 0, 0},
    {"rx1_dr_offset", GW_CFG_INT, "an integer (0..5)", false, NULL, S_RX1_OFF, 0, 0},
    {"rx_window", GW_CFG_STRING, "\"rx1\" or \"rx2\"", false, NULL, S_RX_WINDOW, 0, 0},
};

static void free_section(void *p)
{
    lora_section_t *c = p;
    if (!c)
        return;
    free(c->listen);
    free(c->state_dir);
    free(c);
}

static bool int_in(gw_cfg_ctx_t *ctx, const config_setting_t *s, long long lo, long long hi,
                   int *out)
{
    if (!s)
        return true;
    long long v = config_setting_get_int64(s);
    if (v < lo || v > hi) {
        gw_config_error(ctx, s, "\"%s\" is %lld, expected %lld..%lld", config_setting_name(s), v,
                        lo, hi);
        return false;
    }
    *out = (int)v;
    return true;
}

/* "host:port", "[v6]:port" or ":port". */
static bool listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1])
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return !*end && port > 0 && port <= 65535;
}

int gw_lora_section_defaults(lora_section_t *c)
{
    c->region = lora_region_find("EU868");
    c->dedup_ms = 200;
    c->flush_ms = 1000;
    c->downlink_timeout_s = 600;
    c->listen = strdup("0.0.0.0:1700");
    c->state_dir = strdup("/var/lib/lwm2m-gateway/lora");
    return c->listen && c->state_dir ? 0 : -ENOMEM;
}

static int parse_section(gw_cfg_ctx_t *ctx, const config_setting_t *s, void **out)
{
    *out = NULL;
    lora_section_t *c = calloc(1, sizeof *c);
    if (!c || gw_lora_section_defaults(c) < 0) {
        free_section(c);
        return -ENOMEM;
    }
    *out = c;
    if (!s)
        return 0;
    c->line = (int)config_setting_source_line(s);
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        gw_config_error(ctx, s, "\"lora\" must be a group { listen = \"0.0.0.0:1700\"; region = "
                                "\"EU868\"; }, got %s", gw_config_type_desc(s));
        return 0;
    }
    const config_setting_t *e[S_N] = {0};
    int rc = gw_config_walk(ctx, s, "adapters.lora", section_keys, S_N, e, NULL);
    if (rc < 0)
        return rc;
    char q[GW_CFG_QUOTE_SIZE];
    if (e[S_LISTEN]) {
        const char *l = config_setting_get_string(e[S_LISTEN]);
        if (!listen_ok(l))
            gw_config_error(ctx, e[S_LISTEN], "listen %s is not \"host:port\", expected e.g. "
                                              "\"0.0.0.0:1700\" or \"[::]:1700\" (port 1..65535)",
                            gw_config_quote(l, q, sizeof q));
        free(c->listen);
        if (!(c->listen = strdup(l)))
            return -ENOMEM;
    }
    if (e[S_REGION]) {
        const char *r = config_setting_get_string(e[S_REGION]);
        c->region = lora_region_find(r);
        if (!c->region)
            gw_config_error(ctx, e[S_REGION], "unknown region %s, expected one of: %s",
                            gw_config_quote(r, q, sizeof q), lora_region_names());
    }
    if (e[S_STATE_DIR]) {
        const char *d = config_setting_get_string(e[S_STATE_DIR]);
        if (!*d)
            gw_config_error(ctx, e[S_STATE_DIR], "\"state_dir\" must not be empty, expected a "
                                                 "directory");
        free(c->state_dir);
        if (!(c->state_dir = strdup(d)))
            return -ENOMEM;
    }
    int v = 0;
    int_in(ctx, e[S_DEDUP], 0, 2000, &c->dedup_ms);
    int_in(ctx, e[S_FLUSH], 0, 60000, &c->flush_ms);
    int_in(ctx, e[S_DL_TIMEOUT], 1, 86400, &c->downlink_timeout_s);
    if (e[S_NET_ID] && int_in(ctx, e[S_NET_ID], 0, 0xFFFFFF, &v))
        c->net_id = (uint32_t)v;
    int_in(ctx, e[S_RX1_OFF], 0, 5, &c->rx1_dr_offset);
    if (e[S_RX_WINDOW]) {
        const char *w = config_setting_get_string(e[S_RX_WINDOW]);
        if (strcmp(w, "rx2") == 0)
            c->rx2 = true;
        else if (strcmp(w, "rx1") != 0)
            gw_config_error(ctx, e[S_RX_WINDOW], "rx_window %s, expected \"rx1\" or \"rx2\"",
                            gw_config_quote(w, q, sizeof q));
    }
    return 0;
}

static uint64_t section_fingerprint(const void *p)
{
    const lora_section_t *c = p;
    uint64_t h = GW_FNV_OFFSET;
    if (!c)
        return h;
    gw_fnv_str(&h, c->listen);
    gw_fnv_str(&h, c->region ? c->region->name : NULL);
    gw_fnv_str(&h, c->state_dir);
    int32_t v[] = {c->dedup_ms, c->flush_ms, c->downlink_timeout_s, (int32_t)c->net_id,
                   c->rx1_dr_offset, c->rx2};
    gw_fnv_bytes(&h, v, sizeof v);
    return h;
}

/* ---- device keys ------------------------------------------------------------- */

enum { K_DEV_EUI, K_JOIN_EUI, K_APP_EUI, K_APP_KEY, K_DEV_ADDR, K_NWK, K_APP, K_ABSENT,
       K_DEREG, K_CODEC };

static int h_hex(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    lora_part_t *p = obj;
    const char *t = config_setting_get_string(s);
    char q[GW_CFG_QUOTE_SIZE];
    size_t n = k->offset == K_DEV_ADDR ? 4 : k->offset <= K_APP_EUI ? 8 : 16;
    uint8_t b[16];
    if (lora_hex_parse(t, b, n) < 0) {
        gw_config_error(ctx, s, "%s %s is not %zu hex digits, expected e.g. \"%.*s\"", k->name,
                        gw_config_quote(t, q, sizeof q), 2 * n, (int)(2 * n),
                        "0123456789abcdef0123456789abcdef");
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n && n <= 8; i++)
        v = v << 8 | b[i];
    switch (k->offset) {
    case K_DEV_EUI:
        p->dev_eui = v, p->has_dev_eui = true;
        break;
    case K_JOIN_EUI:
    case K_APP_EUI:
        p->join_eui = v, p->has_join_eui = true;
        break;
    case K_APP_KEY:
        memcpy(p->app_key, b, 16), p->has_app_key = true;
        break;
    case K_DEV_ADDR:
        p->dev_addr = (uint32_t)v, p->has_dev_addr = true;
        break;
    case K_NWK:
        memcpy(p->nwk_skey, b, 16), p->has_nwk = true;
        break;
    case K_APP:
        memcpy(p->app_skey, b, 16), p->has_app = true;
        break;
    default:
        break;
    }
    return 0;
}

static int h_absent(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    lora_part_t *p = obj;
    int_in(ctx, s, 0, 30 * 86400, &p->absent_after_s);
    return 0;
}

static int h_dereg(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)ctx, (void)k;
    ((lora_part_t *)obj)->deregister_absent = config_setting_get_bool(s);
    return 0;
}

static int h_codec(gw_cfg_ctx_t *ctx, const config_setting_t *s, const gw_cfg_key_t *k, void *obj)
{
    (void)k;
    lora_part_t *p = obj;
    lora_codec_free(&p->codec);
    p->codec_line = (int)config_setting_source_line(s);
    return lora_codec_parse(ctx, s, "codec", &p->codec);
}

static const gw_cfg_key_t dev_keys[] = {
    {"dev_eui", GW_CFG_STRING, "a string of 16 hex digits (DevEUI)", false, h_hex, K_DEV_EUI, 0, 0},
    {"join_eui", GW_CFG_STRING, "a string of 16 hex digits (JoinEUI)", false, h_hex, K_JOIN_EUI, 0, 0},
    {"app_eui", GW_CFG_STRING, "a string of 16 hex digits (AppEUI, LoRaWAN 1.0's JoinEUI)", false,
     h_hex, K_APP_EUI, 0, 0},
    {"app_key", GW_CFG_STRING, "a string of 32 hex digits (AppKey, OTAA)", false, h_hex, K_APP_KEY, 0, 0},
    {"dev_addr", GW_CFG_STRING, "a string of 8 hex digits (DevAddr, ABP)", false, h_hex, K_DEV_ADDR, 0, 0},
    {"nwk_skey", GW_CFG_STRING, "a string of 32 hex digits (NwkSKey, ABP)", false, h_hex, K_NWK, 0, 0},
    {"app_skey", GW_CFG_STRING, "a string of 32 hex digits (AppSKey, ABP)", false, h_hex, K_APP, 0, 0},
    {"uplink_timeout", GW_CFG_INT, "an integer (seconds without an uplink before the device is "
                                   "absent, 0 never)", false, h_absent, K_ABSENT, 0, 0},
    {"uplink_timeout_deregister", GW_CFG_BOOL, "true or false", false, h_dereg, K_DEREG, 0, 0},
    {"codec", GW_CFG_GROUP | GW_CFG_STRING, GW_PAYLOAD_CODEC_EXPECT, false, h_codec, K_CODEC, 0, 0},
};

static int new_part(void **out)
{
    *out = calloc(1, sizeof(lora_part_t));
    return *out ? 0 : -ENOMEM;
}

static void free_part(void *part)
{
    lora_part_t *p = part;
    if (!p)
        return;
    lora_codec_free(&p->codec);
    free(p);
}

static int merge_part(const void *base, const void *over, void **out)
{
    const lora_part_t *b = base, *o = over;
    lora_part_t *d = calloc(1, sizeof *d);
    *out = d;
    if (!d)
        return -ENOMEM;
    if (b)
        *d = *b;
    d->codec = NULL;
    if (o) {
#define TAKE(flag, ...)                                                                       \
    if (o->flag) {                                                                            \
        d->flag = true;                                                                       \
        __VA_ARGS__;                                                                          \
    }
        TAKE(has_dev_eui, d->dev_eui = o->dev_eui)
        TAKE(has_join_eui, d->join_eui = o->join_eui)
        TAKE(has_app_key, memcpy(d->app_key, o->app_key, 16))
        TAKE(has_dev_addr, d->dev_addr = o->dev_addr)
        TAKE(has_nwk, memcpy(d->nwk_skey, o->nwk_skey, 16))
        TAKE(has_app, memcpy(d->app_skey, o->app_skey, 16))
#undef TAKE
        if (o->absent_after_s)
            d->absent_after_s = o->absent_after_s;
        if (o->deregister_absent)
            d->deregister_absent = true;
        d->line = o->line;
    }
    const lora_part_t *c = o && o->codec ? o : b && b->codec ? b : NULL;
    if (c) {
        d->codec = lora_codec_ref(c->codec);
        d->codec_line = c->codec_line;
    }
    return 0;
}

static int finish_part(gw_cfg_ctx_t *ctx, const void *section, void *part, gw_adapter_conf_dev_t *dev)
{
    (void)section;
    lora_part_t *p = part;
    const char *where = dev->where;
    if (p)
        p->line = dev->line;
    bool otaa = p && (p->has_app_key || p->has_join_eui);
    bool abp = p && (p->has_dev_addr || p->has_nwk || p->has_app);
    if (!p || (!otaa && !abp)) {
        gw_config_error(ctx, dev->group, "%s has adapter = \"lora\" but no keys, expected OTAA "
                                         "(dev_eui, join_eui, app_key) or ABP (dev_addr, nwk_skey, "
                                         "app_skey)", where);
        return 0;
    }
    if (otaa && abp) {
        gw_config_error(ctx, dev->group, "%s mixes OTAA keys (join_eui, app_key) and ABP keys "
                                         "(dev_addr, nwk_skey, app_skey), expected one set",
                        where);
        return 0;
    }
    if (otaa && (!p->has_dev_eui || !p->has_join_eui || !p->has_app_key))
        gw_config_error(ctx, dev->group, "%s is an OTAA device without %s, expected dev_eui, "
                                         "join_eui (or app_eui) and app_key", where,
                        !p->has_dev_eui ? "dev_eui" : !p->has_join_eui ? "join_eui" : "app_key");
    if (abp && (!p->has_dev_addr || !p->has_nwk || !p->has_app))
        gw_config_error(ctx, dev->group, "%s is an ABP device without %s, expected dev_addr, "
                                         "nwk_skey and app_skey", where,
                        !p->has_dev_addr ? "dev_addr" : !p->has_nwk ? "nwk_skey" : "app_skey");
    if (dev->address)
        return 0;
    int rc = p->has_dev_eui ? asprintf(&dev->default_address, "%016" PRIx64, p->dev_eui)
                            : asprintf(&dev->default_address, "%08" PRIx32, p->dev_addr);
    if (rc < 0) {
        dev->default_address = NULL;
        return -ENOMEM;
    }
    return 0;
}

static int identity(const void *part, char *buf, size_t size)
{
    const lora_part_t *p = part;
    if (p && p->has_dev_eui)
        snprintf(buf, size, "DevEUI %016" PRIx64, p->dev_eui);
    else if (p && p->has_dev_addr)
        snprintf(buf, size, "DevAddr %08" PRIx32, p->dev_addr);
    else
        return -ENOENT;
    return 0;
}

static int declare(const void *part, gw_field_decl_t **out, size_t *out_n)
{
    const lora_part_t *p = part;
    gw_path_t rssi = {.id = {4, 0, 2}, .len = 3}, lq = {.id = {4, 0, 3}, .len = 3};
    int line = p ? p->line : 0;
    int rc = gw_field_decl_add(out, out_n, "rssi", &rssi, NULL, false, line);
    if (rc == 0)
        rc = gw_field_decl_add(out, out_n, "snr", &lq, NULL, false, line);
    if (rc == 0 && p && p->codec)
        rc = lora_codec_declare(p->codec, out, out_n);
    return rc;
}

uint64_t gw_lora_identity_fingerprint(const lora_part_t *p)
{
    uint64_t h = GW_FNV_OFFSET;
    uint8_t f[6] = {p->has_dev_eui, p->has_join_eui, p->has_app_key, p->has_dev_addr, p->has_nwk,
                    p->has_app};
    gw_fnv_bytes(&h, f, sizeof f);
    gw_fnv_bytes(&h, &p->dev_eui, sizeof p->dev_eui);
    gw_fnv_bytes(&h, &p->join_eui, sizeof p->join_eui);
    gw_fnv_bytes(&h, p->app_key, 16);
    gw_fnv_bytes(&h, &p->dev_addr, sizeof p->dev_addr);
    gw_fnv_bytes(&h, p->nwk_skey, 16);
    gw_fnv_bytes(&h, p->app_skey, 16);
    return h;
}

static uint64_t part_fingerprint(const void *part)
{
    const lora_part_t *p = part;
    uint64_t h = GW_FNV_OFFSET;
    if (!p)
        return h;
    uint64_t id = gw_lora_identity_fingerprint(p);
    gw_fnv_bytes(&h, &id, sizeof id);
    int32_t v[] = {p->absent_after_s, p->deregister_absent, p->codec != NULL};
    gw_fnv_bytes(&h, v, sizeof v);
    if (p->codec)
        lora_codec_fingerprint(p->codec, &h);
    return h;
}

static void describe_part(const void *part, FILE *out)
{
    const lora_part_t *p = part;
    if (!p)
        return;
    if (lora_part_otaa(p))
        fprintf(out, "    lora OTAA DevEUI %016" PRIx64 ", JoinEUI %016" PRIx64 "\n", p->dev_eui,
                p->join_eui);
    else
        fprintf(out, "    lora ABP DevAddr %08" PRIx32 "\n", p->dev_addr);
    if (p->absent_after_s)
        fprintf(out, "    absent after %d s without an uplink%s\n", p->absent_after_s,
                p->deregister_absent ? " (de-registered)" : "");
    if (p->codec)
        lora_codec_describe(p->codec, out);
    else
        fprintf(out, "    no codec: only rssi and snr\n");
}

const gw_adapter_conf_ops_t gw_lora_conf_ops = {
    .keys = dev_keys,
    .n_keys = sizeof dev_keys / sizeof dev_keys[0],
    .keys_text = "dev_eui, join_eui, app_eui, app_key, dev_addr, nwk_skey, app_skey, uplink_timeout, "
                 "uplink_timeout_deregister and codec",
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
    .identity = identity,
    .identity_what = "LoRaWAN device",
    .identity_expect = "one entry per DevEUI (OTAA) or DevAddr (ABP)",
    .identity_key = "dev_eui",
    .field_noun = "LoRaWAN field",
    .decl_paths = true,
};
