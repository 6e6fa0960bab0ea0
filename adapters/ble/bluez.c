/*
 * adapters/ble/bluez.c - the D-Bus side of the BLE adapter: a connection
 * to the system bus (or the configured address) through sd-bus, joined to
 * the gateway's loop by its fd, the events it wants and its timeout (a
 * prepare hook), every call asynchronous. It follows bluetoothd
 * (NameOwnerChanged of org.bluez), the controller (Adapter1.Powered,
 * Discovering), and devices (ObjectManager InterfacesAdded, Device1
 * PropertiesChanged); it sets the discovery filter (LE, duplicate data)
 * and keeps discovery running, starting again whenever bluetoothd or the
 * controller comes back.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "../../gateway/log.h"
#include "ble_internal.h"

#define BLUEZ "org.bluez"
#define IFACE_ADAPTER "org.bluez.Adapter1"
#define IFACE_DEVICE "org.bluez.Device1"
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000

static void bus_drop(gw_adapter_t *a, int err);
static void start_discovery(gw_adapter_t *a);

/* ---- loop integration -------------------------------------------------- */

static uint32_t want_events(gw_adapter_t *a)
{
    int e = sd_bus_get_events(a->bus);
    if (e < 0)
        return EPOLLIN;
    return (e & POLLIN ? EPOLLIN : 0) | (e & POLLOUT ? EPOLLOUT : 0);
}

/* A bounded batch per call, so one flood of signals does not starve the
 * other modules; the rest waits for the next round (a.more). */
static void bus_process(gw_adapter_t *a)
{
    a->more = false;
    for (int i = 0; a->bus && i < 512; i++) {
        int r = sd_bus_process(a->bus, NULL);
        if (r < 0) {
            bus_drop(a, r);
            return;
        }
        if (r == 0)
            return;
    }
    a->more = a->bus != NULL;
}

static void bus_io(void *ctx, uint32_t events)
{
    (void)events;
    bus_process(ctx);
}

static int64_t bus_prepare(void *ctx)
{
    gw_adapter_t *a = ctx;
    if (!a->bus)
        return -1;
    uint64_t t = UINT64_MAX;
    if (sd_bus_get_timeout(a->bus, &t) >= 0 && t != UINT64_MAX &&
        (int64_t)(t / 1000) <= gw_now_ms())
        bus_process(a);
    if (!a->bus)
        return -1;
    uint32_t ev = want_events(a);
    if (ev != a->fd_events && gw_loop_mod_fd(a->env.loop, a->fd, ev) == 0)
        a->fd_events = ev;
    if (a->more)
        return gw_now_ms();
    if (sd_bus_get_timeout(a->bus, &t) < 0 || t == UINT64_MAX)
        return -1;
    return (int64_t)((t + 999) / 1000);
}

static void retry_later(gw_adapter_t *a)
{
    a->retry_delay_ms = a->retry_delay_ms ? a->retry_delay_ms * 2 : RETRY_MIN_MS;
    if (a->retry_delay_ms > RETRY_MAX_MS)
        a->retry_delay_ms = RETRY_MAX_MS;
    gw_timer_start(a->env.loop, &a->retry_timer, a->retry_delay_ms);
}

/* ---- Device1 properties ------------------------------------------------ */

static int read_bytes(sd_bus_message *m, const uint8_t **p, size_t *n)
{
    const void *ptr = NULL;
    int r = sd_bus_message_enter_container(m, 'v', "ay");
    if (r < 0)
        return r;
    r = sd_bus_message_read_array(m, 'y', &ptr, n);
    if (r < 0)
        return r;
    *p = ptr;
    return sd_bus_message_exit_container(m);
}

static int read_mfr(sd_bus_message *m, ble_advert_t *adv)
{
    int r = sd_bus_message_enter_container(m, 'v', "a{qv}");
    if (r >= 0)
        r = sd_bus_message_enter_container(m, 'a', "{qv}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "qv")) > 0) {
        uint16_t id;
        ble_blob_t b = {.src = GW_BLE_SRC_MFR};
        if ((r = sd_bus_message_read(m, "q", &id)) < 0 || (r = read_bytes(m, &b.p, &b.n)) < 0)
            return r;
        b.id = id;
        if (adv->n_blobs < BLE_MAX_BLOBS)
            adv->blobs[adv->n_blobs++] = b;
        r = sd_bus_message_exit_container(m);
    }
    if (r >= 0)
        r = sd_bus_message_exit_container(m);
    if (r >= 0)
        r = sd_bus_message_exit_container(m);
    return r;
}

