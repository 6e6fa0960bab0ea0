/*
 * adapters/ble/gatt.c - GATT for sensors that only offer characteristics:
 * connect (Device1.Connect), wait for ServicesResolved, find the configured
 * characteristics by UUID under the device's object (GetManagedObjects),
 * read them every gatt_interval (ReadValue) or subscribe (StartNotify, then
 * PropertiesChanged Value), and disconnect or stay connected as configured.
 * LwM2M Writes become WriteValue calls completed when BlueZ answers.
 *
 * The controller makes one connection attempt at a time (an LE controller
 * initiates one connection at a time and BlueZ queues the rest opaquely, so
 * a device out of range would hold up every other): devices wait in
 * G_QUEUED for a->connecting to be free. A failed attempt backs off from
 * 1 s, doubling to 5 min. Every D-Bus call is asynchronous; its slot is
 * kept so a reload or a stop cancels the call and its callback never runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "ble_internal.h"

#define BLUEZ "org.bluez"
#define IFACE_DEVICE "org.bluez.Device1"
#define IFACE_CHAR "org.bluez.GattCharacteristic1"
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 300000
#define RESOLVE_MS 30000          /* ServicesResolved after Connect */
#define CALL_USEC 30000000ull     /* BlueZ answers a Connect within its own 20-40 s */

static void find_chars(ble_dev_t *d);
static void try_connect(gw_adapter_t *a);

/* ---- helpers ----------------------------------------------------------- */

static void dev_path(const ble_dev_t *d, char *buf, size_t size)
{
    uint64_t m = d->bound ? d->bound : d->mac;
    snprintf(buf, size, "%s/dev_%02X_%02X_%02X_%02X_%02X_%02X", d->a->ctl_path,
             (unsigned)(m >> 40) & 0xFF, (unsigned)(m >> 32) & 0xFF, (unsigned)(m >> 24) & 0xFF,
             (unsigned)(m >> 16) & 0xFF, (unsigned)(m >> 8) & 0xFF, (unsigned)m & 0xFF);
}

static bool has_address(const ble_dev_t *d)
{
    return d->bound || (d->has_mac && !d->conf->identity);
}

static int call(gw_adapter_t *a, sd_bus_slot **slot, const char *path, const char *iface,
                const char *member, sd_bus_message_handler_t cb, void *ud)
{
    sd_bus_message *m = NULL;
    int r = sd_bus_message_new_method_call(a->bus, &m, BLUEZ, path, iface, member);
    if (r >= 0 && strcmp(member, "ReadValue") == 0)
        r = sd_bus_message_append(m, "a{sv}", 0);
    if (r >= 0)
        r = sd_bus_call_async(a->bus, slot, m, cb, ud, CALL_USEC);
    sd_bus_message_unref(m);
    return r;
}

/* BlueZ's error names to the adapter contract's codes (adapter.h). */
static int bluez_err(const sd_bus_error *e)
{
    const char *n = e->name ? e->name : "";
    if (strcmp(n, "org.bluez.Error.NotConnected") == 0 ||
        (strcmp(n, "org.bluez.Error.Failed") == 0 && e->message &&
         strstr(e->message, "Not connected")))
        return -ENOTCONN;
    if (strcmp(n, "org.freedesktop.DBus.Error.NoReply") == 0 ||
        strcmp(n, "org.freedesktop.DBus.Error.Timeout") == 0 ||
        strcmp(n, "org.freedesktop.DBus.Error.TimedOut") == 0)
        return -ETIMEDOUT;
    return -EIO; /* NotPermitted, NotAuthorized, InvalidValueLength, Failed, ... */
}

/* ---- writes ------------------------------------------------------------ */

static void write_finish(ble_write_t *w, int rc)
{
    ble_dev_t *d = w->d;
    ble_write_t **pp = &d->g.writes;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    sd_bus_slot_unref(w->slot);
    gw_write_done_fn done = w->done;
    void *ctx = w->done_ctx;
    free(w);
    if (rc == 0)
        d->g.writes_done++;
    done(ctx, rc);
}

static void fail_writes(ble_dev_t *d, int err)
{
    while (d->g.writes)
        write_finish(d->g.writes, err);
}

