/*
 * lwm2m/store.h - the resource store: per virtual client, object instances
 * holding typed resource values and Write-Attributes.
 *
 * Memory is what limits a gateway carrying 10,000 virtual clients, so the
 * store keeps per client only a sorted array of instances and, per instance,
 * a sorted array of compact resource slots. Object definitions live in the
 * shared registry; strings and opaque values are interned (refcounted) in the
 * store, so a fleet configured from one template shares "Acme", "Cel", ...
 *
 * gw_store_set is the single entry point for new values; every set calls
 * each value listener once (observe engine, Send, offline store, MQTT
 * mirror), each with its own context.
 */
#ifndef GW_LWM2M_STORE_H
#define GW_LWM2M_STORE_H

#include "registry.h"
#include "value.h"

typedef struct gw_store gw_store_t;
typedef struct gw_sclient gw_sclient_t; /* one virtual client's tree */

/* Write-Attributes of one path (LwM2M 1.1 5.1.2). */
enum {
    GW_ATTR_PMIN = 1 << 0,
    GW_ATTR_PMAX = 1 << 1,
    GW_ATTR_GT = 1 << 2,
    GW_ATTR_LT = 1 << 3,
    GW_ATTR_ST = 1 << 4,
    GW_ATTR_EPMIN = 1 << 5,
    GW_ATTR_EPMAX = 1 << 6,
};
typedef struct gw_attrs {
    uint8_t set; /* GW_ATTR_* present */
    int32_t pmin, pmax, epmin, epmax;
    double gt, lt, st;
} gw_attrs_t;

/* A value listener: called after a value was set, whether it changed or
 * was set to an equal value (`changed` says which). path and value are
 * borrowed for the duration of the call. */
typedef void (*gw_store_hook_fn)(void *ctx, gw_sclient_t *c, const gw_path_t *path,
                                 const gw_value_t *value, bool changed);

/* reg is borrowed and must outlive the store. */
int gw_store_new(const gw_registry_t *reg, gw_store_t **out);
/* All clients must have been freed. */
void gw_store_free(gw_store_t **s);
/* Subscribe fn(ctx, ...) to every gw_store_set of every client: any number
 * of listeners, called in the order they subscribed. One subscribed from
 * inside a listener is called from the next set on. A listener may set
 * values itself (its listeners run nested) and may unsubscribe any
 * listener, itself included: one removed before its turn in the current
 * set is not called, and none is skipped or called twice. ctx is borrowed
 * until gw_store_unlisten. 0, -EINVAL (fn NULL), -EEXIST (this fn and ctx
 * already listen), -ENOMEM. */
int gw_store_listen(gw_store_t *s, gw_store_hook_fn fn, void *ctx);
/* Unsubscribe the listener with this fn and ctx; 0 or -ENOENT. The store
 * forgets its listeners when freed, so unsubscribing then is not needed. */
int gw_store_unlisten(gw_store_t *s, gw_store_hook_fn fn, void *ctx);
const gw_registry_t *gw_store_registry(const gw_store_t *s);

/* A client with no instances. app is an opaque pointer for the owner
 * (the LwM2M virtual client). */
int gw_store_client_new(gw_store_t *s, void *app, gw_sclient_t **out);
void gw_store_client_free(gw_store_t *s, gw_sclient_t **c);
void *gw_store_client_app(const gw_sclient_t *c);

/* Instances. create: 0, -EEXIST, -ENOENT (object not in the registry),
 * -EPERM (single-instance object that already has an instance), -ENOMEM. */
int gw_store_instance_create(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid);
/* delete: 0 or -ENOENT. The object goes with its last instance unless it
 * is kept (gw_store_object_keep); iid GW_ID_NONE removes that keep (and
 * the object's attributes) once the object has no instance. */
int gw_store_instance_delete(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid);
bool gw_store_instance_exists(const gw_sclient_t *c, uint16_t oid, uint16_t iid);
/* True when oid has at least one instance. */
bool gw_store_object_exists(const gw_sclient_t *c, uint16_t oid);
/* LwM2M 1.1 (6.2.1, 6.3.x): an object the client supports stays supported
 * with no instance left: it is still registered and reads as empty. keep
 * marks oid so (whether it has instances now or not); 0, -EINVAL,
 * -ENOENT (not in the registry), -ENOMEM. Costs one instance entry. */
