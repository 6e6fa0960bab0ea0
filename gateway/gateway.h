/*
 * gateway/gateway.h - the daemon's wiring: from a loaded configuration to
 * running virtual clients (one per configured device, plus the gateway's own
 * endpoint describing the host), adapters feeding the mapping layer, and
 * live reload.
 */
#ifndef GW_GATEWAY_GATEWAY_H
#define GW_GATEWAY_GATEWAY_H

#include <stdio.h>

#include "../lwm2m/lwm2m.h"
#include "../mapping/config.h"
#include "loop.h"

typedef struct gw_gateway gw_gateway_t;

/* cfg is taken over (freed by gw_gateway_free or replaced by a reload);
 * reg and loop are borrowed and must outlive the gateway. server_uri, when
 * not NULL, replaces the first server's URI (also after reloads; copied).
 * 0, -EINVAL (unusable server settings, logged), -ENOMEM. On failure cfg
 * is still freed. */
int gw_gateway_new(gw_config_t *cfg, gw_registry_t *reg, gw_loop_t *loop, const char *server_uri,
                   gw_gateway_t **out);
/* Create every virtual client, queue its registration, start the adapters. */
int gw_gateway_start(gw_gateway_t *g);
/* Re-read file: new devices register, removed ones de-register, changed
 * ones get a Registration Update (or a new Register when the endpoint name
 * changed), untouched ones are not disturbed. A file with errors changes
 * nothing (each error is logged with file:line). Server settings are not
 * reloaded (a change is logged as needing a restart). 0 or negative errno. */
int gw_gateway_reload(gw_gateway_t *g, const char *file);
/* De-register every client, then call done(ctx) on the loop. */
int gw_gateway_shutdown(gw_gateway_t *g, gw_work_fn done, void *ctx);
void gw_gateway_free(gw_gateway_t **g);

gw_lwm2m_t *gw_gateway_lwm2m(const gw_gateway_t *g);
gw_store_t *gw_gateway_store(const gw_gateway_t *g);

/* --print-mapping: for each virtual client of cfg, its endpoint, device key,
 * and the resource each adapter field and initial value lands in. Returns 0
 * or -EINVAL when a device's mapping does not resolve (reported in out). */
int gw_print_mapping(const gw_config_t *cfg, const gw_registry_t *reg, FILE *out);

#endif