static int read_svc(sd_bus_message *m, ble_advert_t *adv)
{
    int r = sd_bus_message_enter_container(m, 'v', "a{sv}");
    if (r >= 0)
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *uuid;
        ble_blob_t b = {.src = GW_BLE_SRC_SVC};
        if ((r = sd_bus_message_read(m, "s", &uuid)) < 0 || (r = read_bytes(m, &b.p, &b.n)) < 0)
            return r;
        int u = gw_ble_uuid16(uuid);
        if (u >= 0 && adv->n_blobs < BLE_MAX_BLOBS) {
            b.id = (uint16_t)u;
            adv->blobs[adv->n_blobs++] = b;
        }
        r = sd_bus_message_exit_container(m);
    }
    if (r >= 0)
        r = sd_bus_message_exit_container(m);
    if (r >= 0)
        r = sd_bus_message_exit_container(m);
    return r;
}

/* A property of another type than BlueZ documents (a peer's bug) is
 * skipped rather than failing the whole dictionary. */
static bool variant_is(sd_bus_message *m, const char *sig)
{
    char type;
    const char *contents;
    return sd_bus_message_peek_type(m, &type, &contents) > 0 && type == 'v' && contents &&
           strcmp(contents, sig) == 0;
}

int gw_ble_parse_device_props(sd_bus_message *m, ble_advert_t *adv)
{
    memset(adv, 0, sizeof *adv);
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *key;
        if ((r = sd_bus_message_read(m, "s", &key)) < 0)
            return r;
        if (strcmp(key, "RSSI") == 0 && variant_is(m, "n")) {
            r = sd_bus_message_read(m, "v", "n", &adv->rssi);
            adv->has_rssi = r >= 0;
        } else if (strcmp(key, "Connected") == 0 && variant_is(m, "b")) {
            int b = 0;
            r = sd_bus_message_read(m, "v", "b", &b);
            adv->has_connected = r >= 0, adv->connected = b;
        } else if (strcmp(key, "ServicesResolved") == 0 && variant_is(m, "b")) {
            int b = 0;
            r = sd_bus_message_read(m, "v", "b", &b);
            adv->has_resolved = r >= 0, adv->resolved = b;
        } else if (strcmp(key, "Name") == 0 && variant_is(m, "s")) {
            r = sd_bus_message_read(m, "v", "s", &adv->name);
        } else if (strcmp(key, "ManufacturerData") == 0 && variant_is(m, "a{qv}")) {
            r = read_mfr(m, adv);
        } else if (strcmp(key, "ServiceData") == 0 && variant_is(m, "a{sv}")) {
            r = read_svc(m, adv);
        } else {
            r = sd_bus_message_skip(m, "v");
        }
        if (r < 0)
            return r;
        r = sd_bus_message_exit_container(m);
    }
    if (r >= 0)
        r = sd_bus_message_exit_container(m);
    return r < 0 ? r : 0;
}

/* The device part of a signal or of GetManagedObjects: the address comes
 * from the object path, so a device nobody configured is dropped after one
 * lookup, before its properties are read (unless some device is matched
 * by name or payload MAC). */
static void device_props(gw_adapter_t *a, const char *path, sd_bus_message *m)
{
    uint64_t mac;
    if (gw_ble_path_mac(path, &mac) < 0 || strncmp(path, a->ctl_path, strlen(a->ctl_path)) != 0)
        return;
    if (a->scan) {
        ble_advert_t adv;
        if (gw_ble_parse_device_props(m, &adv) >= 0)
            gw_ble_scan_seen(a, mac, &adv);
        return;
    }
    if (!a->n_matchers && !gw_ble_lookup(a, mac)) {
        a->n_unknown++;
        sd_bus_message_skip(m, "a{sv}");
        return;
    }
    ble_advert_t adv;
    int r = gw_ble_parse_device_props(m, &adv);
    if (r < 0) {
        gw_debug("ble: %s: unreadable properties: %s", path, strerror(-r));
        return;
    }
    gw_ble_advert(a, mac, &adv);
}