static void disconnect_if_done(ble_dev_t *d);

static int on_write(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    ble_write_t *w = ud;
    ble_dev_t *d = w->d;
    const sd_bus_error *err = sd_bus_message_get_error(m);
    int rc = err ? bluez_err(err) : 0;
    if (err)
        gw_warn("ble: %s: WriteValue to %s failed: %s: %s", d->key, d->conf->chars[w->ch].uuid,
                err->name, err->message ? err->message : "");
    write_finish(w, rc);
    disconnect_if_done(d);
    return 0;
}

static void send_writes(ble_dev_t *d)
{
    for (ble_write_t *w = d->g.writes, *next; w; w = next) {
        next = w->next;
        if (w->slot)
            continue;
        const char *path = d->g.ch[w->ch].path;
        if (!path) {
            write_finish(w, -EIO); /* the device does not offer it */
            continue;
        }
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(d->a->bus, &m, BLUEZ, path, IFACE_CHAR,
                                               "WriteValue");
        if (r >= 0)
            r = sd_bus_message_append_array(m, 'y', w->bytes, w->len);
        /* "request": a Write Request, acknowledged by the device, so the
         * answer means the value arrived. */
        if (r >= 0)
            r = sd_bus_message_append(m, "a{sv}", 1, "type", "s", "request");
        if (r >= 0)
            r = sd_bus_call_async(d->a->bus, &w->slot, m, on_write, w, CALL_USEC);
        sd_bus_message_unref(m);
        if (r < 0)
            write_finish(w, r);
    }
}

/* ---- connection -------------------------------------------------------- */

static void release_slot(ble_dev_t *d)
{
    gw_adapter_t *a = d->a;
    if (a->connecting != d)
        return;
    a->connecting = NULL;
    try_connect(a);
}

/* Forget the connection state; the device object stays with BlueZ. */
static void drop(ble_dev_t *d)
{
    d->g.slot = sd_bus_slot_unref(d->g.slot);
    for (size_t i = 0; d->g.ch && i < d->conf->n_chars; i++) {
        d->g.ch[i].slot = sd_bus_slot_unref(d->g.ch[i].slot);
        free(d->g.ch[i].path);
        d->g.ch[i].path = NULL;
    }
    d->g.reads_left = 0;
    d->g.notifying_done = 0;
    d->g.state = G_IDLE;
    release_slot(d);
}

static void send_disconnect(ble_dev_t *d)
{
    char path[64];
    if (!d->a->bus || !has_address(d))
        return;
    dev_path(d, path, sizeof path);
    /* No callback: nothing waits for it, and a reply to a freed device
     * must not arrive anywhere. */
    sd_bus_call_method_async(d->a->bus, NULL, BLUEZ, path, IFACE_DEVICE, "Disconnect", NULL,
                             NULL, "");
}

static void schedule(ble_dev_t *d, int64_t at_ms)
{
    if (d->a->env.loop)
        gw_timer_start_at(d->a->env.loop, &d->g.timer, at_ms);
}

/* A failed attempt (no answer, Connect refused, services not resolved):
 * back off, so a device out of range costs one attempt per back-off and
 * leaves the controller to the others in between. */
static void fail(ble_dev_t *d, const char *what, int log_always)
{
    d->g.connect_failures++;
    d->g.backoff_ms = d->g.backoff_ms ? d->g.backoff_ms * 2 : BACKOFF_MIN_MS;
    if (d->g.backoff_ms > BACKOFF_MAX_MS)
        d->g.backoff_ms = BACKOFF_MAX_MS;
    /* The first failure of a streak is news; the next ones are the same
     * device still out of range. */
    if (log_always || d->g.connect_failures == 1 || d->g.backoff_ms == BACKOFF_MIN_MS)
        gw_warn("ble: %s: %s (next attempt in %lld ms)", d->key, what,
                (long long)d->g.backoff_ms);
    else
        gw_debug("ble: %s: %s (next attempt in %lld ms)", d->key, what,
                 (long long)d->g.backoff_ms);
    bool connected = d->g.state >= G_FINDING;
    drop(d);
    if (connected)
        send_disconnect(d);
    fail_writes(d, -ENOTCONN);
    schedule(d, gw_now_ms() + d->g.backoff_ms);
}

