/*
 * adapters/ble/ble.c - the BLE adapter: devices heard through BlueZ
 * (bluez.c) are found by address in a hash table (an advert of a device
 * the configuration does not name costs one lookup and no allocation),
 * their ServiceData and ManufacturerData decoded (decoder.h, encrypted
 * BTHome with the device's bindkey, or the device's payload codec) into
 * readings, their signal strength reported as "rssi", GATT left to
 * gatt.c, and a device not
 * heard for its absent_after marked absent (/3/0/11 = 7, optionally
 * de-registered) until its next advert. A reload keeps the state and
 * counters of every device it does not remove.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../adapters_internal.h"
#include "ble_internal.h"

/* ---- address table ----------------------------------------------------- */

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 32;
    return (size_t)key & (cap - 1);
}

static void table_put(gw_adapter_t *a, uint64_t mac, ble_dev_t *d)
{
    size_t i = slot_of(mac + 1, a->hcap);
    while (a->hkeys[i] && a->hkeys[i] != mac + 1)
        i = (i + 1) & (a->hcap - 1);
    if (!a->hkeys[i])
        a->hused++;
    a->hkeys[i] = mac + 1;
    a->hvals[i] = d;
}

/* Sized for half load at most, with room for addresses bound later. */
static int table_build(gw_adapter_t *a, size_t extra)
{
    size_t want = 16;
    while (want < 2 * (a->n_devs + extra) + 2)
        want *= 2;
    uint64_t *k = calloc(want, sizeof *k);
    ble_dev_t **v = calloc(want, sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    free(a->hkeys);
    free(a->hvals);
    a->hkeys = k, a->hvals = v, a->hcap = want, a->hused = 0;
    a->n_matchers = 0;
    for (size_t i = 0; i < a->n_devs; i++) {
        ble_dev_t *d = a->devs[i];
        if (d->has_mac && !d->conf->identity)
            table_put(a, d->mac, d);
        if (d->bound)
            table_put(a, d->bound, d);
        if (d->conf->name || d->conf->identity)
            a->n_matchers++;
    }
    return 0;
}

ble_dev_t *gw_ble_lookup(gw_adapter_t *a, uint64_t mac)
{
    if (!a->hcap)
        return NULL;
    size_t i = slot_of(mac + 1, a->hcap);
    while (a->hkeys[i]) {
        if (a->hkeys[i] == mac + 1)
            return a->hvals[i];
        i = (i + 1) & (a->hcap - 1);
    }
    return NULL;
}

/* ---- readings ---------------------------------------------------------- */

int gw_ble_emit(ble_dev_t *d, const char *field, gw_value_t v, const char *unit, int decimals)
{
    gw_adapter_t *a = d->a;
    gw_reading_t r = {.device_key = d->key, .field = field, .value = v, .unit = unit};
    if (v.type == GW_TYPE_FLOAT && decimals >= 0) {
        r.has_decimals = true;
        r.decimals = (int8_t)decimals;
    }
    return a->env.emit ? a->env.emit(a->env.emit_ctx, &r) : 0;
}

static void set_absent(ble_dev_t *d, bool absent)
{
    gw_adapter_t *a = d->a;
    if (d->absent == absent)
        return;
    d->absent = absent;
    if (absent)
        gw_notice("ble: %s absent (not heard for %.15g s)", d->key, d->conf->absent_after_s);
    else
        gw_notice("ble: %s heard again", d->key);
    gw_ble_emit(d, "error_code", (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = absent ? 7 : 0}, NULL, 0);
    if (d->conf->absent_deregister && a->env.set_available) {
        int rc = a->env.set_available(a->env.emit_ctx, d->key, !absent);
        if (rc < 0)
            gw_warn("ble: %s: the gateway could not mark it %s: %s", d->key,
                    absent ? "unavailable" : "available", strerror(-rc));
    }
}

static int64_t absent_ms(const ble_dev_t *d)
{
    return (int64_t)(d->conf->absent_after_s * 1000.0);
}

/* Re-armed lazily: an advert only stores its time, the timer moves once
 * per absent_after at most, so a busy device costs no heap operation. */
static void absent_check(void *ctx)
{
    ble_dev_t *d = ctx;
    int64_t due = d->last_seen_ms + absent_ms(d);
    if (gw_now_ms() >= due) {
        set_absent(d, true);
        return; /* re-armed by the next advert */
    }
    if (d->a->env.loop)
        gw_timer_start_at(d->a->env.loop, &d->absent_timer, due);
}

static void arm_absent(ble_dev_t *d)
{
    if (d->a->started && d->a->env.loop && !gw_timer_active(&d->absent_timer))
        gw_timer_start_at(d->a->env.loop, &d->absent_timer, d->last_seen_ms + absent_ms(d));
}

void gw_ble_heard(ble_dev_t *d)
{
    d->last_seen_ms = gw_now_ms();
    set_absent(d, false);
    arm_absent(d);
}

static bool refused(const ble_dev_t *d, uint8_t slot)
{
    return d->refused[slot / 8] & (1u << (slot % 8));
}

/* An encrypted frame (BTHome, MiBeacon v4/v5) into plain[0..*n): the MIC
 * checked with the device's key and its address, the counter against the
 * last accepted. A wrong key is logged once per device (every frame fails
 * alike), each refusal counted. */
static int decrypt_frame(ble_dev_t *d, const gw_ble_decoder_t *dec, const ble_blob_t *b,
                         uint8_t *plain, size_t *n)
{
    uint64_t m = d->bound ? d->bound : d->mac;
    uint8_t mac[6];
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(m >> (40 - 8 * i));
    uint32_t ctr;
    int rc = dec == &gw_ble_dec_bthome
                 ? gw_ble_bthome_decrypt(d->conf->bindkey, mac, b->p, b->n, plain, n, &ctr)
                 : gw_ble_mibeacon_decrypt(d->conf->bindkey, mac, b->p, b->n, plain, n, &ctr);
    if (rc == -EACCES) {
        if (d->bad_mic++ == 0)
            gw_warn("ble: %s: encrypted %s frame does not authenticate with the configured "
                    "bindkey (a wrong key?); such frames are dropped and counted", d->key,
                    dec->name);
        return rc;
    }
    if (rc < 0) {
        if (d->decode_errors++ % 1000 == 0)
            gw_warn("ble: %s: encrypted %s frame of %zu bytes refused: %s (%llu so far)", d->key,
                    dec->name, b->n, strerror(-rc), (unsigned long long)d->decode_errors);
        return rc;
    }
    /* BlueZ repeats the last advert's properties: the same counter is the
     * same frame, not an attack; a lower one is a replay. */
    if (d->has_enc_counter && ctr == d->enc_counter) {
        d->duplicates++;
        return -EALREADY;
    }
    if (d->has_enc_counter && ctr < d->enc_counter) {
        if (d->replays++ % 1000 == 0)
            gw_warn("ble: %s: encrypted %s frame with counter %u after %u refused as a "
                    "replay (%llu so far)", d->key, dec->name, ctr, d->enc_counter,
                    (unsigned long long)d->replays);
        return -EALREADY;
    }
    d->has_enc_counter = true;
    d->enc_counter = ctr;
    return 0;
}

static int codec_emit(void *ctx, const gw_payload_field_t *f)
{
    gw_ble_emit(ctx, f->name, f->value, f->unit, f->has_decimals ? f->decimals : -1);
    return 0;
}

/* The configured codec's reading of a ManufacturerData/ServiceData entry.
 * Such formats carry no counter: the bytes BlueZ repeats unchanged are the
 * same measurement (a hash of them, not a copy: no allocation per device). */
static void codec_blob(ble_dev_t *d, const ble_blob_t *b)
{
    uint64_t h = GW_FNV_OFFSET;
    gw_fnv_bytes(&h, b->p, b->n);
    if (d->has_codec_hash && d->codec_hash == h) {
        d->duplicates++;
        return;
    }
    char msg[160] = "";
    int rc = gw_payload_decode(d->conf->adv_codec, 0, b->p, b->n, codec_emit, d, msg, sizeof msg);
    if (rc < 0) {
        if (d->codec_errors++ % 1000 == 0)
            gw_warn("ble: %s: advert of %zu bytes refused by its codec: %s (%llu so far)", d->key,
                    b->n, msg[0] ? msg : strerror(-rc), (unsigned long long)d->codec_errors);
        return;
    }
    d->has_codec_hash = true;
    d->codec_hash = h;
}

static void decode_blob(ble_dev_t *d, const ble_blob_t *b)
{
    if (d->conf->adv_codec && b->src == d->conf->adv_src && b->id == d->conf->adv_id) {
        codec_blob(d, b);
        return;
    }
    for (size_t k = 0; gw_ble_decoders[k]; k++) {
        const gw_ble_decoder_t *dec = gw_ble_decoders[k];
        if ((d->dec && dec != d->dec) || dec->src != b->src || dec->id != b->id)
            continue;
        gw_ble_decoded_t out;
        uint8_t plain[GW_BLE_BTHOME_MAX_FRAME > GW_BLE_MIBEACON_MAX_FRAME
                          ? GW_BLE_BTHOME_MAX_FRAME
                          : GW_BLE_MIBEACON_MAX_FRAME];
        const uint8_t *p = b->p;
        size_t n = b->n;
        bool enc = (dec == &gw_ble_dec_bthome && n >= 1 && (p[0] & 0x01)) ||
                   (dec == &gw_ble_dec_mibeacon && n >= 2 && (p[0] & 0x08));
        if (enc && d->conf->has_bindkey) {
            if (decrypt_frame(d, dec, b, plain, &n) < 0)
                continue;
            p = plain;
        }
        int rc = dec->decode(p, n, &out);
        if (rc < 0) {
            /* One line for the first and then every 1000th: a device
             * sending what its decoder cannot read does so at every
             * advert. */
            if (d->decode_errors++ % 1000 == 0)
                gw_warn("ble: %s: %s frame of %zu bytes refused: %s (%llu so far)", d->key,
                        dec->name, b->n, strerror(-rc), (unsigned long long)d->decode_errors);
            continue;
        }
        /* BlueZ re-sends properties it already sent (a PropertiesChanged
         * with RSSI and data): the same counter is the same measurement. */
        if (out.has_counter && d->has_last_counter && d->last_dec == dec &&
            d->last_counter == out.counter) {
            d->duplicates++;
            continue;
        }
        d->has_last_counter = out.has_counter;
        d->last_counter = out.counter;
        d->last_dec = dec;
        for (size_t i = 0; i < out.n; i++) {
            const gw_ble_val_t *v = &out.v[i];
            if (refused(d, v->slot))
                continue;
            if (gw_ble_emit(d, v->field, v->value, v->unit, v->decimals) < 0)
                d->refused[v->slot / 8] |= (uint8_t)(1u << (v->slot % 8));
        }
    }
}

/* A device configured by match_name or identity = true, found the first
 * time an unknown address advertises (only when such devices exist). */
static ble_dev_t *match(gw_adapter_t *a, const ble_advert_t *adv)
{
    for (size_t i = 0; i < a->n_devs; i++) {
        ble_dev_t *d = a->devs[i];
        if (d->bound)
            continue;
        if (d->conf->name && adv->name && strcmp(d->conf->name, adv->name) == 0)
            return d;
        if (!d->conf->identity || !d->has_mac)
            continue;
        for (size_t j = 0; j < adv->n_blobs; j++) {
            const ble_blob_t *b = &adv->blobs[j];
            gw_ble_decoded_t out;
            if (b->src == d->dec->src && b->id == d->dec->id &&
                d->dec->decode(b->p, b->n, &out) == 0 && out.has_mac &&
                gw_ble_mac_from_bytes(out.mac) == d->mac)
                return d;
        }
    }
    return NULL;
}

void gw_ble_advert(gw_adapter_t *a, uint64_t mac, const ble_advert_t *adv)
{
    ble_dev_t *d = gw_ble_lookup(a, mac);
    if (!d && a->n_matchers && (adv->name || adv->n_blobs)) {
        d = match(a, adv);
        if (d) {
            d->bound = mac;
            gw_notice("ble: %s found at %02X:%02X:%02X:%02X:%02X:%02X", d->key,
                      (unsigned)(mac >> 40) & 0xFF, (unsigned)(mac >> 32) & 0xFF,
                      (unsigned)(mac >> 24) & 0xFF, (unsigned)(mac >> 16) & 0xFF,
                      (unsigned)(mac >> 8) & 0xFF, (unsigned)mac & 0xFF);
            if (2 * (a->hused + 1) > a->hcap ? table_build(a, a->n_devs) < 0 : false)
                gw_warn("ble: %s: out of memory binding its address", d->key);
            else
                table_put(a, mac, d);
        }
    }
    if (!d) {
        a->n_unknown++;
        return;
    }
    if (adv->has_connected || adv->has_resolved)
        gw_ble_gatt_device_props(d, adv);
    if (!adv->has_rssi && !adv->n_blobs)
        return; /* Connected, ServicesResolved, ...: not an advert */
    d->adverts++;
    gw_ble_heard(d);
    if (adv->has_rssi && !d->rssi_refused &&
        gw_ble_emit(d, "rssi", (gw_value_t){.type = GW_TYPE_INTEGER, .v.i = adv->rssi}, "dBm", 0) < 0)
        d->rssi_refused = true;
    for (size_t j = 0; j < adv->n_blobs; j++)
        decode_blob(d, &adv->blobs[j]);
}

/* ---- devices ----------------------------------------------------------- */

static void dev_free(ble_dev_t *d)
{
    if (!d)
        return;
    gw_ble_gatt_stop(d, -ECANCELED);
    if (d->a->env.loop)
        gw_timer_stop(d->a->env.loop, &d->absent_timer);
    free(d->key);
    free(d);
}

static int dev_new(gw_adapter_t *a, const gw_adapter_device_t *g, ble_dev_t **out)
{
    static const gw_ble_part_t none = {.absent_after_s = GW_BLE_ABSENT_DEFAULT_S};
    ble_dev_t *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->a = a;
    d->key = strdup(g->key);
    if (!d->key) {
        free(d);
        return -ENOMEM;
    }
    d->conf = g->conf ? g->conf : &none;
    d->dec = gw_ble_decoder_find(d->conf->decoder);
    const char *addr = strchr(g->key, ':');
    d->has_mac = addr && gw_ble_mac_parse(addr + 1, &d->mac) == 0;
    d->last_seen_ms = gw_now_ms();
    gw_timer_init(&d->absent_timer, absent_check, d);
    gw_ble_gatt_init(d);
    *out = d;
    return 0;
}

static int ble_create(const gw_adapter_env_t *env, const void *section,
                      const gw_adapter_device_t *devs, size_t n, gw_adapter_t **out)
{
    static const gw_ble_section_t defaults = {.controller = "hci0"};
    if (!env || !out)
        return -EINVAL;
    gw_adapter_t *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->env = *env;
    a->sec = section ? section : &defaults;
    a->fd = -1;
    snprintf(a->ctl_path, sizeof a->ctl_path, "/org/bluez/%s", a->sec->controller);
    a->devs = calloc(n ? n : 1, sizeof *a->devs);
    if (!a->devs)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (dev_new(a, &devs[i], &a->devs[i]) < 0)
            goto fail;
        a->n_devs++;
    }
    if (table_build(a, 0) < 0)
        goto fail;
    *out = a;
    return 0;
fail:
    for (size_t i = 0; i < a->n_devs; i++)
        dev_free(a->devs[i]);
    free(a->devs);
    free(a);
    return -ENOMEM;
}

