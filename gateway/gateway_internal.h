/*
 * gateway/gateway_internal.h - what the gateway sources share: the gateway's state,
 * the adapter host and the per-device construction used at start and on
 * reload.
 */
#ifndef GW_GATEWAY_INTERNAL_H
#define GW_GATEWAY_INTERNAL_H

#include "../adapters/adapter.h"
#include "../mapping/mapping.h"
#include "gateway.h"

/* One adapter of the table and its running instance, if any (it keeps its
 * own fds and timers in the loop, see adapters/adapter.h). g->adapters is
 * indexed like gw_adapters[]. */
typedef struct gw_adapter_slot {
    const gw_adapter_ops_t *ops;
    gw_adapter_t *a;               /* NULL when not running */
    struct gw_gateway *g;
} gw_adapter_slot_t;

/* A configured device that runs as a virtual client. */
typedef struct gw_device {
    const gw_config_device_t *cfg; /* in g->cfg */
    gw_vclient_t *vc;
    char *key;                     /* "<adapter>:<address>", owned */
    bool mapped;                   /* bound in the mapping (has fields to map) */
    bool unavailable;              /* its adapter said it cannot be reached */
} gw_device_t;

struct gw_gateway {
    gw_config_t *cfg;              /* owned; replaced by a reload */
    gw_registry_t *reg;
    gw_loop_t *loop;
    gw_store_t *store;
    gw_lwm2m_t *lwm2m;
    gw_mapping_t *mapping;
    gw_vclient_t *self;            /* the gateway's own endpoint */
    gw_device_t *devices;          /* one per cfg->devices[i] that runs */
    size_t n_devices;
    gw_adapter_slot_t *adapters;
    size_t n_adapters;
    gw_adapter_env_t env;
    gw_timer_t counter_timer;      /* refreshes the dropped-readings counter */
    struct gw_mqtt *mqtt;          /* the MQTT mirror, NULL when not configured */
};

/* devices.c */
int gw_device_build(struct gw_gateway *g, const gw_config_device_t *d, gw_device_t *out);
/* Re-point a running device at the equal definition of a new config
 * (same fingerprint): no traffic, nothing in the store changes. */
int gw_device_rebind(struct gw_gateway *g, gw_device_t *dev, const gw_config_device_t *d);
/* Replace a device's content with a changed definition (same endpoint):
 * the client stays registered; an Update follows when its objects changed. */
int gw_device_rebuild(struct gw_gateway *g, gw_device_t *dev, const gw_config_device_t *d);
void gw_device_destroy(struct gw_gateway *g, gw_device_t *dev);
/* d's access entries (gw_device_access_entries) and access_owner
 * (gw_device_access_owner: after every other instance exists) into vc,
 * the gateway's own endpoint included; who names it in errors, which are
 * logged at their file:line. 0 or a negative errno. */
int gw_device_access_entries(struct gw_gateway *g, gw_vclient_t *vc, const gw_config_device_t *d, const char *who);
int gw_device_access_owner(struct gw_gateway *g, gw_vclient_t *vc, const gw_config_device_t *d, const char *who);
int gw_device_object(struct gw_gateway *g, gw_sclient_t *c, const char *manufacturer, const char *model,
                     const char *serial, const char *firmware);

/* writes.c: the lwm2m write hook (gw_vclient_write_fn) */
int gw_gateway_write_hook(void *ctx, gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *value,
                          const uint8_t *args, size_t args_len, gw_write_mode_t mode, gw_write_token_t *token,
                          char *diag, size_t diag_size);

/* writes.c: the same Write for the MQTT mirror's commands: checked first
 * (the adapter's write_check), then started; done(done_ctx, rc) follows
 * exactly once when this returns -EINPROGRESS. A refusal is returned
 * (-ENOENT not writable, -ENOTSUP, -ERANGE, -EDOM, -EINVAL, ...) with a
 * reason in diag when there is one. */
int gw_gateway_write_value(struct gw_gateway *g, gw_vclient_t *vc, const gw_path_t *path, const gw_value_t *value,
                           gw_write_done_fn done, void *done_ctx, char *diag, size_t diag_size);

/* adapters_host.c */
int gw_adapters_start(struct gw_gateway *g);
void gw_adapters_stop(struct gw_gateway *g);
/* The adapter a virtual client's device belongs to (its table entry, not
 * its key's text), NULL when the client is no device or its adapter does
 * not run. For the write path. */
gw_adapter_slot_t *gw_adapters_slot_for_client(struct gw_gateway *g, const gw_vclient_t *vc);
/* After a reload moved g->devices and g->cfg to the new configuration
 * (the old one still allocated, freed afterwards): per adapter (index as gw_adapters[]), whether its section
 * changed and the device changes[i][0..n_changes[i]). Unchanged adapters
 * are left alone, changed ones reconfigured, the rest (section changed,
 * no reconfigure, reconfigure failed) restarted, after which the devices'
 * clients are registered again. */
void gw_adapters_reload(struct gw_gateway *g, const bool *section_changed,
                        gw_adapter_change_t *const *changes, const size_t *n_changes);

#endif