static int on_connect(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    ble_dev_t *d = ud;
    d->g.slot = sd_bus_slot_unref(d->g.slot);
    const sd_bus_error *err = sd_bus_message_get_error(m);
    if (err && strcmp(err->name, "org.bluez.Error.AlreadyConnected") != 0) {
        char what[256];
        snprintf(what, sizeof what, "Connect failed: %s: %s", err->name,
                 err->message ? err->message : "");
        fail(d, what, 0);
        return 0;
    }
    d->g.connects++;
    d->g.state = G_FINDING;
    schedule(d, gw_now_ms() + RESOLVE_MS);
    find_chars(d);
    return 0;
}

/* The next queued device gets the controller, in configuration order
 * from the one after the last (no device starves the others). */
static void try_connect(gw_adapter_t *a)
{
    /* while every connection is being dropped (stop, bluetoothd gone), the
     * one ending must not hand the controller to the next */
    if (a->connecting || a->gatt_resetting || !a->started || !gw_ble_bus_ready(a))
        return;
    for (size_t k = 0; k < a->n_devs; k++) {
        size_t i = (a->connect_next + k) % a->n_devs;
        ble_dev_t *d = a->devs[i];
        if (d->g.state != G_QUEUED)
            continue;
        a->connect_next = i + 1;
        char path[64];
        dev_path(d, path, sizeof path);
        int r = call(a, &d->g.slot, path, IFACE_DEVICE, "Connect", on_connect, d);
        if (r < 0) {
            d->g.state = G_IDLE;
            fail(d, "Connect could not be sent", 0);
            continue;
        }
        d->g.state = G_CONNECTING;
        a->connecting = d;
        return;
    }
}

static void queue(ble_dev_t *d)
{
    if (d->g.state != G_IDLE)
        return;
    if (!has_address(d)) {
        /* found by name or payload MAC: its first advert binds it */
        schedule(d, gw_now_ms() + BACKOFF_MIN_MS);
        return;
    }
    d->g.state = G_QUEUED;
    try_connect(d->a);
}

void gw_ble_gatt_kick(gw_adapter_t *a)
{
    if (!a->started)
        return;
    for (size_t i = 0; i < a->n_devs; i++)
        if (a->devs[i]->conf->n_chars && !a->devs[i]->g.ch)
            gw_ble_gatt_start(a->devs[i]);
    try_connect(a);
}

/* ---- values ------------------------------------------------------------ */

typedef struct {
    ble_dev_t *d;
} emit_ctx_t;

static int codec_emit(void *ctx, const gw_payload_field_t *f)
{
    emit_ctx_t *c = ctx;
    gw_ble_emit(c->d, f->name, f->value, f->unit, f->has_decimals ? f->decimals : -1);
    return 0;
}

static void value(ble_dev_t *d, size_t i, const uint8_t *p, size_t n)
{
    const gw_ble_char_conf_t *c = &d->conf->chars[i];
    int rc;
    char msg[160] = "";
    if (c->codec) {
        emit_ctx_t ctx = {d};
        rc = gw_payload_decode(c->codec, 0, p, n, codec_emit, &ctx, msg, sizeof msg);
    } else {
        gw_value_t v;
        rc = gw_ble_ess_decode(c->ess, p, n, &v);
        if (rc == -ENODATA)
            return; /* the sensor says it has no value now */
        if (rc == 0)
            gw_ble_emit(d, c->field, v, c->unit, c->ess->decimals);
        else
            snprintf(msg, sizeof msg, "%zu bytes, expected %u in range %g..%g", n, c->ess->len,
                     c->ess->lo, c->ess->hi);
    }
    if (rc < 0 && d->decode_errors++ % 1000 == 0)
        gw_warn("ble: %s: characteristic %s value refused: %s (%llu so far)", d->key, c->uuid,
                msg[0] ? msg : strerror(-rc), (unsigned long long)d->decode_errors);
}

static int read_bytes(sd_bus_message *m, const uint8_t **p, size_t *n)
{
    const void *ptr = NULL;
    int r = sd_bus_message_read_array(m, 'y', &ptr, n);
    *p = ptr;
    return r;
}