static ble_dev_t *find_key(gw_adapter_t *a, const char *key, size_t *out_i)
{
    for (size_t i = 0; i < a->n_devs; i++)
        if (strcmp(a->devs[i]->key, key) == 0) {
            if (out_i)
                *out_i = i;
            return a->devs[i];
        }
    return NULL;
}

/* Checked whole before anything changes, so a refusal leaves the adapter
 * as it was. A changed device keeps its counters, absence and bound
 * address; what its mapping refused is forgotten (the mapping may have
 * changed with it). */
static int ble_reconfigure(gw_adapter_t *a, const gw_adapter_change_t *ch, size_t n)
{
    if (!a)
        return -EINVAL;
    size_t add = 0;
    for (size_t i = 0; i < n; i++) {
        bool have = find_key(a, ch[i].dev.key, NULL) != NULL;
        if (ch[i].kind == GW_ADAPTER_ADDED ? have : !have)
            return -EINVAL;
        add += ch[i].kind == GW_ADAPTER_ADDED;
    }
    ble_dev_t **nd = calloc(a->n_devs + add + 1, sizeof *nd);
    ble_dev_t **fresh = calloc(add + 1, sizeof *fresh);
    size_t n_fresh = 0;
    if (!nd || !fresh)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if (ch[i].kind == GW_ADAPTER_ADDED && dev_new(a, &ch[i].dev, &fresh[n_fresh++]) < 0) {
            n_fresh--;
            goto nomem;
        }
    /* Connections of removed and changed devices end first, while every
     * device is still valid: ending one hands the controller to the next
     * queued device. */
    for (size_t i = 0; i < n; i++) {
        ble_dev_t *d = ch[i].kind != GW_ADAPTER_ADDED ? find_key(a, ch[i].dev.key, NULL) : NULL;
        if (d)
            gw_ble_gatt_stop(d, -ECANCELED);
    }
    size_t m = 0;
    for (size_t i = 0; i < a->n_devs; i++) {
        ble_dev_t *d = a->devs[i];
        const gw_adapter_change_t *c = NULL;
        for (size_t j = 0; j < n && !c; j++)
            if (ch[j].kind != GW_ADAPTER_ADDED && strcmp(ch[j].dev.key, d->key) == 0)
                c = &ch[j];
        if (c && c->kind == GW_ADAPTER_REMOVED) {
            dev_free(d);
            continue;
        }
        if (c) {
            static const gw_ble_part_t none = {.absent_after_s = GW_BLE_ABSENT_DEFAULT_S};
            d->conf = c->dev.conf ? c->dev.conf : &none;
            d->dec = gw_ble_decoder_find(d->conf->decoder);
            memset(d->refused, 0, sizeof d->refused);
            d->rssi_refused = false;
            if (!d->conf->name && !d->conf->identity)
                d->bound = 0;
            if (a->env.loop)
                gw_timer_stop(a->env.loop, &d->absent_timer);
        }
        nd[m++] = d;
    }
    for (size_t i = 0; i < n_fresh; i++)
        nd[m++] = fresh[i];
    free(fresh);
    free(a->devs);
    a->devs = nd;
    a->n_devs = m;
    if (table_build(a, 0) < 0)
        return -ENOMEM; /* the gateway restarts the adapter */
    for (size_t i = 0; i < a->n_devs; i++)
        if (!a->devs[i]->absent)
            arm_absent(a->devs[i]);
    if (a->started)
        gw_ble_gatt_kick(a); /* added and changed devices start their cycle */
    return 0;
nomem:
    for (size_t i = 0; i < n_fresh; i++)
        dev_free(fresh[i]);
    free(fresh);
    free(nd);
    return -ENOMEM;
}