static bool from_bluez(gw_adapter_t *a, sd_bus_message *m)
{
    const char *s = sd_bus_message_get_sender(m);
    return a->owner[0] && s && strcmp(s, a->owner) == 0;
}

/* ---- controller -------------------------------------------------------- */

static void adapter_props(gw_adapter_t *a, sd_bus_message *m)
{
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    bool powered_was = a->powered, saw_discovering = false, discovering = false;
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *key;
        int b;
        if ((r = sd_bus_message_read(m, "s", &key)) < 0)
            return;
        if (strcmp(key, "Powered") == 0 && sd_bus_message_read(m, "v", "b", &b) >= 0)
            a->powered = b;
        else if (strcmp(key, "Discovering") == 0 && sd_bus_message_read(m, "v", "b", &b) >= 0)
            saw_discovering = true, discovering = b;
        else if (sd_bus_message_skip(m, "v") < 0)
            return;
        r = sd_bus_message_exit_container(m);
    }
    sd_bus_message_exit_container(m);
    a->ctl_present = true;
    if (a->powered != powered_was)
        gw_notice("ble: controller %s powered %s", a->sec->controller, a->powered ? "on" : "off");
    if (!a->powered) {
        a->discovering = false;
        gw_ble_gatt_reset_all(a, -ENOTCONN);
        return;
    }
    gw_ble_gatt_kick(a);
    if (saw_discovering)
        a->discovering = discovering;
    /* Someone (bluetoothctl, a power cycle) stopped discovery: start it
     * again; a discovery we started ourselves reports true here. */
    if (!a->discovering && !a->starting_discovery)
        start_discovery(a);
}

static int on_start_discovery(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    a->starting_discovery = false;
    const sd_bus_error *err = sd_bus_message_get_error(m);
    if (err && strcmp(err->name, "org.bluez.Error.InProgress") != 0) {
        gw_warn("ble: StartDiscovery on %s failed: %s: %s (retrying)", a->sec->controller,
                err->name, err->message ? err->message : "");
        retry_later(a);
        return 0;
    }
    a->discovering = true;
    a->retry_delay_ms = 0;
    a->n_discovery_starts++;
    gw_notice("ble: discovery running on %s", a->sec->controller);
    return 0;
}

static int on_filter(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    const sd_bus_error *err = sd_bus_message_get_error(m);
    if (err)
        gw_warn("ble: SetDiscoveryFilter on %s: %s: %s (discovering without it)",
                a->sec->controller, err->name, err->message ? err->message : "");
    int r = sd_bus_call_method_async(a->bus, NULL, BLUEZ, a->ctl_path, IFACE_ADAPTER,
                                     "StartDiscovery", on_start_discovery, a, "");
    if (r < 0) {
        a->starting_discovery = false;
        retry_later(a);
    }
    return 0;
}

/* Filter first (LE only, every advert even when unchanged), then start. */
static void start_discovery(gw_adapter_t *a)
{
    if (!a->bus || !a->owner[0] || !a->ctl_present || !a->powered || a->starting_discovery)
        return;
    a->starting_discovery = true;
    int r = sd_bus_call_method_async(a->bus, NULL, BLUEZ, a->ctl_path, IFACE_ADAPTER,
                                     "SetDiscoveryFilter", on_filter, a, "a{sv}", 2, "Transport",
                                     "s", "le", "DuplicateData", "b", 1);
    if (r < 0) {
        a->starting_discovery = false;
        gw_warn("ble: SetDiscoveryFilter: %s", strerror(-r));
        retry_later(a);
    }
}

/* ---- object tree ------------------------------------------------------- */

/* One object of an InterfacesAdded or GetManagedObjects: a{sa{sv}}. */
static int object_ifaces(gw_adapter_t *a, const char *path, sd_bus_message *m)
{
    int r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
        const char *iface;
        if ((r = sd_bus_message_read(m, "s", &iface)) < 0)
            return r;
        if (strcmp(iface, IFACE_DEVICE) == 0)
            device_props(a, path, m);
        else if (strcmp(iface, IFACE_ADAPTER) == 0 && strcmp(path, a->ctl_path) == 0)
            adapter_props(a, m);
        else if ((r = sd_bus_message_skip(m, "a{sv}")) < 0)
            return r;
        r = sd_bus_message_exit_container(m);
    }
    if (r >= 0)
        r = sd_bus_message_exit_container(m);
    return r;
}