static void disconnect_if_done(ble_dev_t *d)
{
    if (d->conf->stay_connected || d->g.state != G_READY || d->g.reads_left || d->g.writes)
        return;
    drop(d);
    send_disconnect(d);
}

static int on_read(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    ble_gatt_char_t *ch = ud;
    ble_dev_t *d = ch->d;
    ch->slot = sd_bus_slot_unref(ch->slot);
    if (d->g.reads_left)
        d->g.reads_left--;
    const sd_bus_error *err = sd_bus_message_get_error(m);
    if (err) {
        int rc = bluez_err(err);
        if (d->g.read_errors++ % 100 == 0)
            gw_warn("ble: %s: ReadValue of %s failed: %s: %s (%llu so far)", d->key,
                    d->conf->chars[ch->i].uuid, err->name, err->message ? err->message : "",
                    (unsigned long long)d->g.read_errors);
        if (rc == -ENOTCONN) {
            fail(d, "connection lost", 0);
            return 0;
        }
    } else {
        const uint8_t *p;
        size_t n;
        if (read_bytes(m, &p, &n) >= 0) {
            d->g.reads++;
            gw_ble_heard(d);
            value(d, ch->i, p, n);
        }
    }
    disconnect_if_done(d);
    return 0;
}

static int on_notify(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    ble_gatt_char_t *ch = ud;
    ble_dev_t *d = ch->d;
    ch->slot = sd_bus_slot_unref(ch->slot);
    const sd_bus_error *err = sd_bus_message_get_error(m);
    if (err)
        gw_warn("ble: %s: StartNotify on %s failed: %s: %s", d->key, d->conf->chars[ch->i].uuid,
                err->name, err->message ? err->message : "");
    return 0;
}

static void start_cycle(ble_dev_t *d);

/* ---- finding the characteristics --------------------------------------- */

static const char *char_uuid_props(sd_bus_message *m)
{
    const char *uuid = NULL;
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *key;
        if (sd_bus_message_read(m, "s", &key) < 0)
            return NULL;
        if (strcmp(key, "UUID") == 0)
            r = sd_bus_message_read(m, "v", "s", &uuid);
        else
            r = sd_bus_message_skip(m, "v");
        if (r >= 0)
            r = sd_bus_message_exit_container(m);
    }
    sd_bus_message_exit_container(m);
    return r < 0 ? NULL : uuid;
}

static int resolved_props(sd_bus_message *m, bool *out)
{
    ble_advert_t adv;
    int r = gw_ble_parse_device_props(m, &adv);
    if (r >= 0 && adv.has_resolved)
        *out = adv.resolved;
    return r;
}

