/*
 * gateway/gateway.h - the daemon's wiring: from a loaded configuration to
 * running virtual clients (one per configured device, plus the gateway's own
 * endpoint describing the host).
 */
#ifndef GW_GATEWAY_GATEWAY_H
#define GW_GATEWAY_GATEWAY_H

#include "../lwm2m/lwm2m.h"
#include "../mapping/config.h"
#include "loop.h"

typedef struct gw_gateway gw_gateway_t;

/* cfg, reg and loop are borrowed and must outlive the gateway.
 * server_uri, when not NULL, replaces the first server's URI (copied).
 * 0, -EINVAL (unusable server settings, logged), -ENOMEM. */
int gw_gateway_new(const gw_config_t *cfg, gw_registry_t *reg, gw_loop_t *loop,
                   const char *server_uri, gw_gateway_t **out);
/* Create every virtual client and queue its registration. */
int gw_gateway_start(gw_gateway_t *g);
/* De-register every client, then call done(ctx) on the loop. */
int gw_gateway_shutdown(gw_gateway_t *g, gw_work_fn done, void *ctx);
void gw_gateway_free(gw_gateway_t **g);

gw_lwm2m_t *gw_gateway_lwm2m(const gw_gateway_t *g);
gw_store_t *gw_gateway_store(const gw_gateway_t *g);

#endif