static int on_managed_objects(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    const sd_bus_error *err = sd_bus_message_get_error(m);
    if (err) {
        gw_warn("ble: GetManagedObjects: %s: %s", err->name, err->message ? err->message : "");
        retry_later(a);
        return 0;
    }
    a->ctl_present = false;
    int r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
    while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
        const char *path;
        if ((r = sd_bus_message_read(m, "o", &path)) < 0 || (r = object_ifaces(a, path, m)) < 0)
            break;
        r = sd_bus_message_exit_container(m);
    }
    if (r < 0)
        gw_warn("ble: GetManagedObjects: unreadable answer: %s", strerror(-r));
    if (!a->ctl_present)
        gw_warn("ble: bluetoothd has no controller %s (waiting for it)", a->sec->controller);
    return 0;
}

static void bluez_sync(gw_adapter_t *a)
{
    a->discovering = a->starting_discovery = false;
    if (sd_bus_call_method_async(a->bus, NULL, BLUEZ, "/", "org.freedesktop.DBus.ObjectManager",
                                 "GetManagedObjects", on_managed_objects, a, "") < 0)
        retry_later(a);
}

static int on_name_owner(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    const char *name, *old, *new;
    if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || strcmp(name, BLUEZ) != 0)
        return 0;
    bool was = a->owner[0] != '\0';
    snprintf(a->owner, sizeof a->owner, "%s", new);
    a->ctl_present = a->powered = a->discovering = a->starting_discovery = false;
    gw_ble_gatt_reset_all(a, -ENOTCONN);
    if (!new[0]) {
        gw_warn("ble: bluetoothd left the bus (waiting for it to come back)");
        return 0;
    }
    gw_notice("ble: bluetoothd %s the bus", was ? "restarted on" : "joined");
    bluez_sync(a);
    return 0;
}

static int on_get_owner(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    const char *owner;
    if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "s", &owner) < 0) {
        gw_warn("ble: bluetoothd is not on the bus (waiting for it)");
        return 0;
    }
    snprintf(a->owner, sizeof a->owner, "%s", owner);
    bluez_sync(a);
    return 0;
}

static int on_ifaces_added(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    const char *path;
    a->n_signals++;
    if (!from_bluez(a, m) || sd_bus_message_read(m, "o", &path) < 0)
        return 0;
    bool ctl = strcmp(path, a->ctl_path) == 0;
    object_ifaces(a, path, m);
    if (ctl)
        gw_notice("ble: controller %s appeared", a->sec->controller);
    return 0;
}

static int on_ifaces_removed(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    const char *path;
    a->n_signals++;
    if (!from_bluez(a, m) || sd_bus_message_read(m, "o", &path) < 0)
        return 0;
    if (strcmp(path, a->ctl_path) == 0) {
        gw_warn("ble: controller %s went away (waiting for it)", a->sec->controller);
        a->ctl_present = a->powered = a->discovering = a->starting_discovery = false;
        gw_ble_gatt_reset_all(a, -ENOTCONN);
    }
    return 0;
}

static int on_props_changed(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)e;
    gw_adapter_t *a = ud;
    const char *iface, *path = sd_bus_message_get_path(m);
    a->n_signals++;
    if (!path || !from_bluez(a, m) || sd_bus_message_read(m, "s", &iface) < 0)
        return 0;
    if (strcmp(iface, IFACE_DEVICE) == 0)
        device_props(a, path, m);
    else if (strcmp(iface, "org.bluez.GattCharacteristic1") == 0)
        gw_ble_gatt_char_props(a, path, m);
    else if (strcmp(iface, IFACE_ADAPTER) == 0 && strcmp(path, a->ctl_path) == 0 && a->ctl_present)
        adapter_props(a, m);
    return 0;
}

/* ---- connection -------------------------------------------------------- */

static const char *bus_address(const gw_adapter_t *a)
{
    const char *env = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return a->sec->bus ? a->sec->bus : env && *env ? env : "unix:path=/run/dbus/system_bus_socket";
}