static int on_objects(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    ble_dev_t *d = ud;
    d->g.slot = sd_bus_slot_unref(d->g.slot);
    if (sd_bus_message_get_error(m)) {
        fail(d, "GetManagedObjects failed", 0);
        return 0;
    }
    char dp[64];
    dev_path(d, dp, sizeof dp);
    size_t dl = strlen(dp);
    bool resolved = false;
    int r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
        const char *path;
        if ((r = sd_bus_message_read(m, "o", &path)) < 0)
            break;
        bool mine = strncmp(path, dp, dl) == 0 && (path[dl] == '/' || !path[dl]);
        if (!mine) {
            r = sd_bus_message_skip(m, "a{sa{sv}}");
        } else {
            r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
            while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                const char *iface;
                if ((r = sd_bus_message_read(m, "s", &iface)) < 0)
                    break;
                if (!path[dl] && strcmp(iface, IFACE_DEVICE) == 0) {
                    r = resolved_props(m, &resolved);
                } else if (path[dl] && strcmp(iface, IFACE_CHAR) == 0) {
                    const char *uuid = char_uuid_props(m);
                    for (size_t i = 0; uuid && i < d->conf->n_chars; i++)
                        if (!d->g.ch[i].path && strcasecmp(uuid, d->conf->chars[i].uuid) == 0)
                            d->g.ch[i].path = strdup(path);
                } else {
                    r = sd_bus_message_skip(m, "a{sv}");
                }
                if (r >= 0)
                    r = sd_bus_message_exit_container(m);
            }
            if (r >= 0)
                r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
            r = sd_bus_message_exit_container(m);
    }
    if (r < 0) {
        fail(d, "GetManagedObjects: unreadable answer", 1);
        return 0;
    }
    d->g.resolved = d->g.resolved || resolved;
    if (!d->g.resolved)
        return 0; /* gw_ble_gatt_device_props finds them once BlueZ resolved the services */
    size_t found = 0;
    for (size_t i = 0; i < d->conf->n_chars; i++) {
        if (d->g.ch[i].path)
            found++;
        else if (d->g.connects == 1)
            gw_warn("ble: %s: the device offers no characteristic %s", d->key,
                    d->conf->chars[i].uuid);
    }
    if (!found) {
        fail(d, "none of the configured characteristics found", 0);
        return 0;
    }
    if (d->a->env.loop)
        gw_timer_stop(d->a->env.loop, &d->g.timer);
    d->g.state = G_READY;
    /* news: the first connection, and the first after failed ones (not
     * each connection of a device that disconnects between reads) */
    bool recovered = d->g.backoff_ms != 0;
    d->g.backoff_ms = 0;
    if (d->g.connects == 1 || recovered)
        gw_notice("ble: %s connected, %zu of %zu characteristics found", d->key, found,
                  d->conf->n_chars);
    release_slot(d);
    start_cycle(d);
    return 0;
}

static void find_chars(ble_dev_t *d)
{
    d->g.slot = sd_bus_slot_unref(d->g.slot);
    for (size_t i = 0; i < d->conf->n_chars; i++) {
        free(d->g.ch[i].path);
        d->g.ch[i].path = NULL;
    }
    int r = sd_bus_call_method_async(d->a->bus, &d->g.slot, BLUEZ, "/",
                                     "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                     on_objects, d, "");
    if (r < 0)
        fail(d, "GetManagedObjects could not be sent", 1);
}

/* ---- cycle ------------------------------------------------------------- */

/* Reads of the read characteristics (one cycle), the first time also the
 * subscriptions, and the writes that waited for the connection. */
static void start_cycle(ble_dev_t *d)
{
    gw_adapter_t *a = d->a;
    int64_t now = gw_now_ms();
    d->g.next_cycle_ms = now + (int64_t)(d->conf->gatt_interval_s * 1000.0);
    for (size_t i = 0; i < d->conf->n_chars; i++) {
        ble_gatt_char_t *ch = &d->g.ch[i];
        const gw_ble_char_conf_t *c = &d->conf->chars[i];
        if (!ch->path || ch->slot)
            continue;
        int r;
        if (c->notify) {
            if (d->g.notifying_done & (1ull << i))
                continue;
            d->g.notifying_done |= 1ull << i;
            r = call(a, &ch->slot, ch->path, IFACE_CHAR, "StartNotify", on_notify, ch);
        } else {
            r = call(a, &ch->slot, ch->path, IFACE_CHAR, "ReadValue", on_read, ch);
            if (r >= 0)
                d->g.reads_left++;
        }
        if (r < 0)
            gw_warn("ble: %s: %s could not be sent: %s", d->key, c->uuid, strerror(-r));
    }
    send_writes(d);
    schedule(d, d->g.next_cycle_ms);
    disconnect_if_done(d);
}

static void on_timer(void *ctx)
{
    ble_dev_t *d = ctx;
    switch (d->g.state) {
    case G_IDLE: queue(d); break;
    case G_READY: start_cycle(d); break;
    case G_FINDING: fail(d, "services not resolved in time", 0); break;
    case G_QUEUED:
    case G_CONNECTING: break; /* sd-bus times the Connect out */
    }
}

void gw_ble_gatt_device_props(ble_dev_t *d, const ble_advert_t *adv)
{
    if (!d->conf->n_chars || !d->g.ch)
        return;
    if (adv->has_resolved)
        d->g.resolved = adv->resolved;
    if (adv->has_connected && !adv->connected) {
        d->g.resolved = false;
        if (d->g.state >= G_FINDING) {
            if (d->conf->stay_connected || d->g.reads_left || d->g.writes)
                fail(d, "disconnected", 0);
            else
                drop(d);
            if (d->g.state == G_IDLE && !gw_timer_active(&d->g.timer))
                schedule(d, d->g.next_cycle_ms);
        }
        return;
    }
    if (d->g.state == G_FINDING && d->g.resolved && !d->g.slot)
        find_chars(d);
}

void gw_ble_gatt_char_props(gw_adapter_t *a, const char *path, sd_bus_message *m)
{
    /* ".../dev_AA_BB_CC_DD_EE_FF/serviceXXXX/charYYYY": the device by the
     * address in the path, one lookup, then its few characteristics. */
    const char *dev = strstr(path, "/dev_");
    uint64_t mac;
    char dp[64];
    if (!dev || strlen(dev) < 22 || (size_t)(dev - path) + 22 >= sizeof dp) {
        sd_bus_message_skip(m, "a{sv}");
        return;
    }
    memcpy(dp, path, (size_t)(dev - path) + 22);
    dp[dev - path + 22] = '\0';
    ble_dev_t *d = gw_ble_path_mac(dp, &mac) == 0 ? gw_ble_lookup(a, mac) : NULL;
    size_t i = 0;
    while (d && d->g.ch && i < d->conf->n_chars &&
           !(d->g.ch[i].path && strcmp(d->g.ch[i].path, path) == 0))
        i++;
    /* BlueZ also updates Value after each ReadValue: only a notified
     * characteristic's changes are readings, a read one has its answer. */
    if (!d || !d->g.ch || i == d->conf->n_chars || d->g.state != G_READY ||
        !d->conf->chars[i].notify) {
        sd_bus_message_skip(m, "a{sv}");
        return;
    }
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *key;
        if (sd_bus_message_read(m, "s", &key) < 0)
            return;
        char type;
        const char *contents;
        if (strcmp(key, "Value") == 0 && sd_bus_message_peek_type(m, &type, &contents) > 0 &&
            contents && strcmp(contents, "ay") == 0) {
            const uint8_t *p;
            size_t n;
            if (sd_bus_message_enter_container(m, 'v', "ay") < 0 || read_bytes(m, &p, &n) < 0)
                return;
            d->g.notifications++;
            gw_ble_heard(d);
            value(d, i, p, n);
            r = sd_bus_message_exit_container(m);
        } else {
            r = sd_bus_message_skip(m, "v");
        }
        if (r >= 0)
            r = sd_bus_message_exit_container(m);
    }
}