static int ble_start(gw_adapter_t *a)
{
    if (!a)
        return -EINVAL;
    a->started = true;
    int64_t now = gw_now_ms();
    for (size_t i = 0; i < a->n_devs; i++) {
        a->devs[i]->last_seen_ms = now;
        arm_absent(a->devs[i]);
    }
    if (!a->env.loop)
        return 0; /* unit tests feed adverts by hand */
    int rc = gw_ble_bus_start(a);
    if (rc == 0)
        gw_ble_gatt_kick(a); /* connections wait for the controller */
    return rc;
}

static void ble_stop(gw_adapter_t *a)
{
    if (!a || !a->started)
        return;
    a->started = false;
    gw_ble_gatt_reset_all(a, -ECANCELED);
    for (size_t i = 0; i < a->n_devs; i++)
        if (a->env.loop)
            gw_timer_stop(a->env.loop, &a->devs[i]->absent_timer);
    if (a->env.loop)
        gw_ble_bus_stop(a);
}

static void ble_destroy(gw_adapter_t **pa)
{
    if (!pa || !*pa)
        return;
    gw_adapter_t *a = *pa;
    ble_stop(a);
    for (size_t i = 0; i < a->n_devs; i++)
        dev_free(a->devs[i]);
    free(a->devs);
    free(a->hkeys);
    free(a->hvals);
    free(a);
    *pa = NULL;
}

const gw_adapter_ops_t gw_adapter_ble = {
    .name = "ble",
    .conf = &gw_ble_conf_ops,
    .create = ble_create,
    .reconfigure = ble_reconfigure,
    .start = ble_start,
    .stop = ble_stop,
    .destroy = ble_destroy,
    .write_check = gw_ble_gatt_write_check,
    .write_async = gw_ble_gatt_write_async,
    .write_range = gw_ble_gatt_write_range,
    .write_step = gw_ble_gatt_write_step,
};