static int bus_open(gw_adapter_t *a)
{
    sd_bus *b = NULL;
    int r = sd_bus_new(&b);
    if (r >= 0)
        r = sd_bus_set_address(b, bus_address(a));
    if (r >= 0)
        r = sd_bus_set_bus_client(b, 1);
    if (r >= 0)
        r = sd_bus_start(b);
    if (r < 0) {
        sd_bus_unref(b);
        return r;
    }
    a->bus = b;
    a->fd = sd_bus_get_fd(b);
    a->fd_events = want_events(a);
    r = gw_loop_add_fd(a->env.loop, a->fd, a->fd_events, bus_io, a);
    /* Matches without a sender: sd-bus compares a sender match with the
     * unique name of each message, which a well-known name never equals;
     * each handler checks the sender against org.bluez's owner instead. */
    if (r >= 0)
        r = sd_bus_match_signal_async(b, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                      "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner,
                                      NULL, a);
    if (r >= 0)
        r = sd_bus_match_signal_async(b, NULL, NULL, "/", "org.freedesktop.DBus.ObjectManager",
                                      "InterfacesAdded", on_ifaces_added, NULL, a);
    if (r >= 0)
        r = sd_bus_match_signal_async(b, NULL, NULL, "/", "org.freedesktop.DBus.ObjectManager",
                                      "InterfacesRemoved", on_ifaces_removed, NULL, a);
    if (r >= 0)
        r = sd_bus_add_match_async(b, NULL,
                                   "type='signal',interface='org.freedesktop.DBus.Properties',"
                                   "member='PropertiesChanged',path_namespace='/org/bluez'",
                                   on_props_changed, NULL, a);
    /* Asked after the matches: a bluetoothd joining in between is seen by
     * one or the other. */
    if (r >= 0)
        r = sd_bus_call_method_async(b, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetNameOwner", on_get_owner, a,
                                     "s", BLUEZ);
    if (r < 0)
        bus_drop(a, r);
    return r;
}

bool gw_ble_bus_ready(const gw_adapter_t *a)
{
    return a->bus && a->owner[0] && a->ctl_present && a->powered;
}

static void bus_close(gw_adapter_t *a)
{
    if (!a->bus)
        return;
    gw_ble_gatt_reset_all(a, -ENOTCONN);
    gw_loop_del_fd(a->env.loop, a->fd);
    /* Pending calls are dropped with the bus, their callbacks never run. */
    a->bus = sd_bus_flush_close_unref(a->bus);
    a->fd = -1;
    a->owner[0] = '\0';
    a->ctl_present = a->powered = a->discovering = a->starting_discovery = false;
}

static void bus_drop(gw_adapter_t *a, int err)
{
    gw_warn("ble: D-Bus connection to %s lost: %s (reconnecting)", bus_address(a),
            strerror(-err));
    bus_close(a);
    retry_later(a);
}

/* Reconnects a lost bus, or starts discovery again after a failure. */
static void on_retry(void *ctx)
{
    gw_adapter_t *a = ctx;
    if (!a->bus) {
        int r = bus_open(a);
        if (r < 0 && !a->bus && !gw_timer_active(&a->retry_timer))
            retry_later(a);
        else if (r >= 0)
            gw_notice("ble: connected to D-Bus at %s", bus_address(a));
        return;
    }
    if (!a->ctl_present)
        bluez_sync(a);
    else
        start_discovery(a);
}

int gw_ble_bus_start(gw_adapter_t *a)
{
    gw_timer_init(&a->retry_timer, on_retry, a);
    int r = gw_loop_add_prepare(a->env.loop, bus_prepare, a);
    if (r < 0)
        return r;
    a->hook_added = true;
    r = bus_open(a);
    if (r < 0)
        gw_warn("ble: cannot connect to D-Bus at %s: %s (retrying)", bus_address(a),
                strerror(-r));
    return 0;
}

void gw_ble_bus_stop(gw_adapter_t *a)
{
    gw_timer_stop(a->env.loop, &a->retry_timer);
    bus_close(a);
    if (a->hook_added)
        gw_loop_del_prepare(a->env.loop, bus_prepare, a);
    a->hook_added = false;
}