/* ---- lifetime ---------------------------------------------------------- */

void gw_ble_gatt_init(ble_dev_t *d)
{
    gw_timer_init(&d->g.timer, on_timer, d);
}

void gw_ble_gatt_start(ble_dev_t *d)
{
    if (!d->conf->n_chars || !d->a->env.loop || d->g.ch)
        return;
    d->g.ch = calloc(d->conf->n_chars, sizeof *d->g.ch);
    if (!d->g.ch) {
        gw_err("ble: %s: out of memory for its characteristics", d->key);
        return;
    }
    for (size_t i = 0; i < d->conf->n_chars; i++)
        d->g.ch[i] = (ble_gatt_char_t){.d = d, .i = i};
    queue(d);
}

void gw_ble_gatt_reset_all(gw_adapter_t *a, int err)
{
    a->gatt_resetting = true;
    for (size_t i = 0; i < a->n_devs; i++)
        if (a->devs[i]->g.ch)
            gw_ble_gatt_stop(a->devs[i], err);
    a->gatt_resetting = false;
}

void gw_ble_gatt_stop(ble_dev_t *d, int err)
{
    if (d->a->env.loop)
        gw_timer_stop(d->a->env.loop, &d->g.timer);
    /* A connection (or an attempt BlueZ would complete) is not left behind
     * with nobody using it. */
    if (d->g.state >= G_CONNECTING)
        send_disconnect(d);
    drop(d);
    fail_writes(d, err);
    free(d->g.ch);
    d->g.ch = NULL;
    d->g.resolved = false;
}

/* ---- writes from LwM2M ------------------------------------------------- */