int gw_store_object_keep(gw_store_t *s, gw_sclient_t *c, uint16_t oid);
/* True when oid has an instance or is kept. */
bool gw_store_object_supported(const gw_sclient_t *c, uint16_t oid);
/* Lowest free instance id of oid (for Create without an id). */
uint16_t gw_store_instance_free_id(const gw_sclient_t *c, uint16_t oid);
/* Entries in (oid, iid) order: every instance, and after the instances
 * of a kept object one entry with iid GW_ID_NONE standing for the object
 * itself (so an object without instances is still listed). */
size_t gw_store_instance_count(const gw_sclient_t *c);
/* The i-th entry (see above); 0 or -ENOENT past the end. */
int gw_store_instance_at(const gw_sclient_t *c, size_t i, uint16_t *out_oid, uint16_t *out_iid);

/* Set a value. path has 3 levels (single resource) or 4 (resource instance
 * of a multiple resource); the instance must exist (-ENOENT), the resource
 * must be defined (-ENOENT) and v->type must equal its type (-EINVAL).
 * A value its type does not allow (gw_value_check in check.h: a Float that
 * is not finite, a String that is not UTF-8 or holds NUL) is -EINVAL.
 * Strings/opaque are copied (interned). ts_ms: wall-clock time of the
 * reading, 0 for now. Calls the listeners (not on failure). */
int gw_store_set(gw_store_t *s, gw_sclient_t *c, const gw_path_t *path, const gw_value_t *v,
                 int64_t ts_ms);
/* Remove a resource or resource instance value (-ENOENT if absent). path
 * with 3 levels on a multiple resource removes all its instances. */
int gw_store_unset(gw_store_t *s, gw_sclient_t *c, const gw_path_t *path);
/* Borrowed view of a value; valid until the next change of that resource. */
int gw_store_get(const gw_sclient_t *c, const gw_path_t *path, gw_value_t *out,
                 int64_t *out_ts_ms);
/* True if a resource (any instance of it for 3-level paths) has a value. */
bool gw_store_has(const gw_sclient_t *c, const gw_path_t *path);

/* All values at or below path (0..4 levels), sorted by path. *out is
 * allocated (free() it); values borrow the store's strings, valid until the
 * next change. path of 0 levels reads every object. Returns 0 (possibly
 * n = 0 when the instance holds nothing or a kept object has no instance),
 * -ENOENT when the object/instance/resource does not exist, -ENOMEM. */
int gw_store_read(const gw_sclient_t *c, const gw_path_t *path, gw_record_t **out, size_t *out_n);

/* Attributes attached to exactly this path (1..3 levels; 4 allowed too)
 * by the server whose Short Server ID is ssid: each server's are its own
 * (LwM2M 1.1.1 Core 5.1.2), another server's never show through (0 is a
 * valid key too, for a caller without servers). set replaces that
 * server's whole set; attrs->set == 0 removes it. A gt, lt or st that is
 * not finite, or a negative period, is -EINVAL. */
int gw_store_attrs_set(gw_store_t *s, gw_sclient_t *c, uint16_t ssid, const gw_path_t *path, const gw_attrs_t *a);
/* 0 and *out filled, or -ENOENT when server ssid stored none on that exact
 * path. */
int gw_store_attrs_get(const gw_sclient_t *c, uint16_t ssid, const gw_path_t *path, gw_attrs_t *out);
/* Forget the attributes of every server not among ssids[0..n-1] (their
 * accounts are gone, and a server given one of their Short Server IDs
 * later must not inherit them). ssids borrowed; n may be 0. */
void gw_store_attrs_keep_servers(gw_sclient_t *c, const uint16_t *ssids, size_t n);

/* Let instance (oid, iid) of c hold its values in one array shared with
 * every other client's instance that holds the same values (same
 * resources, types and values; timestamps are not compared, the first
 * instance's are kept). Reads see no difference; the first set, unset or
 * delete on the instance gives it its own copy again (copy on write), so
 * one client's change never reaches another. For instances most clients
 * hold alike, such as the Security and Server instances made from one
 * configured server. 0 (also when the instance is empty or already
 * shared), -ENOENT (no such instance), -EINVAL, -ENOMEM (the instance is
 * left as it was). */
int gw_store_instance_share(gw_store_t *s, gw_sclient_t *c, uint16_t oid, uint16_t iid);

/* Bytes of heap this client uses in the store (for the RSS bench). */
size_t gw_store_client_bytes(const gw_sclient_t *c);

#endif