/* The characteristic a field is written to: an ESS one by its field name,
 * a codec's by the codec's encoder (which knows its writable fields). */
static int find_write(gw_adapter_t *a, const char *key, const char *field, const gw_value_t *v,
                      ble_dev_t **out_d, size_t *out_i, uint8_t *bytes, size_t *len)
{
    ble_dev_t *d = NULL;
    for (size_t i = 0; i < a->n_devs && !d; i++)
        if (strcmp(a->devs[i]->key, key) == 0)
            d = a->devs[i];
    if (!d)
        return -ENOENT;
    int rc = -ENOENT;
    for (size_t i = 0; i < d->conf->n_chars; i++) {
        const gw_ble_char_conf_t *c = &d->conf->chars[i];
        if (c->ess && c->field && strcmp(c->field, field) == 0) {
            if (!c->writable)
                return -EPERM;
            if (!v)
                return -ENOTSUP;
            rc = gw_ble_ess_encode(c->ess, v, bytes, len);
        } else if (c->codec && v) {
            unsigned port;
            rc = gw_payload_encode(c->codec, field, v, &port, bytes, GW_PAYLOAD_MAX_BYTES, len,
                                   NULL, 0);
            if (rc == -ENOENT)
                continue;
            if (rc == -ENOSPC || rc == -EBADMSG || rc == -ETIMEDOUT)
                rc = -EINVAL;
        } else {
            continue;
        }
        *out_d = d;
        *out_i = i;
        return rc;
    }
    return rc == -ENOENT && !v ? -ENOENT : rc;
}

int gw_ble_gatt_write_check(gw_adapter_t *a, const char *key, const char *field,
                            const gw_value_t *v, const char *args)
{
    (void)args;
    ble_dev_t *d;
    size_t i, len;
    uint8_t b[GW_PAYLOAD_MAX_BYTES];
    if (!a || !key || !field)
        return -EINVAL;
    return find_write(a, key, field, v, &d, &i, b, &len);
}

int gw_ble_gatt_write_async(gw_adapter_t *a, const char *key, const char *field,
                            const gw_value_t *v, const char *args, gw_write_done_fn done,
                            void *done_ctx)
{
    (void)args;
    ble_dev_t *d;
    size_t i;
    if (!a || !key || !field || !done)
        return -EINVAL;
    ble_write_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    int rc = find_write(a, key, field, v, &d, &i, w->bytes, &w->len);
    if (rc == 0 && (!a->started || !d->g.ch))
        rc = -ENOTCONN;
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->d = d, w->ch = i, w->done = done, w->done_ctx = done_ctx;
    ble_write_t **pp = &d->g.writes;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    if (d->g.state == G_READY)
        send_writes(d);
    else if (d->g.state == G_IDLE)
        queue(d); /* a device that disconnects between reads connects for it */
    return 0;
}

int gw_ble_gatt_write_range(gw_adapter_t *a, const char *key, const char *field, double *lo,
                            double *hi)
{
    for (size_t k = 0; a && k < a->n_devs; k++) {
        ble_dev_t *d = a->devs[k];
        if (strcmp(d->key, key) != 0)
            continue;
        for (size_t i = 0; i < d->conf->n_chars; i++) {
            const gw_ble_char_conf_t *c = &d->conf->chars[i];
            if (c->ess && c->field && strcmp(c->field, field) == 0) {
                *lo = c->ess->lo, *hi = c->ess->hi;
                return 0;
            }
        }
        return -ENOTSUP; /* a codec says its range in the refusal's message */
    }
    return -ENOENT;
}

int gw_ble_gatt_write_step(gw_adapter_t *a, const char *key, const char *field, double *step)
{
    for (size_t k = 0; a && k < a->n_devs; k++) {
        ble_dev_t *d = a->devs[k];
        if (strcmp(d->key, key) != 0)
            continue;
        for (size_t i = 0; i < d->conf->n_chars; i++) {
            const gw_ble_char_conf_t *c = &d->conf->chars[i];
            if (c->ess && c->field && strcmp(c->field, field) == 0) {
                *step = c->ess->scale;
                return 0;
            }
        }
        return -ENOTSUP;
    }
    return -ENOENT;
}
